//! The router's input rules: unknown routes and methods, bodies over the limit, bodies
//! that must be declared JSON and name each key once, and query strings checked by name.

mod router_support;
mod schema;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use enterprise_sso_http::HttpOptions;
use serde_json::json;

use router_support::*;

#[tokio::test]
async fn unknown_routes_methods_and_bodies_over_the_limit() {
    let app = app_with(HttpOptions {
        max_body_bytes: 4096,
        ..HttpOptions::default()
    });
    let r = call(&app, Method::GET, "/v1/nope", None).await;
    assert_eq!(clerk_error(&r), (404, "route_not_found", None));
    let r = call(&app, Method::GET, "/connections/ent_1/extra", None).await;
    assert_eq!(workos_error(&r), (404, "route_not_found", None));
    let r = call(&app, Method::PUT, "/v1/enterprise_connections", None).await;
    assert_eq!(clerk_error(&r), (405, "method_not_allowed", None));
    assert_eq!(r.headers[header::ALLOW], "GET, POST");
    let r = call(
        &app,
        Method::POST,
        "/connections/ent_01HF8Q5X6ZJ0Y4C7N9T2W3V5KM",
        None,
    )
    .await;
    assert_eq!(workos_error(&r), (405, "method_not_allowed", None));
    assert_eq!(r.headers[header::ALLOW], "GET, DELETE");

    // Declared too large: refused from Content-Length alone.
    let big = json!({"name": "x".repeat(5000), "provider": "oidc_custom", "domains": ["big.example.com"]});
    let r = call(&app, Method::POST, "/v1/enterprise_connections", Some(big)).await;
    assert_eq!(clerk_error(&r), (413, "request_body_too_large", None));
    // Streamed without a length: refused while reading, at the limit.
    let chunks: Vec<Result<String, std::io::Error>> =
        (0..100).map(|_| Ok("x".repeat(100))).collect();
    let streamed = Request::builder()
        .method(Method::PATCH)
        .uri("/v1/enterprise_connections/ent_01HF8Q5X6ZJ0Y4C7N9T2W3V5KM")
        .header(header::AUTHORIZATION, format!("Bearer {KEY}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(futures_stream(chunks)))
        .expect("request");
    let r = send(&app, streamed).await;
    assert_eq!(clerk_error(&r), (413, "request_body_too_large", None));
    let r = call(&app, Method::GET, "/v1/enterprise_connections", None).await;
    assert_eq!(r.body["total_count"], json!(0));
}

/// A body with `content_type` (none when `None`) on a create.
fn typed(content_type: Option<&str>, body: &str) -> Request<Body> {
    let mut b = Request::builder()
        .method(Method::POST)
        .uri("/v1/enterprise_connections")
        .header(header::AUTHORIZATION, format!("Bearer {KEY}"));
    if let Some(t) = content_type {
        b = b.header(header::CONTENT_TYPE, t);
    }
    b.body(Body::from(body.to_owned())).expect("request")
}

#[tokio::test]
async fn bodies_must_be_declared_json_and_name_each_key_once() {
    let app = app();
    let body = oidc_body("Typed", "typed.example.com").to_string();
    for refused in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("application/jsonx"),
        Some("application/json; charset=latin1"),
        Some("multipart/form-data; boundary=x"),
    ] {
        let r = send(&app, typed(refused, &body)).await;
        assert_eq!(
            clerk_error(&r),
            (415, "unsupported_media_type", Some("Content-Type")),
            "{refused:?}"
        );
    }
    // A compressed body is refused the same way: the server does not decode it.
    let mut gz = typed(Some("application/json"), &body);
    gz.headers_mut()
        .insert(header::CONTENT_ENCODING, "gzip".parse().expect("hv"));
    let r = send(&app, gz).await;
    assert_eq!(
        clerk_error(&r),
        (415, "unsupported_media_type", Some("Content-Encoding"))
    );
    let list = call(&app, Method::GET, "/v1/enterprise_connections", None).await;
    assert_eq!(list.body["total_count"], json!(0), "nothing written");
    // What the SDKs send (Clerk and WorkOS: exactly `application/json`), and its variants.
    for (i, accepted) in [
        "application/json",
        "Application/JSON",
        "application/json; charset=utf-8",
        "application/json;charset=\"UTF-8\"",
    ]
    .into_iter()
    .enumerate()
    {
        let body = oidc_body("Typed", &format!("typed{i}.example.com")).to_string();
        let r = send(&app, typed(Some(accepted), &body)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{accepted}: {}", r.body);
    }
    let id = {
        let list = call(&app, Method::GET, "/v1/enterprise_connections", None).await;
        list.body["data"][0]["id"].as_str().expect("id").to_owned()
    };
    let uri = format!("/v1/enterprise_connections/{id}");
    let mut patch = req(Method::PATCH, &uri, None);
    *patch.body_mut() = Body::from(r#"{"name":"x"}"#);
    patch.headers_mut().remove(header::CONTENT_TYPE);
    let r = send(&app, patch).await;
    assert_eq!(
        clerk_error(&r),
        (415, "unsupported_media_type", Some("Content-Type"))
    );

    // Duplicate keys: refused, naming the key (and where it is), at every depth. The last
    // one used to win: `{"active":false,"active":true}` activated.
    let create_dup = r#"{"name":"D","provider":"oidc_custom","domains":["dup.example.com"],"active":false,"active":true,"oidc":{"client_id":"c","client_secret":"s"}}"#;
    let r = send(&app, typed(Some("application/json"), create_dup)).await;
    assert_eq!(
        clerk_error(&r),
        (400, "form_param_duplicate_key", Some("active"))
    );
    let nested_dup = r#"{"name":"D","provider":"oidc_custom","domains":["dup.example.com"],"oidc":{"client_id":"c","client_secret":"s","client_id":"d"}}"#;
    let r = send(&app, typed(Some("application/json"), nested_dup)).await;
    assert_eq!(
        clerk_error(&r),
        (400, "form_param_duplicate_key", Some("oidc.client_id"))
    );
    let mut patch = req(Method::PATCH, &uri, None);
    *patch.body_mut() = Body::from(r#"{"active":true,"active":false}"#);
    let r = send(&app, patch).await;
    assert_eq!(
        clerk_error(&r),
        (400, "form_param_duplicate_key", Some("active"))
    );
    let after = call(&app, Method::GET, &uri, None).await;
    assert_eq!(
        after.headers[header::ETAG],
        "\"1\"",
        "refused patches wrote nothing"
    );
}

/// A stream of chunks, without pulling in a stream crate.
fn futures_stream(
    chunks: Vec<Result<String, std::io::Error>>,
) -> impl futures_core::Stream<Item = Result<String, std::io::Error>> + Send + 'static {
    struct S(std::vec::IntoIter<Result<String, std::io::Error>>);
    impl futures_core::Stream for S {
        type Item = Result<String, std::io::Error>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            std::task::Poll::Ready(self.0.next())
        }
    }
    S(chunks.into_iter())
}

#[tokio::test]
async fn query_strings_are_checked_by_name() {
    let app = app();
    let cases = [
        ("/v1/enterprise_connections?limit=0", true, "limit"),
        ("/v1/enterprise_connections?limit=501", true, "limit"),
        ("/v1/enterprise_connections?limit=ten", true, "limit"),
        ("/v1/enterprise_connections?offset=-1", true, "offset"),
        ("/v1/enterprise_connections?offset=1000001", true, "offset"),
        ("/v1/enterprise_connections?active=yes", true, "active"),
        ("/connections?limit=101", false, "limit"),
        ("/connections?order=sideways", false, "order"),
        ("/connections?after=not-an-id", false, "after"),
        ("/connections?domain=not%20a%20domain", false, "domain"),
        ("/connections?connection_type=ADFS", false, "connection_type"),
        (
            "/connections?after=ent_01HF8Q5X6ZJ0Y4C7N9T2W3V5KM&before=ent_01HF8Q5X6ZJ0Y4C7N9T2W3V5KN",
            false,
            "before",
        ),
    ];
    for (uri, clerk, param) in cases {
        let r = call(&app, Method::GET, uri, None).await;
        let (status, code, p) = if clerk {
            clerk_error(&r)
        } else {
            workos_error(&r)
        };
        assert_eq!(
            (status, code, p),
            (422, "form_param_format_invalid", Some(param)),
            "{uri}"
        );
    }
    let r = call(
        &app,
        Method::GET,
        "/v1/enterprise_connections?limit=1&limit=2",
        None,
    )
    .await;
    assert_eq!(
        clerk_error(&r),
        (422, "form_param_duplicate", Some("limit"))
    );
}
