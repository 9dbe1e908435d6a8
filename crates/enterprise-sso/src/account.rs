//! Enterprise accounts: identities users obtain through a connection (seed 002), and the
//! pure part of the sign-in step (mapping an IdP assertion to account fields).

use crate::millis::UnixMillis;
use std::collections::BTreeMap;

use crate::connection::{EnterpriseConnection, ProtocolConfig};
use crate::email::EmailAddress;
use crate::ids::{AccountId, ConnectionId};
use crate::provider::{Protocol, Provider};

/// An identity obtained through an enterprise connection (Clerk's `EnterpriseAccount`).
#[derive(Debug, Clone, PartialEq)]
pub struct EnterpriseAccount {
    /// Unique id, `eac_` + ULID.
    pub id: AccountId,
    /// Whether the account may be used; false once its connection is deleted.
    pub active: bool,
    /// Email address (domain part normalised).
    pub email_address: String,
    /// The connection; `None` once that connection is deleted.
    pub enterprise_connection_id: Option<ConnectionId>,
    /// First name from the IdP.
    pub first_name: Option<String>,
    /// Last name from the IdP.
    pub last_name: Option<String>,
    /// Protocol of the connection it came through.
    pub protocol: Protocol,
    /// Provider of the connection it came through.
    pub provider: Provider,
    /// The user's id at the IdP (NameID / `sub`, or the mapped user-id attribute).
    pub provider_user_id: Option<String>,
    /// Public metadata (a JSON object), set by the host.
    pub public_metadata: serde_json::Map<String, serde_json::Value>,
    /// How the identity was verified.
    pub verification: Option<Verification>,
    /// Last successful sign-in.
    pub last_authenticated_at: Option<crate::UnixMillis>,
    /// Creation time.
    pub created_at: crate::UnixMillis,
    /// Last update.
    pub updated_at: crate::UnixMillis,
    /// Optimistic-concurrency version: 1 on create, +1 on every write.
    pub version: u64,
}

/// Verification status (the reference spec's `verification_saml` / `verification_oauth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum VerificationStatus {
    /// Not verified yet.
    Unverified,
    /// Verified by the IdP.
    Verified,
    /// Verification failed.
    Failed,
    /// Verification expired.
    Expired,
    /// Verified, and transferable to a new user.
    Transferable,
}

impl VerificationStatus {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unverified => "unverified",
            Self::Verified => "verified",
            Self::Failed => "failed",
            Self::Expired => "expired",
            Self::Transferable => "transferable",
        }
    }

    /// Parses the wire spelling.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Unverified,
            Self::Verified,
            Self::Failed,
            Self::Expired,
            Self::Transferable,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

/// How an account was verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// Status.
    pub status: VerificationStatus,
    /// `saml` for SAML; for OIDC the provider (`oidc_custom`, ...).
    pub strategy: String,
}

impl Verification {
    /// A verified identity through `conn`.
    pub fn verified_by(conn: &EnterpriseConnection) -> Self {
        Verification {
            status: VerificationStatus::Verified,
            strategy: match conn.protocol() {
                Protocol::Saml => "saml".to_owned(),
                Protocol::Oauth => conn.provider.as_str().to_owned(),
            },
        }
    }
}

impl EnterpriseAccount {
    /// The account after its connection was deleted: kept, but deactivated and unlinked.
    /// Adapters apply this in the same write that deletes the connection.
    pub fn unlinked(&self, now: i64) -> EnterpriseAccount {
        EnterpriseAccount {
            active: false,
            enterprise_connection_id: None,
            updated_at: UnixMillis::new(now).max(self.updated_at),
            version: self.version + 1,
            ..self.clone()
        }
    }
}

/// The key accounts are found by email with: trimmed and lower-cased.
pub fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

/// What the host's SAML or OIDC handler extracted from a validated response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assertion {
    /// SAML NameID, or OIDC `sub`.
    pub subject: Option<String>,
    /// SAML attributes or OIDC claims, by name; multi-valued attributes keep every value
    /// (the first is used).
    pub attributes: BTreeMap<String, Vec<String>>,
}

impl Assertion {
    /// An assertion with a subject and single-valued attributes.
    pub fn new<'a>(
        subject: &str,
        attributes: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        Assertion {
            subject: Some(subject.to_owned()),
            attributes: attributes
                .into_iter()
                .map(|(k, v)| (k.to_owned(), vec![v.to_owned()]))
                .collect(),
        }
    }

    /// The same assertion with an `email` attribute (SAML default name, OIDC claim).
    pub fn with_email(mut self, email: &str) -> Self {
        self.attributes
            .insert("email".to_owned(), vec![email.to_owned()]);
        self
    }

    fn first(&self, names: &[&str]) -> Option<String> {
        names.iter().find_map(|n| {
            self.attributes
                .get(*n)
                .and_then(|vs| vs.iter().map(|v| v.trim()).find(|v| !v.is_empty()))
                .map(str::to_owned)
        })
    }
}

/// Why a sign-in was refused (nothing is written).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignInRefusal {
    /// The connection is not active.
    #[error("the connection is not active")]
    ConnectionInactive,
    /// The account was deactivated by the host.
    #[error("the account is not active")]
    AccountInactive,
    /// The assertion has no subject (or no mapped user id).
    #[error("the assertion has no subject")]
    MissingSubject,
    /// The assertion has no email address.
    #[error("the assertion has no email address")]
    MissingEmail,
    /// The email address is malformed.
    #[error("the email address is malformed")]
    InvalidEmail,
    /// A field taken from the assertion is over its size limit or holds control
    /// characters (the value is not repeated).
    #[error("the assertion's {field} {kind}")]
    InvalidField {
        /// Which field: `subject`, `first_name`, `last_name`.
        field: &'static str,
        /// What is wrong.
        kind: crate::validate::FieldErrorKind,
    },
    /// The email's domain is not one of the connection's (SSOReady's
    /// `email_outside_organization_domains`).
    #[error("the email's domain is not one of the connection's domains")]
    EmailOutsideDomains,
    /// The connection is active but not `authenticatable`.
    #[error("the connection may not be used for sign-in")]
    NotAuthenticatable,
    /// The sign-in would create a new account, and the connection has just-in-time
    /// provisioning disabled.
    #[error("just-in-time provisioning is disabled for this connection")]
    JitProvisioningDisabled,
}

impl SignInRefusal {
    /// A stable snake_case code naming the rule (`sign_in_…`), as test runs and the
    /// `authentication.sso_failed` events show it.
    pub fn code(&self) -> &'static str {
        match self {
            SignInRefusal::ConnectionInactive => "sign_in_connection_inactive",
            SignInRefusal::AccountInactive => "sign_in_account_inactive",
            SignInRefusal::MissingSubject => "sign_in_missing_subject",
            SignInRefusal::MissingEmail => "sign_in_missing_email",
            SignInRefusal::InvalidEmail => "sign_in_invalid_email",
            SignInRefusal::InvalidField { .. } => "sign_in_invalid_field",
            SignInRefusal::EmailOutsideDomains => "sign_in_email_outside_domains",
            SignInRefusal::NotAuthenticatable => "sign_in_not_authenticatable",
            SignInRefusal::JitProvisioningDisabled => "sign_in_jit_provisioning_disabled",
        }
    }
}

/// SAML attribute names tried for the email address when no mapping is set.
pub const DEFAULT_SAML_EMAIL: &[&str] = &[
    "email",
    "mail",
    "emailAddress",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    "urn:oid:0.9.2342.19200300.100.1.3",
];
/// SAML attribute names tried for the first name when no mapping is set.
pub const DEFAULT_SAML_FIRST_NAME: &[&str] = &[
    "firstName",
    "first_name",
    "givenName",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
    "urn:oid:2.5.4.42",
];
/// SAML attribute names tried for the last name when no mapping is set.
pub const DEFAULT_SAML_LAST_NAME: &[&str] = &[
    "lastName",
    "last_name",
    "surname",
    "sn",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
    "urn:oid:2.5.4.4",
];

/// Longest provider user id (NameID, `sub` or mapped attribute) stored on an account, in
/// bytes.
pub const MAX_SUBJECT_LEN: usize = enterprise_sso_protocol::limits::MAX_TEXT_LEN;
/// Longest first or last name stored on an account, in characters.
pub const MAX_PERSON_NAME_CHARS: usize = enterprise_sso_protocol::limits::MAX_NAME_CHARS;

/// Account fields taken from an assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedIdentity {
    /// The user's id at the IdP.
    pub provider_user_id: String,
    /// Email address, domain normalised.
    pub email: EmailAddress,
    /// First name, if sent.
    pub first_name: Option<String>,
    /// Last name, if sent.
    pub last_name: Option<String>,
}

/// Maps an assertion with the connection's rules and checks the email's domain.
///
/// - SAML: the user id is the mapped `user_id` attribute, else the NameID; email, first
///   and last name are the mapped attributes, or, with no mapping set, the first present of
///   [`DEFAULT_SAML_EMAIL`], [`DEFAULT_SAML_FIRST_NAME`], [`DEFAULT_SAML_LAST_NAME`]; with
///   no email attribute, a NameID that is an email address is used.
/// - OIDC: the standard claims `sub` (else the subject), `email`, `given_name`,
///   `family_name`.
/// - The email's domain must be one of the connection's domains, or a subdomain of one
///   when `allow_subdomains` is on.
pub fn map_assertion(
    conn: &EnterpriseConnection,
    assertion: &Assertion,
) -> Result<MappedIdentity, SignInRefusal> {
    let (user_id, email, first, last) = mapped_fields(conn, assertion);
    let user_id = user_id.ok_or(SignInRefusal::MissingSubject)?;
    check_stored("subject", &user_id, MAX_SUBJECT_LEN, false)?;
    for (field, v) in [("first_name", &first), ("last_name", &last)] {
        if let Some(v) = v {
            check_stored(field, v, MAX_PERSON_NAME_CHARS, true)?;
        }
    }
    let email = email.ok_or(SignInRefusal::MissingEmail)?;
    let email = EmailAddress::parse(&email).map_err(|_| SignInRefusal::InvalidEmail)?;
    let host = email.domain();
    let inside = conn
        .domains
        .iter()
        .any(|d| host == d || (conn.allow_subdomains && host.is_same_or_subdomain_of(d)));
    if !inside {
        return Err(SignInRefusal::EmailOutsideDomains);
    }
    Ok(MappedIdentity {
        provider_user_id: user_id,
        email,
        first_name: first,
        last_name: last,
    })
}

/// What the connection's mapping reads from an assertion, before any check: the user id,
/// the email, the given and family names (a test run shows them even when a rule fails).
pub fn mapped_fields(
    conn: &EnterpriseConnection,
    assertion: &Assertion,
) -> (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
) {
    let subject = assertion
        .subject
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    match &conn.config {
        ProtocolConfig::Saml(s) => {
            let m = &s.attribute_mapping;
            let pick = |mapped: &Option<String>, defaults: &[&str]| match mapped {
                Some(name) => assertion.first(&[name.as_str()]),
                None => assertion.first(defaults),
            };
            let user_id = match &m.user_id {
                Some(name) => assertion.first(&[name.as_str()]),
                None => subject.clone(),
            };
            let email = pick(&m.email_address, DEFAULT_SAML_EMAIL).or_else(|| {
                m.email_address
                    .is_none()
                    .then(|| subject.clone().filter(|s| s.contains('@')))
                    .flatten()
            });
            (
                user_id,
                email,
                pick(&m.first_name, DEFAULT_SAML_FIRST_NAME),
                pick(&m.last_name, DEFAULT_SAML_LAST_NAME),
            )
        }
        ProtocolConfig::Oidc(_) => (
            assertion.first(&["sub"]).or(subject),
            assertion.first(&["email"]),
            assertion.first(&["given_name"]),
            assertion.first(&["family_name"]),
        ),
    }
}

/// A value taken from an assertion that will be stored: bounded (bytes, or characters for
/// names) and free of control characters.
fn check_stored(
    field: &'static str,
    value: &str,
    max: usize,
    chars: bool,
) -> Result<(), SignInRefusal> {
    use crate::validate::FieldErrorKind;
    // Bytes bound characters from above: a cheap check before counting.
    let too_long =
        value.len() > max && (!chars || value.len() > 4 * max || value.chars().count() > max);
    if too_long {
        return Err(SignInRefusal::InvalidField {
            field,
            kind: FieldErrorKind::TooLong { max },
        });
    }
    if value.chars().any(char::is_control) {
        return Err(SignInRefusal::InvalidField {
            field,
            kind: FieldErrorKind::ControlCharacters,
        });
    }
    Ok(())
}
