//! Certificates on the Clerk wire as the Clerk SDK documents them: base64 DER without PEM
//! armor, the primary first in `idp_certificates` (and the same as `idp_certificate`).
//! Expected values come from the corpus' `*.expected.json`, which Python's ElementTree
//! read from the metadata (not this library).
#![allow(clippy::unwrap_used)]

use enterprise_sso::{
    build, merge, CreateConnection, Patch, Provider, SamlPatch, UpdateConnection,
};
use enterprise_sso_wire::ConnectionJson;
use serde_json::Value;

const ID: &str = "ent_01HF8Q5X6ZJ0Y4C7N9T2W3V5KM";
/// 2017-07-14: every certificate of the Entra metadata is valid; the second expires last.
const NOW: i64 = 1_500_000_000_000;

fn corpus(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../enterprise-sso/tests/corpus/saml/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn saml_json(c: &enterprise_sso::EnterpriseConnection) -> Value {
    serde_json::to_value(ConnectionJson::new(c)).unwrap()["saml_connection"].clone()
}

#[test]
fn certificates_are_base64_der_with_the_primary_first() {
    let expected: Value =
        serde_json::from_str(&corpus("entra_common_signed.expected.json")).unwrap();
    let certs = expected["certificates"].as_array().unwrap();
    let der = |i: usize| certs[i]["der_base64"].as_str().unwrap().to_owned();
    let mut p = CreateConnection::new(Provider::SamlMicrosoft, "Contoso");
    p.saml = Some(SamlPatch {
        idp_metadata: Patch::Value(corpus("entra_common_signed.xml")),
        ..Default::default()
    });
    let c = build(&p, ID.parse().unwrap(), NOW).unwrap();
    // Stored in the metadata's order; the primary (valid now, expiring last) is the second.
    assert_eq!(c.saml().unwrap().idp_certificates.len(), 3);
    let s = saml_json(&c);
    let listed: Vec<&str> = s["idp_certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["certificate"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [der(1), der(0), der(2)]);
    assert_eq!(s["idp_certificate"].as_str(), Some(der(1).as_str()));
    assert_eq!(s["idp_certificate_expires_at"], certs[1]["not_after_ms"]);
    assert_eq!(
        s["idp_certificates"][0]["expires_at"],
        certs[1]["not_after_ms"]
    );
    assert!(!s.to_string().contains("BEGIN"), "{s}");
}

#[test]
fn what_the_wire_shows_is_accepted_back_as_input() {
    let pem = enterprise_sso::testing::TEST_CERT_PEM;
    let mut p = CreateConnection::new(Provider::SamlOkta, "Acme");
    p.saml = Some(SamlPatch {
        idp_certificate: Patch::Value(pem.into()),
        ..Default::default()
    });
    let c = build(&p, ID.parse().unwrap(), 1_750_000_000_000).unwrap();
    let shown = saml_json(&c)["idp_certificate"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!shown.contains('\n') && !shown.contains("-----"));
    // The base64 DER the wire shows, given back, is the same certificate set.
    let again = merge(
        &c,
        &UpdateConnection {
            saml: Patch::Value(SamlPatch {
                idp_certificates: Patch::Value(vec![shown]),
                ..Default::default()
            }),
            ..Default::default()
        },
        1_750_000_000_001,
    )
    .unwrap();
    assert_eq!(
        again.saml().unwrap().idp_certificates,
        c.saml().unwrap().idp_certificates
    );
}
