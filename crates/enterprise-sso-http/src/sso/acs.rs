//! The SP endpoints: `POST {base}/{id}/acs` (the IdP's Response, SP- and IdP-initiated),
//! `GET {base}/{id}/metadata` (SP metadata XML) and `GET {base}/{id}/callback` (the OIDC
//! provider's redirect). A sign-in ends in a 303 to the client's redirect URI with the
//! code and the client's state; a refusal is a page naming the reason (the browser's
//! request proves nothing about where it may be sent). One exception, as WorkOS: an OIDC
//! provider's `error` (the user declined consent) whose `state` took a live request of
//! this browser goes back to the client's redirect URI with `error`, `error_description`
//! and the client's `state`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use enterprise_sso::{ConnectionId, Error, Store};
use enterprise_sso_flows::{HostedErrorRedirect, HostedOutcome, HostedRedirect, SamlPost};

use super::page::{redirect, refusal};
use super::{browser_cookie, random, with_query, SsoState};

type St<S> = State<Arc<SsoState<S>>>;

/// The verifier's code for an unsolicited Response on a connection that refuses them.
const UNSOLICITED_NOT_ALLOWED: &str = "saml_unsolicited_not_allowed";

/// The largest ACS body read (a SAML Response is capped at 192 KiB by the verifier;
/// base64 and form encoding add about half).
const MAX_ACS_BODY: usize = 512 * 1024;

fn not_found() -> Response {
    refusal(
        StatusCode::NOT_FOUND,
        "connection_invalid",
        "No connection has this id.",
    )
}

fn done(r: &HostedRedirect) -> Response {
    let to = with_query(
        &r.redirect_uri,
        &[("code", Some(&r.code)), ("state", r.state.as_deref())],
    );
    redirect(StatusCode::SEE_OTHER, &to, None)
}

fn sent_back(r: &HostedErrorRedirect) -> Response {
    let to = with_query(
        &r.redirect_uri,
        &[
            ("error", Some(r.error)),
            ("error_description", Some(&r.error_description)),
            ("state", r.state.as_deref()),
        ],
    );
    redirect(StatusCode::SEE_OTHER, &to, None)
}

/// A refused sign-in as a page: the engine's code and reason, never a secret.
fn refused(id: &ConnectionId, e: &Error) -> Response {
    match e {
        Error::SamlRefused(r) if r.code() == UNSOLICITED_NOT_ALLOWED => refusal(
            StatusCode::FORBIDDEN,
            "idp_initiated_sso_disabled",
            &format!(
                "IdP-initiated sign-in is disabled for connection {id}: start the sign-in from the application."
            ),
        ),
        Error::SamlRefused(r) => refusal(StatusCode::BAD_REQUEST, r.code(), &r.to_string()),
        Error::OidcRefused(r) => refusal(StatusCode::BAD_REQUEST, r.code(), &r.to_string()),
        Error::HostedRefused(r) => refusal(StatusCode::BAD_REQUEST, r.code(), &r.to_string()),
        Error::SignInRefused(r) => refusal(StatusCode::FORBIDDEN, "sign_in_refused", &r.to_string()),
        Error::NotFound { .. } => not_found(),
        other => {
            tracing::error!(error = %other, connection = %id, "a sign-in failed");
            refusal(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "The sign-in could not be completed.",
            )
        }
    }
}

pub(crate) async fn acs<S: Store>(
    State(st): St<S>,
    Path(raw_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Ok(id) = raw_id.parse::<ConnectionId>() else {
        return not_found();
    };
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form {
        return refusal(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request",
            "The ACS takes an HTTP-POST binding form (application/x-www-form-urlencoded).",
        );
    }
    let limit = MAX_ACS_BODY.min(st.max_body_bytes);
    let bytes = match crate::body::read(&headers, body, limit, st.body_read_timeout).await {
        Ok(b) => b,
        Err(e) => {
            let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
            return refusal(status, "invalid_request", "The form could not be read.");
        }
    };
    let mut saml_response = None;
    let mut relay_state = None;
    for (k, v) in url::form_urlencoded::parse(&bytes) {
        let slot = match k.as_ref() {
            "SAMLResponse" => &mut saml_response,
            "RelayState" => &mut relay_state,
            _ => continue,
        };
        if slot.replace(v.into_owned()).is_some() {
            return refusal(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!("{k} is posted more than once."),
            );
        }
    }
    let Some(saml_response) = saml_response else {
        return refusal(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "SAMLResponse is required.",
        );
    };
    let Ok(r) = random::<32>() else {
        return refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "No randomness.",
        );
    };
    let browser = browser_cookie(&headers);
    let post = SamlPost {
        saml_response: &saml_response,
        relay_state: relay_state.as_deref().filter(|s| !s.is_empty()),
        browser: browser.as_deref(),
    };
    if let Some(page) = super::test_run::saml(&st, &id, &post).await {
        return page;
    }
    let idp_initiated = st.opts.idp_initiated_client();
    match st
        .flows
        .hosted_saml_finish(&st.opts.settings, &id, &post, idp_initiated.as_ref(), r)
        .await
    {
        Ok(r) => done(&r),
        Err(e) => refused(&id, &e),
    }
}

pub(crate) async fn metadata<S: Store>(State(st): St<S>, Path(raw_id): Path<String>) -> Response {
    let Ok(id) = raw_id.parse::<ConnectionId>() else {
        return not_found();
    };
    match st.svc.get(&id).await {
        Ok(c) if c.saml().is_some() => {}
        Ok(_) | Err(Error::NotFound { .. }) => return not_found(),
        Err(e) => return refused(&id, &e),
    }
    match st.opts.settings.saml().metadata_xml(&id) {
        Ok(xml) => {
            let mut res = (StatusCode::OK, xml).into_response();
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/samlmetadata+xml"),
            );
            res
        }
        Err(e) => refused(&id, &e),
    }
}

pub(crate) async fn callback<S: Store>(
    State(st): St<S>,
    Path(raw_id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let Ok(id) = raw_id.parse::<ConnectionId>() else {
        return not_found();
    };
    let Ok(r) = random::<32>() else {
        return refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "No randomness.",
        );
    };
    let browser = browser_cookie(&headers);
    if let Some(page) =
        super::test_run::oidc(&st, &id, raw.as_deref().unwrap_or(""), browser.as_deref()).await
    {
        return page;
    }
    match st
        .flows
        .hosted_oidc_finish(
            &st.opts.settings,
            &id,
            raw.as_deref().unwrap_or(""),
            browser.as_deref(),
            r,
        )
        .await
    {
        Ok(HostedOutcome::SignedIn(r)) => done(&r),
        Ok(HostedOutcome::Refused(r)) => sent_back(&r),
        Err(e) => refused(&id, &e),
    }
}
