//! The shared conformance suite on the in-memory reference repository.
#![allow(clippy::unwrap_used)]

mod conformance {
    enterprise_sso::conformance_tests!(|| (enterprise_sso::MemoryRepo::new(), ()));
}

#[test]
fn every_case_is_stamped() {
    // The macro's list and the published case list must not drift apart.
    let src = include_str!("../src/conformance.rs");
    for case in enterprise_sso::conformance::CASES {
        assert!(
            src.contains(&format!("pub async fn {case}(")),
            "{case} has no function"
        );
        let stamped = src.split("@cases $make;").nth(1).unwrap_or_default();
        assert!(stamped.contains(case), "{case} is not stamped by the macro");
    }
}
