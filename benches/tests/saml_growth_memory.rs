//! Peak heap of the SAML Response verifier grows at most linearly with the response size,
//! up to the 192 KiB document cap: for 8, 32, 128 and 180 KiB responses the peak heap of
//! one verification (dhat's heap profiler) stays under 24× the base64 form value, and each
//! step grows it less than 3× as much as the input grew (a 4× step: under 12×; quadratic
//! work would be 16×). The slack over 2× is for vector doubling and the fixed costs that
//! weigh most at 8 KiB (measured: 5.7×, 10.7×, 11.4× the form value at 8, 32, 128 KiB).
#![allow(missing_docs, clippy::unwrap_used)]

#[path = "../benches/saml_support/mod.rs"]
mod saml_support;

use saml_support as s;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

#[test]
fn peak_heap_grows_linearly() {
    let v = s::verifier();
    let sizes = [8usize, 32, 128, 180];
    let posts: Vec<(String, i64)> = sizes
        .iter()
        .map(|k| {
            let xml = s::mint_sized(k * 1024);
            (s::b64(&xml), s::verify_time(&xml))
        })
        .collect();
    let _profiler = dhat::Profiler::builder().testing().build();
    let mut peaks = Vec::new();
    // Smallest first: the profiler's peak only rises, so each step's peak is its own.
    for (k, (post, now)) in sizes.iter().zip(&posts) {
        let before = dhat::HeapStats::get();
        let a = v.verify_post(post, *now).unwrap();
        assert_eq!(a.name_id, "jane@acme.com");
        drop(a);
        let after = dhat::HeapStats::get();
        let peak = after.max_bytes.saturating_sub(before.curr_bytes);
        let total = after.total_bytes - before.total_bytes;
        eprintln!(
            "{k:>4} KiB target, form value {:>7} bytes: peak heap {peak:>8} bytes ({:.1}× the input), {total:>8} bytes allocated in all",
            post.len(),
            peak as f64 / post.len() as f64
        );
        assert!(
            peak < 24 * post.len(),
            "peak heap {peak} for a {}-byte form value",
            post.len()
        );
        peaks.push((post.len(), peak));
    }
    for w in peaks.windows(2) {
        let input = w[1].0 as f64 / w[0].0 as f64;
        let heap = w[1].1 as f64 / w[0].1 as f64;
        assert!(
            heap < 3.0 * input,
            "input {input:.2}×, peak heap {heap:.2}×"
        );
    }
}
