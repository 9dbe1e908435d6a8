//! Metadata parsing over adversarial XML shapes at the 1 MiB input limit: each must be
//! parsed or refused in well under 50 ms. Run: `cargo bench -p enterprise-sso-benches
//! --bench hostile_xml`.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use enterprise_sso_protocol::saml::parse_metadata;
use enterprise_sso_protocol::xml::hostile;

fn shapes(c: &mut Criterion) {
    let mut g = c.benchmark_group("hostile_xml_1mib");
    g.sample_size(20);
    for (name, build) in hostile::SHAPES {
        let xml = build(usize::MAX);
        g.bench_with_input(BenchmarkId::from_parameter(name), &xml, |b, xml| {
            b.iter(|| parse_metadata(xml).map(|_| ()))
        });
    }
    g.finish();
}

criterion_group!(benches, shapes);
criterion_main!(benches);
