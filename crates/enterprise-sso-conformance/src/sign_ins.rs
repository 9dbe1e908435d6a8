//! Sign-in store cases: use-once records (pending requests, the assertion replay cache,
//! codes and tokens), taken exactly once also under concurrency, gone when expired.

use enterprise_sso::UnixMillis;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use enterprise_sso::{sign_in_key, ConnectionId, SignInItem, SignInKind, Store};
use futures_executor::block_on;

use crate::fixtures::unique_tag;

fn item(kind: SignInKind, raw: &str, expires_at: i64, payload: &[u8]) -> SignInItem {
    SignInItem {
        kind,
        key: sign_in_key(raw),
        connection_id: Some(ConnectionId::generate()),
        created_at: UnixMillis::new(1_000),
        expires_at: UnixMillis::new(expires_at),
        payload: payload.to_vec(),
    }
}

/// A record is written once, read back exactly, taken once; a second take, a take after
/// expiry and a take under another kind find nothing.
pub async fn sign_in_items_are_taken_once(repo: &dyn Store) {
    let raw = format!("req-{}", unique_tag());
    let a = item(SignInKind::SamlRequest, &raw, 10_000, b"relay\x00state");
    assert!(repo
        .put_sign_in(&a, UnixMillis::new(2_000))
        .await
        .expect("put"));
    assert_eq!(
        repo.get_sign_in(SignInKind::SamlRequest, &a.key, UnixMillis::new(2_000))
            .await
            .expect("get"),
        Some(a.clone())
    );
    assert_eq!(
        repo.take_sign_in(SignInKind::OidcState, &a.key, UnixMillis::new(2_000))
            .await
            .expect("other kind"),
        None,
        "a key of one kind must not answer for another"
    );
    assert_eq!(
        repo.take_sign_in(SignInKind::SamlRequest, &a.key, UnixMillis::new(9_999))
            .await
            .expect("take"),
        Some(a.clone())
    );
    assert_eq!(
        repo.take_sign_in(SignInKind::SamlRequest, &a.key, UnixMillis::new(9_999))
            .await
            .expect("take twice"),
        None,
        "taken twice"
    );
    // Expiry: at expires_at it is gone (exclusive), and taking it then finds nothing.
    let b = item(
        SignInKind::AuthorizationCode,
        &format!("{raw}-b"),
        5_000,
        b"",
    );
    assert!(repo
        .put_sign_in(&b, UnixMillis::new(2_000))
        .await
        .expect("put b"));
    assert_eq!(
        repo.get_sign_in(
            SignInKind::AuthorizationCode,
            &b.key,
            UnixMillis::new(5_000)
        )
        .await
        .expect("get expired"),
        None
    );
    assert_eq!(
        repo.take_sign_in(
            SignInKind::AuthorizationCode,
            &b.key,
            UnixMillis::new(5_000)
        )
        .await
        .expect("take expired"),
        None
    );
}

/// `put` refuses a key that is live (the replay cache's "second use") and changes
/// nothing; once the record has expired the key can be written again.
pub async fn sign_in_put_refuses_a_live_key(repo: &dyn Store) {
    let raw = format!("assertion-{}", unique_tag());
    let first = item(SignInKind::SamlAssertion, &raw, 10_000, b"first");
    assert!(repo
        .put_sign_in(&first, UnixMillis::new(1_000))
        .await
        .expect("first use"));
    let second = item(SignInKind::SamlAssertion, &raw, 20_000, b"second");
    assert!(
        !repo
            .put_sign_in(&second, UnixMillis::new(9_999))
            .await
            .expect("second use"),
        "a replayed assertion ID was accepted"
    );
    assert_eq!(
        repo.get_sign_in(
            SignInKind::SamlAssertion,
            &first.key,
            UnixMillis::new(9_999)
        )
        .await
        .expect("get"),
        Some(first.clone()),
        "a refused put changed the record"
    );
    assert!(
        repo.put_sign_in(&second, UnixMillis::new(10_000))
            .await
            .expect("after expiry"),
        "an expired key must be writable again"
    );
    assert_eq!(
        repo.get_sign_in(
            SignInKind::SamlAssertion,
            &first.key,
            UnixMillis::new(10_000)
        )
        .await
        .expect("get"),
        Some(second)
    );
}

/// Of 16 threads taking the same record at once, exactly one gets it; of 16 threads
/// putting the same key at once, exactly one writes it.
pub async fn concurrent_sign_in_takes_one_wins(repo: &dyn Store) {
    let raw = format!("state-{}", unique_tag());
    let it = item(SignInKind::OidcState, &raw, i64::MAX, b"verifier");
    assert!(repo
        .put_sign_in(&it, UnixMillis::new(0))
        .await
        .expect("put"));
    let wins = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..16 {
            s.spawn(|| {
                if block_on(repo.take_sign_in(SignInKind::OidcState, &it.key, UnixMillis::new(1)))
                    .expect("take")
                    .is_some()
                {
                    wins.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
    });
    assert_eq!(wins.load(Ordering::SeqCst), 1, "concurrent takes");

    let replay = Arc::new(item(
        SignInKind::SamlAssertion,
        &format!("{raw}-replay"),
        i64::MAX,
        b"",
    ));
    let writes = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..16 {
            s.spawn(|| {
                if block_on(repo.put_sign_in(&replay, UnixMillis::new(1))).expect("put") {
                    writes.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
    });
    assert_eq!(writes.load(Ordering::SeqCst), 1, "concurrent first uses");
}

/// `sweep` removes exactly the expired records and counts them.
pub async fn sign_in_sweep_removes_only_expired(repo: &dyn Store) {
    let tag = unique_tag();
    // Clear whatever earlier cases left that expires before our horizon.
    repo.sweep_sign_ins(UnixMillis::new(i64::MAX / 4))
        .await
        .expect("pre-sweep");
    let base = i64::MAX / 4;
    let old: Vec<_> = (0..5)
        .map(|i| {
            item(
                SignInKind::AccessToken,
                &format!("{tag}-old-{i}"),
                base + 10,
                b"",
            )
        })
        .collect();
    let live: Vec<_> = (0..3)
        .map(|i| {
            item(
                SignInKind::AccessToken,
                &format!("{tag}-live-{i}"),
                base + 1_000,
                b"",
            )
        })
        .collect();
    for it in old.iter().chain(&live) {
        assert!(repo
            .put_sign_in(it, UnixMillis::new(base))
            .await
            .expect("put"));
    }
    assert_eq!(
        repo.sweep_sign_ins(UnixMillis::new(base + 10))
            .await
            .expect("sweep"),
        5
    );
    for it in &old {
        assert_eq!(
            repo.get_sign_in(SignInKind::AccessToken, &it.key, UnixMillis::new(base))
                .await
                .expect("get"),
            None,
            "a swept record is still there"
        );
    }
    for it in &live {
        assert!(repo
            .get_sign_in(SignInKind::AccessToken, &it.key, UnixMillis::new(base + 10))
            .await
            .expect("get")
            .is_some());
    }
    assert_eq!(
        repo.sweep_sign_ins(UnixMillis::new(base + 10))
            .await
            .expect("sweep again"),
        0
    );
}

/// `list_sign_ins` gives a connection's live records of one kind, exactly as written:
/// not another connection's, not another kind's (also one whose name starts the same),
/// not an expired one, and not one taken.
pub async fn sign_in_list_is_per_connection_and_kind(repo: &dyn Store) {
    let tag = unique_tag();
    let conn = ConnectionId::generate();
    let other = ConnectionId::generate();
    let mine = |kind, n: u32, expires_at| SignInItem {
        connection_id: Some(conn.clone()),
        created_at: UnixMillis::new(1_000 + i64::from(n)),
        ..item(
            kind,
            &format!("run-{tag}-{n}"),
            expires_at,
            &n.to_be_bytes(),
        )
    };
    let a = mine(SignInKind::TestRun, 1, 10_000);
    let b = mine(SignInKind::TestRun, 2, 20_000);
    let expired = mine(SignInKind::TestRun, 3, 3_000);
    let taken = mine(SignInKind::TestRun, 4, 10_000);
    let other_kind = mine(SignInKind::TestRunStart, 5, 10_000);
    let other_conn = SignInItem {
        connection_id: Some(other.clone()),
        ..mine(SignInKind::TestRun, 6, 10_000)
    };
    for it in [&a, &b, &expired, &taken, &other_kind, &other_conn] {
        assert!(repo
            .put_sign_in(it, UnixMillis::new(2_000))
            .await
            .expect("put"));
    }
    assert!(repo
        .take_sign_in(SignInKind::TestRun, &taken.key, UnixMillis::new(2_000))
        .await
        .expect("take")
        .is_some());
    let mut got = repo
        .list_sign_ins(SignInKind::TestRun, &conn, UnixMillis::new(5_000))
        .await
        .expect("list");
    got.sort_by_key(|i| i.created_at);
    assert_eq!(got, vec![a.clone(), b.clone()]);
    assert_eq!(
        repo.list_sign_ins(SignInKind::TestRun, &other, UnixMillis::new(5_000))
            .await
            .expect("list other"),
        vec![other_conn]
    );
    assert_eq!(
        repo.list_sign_ins(SignInKind::TestRunStart, &conn, UnixMillis::new(5_000))
            .await
            .expect("list other kind"),
        vec![other_kind]
    );
    assert_eq!(
        repo.list_sign_ins(SignInKind::TestRun, &conn, UnixMillis::new(10_000))
            .await
            .expect("list later"),
        vec![b],
        "a record is gone at its expires_at"
    );
    assert!(repo
        .list_sign_ins(
            SignInKind::TestRun,
            &ConnectionId::generate(),
            UnixMillis::new(5_000)
        )
        .await
        .expect("list none")
        .is_empty());
}
