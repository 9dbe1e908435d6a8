//! Time of the SAML Response verifier grows at most linearly with the response size: for
//! 8, 32 and 128 KiB responses (Response and Assertion signed, more `memberOf` values; the
//! document cap is 192 KiB), each 4× step of the input costs less than 8× the time. The
//! speed itself is measured in the `saml_verify` bench; peak heap in `saml_growth_memory`.
#![allow(missing_docs, clippy::unwrap_used)]

#[path = "../benches/saml_support/mod.rs"]
mod saml_support;

use std::time::{Duration, Instant};

use saml_support as s;

/// The fastest of `runs` verifications (the least disturbed by other work on the machine).
fn fastest(
    v: &enterprise_sso_protocol::saml::sp::ResponseVerifier,
    xml: &str,
    runs: usize,
) -> Duration {
    let post = s::b64(xml);
    let now = s::verify_time(xml);
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            let a = v.verify_post(&post, now).unwrap();
            let dt = t.elapsed();
            assert_eq!(a.name_id, "jane@acme.com");
            dt
        })
        .min()
        .unwrap()
}

#[test]
fn time_grows_linearly() {
    let v = s::verifier();
    let sizes = [8usize, 32, 128];
    let responses: Vec<String> = sizes.iter().map(|k| s::mint_sized(k * 1024)).collect();
    let times: Vec<Duration> = responses.iter().map(|x| fastest(&v, x, 15)).collect();
    for ((k, x), t) in sizes.iter().zip(&responses).zip(&times) {
        eprintln!("{k:>4} KiB target, {:>7} bytes: {t:?}", x.len());
    }
    for i in 1..sizes.len() {
        let input = responses[i].len() as f64 / responses[i - 1].len() as f64;
        let time = times[i].as_secs_f64() / times[i - 1].as_secs_f64();
        assert!(input > 3.5, "step {i}: input grew only {input:.2}×");
        assert!(
            time < 2.0 * input,
            "{} → {} bytes ({input:.2}×) took {time:.2}× the time",
            responses[i - 1].len(),
            responses[i].len()
        );
    }
}
