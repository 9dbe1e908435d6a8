//! `GET /sso/authorize`: WorkOS's parameters. The client and its redirect URI are
//! checked first; until both are known good every refusal is a page, never a redirect.
//! After that, errors go back to the redirect URI as `error`, `error_description` and
//! `state` with WorkOS's codes.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use enterprise_sso::{
    ConnectionId, Connections, EnterpriseConnection, Error, ListQuery, Provider, SignInRefusal,
    Store,
};
use enterprise_sso_flows::AuthorizationRequest;

use super::page::{redirect, refusal};
use super::{browser_cookie, random, set_cookie, with_query, SsoState};

type St<S> = State<Arc<SsoState<S>>>;

/// The parameters this route reads (others, such as `provider_scopes`, are ignored).
const KNOWN: &[&str] = &[
    "client_id",
    "redirect_uri",
    "response_type",
    "state",
    "connection",
    "organization",
    "provider",
    "domain",
    "login_hint",
    "domain_hint",
    "code_challenge",
    "code_challenge_method",
];

/// A refusal sent back to the client's redirect URI.
struct Back {
    error: &'static str,
    description: String,
}

fn back(error: &'static str, description: impl Into<String>) -> Back {
    Back {
        error,
        description: description.into(),
    }
}

pub(crate) async fn authorize<S: Store>(
    State(st): St<S>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let mut q: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in url::form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes()) {
        if KNOWN.contains(&k.as_ref()) && q.insert(k.to_string(), v.into_owned()).is_some() {
            return refusal(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!("The parameter {k} is given more than once."),
            );
        }
    }
    let Some(client_id) = q.get("client_id").filter(|v| !v.is_empty()) else {
        return refusal(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "client_id is required.",
        );
    };
    let Some(client) = st.opts.client(client_id) else {
        return refusal(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            &format!("client_id {client_id:?} is not a registered client."),
        );
    };
    let Some(redirect_uri) = q.get("redirect_uri").filter(|v| !v.is_empty()) else {
        return refusal(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "redirect_uri is required.",
        );
    };
    if !client.allows(redirect_uri) {
        return refusal(
            StatusCode::BAD_REQUEST,
            "invalid_redirect_uri",
            &format!(
                "redirect_uri is not one of the redirect URIs registered for client {client_id:?} (exact match)."
            ),
        );
    }
    let state = q.get("state").map(String::as_str);
    match start(&st, &q, &headers, client_id, redirect_uri, state).await {
        Ok(res) => res,
        Err(b) => {
            // A state too long to keep is not echoed either.
            let state = state.filter(|s| s.len() <= enterprise_sso_flows::MAX_CLIENT_STATE_BYTES);
            let to = with_query(
                redirect_uri,
                &[
                    ("error", Some(b.error)),
                    ("error_description", Some(&b.description)),
                    ("state", state),
                ],
            );
            redirect(StatusCode::FOUND, &to, None)
        }
    }
}

async fn start<S: Store>(
    st: &SsoState<S>,
    q: &BTreeMap<String, String>,
    headers: &HeaderMap,
    client_id: &str,
    redirect_uri: &str,
    state: Option<&str>,
) -> Result<Response, Back> {
    let get = |k: &str| q.get(k).map(String::as_str).filter(|v| !v.is_empty());
    if get("response_type") != Some("code") {
        return Err(back("invalid_request", "response_type must be code."));
    }
    if get("domain").is_some() {
        return Err(back(
            "domain_connection_selector_not_allowed",
            "The domain selector is not supported; pass connection, organization or provider (or a login_hint email).",
        ));
    }
    let code_challenge = match (get("code_challenge"), get("code_challenge_method")) {
        (None, None) => None,
        (Some(c), Some("S256")) => Some(c),
        (Some(_), _) => {
            return Err(back(
                "invalid_request",
                "code_challenge_method must be S256 (plain is not supported).",
            ))
        }
        (None, Some(_)) => {
            return Err(back(
                "invalid_request",
                "code_challenge_method was given without code_challenge.",
            ))
        }
    };
    let conn = select(&st.svc, get).await?;
    if !conn.active {
        return Err(back(
            "connection_invalid",
            format!("Connection {} is inactive.", conn.id),
        ));
    }
    let browser = match browser_cookie(headers) {
        Some(b) => b,
        None => {
            let b = random::<32>().map_err(|_| back("server_error", "No randomness."))?;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
        }
    };
    let request = AuthorizationRequest {
        client_id,
        redirect_uri,
        state,
        code_challenge,
        login_hint: get("login_hint"),
        domain_hint: get("domain_hint"),
    };
    let r = random::<64>().map_err(|_| back("server_error", "No randomness."))?;
    let url = st
        .flows
        .hosted_start(&st.opts.settings, &conn.id, &request, &browser, r)
        .await
        .map_err(|e| start_error(&conn.id, &e))?;
    Ok(redirect(
        StatusCode::FOUND,
        &url,
        Some(&set_cookie(&browser, st.opts.secure_cookie)),
    ))
}

fn start_error(id: &ConnectionId, e: &Error) -> Back {
    match e {
        Error::HostedRefused(r) => back(r.oauth_error(), r.to_string()),
        Error::NotFound { .. } => back("connection_invalid", format!("No connection {id}.")),
        Error::SignInRefused(SignInRefusal::ConnectionInactive) => back(
            "connection_invalid",
            format!("Connection {id} is inactive."),
        ),
        Error::SamlRefused(r) => back("server_error", format!("{} ({})", r, r.code())),
        Error::OidcRefused(r) => back("oauth_failed", format!("{} ({})", r, r.code())),
        other => {
            tracing::error!(error = %other, connection = %id, "starting a sign-in failed");
            back("server_error", "The sign-in could not be started.")
        }
    }
}

/// The connection the parameters select: exactly one of `connection`, `organization`,
/// `provider`, or (an extension) a `login_hint` email routed by its domain.
async fn select<'a, S: Store>(
    svc: &Connections<S>,
    get: impl Fn(&str) -> Option<&'a str>,
) -> Result<EnterpriseConnection, Back> {
    let given: Vec<&str> = ["connection", "organization", "provider"]
        .into_iter()
        .filter(|k| get(k).is_some())
        .collect();
    let internal = |e: Error| {
        tracing::error!(error = %e, "selecting a connection failed");
        back("server_error", "The connection could not be read.")
    };
    match given.as_slice() {
        ["connection"] => {
            let raw = get("connection").unwrap_or_default();
            let id: ConnectionId = raw
                .parse()
                .map_err(|_| back("connection_invalid", "No connection has this id."))?;
            match svc.get(&id).await {
                Ok(c) => Ok(c),
                Err(Error::NotFound { .. }) => {
                    Err(back("connection_invalid", "No connection has this id."))
                }
                Err(e) => Err(internal(e)),
            }
        }
        ["organization"] => {
            let org = get("organization").unwrap_or_default();
            let q = ListQuery {
                organization_id: Some(org.to_owned()),
                active: Some(true),
                limit: 2,
                ..ListQuery::default()
            };
            let page = svc.list(&q).await.map_err(internal)?;
            match page.items.as_slice() {
                [one] => Ok(one.clone()),
                [] => Err(back(
                    "organization_invalid",
                    "No active connection is associated with the organization.",
                )),
                _ => Err(back(
                    "ambiguous_connection_selector",
                    "The organization has several active connections; pass connection.",
                )),
            }
        }
        ["provider"] => {
            let p = get("provider").unwrap_or_default();
            let ps: Vec<Provider> = Provider::ALL
                .into_iter()
                .filter(|x| x.workos_connection_type().as_str() == p)
                .collect();
            let q = ListQuery {
                active: Some(true),
                limit: 2,
                ..ListQuery::default()
            };
            let page = if ps.is_empty() {
                Vec::new()
            } else {
                svc.list_any_provider(&q, &ps)
                    .await
                    .map_err(internal)?
                    .items
            };
            match page.as_slice() {
                [one] => Ok(one.clone()),
                [] => Err(back(
                    "connection_strategy_invalid",
                    format!("No active connection of type {p:?}."),
                )),
                _ => Err(back(
                    "connection_strategy_invalid",
                    format!("Several active connections are of type {p:?}; pass connection."),
                )),
            }
        }
        [] => {
            let Some(hint) = get("login_hint") else {
                return Err(back(
                    "invalid_connection_selector",
                    "Pass one of connection, organization or provider (or a login_hint email).",
                ));
            };
            match svc.route_email(hint).await {
                Ok(Some(c)) => Ok(c),
                Ok(None) | Err(Error::InvalidEmail { .. }) => Err(back(
                    "connection_domain_invalid",
                    "No connection is associated with the login_hint's domain.",
                )),
                Err(e) => Err(internal(e)),
            }
        }
        _ => Err(back(
            "invalid_connection_selector",
            "Pass exactly one of connection, organization or provider.",
        )),
    }
}
