//! What the router tests share: the app under test, requests, replies and error envelopes.
#![allow(dead_code)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use enterprise_sso::{Connections, DynStore};
use enterprise_sso_http::{router_with, ApiKeys, Auth, HttpOptions};
use enterprise_sso_sqlite::SqliteRepo;
use serde_json::{json, Value};
use tower::ServiceExt;

pub(crate) const KEY: &str = "sk_test_router_key";
pub(crate) const OKTA: &str = include_str!("../../../enterprise-sso/tests/corpus/saml/okta.xml");

pub(crate) fn app() -> Router {
    app_with(HttpOptions::default())
}

pub(crate) fn app_with(opts: HttpOptions) -> Router {
    let repo: DynStore = Arc::new(SqliteRepo::open_in_memory().expect("sqlite"));
    let keys = ApiKeys::from_list(&format!("other_key,{KEY}"))
        .expect("keys")
        .expect("some");
    router_with(Arc::new(Connections::new(repo)), Auth::Keys(keys), opts)
}

pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Value,
}

pub(crate) async fn send(app: &Router, req: Request<Body>) -> Reply {
    let res = app.clone().oneshot(req).await.expect("infallible");
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .expect("body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        assert_eq!(
            headers.get(header::CONTENT_TYPE).map(|v| v.as_bytes()),
            Some(&b"application/json"[..]),
            "exact content type"
        );
        serde_json::from_slice(&bytes).expect("json body")
    };
    Reply {
        status,
        headers,
        body,
    }
}

pub(crate) fn req(method: Method, uri: &str, body: Option<Value>) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {KEY}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .expect("request")
}

pub(crate) async fn call(app: &Router, method: Method, uri: &str, body: Option<Value>) -> Reply {
    send(app, req(method, uri, body)).await
}

/// The first Clerk error's code and parameter, after checking the envelope's schema.
pub(crate) fn clerk_error(r: &Reply) -> (u16, &str, Option<&str>) {
    crate::schema::check("ClerkErrors", &r.body);
    let e = &r.body["errors"][0];
    (
        r.status.as_u16(),
        e["code"].as_str().expect("code"),
        e["meta"]["param_name"].as_str(),
    )
}

/// The WorkOS envelope's code and first field.
pub(crate) fn workos_error(r: &Reply) -> (u16, &str, Option<&str>) {
    let b = &r.body;
    assert!(b["message"].is_string(), "{b}");
    assert_eq!(b["errors"][0]["code"], b["code"]);
    (
        r.status.as_u16(),
        b["code"].as_str().expect("code"),
        b["errors"][0]["field"].as_str(),
    )
}

pub(crate) fn saml_body(name: &str, domain: &str) -> Value {
    json!({
        "name": name,
        "provider": "saml_okta",
        "domains": [domain],
        "active": true,
        "organization_id": "org_router",
        "saml": {"idp_metadata": OKTA, "login_hint": {"mode": "custom_attribute", "source": "upn"}}
    })
}

pub(crate) fn oidc_body(name: &str, domain: &str) -> Value {
    json!({
        "name": name,
        "provider": "oidc_custom",
        "domains": [domain],
        "oidc": {"client_id": "cid", "client_secret": "very-secret-value", "auth_url": "https://idp.example.com/auth", "token_url": "https://idp.example.com/token"}
    })
}
