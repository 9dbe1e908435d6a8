//! Sign-in batch cases ([`SignInStore::commit_sign_ins`](enterprise_sso::SignInStore)):
//! the records and the account write of one sign-in commit all together or not at all,
//! and of two batches taking the same pending request exactly one applies.

use std::sync::atomic::{AtomicUsize, Ordering};

use enterprise_sso::events::{Event, EventKind};
use enterprise_sso::{
    sign_in_key, AccountId, AccountWrite, EnterpriseAccount, Error, SignInConflict, SignInItem,
    SignInKind, SignInOp, Store, UnixMillis,
};
use futures_executor::block_on;

use crate::fixtures::*;

const NOW: i64 = 2_000;

fn record(kind: SignInKind, raw: &str, expires_at: i64, payload: &[u8]) -> SignInItem {
    SignInItem {
        kind,
        key: sign_in_key(raw),
        connection_id: None,
        created_at: UnixMillis::new(1_000),
        expires_at: UnixMillis::new(expires_at),
        payload: payload.to_vec(),
    }
}

fn take(it: &SignInItem) -> SignInOp {
    SignInOp::Take {
        kind: it.kind,
        key: it.key.clone(),
    }
}

async fn get(repo: &dyn Store, it: &SignInItem) -> Option<SignInItem> {
    repo.get_sign_in(it.kind, &it.key, UnixMillis::new(NOW))
        .await
        .expect("get")
}

/// Every event of the feed about `account`.
async fn events_of(repo: &dyn Store, account: &AccountId) -> Vec<Event> {
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        let page = repo.events_after(at, 64).await.expect("feed").events;
        let Some(last) = page.last() else {
            return out;
        };
        at = last.position;
        out.extend(
            page.into_iter()
                .filter(|e| e.account_id.as_ref() == Some(account)),
        );
    }
}

/// The account as a sign-in at `now` would write it over `old`.
fn signed_in(old: &EnterpriseAccount, now: i64) -> EnterpriseAccount {
    let mut a = old.clone();
    a.last_authenticated_at = Some(UnixMillis::new(
        now.max(old.last_authenticated_at.map_or(now, UnixMillis::get) + 1),
    ));
    a.updated_at = a
        .last_authenticated_at
        .unwrap_or(UnixMillis::new(now))
        .max(old.updated_at);
    a.version = old.version + 1;
    a
}

/// What a batch that wrote nothing left as it was.
struct Unchanged<'a> {
    pending: &'a SignInItem,
    replay: &'a SignInItem,
    code: &'a SignInItem,
    live: &'a SignInItem,
    account: &'a EnterpriseAccount,
    events: &'a [Event],
}

impl Unchanged<'_> {
    async fn check(&self, repo: &dyn Store, what: &str) {
        let pending = get(repo, self.pending).await;
        assert_eq!(pending.as_ref(), Some(self.pending), "{what}: pending");
        assert_eq!(get(repo, self.replay).await, None, "{what}: replay entry");
        assert_eq!(get(repo, self.code).await, None, "{what}: code written");
        let live = get(repo, self.live).await;
        assert_eq!(live.as_ref(), Some(self.live), "{what}: live record");
        let account = must_get_account(repo, &self.account.id).await;
        assert_eq!(&account, self.account, "{what}: account");
        let events = events_of(repo, &self.account.id).await;
        assert_eq!(events, self.events, "{what}: events");
    }
}

/// A batch writes everything or nothing: a take with no live record, a put over a live
/// one, a refused account write (version conflict, subject taken) each leave the records,
/// the account and the feed as they were; a batch that applies takes, puts, writes the
/// account and appends its `authentication.sso_succeeded`, and its ops see each other.
pub async fn sign_in_batches_are_all_or_nothing(repo: &dyn Store) {
    let tag = unique_tag();
    let conn = sign_in_connection("batch", &format!("b{tag}"), false);
    insert_all(repo, std::slice::from_ref(&conn)).await;
    let account = account_for(&conn, &format!("subject-{tag}"), &format!("jo@b{tag}.com"));
    repo.insert_account(&account).await.expect("account");
    let before = events_of(repo, &account.id).await;

    let pending = record(SignInKind::SamlRequest, &format!("req-{tag}"), 10_000, b"p");
    assert!(repo
        .put_sign_in(&pending, UnixMillis::new(NOW))
        .await
        .expect("put pending"));
    let replay = record(SignInKind::SamlAssertion, &format!("as-{tag}"), 10_000, b"");
    let code = record(
        SignInKind::AuthorizationCode,
        &format!("code-{tag}"),
        10_000,
        b"c",
    );
    let missing = record(
        SignInKind::HostedRequest,
        &format!("none-{tag}"),
        10_000,
        b"",
    );
    let live = record(
        SignInKind::SamlAssertion,
        &format!("live-{tag}"),
        10_000,
        b"l",
    );
    assert!(repo
        .put_sign_in(&live, UnixMillis::new(NOW))
        .await
        .expect("put live"));
    let expired = record(SignInKind::HostedRequest, &format!("old-{tag}"), NOW, b"o");
    assert!(repo
        .put_sign_in(&expired, UnixMillis::new(1_000))
        .await
        .expect("put expired"));
    let update = AccountWrite::Update {
        account: signed_in(&account, NOW),
        expected_version: account.version,
    };
    let at = UnixMillis::new(NOW);

    let unchanged = Unchanged {
        pending: &pending,
        replay: &replay,
        code: &code,
        live: &live,
        account: &account,
        events: &before,
    };

    // A take that finds nothing (absent, or expired) stops the batch where it stands.
    for (gone, index) in [(&missing, 2), (&expired, 2)] {
        let ops = [take(&pending), SignInOp::Put(replay.clone()), take(gone)];
        let got = repo.commit_sign_ins(&ops, Some(&update), at).await;
        assert_eq!(got.expect("batch"), Err(SignInConflict { index }));
        unchanged.check(repo, "a failing take").await;
    }
    // A put over a live record (a replayed assertion) too, after a take that succeeded.
    let ops = [
        take(&pending),
        SignInOp::Put(live.clone()),
        SignInOp::Put(code.clone()),
    ];
    let got = repo.commit_sign_ins(&ops, Some(&update), at).await;
    assert_eq!(got.expect("batch"), Err(SignInConflict { index: 1 }));
    unchanged.check(repo, "a failing put").await;
    // A refused account write undoes the takes and puts before it.
    let ops = [
        take(&pending),
        SignInOp::Put(replay.clone()),
        SignInOp::Put(code.clone()),
    ];
    let stale = AccountWrite::Update {
        account: signed_in(&account, NOW),
        expected_version: account.version + 7,
    };
    match repo.commit_sign_ins(&ops, Some(&stale), at).await {
        Err(Error::VersionConflict { .. }) => {}
        other => panic!("a stale account write: {other:?}"),
    }
    unchanged.check(repo, "a version conflict").await;
    let mut twin = account_for(
        &conn,
        &format!("subject-{tag}"),
        &format!("twin@b{tag}.com"),
    );
    twin.id = AccountId::generate();
    match repo
        .commit_sign_ins(&ops, Some(&AccountWrite::Insert(twin.clone())), at)
        .await
    {
        Err(Error::AccountExists { id }) => assert_eq!(id, account.id),
        other => panic!("an account whose subject is taken: {other:?}"),
    }
    unchanged.check(repo, "a subject taken").await;
    assert_eq!(repo.get_account(&twin.id).await.expect("get twin"), None);

    // All of it: the take gives the record, the puts are there, the account is written
    // with its events (the sign-in's among them).
    let got = repo.commit_sign_ins(&ops, Some(&update), at).await;
    assert_eq!(got.expect("batch"), Ok(vec![pending.clone()]));
    assert_eq!(
        get(repo, &pending).await,
        None,
        "the pending request was not taken"
    );
    assert_eq!(get(repo, &replay).await, Some(replay.clone()));
    assert_eq!(get(repo, &code).await, Some(code.clone()));
    assert_eq!(must_get_account(repo, &account.id).await, *update.account());
    let after = events_of(repo, &account.id).await;
    let new: Vec<EventKind> = after[before.len()..].iter().map(|e| e.kind).collect();
    assert!(
        new.contains(&EventKind::SsoSucceeded),
        "new events: {new:?}"
    );
    // Once applied, the same batch finds its request gone.
    let again = repo.commit_sign_ins(&ops, None, at).await;
    assert_eq!(again.expect("batch"), Err(SignInConflict { index: 0 }));

    // Ops see the earlier ones: a put then a take of the same key gives it back and
    // leaves nothing; two puts of one key refuse the second (and write neither).
    let fresh = record(SignInKind::AccessToken, &format!("tok-{tag}"), 10_000, b"t");
    let ops = [SignInOp::Put(fresh.clone()), take(&fresh)];
    let got = repo.commit_sign_ins(&ops, None, at).await;
    assert_eq!(got.expect("put then take"), Ok(vec![fresh.clone()]));
    assert_eq!(get(repo, &fresh).await, None);
    let ops = [SignInOp::Put(fresh.clone()), SignInOp::Put(fresh.clone())];
    let got = repo.commit_sign_ins(&ops, None, at).await;
    assert_eq!(got.expect("two puts"), Err(SignInConflict { index: 1 }));
    assert_eq!(
        get(repo, &fresh).await,
        None,
        "the first put of a failed batch stayed"
    );
    // A batch of nothing but an account write is that write.
    let next = AccountWrite::Update {
        account: signed_in(update.account(), NOW + 1),
        expected_version: update.account().version,
    };
    let got = repo.commit_sign_ins(&[], Some(&next), at).await;
    assert_eq!(got.expect("account only"), Ok(Vec::new()));
    assert_eq!(must_get_account(repo, &account.id).await, *next.account());
}

/// A batch of pending requests ([`SignInStore::commit_pending`](enterprise_sso::SignInStore),
/// which may skip the wait for the disk) follows the rules of every batch: atomic, in
/// order, refusing a put over a live key, and seen at once by the next read and take.
pub async fn pending_batches_follow_the_batch_rules(repo: &dyn Store) {
    let tag = unique_tag();
    let at = UnixMillis::new(NOW);
    let request = record(SignInKind::SamlRequest, &format!("req-{tag}"), 10_000, b"r");
    let client = record(
        SignInKind::HostedRequest,
        &format!("cli-{tag}"),
        10_000,
        b"c",
    );
    let ops = [
        SignInOp::Put(request.clone()),
        SignInOp::Put(client.clone()),
    ];
    let got = repo.commit_pending(&ops, at).await;
    assert_eq!(got.expect("pending batch"), Ok(Vec::new()));
    assert_eq!(get(repo, &request).await, Some(request.clone()));
    assert_eq!(get(repo, &client).await, Some(client.clone()));
    // A live key refuses the batch, which then writes nothing of its own.
    let other = record(
        SignInKind::SamlRequest,
        &format!("other-{tag}"),
        10_000,
        b"o",
    );
    let ops = [SignInOp::Put(other.clone()), SignInOp::Put(client.clone())];
    let got = repo.commit_pending(&ops, at).await;
    assert_eq!(
        got.expect("refused batch"),
        Err(SignInConflict { index: 1 })
    );
    assert_eq!(
        get(repo, &other).await,
        None,
        "the refused batch wrote its first put"
    );
    // The durable path takes what the pending one wrote, once.
    let taken = repo.commit_sign_ins(&[take(&request)], None, at).await;
    assert_eq!(taken.expect("take"), Ok(vec![request.clone()]));
    let again = repo.commit_pending(&[take(&request)], at).await;
    assert_eq!(again.expect("take again"), Err(SignInConflict { index: 0 }));
}

/// Of 16 threads committing the ACS batch of the same pending request at once (take it,
/// remember their own assertion, store their own code, write the same account), exactly
/// one applies; the others write nothing and are told the take failed.
pub async fn concurrent_sign_in_batches_one_wins(repo: &dyn Store) {
    let tag = unique_tag();
    let conn = sign_in_connection("batch-race", &format!("r{tag}"), false);
    insert_all(repo, std::slice::from_ref(&conn)).await;
    let account = account_for(&conn, &format!("subject-{tag}"), &format!("jo@r{tag}.com"));
    repo.insert_account(&account).await.expect("account");
    let before = events_of(repo, &account.id).await;
    let pending = record(
        SignInKind::SamlRequest,
        &format!("req-{tag}"),
        i64::MAX,
        b"p",
    );
    assert!(repo
        .put_sign_in(&pending, UnixMillis::new(NOW))
        .await
        .expect("put pending"));
    let update = AccountWrite::Update {
        account: signed_in(&account, NOW),
        expected_version: account.version,
    };
    let codes: Vec<SignInItem> = (0..16)
        .map(|i| {
            record(
                SignInKind::AuthorizationCode,
                &format!("code-{tag}-{i}"),
                i64::MAX,
                b"c",
            )
        })
        .collect();
    let wins = AtomicUsize::new(0);
    let lost = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for (i, code) in codes.iter().enumerate() {
            let (pending, update, wins, lost, tag) = (&pending, &update, &wins, &lost, &tag);
            s.spawn(move || {
                let replay = record(
                    SignInKind::SamlAssertion,
                    &format!("as-{tag}-{i}"),
                    i64::MAX,
                    b"",
                );
                let ops = [
                    take(pending),
                    SignInOp::Put(replay),
                    SignInOp::Put(code.clone()),
                ];
                match block_on(repo.commit_sign_ins(&ops, Some(update), UnixMillis::new(NOW))) {
                    Ok(Ok(taken)) => {
                        assert_eq!(taken, vec![pending.clone()]);
                        wins.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(Err(SignInConflict { index: 0 })) => {
                        lost.fetch_add(1, Ordering::SeqCst);
                    }
                    other => panic!("a concurrent batch: {other:?}"),
                }
            });
        }
    });
    assert_eq!(wins.load(Ordering::SeqCst), 1, "concurrent batches applied");
    assert_eq!(lost.load(Ordering::SeqCst), 15);
    let mut stored = 0;
    for code in &codes {
        stored += usize::from(get(repo, code).await.is_some());
    }
    assert_eq!(stored, 1, "codes of losing batches were stored");
    assert_eq!(must_get_account(repo, &account.id).await, *update.account());
    let after = events_of(repo, &account.id).await;
    let succeeded = after[before.len()..]
        .iter()
        .filter(|e| e.kind == EventKind::SsoSucceeded)
        .count();
    assert_eq!(
        succeeded, 1,
        "one sign-in, one authentication.sso_succeeded"
    );
}
