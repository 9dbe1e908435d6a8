//! The Response verifier on valid responses (every signing and encryption shape it
//! accepts) and on each semantic rule: the control passes, the one-field change is
//! refused with its typed reason.
#![allow(clippy::unwrap_used)]

mod saml_sp_support;

use std::time::Duration;

use enterprise_sso_protocol::saml::sp::{
    IdentityProvider, Refusal, ResponseVerifier, SignedElement, SignedParts,
};
use saml_sp_support::*;

#[test]
fn signed_assertion_is_accepted_with_its_identity() {
    let xml = Spec::default().signed_assertion();
    let a = verifier().verify_xml(xml.as_bytes(), NOW).unwrap();
    assert_eq!(a.name_id, "jane@acme.com");
    assert_eq!(
        a.name_id_format.as_deref(),
        Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress")
    );
    assert_eq!(a.assertion_id, "_assert1");
    assert_eq!(a.issuer, IDP_ENTITY);
    assert_eq!(a.in_response_to.as_deref(), Some(REQUEST_ID));
    assert_eq!(a.session_index.as_deref(), Some("_sess1"));
    assert_eq!(
        a.attribute("email"),
        Some(&["jane@acme.com".to_owned()][..])
    );
    assert_eq!(
        a.attribute("groups"),
        Some(&["admins".to_owned(), "dev & ops".to_owned()][..])
    );
    assert_eq!(a.authn_instant_ms, NOW - 20_000);
    assert_eq!(a.replay_until_ms, NOW + 300_000 + 120_000);
    assert_eq!(
        a.signed,
        SignedParts {
            response: false,
            assertion: true
        }
    );
    assert!(!a.encrypted);
    a.expect_request(REQUEST_ID).unwrap();
    assert_eq!(
        a.expect_request("_other").unwrap_err().code(),
        "saml_wrong_request"
    );
    // The POST binding form value.
    let b = verifier().verify_post(&post(&xml), NOW).unwrap();
    assert_eq!(a, b);
}

#[test]
fn every_signing_shape_is_accepted() {
    let spec = Spec::default();
    let both = verifier()
        .verify_xml(spec.signed_both().as_bytes(), NOW)
        .unwrap();
    assert_eq!(
        both.signed,
        SignedParts {
            response: true,
            assertion: true
        }
    );
    let resp = verifier()
        .verify_xml(spec.signed_response().as_bytes(), NOW)
        .unwrap();
    assert_eq!(
        resp.signed,
        SignedParts {
            response: true,
            assertion: false
        }
    );
    assert_eq!(resp.name_id, "jane@acme.com");
    // SHA-512, no KeyInfo (every configured key is tried).
    let o = SigOpts {
        signature_method: RSA_SHA512.into(),
        digest_method: "http://www.w3.org/2001/04/xmlenc#sha512".into(),
        key_info_certs: vec![],
        ..SigOpts::default()
    };
    let xml = sign(&spec.response(), "_assert1", &signer("idp"), &o);
    assert_eq!(outcome(&verifier(), &xml, NOW), "accepted");
}

#[test]
fn ecdsa_p256_and_p384_are_accepted() {
    for (name, method) in [("idp-p256", ECDSA_SHA256), ("idp-p384", ECDSA_SHA384)] {
        let o = SigOpts {
            signature_method: method.into(),
            key_info_certs: vec![cert(name)],
            ..SigOpts::default()
        };
        let xml = sign(&Spec::default().response(), "_assert1", &signer(name), &o);
        let v = ResponseVerifier::new(sp(), IdentityProvider::new(IDP_ENTITY, vec![cert(name)]));
        assert_eq!(outcome(&v, &xml, NOW), "accepted", "{name}");
        // An RSA-only connection cannot use the EC signature.
        assert_eq!(
            outcome(&verifier(), &xml, NOW),
            "saml_certificate_not_trusted"
        );
    }
}

#[test]
fn certificate_rotation_two_certificates() {
    let v = ResponseVerifier::new(
        sp(),
        IdentityProvider::new(IDP_ENTITY, vec![cert("idp"), cert("idp2")]),
    );
    let spec = Spec::default();
    assert_eq!(outcome(&v, &spec.signed_assertion(), NOW), "accepted");
    let o = SigOpts {
        key_info_certs: vec![cert("idp2")],
        ..SigOpts::default()
    };
    let by_new = sign(&spec.response(), "_assert1", &signer("idp2"), &o);
    assert_eq!(outcome(&v, &by_new, NOW), "accepted");
    // The old connection (only the old certificate) refuses the new key.
    assert_eq!(
        outcome(&verifier(), &by_new, NOW),
        "saml_certificate_not_trusted"
    );
    let o = SigOpts {
        key_info_certs: vec![],
        ..SigOpts::default()
    };
    let by_new_no_key_info = sign(&spec.response(), "_assert1", &signer("idp2"), &o);
    assert_eq!(
        outcome(&verifier(), &by_new_no_key_info, NOW),
        "saml_signature_invalid"
    );
}

#[test]
fn no_certificate_valid_now_fails_closed() {
    let xml = Spec::default().signed_assertion();
    let none = ResponseVerifier::new(sp(), IdentityProvider::new(IDP_ENTITY, vec![]));
    assert_eq!(outcome(&none, &xml, NOW), "saml_no_trusted_certificate");
    let garbage =
        ResponseVerifier::new(sp(), IdentityProvider::new(IDP_ENTITY, vec![vec![1, 2, 3]]));
    assert_eq!(outcome(&garbage, &xml, NOW), "saml_no_trusted_certificate");
    // The test certificates are valid for ten years from their creation (2026-12).
    let year = 365 * 86_400_000i64;
    assert_eq!(
        outcome(&verifier(), &xml, NOW + 12 * year),
        "saml_no_trusted_certificate"
    );
    // Before the certificate's start.
    assert_eq!(
        outcome(&verifier(), &xml, NOW - year),
        "saml_no_trusted_certificate"
    );
    // Configured but expired while another configured one is valid.
    let v = ResponseVerifier::new(
        sp(),
        IdentityProvider::new(IDP_ENTITY, vec![cert("idp"), cert("weak1024")]),
    );
    assert_eq!(outcome(&v, &xml, NOW), "accepted");
}

#[test]
fn weak_rsa_key_is_unusable() {
    let o = SigOpts {
        key_info_certs: vec![cert("weak1024")],
        ..SigOpts::default()
    };
    let xml = sign(
        &Spec::default().response(),
        "_assert1",
        &signer("weak1024"),
        &o,
    );
    let v = ResponseVerifier::new(
        sp(),
        IdentityProvider::new(IDP_ENTITY, vec![cert("weak1024")]),
    );
    assert_eq!(outcome(&v, &xml, NOW), "saml_key_unusable");
}

#[test]
fn encrypted_assertions_every_algorithm() {
    let spec = Spec::default();
    for data in [
        DataAlg::Aes128Cbc,
        DataAlg::Aes256Cbc,
        DataAlg::Aes128Gcm,
        DataAlg::Aes256Gcm,
    ] {
        for key in [KeyAlg::OaepMgf1p, KeyAlg::Oaep11Sha256] {
            // Assertion signed, then encrypted.
            let xml = encrypt(
                &spec.signed_assertion(),
                "_assert1",
                &corpus("sp.cert.pem"),
                data,
                key,
            );
            let a = verifier().verify_xml(xml.as_bytes(), NOW).unwrap();
            assert!(a.encrypted && a.signed.assertion, "{data:?} {key:?}");
            assert_eq!(a.name_id, "jane@acme.com");
            // Assertion unsigned, encrypted, Response signed over the ciphertext.
            let xml = encrypt(
                &spec.response(),
                "_assert1",
                &corpus("sp.cert.pem"),
                data,
                key,
            );
            let xml = sign(&xml, "_resp1", &signer("idp"), &SigOpts::default());
            let a = verifier().verify_xml(xml.as_bytes(), NOW).unwrap();
            assert_eq!(
                a.signed,
                SignedParts {
                    response: true,
                    assertion: false
                }
            );
            assert_eq!(a.name_id, "jane@acme.com");
        }
    }
}

#[test]
fn encrypted_assertion_refusals() {
    let spec = Spec::default();
    let sp_cert = corpus("sp.cert.pem");
    // Unsigned inside, Response unsigned: CBC gives one refusal for everything (no
    // oracle); GCM says what is wrong.
    let xml = encrypt(
        &spec.response(),
        "_assert1",
        &sp_cert,
        DataAlg::Aes128Cbc,
        KeyAlg::OaepMgf1p,
    );
    assert_eq!(outcome(&verifier(), &xml, NOW), "saml_decryption_failed");
    let xml = encrypt(
        &spec.response(),
        "_assert1",
        &sp_cert,
        DataAlg::Aes128Gcm,
        KeyAlg::OaepMgf1p,
    );
    assert_eq!(outcome(&verifier(), &xml, NOW), "saml_unsigned");
    // Encrypted for another SP key.
    let xml = encrypt(
        &spec.signed_assertion(),
        "_assert1",
        &corpus("sp2.cert.pem"),
        DataAlg::Aes256Gcm,
        KeyAlg::OaepMgf1p,
    );
    assert_eq!(outcome(&verifier(), &xml, NOW), "saml_decryption_failed");
    // The rotated key decrypts it when configured beside the first.
    let v = ResponseVerifier::new(
        sp().with_key(
            enterprise_sso_protocol::saml::sp::SpKeyPair::from_pem(
                &corpus("sp2.key.pem"),
                &corpus("sp2.cert.pem"),
            )
            .unwrap(),
        ),
        idp(),
    );
    assert_eq!(outcome(&v, &xml, NOW), "accepted");
    // No SP key at all.
    let v = ResponseVerifier::new(
        enterprise_sso_protocol::saml::sp::ServiceProvider::new(SP_ENTITY, ACS),
        idp(),
    );
    assert_eq!(outcome(&v, &xml, NOW), "saml_no_decryption_key");
    // RSA PKCS#1 v1.5 key transport is refused by name.
    let xml = encrypt(
        &spec.signed_assertion(),
        "_assert1",
        &sp_cert,
        DataAlg::Aes128Gcm,
        KeyAlg::Rsa15,
    );
    assert_eq!(
        outcome(&verifier(), &xml, NOW),
        "saml_encryption_algorithm_not_allowed"
    );
    // Ciphertext altered under a Response signature: the digest catches it first.
    let xml = encrypt(
        &spec.response(),
        "_assert1",
        &sp_cert,
        DataAlg::Aes128Cbc,
        KeyAlg::OaepMgf1p,
    );
    let signed = sign(&xml, "_resp1", &signer("idp"), &SigOpts::default());
    let i = signed.find("<xenc:CipherData><xenc:CipherValue>").unwrap() + 60;
    let mut bytes = signed.into_bytes();
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    assert_eq!(
        verifier().verify_xml(&bytes, NOW).unwrap_err().code(),
        "saml_digest_mismatch"
    );
}

// ---- semantic rules ----

fn refusal(spec: &Spec) -> Refusal {
    verifier()
        .verify_xml(spec.signed_assertion().as_bytes(), NOW)
        .unwrap_err()
}

#[test]
fn audience_must_contain_the_sp_exactly() {
    for aud in [
        "https://sp.example.com/saml/metadata/conn_10",
        "https://sp.example.com/saml/metadata/conn_",
        "https://sp.example.com/saml/metadata/CONN_1",
        "",
    ] {
        let r = refusal(&Spec {
            audience: aud.into(),
            ..Spec::default()
        });
        assert_eq!(
            r,
            Refusal::AudienceMismatch {
                expected: SP_ENTITY.into(),
                received: vec![aud.into()]
            }
        );
        assert_eq!(r.code(), "saml_audience_mismatch");
        assert!(r.to_string().contains(SP_ENTITY), "{r}");
    }
    // Padded with white space: trimmed (an XML token).
    let spec = Spec {
        audience: format!("\n  {SP_ENTITY}\n"),
        ..Spec::default()
    };
    assert_eq!(
        outcome(&verifier(), &spec.signed_assertion(), NOW),
        "accepted"
    );
}

#[test]
fn destination_and_recipient_must_be_the_acs_url() {
    let r = refusal(&Spec {
        destination: Some("https://evil.example/acs".into()),
        ..Spec::default()
    });
    assert_eq!(
        r,
        Refusal::DestinationMismatch {
            expected: ACS.into(),
            received: "https://evil.example/acs".into()
        }
    );
    // No Destination at all is allowed (it is optional when the Response is unsigned).
    let spec = Spec {
        destination: None,
        ..Spec::default()
    };
    assert_eq!(
        outcome(&verifier(), &spec.signed_assertion(), NOW),
        "accepted"
    );
    let r = refusal(&Spec {
        recipient: format!("{ACS}/"),
        ..Spec::default()
    });
    assert_eq!(
        r,
        Refusal::RecipientMismatch {
            expected: ACS.into(),
            received: format!("{ACS}/")
        }
    );
}

#[test]
fn issuers_must_be_the_idp() {
    let r = refusal(&Spec {
        issuer: "https://other-idp.example".into(),
        ..Spec::default()
    });
    assert_eq!(
        r,
        Refusal::IssuerMismatch {
            element: SignedElement::Assertion,
            expected: IDP_ENTITY.into(),
            received: "https://other-idp.example".into()
        }
    );
    let r = refusal(&Spec {
        response_issuer: Some("https://other-idp.example".into()),
        ..Spec::default()
    });
    assert_eq!(r.code(), "saml_issuer_mismatch");
    let spec = Spec {
        response_issuer: None,
        ..Spec::default()
    };
    assert_eq!(
        outcome(&verifier(), &spec.signed_assertion(), NOW),
        "accepted"
    );
}

#[test]
fn status_must_be_success() {
    let spec = Spec {
        status: "urn:oasis:names:tc:SAML:2.0:status:Responder".into(),
        ..Spec::default()
    };
    let r = refusal(&spec);
    assert_eq!(r.code(), "saml_status_not_success");
    assert!(r.to_string().contains("status:Responder"), "{r}");
    // A failed login carries no assertion and no signature: the status is what is said.
    let xml = spec.response_with("");
    assert_eq!(outcome(&verifier(), &xml, NOW), "saml_status_not_success");
}

#[test]
fn version_must_be_2_0() {
    let r = refusal(&Spec {
        version: "1.1".into(),
        ..Spec::default()
    });
    assert_eq!(r.code(), "saml_version");
}

#[test]
fn authn_statement_required() {
    let r = refusal(&Spec {
        with_authn_statement: false,
        ..Spec::default()
    });
    assert_eq!(
        r,
        Refusal::Missing {
            what: "AuthnStatement"
        }
    );
}

#[test]
fn time_bounds_with_skew_not_on_or_after_exclusive() {
    let skew = 120_000;
    let spec = Spec::default();
    let xml = spec.signed_assertion();
    let noa = NOW + 300_000;
    // Skew 0: exactly at NotOnOrAfter is refused, 1 ms before is accepted.
    let strict = verifier().clock_skew(Duration::ZERO);
    assert_eq!(outcome(&strict, &xml, noa), "saml_expired");
    assert_eq!(outcome(&strict, &xml, noa - 1), "accepted");
    // Default skew 120 s: NotOnOrAfter + skew - 1 ms accepted, + skew refused.
    assert_eq!(outcome(&verifier(), &xml, noa + skew - 1), "accepted");
    assert_eq!(outcome(&verifier(), &xml, noa + skew), "saml_expired");
    // NotBefore: now + skew must reach it.
    let nb = NOW + 30_000;
    let early = Spec {
        not_before: nb,
        ..Spec::default()
    }
    .signed_assertion();
    assert_eq!(outcome(&verifier(), &early, nb - skew), "accepted");
    let r = verifier()
        .verify_xml(early.as_bytes(), nb - skew - 1)
        .unwrap_err();
    assert_eq!(
        r,
        Refusal::NotYetValid {
            field: "Conditions NotBefore",
            at_ms: nb,
            now_ms: nb - skew - 1,
            skew_ms: skew
        }
    );
    // The bearer confirmation's own NotOnOrAfter.
    let spec = Spec {
        scd_not_on_or_after: NOW - 1000,
        ..Spec::default()
    };
    let xml = spec.signed_assertion();
    assert_eq!(outcome(&strict, &xml, NOW), "saml_expired");
    let r = strict.verify_xml(xml.as_bytes(), NOW).unwrap_err();
    assert_eq!(
        r,
        Refusal::Expired {
            field: "SubjectConfirmationData NotOnOrAfter",
            at_ms: NOW - 1000,
            now_ms: NOW,
            skew_ms: 0
        }
    );
    let a = verifier().verify_xml(xml.as_bytes(), NOW).unwrap();
    assert_eq!(a.replay_until_ms, NOW - 1000 + skew);
    // An IssueInstant from the future.
    let spec = Spec {
        issue_instant: NOW + skew + 1000,
        ..Spec::default()
    };
    assert_eq!(
        outcome(&verifier(), &spec.signed_assertion(), NOW),
        "saml_not_yet_valid"
    );
    // Arithmetic at the edges of i64 never panics.
    assert_eq!(
        outcome(&verifier(), &spec.signed_assertion(), i64::MAX),
        "saml_no_trusted_certificate"
    );
    assert_eq!(
        outcome(&verifier(), &spec.signed_assertion(), i64::MIN),
        "saml_no_trusted_certificate"
    );
    let huge = verifier().clock_skew(Duration::MAX);
    assert_eq!(outcome(&huge, &spec.signed_assertion(), NOW), "accepted");
}

#[test]
fn in_response_to_rules() {
    // The Response's InResponseTo (unsigned here) differs from the signed one.
    let spec = Spec {
        response_in_response_to: Some("_attacker_request".into()),
        ..Spec::default()
    };
    assert_eq!(
        refusal(&spec),
        Refusal::InResponseToMismatch {
            response: "_attacker_request".into(),
            assertion: REQUEST_ID.into()
        }
    );
    // Response names a request, assertion none: refused even when unsolicited is allowed.
    let spec = Spec {
        in_response_to: None,
        ..Spec::default()
    };
    let v = verifier().allow_idp_initiated(Duration::from_secs(300));
    assert_eq!(
        outcome(&v, &spec.signed_assertion(), NOW),
        "saml_in_response_to_mismatch"
    );
    // The Response without InResponseTo, the signed assertion with it: the signed one
    // is given, and only it.
    let spec = Spec {
        response_in_response_to: None,
        ..Spec::default()
    };
    let a = verifier()
        .verify_xml(spec.signed_assertion().as_bytes(), NOW)
        .unwrap();
    assert_eq!(a.in_response_to.as_deref(), Some(REQUEST_ID));
}

#[test]
fn unsolicited_responses() {
    let spec = Spec {
        in_response_to: None,
        response_in_response_to: None,
        ..Spec::default()
    };
    let xml = spec.signed_assertion();
    assert_eq!(
        verifier().verify_xml(xml.as_bytes(), NOW).unwrap_err(),
        Refusal::UnsolicitedNotAllowed
    );
    let v = verifier().allow_idp_initiated(Duration::from_secs(60));
    let a = v.verify_xml(xml.as_bytes(), NOW).unwrap();
    assert_eq!(a.in_response_to, None);
    assert_eq!(
        a.expect_request(REQUEST_ID).unwrap_err().code(),
        "saml_wrong_request"
    );
    // Older than max age (+ skew): AuthnInstant is NOW - 20 s.
    let v = verifier()
        .allow_idp_initiated(Duration::from_secs(10))
        .clock_skew(Duration::from_secs(5));
    assert_eq!(outcome(&v, &xml, NOW), "saml_unsolicited_too_old");
    // An SP-initiated response is never accepted as unsolicited: it names its request.
    let v = verifier().allow_idp_initiated(Duration::from_secs(60));
    let solicited = Spec::default().signed_assertion();
    let a = v.verify_xml(solicited.as_bytes(), NOW).unwrap();
    assert_eq!(a.in_response_to.as_deref(), Some(REQUEST_ID));
    assert_eq!(
        a.expect_unsolicited().unwrap_err(),
        Refusal::UnexpectedInResponseTo {
            received: REQUEST_ID.into()
        }
    );
    let unsolicited = v.verify_xml(xml.as_bytes(), NOW).unwrap();
    unsolicited.expect_unsolicited().unwrap();
}

#[test]
fn refusal_codes_are_listed_and_messages_hold_no_xml() {
    let spec = Spec {
        audience: "&lt;x&gt;".into(),
        ..Spec::default()
    };
    let xml = spec.signed_assertion();
    let r = verifier().verify_xml(xml.as_bytes(), NOW).unwrap_err();
    assert!(Refusal::CODES.contains(&r.code()));
    // Values are shown bounded, with control characters replaced.
    let long = "a".repeat(5000);
    let spec = Spec {
        audience: format!("\u{85}{long}"),
        ..Spec::default()
    };
    let r = verifier()
        .verify_xml(spec.signed_assertion().as_bytes(), NOW)
        .unwrap_err();
    assert!(r.to_string().len() < 1000, "{}", r.to_string().len());
    let Refusal::AudienceMismatch { received, .. } = r else {
        panic!()
    };
    assert!(received[0].starts_with("?aaa") && received[0].chars().count() == 200);
    let mut seen = std::collections::HashSet::new();
    for c in Refusal::CODES {
        assert!(seen.insert(c), "duplicate code {c}");
        assert!(c.starts_with("saml_"));
    }
}

#[test]
fn cbc_ciphertext_modifications_all_look_alike() {
    // The XML Encryption CBC attack flips ciphertext bits and watches whether the
    // plaintext still parses. Without a Response signature over the ciphertext, every
    // modification gets the same refusal, whatever the plaintext became.
    let xml = encrypt(
        &Spec::default().signed_assertion(),
        "_assert1",
        &corpus("sp.cert.pem"),
        DataAlg::Aes256Cbc,
        KeyAlg::OaepMgf1p,
    );
    assert_eq!(outcome(&verifier(), &xml, NOW), "accepted");
    let marker = "<xenc:CipherData><xenc:CipherValue>";
    let start = xml.rfind(marker).unwrap() + marker.len();
    let end = start + xml[start..].find('<').unwrap();
    let ct = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &xml[start..end])
        .unwrap();
    let mut codes = std::collections::BTreeSet::new();
    for i in (0..ct.len())
        .step_by(ct.len() / 40 + 1)
        .chain([ct.len() - 17, ct.len() - 1])
    {
        for bit in [0x01u8, 0x80] {
            let mut m = ct.clone();
            m[i] ^= bit;
            let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &m);
            let forged = format!("{}{}{}", &xml[..start], b64, &xml[end..]);
            codes.insert(outcome(&verifier(), &forged, NOW));
        }
    }
    assert_eq!(
        codes.into_iter().collect::<Vec<_>>(),
        ["saml_decryption_failed"]
    );
}
