//! The one case list against the case functions in the suite's sources.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, recursively (so a new file of cases cannot be missed).
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every case function in the suite's sources: `pub async fn NAME(repo: &dyn Store)`.
fn case_functions() -> Vec<String> {
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    assert!(
        files.len() >= 8,
        "the suite's sources were not found: {files:?}"
    );
    let mut found = Vec::new();
    for file in files {
        let src = std::fs::read_to_string(&file).unwrap();
        for line in src.lines() {
            let Some(rest) = line.strip_prefix("pub async fn ") else {
                continue;
            };
            if let Some((name, args)) = rest.split_once('(') {
                if args.starts_with("repo: &dyn Store)") {
                    found.push(name.to_owned());
                }
            }
        }
    }
    found.sort();
    found
}

#[test]
fn every_case_is_on_the_case_list() {
    // The macro and CASES are both made from the one case list; a case function that is
    // not on it would run on no store.
    let mut listed: Vec<String> = enterprise_sso_conformance::CASES
        .iter()
        .map(|c| c.to_string())
        .collect();
    listed.sort();
    assert_eq!(case_functions(), listed, "case functions vs the case list");
}
