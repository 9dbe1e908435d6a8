//! Stored records carry a checksum: any single changed byte of a connection or account
//! record is refused as corrupt on read, never decoded as another record (records of older
//! tags are tested beside the codec).
#![allow(clippy::unwrap_used)]

use enterprise_sso::storage::codec::{
    decode_account, decode_connection, encode_account, encode_connection,
};
use enterprise_sso::Error;
use enterprise_sso_conformance::{account_for, oidc_connection, saml_connection};

#[test]
fn every_flipped_byte_is_caught() {
    let conns = [
        saml_connection("sum", &["sum.example.com"], true),
        oidc_connection("sum", &["sum2.example.com"], false),
    ];
    for c in &conns {
        let good = encode_connection(c);
        assert_eq!(good[0], 4);
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
