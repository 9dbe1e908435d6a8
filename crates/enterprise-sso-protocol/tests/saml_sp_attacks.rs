//! The SAML attack catalogue against the Response verifier: each case starts from a
//! valid signed response, applies one attack, and must be refused with its typed reason
//! (or, for the comment-in-NameID family, yield exactly the signed value).
#![allow(clippy::unwrap_used)]

mod saml_sp_support;

use enterprise_sso_protocol::saml::sp::{
    Refusal, ResponseVerifier, SignedElement, MAX_BASE64_BYTES,
};
use saml_sp_support::*;

fn evil() -> Spec {
    Spec {
        assertion_id: "_evil".into(),
        response_id: "_evilresp".into(),
        name_id: "attacker@evil.example".into(),
        ..Spec::default()
    }
}

fn code(xml: &str) -> String {
    outcome(&verifier(), xml, NOW)
}

fn assert_refused(name: &str, xml: &str, allowed: &[&str]) {
    let got = code(xml);
    assert!(
        allowed.contains(&got.as_str()),
        "{name}: got {got}, expected one of {allowed:?}"
    );
}

/// The `ds:Signature` element text inside `xml` that follows `after` (first one).
fn signature_of(xml: &str, after: usize) -> (usize, usize) {
    let start = after + xml[after..].find("<ds:Signature").unwrap();
    let end = start + xml[start..].find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    (start, end)
}

fn without_signature(element: &str) -> String {
    let (s, e) = signature_of(element, 0);
    format!("{}{}", &element[..s], &element[e..])
}

/// Inserts `what` right after the first `</saml:Issuer>` of `element`.
fn after_issuer(element: &str, what: &str) -> String {
    let i = element.find("</saml:Issuer>").unwrap() + "</saml:Issuer>".len();
    format!("{}{}{}", &element[..i], what, &element[i..])
}

#[test]
fn control_is_accepted() {
    assert_eq!(code(&Spec::default().signed_assertion()), "accepted");
    assert_eq!(code(&Spec::default().signed_response()), "accepted");
}

#[test]
fn xml_signature_wrapping_assertion_signed() {
    let signed = Spec::default().signed_assertion();
    let r = element_range(&signed, "_assert1");
    let orig = &signed[r.clone()];
    let evil_a = evil().assertion();
    let with =
        |assertions: &str| format!("{}{}{}", &signed[..r.start], assertions, &signed[r.end..]);
    let (ss, se) = signature_of(orig, 0);
    let orig_sig = &orig[ss..se];
    let orig_unsigned = without_signature(orig);

    // XSW3: evil assertion before the signed one.
    assert_refused(
        "XSW3",
        &with(&format!("{evil_a}{orig}")),
        &["saml_assertion_count"],
    );
    // Second unsigned assertion after the signed one.
    assert_refused(
        "second assertion",
        &with(&format!("{orig}{evil_a}")),
        &["saml_assertion_count"],
    );
    // XSW4: the signed assertion inside the evil one.
    let close = evil_a.rfind("</saml:Assertion>").unwrap();
    let xsw4 = format!("{}{}{}", &evil_a[..close], orig, &evil_a[close..]);
    assert_refused(
        "XSW4",
        &with(&xsw4),
        &["saml_assertion_count", "saml_signature_misplaced"],
    );
    // XSW5: the original signature copied into the evil assertion, original kept.
    let evil_signed_copy = after_issuer(&evil_a, orig_sig);
    assert_refused(
        "XSW5",
        &with(&format!("{evil_signed_copy}{orig_unsigned}")),
        &["saml_assertion_count"],
    );
    // XSW5 without the original: the copied signature names another ID.
    assert_refused(
        "XSW5b",
        &with(&evil_signed_copy),
        &["saml_reference_uri_mismatch"],
    );
    // XSW5c: the copy renamed to the original's ID: the digest no longer matches.
    let renamed = evil_signed_copy.replace("ID=\"_evil\"", "ID=\"_assert1\"");
    assert_refused("XSW5c", &with(&renamed), &["saml_digest_mismatch"]);
    // XSW6: evil assertion whose copied signature holds the original in an Object.
    let sig_with_object = orig_sig.replace(
        "</ds:Signature>",
        &format!("<ds:Object>{orig}</ds:Object></ds:Signature>"),
    );
    assert_refused(
        "XSW6",
        &with(&after_issuer(&evil_a, &sig_with_object)),
        &[
            "saml_assertion_count",
            "saml_signature_misplaced",
            "saml_signature_structure",
        ],
    );
    // XSW8: like XSW6 with the original's signature removed inside the Object.
    let sig_with_object = orig_sig.replace(
        "</ds:Signature>",
        &format!("<ds:Object>{orig_unsigned}</ds:Object></ds:Signature>"),
    );
    assert_refused(
        "XSW8",
        &with(&after_issuer(&evil_a, &sig_with_object)),
        &["saml_assertion_count", "saml_signature_structure"],
    );
    // XSW7: the signed assertion hidden in Extensions, the evil one a direct child.
    let xsw7 = format!("<samlp:Extensions>{orig}</samlp:Extensions>{evil_a}");
    assert_refused(
        "XSW7",
        &with(&xsw7),
        &["saml_assertion_count", "saml_signature_misplaced"],
    );
    // The signed assertion under Extensions alone.
    let hidden = format!("<samlp:Extensions>{orig}</samlp:Extensions>");
    assert_refused("hidden", &with(&hidden), &["saml_assertion_count"]);
}

#[test]
fn xml_signature_wrapping_response_signed() {
    let signed = Spec::default().signed_response();
    let r = element_range(&signed, "_resp1");
    let orig = &signed[r.clone()];
    let (ss, se) = signature_of(orig, 0);
    let orig_sig = &orig[ss..se];
    let orig_unsigned = without_signature(orig);
    let evil_resp = evil().response();
    let er = element_range(&evil_resp, "_evilresp");
    let evil_el = &evil_resp[er.clone()];
    let rebuild = |el: &str| format!("{}{}{}", &evil_resp[..er.start], el, &evil_resp[er.end..]);

    // XSW1: evil Response carrying the original signature, original Response in Object.
    let sig = orig_sig.replace(
        "</ds:Signature>",
        &format!("<ds:Object>{orig_unsigned}</ds:Object></ds:Signature>"),
    );
    assert_refused(
        "XSW1",
        &rebuild(&after_issuer(evil_el, &sig)),
        &["saml_assertion_count", "saml_signature_structure"],
    );
    // XSW2: the original Response as a sibling before the copied signature.
    let xsw2 = after_issuer(evil_el, &format!("{orig_unsigned}{orig_sig}"));
    assert_refused(
        "XSW2",
        &rebuild(&xsw2),
        &[
            "saml_assertion_count",
            "saml_signature_misplaced",
            "saml_unexpected_element",
        ],
    );
    // The copied signature alone on the evil Response: it names another ID.
    assert_refused(
        "copied",
        &rebuild(&after_issuer(evil_el, orig_sig)),
        &["saml_reference_uri_mismatch"],
    );
    // Evil Response renamed to the original ID with the copied signature.
    let renamed = after_issuer(evil_el, orig_sig).replace("ID=\"_evilresp\"", "ID=\"_resp1\"");
    assert_refused("renamed", &rebuild(&renamed), &["saml_digest_mismatch"]);
}

#[test]
fn duplicate_ids_refused() {
    let signed = Spec::default().signed_assertion();
    let with_ext = signed.replacen(
        "<samlp:Status>",
        "<samlp:Extensions><x ID=\"_assert1\"/></samlp:Extensions><samlp:Status>",
        1,
    );
    assert_eq!(
        verifier().verify_xml(with_ext.as_bytes(), NOW).unwrap_err(),
        Refusal::DuplicateId {
            id: "_assert1".into()
        }
    );
    let same = Spec {
        response_id: "_same".into(),
        assertion_id: "_same".into(),
        ..Spec::default()
    };
    assert_refused(
        "response = assertion ID",
        &same.signed_assertion(),
        &["saml_duplicate_id"],
    );
}

#[test]
fn signature_placement() {
    let signed = Spec::default().signed_assertion();
    let r = element_range(&signed, "_assert1");
    let orig = &signed[r.clone()];
    let (ss, se) = signature_of(orig, 0);
    let sig = &orig[ss..se];
    let unsigned = without_signature(orig);
    let with = |a: &str| format!("{}{}{}", &signed[..r.start], a, &signed[r.end..]);
    // After Subject instead of after Issuer.
    let i = unsigned.find("</saml:Subject>").unwrap() + "</saml:Subject>".len();
    let moved = format!("{}{}{}", &unsigned[..i], sig, &unsigned[i..]);
    assert_refused(
        "after Subject",
        &with(&moved),
        &["saml_signature_misplaced"],
    );
    // Before Issuer.
    let i = unsigned.find("<saml:Issuer>").unwrap();
    let first = format!("{}{}{}", &unsigned[..i], sig, &unsigned[i..]);
    assert_refused(
        "before Issuer",
        &with(&first),
        &["saml_signature_misplaced"],
    );
    // Inside Subject.
    let i = unsigned.find("<saml:NameID").unwrap();
    let inside = format!("{}{}{}", &unsigned[..i], sig, &unsigned[i..]);
    assert_refused(
        "inside Subject",
        &with(&inside),
        &["saml_signature_misplaced"],
    );
    // Two signatures on the assertion.
    let twice = after_issuer(orig, sig);
    assert_refused("twice", &with(&twice), &["saml_duplicate_signature"]);
    // A signature in Extensions of the Response.
    let ext = signed.replacen(
        "<samlp:Status>",
        &format!("<samlp:Extensions>{sig}</samlp:Extensions><samlp:Status>"),
        1,
    );
    assert_refused("in Extensions", &ext, &["saml_signature_misplaced"]);
}

#[test]
fn signature_shape_cves() {
    let spec = Spec::default();
    let base = spec.signed_assertion();
    let (ss, se) = signature_of(&base, element_range(&base, "_assert1").start);
    let sig = &base[ss..se];
    let replace_sig = |new: &str| format!("{}{}{}", &base[..ss], new, &base[se..]);
    let si_start = sig.find("<ds:SignedInfo>").unwrap();
    let si_end = sig.find("</ds:SignedInfo>").unwrap() + "</ds:SignedInfo>".len();
    let signed_info = &sig[si_start..si_end];

    // Two SignedInfo (CVE-2025-29774): one more after the first, or in KeyInfo.
    let two = sig.replacen(signed_info, &format!("{signed_info}{signed_info}"), 1);
    assert_refused(
        "two SignedInfo",
        &replace_sig(&two),
        &["saml_signature_structure"],
    );
    let in_key_info = sig.replace("<ds:KeyInfo>", &format!("<ds:KeyInfo>{signed_info}"));
    assert_refused(
        "SignedInfo in KeyInfo",
        &replace_sig(&in_key_info),
        &["saml_signature_structure"],
    );
    // Object in Signature.
    let object = sig.replace(
        "</ds:Signature>",
        "<ds:Object><x/></ds:Object></ds:Signature>",
    );
    assert_refused(
        "Object",
        &replace_sig(&object),
        &["saml_signature_structure"],
    );
    // A stray DigestValue (CVE-2024-45409), in SignedInfo or in KeyInfo.
    let stray = sig.replace(
        "</ds:Reference>",
        "</ds:Reference><ds:DigestValue>AAAA</ds:DigestValue>",
    );
    assert_refused(
        "stray DigestValue",
        &replace_sig(&stray),
        &["saml_signature_structure"],
    );
    let stray = sig.replace(
        "<ds:KeyInfo>",
        "<ds:KeyInfo><ds:DigestValue>AAAA</ds:DigestValue>",
    );
    assert_refused(
        "stray DigestValue 2",
        &replace_sig(&stray),
        &["saml_signature_structure"],
    );
    // ... or outside the signature, before it (where `//ds:DigestValue` finds it first).
    let stray = base.replacen(
        "<samlp:Status>",
        "<samlp:Extensions><ds:DigestValue xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">AAAA</ds:DigestValue></samlp:Extensions><samlp:Status>",
        1,
    );
    assert_refused("stray DigestValue 3", &stray, &["saml_signature_misplaced"]);
    // A commented DigestValue (CVE-2025-29775).
    let commented = sig.replace("<ds:DigestValue>", "<ds:DigestValue><!--AAAA-->");
    assert_refused(
        "commented DigestValue",
        &replace_sig(&commented),
        &["saml_signature_structure"],
    );
    // Two References (signed: a valid signature over a SignedInfo with two).
    let o = SigOpts {
        signed_info_extra: format!(
            r##"<ds:Reference URI="#_evil"><ds:Transforms><ds:Transform Algorithm="{ENVELOPED}"/><ds:Transform Algorithm="{EXC_C14N}"/></ds:Transforms><ds:DigestMethod Algorithm="{SHA256}"/><ds:DigestValue>AAAA</ds:DigestValue></ds:Reference>"##
        ),
        ..SigOpts::default()
    };
    let two_refs = sign(&spec.response(), "_assert1", &signer("idp"), &o);
    assert_refused("two References", &two_refs, &["saml_signature_structure"]);
}

#[test]
fn reference_and_transforms() {
    let spec = Spec::default();
    let cases: Vec<(&str, SigOpts, &str)> = vec![
        (
            "empty URI",
            SigOpts {
                reference_uri: Some(String::new()),
                ..SigOpts::default()
            },
            "saml_reference_uri_mismatch",
        ),
        (
            "other URI",
            SigOpts {
                reference_uri: Some("#_resp1".into()),
                ..SigOpts::default()
            },
            "saml_reference_uri_mismatch",
        ),
        (
            "XPointer",
            SigOpts {
                reference_uri: Some("#xpointer(/)".into()),
                ..SigOpts::default()
            },
            "saml_reference_uri_mismatch",
        ),
        (
            "enveloped only",
            SigOpts {
                transforms: Some(format!(
                    r#"<ds:Transforms><ds:Transform Algorithm="{ENVELOPED}"/></ds:Transforms>"#
                )),
                ..SigOpts::default()
            },
            "saml_transforms_not_allowed",
        ),
        (
            "with comments",
            SigOpts {
                transforms: Some(format!(
                    r#"<ds:Transforms><ds:Transform Algorithm="{ENVELOPED}"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#WithComments"/></ds:Transforms>"#
                )),
                ..SigOpts::default()
            },
            "saml_transforms_not_allowed",
        ),
        (
            "XPath",
            SigOpts {
                transforms: Some(format!(
                    r#"<ds:Transforms><ds:Transform Algorithm="{ENVELOPED}"/><ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116"><ds:XPath>/</ds:XPath></ds:Transform><ds:Transform Algorithm="{EXC_C14N}"/></ds:Transforms>"#
                )),
                ..SigOpts::default()
            },
            "saml_transforms_not_allowed",
        ),
        (
            "XSLT",
            SigOpts {
                transforms: Some(format!(
                    r#"<ds:Transforms><ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xslt-19991116"/><ds:Transform Algorithm="{EXC_C14N}"/></ds:Transforms>"#
                )),
                ..SigOpts::default()
            },
            "saml_transforms_not_allowed",
        ),
        (
            "inclusive c14n",
            SigOpts {
                transforms: Some(format!(
                    r#"<ds:Transforms><ds:Transform Algorithm="{ENVELOPED}"/><ds:Transform Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/></ds:Transforms>"#
                )),
                ..SigOpts::default()
            },
            "saml_transforms_not_allowed",
        ),
        (
            "HMAC",
            SigOpts {
                signature_method: HMAC_SHA1.into(),
                ..SigOpts::default()
            },
            "saml_signature_algorithm_not_allowed",
        ),
        (
            "rsa-sha1",
            SigOpts {
                signature_method: RSA_SHA1.into(),
                ..SigOpts::default()
            },
            "saml_sha1_not_allowed",
        ),
        (
            "sha1 digest",
            SigOpts {
                digest_method: SHA1.into(),
                ..SigOpts::default()
            },
            "saml_sha1_not_allowed",
        ),
        (
            "md5 digest",
            SigOpts {
                digest_method: "http://www.w3.org/2001/04/xmldsig-more#md5".into(),
                ..SigOpts::default()
            },
            "saml_digest_algorithm_not_allowed",
        ),
    ];
    for (name, o, want) in cases {
        let xml = sign(&spec.response(), "_assert1", &signer("idp"), &o);
        assert_eq!(code(&xml), want, "{name}");
    }
    // CanonicalizationMethod with comments.
    let xml = spec.signed_assertion().replace(
        &format!(r#"<ds:CanonicalizationMethod Algorithm="{EXC_C14N}"/>"#),
        r#"<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#WithComments"/>"#,
    );
    assert_eq!(code(&xml), "saml_canonicalization_not_allowed");
}

#[test]
fn sha1_only_with_the_opt_in() {
    let o = SigOpts {
        signature_method: RSA_SHA1.into(),
        digest_method: SHA1.into(),
        ..SigOpts::default()
    };
    let xml = sign(&Spec::default().response(), "_assert1", &signer("idp"), &o);
    assert_eq!(code(&xml), "saml_sha1_not_allowed");
    let v = verifier().insecure_allow_sha1();
    assert_eq!(outcome(&v, &xml, NOW), "accepted");
}

#[test]
fn keys_only_from_the_configured_set() {
    let spec = Spec::default();
    // Attacker key, attacker certificate in KeyInfo (CVE-2024-32962).
    let o = SigOpts {
        key_info_certs: vec![cert("attacker")],
        ..SigOpts::default()
    };
    let xml = sign(&spec.response(), "_assert1", &signer("attacker"), &o);
    assert_refused("attacker cert", &xml, &["saml_certificate_not_trusted"]);
    // Attacker key, the IdP's certificate in KeyInfo.
    let o = SigOpts::default();
    let xml = sign(&spec.response(), "_assert1", &signer("attacker"), &o);
    assert_refused("attacker key, idp cert", &xml, &["saml_signature_invalid"]);
    // Attacker key, no KeyInfo.
    let o = SigOpts {
        key_info_certs: vec![],
        ..SigOpts::default()
    };
    let xml = sign(&spec.response(), "_assert1", &signer("attacker"), &o);
    assert_refused(
        "attacker key, no KeyInfo",
        &xml,
        &["saml_signature_invalid"],
    );
    // Another connection's IdP (tenant crossing): signed by idp2, connection trusts idp.
    let o = SigOpts {
        key_info_certs: vec![cert("idp2")],
        ..SigOpts::default()
    };
    let xml = sign(&spec.response(), "_assert1", &signer("idp2"), &o);
    assert_refused("other tenant", &xml, &["saml_certificate_not_trusted"]);
    // Response signed by the attacker over an unsigned assertion.
    let o = SigOpts {
        key_info_certs: vec![cert("attacker")],
        ..SigOpts::default()
    };
    let xml = sign(&spec.response(), "_resp1", &signer("attacker"), &o);
    assert_refused("attacker response", &xml, &["saml_certificate_not_trusted"]);
    // A valid assertion signature does not excuse a bad Response signature.
    let xml = sign(
        &spec.signed_assertion(),
        "_resp1",
        &signer("attacker"),
        &SigOpts {
            key_info_certs: vec![],
            ..SigOpts::default()
        },
    );
    assert_refused("bad response sig", &xml, &["saml_signature_invalid"]);
}

#[test]
fn unsigned_and_tampered() {
    let spec = Spec::default();
    assert_eq!(
        verifier()
            .verify_xml(spec.response().as_bytes(), NOW)
            .unwrap_err(),
        Refusal::Unsigned
    );
    let signed = spec.signed_assertion();
    let tampered = signed.replace(">jane@acme.com<", ">admin@acme.com<");
    assert_refused("tampered NameID", &tampered, &["saml_digest_mismatch"]);
    let tampered = signed.replacen(SP_ENTITY, "https://other-sp.example", 1);
    assert_refused("tampered audience", &tampered, &["saml_digest_mismatch"]);
    // Tampered DigestValue: the digest no longer matches.
    let i = signed.find("<ds:DigestValue>").unwrap() + "<ds:DigestValue>".len();
    let mut t = signed.clone().into_bytes();
    t[i] = if t[i] == b'A' { b'B' } else { b'A' };
    assert_refused(
        "tampered DigestValue",
        &String::from_utf8(t).unwrap(),
        &["saml_digest_mismatch"],
    );
    // Tampered SignatureValue.
    let i = signed.find("<ds:SignatureValue>").unwrap() + "<ds:SignatureValue>".len() + 10;
    let mut t = signed.clone().into_bytes();
    t[i] = if t[i] == b'A' { b'B' } else { b'A' };
    assert_refused(
        "tampered SignatureValue",
        &String::from_utf8(t).unwrap(),
        &["saml_signature_invalid"],
    );
    // Response signed only: the assertion inside cannot change.
    let signed = spec.signed_response();
    let tampered = signed.replace(">jane@acme.com<", ">admin@acme.com<");
    assert_refused(
        "tampered under response sig",
        &tampered,
        &["saml_digest_mismatch"],
    );
}

#[test]
fn comment_and_pi_in_name_id() {
    // CVE-2017-11427 family: the IdP signed "jane@acme.com.evil.com"; the attacker adds
    // a comment. The comment is outside the signature (c14n drops it); the value read
    // must be the full text, never "jane@acme.com".
    let spec = Spec {
        name_id: "jane@acme.com.evil.com".into(),
        ..Spec::default()
    };
    let signed = spec.signed_assertion();
    let attacked = signed.replace(
        ">jane@acme.com.evil.com</saml:NameID>",
        ">jane@acme.com<!---->.evil.com</saml:NameID>",
    );
    assert_ne!(attacked, signed);
    let a = verifier().verify_xml(attacked.as_bytes(), NOW).unwrap();
    assert_eq!(a.name_id, "jane@acme.com.evil.com");
    // Same in an attribute value.
    let attacked = signed.replace(
        ">jane@acme.com.evil.com</saml:AttributeValue>",
        ">jane@acme.com<!-- x -->.evil.com</saml:AttributeValue>",
    );
    let a = verifier().verify_xml(attacked.as_bytes(), NOW).unwrap();
    assert_eq!(
        a.attribute("email"),
        Some(&["jane@acme.com.evil.com".to_owned()][..])
    );
    // Signed with the comment in place: still the full text.
    let spec = Spec {
        name_id: "jane@acme.com<!---->.evil.com".into(),
        ..Spec::default()
    };
    let a = verifier()
        .verify_xml(spec.signed_assertion().as_bytes(), NOW)
        .unwrap();
    assert_eq!(a.name_id, "jane@acme.com.evil.com");
    // Also with the Response signature only.
    let a = verifier()
        .verify_xml(spec.signed_response().as_bytes(), NOW)
        .unwrap();
    assert_eq!(a.name_id, "jane@acme.com.evil.com");
    // A processing instruction inserted after signing breaks the digest (c14n keeps PIs);
    // one the IdP signed is refused as markup in a value.
    let attacked = signed.replace(
        ">jane@acme.com.evil.com</saml:NameID>",
        ">jane@acme.com<?x?>.evil.com</saml:NameID>",
    );
    assert_refused("PI added", &attacked, &["saml_digest_mismatch"]);
    let spec = Spec {
        name_id: "jane@acme.com<?x?>.evil.com".into(),
        ..Spec::default()
    };
    assert_refused(
        "PI signed",
        &spec.signed_assertion(),
        &["saml_markup_in_value"],
    );
    // CDATA is text.
    let spec = Spec {
        name_id: "jane@acme.com<![CDATA[.evil.com]]>".into(),
        ..Spec::default()
    };
    let a = verifier()
        .verify_xml(spec.signed_assertion().as_bytes(), NOW)
        .unwrap();
    assert_eq!(a.name_id, "jane@acme.com.evil.com");
}

#[test]
fn hostile_documents() {
    let signed = Spec::default().signed_assertion();
    // DOCTYPE with an entity.
    let body = signed.trim_start_matches(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let dtd = format!(r#"<!DOCTYPE r [<!ENTITY e "x">]>{body}"#);
    assert_eq!(code(&dtd), "saml_doctype");
    let dtd = format!(r#"<!DOCTYPE samlp:Response SYSTEM "http://evil.example/x.dtd">{body}"#);
    assert_eq!(code(&dtd), "saml_doctype");
    // Two roots (CVE-2022-39299).
    assert_eq!(code(&format!("{signed}{}", body)), "saml_malformed_xml");
    // Not a Response.
    assert_eq!(
        code("<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\"/>"),
        "saml_not_a_response"
    );
    assert_eq!(code("<Response/>"), "saml_not_a_response");
    // Not UTF-8, not XML, empty.
    assert_eq!(
        verifier()
            .verify_xml(&[0xff, 0xfe, 0x3c, 0x00], NOW)
            .unwrap_err()
            .code(),
        "saml_not_utf8"
    );
    assert_eq!(code("not xml"), "saml_malformed_xml");
    assert_eq!(code(""), "saml_malformed_xml");
    // Deep nesting inside a signed value.
    let deep = format!("{}x{}", "<a>".repeat(40), "</a>".repeat(40));
    let spec = Spec::default();
    let xml = spec.response().replacen(
        "<saml:AttributeValue>admins",
        &format!("<saml:AttributeValue>{deep}admins"),
        1,
    );
    let xml = sign(&xml, "_assert1", &signer("idp"), &SigOpts::default());
    assert_eq!(code(&xml), "saml_xml_limit");
    let deeper = format!("{}x{}", "<a>".repeat(100), "</a>".repeat(100));
    let xml = signed.replacen(
        "<samlp:Status>",
        &format!("<samlp:Extensions>{deeper}</samlp:Extensions><samlp:Status>"),
        1,
    );
    assert_eq!(code(&xml), "saml_xml_limit");
    // Many nodes.
    let many = "<a/>".repeat(30_000);
    let xml = signed.replacen(
        "<samlp:Status>",
        &format!("<samlp:Extensions>{many}</samlp:Extensions><samlp:Status>"),
        1,
    );
    assert_eq!(code(&xml), "saml_xml_limit");
}

#[test]
fn size_caps() {
    let v: ResponseVerifier = verifier();
    let signed = Spec::default().signed_assertion();
    // Decoded over 192 KiB.
    let pad = " ".repeat(200 * 1024);
    let big = signed.replacen("<samlp:Status>", &format!("{pad}<samlp:Status>"), 1);
    let r = v.verify_xml(big.as_bytes(), NOW).unwrap_err();
    assert_eq!(r.code(), "saml_too_large");
    // Base64 over 256 KiB is refused before decoding.
    let b64 = "A".repeat(MAX_BASE64_BYTES + 1);
    let r = v.verify_post(&b64, NOW).unwrap_err();
    assert!(matches!(r, Refusal::TooLarge { received, .. } if received == MAX_BASE64_BYTES + 1));
    assert_eq!(
        v.verify_post("not base64!", NOW).unwrap_err().code(),
        "saml_not_base64"
    );
    // Line-broken base64 (as some IdPs post it) is fine.
    let wrapped: String = post(&signed)
        .as_bytes()
        .chunks(76)
        .map(|c| format!("{}\r\n", std::str::from_utf8(c).unwrap()))
        .collect();
    assert!(v.verify_post(&wrapped, NOW).is_ok());
}

#[test]
fn quadratic_namespace_blowup_is_capped() {
    // A long namespace URI declared once and used by many siblings: exclusive c14n
    // repeats the declaration on each (2,000 x 60 KB here); the canonical form the
    // Response signature's digest needs is capped, and refused quickly.
    let uri = format!("urn:{}", "u".repeat(60_000));
    let kids = "<p:k/>".repeat(2_000);
    let xml = Spec::default().signed_response().replacen(
        "<samlp:Status>",
        &format!("<samlp:Extensions xmlns:p=\"{uri}\">{kids}</samlp:Extensions><samlp:Status>"),
        1,
    );
    let t = std::time::Instant::now();
    assert_eq!(code(&xml), "saml_xml_limit");
    assert!(t.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn assertion_nested_anywhere_is_refused_even_when_signed() {
    // A second, unsigned assertion under Extensions, the whole Response validly signed:
    // the document must hold exactly one assertion, the direct child.
    let spec = Spec::default();
    let nested = evil().assertion();
    let xml = spec.response().replacen(
        "<samlp:Status>",
        &format!("<samlp:Extensions>{nested}</samlp:Extensions><samlp:Status>"),
        1,
    );
    let xml = sign(&xml, "_resp1", &signer("idp"), &SigOpts::default());
    assert_eq!(
        verifier().verify_xml(xml.as_bytes(), NOW).unwrap_err(),
        Refusal::AssertionCount {
            count: 2,
            misplaced: true
        }
    );
    // An EncryptedAssertion beside the Assertion.
    let xml = spec.response().replacen(
        "<samlp:Status>",
        "<samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/></samlp:Status><saml:EncryptedAssertion/><samlp:Status>",
        1,
    );
    assert_refused(
        "encrypted beside",
        &xml,
        &["saml_assertion_count", "saml_missing_element"],
    );
}

#[test]
fn response_signature_moved_to_another_namespace_is_refused() {
    // Found by the mutation property: one byte in the Response signature's namespace
    // URI turns it into an unknown element; the Response would then count as unsigned
    // (identity still from the signed assertion). The schema's children are enforced.
    let both = Spec::default().signed_both();
    let i = both.find("xmldsig#\">").unwrap() + "xmldsig".len();
    let mut m = both.clone().into_bytes();
    m[i] = b'>';
    let m = String::from_utf8(m).unwrap();
    assert_eq!(
        verifier().verify_xml(m.as_bytes(), NOW).unwrap_err().code(),
        "saml_unexpected_element"
    );
    let stray = Spec::default().signed_assertion().replacen(
        "<samlp:Status>",
        "<x:Junk xmlns:x=\"urn:x\"/><samlp:Status>",
        1,
    );
    assert_eq!(code(&stray), "saml_unexpected_element");
}

#[test]
fn an_assertion_signature_is_checked_under_a_valid_response_signature() {
    // Both digests come from one canonicalization walk when both are signed: the
    // Assertion's own signature must still hold on its own. Here the IdP's Response
    // signature is valid over an Assertion whose own signature no longer matches it
    // (its NameID changed after it was signed), and then over one whose SignatureValue
    // belongs to other content.
    let spec = Spec::default();
    let tampered = spec
        .signed_assertion()
        .replacen("jane@acme.com", "mallory@acme.com", 1);
    let xml = sign(
        &tampered,
        &spec.response_id,
        &signer("idp"),
        &SigOpts::default(),
    );
    match verifier().verify_xml(xml.as_bytes(), NOW) {
        Err(Refusal::DigestMismatch { element }) => assert_eq!(element, SignedElement::Assertion),
        other => panic!("{other:?}"),
    }
    // The Assertion's digest holds, its signature over SignedInfo does not.
    let other = Spec {
        name_id: "other@acme.com".into(),
        ..Spec::default()
    }
    .signed_assertion();
    let value = |xml: &str| {
        let start = xml.find("<ds:SignatureValue>").unwrap() + "<ds:SignatureValue>".len();
        let end = xml[start..].find("</ds:SignatureValue>").unwrap() + start;
        xml[start..end].to_owned()
    };
    let swapped =
        spec.signed_assertion()
            .replacen(&value(&spec.signed_assertion()), &value(&other), 1);
    let xml = sign(
        &swapped,
        &spec.response_id,
        &signer("idp"),
        &SigOpts::default(),
    );
    match verifier().verify_xml(xml.as_bytes(), NOW) {
        Err(Refusal::SignatureInvalid { element }) => {
            assert_eq!(element, SignedElement::Assertion)
        }
        other => panic!("{other:?}"),
    }
    // The control: both signatures hold.
    assert!(verifier()
        .verify_xml(spec.signed_both().as_bytes(), NOW)
        .is_ok());
}
