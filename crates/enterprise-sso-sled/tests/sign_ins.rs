//! Sign-in records in the sled tree: they survive a reopen, `verify` accepts them and
//! reports a damaged one.
#![allow(clippy::unwrap_used)]

use enterprise_sso::storage::IntegrityError;
use enterprise_sso::UnixMillis;
use enterprise_sso::{sign_in_key, ConnectionId, SignInItem, SignInKind, SignInStore};
use enterprise_sso_sled::{Kind, SledRepo};
use futures_executor::block_on;

#[test]
fn sign_ins_survive_reopen_and_verify_checks_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let it = SignInItem {
        kind: SignInKind::SamlRequest,
        key: sign_in_key("id-1"),
        connection_id: Some(ConnectionId::generate()),
        created_at: UnixMillis::new(1),
        expires_at: UnixMillis::new(100),
        payload: b"relay".to_vec(),
    };
    {
        let repo = SledRepo::open(&path).unwrap();
        assert!(block_on(repo.put_sign_in(&it, UnixMillis::new(1))).unwrap());
        repo.verify().unwrap();
    }
    let repo = SledRepo::open(&path).unwrap();
    assert_eq!(
        block_on(repo.get_sign_in(it.kind, &it.key, UnixMillis::new(2))).unwrap(),
        Some(it.clone())
    );
    let (k, mut v) = repo
        .tree()
        .scan_prefix([Kind::SignIn.byte()])
        .next()
        .unwrap()
        .unwrap();
    assert!(k.starts_with(b"ssaml_request\x00"));
    let mut bytes = v.to_vec();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    v = bytes.into();
    repo.tree().insert(&k, v).unwrap();
    match repo.verify() {
        Err(IntegrityError::Record { table, .. }) => assert_eq!(table, "sign_in_items"),
        other => panic!("expected a damaged sign-in record, got {other:?}"),
    }
    assert!(block_on(repo.get_sign_in(it.kind, &it.key, UnixMillis::new(2))).is_err());
}
