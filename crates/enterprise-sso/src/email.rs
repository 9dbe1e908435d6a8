//! Email addresses, parsed once for routing and sign-in alike.

use std::fmt;

use crate::domain::{normalize_host, Domain};

/// Longest email address, in bytes (RFC 3696 errata: 64 + 1 + 255, rounded as usual).
pub const MAX_EMAIL_LEN: usize = 320;
/// Longest local part (before the `@`), in bytes (RFC 5321).
pub const MAX_LOCAL_PART_LEN: usize = 64;

/// A parsed email address: a local part and a normalised domain.
///
/// [`EmailAddress::parse`] trims white space and checks, before any other work, that the
/// address is at most [`MAX_EMAIL_LEN`] bytes; then it needs exactly one `@`, a local part
/// of 1 to [`MAX_LOCAL_PART_LEN`] bytes with no white space or control characters, and a
/// domain that normalises like a claimed domain (lower case, IDN to punycode, one trailing
/// dot dropped) and is not an IP address. The local part is kept as given.
///
/// ```
/// use enterprise_sso::EmailAddress;
/// let e = EmailAddress::parse(" Jane.Doe@Bücher.DE ").unwrap();
/// assert_eq!(e.to_string(), "Jane.Doe@xn--bcher-kva.de");
/// assert!(EmailAddress::parse("jane@evil.com@acme.com").is_err());
/// assert!(EmailAddress::parse("jane@127.0.0.1").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress {
    local: String,
    domain: Domain,
}

/// Why text is not an acceptable email address. The address itself is never repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EmailError {
    /// Longer than [`MAX_EMAIL_LEN`].
    #[error("longer than 320 bytes")]
    TooLong,
    /// No `@`.
    #[error("missing @")]
    MissingAt,
    /// More than one `@`.
    #[error("more than one @")]
    SeveralAt,
    /// Nothing before the `@`.
    #[error("empty local part")]
    EmptyLocalPart,
    /// Local part longer than [`MAX_LOCAL_PART_LEN`].
    #[error("local part longer than 64 bytes")]
    LocalPartTooLong,
    /// White space or control characters in the local part.
    #[error("local part has white space or control characters")]
    LocalPartCharacters,
    /// The domain is not a valid host name.
    #[error("domain is not a valid host name")]
    InvalidDomain,
    /// The domain is an IP address.
    #[error("domain is an IP address")]
    IpAddressDomain,
}

impl EmailError {
    /// The reason as static text (for [`crate::Error::InvalidEmail`]).
    pub fn reason(self) -> &'static str {
        match self {
            Self::TooLong => "longer than 320 bytes",
            Self::MissingAt => "missing @",
            Self::SeveralAt => "more than one @",
            Self::EmptyLocalPart => "empty local part",
            Self::LocalPartTooLong => "local part longer than 64 bytes",
            Self::LocalPartCharacters => "local part has white space or control characters",
            Self::InvalidDomain => "domain is not a valid host name",
            Self::IpAddressDomain => "domain is an IP address",
        }
    }
}

impl EmailAddress {
    /// Parses and normalises an email address (rules above).
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let email = input.trim();
        if email.len() > MAX_EMAIL_LEN {
            return Err(EmailError::TooLong);
        }
        let (local, host) = email.split_once('@').ok_or(EmailError::MissingAt)?;
        if host.contains('@') {
            return Err(EmailError::SeveralAt);
        }
        if local.is_empty() {
            return Err(EmailError::EmptyLocalPart);
        }
        if local.len() > MAX_LOCAL_PART_LEN {
            return Err(EmailError::LocalPartTooLong);
        }
        if local.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(EmailError::LocalPartCharacters);
        }
        let host = normalize_host(host).map_err(|_| EmailError::InvalidDomain)?;
        if crate::domain::is_ip_literal(&host) {
            return Err(EmailError::IpAddressDomain);
        }
        Ok(EmailAddress {
            local: local.to_owned(),
            domain: Domain::from_normalized(host),
        })
    }

    /// The local part, as given.
    pub fn local_part(&self) -> &str {
        &self.local
    }

    /// The normalised domain (not checked against the public suffix list: routing looks
    /// it up, and no connection can claim a public suffix).
    pub fn domain(&self) -> &Domain {
        &self.domain
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals() {
        let long_local = format!("{}@acme.com", "a".repeat(65));
        let long = format!("a@{}.com", "b".repeat(400));
        for (input, want) in [
            ("jane", EmailError::MissingAt),
            ("jane@evil.com@acme.com", EmailError::SeveralAt),
            ("@acme.com", EmailError::EmptyLocalPart),
            (long_local.as_str(), EmailError::LocalPartTooLong),
            (long.as_str(), EmailError::TooLong),
            ("ja ne@acme.com", EmailError::LocalPartCharacters),
            ("ja\u{0}ne@acme.com", EmailError::LocalPartCharacters),
            ("jane@acme..com", EmailError::InvalidDomain),
            ("jane@127.0.0.1", EmailError::IpAddressDomain),
            ("jane@0x7f.1", EmailError::IpAddressDomain),
            ("jane@[127.0.0.1]", EmailError::InvalidDomain),
        ] {
            assert_eq!(EmailAddress::parse(input), Err(want), "{input:?}");
        }
    }
}
