//! The assertion is read from the verified node itself, not from a second parse of the
//! canonical bytes its digest covers (saml/sp/read.rs says why the two are the same).
//! These cases are what canonicalization drops or rewrites, in the values the reader
//! takes: each is read both ways (`verify_xml_reparsed`, feature `testing`), the answers
//! must be equal, and the values whole; what would be ambiguous is refused.
#![allow(clippy::unwrap_used)]

mod saml_sp_support;

use saml_sp_support::*;

/// Both reads of the verified assertion, from the node and from a second parse of the
/// digested canonical bytes: equal, and the identity when accepted.
fn both_reads(xml: &str) -> Result<enterprise_sso_protocol::saml::sp::VerifiedAssertion, String> {
    let v = verifier();
    let node = v.verify_xml(xml.as_bytes(), NOW);
    let reparsed = v.verify_xml_reparsed(xml.as_bytes(), NOW);
    assert_eq!(node, reparsed, "node read and reparsed read differ");
    node.map_err(|e| e.code().to_owned())
}

#[test]
fn identity_read_from_the_verified_node_is_the_digested_content() {
    // What the canonical form drops or rewrites, in every value the reader takes, signed
    // by the IdP or added after signing, in all three signing shapes: the node read and
    // the read of the canonical bytes agree, and the value is the full text.
    let marked = |name_id: &str| Spec {
        name_id: name_id.into(),
        ..Spec::default()
    };
    for spec in [
        marked("jane@acme.com<!-- a -->.evil.com"),
        marked("jane&#64;acme.com.evil.com"),
        marked("jane@acme.com<![CDATA[.evil]]>.com"),
        marked("jane@acme.com&#13;&#10;.evil.com"),
        marked("  jane@acme.com.evil.com\n  "),
    ] {
        for xml in [
            spec.signed_assertion(),
            spec.signed_response(),
            spec.signed_both(),
        ] {
            let a = both_reads(&xml).unwrap();
            assert!(
                a.name_id.starts_with("jane@acme.com") && a.name_id.ends_with(".com"),
                "{:?}",
                a.name_id
            );
            assert_eq!(a.attribute("email").unwrap()[0].trim(), a.name_id);
        }
    }
    let signed = Spec::default().signed_assertion();
    let response_signed = Spec::default().signed_response();
    for xml in [&signed, &response_signed] {
        // A commented-out second NameID, Subject or Attribute added after signing: the
        // comments are outside the digest, and outside what the reader sees.
        for (anchor, insert) in [
            ("<saml:NameID ", "<!--<saml:NameID>attacker@evil.example</saml:NameID>-->"),
            ("<saml:Subject>", "<!--<saml:Subject/>-->"),
            ("<saml:Attribute ", "<!--<saml:Attribute Name=\"email\"><saml:AttributeValue>x</saml:AttributeValue></saml:Attribute>-->"),
        ] {
            let at = xml.find(anchor).unwrap();
            let attacked = format!("{}{insert}{}", &xml[..at], &xml[at..]);
            let a = both_reads(&attacked).unwrap();
            assert_eq!(a.name_id, "jane@acme.com");
            assert_eq!(a.attribute("email").unwrap(), ["jane@acme.com".to_owned()]);
        }
        // A second NameID or an element inside the value, added after signing: the
        // digest no longer matches.
        let attacked = xml.replacen(
            "</saml:NameID>",
            "</saml:NameID><saml:NameID>attacker@evil.example</saml:NameID>",
            1,
        );
        assert_eq!(both_reads(&attacked).unwrap_err(), "saml_digest_mismatch");
        // A NameID whose prefix is rebound to another namespace: not a SAML NameID.
        let attacked = xml.replacen("<saml:NameID ", "<saml:NameID xmlns:saml=\"urn:evil\" ", 1);
        assert!(both_reads(&attacked).is_err());
    }
    // Signed by the IdP: a second NameID, a NameID in another namespace, an element
    // inside a value. Refused (ambiguous), never one of the two picked.
    let spec = Spec::default();
    let two_name_ids = spec.response().replacen(
        "</saml:NameID>",
        "</saml:NameID><saml:NameID>attacker@evil.example</saml:NameID>",
        1,
    );
    let markup = spec.response().replacen(
        "jane@acme.com</saml:NameID>",
        "jane@acme.com<saml:X/></saml:NameID>",
        1,
    );
    for unsigned in [two_name_ids, markup] {
        for id in [&spec.assertion_id, &spec.response_id] {
            let xml = sign(&unsigned, id, &signer("idp"), &SigOpts::default());
            assert!(both_reads(&xml).is_err(), "{id}: {xml}");
        }
    }
}
