//! The hosted sign-in routes (the WorkOS SSO API and the SP endpoints): `GET
//! /sso/authorize`, `POST {base}/{id}/acs`, `GET {base}/{id}/metadata`, `GET
//! {base}/{id}/callback`, `POST /sso/token`, `GET /sso/profile`. The rules live in the
//! flows crate (`Flows::hosted_start`, `hosted_saml_finish`, `hosted_oidc_finish`,
//! `exchange_code`, `profile_for_token`); these handlers check the client registry,
//! carry the browser-binding cookie and translate answers.
//!
//! The browser binding is a random cookie (`esso_browser`, `HttpOnly`, `Path=/`, ten
//! minutes). The IdP's POST to the ACS is a cross-site request, which a browser sends a
//! cookie with only when it is `SameSite=None`, and `SameSite=None` needs `Secure`: so with
//! an `https` SP base URL the cookie is `Secure; SameSite=None`. On a loopback `http` base
//! URL (tests, local development) a `Secure` cookie would not be sent back over plain
//! http by every client, and loopback IdPs on other ports are the same site
//! (`127.0.0.1`; ports do not make sites), so the cookie is `SameSite=Lax` without
//! `Secure` there. Any other `http` base URL is refused.

mod acs;
mod authorize;
mod clients;
mod page;
mod test_run;
mod token;

use std::sync::Arc;

use axum::http::{header, HeaderMap};
use axum::routing::{get, post};
use axum::Router;
use enterprise_sso::{ConnectionId, Connections, Store};
use enterprise_sso_flows::HostedSettings;

pub use clients::{InvalidClient, OAuthClient};

use crate::auth::Auth;

/// The name of the browser-binding cookie.
pub const BROWSER_COOKIE: &str = "esso_browser";

/// What the hosted sign-in routes need: the core's settings (SAML SP, OIDC RP, code and
/// token lifetimes), the registered OAuth clients, and the SP base URL the ACS, metadata
/// and callback routes are served under.
#[derive(Clone)]
pub struct SignInOptions {
    pub(crate) settings: HostedSettings,
    pub(crate) clients: Arc<[OAuthClient]>,
    /// The path of the SP base URL (`/saml`), where the SP routes are mounted.
    pub(crate) sp_path: String,
    /// Whether the browser cookie is `Secure; SameSite=None` (an https base URL).
    pub(crate) secure_cookie: bool,
}

impl std::fmt::Debug for SignInOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInOptions")
            .field("settings", &self.settings)
            .field("clients", &self.clients)
            .field("sp_path", &self.sp_path)
            .field("secure_cookie", &self.secure_cookie)
            .finish()
    }
}

/// Why sign-in options cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidSignInOptions {
    /// The SP base URL is not an absolute https URL (or http on a loopback host).
    #[error("the SP base URL must be https (or http on 127.0.0.1, [::1] or localhost), without query or fragment: {0}")]
    BaseUrl(String),
    /// The SAML settings were made for another base URL.
    #[error("the SAML settings' base URL is not the SP base URL {0}")]
    SettingsMismatch(String),
    /// A client is invalid.
    #[error(transparent)]
    Client(#[from] InvalidClient),
    /// Two clients have the same id.
    #[error("client {0} is registered twice")]
    DuplicateClient(String),
    /// More than one client has a default redirect URI (IdP-initiated sign-ins go to the
    /// one that has it).
    #[error("only one client may have a default redirect URI (IdP-initiated sign-ins go to it); {0} and {1} both have one")]
    TwoIdpInitiatedClients(String, String),
}

impl SignInOptions {
    /// Options for SP endpoints under `sp_base_url` (the same URL `settings`' SAML and
    /// OIDC settings were made with, e.g. `https://sso.example.com/saml`) and `clients`.
    pub fn new(
        settings: HostedSettings,
        sp_base_url: &str,
        clients: Vec<OAuthClient>,
    ) -> Result<Self, InvalidSignInOptions> {
        let base = sp_base_url.trim_end_matches('/');
        let bad = || InvalidSignInOptions::BaseUrl(base.to_owned());
        let url = url::Url::parse(base).map_err(|_| bad())?;
        let secure_cookie = match url.scheme() {
            "https" => true,
            "http" if clients::is_loopback(&url) => false,
            _ => return Err(bad()),
        };
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad());
        }
        let probe = ConnectionId::generate();
        if settings.saml().acs_url(&probe) != format!("{base}/{probe}/acs") {
            return Err(InvalidSignInOptions::SettingsMismatch(base.to_owned()));
        }
        let mut with_default: Option<&str> = None;
        for (i, c) in clients.iter().enumerate() {
            if clients[..i].iter().any(|o| o.client_id == c.client_id) {
                return Err(InvalidSignInOptions::DuplicateClient(c.client_id.clone()));
            }
            if c.default_redirect_uri.is_some() {
                if let Some(first) = with_default {
                    return Err(InvalidSignInOptions::TwoIdpInitiatedClients(
                        first.to_owned(),
                        c.client_id.clone(),
                    ));
                }
                with_default = Some(&c.client_id);
            }
        }
        Ok(SignInOptions {
            settings,
            clients: clients.into(),
            sp_path: url.path().trim_end_matches('/').to_owned(),
            secure_cookie,
        })
    }

    pub(crate) fn client(&self, id: &str) -> Option<&OAuthClient> {
        self.clients.iter().find(|c| c.client_id == id)
    }

    /// The client that takes IdP-initiated sign-ins (the one with a default redirect).
    pub(crate) fn idp_initiated_client(&self) -> Option<enterprise_sso_flows::IdpInitiatedClient> {
        self.clients
            .iter()
            .find(|c| c.default_redirect_uri.is_some())
            .map(|c| enterprise_sso_flows::IdpInitiatedClient {
                client_id: c.client_id.clone(),
                redirect_uris: c.redirect_uris.clone(),
                default_redirect_uri: c.default_redirect_uri.clone(),
            })
    }
}

pub(crate) struct SsoState<S> {
    pub(crate) svc: Arc<Connections<S>>,
    /// The sign-in flows over `svc`.
    pub(crate) flows: enterprise_sso_flows::Flows<S>,
    pub(crate) opts: SignInOptions,
    pub(crate) auth: Auth,
    pub(crate) max_body_bytes: usize,
    pub(crate) body_read_timeout: std::time::Duration,
}

/// The hosted sign-in routes, unauthenticated by API key (browsers call authorize, the
/// ACS and the callback; the token endpoint checks the client itself; the profile
/// endpoint takes the access token).
pub(crate) fn routes<S: Store + 'static>(
    svc: Arc<Connections<S>>,
    opts: SignInOptions,
    auth: Auth,
    http: &crate::HttpOptions,
) -> Router {
    let sp = opts.sp_path.clone();
    let st = Arc::new(SsoState {
        flows: enterprise_sso_flows::Flows::new(Arc::clone(&svc)),
        svc,
        opts,
        auth,
        max_body_bytes: http.max_body_bytes,
        body_read_timeout: http.body_read_timeout,
    });
    Router::new()
        .route(
            "/sso/authorize",
            crate::with_405(get(authorize::authorize::<S>), "GET"),
        )
        .route(
            "/sso/token",
            crate::with_405(post(token::token::<S>), "POST"),
        )
        .route(
            "/sso/profile",
            crate::with_405(get(token::profile::<S>), "GET"),
        )
        .route(
            &format!("{sp}/{{id}}/acs"),
            crate::with_405(post(acs::acs::<S>), "POST"),
        )
        .route(
            &format!("{sp}/{{id}}/metadata"),
            crate::with_405(get(acs::metadata::<S>), "GET"),
        )
        .route(
            &format!("{sp}/{{id}}/callback"),
            crate::with_405(get(acs::callback::<S>), "GET"),
        )
        .route(
            &format!("{sp}/{{id}}/test_runs/{{token}}"),
            crate::with_405(get(test_run::start::<S>), "GET"),
        )
        .with_state(st)
}

/// 64 bytes from the operating system's CSPRNG.
pub(crate) fn random<const N: usize>() -> Result<[u8; N], getrandom::Error> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b)?;
    Ok(b)
}

/// The browser binding the request carries, if well formed (43 base64url characters).
pub(crate) fn browser_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == BROWSER_COOKIE)
        .map(|(_, v)| v.to_owned())
        .filter(|v| {
            v.len() == 43
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// The `Set-Cookie` value for the browser binding `value`.
pub(crate) fn set_cookie(value: &str, secure: bool) -> String {
    let site = if secure {
        "Secure; SameSite=None"
    } else {
        "SameSite=Lax"
    };
    format!("{BROWSER_COOKIE}={value}; Path=/; Max-Age=600; HttpOnly; {site}")
}

/// `uri` with `pairs` added to its query.
pub(crate) fn with_query(uri: &str, pairs: &[(&str, Option<&str>)]) -> String {
    match url::Url::parse(uri) {
        Ok(mut u) => {
            {
                let mut q = u.query_pairs_mut();
                for (k, v) in pairs {
                    if let Some(v) = v {
                        q.append_pair(k, v);
                    }
                }
            }
            u.to_string()
        }
        // Registered URIs are parsed when registered; never reached.
        Err(_) => uri.to_owned(),
    }
}
