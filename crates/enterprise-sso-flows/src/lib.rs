//! # enterprise-sso-flows
//!
//! The IdP-facing flows of enterprise-sso, over the core's [`Connections`] service: the
//! SAML service provider ([`Flows::saml_start`], [`Flows::saml_finish`]), the OIDC
//! relying party ([`Flows::oidc_start`], [`Flows::oidc_finish`]), the hosted WorkOS-style
//! sign-in API ([`Flows::hosted_start`], [`Flows::exchange_code`],
//! [`Flows::profile_for_token`]), connection test runs ([`Flows::create_test_run`]) and the
//! refresh of IdP documents ([`Flows::refresh`], [`Flows::create_resolved`]).
//!
//! The protocol rules (the Response verifier, the ID-token verifier) are the protocol
//! crate's; the sign-in rules (tenant boundary, JIT, the account write) are the core's
//! ([`Connections::check_sign_in`], [`Connections::commit_sign_in`]). This crate holds what
//! joins them: the pending requests and their single use, the assertion replay cache, the
//! client's codes and tokens, the test runs' records and the events of failed sign-ins.
//!
//! ```
//! use std::sync::Arc;
//! use enterprise_sso::Connections;
//! use enterprise_sso_memory::MemoryRepo;
//! use enterprise_sso_flows::{Flows, SamlSettings};
//! # futures_executor::block_on(async {
//! let flows = Flows::new(Connections::new(MemoryRepo::new()));
//! let settings = SamlSettings::new("https://sso.example.com/saml");
//! let conn = flows
//!     .connections()
//!     .create(&enterprise_sso::CreateConnection::new(enterprise_sso::Provider::SamlCustom, "Acme"))
//!     .await
//!     .unwrap();
//! assert!(settings.metadata_xml(&conn.id).unwrap().contains("AssertionConsumerService"));
//! # });
//! ```

mod client_code;
mod hosted;
mod hosted_flow;
mod oidc;
mod oidc_commit;
mod pending;
mod refresh;
mod saml;
mod saml_commit;
mod sign_in_events;
mod test_run_model;
mod test_runs;

use std::sync::Arc;

use enterprise_sso::Connections;

pub use enterprise_sso_protocol::{HostedRefusal, OidcSignInRefusal, SamlRefusal};
pub use hosted::{
    check_code_challenge, s256_challenge, CodeBinding, CodeExchange, HostedSettings, Profile,
    TokenGrant, DEFAULT_ACCESS_TOKEN_TTL, DEFAULT_CODE_TTL, DEFAULT_HOSTED_REQUEST_TTL,
    MAX_CLIENT_STATE_BYTES, MAX_RELAY_STATE_BYTES,
};
pub use hosted_flow::{
    AuthorizationRequest, HostedErrorRedirect, HostedOutcome, HostedRedirect, IdpInitiatedClient,
    SamlPost,
};
pub use oidc::{
    OidcSettings, OidcSignIn, OidcStart, DEFAULT_OIDC_METADATA_TTL, DEFAULT_OIDC_REQUEST_TTL,
};
pub use refresh::{MetadataSource, RefreshReport};
pub use saml::{
    SamlRedirect, SamlSettings, SamlSignIn, SamlStart, DEFAULT_IDP_INITIATED_MAX_AGE,
    DEFAULT_SAML_REQUEST_TTL,
};
pub use sign_in_events::sign_in_failure;
pub use test_runs::{
    ParsedUserInfo, TestRun, TestRunLog, TestRunOauth, TestRunPage, TestRunProtocol, TestRunQuery,
    TestRunSaml, TestRunStatus, TestRunUrl, MAX_TEST_RUNS_PER_CONNECTION, TEST_RUN_RETENTION,
    TEST_RUN_URL_TTL,
};

/// The flows of one [`Connections`] service: a cheap handle (an `Arc` inside), cloned
/// freely, sharing the service's store, clock and policy.
pub struct Flows<R> {
    svc: Arc<Connections<R>>,
}

impl<R> Clone for Flows<R> {
    fn clone(&self) -> Self {
        Flows {
            svc: Arc::clone(&self.svc),
        }
    }
}

impl<R: std::fmt::Debug> std::fmt::Debug for Flows<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flows").field("svc", &self.svc).finish()
    }
}

impl<R> Flows<R> {
    /// The flows of `connections` (a `Connections` or an `Arc` of one, so a host keeps
    /// one service for its admin API and its sign-ins).
    pub fn new(connections: impl Into<Arc<Connections<R>>>) -> Self {
        Flows {
            svc: connections.into(),
        }
    }

    /// The service the flows run over (create, read, update, route connections).
    pub fn connections(&self) -> &Arc<Connections<R>> {
        &self.svc
    }
}

impl<R: enterprise_sso::ConnectionRepo> Flows<R> {
    /// The service's clock, in Unix milliseconds.
    fn now_ms(&self) -> i64 {
        self.svc.now().get()
    }
}
