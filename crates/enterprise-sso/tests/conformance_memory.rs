//! The shared conformance suite on the in-memory reference repository.
#![allow(clippy::unwrap_used)]

mod conformance {
    enterprise_sso::conformance_tests!(|| (enterprise_sso::MemoryRepo::new(), ()));
}

/// The case names between `marker` and the closing `);` of that macro arm.
fn stamped_after(src: &str, marker: &str) -> Vec<String> {
    let rest = src.split(marker).nth(1).expect("macro arm present");
    let list = rest.split(");").next().unwrap_or_default();
    list.split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

#[test]
fn every_case_is_stamped() {
    // The macro's list and the published case list must be the same list, and every case
    // must have its function.
    let src = include_str!("../src/conformance.rs");
    let cases: Vec<String> = enterprise_sso::conformance::CASES
        .iter()
        .map(|c| c.to_string())
        .collect();
    for case in &cases {
        assert!(
            src.contains(&format!("pub async fn {case}(")),
            "{case} has no function"
        );
    }
    let marker = "@cases_if $available, $make;";
    assert_eq!(
        stamped_after(src, marker),
        cases,
        "the list after `{marker}`"
    );
}
