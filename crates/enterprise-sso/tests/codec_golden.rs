//! Records written by earlier versions of the codec still decode to the same connections.
//!
//! `fixtures/codec_golden.hex` holds tag-4 records (one hex line each) as the codec wrote
//! them before the field table (`connection.rs`) generated the record structs; each must
//! decode to the connection [`connections`] builds, and encoding that connection again must
//! decode to it too. `SSO_WRITE_GOLDEN=1` rewrites the file (only for a deliberate new
//! format tag: old records must keep reading).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use enterprise_sso::storage::codec::{decode_connection, encode_connection};
use enterprise_sso::testing::TEST_CERT_PEM;
use enterprise_sso::UnixMillis;
use enterprise_sso::{
    build, AttributeMappingPatch, ClientSecret, ConnectionId, CreateConnection,
    EnterpriseConnection, LoginHint, OidcPatch, Patch, ProtocolConfig, Provider, RenewalNotice,
    SamlPatch,
};

const NOW: i64 = 1_750_000_000_000;

fn id(n: u8) -> ConnectionId {
    format!("ent_01JZ0000000000000000000{n:03}")
        .parse()
        .unwrap()
}

/// One connection of each shape: SAML with every field set, a bare SAML one, OIDC with a
/// secret and a discovered issuer, a public OIDC client.
fn connections() -> Vec<EnterpriseConnection> {
    let mut out = Vec::new();
    let mut p = CreateConnection::new(Provider::SamlOkta, "Acme SAML");
    p.domains = Some(vec!["acme.com".into(), "acme.org".into()]);
    p.organization_id = Some("org_1".into());
    p.active = Some(true);
    p.sync_user_attributes = Some(true);
    p.disable_additional_identifications = Some(true);
    p.authenticatable = Some(false);
    p.disable_jit_provisioning = Some(true);
    p.allow_organization_account_linking = Some(true);
    p.saml = Some(SamlPatch {
        allow_idp_initiated: Patch::Value(true),
        allow_subdomains: Patch::Value(true),
        force_authn: Patch::Value(true),
        attribute_mapping: Patch::Value(AttributeMappingPatch {
            email_address: Patch::Value("mail".into()),
            first_name: Patch::Value("givenName".into()),
            last_name: Patch::Value("sn".into()),
            user_id: Patch::Value("uid".into()),
        }),
        idp_entity_id: Patch::Value("https://idp.acme.com/entity".into()),
        idp_sso_url: Patch::Value("https://idp.acme.com/sso".into()),
        idp_metadata_url: Patch::Value("https://idp.acme.com/metadata".into()),
        idp_certificate: Patch::Value(TEST_CERT_PEM.into()),
        login_hint: Patch::Value(
            serde_json::from_str::<LoginHint>(r#"{"mode":"custom_attribute","source":"upn"}"#)
                .unwrap(),
        ),
        ..Default::default()
    });
    let mut c = build(&p, id(1), NOW).unwrap();
    c.first_authenticated_at = Some(UnixMillis::new(NOW + 5));
    if let ProtocolConfig::Saml(s) = &mut c.config {
        s.renewal_notices.push(RenewalNotice {
            certificate_expires_at: s.idp_certificates[0].expires_at,
            certificate_crc: 77,
            threshold_days: 30,
            noticed_at: UnixMillis::new(NOW + 9),
        });
    }
    out.push(c);

    out.push(
        build(
            &CreateConnection::new(Provider::SamlCustom, "Bare"),
            id(2),
            NOW,
        )
        .unwrap(),
    );

    let mut p = CreateConnection::new(Provider::OidcCustom, "Globex OIDC");
    p.domains = Some(vec!["globex.com".into()]);
    p.oidc = Some(OidcPatch {
        client_id: Patch::Value("cid".into()),
        client_secret: Patch::Value(ClientSecret::new("s3cr3t")),
        discovery_url: Patch::Value(
            "https://login.globex.com/.well-known/openid-configuration".into(),
        ),
        auth_url: Patch::Value("https://login.globex.com/authorize".into()),
        token_url: Patch::Value("https://login.globex.com/token".into()),
        user_info_url: Patch::Value("https://login.globex.com/userinfo".into()),
        ..Default::default()
    });
    let mut c = build(&p, id(3), NOW).unwrap();
    if let ProtocolConfig::Oidc(o) = &mut c.config {
        o.issuer = Some("https://login.globex.com/".into());
    }
    out.push(c);

    let mut p = CreateConnection::new(Provider::OidcGitlab, "Public client");
    p.oidc = Some(OidcPatch {
        client_id: Patch::Value("pub".into()),
        requires_pkce: Patch::Value(true),
        ..Default::default()
    });
    out.push(build(&p, id(4), NOW).unwrap());
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn records_of_earlier_versions_decode_to_the_same_connections() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/codec_golden.hex"
    );
    let conns = connections();
    if std::env::var_os("SSO_WRITE_GOLDEN").is_some() {
        let lines: Vec<String> = conns.iter().map(|c| hex(&encode_connection(c))).collect();
        std::fs::write(path, lines.join("\n") + "\n").unwrap();
    }
    let text = std::fs::read_to_string(path).unwrap();
    let records: Vec<Vec<u8>> = text.lines().map(unhex).collect();
    assert_eq!(records.len(), conns.len());
    for (record, c) in records.iter().zip(&conns) {
        assert_eq!(&decode_connection(record).unwrap(), c, "{}", c.name);
        assert_eq!(&decode_connection(&encode_connection(c)).unwrap(), c);
    }
}
