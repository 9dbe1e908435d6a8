//! The error type of every fallible operation.

use crate::domain::Domain;
use crate::ids::{AccountId, RecordId};
use crate::validate::ValidationErrors;

/// Boxed source error of a storage backend.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why an operation failed. Messages never contain secrets.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The parameters, merged with the stored connection, break one or more rules.
    #[error("invalid connection: {0}")]
    Validation(#[from] ValidationErrors),
    /// No record has this id.
    #[error("{id} not found")]
    NotFound {
        /// The connection or account id asked for.
        id: RecordId,
    },
    /// A domain is already claimed by another connection. The error names the domain
    /// only: which connection (another tenant's, perhaps) holds it is not disclosed.
    #[error("domain {domain} is already claimed by another connection")]
    DomainConflict {
        /// The domain asked for.
        domain: Domain,
    },
    /// The stored version was not the expected one (another writer got there first).
    #[error("{id} was modified concurrently (expected version {expected}, found {actual})")]
    VersionConflict {
        /// The connection or account id.
        id: RecordId,
        /// The version the writer read.
        expected: u64,
        /// The version stored now.
        actual: u64,
    },
    /// A record with this id exists already.
    #[error("{id} already exists")]
    AlreadyExists {
        /// The connection or account id.
        id: RecordId,
    },
    /// An account for this (connection, provider user id) exists already.
    #[error("an account for this user and connection exists already: {id}")]
    AccountExists {
        /// The existing account.
        id: AccountId,
    },
    /// A sign-in was refused; nothing was written.
    #[error("sign-in refused: {0}")]
    SignInRefused(crate::account::SignInRefusal),

    /// A SAML sign-in was refused: the Response broke a rule, or the flow around it did
    /// (see `SamlRefusal::code`). Nothing about the sign-in was recorded.
    #[error("SAML sign-in refused: {0}")]
    SamlRefused(Box<enterprise_sso_protocol::SamlRefusal>),

    /// An OIDC sign-in was refused (see `OidcSignInRefusal::code`). Nothing about the
    /// sign-in was recorded; the pending request, if its state matched, is used up.
    #[error("OIDC sign-in refused: {0}")]
    OidcRefused(Box<enterprise_sso_protocol::OidcSignInRefusal>),

    /// The hosted sign-in API refused (see `HostedRefusal::code` and
    /// `HostedRefusal::oauth_error`): a code, token, PKCE or client rule.
    #[error("hosted sign-in refused: {0}")]
    HostedRefused(Box<enterprise_sso_protocol::HostedRefusal>),
    /// An email address given for routing is malformed.
    #[error("invalid email address: {reason}")]
    InvalidEmail {
        /// What is wrong (the address itself is not repeated).
        reason: &'static str,
    },
    /// A `MetadataSource` (the IdP document fetcher of `enterprise-sso-flows`) could not
    /// fetch a document.
    #[error("fetching {what} failed: {source}")]
    Fetch {
        /// What was being fetched (`saml.idp_metadata_url`, `oidc.discovery_url`).
        what: &'static str,
        /// The source's error.
        #[source]
        source: BoxError,
    },
    /// The caller broke a rule of the API itself (not a rule of the data it sent): for
    /// example an adapter asked to change an account's connection, which never changes.
    #[error("invalid argument `{argument}`: {reason}")]
    InvalidArgument {
        /// Which argument.
        argument: &'static str,
        /// What is wrong with it (never its value).
        reason: &'static str,
    },
    /// A secret field could not be sealed or opened (see [`crate::crypto`]): sealed with a
    /// key that is not in the ring, or not decrypting for its record and field.
    #[error("secret encryption: {0}")]
    Crypto(#[from] crate::crypto::CryptoError),
    /// The stored secret field of one connection could not be opened: its key is not in
    /// the ring, it does not decrypt for this record and field, it is malformed, or it is
    /// a plain value where the ring requires a sealed one (a downgrade). Names the record
    /// and field, never the value; [`crate::crypto::Encrypted::check_secrets`] lists every
    /// such record.
    #[error("connection {id}: secret field {field} cannot be opened: {source}")]
    UnreadableSecret {
        /// The connection.
        id: crate::ids::ConnectionId,
        /// The field (`oidc.client_secret`).
        field: &'static str,
        /// Why it cannot be opened.
        #[source]
        source: crate::crypto::CryptoError,
    },
    /// A stored record or index entry could not be decoded: the store holds something it
    /// never wrote.
    #[error("stored record is corrupt: {reason}")]
    Corrupt {
        /// What is wrong.
        reason: String,
        /// The decoder's error, where there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// The storage backend failed.
    #[error("storage error: {source}")]
    Storage {
        /// The backend's error.
        #[source]
        source: BoxError,
    },
}

impl Error {
    /// Wraps a backend error.
    pub fn storage(source: impl Into<BoxError>) -> Self {
        Error::Storage {
            source: source.into(),
        }
    }

    /// A stored value that cannot be decoded, with no underlying error.
    pub fn corrupt(reason: impl Into<String>) -> Self {
        Error::Corrupt {
            reason: reason.into(),
            source: None,
        }
    }

    /// A stored value that cannot be decoded, keeping the decoder's error.
    pub fn corrupt_with(reason: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Error::Corrupt {
            reason: reason.into(),
            source: Some(source.into()),
        }
    }

    /// No record with this id.
    pub fn not_found(id: impl Into<RecordId>) -> Self {
        Error::NotFound { id: id.into() }
    }

    /// The encryption error, if this is one ([`Error::Crypto`], or the cause of an
    /// [`Error::UnreadableSecret`]).
    pub fn crypto(&self) -> Option<&crate::crypto::CryptoError> {
        match self {
            Error::Crypto(e) | Error::UnreadableSecret { source: e, .. } => Some(e),
            _ => None,
        }
    }

    /// The validation problems, if this is a validation error.
    pub fn validation(&self) -> Option<&ValidationErrors> {
        match self {
            Error::Validation(v) => Some(v),
            _ => None,
        }
    }
}

/// Shorthand result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
