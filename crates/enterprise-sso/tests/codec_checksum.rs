//! Stored records carry a checksum: any single changed byte of a connection or account
//! record is refused as corrupt on read, never decoded as another record; tag-1 records
//! written before checksums existed still read.
#![allow(clippy::unwrap_used)]

use enterprise_sso::conformance::{account_for, oidc_connection, saml_connection};
use enterprise_sso::storage::codec::{
    decode_account, decode_connection, encode_account, encode_connection,
};
use enterprise_sso::Error;

#[test]
fn every_flipped_byte_is_caught() {
    let conns = [
        saml_connection("sum", &["sum.example.com"], true),
        oidc_connection("sum", &["sum2.example.com"], false),
    ];
    for c in &conns {
        let good = encode_connection(c);
        assert_eq!(good[0], 3);
        assert_eq!(&decode_connection(&good).unwrap(), c);
        for i in 0..good.len() {
            for bit in [0x01u8, 0x80] {
                let mut bad = good.clone();
                bad[i] ^= bit;
                match decode_connection(&bad) {
                    Err(Error::Corrupt { .. }) => {}
                    other => panic!("byte {i} flipped ({bit:#x}): {other:?}"),
                }
            }
        }
        let a = account_for(c, "subject", "a@sum.example.com");
        let good = encode_account(&a);
        assert_eq!(decode_account(&good).unwrap(), a);
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x04;
            assert!(
                matches!(decode_account(&bad), Err(Error::Corrupt { .. })),
                "byte {i}"
            );
        }
    }
}

#[test]
fn legacy_records_without_a_checksum_still_read() {
    let c = saml_connection("legacy", &["legacy.example.com"], false);
    let sealed = encode_connection(&c);
    // Tag 1 is the bare JSON (the current JSON, a superset of tag 1's, reads as tag 1).
    let mut legacy = vec![1u8];
    legacy.extend_from_slice(&sealed[5..]);
    assert_eq!(decode_connection(&legacy).unwrap(), c);
}
