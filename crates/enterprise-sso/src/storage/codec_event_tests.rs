//! The change-feed event format: snapshots, their checksums and the legacy layout.
#![allow(clippy::unwrap_used)]

use super::*;
use crate::events::{Event, EventKind};
use crate::testing::{account_for, saml_connection};

fn event() -> Event {
    let c = saml_connection("x", &["x.events.com"], true);
    let mut e = Event::new(EventKind::ConnectionUpdated, UnixMillis::new(7));
    e.position = 3;
    e.connection_id = Some(c.id.clone());
    e.changed = vec!["name".into()];
    e.account = Some(account_for(&c, "sub", "u@x.events.com"));
    e.connection = Some(c);
    e
}

#[test]
fn events_nest_their_snapshots_and_round_trip() {
    let e = event();
    let bytes = encode_event(&e);
    assert_eq!(bytes[0], FORMAT_V4);
    assert_eq!(decode_event(&bytes).unwrap(), e);
    // Tag 3 (the same fields as JSON) stays readable.
    let v3 = seal_as(FORMAT_V3, &stored_event(&e, e.position));
    assert_eq!(decode_event(&v3).unwrap(), e);
    // Base64 of an encoded record inside the JSON made events a third larger.
    let mut e = e;
    e.account = None;
    let bytes = encode_event(&e);
    let record = encode_connection(e.connection.as_ref().unwrap());
    assert!(
        bytes.len() < record.len() + 300,
        "{} bytes for a {}-byte connection",
        bytes.len(),
        record.len()
    );
}

#[test]
fn connections_store_the_primary_certificate_once_and_tag_2_and_3_records_still_read() {
    let c = saml_connection("x", &["x.v3.com"], true);
    let v4 = encode_connection(&c);
    assert_eq!(v4[0], FORMAT_V4);
    let pem = c.saml().unwrap().idp_certificate.clone().unwrap();
    let first_line = pem.lines().nth(1).unwrap();
    let found = v4
        .windows(first_line.len())
        .filter(|w| *w == first_line.as_bytes())
        .count();
    assert_eq!(found, 1, "the certificate is stored once");
    assert_eq!(decode_connection(&v4).unwrap(), c);
    // As the previous version wrote it: tag 3, the same fields as JSON.
    let v3 = seal_as(FORMAT_V3, &stored_connection(&c));
    assert!(std::str::from_utf8(&v3[5..]).is_ok());
    assert_eq!(decode_connection(&v3).unwrap(), c);
    // As the previous version wrote it: tag 2, the certificate twice, no index.
    let mut old = stored_connection(&c);
    let saml = old.saml.as_mut().unwrap();
    saml.primary = None;
    saml.idp_certificate = Some(pem);
    let tag2 = seal_as(FORMAT_CHECKSUMMED, &old);
    assert_eq!(tag2[0], FORMAT_CHECKSUMMED);
    assert_eq!(decode_connection(&tag2).unwrap(), c);
    // A damaged index is corrupt, not another certificate.
    let mut bad = stored_connection(&c);
    bad.saml.as_mut().unwrap().primary = Some(7);
    assert!(matches!(
        decode_connection(&seal_as(FORMAT_V4, &bad)),
        Err(Error::Corrupt { .. })
    ));
    // A tag damaged into another known tag fails the checksum (the CRC covers it),
    // rather than reaching a decoder of the wrong format: tag 2's CRC leaves its tag
    // out, so only tag 4's own CRC covering the tag byte catches this one.
    for other in [FORMAT_CHECKSUMMED, FORMAT_V3] {
        let mut retagged = v4.clone();
        retagged[0] = other;
        match decode_connection(&retagged) {
            Err(Error::Corrupt { reason, .. }) => {
                assert!(reason.contains("checksum"), "tag {other}: {reason}")
            }
            wrong => panic!("tag {other}: {wrong:?}"),
        }
    }
}

#[test]
fn account_metadata_of_every_json_kind_round_trips() {
    let c = saml_connection("m", &["m.example.com"], true);
    let mut a = account_for(&c, "sub", "u@m.example.com");
    let meta = serde_json::json!({
        "n": null, "t": true, "f": false, "i": -42, "u": u64::MAX, "x": 1.5,
        "whole_float": 2.0, "s": "ünïcode \u{0} \"quoted\"",
        "deep": {"a": [1, [2, {"b": []}]], "e": {}},
    });
    a.public_metadata = meta.as_object().unwrap().clone();
    let bytes = encode_account(&a);
    assert_eq!(bytes[0], FORMAT_V4);
    let back = decode_account(&bytes).unwrap();
    assert_eq!(back, a);
    assert!(back.public_metadata["whole_float"].is_f64());
}

#[test]
fn a_deeply_nested_record_is_corrupt_not_a_stack_overflow() {
    // A record crafted with a valid checksum (someone who can write the store): the
    // metadata value nested 100,000 arrays deep. MessagePack decoding stops at depth
    // 1,024 with an error.
    let c = saml_connection("deep", &["deep.example.com"], true);
    let mut a = account_for(&c, "sub", "u@deep.example.com");
    a.public_metadata = serde_json::json!({"x": null}).as_object().unwrap().clone();
    let good = encode_account(&a);
    let payload = &good[5..];
    let at = payload
        .windows(3)
        .position(|w| w == [0xa1, b'x', 0xc0])
        .unwrap()
        + 2;
    let mut deep = payload[..at].to_vec();
    deep.extend(std::iter::repeat_n(0x91u8, 100_000));
    deep.extend_from_slice(&payload[at..]);
    let mut record = vec![FORMAT_V4];
    record.extend_from_slice(&crc_of(FORMAT_V4, &deep).to_be_bytes());
    record.extend_from_slice(&deep);
    assert!(matches!(
        decode_account(&record),
        Err(Error::Corrupt { .. })
    ));
    // Metadata as deep as JSON input allows still round-trips.
    let nested: serde_json::Value =
        serde_json::from_str(&format!("{}1{}", "[".repeat(126), "]".repeat(126))).unwrap();
    a.public_metadata = serde_json::json!({ "x": nested })
        .as_object()
        .unwrap()
        .clone();
    assert_eq!(decode_account(&encode_account(&a)).unwrap(), a);
}

#[test]
fn legacy_records_without_a_checksum_still_read() {
    let c = saml_connection("legacy", &["legacy.example.com"], false);
    // Tag 1 is bare JSON (the tag-3 JSON, a superset of tag 1's, reads as tag 1).
    assert_eq!(decode_connection(&encode_connection_tag1(&c)).unwrap(), c);
    let a = account_for(&c, "sub", "u@legacy.example.com");
    let mut legacy = vec![ACCOUNT_FORMAT_V1];
    legacy.extend_from_slice(&serde_json::to_vec(&stored_account(&a)).unwrap());
    assert_eq!(decode_account(&legacy).unwrap(), a);
    let tag2 = seal_as(FORMAT_CHECKSUMMED, &stored_account(&a));
    assert_eq!(decode_account(&tag2).unwrap(), a);
}

#[test]
fn tag_2_events_with_base64_snapshots_stay_readable() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let e = event();
    let old = seal_as(
        FORMAT_CHECKSUMMED,
        &StoredEvent {
            pos: e.position,
            id: e.id.to_string(),
            kind: e.kind.as_str().to_owned(),
            conn_id: e.connection_id.as_ref().map(|c| c.to_string()),
            acc_id: None,
            changed: e.changed.clone(),
            conn: e
                .connection
                .as_ref()
                .map(|c| b64.encode(encode_connection(c))),
            acc: e.account.as_ref().map(|a| b64.encode(encode_account(a))),
            c: None,
            a: None,
            days: None,
            fail: None,
            at: e.created_at.get(),
        },
    );
    assert_eq!(old[0], FORMAT_CHECKSUMMED);
    assert_eq!(decode_event(&old).unwrap(), e);
    let mut flipped = encode_event(&e);
    let last = flipped.len() - 2;
    flipped[last] ^= 1;
    assert!(matches!(decode_event(&flipped), Err(Error::Corrupt { .. })));
}

#[test]
fn sign_in_failures_round_trip_with_their_reason() {
    let c = saml_connection("f", &["f.events.com"], true);
    let mut e = Event::sign_in_failed(
        c.id.clone(),
        crate::events::SignInFailure {
            code: "saml_audience_mismatch".into(),
            message: "expected a, received b".into(),
        },
        9,
    );
    e.position = 4;
    let back = decode_event(&encode_event(&e)).unwrap();
    assert_eq!(back, e);
    assert_eq!(back.kind.as_str(), "authentication.sso_failed");
}
