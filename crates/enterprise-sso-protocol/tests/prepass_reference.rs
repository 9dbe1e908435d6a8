//! The pre-pass ([`xml::check`]) against its earlier `quick-xml` version, kept frozen in
//! `prepass_reference/old_prepass.rs`.
//!
//! Required, on every document compared:
//!
//! - a well-formed document (`roxmltree` accepts it, DTD allowed) gets the same answer
//!   from both: accepted, or refused for the same limit or for its DOCTYPE;
//! - a document that is not well-formed and that the old pre-pass refused for a limit or
//!   a DOCTYPE is refused by the new one too (as what may differ: the two read garbage
//!   differently); one the old pre-pass refused as malformed may pass the new one, as
//!   the parser that follows refuses it and reads only what the scan has counted up to
//!   its first error.
//!
//! Documents: every XML file of the fixture corpora (SAML responses, attacks, metadata),
//! every hostile shape of [`xml::hostile`] at three sizes, the limits at and one past
//! their values, hand-written malformed markup, and the corpus and small documents
//! mutated at random (tokens of markup inserted, ranges deleted; `PROPTEST_CASES` cases,
//! 256 by default).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(unreachable_pub, dead_code, missing_docs)]
#[path = "prepass_reference/old_prepass.rs"]
mod old_prepass;
mod xml_corpus;

use enterprise_sso_protocol::xml::{self, hostile, PrepassError};
use proptest::prelude::*;

/// Whether `xml` is well-formed: `roxmltree` accepts it, DTD allowed (so that a
/// well-formed document with a DOCTYPE counts as well-formed).
fn well_formed(xml: &str) -> bool {
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        nodes_limit: u32::MAX,
        ..roxmltree::ParsingOptions::default()
    };
    roxmltree::Document::parse_with_options(xml, opts).is_ok()
}

/// Why the two pre-passes disagree on `xml` beyond what is allowed, if they do.
fn disagreement(xml: &str) -> Option<String> {
    let old = old_prepass::check(xml);
    let new = xml::check(xml);
    let ok = old == new
        || match (&old, &new) {
            // Malformed for either, and the parser refuses the document anyway. What
            // a malformed document is refused as may differ (the two read garbage
            // differently), but one the old pre-pass refused for a limit or a DOCTYPE
            // is never let through to the parser.
            (Err(PrepassError::Malformed(_)), Ok(())) | (_, Err(_)) => !well_formed(xml),
            _ => false,
        };
    (!ok).then(|| format!("old {old:?}, new {new:?}"))
}

fn assert_agree(name: &str, xml: &str) {
    if let Some(why) = disagreement(xml) {
        panic!(
            "{name}: {why}\n{}",
            xml.chars().take(2000).collect::<String>()
        );
    }
}

fn corpus() -> Vec<(String, String)> {
    xml_corpus::corpus_files()
        .into_iter()
        .filter_map(|f| {
            let xml = String::from_utf8(std::fs::read(&f).ok()?).ok()?;
            Some((f.display().to_string(), xml))
        })
        .collect()
}

#[test]
fn corpus_and_hostile_shapes_agree() {
    let docs = corpus();
    assert!(docs.len() > 100, "the corpora were not found");
    for (name, xml) in &docs {
        assert_agree(name, xml);
    }
    for (name, build) in hostile::SHAPES {
        for size in [2_000, 40_000, usize::MAX] {
            assert_agree(name, &build(size));
        }
    }
    let element = |n: usize, key: &str| {
        let attrs: String = (0..n).map(|i| format!(" {key}{i}=\"u\"")).collect();
        format!("<r{attrs}/>")
    };
    for n in [31, 32, 33] {
        assert_agree("attributes", &element(n, "a"));
        assert_agree("declarations", &element(n, "xmlns:p"));
    }
    // Default namespace declarations count like prefixed ones: in scope (a root with 32
    // prefixes over nested default ones) and in the document.
    for nested in [31, 32, 33] {
        let root = element(32, "xmlns:p").replace("/>", ">");
        let inner = "<e xmlns=\"u\">".repeat(nested) + &"</e>".repeat(nested);
        assert_agree("default in scope", &format!("{root}{inner}</r>"));
    }
    for n in [2047, 2048, 2049] {
        assert_agree(
            "default total",
            &format!("<r>{}</r>", "<b xmlns=\"u\"/>".repeat(n)),
        );
    }
    for depth in [63, 64, 65] {
        assert_agree("depth", &("<a>".repeat(depth) + &"</a>".repeat(depth)));
    }
    for bad in MALFORMED {
        assert_agree(bad, bad);
    }
}

const MALFORMED: &[&str] = &[
    "",
    "<",
    "<>",
    "< a/>",
    "<a",
    "<a b>",
    "<a b=>",
    "<a b=c>",
    "<a b=\"c>",
    "<a b='c\"/>",
    "<a b=\"c\"d=\"e\"/>",
    "<a b = 'c' />",
    "<a/ >",
    "<a></b>",
    "<a></a >",
    "<a></ a>",
    "<a></a",
    "<a><b></a></b>",
    "</a>",
    "<a>",
    "<a/><b/>",
    "text<a/>text",
    "<a>]]></a>",
    "<a>></a>",
    "<a><!-- -- --></a>",
    "<a><!--></a>",
    "<a><!----></a>",
    "<a><!-- x</a>",
    "<a><![CDATA[x</a>",
    "<a><![CDATA[<b>]]></a>",
    "<a><![cdata[x]]></a>",
    "<a><?pi x</a>",
    "<?xml version=\"1.0\"?><a/>",
    "<?xml version=\"1.0\"?>",
    "<a><?></a>",
    "<!DOCTYPE a><a/>",
    "<!doctype a><a/>",
    "<!DOCTYPE a [<!ENTITY e \"x\">]><a>&e;</a>",
    "<!DOCTYPE",
    "<!ENTITY a \"b\"><a/>",
    "<a><!ELEMENT a ANY></a>",
    "<a b=\"<\"/>",
    "<a b=\">\" c=\"/>\"/>",
    "<a xmlns:=\"u\"/>",
    "<a xmlns=\"u\" xmlns=\"v\"/>",
    "<a\tb='1'\nc='2'\r/>",
];

/// Pieces of markup the mutations insert.
const TOKENS: &[&str] = &[
    "<",
    ">",
    "/",
    "\"",
    "'",
    "=",
    " ",
    "<a>",
    "</a>",
    "<b/>",
    "</b>",
    "<!--",
    "-->",
    "<![CDATA[",
    "]]>",
    "<?",
    "?>",
    "<!DOCTYPE r>",
    " xmlns:q=\"u\"",
    " xmlns=\"v\"",
    " a=\"1\"",
    "xmlns",
    "<c xmlns:p=\"u\" p:a='>'>",
    "&",
    "\n",
];

fn mutate(base: &str, edits: &[(prop::sample::Index, usize, bool)]) -> String {
    let mut s = base.as_bytes().to_vec();
    for (at, what, delete) in edits {
        let i = at.index(s.len() + 1);
        if *delete {
            let end = (i + what % 16).min(s.len());
            s.drain(i..end);
        } else {
            let token = TOKENS[what % TOKENS.len()].as_bytes();
            s.splice(i..i, token.iter().copied());
        }
    }
    String::from_utf8_lossy(&s).into_owned()
}

const SMALL: &[&str] = &[
    "<r xmlns=\"u\" xmlns:p=\"v\"><p:a b=\"1\" c='2'>t<!-- c --><![CDATA[d]]><?pi x?></p:a><e/></r>",
    "<?xml version=\"1.0\"?><samlp:Response xmlns:samlp=\"urn:p\" ID=\"x\"><saml:Issuer xmlns:saml=\"urn:a\">i</saml:Issuer></samlp:Response>",
];

proptest! {
    #[test]
    fn mutated_documents_agree(
        doc in any::<prop::sample::Index>(),
        edits in proptest::collection::vec(
            (any::<prop::sample::Index>(), 0usize..64, any::<bool>()),
            1..6,
        ),
    ) {
        let docs = corpus_cached();
        let base = doc.get(docs);
        let xml = mutate(base, &edits);
        let why = disagreement(&xml);
        prop_assert!(why.is_none(), "{:?}\n{}", why, xml);
    }
}

fn corpus_cached() -> &'static [String] {
    static DOCS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    DOCS.get_or_init(|| {
        let mut docs: Vec<String> = SMALL.iter().map(|s| (*s).to_owned()).collect();
        docs.extend(corpus().into_iter().map(|(_, xml)| xml));
        docs
    })
}
