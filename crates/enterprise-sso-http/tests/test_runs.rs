//! Clerk's connection test runs over HTTP, with real signed Responses from samlify
//! (idp/node): the URL from `POST …/test_runs` starts the run at the IdP, the Response at
//! the ACS ends it on an outcome page without signing anyone in, and `GET …/test_runs`
//! lists it (status filter, paging) schema-valid against the reference excerpt: a
//! success with the parsed user and the raw SAML messages, a misconfigured audience as a
//! failed run whose log names the expected and received audience.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod schema;
mod sso_support;

use std::process::Command;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use enterprise_sso::ConnectionId;
use serde_json::Value;
use sso_support::*;

async fn api(w: &World, method: Method, uri: &str) -> Reply {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {KEY}"))
        .body(Body::empty())
        .unwrap();
    send(&w.app, req).await
}

/// A new run's URL, as a path on the app.
async fn new_run(w: &World, id: &ConnectionId) -> String {
    let r = api(
        w,
        Method::POST,
        &format!("/v1/enterprise_connections/{id}/test_runs"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let j = r.json();
    schema::check("EnterpriseConnectionTestRunResponse", &j);
    let url = j["url"].as_str().unwrap();
    let prefix = format!("{BASE}/{id}/test_runs/");
    assert!(url.starts_with(&prefix), "{url}");
    url.strip_prefix("http://127.0.0.1:3000")
        .unwrap()
        .to_owned()
}

async fn list(w: &World, id: &ConnectionId, query: &str) -> Value {
    let r = api(
        w,
        Method::GET,
        &format!("/v1/enterprise_connections/{id}/test_runs{query}"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let j = r.json();
    schema::check("EnterpriseConnectionTestRuns", &j);
    j
}

/// Visits a run's URL: the AuthnRequest's ID and the RelayState of the IdP redirect.
async fn visit(w: &World, browser: &mut Browser, path: &str) -> (String, String) {
    let r = browser.get(&w.app, path).await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.body);
    let loc = r.location().unwrap().to_owned();
    assert!(loc.starts_with("http://127.0.0.1:7000/sso?"), "{loc}");
    (request_id(&loc), r.param("RelayState").unwrap())
}

/// A samlify Response naming `audience` as the SP.
fn mint_for(w: &World, id: &ConnectionId, audience: &str, request_id: &str) -> String {
    let acs = w.saml.acs_url(id);
    let out = Command::new("node")
        .current_dir(root())
        .args([
            "idp/node/samlify-response.js",
            "--email",
            "jane@acme.com",
            "--sp-entity-id",
            audience,
            "--acs",
            &acs,
            "--idp-entity-id",
            IDP,
            "--request-id",
            request_id,
        ])
        .output()
        .expect("run samlify");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

async fn no_account(w: &World, id: &ConnectionId) {
    use enterprise_sso::AccountRepo;
    assert!(w
        .svc
        .repo()
        .find_account_by_subject(id, "jane@acme.com")
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn a_test_run_succeeds_without_signing_anyone_in() {
    if !have_samlify() {
        return;
    }
    let w = World::new();
    let id = w.saml_connection("acme.com", false).await;
    let path = new_run(&w, &id).await;
    let pending = list(&w, &id, "").await;
    assert_eq!(pending["total_count"], 1);
    assert_eq!(pending["data"][0]["status"], "pending");

    let mut browser = Browser::default();
    let (rid, relay) = visit(&w, &mut browser, &path).await;
    // The URL is single-use.
    browser
        .get(&w.app, &path)
        .await
        .assert_page(404, "test_run_invalid");

    let response = w.mint(&id, "jane@acme.com", Some(&rid));
    let r = browser
        .post_form(
            &w.app,
            &acs(&id),
            &[("SAMLResponse", &response), ("RelayState", &relay)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.location().is_none(), "no redirect, no code");
    assert!(
        r.body.contains("<strong id=\"status\">success</strong>"),
        "{}",
        r.body
    );
    assert!(r.body.contains("jane@acme.com"));
    no_account(&w, &id).await;

    let j = list(&w, &id, "").await;
    assert_eq!(j["total_count"], 1);
    let run = &j["data"][0];
    assert!(run["id"].as_str().unwrap().starts_with("tr_"));
    assert_eq!(run["status"], "success");
    assert_eq!(run["connection_type"], "saml");
    assert_eq!(run["parsed_user_info"]["email_address"], "jane@acme.com");
    assert_eq!(run["parsed_user_info"]["user_id"], "jane@acme.com");
    assert_eq!(run["parsed_user_info"]["first_name"], "Jane");
    let saml = &run["saml"];
    assert!(saml["saml_request"].as_str().unwrap().contains(&rid));
    assert!(saml["saml_response"]
        .as_str()
        .unwrap()
        .contains(&format!("InResponseTo=\"{rid}\"")));
    assert_eq!(saml["relay_state"], relay.as_str());
    assert!(run["oauth"].is_null());
    let codes: Vec<&str> = run["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"saml_response_verified"), "{codes:?}");
    assert!(codes.contains(&"test_run_succeeded"), "{codes:?}");

    // The same Response again: its request is used up, and it never falls through to a
    // sign-in (no account, no code).
    let r = browser
        .post_form(
            &w.app,
            &acs(&id),
            &[("SAMLResponse", &response), ("RelayState", &relay)],
        )
        .await;
    assert!(r.location().is_none(), "{}", r.body);
    no_account(&w, &id).await;
}

#[tokio::test]
async fn a_misconfigured_audience_is_a_failed_run_naming_both_audiences() {
    if !have_samlify() {
        return;
    }
    let w = World::new();
    let id = w.saml_connection("acme.com", false).await;
    let path = new_run(&w, &id).await;
    let mut browser = Browser::default();
    let (rid, relay) = visit(&w, &mut browser, &path).await;
    let wrong = "https://wrong.example.com/saml/sp";
    let response = mint_for(&w, &id, wrong, &rid);
    let r = browser
        .post_form(
            &w.app,
            &acs(&id),
            &[("SAMLResponse", &response), ("RelayState", &relay)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body.contains("<strong id=\"status\">failed</strong>"),
        "{}",
        r.body
    );
    assert!(r.body.contains("saml_audience_mismatch"), "{}", r.body);
    no_account(&w, &id).await;

    let j = list(&w, &id, "?status=failed").await;
    assert_eq!(j["total_count"], 1);
    let run = &j["data"][0];
    assert_eq!(run["status"], "failed");
    assert!(run["parsed_user_info"].is_null());
    let err = run["logs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["level"] == "error")
        .expect("an error log");
    assert_eq!(err["code"], "saml_audience_mismatch");
    let msg = err["message"].as_str().unwrap();
    assert!(msg.contains(wrong), "received audience in {msg}");
    assert!(
        msg.contains(&w.saml.entity_id(&id)),
        "expected audience in {msg}"
    );
}

#[tokio::test]
async fn a_test_runs_response_without_its_relay_state_signs_no_one_in() {
    if !have_samlify() {
        return;
    }
    let w = World::new();
    let id = w.saml_connection("acme.com", false).await;
    let path = new_run(&w, &id).await;
    let mut browser = Browser::default();
    let (rid, _) = visit(&w, &mut browser, &path).await;
    let response = w.mint(&id, "jane@acme.com", Some(&rid));
    // Posted without the RelayState, it takes the sign-in path, which refuses it.
    let r = browser
        .post_form(&w.app, &acs(&id), &[("SAMLResponse", &response)])
        .await;
    r.assert_page(400, "saml_request_kind_mismatch");
    no_account(&w, &id).await;
}

#[tokio::test]
async fn runs_are_listed_newest_first_by_status_and_page() {
    let w = World::new();
    let id = w.saml_connection("acme.com", false).await;
    let mut paths = Vec::new();
    for _ in 0..3 {
        paths.push(new_run(&w, &id).await);
    }
    // Deactivated and unconfigured: its run starts (an admin tests before activating) and
    // fails at once.
    let p = enterprise_sso::UpdateConnection {
        active: enterprise_sso::Patch::Value(false),
        saml: enterprise_sso::Patch::Value(enterprise_sso::SamlPatch {
            idp_sso_url: enterprise_sso::Patch::Null,
            ..Default::default()
        }),
        ..Default::default()
    };
    w.svc.update(&id, &p).await.unwrap();
    let mut browser = Browser::default();
    browser
        .get(&w.app, &paths[0])
        .await
        .assert_page(400, "test_run_failed");

    let all = list(&w, &id, "").await;
    assert_eq!(all["total_count"], 3);
    let ids: Vec<&str> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(ids, sorted, "newest first");
    assert_eq!(all["data"][2]["status"], "failed");
    let failed = &all["data"][2]["logs"];
    assert!(failed
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["code"] == "connection_inactive" && l["level"] == "warning"));
    assert!(
        failed
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["code"] == "saml_connection_not_configured"
                && l["message"].as_str().unwrap().contains("idp_sso_url")),
        "{failed}"
    );

    assert_eq!(list(&w, &id, "?status=pending").await["total_count"], 2);
    assert_eq!(list(&w, &id, "?status=failed").await["total_count"], 1);
    assert_eq!(list(&w, &id, "?status=success").await["total_count"], 0);
    let both = list(&w, &id, "?status=pending&status=failed").await;
    assert_eq!(both["total_count"], 3);
    let page = list(&w, &id, "?limit=1&offset=1").await;
    assert_eq!(page["total_count"], 3);
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    assert_eq!(page["data"][0]["id"], ids[1]);
    assert_eq!(
        list(&w, &id, "?offset=3").await["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );

    // Bad parameters and unknown connections.
    let r = api(
        &w,
        Method::GET,
        &format!("/v1/enterprise_connections/{id}/test_runs?status=done"),
    )
    .await;
    assert_eq!(r.status.as_u16(), 422, "{}", r.body);
    schema::check("ClerkErrors", &r.json());
    let r = api(
        &w,
        Method::GET,
        &format!("/v1/enterprise_connections/{id}/test_runs?limit=0"),
    )
    .await;
    assert_eq!(r.status.as_u16(), 422, "{}", r.body);
    let other = ConnectionId::generate();
    for m in [Method::GET, Method::POST] {
        let r = api(
            &w,
            m,
            &format!("/v1/enterprise_connections/{other}/test_runs"),
        )
        .await;
        assert_eq!(r.status.as_u16(), 404, "{}", r.body);
        schema::check("ClerkErrors", &r.json());
    }
    // Without the API key: 401.
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("/v1/enterprise_connections/{id}/test_runs"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&w.app, req).await.status.as_u16(), 401);
    // A made-up token.
    browser
        .get(&w.app, &format!("/saml/{id}/test_runs/nope"))
        .await
        .assert_page(404, "test_run_invalid");
}

#[tokio::test]
async fn an_email_outside_the_connections_domains_is_a_failed_run_naming_both() {
    if !have_samlify() {
        return;
    }
    let w = World::new();
    let id = w.saml_connection("acme.com", false).await;
    let path = new_run(&w, &id).await;
    let mut browser = Browser::default();
    let (rid, relay) = visit(&w, &mut browser, &path).await;
    let response = w.mint(&id, "jane@elsewhere.org", Some(&rid));
    let r = browser
        .post_form(
            &w.app,
            &acs(&id),
            &[("SAMLResponse", &response), ("RelayState", &relay)],
        )
        .await;
    assert!(
        r.body.contains("<strong id=\"status\">failed</strong>"),
        "{}",
        r.body
    );
    let j = list(&w, &id, "?status=failed").await;
    let run = &j["data"][0];
    // The IdP's answer was verified and read; the tenant boundary refused it.
    assert_eq!(
        run["parsed_user_info"]["email_address"],
        "jane@elsewhere.org"
    );
    let errors: Vec<&Value> = run["logs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["level"] == "error")
        .collect();
    assert_eq!(errors.len(), 1, "one line per refusal: {errors:?}");
    assert_eq!(errors[0]["code"], "sign_in_email_outside_domains");
    let msg = errors[0]["message"].as_str().unwrap();
    assert!(
        msg.contains("elsewhere.org") && msg.contains("[acme.com]"),
        "{msg}"
    );
}
