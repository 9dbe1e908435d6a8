//! Concurrency stress on every store and mode: 64 tokio tasks and 8 OS threads at once
//! apply random patches, sign-ins, deletes, routing reads and stale compare-and-swap writes
//! through the service and the store, with the default retry limit. No version conflict may
//! escape, no stale write may be accepted, routing never names another connection, and the
//! final state (records, domain index, accounts, deleted connections) must equal a serial
//! replay of the accepted operations. A store that ignores versions fails this every time
//! (`a_version_ignoring_store_always_fails`). `SSO_STRESS_OPS` sets the operations per
//! writer (default 20).
#![allow(clippy::unwrap_used)]

use enterprise_sso::UnixMillis;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use enterprise_sso::{
    merge, AccountId, AccountPage, AccountQuery, AccountRepo, Assertion, ConnectionId,
    ConnectionRepo, Connections, Domain, EnterpriseAccount, EnterpriseConnection, Error, EventFeed,
    ListQuery, Page, Patch, Result, SignInItem, SignInKind, SignInStore, Store, UpdateConnection,
};
use enterprise_sso_conformance::saml_connection;
use enterprise_sso_memory::MemoryRepo;
use enterprise_sso_reliability::{Kind, Rng};
use futures_executor::block_on;

const TASKS: usize = 64;
const THREADS: usize = 8;
const PATCHED: usize = 3;
const SIGN_IN: usize = 3;
const DISPOSABLE: usize = 24;
const CLOCK: i64 = 4_102_444_800_000;

fn ops() -> usize {
    std::env::var("SSO_STRESS_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20)
}

#[allow(clippy::large_enum_variant)] // a test's log of accepted operations
enum Accepted {
    Patch {
        conn: usize,
        version: u64,
        patch: UpdateConnection,
    },
    SignIn {
        conn: usize,
        subject: u64,
        version: u64,
        first_name: String,
    },
    Delete {
        conn: usize,
    },
}

struct World {
    tag: String,
    conns: Vec<EnterpriseConnection>,
    next_delete: AtomicUsize,
    log: Mutex<Vec<Accepted>>,
}

fn domain_of(tag: &str, i: usize) -> String {
    format!("s{i}.{tag}.stress.example.com")
}

/// One writer's operations (`w` numbers the writer).
async fn writer(repo: &dyn Store, world: &World, w: usize) {
    let svc = Connections::new(repo).with_clock(Arc::new(|| CLOCK));
    let mut rng = Rng::new(w as u64 + 1);
    for n in 0..ops() {
        let accepted = match rng.below(10) {
            0..=3 => {
                let conn = rng.below(PATCHED as u64) as usize;
                let patch = random_patch(&mut rng, &world.tag, conn, w, n);
                match svc.update(&world.conns[conn].id, &patch).await {
                    Ok(c) => Some(Accepted::Patch {
                        conn,
                        version: c.version,
                        patch,
                    }),
                    Err(e) => panic!("update failed: {e}"),
                }
            }
            4..=6 => {
                let conn = PATCHED + rng.below(SIGN_IN as u64) as usize;
                let subject = rng.below(4);
                let first_name = format!("w{w}n{n}");
                let a = Assertion::new(
                    &format!("user{subject}"),
                    [("firstName", first_name.as_str())],
                )
                .with_email(&format!("user{subject}@{}", domain_of(&world.tag, conn)));
                match svc.record_sign_in(&world.conns[conn].id, &a).await {
                    Ok(r) => Some(Accepted::SignIn {
                        conn,
                        subject,
                        version: r.account.version,
                        first_name,
                    }),
                    Err(e) => panic!("sign-in failed: {e}"),
                }
            }
            7 => {
                let k = world.next_delete.fetch_add(1, Ordering::SeqCst);
                if k < DISPOSABLE {
                    let conn = PATCHED + SIGN_IN + k;
                    svc.delete(&world.conns[conn].id)
                        .await
                        .unwrap_or_else(|e| panic!("delete failed: {e}"));
                    Some(Accepted::Delete { conn })
                } else {
                    None
                }
            }
            8 => {
                // A routing read never names another connection.
                let conn = rng.below(PATCHED as u64) as usize;
                let email = format!("x@{}", domain_of(&world.tag, conn));
                if let Some(c) = svc.route_email(&email).await.unwrap() {
                    assert_eq!(c.id, world.conns[conn].id, "{email} routed elsewhere");
                }
                None
            }
            _ => {
                // A stale compare-and-swap: read, let another write land, write with the
                // old version. It must be refused, whatever the interleaving.
                let conn = rng.below(PATCHED as u64) as usize;
                let id = &world.conns[conn].id;
                let current = repo.get(id).await.unwrap().unwrap();
                let patch = UpdateConnection {
                    name: Patch::Value(format!("stale w{w}n{n}")),
                    ..Default::default()
                };
                let stale_next = merge(&current, &patch, CLOCK).unwrap();
                let landed = random_patch(&mut rng, &world.tag, conn, w, n);
                let c = svc.update(id, &landed).await.unwrap();
                world.log.lock().unwrap().push(Accepted::Patch {
                    conn,
                    version: c.version,
                    patch: landed,
                });
                match repo.update(&stale_next, current.version).await {
                    Err(Error::VersionConflict { .. }) => None,
                    other => panic!("a stale write was not refused: {other:?}"),
                }
            }
        };
        if let Some(a) = accepted {
            world.log.lock().unwrap().push(a);
        }
    }
}

fn random_patch(rng: &mut Rng, tag: &str, conn: usize, w: usize, n: usize) -> UpdateConnection {
    let mut patch = UpdateConnection {
        name: Patch::Value(format!("w{w}n{n}")),
        ..Default::default()
    };
    match rng.below(3) {
        0 => patch.active = Patch::Value(rng.below(2) == 0),
        1 => patch.organization_id = Patch::Value(format!("org_{}", rng.below(3))),
        _ => {
            patch.domains = Patch::Value(vec![
                domain_of(tag, conn),
                format!("w{w}n{n}.c{conn}.{tag}.stress.example.com"),
            ])
        }
    }
    patch
}

fn stress(repo: Arc<dyn Store>) {
    let tag = ConnectionId::generate().as_str()[4..].to_lowercase();
    let conns: Vec<EnterpriseConnection> = (0..PATCHED + SIGN_IN + DISPOSABLE)
        .map(|i| {
            let mut c = saml_connection(&format!("stress{i}"), &[&domain_of(&tag, i)], true);
            if i >= PATCHED {
                c.first_authenticated_at = Some(UnixMillis::new(1));
                c.sync_user_attributes = true;
            }
            c
        })
        .collect();
    for c in &conns {
        block_on(repo.insert(c)).unwrap();
    }
    let world = Arc::new(World {
        tag,
        conns,
        next_delete: AtomicUsize::new(0),
        log: Mutex::new(Vec::new()),
    });
    // 64 tasks on a tokio runtime and 8 OS threads, at the same time.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (repo, world) = (repo.clone(), world.clone());
            s.spawn(move || block_on(writer(&*repo, &world, TASKS + t)));
        }
        rt.block_on(async {
            let mut handles = Vec::new();
            for t in 0..TASKS {
                let (repo, world) = (repo.clone(), world.clone());
                handles.push(tokio::spawn(async move { writer(&*repo, &world, t).await }));
            }
            for h in handles {
                h.await.unwrap();
            }
        });
    });
    check(&*repo, &world);
}

/// The final state against a serial replay of the accepted operations.
fn check(repo: &dyn Store, world: &World) {
    let log = world.log.lock().unwrap();
    let deleted: HashSet<usize> = log
        .iter()
        .filter_map(|a| match a {
            Accepted::Delete { conn } => Some(*conn),
            _ => None,
        })
        .collect();
    for i in 0..PATCHED {
        let mut c = world.conns[i].clone();
        let mut mine: Vec<_> = log
            .iter()
            .filter_map(|a| match a {
                Accepted::Patch {
                    conn,
                    version,
                    patch,
                } if *conn == i => Some((*version, patch)),
                _ => None,
            })
            .collect();
        mine.sort_by_key(|(v, _)| *v);
        for (version, patch) in mine {
            c = merge(&c, patch, CLOCK).unwrap();
            assert_eq!(c.version, version, "versions are dense: no update lost");
        }
        assert_eq!(
            block_on(repo.get(&c.id)).unwrap().as_ref(),
            Some(&c),
            "final state equals the serial replay"
        );
        // The domain index agrees with the final record.
        for d in &c.domains {
            let owner = block_on(repo.find_by_domain(d)).unwrap().unwrap();
            assert_eq!(owner.id, c.id, "domain {d} routes to its owner");
        }
        let all = block_on(enterprise_sso::list_all(
            repo,
            &ListQuery {
                domain: None,
                ..Default::default()
            },
        ))
        .unwrap();
        let claimed: usize = all.iter().map(|x| x.domains.len()).sum();
        let unique: HashSet<&Domain> = all.iter().flat_map(|x| x.domains.iter()).collect();
        assert_eq!(claimed, unique.len(), "each domain claimed once");
    }
    for k in 0..DISPOSABLE {
        let i = PATCHED + SIGN_IN + k;
        let c = &world.conns[i];
        let stored = block_on(repo.get(&c.id)).unwrap();
        assert_eq!(
            stored.is_none(),
            deleted.contains(&i),
            "{i}: deleted iff accepted"
        );
        if stored.is_none() {
            let d = Domain::parse(&domain_of(&world.tag, i)).unwrap();
            assert_eq!(
                block_on(repo.find_by_domain(&d)).unwrap(),
                None,
                "domain freed"
            );
        }
    }
    let mut last: HashMap<(usize, u64), (u64, String)> = HashMap::new();
    let mut counts: HashMap<(usize, u64), u64> = HashMap::new();
    for a in log.iter() {
        if let Accepted::SignIn {
            conn,
            subject,
            version,
            first_name,
        } = a
        {
            *counts.entry((*conn, *subject)).or_default() += 1;
            let e = last.entry((*conn, *subject)).or_insert((0, String::new()));
            if *version > e.0 {
                *e = (*version, first_name.clone());
            }
        }
    }
    for i in PATCHED..PATCHED + SIGN_IN {
        let page = block_on(repo.list_accounts(
            &world.conns[i].id,
            &AccountQuery {
                limit: 100,
                ..Default::default()
            },
        ))
        .unwrap();
        for acc in &page.items {
            let subject: u64 = acc
                .provider_user_id
                .as_deref()
                .unwrap()
                .trim_start_matches("user")
                .parse()
                .unwrap();
            let (version, first) = &last[&(i, subject)];
            assert_eq!(
                acc.version,
                counts[&(i, subject)],
                "every sign-in recorded once"
            );
            assert_eq!(acc.version, *version);
            assert_eq!(
                acc.first_name.as_deref(),
                Some(first.as_str()),
                "last attributes"
            );
        }
        let subjects = last.keys().filter(|(c, _)| *c == i).count();
        assert_eq!(page.items.len(), subjects, "one account per subject");
    }
}

/// Every store and mode this machine can run.
fn stores(dir: &std::path::Path) -> Vec<(String, Arc<dyn Store>)> {
    use enterprise_sso_sled::{SledOptions, SledRepo};
    use enterprise_sso_sqlite::{Execution, SqliteOptions, SqliteRepo};
    let mut v: Vec<(String, Arc<dyn Store>)> = vec![
        ("memory".into(), Arc::new(MemoryRepo::new())),
        (
            "sqlite (threads, FULL)".into(),
            Arc::from(Kind::Sqlite.open(&dir.join("threads.db")).unwrap()),
        ),
        (
            "sqlite (inline)".into(),
            Arc::new(
                SqliteRepo::open_with(
                    dir.join("inline.db"),
                    SqliteOptions {
                        execution: Execution::Inline,
                        ..Default::default()
                    },
                )
                .unwrap(),
            ),
        ),
        (
            "sled (flush on write)".into(),
            Arc::from(Kind::Sled.open(&dir.join("sled-flush")).unwrap()),
        ),
        (
            "sled (background flush)".into(),
            Arc::new(SledRepo::open_with(dir.join("sled-bg"), SledOptions::default()).unwrap()),
        ),
    ];
    if let Some(url) = std::env::var("SSO_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        let schema = format!(
            "stress_{}_{}",
            std::process::id(),
            v.len() + dir.as_os_str().len()
        );
        let opts = enterprise_sso_postgres::PostgresOptions {
            schema,
            pool_size: 24,
            ..Default::default()
        };
        let repo = block_on(enterprise_sso_postgres::PostgresRepo::connect_with(
            &url, opts,
        ))
        .unwrap();
        v.push(("postgres".into(), Arc::new(repo)));
    }
    v
}

#[test]
fn every_store_under_concurrency() {
    let dir = tempfile::tempdir().unwrap();
    for (name, store) in stores(dir.path()) {
        let t = std::time::Instant::now();
        stress(store);
        eprintln!("{name}: {:?}", t.elapsed());
    }
}

/// A store that ignores the expected version (the mutation the stress test must catch).
#[derive(Debug)]
struct IgnoresVersions(Arc<dyn Store>);

#[async_trait]
impl SignInStore for IgnoresVersions {
    async fn put_sign_in(&self, item: &SignInItem, now: UnixMillis) -> Result<bool> {
        self.0.put_sign_in(item, now).await
    }
    async fn take_sign_in(
        &self,
        kind: SignInKind,
        key: &str,
        now: UnixMillis,
    ) -> Result<Option<SignInItem>> {
        self.0.take_sign_in(kind, key, now).await
    }
    async fn get_sign_in(
        &self,
        kind: SignInKind,
        key: &str,
        now: UnixMillis,
    ) -> Result<Option<SignInItem>> {
        self.0.get_sign_in(kind, key, now).await
    }
    async fn sweep_sign_ins(&self, now: UnixMillis) -> Result<u64> {
        self.0.sweep_sign_ins(now).await
    }
    async fn list_sign_ins(
        &self,
        kind: SignInKind,
        connection_id: &ConnectionId,
        now: UnixMillis,
    ) -> Result<Vec<SignInItem>> {
        self.0.list_sign_ins(kind, connection_id, now).await
    }
    async fn commit_sign_ins(
        &self,
        ops: &[enterprise_sso::SignInOp],
        account: Option<&enterprise_sso::AccountWrite>,
        now: enterprise_sso::UnixMillis,
    ) -> Result<enterprise_sso::SignInCommit> {
        self.0.commit_sign_ins(ops, account, now).await
    }
}

#[async_trait]
impl ConnectionRepo for IgnoresVersions {
    async fn insert(&self, c: &EnterpriseConnection) -> Result<()> {
        self.0.insert(c).await
    }
    async fn get(&self, id: &ConnectionId) -> Result<Option<EnterpriseConnection>> {
        self.0.get(id).await
    }
    async fn update(&self, c: &EnterpriseConnection, _expected: u64) -> Result<()> {
        let stored = self.0.get(&c.id).await?.map_or(0, |s| s.version);
        self.0.update(c, stored).await
    }
    async fn delete(&self, id: &ConnectionId, now: UnixMillis) -> Result<bool> {
        self.0.delete(id, now).await
    }
    async fn list(&self, q: &ListQuery) -> Result<Page> {
        self.0.list(q).await
    }
    async fn find_by_domain(&self, d: &Domain) -> Result<Option<EnterpriseConnection>> {
        self.0.find_by_domain(d).await
    }
}

#[async_trait]
impl EventFeed for IgnoresVersions {
    async fn events_after(&self, position: u64, limit: usize) -> Result<enterprise_sso::FeedPage> {
        self.0.events_after(position, limit).await
    }
    async fn prune_events_before(&self, before: UnixMillis) -> Result<u64> {
        self.0.prune_events_before(before).await
    }
    async fn append_events(&self, events: &[enterprise_sso::events::Event]) -> Result<()> {
        self.0.append_events(events).await
    }
}

#[async_trait]
impl AccountRepo for IgnoresVersions {
    async fn insert_account(&self, a: &EnterpriseAccount) -> Result<()> {
        self.0.insert_account(a).await
    }
    async fn get_account(&self, id: &AccountId) -> Result<Option<EnterpriseAccount>> {
        self.0.get_account(id).await
    }
    async fn update_account(&self, a: &EnterpriseAccount, _expected: u64) -> Result<()> {
        let stored = self.0.get_account(&a.id).await?.map_or(0, |s| s.version);
        self.0.update_account(a, stored).await
    }
    async fn find_account_by_subject(
        &self,
        c: &ConnectionId,
        s: &str,
    ) -> Result<Option<EnterpriseAccount>> {
        self.0.find_account_by_subject(c, s).await
    }
    async fn find_accounts_by_email(&self, e: &str) -> Result<Vec<EnterpriseAccount>> {
        self.0.find_accounts_by_email(e).await
    }
    async fn list_accounts(&self, c: &ConnectionId, q: &AccountQuery) -> Result<AccountPage> {
        self.0.list_accounts(c, q).await
    }
    async fn delete_account(&self, id: &AccountId, now: UnixMillis) -> Result<bool> {
        self.0.delete_account(id, now).await
    }
}

#[test]
fn a_version_ignoring_store_always_fails() {
    let dir = tempfile::tempdir().unwrap();
    for (name, store) in stores(dir.path()) {
        for round in 0..3 {
            let wrapped: Arc<dyn Store> = Arc::new(IgnoresVersions(store.clone()));
            let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| stress(wrapped)));
            assert!(
                caught.is_err(),
                "{name}, round {round}: a version-ignoring store passed"
            );
        }
    }
}
