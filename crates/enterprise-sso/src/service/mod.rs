//! The service every host calls: it owns merge, validation, retries and routing.
//!
//! One file a concern: `connections` (create, read, update, delete, routing), `sign_in`
//! (recording a sign-in, and the checks the sign-in flows share), `sign_in_commit` (a
//! flow's sign-in written in one commit), `accounts` (account reads and writes), and
//! `retry` (the one compare-and-swap retry loop every write uses). The sign-in flows
//! themselves (SAML SP, OIDC RP, the hosted API, test runs) and the refresh of IdP
//! documents live in `enterprise-sso-flows`, over this service's public API.

mod accounts;
mod connections;
mod retry;
mod sign_in;
mod sign_in_commit;

pub use sign_in::SignIn;
pub use sign_in_commit::Committed;

use std::sync::Arc;

use crate::repo::ConnectionRepo;
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
/// use enterprise_sso::{Connections, CreateConnection, Provider};
/// use enterprise_sso_memory::MemoryRepo;
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

    /// The current time by this service's clock (see [`Connections::with_clock`]).
    pub fn now(&self) -> crate::UnixMillis {
        crate::UnixMillis::new((self.clock)())
    }

    /// The validation policy (see [`Connections::with_policy`]).
    pub fn policy(&self) -> &Policy {
        &self.policy
    }
}
