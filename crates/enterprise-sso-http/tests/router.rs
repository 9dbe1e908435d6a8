//! The router through `tower::ServiceExt::oneshot`: every route, every error envelope,
//! auth, the body limit, `ETag`/`If-Match`, and every Clerk response body checked against
//! the reference OpenAPI schemas.

mod schema;

mod router_support;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use enterprise_sso::Connections;
use enterprise_sso_http::{router, Auth, HttpOptions};
use serde_json::{json, Value};

use router_support::*;

#[tokio::test]
async fn clerk_routes_create_get_list_update_delete() {
    let app = app_with(HttpOptions {
        sp_base_url: Some("https://sso.example.com/saml/".into()),
        ..HttpOptions::default()
    });
    let r = call(
        &app,
        Method::POST,
        "/v1/enterprise_connections",
        Some(saml_body("Acme", "acme.com")),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    schema::check("EnterpriseConnection", &r.body);
    let saml_id = r.body["id"].as_str().expect("id").to_owned();
    assert_eq!(r.body["active"], json!(true));
    assert_eq!(
        r.body["saml_connection"]["login_hint"],
        json!({"mode": "custom_attribute", "source": "upn"})
    );
    assert_eq!(
        r.body["saml_connection"]["idp_sso_url"]
            .as_str()
            .map(|u| u.starts_with("https://dev-513394.oktapreview.com/")),
        Some(true)
    );
    assert_eq!(
        r.body["saml_connection"]["acs_url"],
        json!(format!("https://sso.example.com/saml/{saml_id}/acs"))
    );
    assert_eq!(r.headers[header::ETAG], "\"1\"");

    let r = call(
        &app,
        Method::POST,
        "/v1/enterprise_connections",
        Some(oidc_body("Globex", "globex.com")),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    schema::check("EnterpriseConnection", &r.body);
    assert!(
        !r.body.to_string().contains("very-secret-value"),
        "secret never in a response"
    );
    let oidc_id = r.body["id"].as_str().expect("id").to_owned();

    let r = call(
        &app,
        Method::GET,
        &format!("/v1/enterprise_connections/{saml_id}"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    schema::check("EnterpriseConnection", &r.body);
    assert_eq!(r.body["id"], json!(saml_id));

    // Newest first, with total_count; filters; offset paging.
    let r = call(&app, Method::GET, "/v1/enterprise_connections", None).await;
    schema::check("EnterpriseConnections", &r.body);
    assert_eq!(r.body["total_count"], json!(2));
    assert_eq!(r.body["data"][0]["id"], json!(oidc_id));
    let r = call(
        &app,
        Method::GET,
        "/v1/enterprise_connections?active=true",
        None,
    )
    .await;
    assert_eq!(
        (
            r.body["total_count"].clone(),
            r.body["data"][0]["id"].clone()
        ),
        (json!(1), json!(saml_id))
    );
    let r = call(
        &app,
        Method::GET,
        "/v1/enterprise_connections?organization_id=org_router&active=false",
        None,
    )
    .await;
    assert_eq!(r.body["total_count"], json!(0));
    let r = call(
        &app,
        Method::GET,
        "/v1/enterprise_connections?limit=1&offset=1",
        None,
    )
    .await;
    assert_eq!(r.body["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(r.body["data"][0]["id"], json!(saml_id));
    assert_eq!(r.body["total_count"], json!(2), "total ignores paging");
    let r = call(
        &app,
        Method::GET,
        "/v1/enterprise_connections?limit=1&offset=2&unknown=ignored",
        None,
    )
    .await;
    assert_eq!(r.body["data"], json!([]));

    // PATCH semantics: absent keeps, null clears, value sets.
    let r = call(
        &app,
        Method::PATCH,
        &format!("/v1/enterprise_connections/{oidc_id}"),
        Some(json!({"name": "Globex Corp", "disable_jit_provisioning": true, "oidc": {"requires_pkce": true, "client_secret": null}})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    schema::check("EnterpriseConnection", &r.body);
    assert_eq!(r.body["name"], json!("Globex Corp"));
    assert_eq!(r.body["disable_jit_provisioning"], json!(true));
    assert_eq!(
        r.body["oauth_config"]["client_id"],
        json!("cid"),
        "absent kept"
    );
    assert_eq!(r.headers[header::ETAG], "\"2\"");

    let r = call(
        &app,
        Method::DELETE,
        &format!("/v1/enterprise_connections/{oidc_id}"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    schema::check("DeletedObject", &r.body);
    assert_eq!(
        r.body,
        json!({"object": "enterprise_connection", "id": oidc_id, "deleted": true})
    );
    let r = call(
        &app,
        Method::GET,
        &format!("/v1/enterprise_connections/{oidc_id}"),
        None,
    )
    .await;
    assert_eq!(clerk_error(&r), (404, "resource_not_found", None));
    let r = call(
        &app,
        Method::DELETE,
        &format!("/v1/enterprise_connections/{oidc_id}"),
        None,
    )
    .await;
    assert_eq!(clerk_error(&r), (404, "resource_not_found", None));
}

#[tokio::test]
async fn refused_writes_answer_in_the_clerk_envelope_and_change_nothing() {
    let app = app();
    let r = call(
        &app,
        Method::POST,
        "/v1/enterprise_connections",
        Some(oidc_body("A", "a-corp.com")),
    )
    .await;
    let id = r.body["id"].as_str().expect("id").to_owned();
    let before = call(
        &app,
        Method::GET,
        &format!("/v1/enterprise_connections/{id}"),
        None,
    )
    .await;
    type Want = (u16, &'static str, Option<&'static str>);
    let cases: Vec<(Method, String, Value, Want)> = vec![
        (
            Method::POST,
            "/v1/enterprise_connections".into(),
            json!({"provider": "oidc_custom", "domains": ["x.com"]}),
            (422, "form_param_missing", Some("name")),
        ),
        (
            Method::POST,
            "/v1/enterprise_connections".into(),
            json!({"name": "x", "provider": "oidc_custom", "domains": ["x.com"], "colour": 1}),
            (422, "form_param_unknown", Some("colour")),
        ),
        (
            Method::POST,
            "/v1/enterprise_connections".into(),
            oidc_body("B", "a-corp.com"),
            (409, "domain_already_claimed", Some("domains")),
        ),
        (
            Method::POST,
            "/v1/enterprise_connections".into(),
            json!({"name": "x", "provider": "oidc_custom", "domains": ["co.uk"]}),
            (422, "form_domain_public_suffix", Some("domains[0]")),
        ),
        (
            Method::PATCH,
            format!("/v1/enterprise_connections/{id}"),
            json!({"oidc": {"client_secret": null}}),
            (
                422,
                "form_public_client_requires_pkce",
                Some("oidc.requires_pkce"),
            ),
        ),
        (
            Method::PATCH,
            format!("/v1/enterprise_connections/{id}"),
            json!({"saml": {"force_authn": true}}),
            (422, "form_param_not_allowed_for_provider", Some("saml")),
        ),
        (
            Method::PATCH,
            format!("/v1/enterprise_connections/{id}"),
            json!({"active": null}),
            (422, "form_param_null_not_allowed", Some("active")),
        ),
    ];
    for (method, uri, body, want) in cases {
        let r = call(&app, method, &uri, Some(body.clone())).await;
        assert_eq!(clerk_error(&r), want, "{body}");
    }
    let malformed = Request::builder()
        .method(Method::POST)
        .uri("/v1/enterprise_connections")
        .header(header::AUTHORIZATION, format!("Bearer {KEY}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{not json"))
        .expect("request");
    assert_eq!(
        clerk_error(&send(&app, malformed).await),
        (400, "malformed_request_body", None)
    );
    let after = call(
        &app,
        Method::GET,
        &format!("/v1/enterprise_connections/{id}"),
        None,
    )
    .await;
    assert_eq!(before.body, after.body, "refused updates wrote nothing");
    let list = call(&app, Method::GET, "/v1/enterprise_connections", None).await;
    assert_eq!(
        list.body["total_count"],
        json!(1),
        "refused creates wrote nothing"
    );
}

#[tokio::test]
async fn if_match_guards_updates_with_the_etag() {
    let app = app();
    let r = call(
        &app,
        Method::POST,
        "/v1/enterprise_connections",
        Some(oidc_body("E", "etag.example.com")),
    )
    .await;
    let id = r.body["id"].as_str().expect("id").to_owned();
    let uri = format!("/v1/enterprise_connections/{id}");
    let get = call(&app, Method::GET, &uri, None).await;
    let tag = get.headers[header::ETAG]
        .to_str()
        .expect("ascii")
        .to_owned();
    let patch = |tag: &str, name: &str| {
        let mut r = req(Method::PATCH, &uri, Some(json!({"name": name})));
        r.headers_mut()
            .insert(header::IF_MATCH, tag.parse().expect("header"));
        r
    };
    let ok = send(&app, patch(&tag, "first")).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.headers[header::ETAG], "\"2\"");
    // The same (now stale) tag again: 412, nothing written.
    let stale = send(&app, patch(&tag, "second")).await;
    assert_eq!(
        clerk_error(&stale),
        (412, "precondition_failed", Some("If-Match"))
    );
    // The exact quoted tag: "02", "+2" and " 2" are other tags, never version 2.
    for never in ["W/\"2\"", "\"abc\"", "\"02\"", "\"+2\"", "\" 2\"", "\"2 \""] {
        let r = send(&app, patch(never, "third")).await;
        assert_eq!(
            clerk_error(&r),
            (412, "precondition_failed", Some("If-Match")),
            "{never}"
        );
    }
    let bad = send(&app, patch("\"2\", \"3\"", "fourth")).await;
    assert_eq!(
        clerk_error(&bad),
        (400, "form_param_format_invalid", Some("If-Match"))
    );
    let any = send(&app, patch("*", "fifth")).await;
    assert_eq!(any.status, StatusCode::OK);
    let now = call(&app, Method::GET, &uri, None).await;
    assert_eq!(
        (now.body["name"].clone(), now.headers[header::ETAG].clone()),
        (json!("fifth"), "\"3\"".parse().expect("hv"))
    );
    // If-Match on an unknown connection is still a 404.
    let mut r = req(
        Method::PATCH,
        "/v1/enterprise_connections/ent_01HF8Q5X6ZJ0Y4C7N9T2W3V5KM",
        Some(json!({})),
    );
    r.headers_mut()
        .insert(header::IF_MATCH, "\"1\"".parse().expect("header"));
    assert_eq!(
        clerk_error(&send(&app, r).await),
        (404, "resource_not_found", None)
    );
}

#[tokio::test]
async fn auth_is_required_compared_exactly_and_answered_per_vendor() {
    let app = app();
    for (auth, code) in [
        (None, "authorization_header_missing"),
        (Some(format!("Bearer {KEY}x")), "api_key_invalid"),
        (
            Some(format!("Bearer {}", &KEY[..KEY.len() - 1])),
            "api_key_invalid",
        ),
        (Some(KEY.to_owned()), "authorization_header_missing"),
        (
            Some("Basic dXNlcjpwYXNz".to_owned()),
            "authorization_header_missing",
        ),
    ] {
        for (uri, clerk) in [
            ("/v1/enterprise_connections", true),
            ("/connections", false),
        ] {
            let mut b = Request::builder().uri(uri);
            if let Some(a) = &auth {
                b = b.header(header::AUTHORIZATION, a);
            }
            let r = send(&app, b.body(Body::empty()).expect("request")).await;
            let got = if clerk {
                clerk_error(&r)
            } else {
                workos_error(&r)
            };
            assert_eq!(got, (401, code, None), "{auth:?} {uri}");
            assert!(!r.body.to_string().contains(KEY), "the key is never echoed");
        }
    }
    // Refused before the body is read or anything is written.
    let mut r = req(
        Method::POST,
        "/v1/enterprise_connections",
        Some(oidc_body("X", "x.example.com")),
    );
    r.headers_mut().remove(header::AUTHORIZATION);
    assert_eq!(send(&app, r).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        call(&app, Method::GET, "/v1/enterprise_connections", None)
            .await
            .body["total_count"],
        json!(0)
    );

    // The development mode needs no key.
    let open = router(
        Arc::new(Connections::new(enterprise_sso_memory::MemoryRepo::new())),
        Auth::DevelopmentOnlyNoAuth,
    );
    let r = send(
        &open,
        Request::builder()
            .uri("/connections")
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn workos_routes_get_list_with_cursors_both_ways_and_delete() {
    let app = app();
    let mut ids = Vec::new();
    for i in 0..7 {
        let body = if i % 2 == 0 {
            oidc_body(&format!("W{i}"), &format!("w{i}.example.com"))
        } else {
            let mut b = saml_body(&format!("W{i}"), &format!("w{i}.example.com"));
            b["active"] = json!(false);
            b
        };
        let r = call(&app, Method::POST, "/v1/enterprise_connections", Some(body)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        ids.push(r.body["id"].as_str().expect("id").to_owned());
    }
    let r = call(&app, Method::GET, &format!("/connections/{}", ids[1]), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["object"], json!("connection"));
    assert_eq!(r.body["connection_type"], json!("OktaSAML"));
    assert_eq!(r.body["state"], json!("inactive"));
    assert_eq!(r.body["domains"][0]["domain"], json!("w1.example.com"));
    assert!(r.body["created_at"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));

    // Forward with `after`, then back with `before`, newest first.
    let mut forward = Vec::new();
    let mut uri = "/connections?limit=3".to_owned();
    let mut pages = Vec::new();
    loop {
        let r = call(&app, Method::GET, &uri, None).await;
        assert_eq!(r.body["object"], json!("list"));
        let page: Vec<String> = r.body["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|c| c["id"].as_str().expect("id").to_owned())
            .collect();
        forward.extend(page.clone());
        pages.push((page, r.body["list_metadata"].clone()));
        match r.body["list_metadata"]["after"].as_str() {
            Some(a) => uri = format!("/connections?limit=3&after={a}"),
            None => break,
        }
    }
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(forward, newest_first);
    assert_eq!(
        pages[0].1["before"],
        Value::Null,
        "first page has no before"
    );
    let last = &pages[pages.len() - 1];
    let mut back = last.0.clone();
    let mut before = last.1["before"].as_str().map(str::to_owned);
    while let Some(b) = before {
        let r = call(
            &app,
            Method::GET,
            &format!("/connections?limit=3&before={b}"),
            None,
        )
        .await;
        let page: Vec<String> = r.body["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|c| c["id"].as_str().expect("id").to_owned())
            .collect();
        back.splice(0..0, page);
        before = r.body["list_metadata"]["before"]
            .as_str()
            .map(str::to_owned);
    }
    assert_eq!(back, newest_first, "before walks back to the start");

    // Ascending order, filters.
    let r = call(&app, Method::GET, "/connections?order=asc&limit=100", None).await;
    let asc: Vec<&str> = r.body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|c| c["id"].as_str().expect("id"))
        .collect();
    assert_eq!(asc, ids.iter().map(String::as_str).collect::<Vec<_>>());
    let r = call(
        &app,
        Method::GET,
        "/connections?connection_type=OktaSAML&organization_id=org_router",
        None,
    )
    .await;
    assert_eq!(r.body["data"].as_array().map(Vec::len), Some(3));
    let r = call(
        &app,
        Method::GET,
        "/connections?domain=W4.Example.COM",
        None,
    )
    .await;
    assert_eq!(r.body["data"][0]["id"], json!(ids[4]));
    // GenericOIDC is every OIDC provider, GitLab included, paged across them.
    let mut gitlab = oidc_body("GitLab", "gitlab-w.example.com");
    gitlab["provider"] = json!("oidc_gitlab");
    let r = call(
        &app,
        Method::POST,
        "/v1/enterprise_connections",
        Some(gitlab),
    )
    .await;
    let gitlab_id = r.body["id"].as_str().expect("id").to_owned();
    let mut generic = Vec::new();
    let mut uri = "/connections?connection_type=GenericOIDC&limit=2".to_owned();
    loop {
        let r = call(&app, Method::GET, &uri, None).await;
        for c in r.body["data"].as_array().expect("data") {
            assert_eq!(c["connection_type"], json!("GenericOIDC"));
            generic.push(c["id"].as_str().expect("id").to_owned());
        }
        match r.body["list_metadata"]["after"].as_str() {
            Some(a) => uri = format!("/connections?connection_type=GenericOIDC&limit=2&after={a}"),
            None => break,
        }
    }
    assert_eq!(
        generic,
        vec![
            gitlab_id,
            ids[6].clone(),
            ids[4].clone(),
            ids[2].clone(),
            ids[0].clone()
        ]
    );

    let r = call(
        &app,
        Method::DELETE,
        &format!("/connections/{}", ids[0]),
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.body.clone()),
        (StatusCode::ACCEPTED, Value::Null)
    );
    let r = call(&app, Method::GET, &format!("/connections/{}", ids[0]), None).await;
    assert_eq!(workos_error(&r), (404, "resource_not_found", None));
    let r = call(&app, Method::DELETE, "/connections/garbage", None).await;
    assert_eq!(workos_error(&r), (404, "resource_not_found", None));
}

#[test]
fn core_account_json_matches_the_reference_schema() {
    use enterprise_sso::Assertion;
    use enterprise_sso_memory::MemoryRepo;
    use enterprise_sso_wire::EnterpriseAccountJson;
    futures_executor::block_on(async {
        let svc = Connections::new(MemoryRepo::new());
        for (body, email) in [
            (
                saml_body("S", "acct-saml.example.com"),
                "a@acct-saml.example.com",
            ),
            (
                oidc_body("O", "acct-oidc.example.com"),
                "b@acct-oidc.example.com",
            ),
        ] {
            let mut body = body;
            body["active"] = json!(true);
            let params =
                enterprise_sso_wire::decode_create(body.to_string().as_bytes()).expect("decode");
            let c = svc.create(&params).await.expect("create");
            let s = svc
                .record_sign_in(&c.id, &Assertion::new("user-1", []).with_email(email))
                .await
                .expect("sign in");
            let v =
                serde_json::to_value(EnterpriseAccountJson::new(&s.account, Some(&s.connection)))
                    .expect("json");
            schema::check("EnterpriseAccount", &v);
        }
    });
}
