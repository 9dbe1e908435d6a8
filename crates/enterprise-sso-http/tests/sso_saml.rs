//! The hosted sign-in routes over SAML, with real signed Responses from samlify (idp/node):
//! the whole SP-initiated flow to a code, a token and the profile, and every refusal of
//! the issue's list: unknown client, unregistered redirect URI (a page, no redirect),
//! cookie missing or swapped between two browsers, code reused, code of another client,
//! wrong PKCE verifier, expired code, a response for another connection, RelayState too
//! long, IdP-initiated when off.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sso_support;

use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use sso_support::*;

#[tokio::test]
async fn sp_initiated_sign_in_gives_a_code_a_token_and_the_profile() {
    if !have_samlify() {
        return;
    }
    let w = World::new();
    let id = w.saml_connection("acme.com", false).await;
    let mut browser = Browser::default();
    let code = sign_in(&w, &mut browser, &id, "client_a", APP_CB, Some(CHALLENGE)).await;
    let cookie = browser.cookie.clone().unwrap();
    assert!(cookie.starts_with("esso_browser="));

    let r = token(
        &w.app,
        &[
            ("client_id", "client_a"),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", VERIFIER),
            ("client_secret", KEY),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.headers.get(header::CACHE_CONTROL).unwrap(), "no-store");
    let j = r.json();
    let access = j["access_token"].as_str().unwrap().to_owned();
    assert_eq!(j["token_type"], "Bearer");
    assert_eq!(j["expires_in"], 600);
    let p = &j["profile"];
    assert_eq!(p["object"], "profile");
    assert_eq!(p["email"], "jane@acme.com");
    assert_eq!(p["idp_id"], "jane@acme.com");
    assert_eq!(p["connection_id"], id.to_string());
    assert_eq!(p["connection_type"], "GenericSAML");
    assert_eq!(p["organization_id"], "org_acme.com");
    assert_eq!(p["first_name"], "Jane");
    assert!(p["id"].as_str().unwrap().starts_with("prof_"));
    // WorkOS's SAML raw_attributes: a single-valued attribute is its string.
    let raw = p["raw_attributes"].as_object().unwrap();
    assert!(
        raw.values().any(|v| v.as_str() == Some("jane@acme.com")),
        "{raw:?}"
    );
    assert!(raw.values().all(serde_json::Value::is_string), "{raw:?}");
    let account = p["enterprise_account_id"].as_str().unwrap();
    assert!(w.svc.get_account(&account.parse().unwrap()).await.is_ok());

    // The sign-in is on the change feed, in the WorkOS event shape.
    let events = w.svc.events_after(0, 100).await.unwrap().events;
    let ok = events
        .iter()
        .find(|e| e.kind.as_str() == "authentication.sso_succeeded")
        .expect("authentication.sso_succeeded");
    let wire = serde_json::to_value(enterprise_sso_wire::WorkosEventJson::new(ok)).unwrap();
    assert_eq!(wire["event"], "authentication.sso_succeeded");
    assert_eq!(wire["data"]["status"], "succeeded");
    assert_eq!(wire["data"]["email"], "jane@acme.com");
    assert_eq!(wire["data"]["user_id"], account);
    assert_eq!(wire["data"]["sso"]["connection_id"], id.to_string());

    // The profile by access token.
    let req = Request::builder()
        .uri("/sso/profile")
        .header(header::AUTHORIZATION, format!("Bearer {access}"))
        .body(Body::empty())
        .unwrap();
    let r = send(&w.app, req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json(), *p);
    let req = Request::builder()
        .uri("/sso/profile")
        .header(header::AUTHORIZATION, "Bearer not-a-token")
        .body(Body::empty())
        .unwrap();
    let r = send(&w.app, req).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["code"], "unauthorized");

    // Code reused.
    let r = token(
        &w.app,
        &[
            ("client_id", "client_a"),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(oauth_error(&r), (400, "invalid_grant".into()));
    assert!(!r.body.contains(&code), "the code is never echoed");
}

#[tokio::test]
async fn an_unknown_client_or_unregistered_redirect_uri_gets_a_page_never_a_redirect() {
    let w = World::new();
    let id = w.saml_connection("acme.com", false).await;
    let conn = id.to_string();
    let mut b = Browser::default();
    for (params, code) in [
        (vec![("redirect_uri", APP_CB)], "invalid_request"),
        (
            vec![("client_id", "nope"), ("redirect_uri", APP_CB)],
            "invalid_client",
        ),
        (vec![("client_id", "client_a")], "invalid_request"),
        (
            vec![
                ("client_id", "client_a"),
                ("redirect_uri", "https://evil.example.com/cb"),
            ],
            "invalid_redirect_uri",
        ),
        // Near misses of a registered URI.
        (
            vec![
                ("client_id", "client_a"),
                ("redirect_uri", "https://app.example.com/cb/"),
            ],
            "invalid_redirect_uri",
        ),
        (
            vec![
                ("client_id", "client_a"),
                ("redirect_uri", "https://app.example.com/cb?x=1"),
            ],
            "invalid_redirect_uri",
        ),
        // Another client's URI.
        (
            vec![("client_id", "client_a"), ("redirect_uri", B_CB)],
            "invalid_redirect_uri",
        ),
        (
            vec![
                ("client_id", "client_a"),
                ("client_id", "client_b"),
                ("redirect_uri", APP_CB),
            ],
            "invalid_request",
        ),
    ] {
        let mut p = params.clone();
        p.extend([("response_type", "code"), ("connection", conn.as_str())]);
        let r = b.get(&w.app, &authorize_uri(&p)).await;
        r.assert_page(400, code);
        assert!(r.headers.get(header::SET_COOKIE).is_none());
    }
}

#[tokio::test]
async fn errors_after_the_client_is_known_go_back_to_its_redirect_uri_with_state() {
    let w = World::new();
    let id = w.saml_connection("acme.com", false).await;
    let conn = id.to_string();
    let mut b = Browser::default();
    let base = [
        ("client_id", "client_a"),
        ("redirect_uri", APP_CB),
        ("state", "s-42"),
    ];
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![("response_type", "code")],
            "invalid_connection_selector",
        ),
        (
            vec![
                ("response_type", "code"),
                ("connection", &conn),
                ("organization", "org_x"),
            ],
            "invalid_connection_selector",
        ),
        (
            vec![("response_type", "token"), ("connection", &conn)],
            "invalid_request",
        ),
        (
            vec![
                ("response_type", "code"),
                ("connection", "conn_01HZZZZZZZZZZZZZZZZZZZZZZZ"),
            ],
            "connection_invalid",
        ),
        (
            vec![("response_type", "code"), ("organization", "org_none")],
            "organization_invalid",
        ),
        (
            vec![("response_type", "code"), ("domain", "acme.com")],
            "domain_connection_selector_not_allowed",
        ),
        (
            vec![
                ("response_type", "code"),
                ("login_hint", "jo@other.example"),
            ],
            "connection_domain_invalid",
        ),
        (
            vec![("response_type", "code"), ("provider", "GoogleOAuth")],
            "connection_strategy_invalid",
        ),
        (
            vec![
                ("response_type", "code"),
                ("connection", &conn),
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "plain"),
            ],
            "invalid_request",
        ),
        (
            vec![
                ("response_type", "code"),
                ("connection", &conn),
                ("code_challenge", "short"),
                ("code_challenge_method", "S256"),
            ],
            "invalid_request",
        ),
    ];
    for (extra, error) in cases {
        let mut p = base.to_vec();
        p.extend(extra.iter().copied());
        let r = b.get(&w.app, &authorize_uri(&p)).await;
        assert_eq!(r.status, StatusCode::FOUND, "{error}: {}", r.body);
        assert!(r.location().unwrap().starts_with(APP_CB));
        assert_eq!(
            r.param("error").as_deref(),
            Some(error),
            "{:?}",
            r.location()
        );
        assert!(r.param("error_description").is_some());
        assert_eq!(r.param("state").as_deref(), Some("s-42"));
    }
    // Every selector that names exactly one connection goes to the IdP.
    for sel in [
        ("connection", conn.as_str()),
        ("organization", "org_acme.com"),
        ("provider", "GenericSAML"),
        ("login_hint", "jane@acme.com"),
    ] {
        let mut p = base.to_vec();
        p.extend([("response_type", "code"), sel]);
        let r = b.get(&w.app, &authorize_uri(&p)).await;
        assert_eq!(r.status, StatusCode::FOUND, "{sel:?}");
        assert!(
            r.location()
                .unwrap()
                .starts_with("http://127.0.0.1:7000/sso?SAMLRequest="),
            "{sel:?}: {:?}",
            r.location()
        );
        let set = r.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap();
        // Loopback http: Lax, HttpOnly, not Secure (see the sso module's docs).
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Lax") && !set.contains("Secure"),
            "{set}"
        );
    }
    // A state too long to keep is refused and not echoed.
    let long = "s".repeat(enterprise_sso_flows::MAX_CLIENT_STATE_BYTES + 1);
    let p = [
        ("client_id", "client_a"),
        ("redirect_uri", APP_CB),
        ("state", long.as_str()),
        ("response_type", "code"),
        ("connection", conn.as_str()),
    ];
    let r = b.get(&w.app, &authorize_uri(&p)).await;
    assert_eq!(r.param("error").as_deref(), Some("invalid_request"));
    assert_eq!(r.param("state"), None);
}

#[tokio::test]
async fn the_response_must_come_back_in_the_browser_that_started_it() {
    if !have_samlify() {
        return;
    }
    let w = World::new();
    let id = w.saml_connection("acme.com", false).await;
    let conn = id.to_string();
    let start = [
        ("client_id", "client_a"),
        ("redirect_uri", APP_CB),
        ("response_type", "code"),
        ("connection", conn.as_str()),
    ];
    // Two browsers start; each one's response is posted from the other.
    let (mut alice, mut bob) = (Browser::default(), Browser::default());
    let ra = request_id(
        alice
            .get(&w.app, &authorize_uri(&start))
            .await
            .location()
            .unwrap(),
    );
    let rb = request_id(
        bob.get(&w.app, &authorize_uri(&start))
            .await
            .location()
            .unwrap(),
    );
    assert_ne!(alice.cookie, bob.cookie);
    let for_alice = w.mint(&id, "jane@acme.com", Some(&ra));
    let r = bob
        .post_form(&w.app, &acs(&id), &[("SAMLResponse", &for_alice)])
        .await;
    r.assert_page(400, "saml_browser_mismatch");
    // The request was used up by the attempt: alice cannot finish with it either.
    let r = alice
        .post_form(&w.app, &acs(&id), &[("SAMLResponse", &for_alice)])
        .await;
    r.assert_page(400, "saml_unknown_request");
    // No cookie at all.
    let for_bob = w.mint(&id, "jane@acme.com", Some(&rb));
    let r = Browser::default()
        .post_form(&w.app, &acs(&id), &[("SAMLResponse", &for_bob)])
        .await;
    r.assert_page(400, "saml_browser_mismatch");
    // A request started by the library, not by /sso/authorize, gives no code.
    let mut random = [7u8; 32];
    random[0] = 1;
    let direct = w
        .svc_flows
        .saml_start(
            &w.saml,
            &id,
            enterprise_sso_flows::SamlStart {
                browser: alice
                    .cookie
                    .as_deref()
                    .unwrap()
                    .trim_start_matches("esso_browser="),
                relay_state: None,
                random,
            },
        )
        .await
        .unwrap();
    let resp = w.mint(&id, "jane@acme.com", Some(&direct.request_id));
    let r = alice
        .post_form(&w.app, &acs(&id), &[("SAMLResponse", &resp)])
        .await;
    r.assert_page(400, "no_authorization_request");
    // Every refusal is on the change feed with its reason, in order.
    let failed: Vec<String> = w
        .svc
        .events_after(0, 500)
        .await
        .unwrap()
        .events
        .iter()
        .filter(|e| e.kind.as_str() == "authentication.sso_failed")
        .map(|e| {
            assert_eq!(e.connection_id.as_ref(), Some(&id));
            e.failure.as_ref().unwrap().code.clone()
        })
        .collect();
    assert_eq!(
        failed,
        [
            "saml_browser_mismatch",
            "saml_unknown_request",
            "saml_browser_mismatch",
            "no_authorization_request"
        ]
    );
}

#[tokio::test]
async fn codes_are_bound_to_client_verifier_and_time() {
    if !have_samlify() {
        return;
    }
    let w = World::new();
    let id = w.saml_connection("acme.com", false).await;
    let mut b = Browser::default();

    // A code of another client.
    let code = sign_in(&w, &mut b, &id, "client_b", B_CB, None).await;
    let r = token(
        &w.app,
        &[
            ("client_id", "client_a"),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_secret", KEY),
        ],
    )
    .await;
    assert_eq!(oauth_error(&r), (400, "invalid_grant".into()));
    assert!(r.json()["error_description"]
        .as_str()
        .unwrap()
        .contains("client_b"));

    // A wrong PKCE verifier, then none.
    let code = sign_in(&w, &mut b, &id, "client_a", APP_CB, Some(CHALLENGE)).await;
    let wrong = "w".repeat(43);
    let r = token(
        &w.app,
        &[
            ("client_id", "client_a"),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", &wrong),
        ],
    )
    .await;
    assert_eq!(oauth_error(&r), (400, "invalid_grant".into()));
    assert!(!r.body.contains(&wrong));
    let code = sign_in(&w, &mut b, &id, "client_a", APP_CB, Some(CHALLENGE)).await;
    let r = token(
        &w.app,
        &[
            ("client_id", "client_a"),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_secret", KEY),
        ],
    )
    .await;
    assert_eq!(oauth_error(&r), (400, "invalid_grant".into()));

    // No PKCE and no secret; a wrong secret.
    let code = sign_in(&w, &mut b, &id, "client_a", APP_CB, None).await;
    let r = token(
        &w.app,
        &[
            ("client_id", "client_a"),
            ("grant_type", "authorization_code"),
            ("code", &code),
        ],
    )
    .await;
    assert_eq!(oauth_error(&r), (401, "invalid_client".into()));
    let code = sign_in(&w, &mut b, &id, "client_a", APP_CB, None).await;
    let r = token(
        &w.app,
        &[
            ("client_id", "client_a"),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_secret", "sk_wrong"),
        ],
    )
    .await;
    assert_eq!(oauth_error(&r), (401, "invalid_client".into()));
    // That attempt did not use the code up (the client was refused first): it works.
    let r = token(
        &w.app,
        &[
            ("client_id", "client_a"),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_secret", KEY),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // An expired code: ten minutes later.
    let code = sign_in(&w, &mut b, &id, "client_a", APP_CB, None).await;
    w.offset.store(600_001, Ordering::SeqCst);
    let r = token(
        &w.app,
        &[
            ("client_id", "client_a"),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_secret", KEY),
        ],
    )
    .await;
    assert_eq!(oauth_error(&r), (400, "invalid_grant".into()));
}

#[tokio::test]
async fn the_token_endpoint_takes_json_and_refuses_bad_requests_as_workos_does() {
    if !have_samlify() {
        return;
    }
    let w = World::new();
    let id = w.saml_connection("acme.com", false).await;
    let mut b = Browser::default();
    let code = sign_in(&w, &mut b, &id, "client_a", APP_CB, None).await;
    let req = Request::builder()
        .method(Method::POST)
        .uri("/sso/token")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            serde_json::json!({"client_id": "client_a", "client_secret": KEY, "grant_type": "authorization_code", "code": code}).to_string(),
        ))
        .unwrap();
    let r = send(&w.app, req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    for (form, want) in [
        (
            vec![("client_id", "client_a"), ("code", "x")],
            (400, "invalid_request"),
        ),
        (
            vec![
                ("client_id", "client_a"),
                ("grant_type", "password"),
                ("code", "x"),
            ],
            (400, "unsupported_grant_type"),
        ),
        (
            vec![
                ("client_id", "client_a"),
                ("grant_type", "authorization_code"),
            ],
            (400, "invalid_request"),
        ),
        (
            vec![
                ("client_id", "nope"),
                ("grant_type", "authorization_code"),
                ("code", "x"),
                ("client_secret", KEY),
            ],
            (400, "invalid_client"),
        ),
        (
            vec![
                ("client_id", "client_a"),
                ("grant_type", "authorization_code"),
                ("code", "x"),
                ("client_secret", KEY),
            ],
            (400, "invalid_grant"),
        ),
    ] {
        let r = token(&w.app, &form).await;
        assert_eq!(oauth_error(&r), (want.0, want.1.to_owned()), "{form:?}");
    }
}

#[tokio::test]
async fn a_response_for_another_connection_is_refused() {
    if !have_samlify() {
        return;
    }
    let w = World::new();
    let a = w.saml_connection("acme.com", false).await;
    let other = w.saml_connection("globex.example", false).await;
    let conn = a.to_string();
    let mut b = Browser::default();
    let r = b
        .get(
            &w.app,
            &authorize_uri(&[
                ("client_id", "client_a"),
                ("redirect_uri", APP_CB),
                ("response_type", "code"),
                ("connection", conn.as_str()),
            ]),
        )
        .await;
    let rid = request_id(r.location().unwrap());
    // Minted for a's SP, posted to the other connection's ACS.
    let resp = w.mint(&a, "jane@acme.com", Some(&rid));
    let r = b
        .post_form(&w.app, &acs(&other), &[("SAMLResponse", &resp)])
        .await;
    r.assert_page(400, "saml_destination_mismatch");
    // Minted for the other connection's SP with a's request: the request is a's.
    let resp = w.mint(&other, "jane@acme.com", Some(&rid));
    let r = b
        .post_form(&w.app, &acs(&other), &[("SAMLResponse", &resp)])
        .await;
    r.assert_page(400, "saml_request_for_another_connection");
}

#[tokio::test]
async fn relay_state_over_80_bytes_is_refused_before_the_response_is_read() {
    if !have_samlify() {
        return;
    }
    let w = World::new();
    let id = w.saml_connection("acme.com", true).await;
    let resp = w.mint(&id, "jane@acme.com", None);
    let long = "r".repeat(81);
    let r = Browser::default()
        .post_form(
            &w.app,
            &acs(&id),
            &[("SAMLResponse", &resp), ("RelayState", &long)],
        )
        .await;
    r.assert_page(400, "relay_state_too_long");
    // Nothing was used: the same response passes with a short RelayState.
    let r = Browser::default()
        .post_form(
            &w.app,
            &acs(&id),
            &[("SAMLResponse", &resp), ("RelayState", "deep-link")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
}

#[tokio::test]
async fn idp_initiated_goes_to_the_default_client_where_allowed_and_is_a_page_where_not() {
    if !have_samlify() {
        return;
    }
    let w = World::new();
    let on = w.saml_connection("acme.com", true).await;
    let off = w.saml_connection("globex.example", false).await;

    let resp = w.mint(&off, "jane@globex.example", None);
    let r = Browser::default()
        .post_form(&w.app, &acs(&off), &[("SAMLResponse", &resp)])
        .await;
    r.assert_page(403, "idp_initiated_sso_disabled");

    // Allowed: to client_a's default redirect URI, with a code and no state.
    let resp = w.mint(&on, "jane@acme.com", None);
    let r = Browser::default()
        .post_form(
            &w.app,
            &acs(&on),
            &[("SAMLResponse", &resp), ("RelayState", "opaque")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(r
        .location()
        .unwrap()
        .starts_with(&format!("{APP_CB}?code=")));
    assert_eq!(r.param("state"), None);
    let code = r.param("code").unwrap();
    let t = token(
        &w.app,
        &[
            ("client_id", "client_a"),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_secret", KEY),
        ],
    )
    .await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.body);
    // A RelayState naming another registered URI of the client; an unregistered one.
    let resp = w.mint(&on, "jane@acme.com", None);
    let rs = format!("redirect_uri={APP_CB2}");
    let r = Browser::default()
        .post_form(
            &w.app,
            &acs(&on),
            &[("SAMLResponse", &resp), ("RelayState", &rs)],
        )
        .await;
    assert!(
        r.location()
            .unwrap()
            .starts_with(&format!("{APP_CB2}?code=")),
        "{:?}",
        r.location()
    );
    let resp = w.mint(&on, "jane@acme.com", None);
    let r = Browser::default()
        .post_form(
            &w.app,
            &acs(&on),
            &[
                ("SAMLResponse", &resp),
                ("RelayState", "redirect_uri=https://evil.example.com/"),
            ],
        )
        .await;
    r.assert_page(400, "idp_initiated_redirect_not_registered");
    // A refused destination signs no one in: no account for a user never seen before.
    let resp = w.mint(&on, "mallory@acme.com", None);
    let r = Browser::default()
        .post_form(
            &w.app,
            &acs(&on),
            &[
                ("SAMLResponse", &resp),
                ("RelayState", "redirect_uri=https://evil.example.com/"),
            ],
        )
        .await;
    r.assert_page(400, "idp_initiated_redirect_not_registered");
    let accounts = w
        .svc
        .list_accounts(&on, &enterprise_sso::AccountQuery::default())
        .await
        .unwrap();
    assert!(
        accounts
            .items
            .iter()
            .all(|a| a.email_address != "mallory@acme.com"),
        "a refused sign-in created an account"
    );
}

#[tokio::test]
async fn sp_metadata_is_served_for_saml_connections() {
    let w = World::new();
    let id = w.saml_connection("acme.com", false).await;
    let r = send(
        &w.app,
        Request::builder()
            .uri(format!("/saml/{id}/metadata"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.headers.get(header::CONTENT_TYPE).unwrap(),
        "application/samlmetadata+xml"
    );
    assert!(
        r.body.contains(&format!("entityID=\"{BASE}/{id}\"")),
        "{}",
        r.body
    );
    assert!(r.body.contains(&format!("{BASE}/{id}/acs")));
    let r = send(
        &w.app,
        Request::builder()
            .uri("/saml/conn_01HZZZZZZZZZZZZZZZZZZZZZZZ/metadata")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // The API routes still need the key; the sign-in routes do not.
    let r = send(
        &w.app,
        Request::builder()
            .uri("/connections")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}
