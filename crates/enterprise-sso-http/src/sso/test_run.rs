//! Test runs in the browser: `GET {base}/{id}/test_runs/{token}` (the URL `POST
//! /v1/enterprise_connections/{id}/test_runs` gave) starts the run's request at the IdP
//! with the browser-binding cookie; the IdP's answer at the ACS or the OIDC callback is
//! recognised by the core (`finish_saml_test_run` / `finish_oidc_test_run`: the run's
//! RelayState or state) and ends on a page showing the outcome to the IT admin. A test
//! run never creates or updates an account and never issues a code.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use enterprise_sso::{ConnectionId, Error, Store};
use enterprise_sso_flows::{SamlPost, TestRun, TestRunStatus};

use super::page::{escape, redirect, refusal};
use super::{browser_cookie, random, set_cookie, SsoState};

type St<S> = State<Arc<SsoState<S>>>;

fn server_error() -> Response {
    refusal(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        "The test run could not be recorded.",
    )
}

/// The visit of a test run's URL: a redirect to the IdP, or a page saying why not.
pub(crate) async fn start<S: Store>(
    State(st): St<S>,
    Path((raw_id, token)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let Ok(id) = raw_id.parse::<ConnectionId>() else {
        return refusal(
            StatusCode::NOT_FOUND,
            "connection_invalid",
            "No connection has this id.",
        );
    };
    let (Ok(r), Ok(fresh)) = (random::<64>(), random::<32>()) else {
        return server_error();
    };
    let browser = browser_cookie(&headers)
        .unwrap_or_else(|| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(fresh));
    match st
        .flows
        .begin_test_run(&st.opts.settings, &id, &token, &browser, r)
        .await
    {
        Ok(url) => redirect(
            StatusCode::FOUND,
            &url,
            Some(&set_cookie(&browser, st.opts.secure_cookie)),
        ),
        Err(Error::InvalidArgument { reason, .. }) => {
            refusal(StatusCode::NOT_FOUND, "test_run_invalid", reason)
        }
        Err(Error::NotFound { .. }) => refusal(
            StatusCode::NOT_FOUND,
            "connection_invalid",
            "No connection has this id.",
        ),
        Err(e @ (Error::SamlRefused(_) | Error::OidcRefused(_) | Error::SignInRefused(_))) => {
            // Recorded in the run's logs; the page says it too.
            refusal(StatusCode::BAD_REQUEST, "test_run_failed", &e.to_string())
        }
        Err(e) => {
            tracing::error!(error = %e, connection = %id, "a test run could not start");
            server_error()
        }
    }
}

/// The ACS hook: the page of the test run this post answers, or `None` (a sign-in).
pub(crate) async fn saml<S: Store>(
    st: &SsoState<S>,
    id: &ConnectionId,
    post: &SamlPost<'_>,
) -> Option<Response> {
    match st
        .flows
        .finish_saml_test_run(st.opts.settings.saml(), id, post)
        .await
    {
        Ok(run) => run.as_ref().map(outcome),
        Err(e) => {
            tracing::error!(error = %e, connection = %id, "a test run could not be finished");
            Some(server_error())
        }
    }
}

/// The callback hook: the page of the test run this callback answers, or `None`.
pub(crate) async fn oidc<S: Store>(
    st: &SsoState<S>,
    id: &ConnectionId,
    query: &str,
    browser: Option<&str>,
) -> Option<Response> {
    match st
        .flows
        .finish_oidc_test_run(&st.opts.settings, id, query, browser)
        .await
    {
        Ok(run) => run.as_ref().map(outcome),
        Err(e) => {
            tracing::error!(error = %e, connection = %id, "a test run could not be finished");
            Some(server_error())
        }
    }
}

/// The outcome page: status, the parsed user and the logs (no script, nothing loaded).
pub(crate) fn outcome(run: &TestRun) -> Response {
    let (title, status) = match run.status {
        TestRunStatus::Success => ("Test run succeeded", "success"),
        TestRunStatus::Failed => ("Test run failed", "failed"),
        TestRunStatus::Pending => ("Test run pending", "pending"),
    };
    let mut body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\n<body><h1>{title}</h1>\n<p>Run <code id=\"run\">{}</code> of connection <code>{}</code>: <strong id=\"status\">{status}</strong>. No account was created or changed.</p>\n",
        escape(run.id.as_str()),
        escape(run.connection_id.as_str()),
    );
    if let Some(u) = &run.parsed_user_info {
        body.push_str("<h2>User</h2>\n<dl id=\"user\">\n");
        for (k, v) in [
            ("email_address", &u.email_address),
            ("first_name", &u.first_name),
            ("last_name", &u.last_name),
            ("user_id", &u.user_id),
        ] {
            if let Some(v) = v {
                body.push_str(&format!("<dt>{k}</dt><dd>{}</dd>\n", escape(v)));
            }
        }
        body.push_str("</dl>\n");
    }
    body.push_str("<h2>Logs</h2>\n<ol id=\"logs\">\n");
    for l in &run.logs {
        body.push_str(&format!(
            "<li class=\"{}\"><code>{}</code> {}</li>\n",
            escape(&l.level),
            escape(&l.code),
            escape(&l.message)
        ));
    }
    body.push_str("</ol>\n</body></html>\n");
    let mut res = (StatusCode::OK, body).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}
