//! Clerk's `saml.name` (the SAML configuration's display name) end to end: decoded from a
//! create or update body, validated, merged, stored, diffed into `connection.updated`, and
//! shown as `saml_connection.name` (the connection's name while it is not set).
#![allow(clippy::unwrap_used)]

use enterprise_sso::events::connection_events;
use enterprise_sso::storage::codec::{decode_connection, encode_connection};
use enterprise_sso::{build, merge, Error, SamlPatch};
use enterprise_sso_wire::{decode_create, decode_update, ApiErrors, ConnectionJson};

const ID: &str = "ent_01HF8Q5X6ZJ0Y4C7N9T2W3V5KM";

fn saml_name(c: &enterprise_sso::EnterpriseConnection) -> String {
    let json = serde_json::to_value(ConnectionJson::new(c)).unwrap();
    json["saml_connection"]["name"].as_str().unwrap().to_owned()
}

#[test]
fn saml_name_is_set_shown_stored_diffed_and_cleared() {
    let body = br#"{"name":"Acme","provider":"saml_okta","domains":["acme.com"],
                    "saml":{"name":"Okta (production)"}}"#;
    let c = build(&decode_create(body).unwrap(), ID.parse().unwrap(), 1_000).unwrap();
    assert_eq!(c.saml().unwrap().name.as_deref(), Some("Okta (production)"));
    assert_eq!(saml_name(&c), "Okta (production)");
    assert_eq!(c.name, "Acme");
    assert_eq!(decode_connection(&encode_connection(&c)).unwrap(), c);

    let renamed = merge(
        &c,
        &decode_update(br#"{"saml":{"name":"Okta (staging)"}}"#).unwrap(),
        2_000,
    )
    .unwrap();
    assert_eq!(saml_name(&renamed), "Okta (staging)");
    let events = connection_events(Some(&c), Some(&renamed), 2_000);
    assert_eq!(events[0].changed, ["saml.name"]);

    // `null` clears it: the connection's name shows again.
    let cleared = merge(
        &renamed,
        &decode_update(br#"{"saml":{"name":null}}"#).unwrap(),
        3_000,
    )
    .unwrap();
    assert_eq!(cleared.saml().unwrap().name, None);
    assert_eq!(saml_name(&cleared), "Acme");
    // The fluent setters come with the field.
    let fluent = SamlPatch::default().name("x").clear_name();
    assert!(fluent.name == enterprise_sso::Patch::Null);
}

#[test]
fn a_blank_or_overlong_saml_name_is_refused_by_its_path() {
    for (name, code) in [
        ("\"  \"", "form_param_format_invalid"),
        (
            &format!("\"{}\"", "n".repeat(300)) as &str,
            "form_param_exceeds_allowed_size",
        ),
    ] {
        let body = format!(
            r#"{{"name":"Acme","provider":"saml_okta","domains":["acme.com"],"saml":{{"name":{name}}}}}"#
        );
        let params = decode_create(body.as_bytes()).unwrap();
        let err = build(&params, ID.parse().unwrap(), 1_000).unwrap_err();
        assert!(err.has("saml.name"), "{err}");
        let api = ApiErrors::from(&Error::Validation(err));
        assert_eq!(api.errors[0].meta.param_name.as_deref(), Some("saml.name"));
        assert_eq!(api.errors[0].code, code, "{name}");
    }
}
