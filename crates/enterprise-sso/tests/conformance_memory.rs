//! The shared conformance suite on the in-memory reference repository.
#![allow(clippy::unwrap_used)]

mod conformance {
    enterprise_sso::conformance_tests!(|| (enterprise_sso::MemoryRepo::new(), ()));
}

/// The same suite with every secret sealed by a key ring.
mod encrypted {
    enterprise_sso::conformance_tests!(|| (
        enterprise_sso::crypto::Encrypted::new(
            enterprise_sso::MemoryRepo::new(),
            enterprise_sso::conformance::test_keyring()
        ),
        ()
    ));
}

/// The same suite through a read cache over a key-ring-sealed store (the order a host
/// stacks them in).
mod cached {
    enterprise_sso::conformance_tests!(|| (
        enterprise_sso::Cached::new(enterprise_sso::crypto::Encrypted::new(
            enterprise_sso::MemoryRepo::new(),
            enterprise_sso::conformance::test_keyring()
        )),
        ()
    ));
}

/// Every case function in the suite's sources: `pub async fn NAME(repo: &dyn Store)`.
fn case_functions() -> Vec<String> {
    let sources = [
        include_str!("../src/conformance/connections.rs"),
        include_str!("../src/conformance/feed.rs"),
        include_str!("../src/conformance/cache.rs"),
        include_str!("../src/conformance/accounts.rs"),
        include_str!("../src/conformance/sign_in.rs"),
        include_str!("../src/conformance/refusals.rs"),
        include_str!("../src/conformance/fixtures.rs"),
        include_str!("../src/conformance/mod.rs"),
    ];
    let mut found = Vec::new();
    for src in sources {
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
    // not on it would run on no store. The folder listing guards against a new file of
    // cases that this test does not read.
    let mut listed: Vec<String> = enterprise_sso::conformance::CASES
        .iter()
        .map(|c| c.to_string())
        .collect();
    listed.sort();
    assert_eq!(case_functions(), listed, "case functions vs the case list");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/conformance");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "accounts.rs",
            "cache.rs",
            "connections.rs",
            "feed.rs",
            "fixtures.rs",
            "mod.rs",
            "refusals.rs",
            "sign_in.rs"
        ],
        "a new file of cases must be read by case_functions()"
    );
}
