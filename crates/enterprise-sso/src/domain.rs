//! Email domains a connection claims: normalised, checked host names that are never a
//! public suffix.

use std::fmt;

/// Longest host name DNS allows, in ASCII.
pub const MAX_DOMAIN_LEN: usize = 253;

/// A normalised, registrable domain name.
///
/// [`Domain::parse`] trims white space, lower-cases, converts IDN to punycode (UTS #46,
/// strict STD3 rules), drops one trailing dot, requires at least two labels and refuses a
/// public suffix (`com`, `co.uk`, per the Public Suffix List compiled into the `psl` crate).
///
/// ```
/// use enterprise_sso::Domain;
/// assert_eq!(Domain::parse(" Example.COM. ").unwrap().as_str(), "example.com");
/// assert_eq!(Domain::parse("bücher.de").unwrap().as_str(), "xn--bcher-kva.de");
/// assert!(Domain::parse("co.uk").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Domain(String);

/// Why text is not an acceptable domain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DomainError {
    /// Empty after trimming.
    #[error("domain is empty")]
    Empty,
    /// Not a valid host name (bad characters, empty or over-long labels, IDNA failure).
    #[error("not a valid host name")]
    InvalidHostName,
    /// A single label such as `localhost`: not a domain a company can own.
    #[error("a domain needs at least two labels")]
    SingleLabel,
    /// A public suffix such as `com` or `co.uk`, which nobody can claim.
    #[error("a public suffix cannot be claimed")]
    PublicSuffix,
    /// An IP address (`127.0.0.1`, `0x7f.1`): not a domain.
    #[error("an IP address is not a domain")]
    IpAddress,
}

impl Domain {
    /// Normalises and checks a domain a connection may claim.
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let host = normalize_host(input)?;
        let suffix = psl::suffix(host.as_bytes());
        if suffix.is_some_and(|s| s.is_known() && s.as_bytes() == host.as_bytes()) {
            return Err(DomainError::PublicSuffix);
        }
        if !host.contains('.') {
            return Err(DomainError::SingleLabel);
        }
        if suffix.is_some_and(|s| s.as_bytes() == host.as_bytes()) {
            return Err(DomainError::PublicSuffix);
        }
        if is_ip_literal(&host) {
            return Err(DomainError::IpAddress);
        }
        Ok(Domain(host))
    }

    /// The normalised ASCII form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The parent domains of this one, nearest first, stopping before the public suffix:
    /// `a.b.example.co.uk` gives `b.example.co.uk`, `example.co.uk`.
    pub fn parents(&self) -> impl Iterator<Item = Domain> + '_ {
        let suffix_len = psl::suffix_str(&self.0).map(str::len).unwrap_or(0);
        let mut rest = self.0.as_str();
        std::iter::from_fn(move || {
            let (_, parent) = rest.split_once('.')?;
            if parent.len() <= suffix_len {
                return None;
            }
            rest = parent;
            Some(Domain(parent.to_owned()))
        })
    }

    /// Whether `self` equals `other` or is a subdomain of it.
    pub fn is_same_or_subdomain_of(&self, other: &Domain) -> bool {
        self.0 == other.0
            || (self.0.len() > other.0.len()
                && self.0.ends_with(other.0.as_str())
                && self.0.as_bytes()[self.0.len() - other.0.len() - 1] == b'.')
    }

    /// Builds a domain from text already normalised by [`Domain::parse`] (used by storage
    /// decoders; the text is trusted).
    pub fn from_normalized(s: String) -> Self {
        Domain(s)
    }
}

/// Whether a normalised host is an IPv4 address in any of the spellings URL parsers
/// accept: the WHATWG rule, a host whose last label is a number (decimal, or `0x` hex) is
/// read as IPv4. No top-level domain is numeric, so such a host is never a domain name.
pub fn is_ip_literal(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    let last = host.rsplit('.').next().unwrap_or(host);
    let hex = last
        .strip_prefix("0x")
        .is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
    (!last.is_empty() && last.bytes().all(|b| b.is_ascii_digit())) || hex
}

/// Normalises a host name (the part after `@` of an email, or a domain) without the
/// public-suffix rule: used for routing look-ups.
pub(crate) fn normalize_host(input: &str) -> Result<String, DomainError> {
    let trimmed = input.trim();
    let trimmed = trimmed.strip_suffix('.').unwrap_or(trimmed);
    if trimmed.is_empty() {
        return Err(DomainError::Empty);
    }
    if trimmed.len() > 4 * MAX_DOMAIN_LEN {
        return Err(DomainError::InvalidHostName);
    }
    let ascii = idna::domain_to_ascii_strict(trimmed).map_err(|_| DomainError::InvalidHostName)?;
    if ascii.is_empty()
        || ascii.len() > MAX_DOMAIN_LEN
        || ascii
            .split('.')
            .any(|l| l.is_empty() || l.len() > 63 || l.starts_with('-') || l.ends_with('-'))
        || !ascii
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
    {
        return Err(DomainError::InvalidHostName);
    }
    Ok(ascii)
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Domain({})", self.0)
    }
}

impl AsRef<str> for Domain {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises() {
        for (input, want) in [
            ("Example.com", "example.com"),
            ("  sub.EXAMPLE.com.  ", "sub.example.com"),
            ("bücher.de", "xn--bcher-kva.de"),
            ("XN--BCHER-KVA.DE", "xn--bcher-kva.de"),
            ("acme.co.uk", "acme.co.uk"),
        ] {
            assert_eq!(Domain::parse(input).unwrap().as_str(), want, "{input}");
        }
    }

    #[test]
    fn refuses() {
        for (input, want) in [
            ("", DomainError::Empty),
            ("   ", DomainError::Empty),
            ("com", DomainError::PublicSuffix),
            ("co.uk", DomainError::PublicSuffix),
            ("github.io", DomainError::PublicSuffix),
            ("localhost", DomainError::SingleLabel),
            ("exa mple.com", DomainError::InvalidHostName),
            ("exa_mple.com", DomainError::InvalidHostName),
            ("-acme.com", DomainError::InvalidHostName),
            ("acme..com", DomainError::InvalidHostName),
            ("user@acme.com", DomainError::InvalidHostName),
            ("https://acme.com", DomainError::InvalidHostName),
            ("acme.com\u{0}", DomainError::InvalidHostName),
            ("127.0.0.1", DomainError::IpAddress),
            ("10.0.0.1", DomainError::IpAddress),
            ("0x7f.0x1", DomainError::IpAddress),
            ("acme.0x1f", DomainError::IpAddress),
        ] {
            assert_eq!(Domain::parse(input), Err(want), "{input:?}");
        }
        let long = format!("{}.com", "a".repeat(64));
        assert_eq!(Domain::parse(&long), Err(DomainError::InvalidHostName));
    }

    #[test]
    fn parents_stop_before_public_suffix() {
        let d = Domain::parse("a.b.example.co.uk").unwrap();
        let parents: Vec<_> = d.parents().map(|p| p.0).collect();
        assert_eq!(parents, ["b.example.co.uk", "example.co.uk"]);
        assert_eq!(Domain::parse("example.com").unwrap().parents().count(), 0);
        let sub = Domain::parse("x.example.com").unwrap();
        let top = Domain::parse("example.com").unwrap();
        assert!(sub.is_same_or_subdomain_of(&top));
        assert!(!Domain::parse("xexample.com")
            .unwrap()
            .is_same_or_subdomain_of(&top));
    }
}
