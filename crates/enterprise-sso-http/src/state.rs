//! What every handler shares: the service, the options, and the mapping of core errors.

use std::sync::Arc;

use enterprise_sso::{ConnectionId, Connections, Error, Store};
use enterprise_sso_flows::MetadataSource;
use enterprise_sso_wire::{ApiErrors, SpEndpoints};

use crate::envelope::{HttpError, Vendor};

/// Router settings beyond the service and the keys.
#[derive(Clone)]
pub struct HttpOptions {
    /// Largest request body accepted, in bytes ([`crate::DEFAULT_MAX_BODY_BYTES`]).
    pub max_body_bytes: usize,
    /// Longest time a request body may take to arrive, from the moment the handler starts
    /// reading it ([`crate::DEFAULT_BODY_READ_TIMEOUT`]); then 408 and the connection is
    /// closed. Unlike the connection limits of [`crate::ServerLimits`], this one holds
    /// however the router is served.
    pub body_read_timeout: std::time::Duration,
    /// Base URL under which the host serves its SAML service-provider endpoints, e.g.
    /// `https://sso.example.com/saml`: responses then show `acs_url` =
    /// `{base}/{id}/acs`, `sp_entity_id` = `{base}/{id}` and `sp_metadata_url` =
    /// `{base}/{id}/metadata`. `None`: those fields are `null`.
    pub sp_base_url: Option<String>,
    /// Where IdP documents are fetched from. With one, a create or update that gives a
    /// SAML `idp_metadata_url` or an OIDC `discovery_url` resolves the document first (as
    /// Clerk does: endpoints "resolved from discovery"), so a connection given only a
    /// discovery URL can be created active; a refused fetch is 502 and writes nothing.
    /// `None`: documents are not fetched (the host refreshes them itself). The server
    /// binary sets an SSRF-safe fetcher (`enterprise-sso-fetch`).
    pub metadata_source: Option<Arc<dyn MetadataSource>>,
    /// The hosted sign-in (`/sso/authorize`, `/sso/token`, `/sso/profile` and the SP
    /// endpoints under `sp_base_url`'s path). `None`: those routes do not exist.
    pub sign_in: Option<crate::sso::SignInOptions>,
}

impl std::fmt::Debug for HttpOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpOptions")
            .field("max_body_bytes", &self.max_body_bytes)
            .field("body_read_timeout", &self.body_read_timeout)
            .field("sp_base_url", &self.sp_base_url)
            .field("metadata_source", &self.metadata_source.is_some())
            .field("sign_in", &self.sign_in)
            .finish()
    }
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            max_body_bytes: crate::body::DEFAULT_MAX_BODY_BYTES,
            body_read_timeout: crate::body::DEFAULT_BODY_READ_TIMEOUT,
            sp_base_url: None,
            metadata_source: None,
            sign_in: None,
        }
    }
}

pub(crate) struct AppState<S> {
    pub(crate) svc: Arc<Connections<S>>,
    /// The flows over `svc` (IdP documents resolved on write, test runs).
    pub(crate) flows: enterprise_sso_flows::Flows<S>,
    pub(crate) opts: HttpOptions,
}

impl<S: Store> AppState<S> {
    pub(crate) fn sp(&self, id: &ConnectionId) -> SpEndpoints {
        match &self.opts.sp_base_url {
            None => SpEndpoints::default(),
            Some(base) => {
                let base = base.trim_end_matches('/');
                SpEndpoints {
                    acs_url: Some(format!("{base}/{id}/acs")),
                    sp_entity_id: Some(format!("{base}/{id}")),
                    sp_metadata_url: Some(format!("{base}/{id}/metadata")),
                }
            }
        }
    }
}

/// A core error for the client; storage and corruption details go to the log (at error
/// level, without secrets: core errors never carry them), not to the client.
pub(crate) fn core(vendor: Vendor, e: &Error) -> HttpError {
    let errors = ApiErrors::from(e);
    if errors.status >= 500 {
        tracing::error!(error = %e, "request failed");
    }
    HttpError::new(vendor, errors)
}

/// An id from the path. One that does not parse names no connection: 404, without
/// repeating the text sent.
pub(crate) fn parse_id(raw: &str) -> Result<ConnectionId, ApiErrors> {
    raw.parse::<ConnectionId>().map_err(|_| {
        ApiErrors::single(
            404,
            enterprise_sso_wire::codes::RESOURCE_NOT_FOUND,
            "not found",
            "No enterprise connection has this id.",
            None,
        )
    })
}
