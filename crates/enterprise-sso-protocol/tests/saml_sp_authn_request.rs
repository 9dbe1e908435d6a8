//! AuthnRequest (HTTP-Redirect binding), its Redirect-binding signature, the bounded
//! inflate of Redirect-binding inputs, and SP metadata.
#![allow(clippy::unwrap_used)]

mod saml_sp_support;

use base64::Engine;
use enterprise_sso_protocol::saml::sp::{
    inflate_redirect_param, redirect_request, sp_metadata_xml, AuthnRequestError,
    AuthnRequestOptions, Refusal, ServiceProvider, SpKeyPair, MAX_RELAY_STATE_BYTES,
    SIG_ALG_RSA_SHA256,
};
use saml_sp_support::*;
use sha2::Digest as _;

const SSO: &str = "https://idp.example.org/sso?tenant=acme&x=a%20b";
const SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";

fn query_param<'a>(raw_query: &'a str, name: &str) -> Option<&'a str> {
    raw_query
        .split('&')
        .find_map(|kv| kv.strip_prefix(name).and_then(|r| r.strip_prefix('=')))
}

fn decode(v: &str) -> String {
    url::form_urlencoded::parse(format!("v={v}").as_bytes())
        .next()
        .unwrap()
        .1
        .into_owned()
}

#[test]
fn redirect_request_round_trip_and_signature() {
    let random = [0xA7u8; 16];
    let req = redirect_request(
        &sp(),
        SSO,
        &random,
        NOW,
        AuthnRequestOptions {
            force_authn: true,
            relay_state: Some("opaque state/+&= é"),
            sign: true,
        },
    )
    .unwrap();
    assert_eq!(req.request_id, format!("_{}", "a7".repeat(16)));
    let url = url::Url::parse(&req.url).unwrap();
    assert_eq!(url.host_str(), Some("idp.example.org"));
    let raw = url.query().unwrap();
    // The IdP's own query is kept, first and unchanged.
    assert!(raw.starts_with("tenant=acme&x=a%20b&SAMLRequest="), "{raw}");

    let saml_request = decode(query_param(raw, "SAMLRequest").unwrap());
    let xml = String::from_utf8(inflate_redirect_param(&saml_request, 64 * 1024).unwrap()).unwrap();
    assert_eq!(xml, req.xml);
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let root = doc.root_element();
    assert!(root.has_tag_name((SAMLP, "AuthnRequest")));
    assert_eq!(root.attribute("ID"), Some(req.request_id.as_str()));
    assert_eq!(root.attribute("Version"), Some("2.0"));
    assert_eq!(root.attribute("IssueInstant"), Some("2027-06-01T12:00:00Z"));
    assert_eq!(root.attribute("Destination"), Some(SSO));
    assert_eq!(root.attribute("AssertionConsumerServiceURL"), Some(ACS));
    assert_eq!(
        root.attribute("ProtocolBinding"),
        Some("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST")
    );
    assert_eq!(root.attribute("ForceAuthn"), Some("true"));
    let issuer = root
        .children()
        .find(|n| n.has_tag_name((SAML, "Issuer")))
        .unwrap();
    assert_eq!(issuer.text(), Some(SP_ENTITY));
    let policy = root
        .children()
        .find(|n| n.has_tag_name((SAMLP, "NameIDPolicy")))
        .unwrap();
    assert_eq!(policy.attribute("AllowCreate"), Some("true"));
    assert_eq!(
        decode(query_param(raw, "RelayState").unwrap()),
        "opaque state/+&= é"
    );
    assert_eq!(
        decode(query_param(raw, "SigAlg").unwrap()),
        SIG_ALG_RSA_SHA256
    );

    // The signature covers SAMLRequest=…&RelayState=…&SigAlg=… as they appear.
    let start = raw.find("SAMLRequest=").unwrap();
    let end = raw.find("&Signature=").unwrap();
    let signed = &raw[start..end];
    assert!(signed.contains("&RelayState=") && signed.contains("&SigAlg="));
    let sig = base64::engine::general_purpose::STANDARD
        .decode(decode(query_param(raw, "Signature").unwrap()))
        .unwrap();
    let cert = cert("sp");
    let (_, parsed) = x509_parser::parse_x509_certificate(&cert).unwrap();
    use rsa::pkcs1::DecodeRsaPublicKey as _;
    let public =
        rsa::PublicKey::from_pkcs1_der(&parsed.public_key().subject_public_key.data).unwrap();
    let hashed = sha2::Sha256::digest(signed.as_bytes());
    public
        .verify(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), &hashed, &sig)
        .unwrap();
    // One changed byte of the signed part no longer verifies.
    let forged = signed.replacen("SAMLRequest=", "SAMLRequest=A", 1);
    let hashed = sha2::Sha256::digest(forged.as_bytes());
    assert!(public
        .verify(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), &hashed, &sig)
        .is_err());
}

#[test]
fn unsigned_request_without_force_authn_or_relay_state() {
    let req = redirect_request(
        &ServiceProvider::new(SP_ENTITY, ACS),
        "https://idp.example.org/sso",
        &[1u8; 32],
        NOW,
        AuthnRequestOptions::default(),
    )
    .unwrap();
    assert_eq!(req.request_id.len(), 65);
    let raw = url::Url::parse(&req.url)
        .unwrap()
        .query()
        .unwrap()
        .to_owned();
    assert!(raw.starts_with("SAMLRequest="));
    assert!(!raw.contains("RelayState") && !raw.contains("SigAlg") && !raw.contains("Signature"));
    assert!(!req.xml.contains("ForceAuthn"));
}

#[test]
fn request_errors() {
    let opts = AuthnRequestOptions::default();
    assert_eq!(
        redirect_request(&sp(), SSO, &[0u8; 15], NOW, opts).unwrap_err(),
        AuthnRequestError::NotEnoughRandom {
            min: 16,
            received: 15
        }
    );
    let long = "r".repeat(MAX_RELAY_STATE_BYTES + 1);
    let o = AuthnRequestOptions {
        relay_state: Some(&long),
        ..opts
    };
    assert_eq!(
        redirect_request(&sp(), SSO, &[0u8; 16], NOW, o).unwrap_err(),
        AuthnRequestError::RelayStateTooLong {
            max: 80,
            received: 81
        }
    );
    let ok = "r".repeat(MAX_RELAY_STATE_BYTES);
    let o = AuthnRequestOptions {
        relay_state: Some(&ok),
        ..opts
    };
    assert!(redirect_request(&sp(), SSO, &[0u8; 16], NOW, o).is_ok());
    let o = AuthnRequestOptions { sign: true, ..opts };
    assert_eq!(
        redirect_request(
            &ServiceProvider::new(SP_ENTITY, ACS),
            SSO,
            &[0u8; 16],
            NOW,
            o
        )
        .unwrap_err(),
        AuthnRequestError::NoSigningKey
    );
    for bad in [
        "ftp://idp.example.org/sso",
        "/sso",
        "mailto:x@y",
        "not a url",
    ] {
        assert_eq!(
            redirect_request(&sp(), bad, &[0u8; 16], NOW, opts).unwrap_err(),
            AuthnRequestError::BadSsoUrl,
            "{bad}"
        );
    }
    assert_eq!(
        redirect_request(
            &sp(),
            "https://idp.example.org/sso?SAMLRequest=x",
            &[0u8; 16],
            NOW,
            opts
        )
        .unwrap_err(),
        AuthnRequestError::SsoUrlHasSamlParameter("SAMLRequest")
    );
    let ctl = ServiceProvider::new("urn:sp\n", ACS);
    assert!(matches!(
        redirect_request(&ctl, SSO, &[0u8; 16], NOW, opts).unwrap_err(),
        AuthnRequestError::ControlCharacters(_)
    ));
}

#[test]
fn values_are_escaped_never_templated() {
    // samlify CVE-2026-46490 shape: markup in a value must stay a value.
    let sp = ServiceProvider::new(
        r#"urn:sp"/><saml:Issuer>evil</saml:Issuer><x a="&amp;"#,
        "https://sp.example.com/acs?a=1&b=\"2\"<",
    );
    let req = redirect_request(&sp, SSO, &[3u8; 16], NOW, AuthnRequestOptions::default()).unwrap();
    let doc = roxmltree::Document::parse(&req.xml).unwrap();
    let root = doc.root_element();
    let issuers: Vec<_> = root
        .descendants()
        .filter(|n| n.has_tag_name((SAML, "Issuer")))
        .collect();
    assert_eq!(issuers.len(), 1);
    assert_eq!(issuers[0].text(), Some(sp.entity_id.as_str()));
    assert_eq!(
        root.attribute("AssertionConsumerServiceURL"),
        Some(sp.acs_url.as_str())
    );
    let md = sp_metadata_xml(&sp, false).unwrap();
    let doc = roxmltree::Document::parse(&md).unwrap();
    assert_eq!(
        doc.root_element().attribute("entityID"),
        Some(sp.entity_id.as_str())
    );
}

#[test]
fn deflate_bomb_and_bad_input() {
    use std::io::Write;
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&vec![b'<'; 50 * 1024 * 1024]).unwrap();
    let bomb = base64::engine::general_purpose::STANDARD.encode(enc.finish().unwrap());
    assert!(bomb.len() < 200 * 1024);
    let t = std::time::Instant::now();
    let r = inflate_redirect_param(&bomb, 64 * 1024).unwrap_err();
    assert!(
        matches!(
            r,
            Refusal::TooLarge {
                limit: 65_536,
                received: 65_537,
                ..
            }
        ),
        "{r:?}"
    );
    assert!(t.elapsed() < std::time::Duration::from_secs(2));
    assert_eq!(
        inflate_redirect_param("AAAA////", 1024).unwrap_err(),
        Refusal::NotDeflate
    );
    assert_eq!(
        inflate_redirect_param("%%%", 1024).unwrap_err(),
        Refusal::NotBase64
    );
}

#[test]
fn sp_metadata_lists_keys_for_rotation() {
    let sp = sp()
        .with_key(SpKeyPair::from_pem(&corpus("sp2.key.pem"), &corpus("sp2.cert.pem")).unwrap());
    let xml = sp_metadata_xml(&sp, true).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    const MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
    let root = doc.root_element();
    assert!(root.has_tag_name((MD, "EntityDescriptor")));
    assert_eq!(root.attribute("entityID"), Some(SP_ENTITY));
    let d = root
        .children()
        .find(|n| n.has_tag_name((MD, "SPSSODescriptor")))
        .unwrap();
    assert_eq!(d.attribute("WantAssertionsSigned"), Some("true"));
    assert_eq!(d.attribute("AuthnRequestsSigned"), Some("true"));
    assert_eq!(d.attribute("protocolSupportEnumeration"), Some(SAMLP));
    let kds: Vec<_> = d
        .children()
        .filter(|n| n.has_tag_name((MD, "KeyDescriptor")))
        .collect();
    let uses: Vec<_> = kds.iter().map(|k| k.attribute("use").unwrap()).collect();
    assert_eq!(uses, ["signing", "signing", "encryption", "encryption"]);
    let certs: Vec<Vec<u8>> = kds
        .iter()
        .map(|k| {
            let t = k
                .descendants()
                .find(|n| n.has_tag_name(("http://www.w3.org/2000/09/xmldsig#", "X509Certificate")))
                .unwrap()
                .text()
                .unwrap();
            base64::engine::general_purpose::STANDARD.decode(t).unwrap()
        })
        .collect();
    assert_eq!(certs, [cert("sp"), cert("sp2"), cert("sp"), cert("sp2")]);
    let formats: Vec<_> = d
        .children()
        .filter(|n| n.has_tag_name((MD, "NameIDFormat")))
        .map(|n| n.text().unwrap())
        .collect();
    assert_eq!(
        formats,
        [
            "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
            "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
        ]
    );
    let acs = d
        .children()
        .find(|n| n.has_tag_name((MD, "AssertionConsumerService")))
        .unwrap();
    assert_eq!(acs.attribute("Location"), Some(ACS));
    assert_eq!(
        acs.attribute("Binding"),
        Some("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST")
    );
    // The metadata parser of this crate reads it as a well-formed entity.
    let no_keys = sp_metadata_xml(&ServiceProvider::new(SP_ENTITY, ACS), false).unwrap();
    assert!(!no_keys.contains("KeyDescriptor"));
    assert!(no_keys.contains(r#"AuthnRequestsSigned="false""#));
}

#[test]
fn sp_key_pairs_are_checked_and_redacted() {
    use enterprise_sso_protocol::saml::sp::KeyError;
    let kp = SpKeyPair::from_pem(&corpus("sp.key.pem"), &corpus("sp.cert.pem")).unwrap();
    let debug = format!("{kp:?}");
    assert!(debug.contains("<redacted>"));
    assert!(!debug.contains("PRIVATE"));
    assert_eq!(
        SpKeyPair::from_pem(&corpus("sp.key.pem"), &corpus("sp2.cert.pem")).unwrap_err(),
        KeyError::Mismatch
    );
    assert_eq!(
        SpKeyPair::from_pem(&corpus("weak1024.key.pem"), &corpus("weak1024.cert.pem")).unwrap_err(),
        KeyError::TooShort { bits: 1024 }
    );
    assert_eq!(
        SpKeyPair::from_pem(&corpus("sp.cert.pem"), &corpus("sp.cert.pem")).unwrap_err(),
        KeyError::NotAPrivateKey
    );
    assert_eq!(
        SpKeyPair::from_pem(&corpus("idp-p256.key.pem"), &corpus("idp-p256.cert.pem")).unwrap_err(),
        KeyError::NotAPrivateKey
    );
}
