//! The service every host calls: it owns merge, validation, retries and routing.
//!
//! One file a concern: `connections` (create, read, update, delete, routing), `refresh`
//! (re-reading IdP documents), `sign_in` (recording a sign-in), `accounts` (account
//! reads and writes), `saml` / `oidc` (the sign-in engines), `pending` (their one
//! pending-request rule), `hosted` / `hosted_flow` (the hosted API's codes, tokens and
//! the flow around the engines), `test_runs` (connection test runs: a sign-in through the
//! engines that is recorded for the admin, never signs anyone in), and `retry` (the one compare-and-swap retry loop every write uses).

mod accounts;
mod connections;
mod hosted;
mod hosted_flow;
mod oidc;
mod oidc_commit;
mod pending;
mod refresh;
mod retry;
mod saml;
mod saml_commit;
mod sign_in;
mod sign_in_commit;
mod sign_in_events;
mod test_run_model;
mod test_runs;

pub use hosted::{
    check_code_challenge, s256_challenge, CodeBinding, CodeExchange, HostedRefusal, HostedSettings,
    Profile, TokenGrant, DEFAULT_ACCESS_TOKEN_TTL, DEFAULT_CODE_TTL, DEFAULT_HOSTED_REQUEST_TTL,
    MAX_CLIENT_STATE_BYTES, MAX_RELAY_STATE_BYTES,
};
pub use hosted_flow::{
    AuthorizationRequest, HostedErrorRedirect, HostedOutcome, HostedRedirect, IdpInitiatedClient,
    SamlPost,
};
pub use oidc::{
    OidcSettings, OidcSignIn, OidcSignInRefusal, OidcStart, DEFAULT_OIDC_METADATA_TTL,
    DEFAULT_OIDC_REQUEST_TTL,
};
pub use refresh::{MetadataSource, RefreshReport};
pub use saml::{
    SamlRedirect, SamlRefusal, SamlSettings, SamlSignIn, SamlStart, DEFAULT_IDP_INITIATED_MAX_AGE,
    DEFAULT_SAML_REQUEST_TTL,
};
pub use sign_in::SignIn;
pub use sign_in_events::sign_in_failure;
pub use test_runs::{
    ParsedUserInfo, TestRun, TestRunLog, TestRunOauth, TestRunPage, TestRunProtocol, TestRunQuery,
    TestRunSaml, TestRunStatus, TestRunUrl, MAX_TEST_RUNS_PER_CONNECTION, TEST_RUN_RETENTION,
    TEST_RUN_URL_TTL,
};

use std::sync::Arc;

use crate::error::Error;
use crate::repo::ConnectionRepo;
use crate::validate::{FieldError, FieldErrorKind, ValidationErrors};
use crate::Policy;

/// Source of the current time, Unix milliseconds (a [`crate::UnixMillis`] as `i64`, so a
/// test clock stays `Arc::new(|| 1_500)`).
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// How many times [`Connections::update`] re-reads and re-merges after a version conflict
/// before giving the conflict to the caller.
pub const DEFAULT_MAX_RETRIES: usize = 32;

/// The current time in Unix milliseconds ([`crate::UnixMillis::now`] as `i64`).
pub fn now_ms() -> i64 {
    crate::UnixMillis::now().get()
}

/// Enterprise connections on a storage backend `R`.
///
/// ```
/// use enterprise_sso::{Connections, CreateConnection, MemoryRepo, Provider};
/// # futures_executor::block_on(async {
/// let svc = Connections::new(MemoryRepo::new());
/// let mut params = CreateConnection::new(Provider::SamlOkta, "Acme");
/// params.domains = Some(vec!["acme.com".into()]);
/// let conn = svc.create(&params).await.unwrap();
/// assert_eq!(svc.get(&conn.id).await.unwrap(), conn);
/// # });
/// ```
pub struct Connections<R> {
    repo: R,
    clock: Clock,
    max_retries: usize,
    policy: Policy,
}

impl<R: std::fmt::Debug> std::fmt::Debug for Connections<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connections")
            .field("repo", &self.repo)
            .field("max_retries", &self.max_retries)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl<R: ConnectionRepo> Connections<R> {
    /// A service on `repo` with the system clock.
    pub fn new(repo: R) -> Self {
        Connections {
            repo,
            clock: Arc::new(now_ms),
            max_retries: DEFAULT_MAX_RETRIES,
            policy: Policy::default(),
        }
    }

    /// Uses `policy` for validation (e.g. to allow loopback metadata URLs in tests).
    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Uses `clock` for timestamps (tests, simulations).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Sets how often an update is retried after a version conflict.
    pub fn with_max_retries(mut self, retries: usize) -> Self {
        self.max_retries = retries;
        self
    }

    /// The storage backend.
    pub fn repo(&self) -> &R {
        &self.repo
    }
}

/// A validation error with one problem at `path`.
fn invalid(path: &str, kind: FieldErrorKind) -> Error {
    Error::Validation(ValidationErrors::single(FieldError::new(path, kind)))
}
