//! Sign-in records on two replicas (two `PostgresRepo`s with their own pools on one
//! schema): of 32 concurrent takes of one pending request, exactly one gets it; of 32
//! concurrent first uses of one assertion ID, exactly one is written, also when the key's
//! earlier record has expired.
#![allow(clippy::unwrap_used)]

mod common;

use enterprise_sso::UnixMillis;
use std::sync::Arc;

use enterprise_sso::{sign_in_key, ConnectionId, SignInItem, SignInKind, SignInStore};
use enterprise_sso_postgres::PostgresRepo;
use tokio::sync::Barrier;

const RACERS: usize = 32;
const ROUNDS: usize = 5;

async fn two_replicas(prefix: &str) -> (PostgresRepo, PostgresRepo) {
    let url = common::url().unwrap();
    let schema = common::unique_schema(prefix);
    let a = PostgresRepo::connect_with(&url, common::options(&schema))
        .await
        .unwrap();
    let b = PostgresRepo::connect_with(&url, common::options(&schema))
        .await
        .unwrap();
    (a, b)
}

fn item(kind: SignInKind, raw: &str, expires_at: i64, payload: &[u8]) -> SignInItem {
    SignInItem {
        kind,
        key: sign_in_key(raw),
        connection_id: Some(ConnectionId::generate()),
        created_at: UnixMillis::new(1),
        expires_at: UnixMillis::new(expires_at),
        payload: payload.to_vec(),
    }
}

/// Runs `op` on `RACERS` tasks, alternating replicas, released together by a barrier;
/// how many returned true.
async fn race<F, Fut>(a: &PostgresRepo, b: &PostgresRepo, op: F) -> usize
where
    F: Fn(PostgresRepo) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let barrier = Arc::new(Barrier::new(RACERS));
    let mut tasks = Vec::new();
    for i in 0..RACERS {
        let repo = if i % 2 == 0 { a.clone() } else { b.clone() };
        let (barrier, op) = (Arc::clone(&barrier), op.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            op(repo).await
        }));
    }
    let mut wins = 0;
    for t in tasks {
        wins += usize::from(t.await.unwrap());
    }
    wins
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_two_takes_on_two_replicas_one_wins() {
    if !common::available() {
        return;
    }
    let (a, b) = two_replicas("signtake").await;
    for round in 0..ROUNDS {
        let it = item(
            SignInKind::SamlRequest,
            &format!("request-{round}"),
            10_000,
            b"relay",
        );
        assert!(a.put_sign_in(&it, UnixMillis::new(1_000)).await.unwrap());
        let key = it.key.clone();
        let winners = Arc::new(std::sync::Mutex::new(Vec::new()));
        let w = Arc::clone(&winners);
        let wins = race(&a, &b, move |repo| {
            let (key, w) = (key.clone(), Arc::clone(&w));
            async move {
                match repo
                    .take_sign_in(SignInKind::SamlRequest, &key, UnixMillis::new(2_000))
                    .await
                    .unwrap()
                {
                    Some(got) => {
                        w.lock().unwrap().push(got);
                        true
                    }
                    None => false,
                }
            }
        })
        .await;
        assert_eq!(wins, 1, "round {round}: {wins} takes won");
        assert_eq!(
            winners.lock().unwrap().as_slice(),
            std::slice::from_ref(&it)
        );
        for repo in [&a, &b] {
            assert_eq!(
                repo.get_sign_in(SignInKind::SamlRequest, &it.key, UnixMillis::new(2_000))
                    .await
                    .unwrap(),
                None
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replayed_assertion_is_written_once_across_replicas() {
    if !common::available() {
        return;
    }
    let (a, b) = two_replicas("signput").await;
    for round in 0..ROUNDS {
        // A fresh key, then a key whose earlier record has expired (each racer would
        // replace it, exactly one may).
        let raw = format!("assertion-{round}");
        if round % 2 == 1 {
            let old = item(SignInKind::SamlAssertion, &raw, 1_500, b"old");
            assert!(a.put_sign_in(&old, UnixMillis::new(1_000)).await.unwrap());
        }
        let wins = race(&a, &b, {
            let raw = raw.clone();
            move |repo| {
                let it = item(SignInKind::SamlAssertion, &raw, 10_000, b"new");
                async move { repo.put_sign_in(&it, UnixMillis::new(2_000)).await.unwrap() }
            }
        })
        .await;
        assert_eq!(wins, 1, "round {round}: {wins} first uses written");
        let stored = b
            .get_sign_in(
                SignInKind::SamlAssertion,
                &sign_in_key(&raw),
                UnixMillis::new(2_000),
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.payload, b"new");
        assert_eq!(stored.expires_at, UnixMillis::new(10_000));
    }
    // Sweeping on both replicas at once removes each expired record once.
    for i in 0..40 {
        let it = item(SignInKind::AccessToken, &format!("token-{i}"), 3_000, b"");
        assert!(a.put_sign_in(&it, UnixMillis::new(2_000)).await.unwrap());
    }
    let (x, y) = tokio::join!(
        a.sweep_sign_ins(UnixMillis::new(20_000)),
        b.sweep_sign_ins(UnixMillis::new(20_000))
    );
    assert_eq!(
        x.unwrap() + y.unwrap(),
        40 + ROUNDS as u64,
        "every expired record swept once"
    );
}
