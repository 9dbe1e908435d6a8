//! # enterprise-sso
//!
//! The data and rules layer for enterprise SSO connections (SAML and OIDC), storage
//! agnostic: the domain model ([`EnterpriseConnection`]), partial-update merge rules
//! ([`merge()`]), validation ([`validate()`]), routing of emails to connections, and the
//! [`ConnectionRepo`] trait that storage adapters implement. Every store is a crate of its
//! own: `enterprise-sso-memory` (the in-memory reference, `MemoryRepo`), `-sqlite`, `-sled`
//! and `-postgres`; the read cache (`Cached`) is `enterprise-sso-cache`; the sign-in flows
//! are `enterprise-sso-flows`.
//!
//! ```
//! use enterprise_sso::{Connections, CreateConnection, OidcPatch, Patch, Provider, UpdateConnection};
//! use enterprise_sso_memory::MemoryRepo;
//! # futures_executor::block_on(async {
//! let svc = Connections::new(MemoryRepo::new());
//! let mut params = CreateConnection::new(Provider::OidcCustom, "Acme");
//! params.domains = Some(vec!["Acme.com".into()]);
//! params.oidc = Some(OidcPatch {
//!     client_id: Patch::Value("client-123".into()),
//!     // Activation needs the endpoints: set here, or filled by `refresh` from discovery.
//!     auth_url: Patch::Value("https://idp.acme.com/authorize".into()),
//!     token_url: Patch::Value("https://idp.acme.com/token".into()),
//!     requires_pkce: Patch::Value(true),
//!     ..Default::default()
//! });
//! let conn = svc.create(&params).await.unwrap();
//! let conn = svc
//!     .update(&conn.id, &UpdateConnection { active: Patch::Value(true), ..Default::default() })
//!     .await
//!     .unwrap();
//! let routed = svc.route_email("jane@acme.com").await.unwrap();
//! assert_eq!(routed.map(|c| c.id), Some(conn.id));
//! # });
//! ```

mod account;
mod cert_set;
mod connection;
pub mod crypto;
mod domain;
mod email;
mod error;
pub mod events;
mod fields;
mod ids;
mod integrity;
mod login_hint;
mod merge;
mod millis;
mod patch;
mod provider;
mod repo;
mod routing;
mod secret;
mod service;
mod sign_in_store;
pub mod storage;
mod validate;
mod write_lock;

// The protocol parsers, under the paths the core used before they moved.
use enterprise_sso_protocol::{oidc, saml, url_policy};

/// Every size and count limit the rules apply, in one place: the protocol crate's input
/// limits and the core's own (manual chapter 12 lists them with what each bounds).
pub mod limits {
    pub use crate::account::{MAX_PERSON_NAME_CHARS, MAX_SUBJECT_LEN};
    pub use crate::domain::MAX_DOMAIN_LEN;
    pub use crate::email::{MAX_EMAIL_LEN, MAX_LOCAL_PART_LEN};
    pub use crate::login_hint::MAX_LOGIN_HINT_SOURCE_LEN;
    pub use crate::repo::{DEFAULT_LIMIT, MAX_LIMIT};
    pub use crate::service::DEFAULT_MAX_RETRIES;
    pub use enterprise_sso_protocol::limits::{
        MAX_CERTIFICATE_LEN, MAX_DOMAINS, MAX_METADATA_LEN, MAX_NAME_CHARS, MAX_TEXT_LEN,
        MAX_URL_LEN,
    };
}

/// Fixtures for tests of stores and hosts (feature `testing`): valid connections and
/// accounts, a test key ring, byte searches over a store's files.
#[cfg(feature = "testing")]
pub mod testing;

pub use account::{
    map_assertion, mapped_fields, Assertion, EnterpriseAccount, MappedIdentity, SignInRefusal,
    Verification, VerificationStatus, DEFAULT_SAML_EMAIL, DEFAULT_SAML_FIRST_NAME,
    DEFAULT_SAML_LAST_NAME,
};
pub use cert_set::IdpCertificate;
pub use connection::{
    AttributeMapping, ConnectionState, EnterpriseConnection, OidcConfig, ProtocolConfig,
    RenewalNotice, SamlConfig,
};
pub use domain::{is_ip_literal, Domain, DomainError};
pub use email::{EmailAddress, EmailError};
pub use enterprise_sso_protocol::limits::Policy;
pub use error::{BoxError, Error, Result};
pub use ids::{
    AccountId, ConnectionId, EventId, InvalidId, RecordId, TestRunId, ACCOUNT_ID_PREFIX,
    CONNECTION_ID_PREFIX, EVENT_ID_PREFIX, TEST_RUN_ID_PREFIX,
};
pub use login_hint::LoginHint;
pub use merge::{build, build_with, merge, merge_with};
pub use millis::UnixMillis;
#[cfg(feature = "testing")]
pub use patch::Compose;
pub use patch::{
    AttributeMappingPatch, CreateConnection, OidcPatch, Patch, SamlPatch, UpdateConnection,
};
pub use provider::{Protocol, Provider, UnknownProvider, WorkosConnectionType};
pub use repo::{
    list_all, modify_by_cas, AccountPage, AccountQuery, AccountRepo, Change, ConnectionRepo,
    DynStore, EventFeed, FeedPage, ListQuery, Order, Page, Record, Store,
};
pub use routing::{email_domain, route_candidates, routes};
pub use secret::ClientSecret;
pub use service::{now_ms, Clock, Committed, Connections, SignIn};
pub use sign_in_store::{
    sign_in_key, AccountWrite, SignInCommit, SignInConflict, SignInItem, SignInKind, SignInOp,
    SignInStore,
};
pub use validate::{validate, validate_with, FieldError, FieldErrorKind, ValidationErrors};

pub mod manual;
