//! `POST /sso/token` (form or JSON: `client_id`, `client_secret` and/or `code_verifier`,
//! `grant_type=authorization_code`, `code`) → `{access_token, token_type, expires_in,
//! profile}`, as `@workos-inc/node`'s `sso.getProfileAndToken` reads it; `GET
//! /sso/profile` with `Authorization: Bearer <access token>` → the profile. Errors are
//! `{error, error_description}` (400; 401 for a client secret that is not valid), as WorkOS
//! sends them; the profile endpoint answers 401 `{message, code: "unauthorized"}`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use enterprise_sso::{Error, Store};
use enterprise_sso_flows::{CodeExchange, Profile};
use serde_json::{json, Map, Value};

use super::{random, SsoState};
use crate::auth::Auth;
use crate::envelope::json as json_response;

type St<S> = State<Arc<SsoState<S>>>;

/// The largest token request read.
const MAX_TOKEN_BODY: usize = 16 * 1024;

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    no_store(json_response(
        status,
        &json!({"error": error, "error_description": description}),
    ))
}

fn no_store(mut res: Response) -> Response {
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

/// The profile as WorkOS sends it: optional names are left out rather than `null`;
/// `raw_attributes` as the core shaped them (a SAML attribute with one value is that
/// string, with several an array; OIDC claims keep their JSON types).
pub(crate) fn profile_json(p: &Profile) -> Value {
    let mut m = Map::new();
    m.insert("object".into(), json!("profile"));
    m.insert("id".into(), json!(p.id));
    m.insert("idp_id".into(), json!(p.idp_id));
    m.insert("connection_id".into(), json!(p.connection_id));
    m.insert("connection_type".into(), json!(p.connection_type));
    m.insert("organization_id".into(), json!(p.organization_id));
    m.insert("email".into(), json!(p.email));
    if let Some(f) = &p.first_name {
        m.insert("first_name".into(), json!(f));
    }
    if let Some(l) = &p.last_name {
        m.insert("last_name".into(), json!(l));
    }
    let raw: Map<String, Value> = p
        .raw_attributes
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    m.insert("raw_attributes".into(), Value::Object(raw));
    m.insert(
        "enterprise_account_id".into(),
        json!(p.enterprise_account_id),
    );
    Value::Object(m)
}

/// The body's fields: a form, or a JSON object of strings. `Err` is the description of
/// an `invalid_request`.
fn fields(headers: &HeaderMap, bytes: &[u8]) -> Result<BTreeMap<String, String>, String> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let mut out = BTreeMap::new();
    match ct.as_str() {
        "application/x-www-form-urlencoded" => {
            for (k, v) in url::form_urlencoded::parse(bytes) {
                if out.insert(k.to_string(), v.into_owned()).is_some() {
                    return Err(format!("{k} is given more than once."));
                }
            }
        }
        "application/json" => {
            let v: Value = serde_json::from_slice(bytes)
                .map_err(|_| "The body is not valid JSON.".to_owned())?;
            let Value::Object(o) = v else {
                return Err("The body must be a JSON object.".into());
            };
            for (k, v) in o {
                match v {
                    Value::String(s) => {
                        out.insert(k, s);
                    }
                    Value::Null => {}
                    _ => return Err(format!("{k} must be a string.")),
                }
            }
        }
        _ => {
            return Err(
                "Send the body as application/x-www-form-urlencoded or application/json.".into(),
            )
        }
    }
    Ok(out)
}

fn bearer(headers: &HeaderMap) -> Option<&[u8]> {
    headers
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes())
        .and_then(|v| {
            v.strip_prefix(b"Bearer ")
                .or_else(|| v.strip_prefix(b"bearer "))
        })
}

pub(crate) async fn token<S: Store>(State(st): St<S>, headers: HeaderMap, body: Body) -> Response {
    let limit = MAX_TOKEN_BODY.min(st.max_body_bytes);
    let bytes = match crate::body::read(&headers, body, limit, st.body_read_timeout).await {
        Ok(b) => b,
        Err(e) => {
            let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
            return oauth_error(status, "invalid_request", "The body could not be read.");
        }
    };
    let f = match fields(&headers, &bytes) {
        Ok(f) => f,
        Err(d) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", &d),
    };
    let get = |k: &str| f.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let Some(grant_type) = get("grant_type") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "grant_type is required.",
        );
    };
    if grant_type != "authorization_code" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be authorization_code.",
        );
    }
    let Some(code) = get("code") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "code is required.",
        );
    };
    let Some(client_id) = get("client_id") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "client_id is required.",
        );
    };
    if st.opts.client(client_id).is_none() {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            "client_id is not a registered client.",
        );
    }
    // The client secret is an API key, sent in the body and/or as a bearer header (the
    // SDK sends both). A credential that is sent must be valid.
    let presented: Vec<&[u8]> = get("client_secret")
        .map(str::as_bytes)
        .into_iter()
        .chain(bearer(&headers))
        .collect();
    let client_authenticated = match &st.auth {
        Auth::Keys(keys) => {
            if presented.iter().any(|p| !keys.accepts(p)) {
                return oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "The client secret is not valid.",
                );
            }
            !presented.is_empty()
        }
        // Without keys nothing authenticates a client: PKCE only.
        Auth::DevelopmentOnlyNoAuth => false,
    };
    let Ok(r) = random::<32>() else {
        return oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "No randomness.",
        );
    };
    let exchange = CodeExchange {
        client_id,
        client_authenticated,
        code_verifier: get("code_verifier"),
        redirect_uri: get("redirect_uri"),
        random: r,
    };
    match st
        .flows
        .exchange_code(&st.opts.settings, code, &exchange)
        .await
    {
        Ok(grant) => no_store(json_response(
            StatusCode::OK,
            &json!({
                "access_token": grant.access_token,
                "token_type": "Bearer",
                "expires_in": grant.expires_in,
                "profile": profile_json(&grant.profile),
            }),
        )),
        Err(Error::HostedRefused(r)) => {
            let status = if r.oauth_error() == "invalid_client" {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::BAD_REQUEST
            };
            oauth_error(status, r.oauth_error(), &r.to_string())
        }
        Err(e) => {
            tracing::error!(error = %e, "a code exchange failed");
            oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "The code could not be exchanged.",
            )
        }
    }
}

fn unauthorized(message: &str) -> Response {
    no_store(json_response(
        StatusCode::UNAUTHORIZED,
        &json!({"message": message, "code": "unauthorized"}),
    ))
}

pub(crate) async fn profile<S: Store>(State(st): St<S>, headers: HeaderMap) -> Response {
    let Some(token) = bearer(&headers).and_then(|t| std::str::from_utf8(t).ok()) else {
        return unauthorized("An access token is required (Authorization: Bearer).");
    };
    match st.flows.profile_for_token(token).await {
        Ok(p) => no_store(json_response(StatusCode::OK, &profile_json(&p))),
        Err(Error::HostedRefused(r)) => unauthorized(&r.to_string()),
        Err(e) => {
            tracing::error!(error = %e, "reading a profile failed");
            no_store(json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({"message": "The profile could not be read.", "code": "server_error"}),
            ))
        }
    }
}
