//! Time of the SAML Response verifier grows at most linearly with the response size: for
//! 8, 32 and 128 KiB responses (Response and Assertion signed, more `memberOf` values; the
//! document cap is 192 KiB), each 4× step of the input costs less than 8× the time (CPU
//! time where Linux reports it). The
//! speed itself is measured in the `saml_verify` bench; peak heap in `saml_growth_memory`.
#![allow(missing_docs, clippy::unwrap_used)]

#[path = "../benches/saml_support/mod.rs"]
mod saml_support;

use std::time::{Duration, Instant};

use saml_support as s;

/// CPU time this thread has used (Linux `/proc/thread-self/schedstat`), `None` elsewhere.
fn thread_cpu() -> Option<Duration> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
        .map(Duration::from_nanos)
}

/// Time per verification of `xml`: where the system reports this thread's CPU time, the
/// mean CPU time of calls repeated until 300 ms of it are spent (the counter advances in
/// scheduler ticks, so one short call can read 0; other work on a shared machine moves
/// wall time far more, and the verifier is single-threaded); elsewhere the fastest of
/// `runs` wall times.
fn per_call(
    v: &enterprise_sso_protocol::saml::sp::ResponseVerifier,
    xml: &str,
    runs: usize,
) -> Duration {
    let post = s::b64(xml);
    let now = s::verify_time(xml);
    let call = || {
        let a = v.verify_post(&post, now).unwrap();
        assert_eq!(a.name_id, "jane@acme.com");
    };
    call();
    if let Some(start) = thread_cpu() {
        let mut calls = 0u32;
        loop {
            call();
            calls += 1;
            let spent = thread_cpu().unwrap_or(start).saturating_sub(start);
            if calls >= 5 && spent >= Duration::from_millis(300) {
                return spent / calls;
            }
        }
    }
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            call();
            t.elapsed()
        })
        .min()
        .unwrap()
}

#[test]
fn time_grows_linearly() {
    let v = s::verifier();
    let sizes = [8usize, 32, 128];
    let responses: Vec<String> = sizes.iter().map(|k| s::mint_sized(k * 1024)).collect();
    let times: Vec<Duration> = responses.iter().map(|x| per_call(&v, x, 15)).collect();
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
