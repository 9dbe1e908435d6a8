//! Property: any single-byte mutation (replace, insert or delete) of a valid signed
//! response, anywhere within its XML, is refused or yields exactly the signed identity.
//! Three shapes: assertion signed, Response signed only, both signed. `PROPTEST_CASES`
//! sets the number of cases (256 by default).
#![allow(clippy::unwrap_used)]

mod saml_sp_support;

use std::sync::OnceLock;

use enterprise_sso_protocol::saml::sp::VerifiedAssertion;
use proptest::prelude::*;
use saml_sp_support::*;

struct Fixture {
    xml: Vec<u8>,
    control: VerifiedAssertion,
}

fn fixtures() -> &'static [Fixture] {
    static F: OnceLock<Vec<Fixture>> = OnceLock::new();
    F.get_or_init(|| {
        let spec = Spec::default();
        [
            spec.signed_assertion(),
            spec.signed_response(),
            spec.signed_both(),
        ]
        .into_iter()
        .map(|xml| {
            let control = verifier().verify_xml(xml.as_bytes(), NOW).unwrap();
            Fixture {
                xml: xml.into_bytes(),
                control,
            }
        })
        .collect()
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    Replace(prop::sample::Index, u8),
    Insert(prop::sample::Index, u8),
    Delete(prop::sample::Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    // Bytes that matter to XML are drawn more often than the rest.
    let byte = prop_oneof![
        3 => prop::sample::select(b"<>&\"'=/!?-[] \t\r\nx0A#:;".to_vec()),
        1 => any::<u8>(),
    ];
    prop_oneof![
        3 => (any::<prop::sample::Index>(), byte.clone()).prop_map(|(i, b)| Mutation::Replace(i, b)),
        1 => (any::<prop::sample::Index>(), byte).prop_map(|(i, b)| Mutation::Insert(i, b)),
        1 => any::<prop::sample::Index>().prop_map(Mutation::Delete),
    ]
}

fn apply(xml: &[u8], m: &Mutation) -> Vec<u8> {
    // Within the XML: from the root element's start to the end.
    let start = xml
        .windows(15)
        .position(|w| w == b"<samlp:Response")
        .unwrap();
    let span = xml.len() - start;
    let mut out = xml.to_vec();
    match m {
        Mutation::Replace(i, b) => {
            let at = start + i.index(span);
            if out[at] == *b {
                out[at] = b.wrapping_add(1);
            } else {
                out[at] = *b;
            }
        }
        Mutation::Insert(i, b) => out.insert(start + i.index(span + 1), *b),
        Mutation::Delete(i) => {
            out.remove(start + i.index(span));
        }
    }
    out
}

proptest! {
    #[test]
    fn single_byte_mutations_are_refused_or_change_nothing(
        which in 0usize..3,
        m in mutation(),
    ) {
        let f = &fixtures()[which];
        let mutated = apply(&f.xml, &m);
        let verified = verifier().verify_xml(&mutated, NOW);
        // Read from the verified node or from a second parse of the digested canonical
        // bytes: the same answer, refusal or identity.
        prop_assert_eq!(&verified, &verifier().verify_xml_reparsed(&mutated, NOW));
        if let Ok(a) = verified {
            prop_assert_eq!(&a, &f.control, "mutation {:?} changed the identity", m);
        }
    }
}

/// The same property, exhaustively for every position (one byte per position, cycling
/// through `x`, `<` and a space), on the assertion-signed shape.
#[test]
fn every_position_exhaustive() {
    let f = &fixtures()[0];
    let start = f
        .xml
        .windows(15)
        .position(|w| w == b"<samlp:Response")
        .unwrap();
    let mut accepted_changed = 0usize;
    for at in start..f.xml.len() {
        for b in [[b'x', b'<', b' '][at % 3]] {
            if f.xml[at] == b {
                continue;
            }
            let mut m = f.xml.clone();
            m[at] = b;
            let verified = verifier().verify_xml(&m, NOW);
            assert_eq!(
                verified,
                verifier().verify_xml_reparsed(&m, NOW),
                "position {at}"
            );
            if let Ok(a) = verified {
                if a != f.control {
                    accepted_changed += 1;
                    eprintln!("position {at} byte {b}: identity changed");
                }
            }
        }
    }
    assert_eq!(accepted_changed, 0);
}
