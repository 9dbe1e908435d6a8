//! Validation of a (merged) connection: every rule, every problem, each with its field path.

use std::collections::HashSet;
use std::fmt;

use crate::connection::{EnterpriseConnection, OidcConfig, ProtocolConfig, SamlConfig};
use crate::domain::DomainError;
use crate::oidc::DiscoveryError;
use crate::provider::Provider;
use crate::saml::{CertificateError, MetadataError};
use crate::url_policy::{check_fetch_url_kind, check_url_kind, UrlError};
use enterprise_sso_protocol::limits::{
    Policy, MAX_CERTIFICATE_LEN, MAX_DOMAINS, MAX_METADATA_LEN, MAX_NAME_CHARS, MAX_TEXT_LEN,
};

impl From<UrlError> for FieldErrorKind {
    fn from(e: UrlError) -> Self {
        match e {
            UrlError::TooLong { max } => FieldErrorKind::TooLong { max },
            UrlError::Invalid => FieldErrorKind::InvalidUrl,
            UrlError::Insecure => FieldErrorKind::InsecureUrl,
            UrlError::Credentials => FieldErrorKind::UrlWithCredentials,
            UrlError::ForbiddenHost => FieldErrorKind::ForbiddenHost,
            // A refusal the policy adds later is still a refusal.
            _ => FieldErrorKind::InvalidUrl,
        }
    }
}

/// What is wrong with one field.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldErrorKind {
    /// A value is needed here.
    Required,
    /// The field may not be `null`.
    NotNullable,
    /// Empty or only white space.
    Empty,
    /// Longer than `max` (characters for names, bytes otherwise).
    TooLong {
        /// The limit.
        max: usize,
    },
    /// More than `max` items.
    TooMany {
        /// The limit.
        max: usize,
    },
    /// Contains control characters.
    ControlCharacters,
    /// Not an absolute URL with a host.
    InvalidUrl,
    /// Not `https` (plain `http` is only allowed for loopback hosts).
    InsecureUrl,
    /// The URL carries a user name or password.
    UrlWithCredentials,
    /// Not an acceptable domain.
    InvalidDomain(DomainError),
    /// The same domain twice.
    DuplicateDomain,
    /// A public client (no secret) must use PKCE.
    PublicClientRequiresPkce,
    /// The block does not belong to the provider's protocol.
    NotAllowedForProvider(Provider),
    /// The provider's protocol does not match the configuration.
    ProviderMismatch,
    /// Needed for the connection to be active.
    RequiredWhenActive,
    /// A URL the server fetches points at a private, loopback, link-local or unique-local
    /// address (refused so the host cannot be turned against its own network).
    ForbiddenHost,
    /// The SAML metadata was refused.
    InvalidMetadata(MetadataError),
    /// The certificate was refused.
    InvalidCertificate(CertificateError),
    /// The certificate expired before the connection was activated (or re-certified).
    CertificateExpired {
        /// End of validity, Unix ms.
        expired_at: i64,
    },
    /// No certificate of the set is valid yet at activation (or re-certification); the
    /// earliest start among them.
    CertificateNotYetValid {
        /// Start of the earliest validity window, Unix ms.
        valid_from: i64,
    },
    /// Given explicitly, and different from what the metadata says.
    DisagreesWithMetadata,
    /// The OIDC discovery document was refused.
    InvalidDiscovery(DiscoveryError),
}

impl fmt::Display for FieldErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Required => f.write_str("is required"),
            Self::NotNullable => f.write_str("cannot be null"),
            Self::Empty => f.write_str("must not be empty"),
            Self::TooLong { max } => write!(f, "is longer than {max}"),
            Self::TooMany { max } => write!(f, "has more than {max} items"),
            Self::ControlCharacters => f.write_str("must not contain control characters"),
            Self::InvalidUrl => f.write_str("is not an absolute URL with a host"),
            Self::InsecureUrl => f.write_str("must use https (http only for loopback hosts)"),
            Self::UrlWithCredentials => f.write_str("must not contain credentials"),
            Self::InvalidDomain(e) => write!(f, "is not a valid domain: {e}"),
            Self::DuplicateDomain => f.write_str("is listed twice"),
            Self::PublicClientRequiresPkce => {
                f.write_str("must be true for OAuth clients without a client secret")
            }
            Self::NotAllowedForProvider(p) => write!(
                f,
                "is not allowed for provider {p} (protocol {})",
                p.protocol()
            ),
            Self::ProviderMismatch => f.write_str("does not match the configured protocol"),
            Self::RequiredWhenActive => f.write_str("is required for an active connection"),
            Self::ForbiddenHost => f.write_str(
                "must not point at a private, loopback, link-local or unique-local address",
            ),
            Self::InvalidMetadata(e) => write!(f, "{e}"),
            Self::InvalidCertificate(e) => write!(f, "{e}"),
            Self::CertificateExpired { expired_at } => {
                write!(f, "expired at {expired_at} (Unix ms)")
            }
            Self::CertificateNotYetValid { valid_from } => {
                write!(
                    f,
                    "holds no certificate valid before {valid_from} (Unix ms)"
                )
            }
            Self::DisagreesWithMetadata => f.write_str("disagrees with saml.idp_metadata"),
            Self::InvalidDiscovery(e) => write!(f, "points at a discovery document that {e}"),
        }
    }
}

/// One problem with one field, e.g. `oidc.requires_pkce`, `domains[2]`.
///
/// Messages never contain the field's value, so secrets cannot leak through them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Path of the field in the create/update parameters (snake_case, `[i]` for items).
    pub path: String,
    /// What is wrong.
    pub kind: FieldErrorKind,
}

impl FieldError {
    /// A new field error.
    pub fn new(path: impl Into<String>, kind: FieldErrorKind) -> Self {
        FieldError {
            path: path.into(),
            kind,
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.path, self.kind)
    }
}

/// Every problem found in one create or update; never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationErrors(Vec<FieldError>);

impl ValidationErrors {
    /// Wraps a list of problems; `None` when the list is empty.
    pub fn from_vec(errors: Vec<FieldError>) -> Option<Self> {
        (!errors.is_empty()).then_some(ValidationErrors(errors))
    }

    /// One problem.
    pub fn single(error: FieldError) -> Self {
        ValidationErrors(vec![error])
    }

    /// The problems, in the order found.
    pub fn errors(&self) -> &[FieldError] {
        &self.0
    }

    /// Whether some problem is at `path`.
    pub fn has(&self, path: &str) -> bool {
        self.0.iter().any(|e| e.path == path)
    }

    /// The problem kinds at `path`.
    pub fn at(&self, path: &str) -> Vec<&FieldErrorKind> {
        self.0
            .iter()
            .filter(|e| e.path == path)
            .map(|e| &e.kind)
            .collect()
    }
}

impl From<FieldError> for ValidationErrors {
    fn from(error: FieldError) -> Self {
        ValidationErrors::single(error)
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

/// Checks every rule on a connection with the default [`Policy`].
pub fn validate(conn: &EnterpriseConnection) -> Result<(), ValidationErrors> {
    validate_with(conn, &Policy::default())
}

/// Checks every rule on a connection and returns every problem found.
pub fn validate_with(conn: &EnterpriseConnection, policy: &Policy) -> Result<(), ValidationErrors> {
    let mut errs = Vec::new();
    check_name(&conn.name, &mut errs);
    if let Some(org) = &conn.organization_id {
        check_text("organization_id", org, MAX_TEXT_LEN, &mut errs);
    }
    if conn.domains.len() > MAX_DOMAINS {
        errs.push(FieldError::new(
            "domains",
            FieldErrorKind::TooMany { max: MAX_DOMAINS },
        ));
    }
    let mut seen = HashSet::new();
    for (i, d) in conn.domains.iter().enumerate() {
        if !seen.insert(d) {
            errs.push(FieldError::new(
                format!("domains[{i}]"),
                FieldErrorKind::DuplicateDomain,
            ));
        }
    }
    if conn.provider.protocol() != conn.config.protocol() {
        errs.push(FieldError::new(
            "provider",
            FieldErrorKind::ProviderMismatch,
        ));
    }
    match &conn.config {
        ProtocolConfig::Oidc(c) => check_oidc(c, conn.active, policy, &mut errs),
        ProtocolConfig::Saml(c) => check_saml(c, conn.active, policy, &mut errs),
    }
    ValidationErrors::from_vec(errs).map_or(Ok(()), Err)
}

fn check_name(name: &str, errs: &mut Vec<FieldError>) {
    check_label("name", name, FieldErrorKind::Required, errs);
}

/// A label shown to people: `if_empty` when blank, at most [`MAX_NAME_CHARS`] characters,
/// no control characters.
fn check_label(path: &str, name: &str, if_empty: FieldErrorKind, errs: &mut Vec<FieldError>) {
    if name.trim().is_empty() {
        errs.push(FieldError::new(path, if_empty));
    } else if name.chars().count() > MAX_NAME_CHARS {
        errs.push(FieldError::new(
            path,
            FieldErrorKind::TooLong {
                max: MAX_NAME_CHARS,
            },
        ));
    } else if name.chars().any(char::is_control) {
        errs.push(FieldError::new(path, FieldErrorKind::ControlCharacters));
    }
}

/// Non-empty, bounded, no control characters.
fn check_text(path: &str, value: &str, max: usize, errs: &mut Vec<FieldError>) {
    if value.trim().is_empty() {
        errs.push(FieldError::new(path, FieldErrorKind::Empty));
    } else if value.len() > max {
        errs.push(FieldError::new(path, FieldErrorKind::TooLong { max }));
    } else if value.chars().any(char::is_control) {
        errs.push(FieldError::new(path, FieldErrorKind::ControlCharacters));
    }
}

/// Non-empty and bounded; line breaks allowed (PEM, XML).
fn check_blob(path: &str, value: &str, max: usize, errs: &mut Vec<FieldError>) {
    if value.trim().is_empty() {
        errs.push(FieldError::new(path, FieldErrorKind::Empty));
    } else if value.len() > max {
        errs.push(FieldError::new(path, FieldErrorKind::TooLong { max }));
    }
}

fn check_url(path: &str, value: &str, errs: &mut Vec<FieldError>) {
    if let Err(kind) = check_url_kind(value).map_err(FieldErrorKind::from) {
        errs.push(FieldError::new(path, kind));
    }
}

fn fetch_url(path: &str, value: &str, policy: &Policy, errs: &mut Vec<FieldError>) {
    if let Err(kind) = check_fetch_url_kind(value, policy).map_err(FieldErrorKind::from) {
        errs.push(FieldError::new(path, kind));
    }
}

fn check_oidc(c: &OidcConfig, active: bool, policy: &Policy, errs: &mut Vec<FieldError>) {
    if let Some(u) = &c.auth_url {
        check_url("oidc.auth_url", u, errs);
    }
    for (path, url) in [
        ("oidc.discovery_url", &c.discovery_url),
        ("oidc.token_url", &c.token_url),
        ("oidc.user_info_url", &c.user_info_url),
    ] {
        if let Some(u) = url {
            fetch_url(path, u, policy, errs);
        }
    }
    if let Some(id) = &c.client_id {
        check_text("oidc.client_id", id, MAX_TEXT_LEN, errs);
    }
    match &c.client_secret {
        Some(s) if s.expose_secret().trim().is_empty() => {
            errs.push(FieldError::new("oidc.client_secret", FieldErrorKind::Empty))
        }
        Some(s) if s.len() > MAX_TEXT_LEN => errs.push(FieldError::new(
            "oidc.client_secret",
            FieldErrorKind::TooLong { max: MAX_TEXT_LEN },
        )),
        // Also what keeps a plain secret from ever looking like a sealed one (`crypto`).
        Some(s) if s.expose_secret().chars().any(char::is_control) => errs.push(FieldError::new(
            "oidc.client_secret",
            FieldErrorKind::ControlCharacters,
        )),
        Some(_) => {}
        None if !c.requires_pkce => errs.push(FieldError::new(
            "oidc.requires_pkce",
            FieldErrorKind::PublicClientRequiresPkce,
        )),
        None => {}
    }
    if active {
        if c.client_id.is_none() {
            errs.push(FieldError::new(
                "oidc.client_id",
                FieldErrorKind::RequiredWhenActive,
            ));
        }
        if c.discovery_url.is_none() {
            for (path, url) in [
                ("oidc.auth_url", &c.auth_url),
                ("oidc.token_url", &c.token_url),
            ] {
                if url.is_none() {
                    // Either a discovery URL, or both endpoints.
                    errs.push(FieldError::new(path, FieldErrorKind::RequiredWhenActive));
                }
            }
        }
    }
}

fn check_saml(c: &SamlConfig, active: bool, policy: &Policy, errs: &mut Vec<FieldError>) {
    if let Some(name) = &c.name {
        check_label("saml.name", name, FieldErrorKind::Empty, errs);
    }
    if let Some(u) = &c.idp_metadata_url {
        fetch_url("saml.idp_metadata_url", u, policy, errs);
    }
    if let Some(u) = &c.idp_sso_url {
        check_url("saml.idp_sso_url", u, errs);
    }
    if let Some(v) = &c.idp_entity_id {
        check_text("saml.idp_entity_id", v, MAX_TEXT_LEN, errs);
    }
    if let Some(v) = &c.idp_certificate {
        check_blob("saml.idp_certificate", v, MAX_CERTIFICATE_LEN, errs);
    }
    if c.idp_certificates.len() > crate::saml::MAX_CERTIFICATES_PER_FIELD {
        errs.push(FieldError::new(
            "saml.idp_certificates",
            FieldErrorKind::TooMany {
                max: crate::saml::MAX_CERTIFICATES_PER_FIELD,
            },
        ));
    }
    if let Some(v) = &c.idp_metadata {
        check_blob("saml.idp_metadata", v, MAX_METADATA_LEN, errs);
    }
    let m = &c.attribute_mapping;
    for (path, v) in [
        ("saml.attribute_mapping.email_address", &m.email_address),
        ("saml.attribute_mapping.first_name", &m.first_name),
        ("saml.attribute_mapping.last_name", &m.last_name),
        ("saml.attribute_mapping.user_id", &m.user_id),
    ] {
        if let Some(v) = v {
            check_text(path, v, MAX_TEXT_LEN, errs);
        }
    }
    if let Some(source) = c.login_hint.source() {
        check_text(
            "saml.login_hint.source",
            source,
            crate::login_hint::MAX_LOGIN_HINT_SOURCE_LEN,
            errs,
        );
    }
    if active && c.idp_metadata.is_none() {
        for (path, present) in [
            ("saml.idp_entity_id", c.idp_entity_id.is_some()),
            ("saml.idp_sso_url", c.idp_sso_url.is_some()),
            ("saml.idp_certificate", c.idp_certificate.is_some()),
        ] {
            if !present {
                errs.push(FieldError::new(path, FieldErrorKind::RequiredWhenActive));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_rule() {
        for ok in [
            "https://idp.example.com/sso",
            "http://localhost:8080/x",
            "http://127.0.0.1/x",
            "http://[::1]/x",
        ] {
            assert_eq!(check_url_kind(ok), Ok(()), "{ok}");
        }
        for (bad, kind) in [
            ("http://idp.example.com", FieldErrorKind::InsecureUrl),
            ("ftp://idp.example.com", FieldErrorKind::InvalidUrl),
            ("/relative", FieldErrorKind::InvalidUrl),
            ("https://", FieldErrorKind::InvalidUrl),
            (
                "https://u:p@idp.example.com",
                FieldErrorKind::UrlWithCredentials,
            ),
            ("https://idp.example.com/a b", FieldErrorKind::InvalidUrl),
            ("javascript:alert(1)", FieldErrorKind::InvalidUrl),
        ] {
            assert_eq!(
                check_url_kind(bad).map_err(FieldErrorKind::from),
                Err(kind),
                "{bad}"
            );
        }
        let strict = Policy::default();
        let tests = Policy {
            allow_loopback_fetch: true,
        };
        for (url, strict_ok, tests_ok) in [
            ("https://idp.example.com/md", true, true),
            ("https://8.8.8.8/md", true, true),
            ("http://localhost/md", false, true),
            ("https://127.0.0.1/md", false, true),
            ("https://[::1]/md", false, true),
            ("https://10.1.2.3/md", false, false),
            ("https://172.20.0.1/md", false, false),
            ("https://192.168.1.1/md", false, false),
            ("https://169.254.169.254/latest/meta-data", false, false),
            ("https://100.64.0.1/md", false, false),
            ("https://0.0.0.0/md", false, false),
            ("https://[fd00::1]/md", false, false),
            ("https://[fe80::1]/md", false, false),
            ("https://[::ffff:10.0.0.1]/md", false, false),
            ("https://[::ffff:127.0.0.1]/md", false, true),
            ("http://10.0.0.1/md", false, false),
        ] {
            assert_eq!(
                check_fetch_url_kind(url, &strict).is_ok(),
                strict_ok,
                "{url} strict"
            );
            assert_eq!(
                check_fetch_url_kind(url, &tests).is_ok(),
                tests_ok,
                "{url} tests"
            );
        }
        let long = format!(
            "https://example.com/{}",
            "a".repeat(crate::limits::MAX_URL_LEN)
        );
        assert!(matches!(
            check_url_kind(&long).map_err(FieldErrorKind::from),
            Err(FieldErrorKind::TooLong { .. })
        ));
    }
}
