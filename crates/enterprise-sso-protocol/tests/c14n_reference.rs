//! The canonicalizer against its own earlier version, kept frozen in
//! `c14n_reference/old_c14n.rs` (the `xml::c14n` of main before issue 31's last speed
//! work: byte-table escaping, `split`-based names). The speed work changed how bytes to
//! escape are found (vectorized `memchr` searches) and how qualified names are split; it
//! must not change one output byte.
//!
//! Compared, with every outcome (output or error) required equal:
//!
//! - every element of every XML document of the fixture corpora (this crate's SAML
//!   corpus with its attacks, the main crate's corpus and fixtures, the benchmark's
//!   response) as apex, without exclusion and without each `ds:Signature` under it, with
//!   no `InclusiveNamespaces` and with the usual SAML prefix list;
//! - generated documents whose text and attribute values are made of runs of the bytes
//!   escaping cares about (`&`, `<`, `>`, `"`, TAB, LF, CR, as character references and
//!   raw) among plain text, long and short, so every order of the two searches' hits
//!   comes up (`PROPTEST_CASES` cases, 256 by default);
//! - qualified names with and without prefixes, default namespaces undone, and an output
//!   cap hit in the middle of an escape.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(unreachable_pub, dead_code, missing_docs)]
#[path = "c14n_reference/old_c14n.rs"]
mod old_c14n;

use std::path::{Path, PathBuf};

use enterprise_sso_protocol::xml::c14n::{canonicalize, normalize_line_endings, C14nOptions};
use proptest::prelude::*;

const DS: &str = "http://www.w3.org/2000/09/xmldsig#";

/// Both canonicalizers on one apex; their outcomes, rendered comparable.
fn both(
    apex: roxmltree::Node<'_, '_>,
    exclude: Option<roxmltree::NodeId>,
    prefixes: &[&str],
    max_output: usize,
) -> (Result<Vec<u8>, String>, Result<Vec<u8>, String>) {
    let new = canonicalize(
        apex,
        C14nOptions {
            exclude,
            inclusive_prefixes: prefixes,
            max_output,
        },
    )
    .map_err(|e| e.to_string());
    let old = old_c14n::canonicalize(
        apex,
        old_c14n::C14nOptions {
            exclude,
            inclusive_prefixes: prefixes,
            max_output,
        },
    )
    .map_err(|e| e.to_string());
    (new, old)
}

/// Every apex, exclusion and prefix list of one document; returns how many were compared.
fn compare_document(name: &str, xml: &str) -> usize {
    let text = normalize_line_endings(xml);
    let Ok(doc) = roxmltree::Document::parse(&text) else {
        return 0;
    };
    let prefix_lists: [&[&str]; 2] = [&[], &["#default", "ds", "saml", "samlp", "xs", "xsi"]];
    let mut compared = 0;
    for apex in doc.descendants().filter(roxmltree::Node::is_element) {
        let exclusions = std::iter::once(None).chain(
            apex.descendants()
                .filter(|n| {
                    n.tag_name().namespace() == Some(DS) && n.tag_name().name() == "Signature"
                })
                .map(|n| Some(n.id())),
        );
        for exclude in exclusions {
            for prefixes in prefix_lists {
                let (new, old) = both(apex, exclude, prefixes, 1 << 24);
                assert_eq!(
                    new.as_ref().map(|b| String::from_utf8_lossy(b)),
                    old.as_ref().map(|b| String::from_utf8_lossy(b)),
                    "{name}: apex {:?}, exclude {exclude:?}, prefixes {prefixes:?}",
                    apex.tag_name()
                );
                compared += 1;
            }
        }
    }
    compared
}

fn xml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            xml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "xml") {
            out.push(path);
        }
    }
}

#[test]
fn corpus_documents_canonicalize_as_before() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in [
        "tests/corpus",
        "../enterprise-sso/tests/corpus",
        "../enterprise-sso/tests/fixtures",
        "../../benches/polis",
    ] {
        xml_files(&manifest.join(dir), &mut files);
    }
    assert!(files.len() > 100, "the corpora were not found: {files:?}");
    let mut compared = 0;
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        let Ok(xml) = String::from_utf8(bytes) else {
            continue;
        };
        compared += compare_document(&file.display().to_string(), &xml);
    }
    assert!(
        compared > 10_000,
        "only {compared} canonical forms compared"
    );
}

/// A piece of text or attribute value, as written in the document.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("&amp;".to_owned()),
        Just("&lt;".to_owned()),
        Just("&gt;".to_owned()),
        Just(">".to_owned()),
        Just("&quot;".to_owned()),
        Just("'".to_owned()),
        Just("&#9;".to_owned()),
        Just("&#10;".to_owned()),
        Just("&#13;".to_owned()),
        Just("&#xD;&#xA;".to_owned()),
        Just("\t".to_owned()),
        Just("\n".to_owned()),
        Just("\r\n".to_owned()),
        Just("\r".to_owned()),
        Just(" ".to_owned()),
        Just("é€😀".to_owned()),
        "[a-zA-Z0-9+/=]{1,80}",
        "[a-z]{0,3}",
    ]
}

fn value() -> impl Strategy<Value = String> {
    proptest::collection::vec(piece(), 0..24).prop_map(|v| v.concat())
}

proptest! {
    #[test]
    fn escaping_matches_the_old_canonicalizer(
        text in value(),
        attr in value(),
        tail in value(),
        cdata in "[a-z<>&\"]{0,20}",
        cap in 0usize..400,
    ) {
        let xml = format!(
            "<p:r xmlns:p=\"urn:p&amp;&lt;&quot;\" xmlns=\"urn:d\" b=\"{attr}\" a=\"{attr}{attr}\">\
             {text}<c xmlns=\"\" p:x=\"{attr}\">{text}<![CDATA[{cdata}]]></c>{tail}<p:d/>{tail}</p:r>"
        );
        let text = normalize_line_endings(&xml);
        let doc = roxmltree::Document::parse(&text).unwrap();
        for apex in doc.descendants().filter(roxmltree::Node::is_element) {
            for max in [1 << 20, cap] {
                let (new, old) = both(apex, None, &[], max);
                prop_assert_eq!(&new, &old, "{}", xml);
            }
        }
    }
}
