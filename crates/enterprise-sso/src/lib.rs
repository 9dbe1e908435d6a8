//! # enterprise-sso
//!
//! The data and rules layer for enterprise SSO connections (SAML and OIDC), storage
//! agnostic: the domain model ([`EnterpriseConnection`]), partial-update merge rules
//! ([`merge()`]), validation ([`validate()`]), routing of emails to connections, and the
//! [`ConnectionRepo`] trait that storage adapters implement. [`MemoryRepo`] is the
//! in-memory reference implementation; SQLite and sled adapters live in their own crates.
//!
//! ```
//! use enterprise_sso::{Connections, CreateConnection, MemoryRepo, OidcPatch, Patch, Provider, UpdateConnection};
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

pub mod account;
pub mod cache;
pub mod cert_set;
pub mod connection;
pub mod crypto;
pub mod domain;
pub mod email;
pub mod error;
pub mod events;
pub mod ids;
pub mod integrity;
pub mod login_hint;
pub mod memory;
mod merge;
pub mod patch;
pub mod provider;
pub mod repo;
mod routing;
pub mod secret;
pub mod service;
pub mod storage;
pub mod validate;
mod write_lock;

// The protocol parsers, under the paths the core used before they moved.
use enterprise_sso_protocol::{limits, oidc, saml, url_policy};

/// Fixtures for tests of stores and hosts (feature `testing`): valid connections and
/// accounts, a test key ring, byte searches over a store's files.
#[cfg(feature = "testing")]
pub mod testing;

pub use account::{Assertion, EnterpriseAccount, SignInRefusal, Verification, VerificationStatus};
pub use cache::{CacheOptions, CacheStats, Cached};
pub use cert_set::IdpCertificate;
pub use connection::{
    AttributeMapping, ConnectionState, EnterpriseConnection, OidcConfig, ProtocolConfig, SamlConfig,
};
pub use domain::{Domain, DomainError};
pub use email::{EmailAddress, EmailError};
pub use error::{Error, Result};
pub use ids::{AccountId, ConnectionId, EventId, RecordId};
pub use login_hint::LoginHint;
pub use memory::MemoryRepo;
pub use merge::{build, build_with, merge, merge_with};
#[cfg(feature = "testing")]
pub use patch::Compose;
pub use patch::{
    AttributeMappingPatch, CreateConnection, OidcPatch, Patch, SamlPatch, UpdateConnection,
};
pub use provider::{Protocol, Provider, WorkosConnectionType};
pub use repo::{
    modify_by_cas, AccountPage, AccountQuery, AccountRepo, Change, ConnectionRepo, DynStore,
    EventFeed, ListQuery, Order, Page, Record, Store,
};
pub use secret::ClientSecret;
pub use service::{Connections, MetadataSource, SignIn};
pub use validate::{validate, validate_with, FieldError, FieldErrorKind, Policy, ValidationErrors};

pub mod manual;
