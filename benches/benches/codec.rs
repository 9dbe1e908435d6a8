//! The record encoding: decoding and encoding a connection in the current format (tag 4,
//! MessagePack) beside the same fields as JSON (tag 1, what tags 1–3 decode), for a
//! connection with a certificate and one with IdP metadata XML kept in the record. The
//! ratio between the two, taken in one run, is what moving off JSON bought.
#![allow(missing_docs, clippy::unwrap_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use enterprise_sso::storage::codec::{
    decode_connection, encode_connection, encode_connection_tag1,
};
use enterprise_sso::{EnterpriseConnection, ProtocolConfig};
use enterprise_sso_benches as b;

fn with_metadata() -> EnterpriseConnection {
    let mut c = b::template();
    let xml = include_str!("../../crates/enterprise-sso/tests/fixtures/saml/okta.metadata.xml");
    if let ProtocolConfig::Saml(s) = &mut c.config {
        s.idp_metadata = Some(xml.to_owned());
    }
    c
}

fn codec(c: &mut Criterion) {
    for (label, conn) in [
        ("certificate", b::template()),
        ("metadata", with_metadata()),
    ] {
        let current = encode_connection(&conn);
        let json = encode_connection_tag1(&conn);
        c.bench_function(&format!("decode/{label}/tag4_msgpack"), |bn| {
            bn.iter(|| decode_connection(&current).unwrap())
        });
        c.bench_function(&format!("decode/{label}/json"), |bn| {
            bn.iter(|| decode_connection(&json).unwrap())
        });
        c.bench_function(&format!("encode/{label}/tag4_msgpack"), |bn| {
            bn.iter(|| encode_connection(&conn))
        });
        c.bench_function(&format!("encode/{label}/json"), |bn| {
            bn.iter(|| encode_connection_tag1(&conn))
        });
        println!(
            "{label}: tag 4 {} bytes, JSON {} bytes",
            current.len(),
            json.len()
        );
    }
}

criterion_group!(benches, codec);
criterion_main!(benches);
