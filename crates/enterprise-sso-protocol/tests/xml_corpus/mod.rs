//! The XML files of the fixture corpora, for the tests that compare a rewrite with its
//! frozen earlier version on every real document: this crate's SAML corpus with its
//! attacks, the main crate's corpus and fixtures, the benchmark's response.

use std::path::{Path, PathBuf};

/// Every `.xml` file of the corpora.
pub(crate) fn corpus_files() -> Vec<PathBuf> {
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
    files
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
