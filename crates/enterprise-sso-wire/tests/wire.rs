//! The JSON wire format against hand-written golden fixtures (compared as JSON values),
//! bad request bodies, and a property: secrets never appear in any encoded output.
#![allow(clippy::unwrap_used)]

use enterprise_sso::{
    build, merge, ConnectionId, Connections, EnterpriseConnection, Error, ListQuery, Order, Patch,
};
use enterprise_sso_memory::MemoryRepo;
use enterprise_sso_wire::{
    decode_create, decode_update, iso8601_ms, ApiErrors, ConnectionJson, ConnectionListJson,
    DeletedObjectJson, EnterpriseAccountConnectionJson, EnterpriseAccountJson, SpEndpoints,
    VerificationJson, WorkosConnectionJson, WorkosListJson,
};
use proptest::prelude::*;
use serde_json::{json, Value};

const SAML_ID: &str = "ent_01HF8Q5X6ZJ0Y4C7N9T2W3V5KM";
const OIDC_ID: &str = "ent_01HF8Q5X6ZJ0Y4C7N9T2W3V5KN";
const T0: i64 = 1_750_000_000_000;
const T1: i64 = 1_750_000_100_000;

/// The golden JSON documents, shared with the core's tests (`crates/enterprise-sso/tests/fixtures`).
fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/../enterprise-sso/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn fixture_bytes(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../enterprise-sso/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn to_value<T: serde::Serialize>(t: &T) -> Value {
    serde_json::to_value(t).unwrap()
}

fn created(request: &str, id: &str) -> EnterpriseConnection {
    let params = decode_create(&fixture_bytes(request)).unwrap();
    build(&params, id.parse().unwrap(), T0).unwrap()
}

fn sp(id: &str) -> SpEndpoints {
    SpEndpoints {
        acs_url: Some(format!("https://sso.example.com/saml/{id}/acs")),
        sp_entity_id: Some(format!("https://sso.example.com/saml/{id}")),
        sp_metadata_url: None,
    }
}

#[test]
fn create_saml_matches_the_golden_response_and_workos_view() {
    let c = created("create_saml.request.json", SAML_ID);
    assert_eq!(
        to_value(&ConnectionJson::with_sp(&c, &sp(SAML_ID))),
        fixture("create_saml.response.json")
    );
    assert_eq!(
        to_value(&WorkosConnectionJson::new(&c)),
        fixture("create_saml.workos.json")
    );
}

#[test]
fn create_oidc_never_shows_the_secret() {
    let c = created("create_oidc.request.json", OIDC_ID);
    let secret = c
        .oidc()
        .unwrap()
        .client_secret
        .as_ref()
        .unwrap()
        .expose_secret()
        .to_owned();
    assert_eq!(secret, "oidc-client-secret-value");
    let v = to_value(&ConnectionJson::new(&c));
    assert_eq!(v, fixture("create_oidc.response.json"));
    assert!(!v.to_string().contains(&secret));
}

#[test]
fn update_round_trips_decode_merge_encode() {
    let c = created("create_oidc.request.json", OIDC_ID);
    let patch = decode_update(&fixture_bytes("update_oidc.request.json")).unwrap();
    assert_eq!(
        patch.domains,
        Patch::Absent,
        "an empty domains list means no change"
    );
    assert_eq!(patch.organization_id, Patch::Absent);
    let n = merge(&c, &patch, T1).unwrap();
    assert_eq!(
        to_value(&ConnectionJson::new(&n)),
        fixture("update_oidc.response.json")
    );
    assert!(
        n.oidc().unwrap().client_secret.is_none(),
        "null cleared the secret"
    );
}

#[test]
fn switching_protocol_over_the_wire() {
    let c = created("create_saml.request.json", SAML_ID);
    let patch = decode_update(&fixture_bytes("update_saml_switch_to_oidc.request.json")).unwrap();
    let n = merge(&c, &patch, T1).unwrap();
    assert_eq!(
        to_value(&WorkosConnectionJson::new(&n)),
        fixture("update_saml_switch_to_oidc.workos.json")
    );
    let v = to_value(&ConnectionJson::new(&n));
    assert_eq!(v["saml_connection"], Value::Null);
    assert_eq!(v["oauth_config"]["provider_key"], json!("oidc_gitlab"));
}

#[test]
fn deleted_object_list_and_account_envelopes() {
    let id: ConnectionId = SAML_ID.parse().unwrap();
    assert_eq!(
        to_value(&DeletedObjectJson::new(&id)),
        fixture("deleted.json")
    );

    let saml = created("create_saml.request.json", SAML_ID);
    let oidc = created("create_oidc.request.json", OIDC_ID);
    let items = vec![oidc.clone(), saml.clone()];
    let list = to_value(&ConnectionListJson::new(&items, 7));
    assert_eq!(list["total_count"], json!(7));
    assert_eq!(list["data"].as_array().unwrap().len(), 2);
    assert_eq!(list["data"][1]["id"], json!(SAML_ID));
    assert_eq!(
        list.as_object().unwrap().len(),
        2,
        "only data and total_count"
    );

    let meta = json!({"team": "blue"});
    let account = EnterpriseAccountJson {
        object: "enterprise_account",
        id: "eac_01HF8Q5X6ZJ0Y4C7N9T2W3V5KP",
        protocol: saml.protocol().as_str(),
        provider: saml.provider.as_str(),
        active: true,
        email_address: "jane@acme.com",
        first_name: Some("Jane"),
        last_name: None,
        provider_user_id: Some("00u1abcd"),
        enterprise_connection_id: Some(saml.id.as_str()),
        public_metadata: meta.as_object().unwrap(),
        verification: Some(VerificationJson {
            object: "verification_saml",
            status: "verified".into(),
            strategy: "saml".into(),
            attempts: None,
            expire_at: Some(1_750_000_800_000),
        }),
        enterprise_connection: Some(EnterpriseAccountConnectionJson::new(&saml)),
        last_authenticated_at: Some(1_750_000_200_000),
    };
    assert_eq!(to_value(&account), fixture("account.json"));
}

#[test]
fn workos_list_envelope_follows_the_cursor() {
    futures_executor::block_on(async {
        let svc = Connections::new(MemoryRepo::new());
        for i in 0..3 {
            let body = format!(
                r#"{{"name": "c{i}", "provider": "saml_custom", "domains": ["c{i}.example.com"]}}"#
            );
            svc.create(&decode_create(body.as_bytes()).unwrap())
                .await
                .unwrap();
        }
        let q = ListQuery {
            limit: 2,
            order: Order::Desc,
            ..Default::default()
        };
        let page = svc.list(&q).await.unwrap();
        let v = to_value(&WorkosListJson::new(&q, &page));
        assert_eq!(v["object"], json!("list"));
        assert_eq!(v["list_metadata"]["before"], Value::Null);
        assert_eq!(
            v["list_metadata"]["after"],
            json!(page.items[1].id.as_str())
        );
        let q2 = ListQuery {
            after: page.next_cursor.clone(),
            ..q
        };
        let page2 = svc.list(&q2).await.unwrap();
        let v2 = to_value(&WorkosListJson::new(&q2, &page2));
        assert_eq!(v2["data"].as_array().unwrap().len(), 1);
        assert_eq!(v2["list_metadata"]["after"], Value::Null);
        assert_eq!(
            v2["list_metadata"]["before"],
            json!(page2.items[0].id.as_str())
        );
        assert_eq!(v2["data"][0]["state"], json!("inactive"));
    });
}

#[test]
fn iso_timestamps() {
    assert_eq!(iso8601_ms(0), "1970-01-01T00:00:00.000Z");
    assert_eq!(iso8601_ms(1_624_648_053_155), "2021-06-25T19:07:33.155Z");
    assert_eq!(iso8601_ms(1_700_000_000_000), "2023-11-14T22:13:20.000Z");
}

/// (body, status, code, param_name)
fn bad_create_bodies() -> Vec<(&'static str, u16, &'static str, Option<&'static str>)> {
    vec![
        ("{", 400, "malformed_request_body", None),
        // The same key twice, at any depth: refused by name, never "last one wins".
        (
            r#"{"name":"a","provider":"saml_custom","domains":["a.com"],"active":false,"active":true}"#,
            400,
            "form_param_duplicate_key",
            Some("active"),
        ),
        (
            r#"{"name":"a","name":"a","provider":"saml_custom","domains":["a.com"]}"#,
            400,
            "form_param_duplicate_key",
            Some("name"),
        ),
        (
            r#"{"name":"a","provider":"saml_custom","domains":["a.com"],"saml":{"attribute_mapping":{"email_address":"a","email_address":"b"}}}"#,
            400,
            "form_param_duplicate_key",
            Some("saml.attribute_mapping.email_address"),
        ),
        (
            r#"{"name":"a","provider":"saml_custom","domains":["a.com"],"x":[{"k":1,"k":2}]}"#,
            400,
            "form_param_duplicate_key",
            Some("x[0].k"),
        ),
        ("[1,2]", 422, "form_param_format_invalid", Some("body")),
        (
            r#"{"name":"a","provider":"saml_custom","domains":["a.com"]} trailing"#,
            400,
            "malformed_request_body",
            None,
        ),
        (
            r#"{"name":"a","domains":["a.com"]}"#,
            422,
            "form_param_missing",
            Some("provider"),
        ),
        (
            r#"{"provider":"saml_custom","domains":["a.com"]}"#,
            422,
            "form_param_missing",
            Some("name"),
        ),
        (
            r#"{"name":"a","provider":"saml_custom"}"#,
            422,
            "form_param_missing",
            Some("domains"),
        ),
        (
            r#"{"name":"a","provider":"saml_custom","domains":[]}"#,
            422,
            "form_param_missing",
            Some("domains"),
        ),
        (
            r#"{"name":"a","provider":"saml_nope","domains":["a.com"]}"#,
            422,
            "form_param_format_invalid",
            Some("provider"),
        ),
        (
            r#"{"name":"a","provider":"saml_custom","domains":["a.com"],"colour":"red"}"#,
            422,
            "form_param_unknown",
            Some("colour"),
        ),
        (
            r#"{"name":"a","provider":"saml_custom","domains":["a.com"],"custom_attributes":[]}"#,
            422,
            "form_param_unknown",
            Some("custom_attributes"),
        ),
        (
            r#"{"name":"a","provider":"saml_custom","domains":["a.com"],"saml":{"login_hint":{"mode":"custom_attribute"}}}"#,
            422,
            "form_param_missing",
            Some("saml.login_hint.source"),
        ),
        (
            r#"{"name":"a","provider":"saml_custom","domains":["a.com"],"saml":{"login_hint":{"mode":"off","source":"upn"}}}"#,
            422,
            "form_param_format_invalid",
            Some("saml.login_hint"),
        ),
        (
            r#"{"name":"a","provider":"saml_custom","domains":["a.com"],"saml":{"attribute_mapping":{"nick":"n"}}}"#,
            422,
            "form_param_unknown",
            Some("saml.attribute_mapping.nick"),
        ),
        (
            r#"{"name":1,"provider":"saml_custom","domains":["a.com"]}"#,
            422,
            "form_param_format_invalid",
            Some("name"),
        ),
        (
            r#"{"name":"a","provider":"saml_custom","domains":"a.com"}"#,
            422,
            "form_param_format_invalid",
            Some("domains"),
        ),
        (
            r#"{"name":"a","provider":"saml_custom","domains":["a.com", 7]}"#,
            422,
            "form_param_format_invalid",
            Some("domains[1]"),
        ),
        (
            r#"{"name":"a","provider":"oidc_custom","domains":["a.com"],"oidc":{"requires_pkce":"yes"}}"#,
            422,
            "form_param_format_invalid",
            Some("oidc.requires_pkce"),
        ),
        (
            r#"{"name":"a","provider":"oidc_custom","domains":["a.com"],"oidc":{"client_secret":42}}"#,
            422,
            "form_param_format_invalid",
            Some("oidc.client_secret"),
        ),
        (
            r#"{"name":"a","provider":"oidc_custom","domains":["a.com"],"oidc":["https://a.com/auth"]}"#,
            422,
            "form_param_format_invalid",
            Some("oidc"),
        ),
        (
            r#"{"name":"a","provider":"saml_custom","domains":["a.com"],"saml":{"attribute_mapping":["mail"]}}"#,
            422,
            "form_param_format_invalid",
            Some("saml.attribute_mapping"),
        ),
        (
            "\"just a string\"",
            422,
            "form_param_format_invalid",
            Some("body"),
        ),
    ]
}

#[test]
fn bad_bodies_get_codes_and_parameter_names() {
    for (body, status, code, param) in bad_create_bodies() {
        let err = decode_create(body.as_bytes()).expect_err(body);
        assert_eq!(
            (err.status, err.errors[0].code),
            (status, code),
            "{body}: {err}"
        );
        assert_eq!(
            err.errors[0].meta.param_name.as_deref(),
            param,
            "{body}: {err}"
        );
    }
    let err = decode_update(br#"{"oidc":{"requires_pkce":"secret-in-wrong-field"}}"#).unwrap_err();
    assert!(!err.to_string().contains("secret-in-wrong-field"), "{err}");
    let err = decode_update(br#"{"active":true,"active":false}"#).unwrap_err();
    assert_eq!(
        (err.status, err.errors[0].code),
        (400, "form_param_duplicate_key")
    );
    assert_eq!(err.errors[0].meta.param_name.as_deref(), Some("active"));
    // Keys compare after JSON unescaping: "\u0061ctive" is "active".
    let err = decode_update(br#"{"active":true,"\u0061ctive":false}"#).unwrap_err();
    assert_eq!(err.errors[0].meta.param_name.as_deref(), Some("active"));
    let err = decode_update(br#"{"nmae":"x"}"#).unwrap_err();
    assert_eq!(err.errors[0].meta.param_name.as_deref(), Some("nmae"));
}

/// Bodies that decode but break the rules: (body, code, param_name)
#[test]
fn rule_violations_get_codes_and_parameter_names() {
    let cases: Vec<(&str, &str, &str)> = vec![
        (
            r#"{"name":"a","provider":"oidc_custom","domains":["a.com"],"oidc":{"client_id":"c"}}"#,
            "form_public_client_requires_pkce",
            "oidc.requires_pkce",
        ),
        (
            r#"{"name":"a","provider":"saml_custom","domains":["a.com"],"saml":{},"oidc":{}}"#,
            "form_param_not_allowed_for_provider",
            "oidc",
        ),
        (
            r#"{"name":"a","provider":"saml_custom","domains":["co.uk"]}"#,
            "form_domain_public_suffix",
            "domains[0]",
        ),
        (
            r#"{"name":"a","provider":"saml_custom","domains":["not a domain"]}"#,
            "form_param_format_invalid",
            "domains[0]",
        ),
        (
            r#"{"name":"a","provider":"saml_custom","domains":["a.com"],"saml":{"idp_sso_url":"http://idp.a.com"}}"#,
            "form_param_format_invalid",
            "saml.idp_sso_url",
        ),
        (
            r#"{"name":"a","provider":"saml_custom","domains":["a.com"],"active":true}"#,
            "form_param_missing",
            "saml.idp_entity_id",
        ),
        (
            r#"{"name":"a","provider":"saml_custom","domains":["a.com"],"saml":{"force_authn":null}}"#,
            "form_param_null_not_allowed",
            "saml.force_authn",
        ),
        (
            r#"{"name":"a","provider":"saml_custom","domains":["a.com"],"saml":{"login_hint":{"mode":"custom_attribute","source":"a\u0007b"}}}"#,
            "form_param_format_invalid",
            "saml.login_hint.source",
        ),
        (
            r#"{"name":"","provider":"saml_custom","domains":["a.com"]}"#,
            "form_param_missing",
            "name",
        ),
        (
            r#"{"name":"a","provider":"saml_custom","domains":["a.com"],"saml":{"idp_metadata":"<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\"/>"}}"#,
            "saml_metadata_missing_fields",
            "saml.idp_metadata",
        ),
        (
            r#"{"name":"a","provider":"saml_custom","domains":["a.com"],"saml":{"idp_metadata":"<!DOCTYPE x><x/>"}}"#,
            "saml_failed_to_parse_idp_metadata",
            "saml.idp_metadata",
        ),
        (
            r#"{"name":"a","provider":"saml_custom","domains":["a.com"],"saml":{"idp_certificate":"nope"}}"#,
            "saml_certificate_invalid",
            "saml.idp_certificate",
        ),
        (
            r#"{"name":"a","provider":"saml_custom","domains":["a.com"],"saml":{"idp_metadata_url":"https://10.0.0.1/md"}}"#,
            "form_param_url_not_allowed",
            "saml.idp_metadata_url",
        ),
    ];
    for (body, code, param) in cases {
        let params = decode_create(body.as_bytes()).unwrap_or_else(|e| panic!("{body}: {e}"));
        let err = build(&params, ConnectionId::generate(), T0)
            .map_err(Error::from)
            .unwrap_err();
        let api = ApiErrors::from(&err);
        assert_eq!(api.status, 422);
        let found = api
            .errors
            .iter()
            .any(|e| e.code == code && e.meta.param_name.as_deref() == Some(param));
        assert!(
            found,
            "{body}: expected {code} at {param}, got {}",
            serde_json::to_string(&api).unwrap()
        );
    }
}

#[test]
fn service_errors_map_to_statuses() {
    futures_executor::block_on(async {
        let svc = Connections::new(MemoryRepo::new());
        let a = svc
            .create(
                &decode_create(br#"{"name":"a","provider":"saml_custom","domains":["a.com"]}"#)
                    .unwrap(),
            )
            .await
            .unwrap();
        let dup = svc
            .create(
                &decode_create(br#"{"name":"b","provider":"saml_custom","domains":["a.com"]}"#)
                    .unwrap(),
            )
            .await
            .unwrap_err();
        let api = ApiErrors::from(&dup);
        assert_eq!(
            (api.status, api.errors[0].code),
            (409, "domain_already_claimed")
        );
        assert_eq!(api.errors[0].meta.param_name.as_deref(), Some("domains"));
        // Names the domain, never the other tenant's connection.
        assert!(api.errors[0].long_message.contains("a.com"));
        assert!(!api.errors[0].long_message.contains(a.id.as_str()));
        let missing = svc.get(&ConnectionId::generate()).await.unwrap_err();
        assert_eq!(ApiErrors::from(&missing).status, 404);
        assert_eq!(
            ApiErrors::from(&missing).errors[0].code,
            "resource_not_found"
        );
        let stale = svc
            .update_if_version(&a.id, 99, &Default::default())
            .await
            .unwrap_err();
        assert_eq!(
            (
                ApiErrors::from(&stale).status,
                ApiErrors::from(&stale).errors[0].code
            ),
            (409, "resource_conflict")
        );
        let bad_email = svc.route_email("nope").await.unwrap_err();
        assert_eq!(
            ApiErrors::from(&bad_email).errors[0]
                .meta
                .param_name
                .as_deref(),
            Some("email_address")
        );
        let envelope = to_value(&ApiErrors::from(&missing));
        assert_eq!(
            envelope.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["errors"]
        );
        let e0 = &envelope["errors"][0];
        for key in ["code", "message", "long_message", "meta"] {
            assert!(e0.get(key).is_some(), "{key} missing in {envelope}");
        }
    });
}

proptest! {
    #[test]
    fn secrets_never_appear_in_any_output(
        secret in "[A-Za-z0-9!#%&()*+,./:;<=>?@^_{|}~-]{12,40}",
        pkce in any::<bool>(),
        active in any::<bool>(),
        with_urls in any::<bool>(),
        provider in prop::sample::select(vec!["oidc_custom", "oidc_github_enterprise", "oidc_gitlab"]),
    ) {
        let mut oidc = json!({"client_id": "cid", "client_secret": secret, "requires_pkce": pkce});
        if with_urls {
            oidc["auth_url"] = json!("https://idp.example.com/auth");
            oidc["token_url"] = json!("https://idp.example.com/token");
        } else {
            oidc["discovery_url"] = json!("https://idp.example.com/.well-known/openid-configuration");
        }
        // Activation needs the endpoints (set, or discovered by a refresh).
        let active = active && with_urls;
        let body = json!({"name": "n", "provider": provider, "domains": ["sec.example.com"], "active": active, "oidc": oidc});
        let params = decode_create(body.to_string().as_bytes()).unwrap();
        let c = build(&params, ConnectionId::generate(), T0).unwrap();
        prop_assert_eq!(c.oidc().unwrap().client_secret.as_ref().unwrap().expose_secret(), secret.as_str());
        let outputs = [
            serde_json::to_string(&ConnectionJson::new(&c)).unwrap(),
            serde_json::to_string(&WorkosConnectionJson::new(&c)).unwrap(),
            serde_json::to_string(&EnterpriseAccountConnectionJson::new(&c)).unwrap(),
            serde_json::to_string(&ConnectionListJson::new(std::slice::from_ref(&c), 1)).unwrap(),
            format!("{c:?}"),
        ];
        for out in &outputs {
            prop_assert!(!out.contains(&secret), "secret in {}", out);
        }
        // Error outputs too: a failing update that touches the secret.
        let bad = json!({"name": "", "oidc": {"client_secret": secret, "auth_url": "http://x.example.com"}});
        let patch = decode_update(bad.to_string().as_bytes()).unwrap();
        let err = merge(&c, &patch, T1).map_err(Error::from).unwrap_err();
        let api = serde_json::to_string(&ApiErrors::from(&err)).unwrap();
        prop_assert!(!api.contains(&secret) && !err.to_string().contains(&secret));
        // And a secret sent where a boolean belongs is not echoed.
        let wrong = json!({"oidc": {"requires_pkce": secret}});
        let api = decode_update(wrong.to_string().as_bytes()).unwrap_err();
        prop_assert!(!serde_json::to_string(&api).unwrap().contains(&secret));
    }
}

#[test]
fn stored_accounts_encode_like_the_golden_account() {
    use enterprise_sso::Assertion;
    futures_executor::block_on(async {
        let svc = Connections::new(MemoryRepo::new());
        let params = decode_create(&fixture_bytes("create_saml.request.json")).unwrap();
        let conn = svc.create(&params).await.unwrap();
        // The connection maps email to `mail` and the first name to `givenName`.
        let a = Assertion::new(
            "00u1abcd",
            [("givenName", "Jane"), ("mail", "jane@acme.com")],
        );
        let signed = svc.record_sign_in(&conn.id, &a).await.unwrap();
        let v = to_value(&EnterpriseAccountJson::new(
            &signed.account,
            Some(&signed.connection),
        ));
        let golden = fixture("account.json");
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&v), keys(&golden));
        assert_eq!(
            keys(&v["enterprise_connection"]),
            keys(&golden["enterprise_connection"])
        );
        assert_eq!(keys(&v["verification"]), keys(&golden["verification"]));
        for k in [
            "object",
            "protocol",
            "provider",
            "active",
            "email_address",
            "first_name",
            "last_name",
            "provider_user_id",
        ] {
            assert_eq!(v[k], golden[k], "{k}");
        }
        for k in ["object", "status", "strategy", "attempts"] {
            assert_eq!(v["verification"][k], golden["verification"][k], "{k}");
        }
        // Golden: last sign-in 1750000200000 + the 10-minute window.
        assert_eq!(
            v["verification"]["expire_at"],
            json!(
                signed.account.last_authenticated_at.unwrap().get()
                    + enterprise_sso_wire::VERIFICATION_WINDOW_MS
            )
        );
        assert_eq!(v["enterprise_connection_id"], json!(conn.id.as_str()));
        // Unlinked after the connection is deleted.
        svc.delete(&conn.id).await.unwrap();
        let gone = svc.get_account(&signed.account.id).await.unwrap();
        let v = to_value(&EnterpriseAccountJson::new(&gone, None));
        assert_eq!(
            (
                v["active"].clone(),
                v["enterprise_connection_id"].clone(),
                v["enterprise_connection"].clone()
            ),
            (json!(false), Value::Null, Value::Null)
        );
    });
}

#[test]
fn sign_in_refusals_map_to_statuses() {
    use enterprise_sso::Assertion;
    futures_executor::block_on(async {
        let svc = Connections::new(MemoryRepo::new());
        let conn = svc
            .create(&decode_create(&fixture_bytes("create_saml.request.json")).unwrap())
            .await
            .unwrap();
        let outside = svc
            .record_sign_in(&conn.id, &Assertion::new("s", [("mail", "x@evil.com")]))
            .await
            .unwrap_err();
        let api = ApiErrors::from(&outside);
        assert_eq!(
            (api.status, api.errors[0].code),
            (403, "email_outside_organization_domains")
        );
        let missing = svc
            .record_sign_in(&conn.id, &Assertion::new("s", []))
            .await
            .unwrap_err();
        assert_eq!(
            ApiErrors::from(&missing).errors[0].code,
            "sign_in_missing_email"
        );
    });
}
