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
mod xml_corpus;

use enterprise_sso_protocol::xml::c14n::{
    canonicalize, canonicalize_pair, normalize_line_endings, C14nOptions,
};
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

#[test]
fn corpus_documents_canonicalize_as_before() {
    let files = xml_corpus::corpus_files();
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

// ---- The pair walk (the Response's and its Assertion's forms in one walk) ----

/// The pair walk's outcome for `outer` and `inner`, next to two single walks'.
fn pair_and_singles(
    outer: roxmltree::Node<'_, '_>,
    outer_options: C14nOptions<'_>,
    inner: roxmltree::Node<'_, '_>,
    inner_options: C14nOptions<'_>,
) -> Option<(PairOutcome, PairOutcome)> {
    let pair = canonicalize_pair(outer, outer_options, inner.id(), inner_options)
        .map_err(|e| e.to_string());
    let pair = match pair {
        Ok(None) => return None,
        Ok(Some(both)) => Ok(both),
        Err(e) => Err(e),
    };
    let singles = canonicalize(outer, outer_options)
        .and_then(|o| canonicalize(inner, inner_options).map(|i| (o, i)))
        .map_err(|e| e.to_string());
    Some((pair, singles))
}

type PairOutcome = Result<(Vec<u8>, Vec<u8>), String>;

fn options<'p>(exclude: Option<roxmltree::NodeId>, prefixes: &'p [&'p str]) -> C14nOptions<'p> {
    C14nOptions {
        exclude,
        inclusive_prefixes: prefixes,
        max_output: 1 << 24,
    }
}

/// The signature children of `node` (what a Reference to it leaves out).
fn own_signature(node: roxmltree::Node<'_, '_>) -> Option<roxmltree::NodeId> {
    node.children()
        .find(|n| n.tag_name().namespace() == Some(DS) && n.tag_name().name() == "Signature")
        .map(|n| n.id())
}

#[test]
fn the_pair_walk_gives_what_two_walks_give_on_the_corpus() {
    let files = xml_corpus::corpus_files();
    let prefix_lists: [&[&str]; 2] = [&[], &["#default", "ds", "saml", "samlp", "xs", "xsi"]];
    let (mut paired, mut refused) = (0, 0);
    for file in &files {
        let Ok(xml) = String::from_utf8(std::fs::read(file).unwrap()) else {
            continue;
        };
        let text = normalize_line_endings(&xml);
        let Ok(doc) = roxmltree::Document::parse(&text) else {
            continue;
        };
        let root = doc.root_element();
        // The root as the outer element (a Response), each element of the two levels below
        // it as the inner one (its Assertion, an Assertion in a wrapper), each with and
        // without its own signature left out.
        let near = root
            .children()
            .chain(root.children().flat_map(|c| c.children()))
            .filter(roxmltree::Node::is_element);
        for inner in std::iter::once(root).chain(near) {
            for (outer_exclude, inner_exclude) in [
                (None, None),
                (own_signature(root), own_signature(inner)),
                (own_signature(root), None),
            ] {
                for outer_prefixes in prefix_lists {
                    for inner_prefixes in prefix_lists {
                        match pair_and_singles(
                            root,
                            options(outer_exclude, outer_prefixes),
                            inner,
                            options(inner_exclude, inner_prefixes),
                        ) {
                            Some((pair, singles)) => {
                                assert_eq!(
                                    pair,
                                    singles,
                                    "{}: inner {:?}, excluded {outer_exclude:?} {inner_exclude:?}",
                                    file.display(),
                                    inner.tag_name()
                                );
                                paired += 1;
                            }
                            None => refused += 1,
                        }
                    }
                }
            }
        }
    }
    assert!(
        paired > 10_000,
        "only {paired} pairs compared ({refused} not pairable)"
    );
    // The root itself and elements under the root's own signature cannot pair.
    assert!(refused > 0);
}

proptest! {
    /// Namespace declarations that differ between the two forms: the outer element uses
    /// a prefix the inner one declares again or not, a default namespace set and undone,
    /// inclusive prefix lists on either side; the inner element's own signature left out.
    #[test]
    fn the_pair_walk_gives_what_two_walks_give_where_declarations_differ(
        outer_uses_p in any::<bool>(),
        inner_redeclares in prop::sample::select(vec!["", " xmlns:p=\"urn:p\"", " xmlns:p=\"urn:q\"", " xmlns=\"urn:d\"", " xmlns=\"\""]),
        child_default in prop::sample::select(vec!["", " xmlns=\"\"", " xmlns=\"urn:d\""]),
        outer_prefixes in prop::sample::select(vec![vec![], vec!["p"], vec!["#default"], vec!["p", "#default", "x"]]),
        inner_prefixes in prop::sample::select(vec![vec![], vec!["p"], vec!["#default"], vec!["x"]]),
        text in value(),
        exclude_inner_signature in any::<bool>(),
        cap in prop::sample::select(vec![1usize << 20, 200, 90]),
    ) {
        let outer_attr = if outer_uses_p { " p:a=\"1\"" } else { "" };
        let xml = format!(
            "<r xmlns=\"urn:d\" xmlns:p=\"urn:p\" xmlns:x=\"urn:x\"{outer_attr}><p:i/>\
             <a{inner_redeclares} ID=\"i\"><ds:Signature xmlns:ds=\"{DS}\"><ds:v>{text}</ds:v></ds:Signature>\
             <p:b x:c=\"{text}\"><c{child_default}>{text}</c></p:b></a>{text}</r>"
        );
        let text_norm = normalize_line_endings(&xml);
        let doc = roxmltree::Document::parse(&text_norm).unwrap();
        let root = doc.root_element();
        let inner = root.children().find(|n| n.has_tag_name("a")).unwrap();
        let inner_exclude = if exclude_inner_signature { own_signature(inner) } else { None };
        let mut outer_options = options(None, &outer_prefixes);
        outer_options.max_output = cap;
        let (pair, singles) = pair_and_singles(
            root,
            outer_options,
            inner,
            options(inner_exclude, &inner_prefixes),
        )
        .unwrap();
        // An output cap refuses both ways (the pair may stop at a different byte).
        prop_assert_eq!(pair.is_ok(), singles.is_ok(), "{}", xml);
        if pair.is_ok() {
            prop_assert_eq!(pair, singles, "{}", xml);
        }
    }
}
