//! Persistence, durability, host-owned databases, record format tags and index integrity.
#![allow(clippy::unwrap_used)]

use enterprise_sso::{
    ClientSecret, ConnectionId, ConnectionRepo, Connections, CreateConnection, Domain, Error,
    EventFeed, ListQuery, Order, Patch, ProtocolConfig, Provider, SamlPatch, UpdateConnection,
};
use enterprise_sso_conformance::{block_on, oidc_connection, saml_connection};
use enterprise_sso_sled::{Kind, SledOptions, SledRepo};
use proptest::prelude::*;

/// The key of a connection's record in the store's tree.
fn record_key(id: &ConnectionId) -> Vec<u8> {
    [&[Kind::Record.byte()], id.as_str().as_bytes()].concat()
}

#[test]
fn everything_survives_drop_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let mut o = oidc_connection("p-oidc", &["p.example.com"], true);
    if let ProtocolConfig::Oidc(c) = &mut o.config {
        c.client_secret = Some(ClientSecret::new("sled-secret"));
    }
    o.organization_id = Some("org_x".into());
    let s = saml_connection("p-saml", &["q.example.com"], false);
    let s2 = {
        let repo = SledRepo::open(&path).unwrap();
        block_on(repo.insert(&o)).unwrap();
        block_on(repo.insert(&s)).unwrap();
        let patch = UpdateConnection {
            name: Patch::Value("renamed".into()),
            ..Default::default()
        };
        block_on(Connections::new(&repo).update(&s.id, &patch)).unwrap()
    };
    let repo = SledRepo::open(&path).unwrap();
    assert_eq!(block_on(repo.get(&o.id)).unwrap(), Some(o.clone()));
    assert_eq!(block_on(repo.get(&s.id)).unwrap(), Some(s2.clone()));
    let d = Domain::parse("p.example.com").unwrap();
    assert_eq!(block_on(repo.find_by_domain(&d)).unwrap(), Some(o.clone()));
    let q = ListQuery {
        organization_id: Some("org_x".into()),
        ..Default::default()
    };
    assert_eq!(block_on(repo.list(&q)).unwrap().items, vec![o.clone()]);
    let all = block_on(repo.list(&ListQuery {
        order: Order::Asc,
        ..Default::default()
    }))
    .unwrap();
    assert_eq!(all.items, vec![o, s2]);
    repo.verify_indexes().unwrap();
}

#[test]
fn host_owned_db_keeps_its_own_trees() {
    let db = sled::Config::new().temporary(true).open().unwrap();
    let host = db.open_tree("records").unwrap();
    host.insert("k", "host value").unwrap();
    let repo = SledRepo::from_db(db.clone()).unwrap();
    let c = saml_connection("host", &["host.example.com"], false);
    block_on(repo.insert(&c)).unwrap();
    assert_eq!(host.len(), 1);
    assert_eq!(host.get("k").unwrap().unwrap().as_ref(), b"host value");
    let names: Vec<_> = db
        .tree_names()
        .iter()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect();
    assert!(
        names.contains(&"enterprise_sso/store".to_string()),
        "{names:?}"
    );
    // A second repo under another prefix is a separate store.
    let other = SledRepo::from_db_with(db, "tenant2/", SledOptions::default()).unwrap();
    assert_eq!(block_on(other.get(&c.id)).unwrap(), None);
    block_on(other.insert(&c)).unwrap();
}

#[test]
fn unknown_record_format_is_a_clear_error() {
    let db = sled::Config::new().temporary(true).open().unwrap();
    let repo = SledRepo::from_db(db.clone()).unwrap();
    let c = saml_connection("tag", &[], false);
    block_on(repo.insert(&c)).unwrap();
    let key = record_key(&c.id);
    let mut bytes = repo.tree().get(&key).unwrap().unwrap().to_vec();
    bytes[0] = 99;
    repo.tree().insert(key, bytes).unwrap();
    match block_on(repo.get(&c.id)) {
        Err(Error::Corrupt { reason, .. }) => assert!(reason.contains("99"), "{reason}"),
        other => panic!("expected a corrupt-record error, got {other:?}"),
    }
}

/// Child half of the durability test: writes, then dies without running destructors.
#[test]
fn durability_child() {
    let Ok(dir) = std::env::var("SSO_SLED_CHILD_DIR") else {
        return;
    };
    let flush = std::env::var("SSO_SLED_CHILD_FLUSH").as_deref() == Ok("1");
    let db = sled::Config::new()
        .path(&dir)
        .flush_every_ms(None)
        .open()
        .unwrap();
    let repo = SledRepo::from_db_with(
        db,
        enterprise_sso_sled::DEFAULT_PREFIX,
        SledOptions {
            flush_on_write: flush,
            ..Default::default()
        },
    )
    .unwrap();
    let c = saml_connection("durable", &["durable.example.com"], false);
    block_on(repo.insert(&c)).unwrap();
    println!("ACK {}", c.id);
    std::process::abort();
}

fn run_child(flush: bool) -> (tempfile::TempDir, ConnectionId) {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "durability_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("SSO_SLED_CHILD_DIR", dir.path())
        .env("SSO_SLED_CHILD_FLUSH", if flush { "1" } else { "0" })
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let id = stdout
        .lines()
        .find_map(|l| l.split_once("ACK ").map(|(_, id)| id.trim()))
        .unwrap_or_else(|| panic!("child did not acknowledge: {stdout}"))
        .parse()
        .unwrap();
    assert!(!out.status.success(), "the child must die abruptly");
    (dir, id)
}

#[test]
fn flush_on_write_survives_an_abort() {
    let (dir, id) = run_child(true);
    let repo = SledRepo::open(dir.path()).unwrap();
    assert!(
        block_on(repo.get(&id)).unwrap().is_some(),
        "acknowledged write lost"
    );
    repo.verify_indexes().unwrap();
}

#[test]
fn without_flush_an_abort_loses_the_unflushed_write() {
    // The other side of the setting: with background flushing off and no flush on write,
    // the acknowledged write is still in memory when the process dies.
    let (dir, id) = run_child(false);
    let repo = SledRepo::open(dir.path()).unwrap();
    assert!(
        block_on(repo.get(&id)).unwrap().is_none(),
        "expected the unflushed write to be lost"
    );
    repo.verify_indexes().unwrap();
}

// ---- index integrity under random operation sequences -----------------------------------

#[derive(Debug, Clone)]
enum Op {
    Create {
        saml: bool,
        domains: Vec<usize>,
        org: Option<usize>,
        active: bool,
    },
    SetDomains {
        target: usize,
        domains: Vec<usize>,
    },
    SetOrg {
        target: usize,
        org: Option<usize>,
    },
    SetActive {
        target: usize,
        active: bool,
    },
    SetProvider {
        target: usize,
        okta: bool,
    },
    Delete {
        target: usize,
    },
    SignIn {
        target: usize,
        subject: usize,
        domain: usize,
    },
}

const DOMAINS: &[&str] = &["a.com", "b.com", "c.com", "d.com", "e.org", "f.org"];

fn op() -> impl Strategy<Value = Op> {
    let doms = proptest::collection::vec(0..DOMAINS.len(), 0..3);
    let org = proptest::option::of(0..3usize);
    prop_oneof![
        3 => (any::<bool>(), doms.clone(), org.clone(), any::<bool>())
            .prop_map(|(saml, domains, org, active)| Op::Create { saml, domains, org, active }),
        2 => (any::<usize>(), doms).prop_map(|(target, domains)| Op::SetDomains { target, domains }),
        1 => (any::<usize>(), org).prop_map(|(target, org)| Op::SetOrg { target, org }),
        1 => (any::<usize>(), any::<bool>()).prop_map(|(target, active)| Op::SetActive { target, active }),
        1 => (any::<usize>(), any::<bool>()).prop_map(|(target, okta)| Op::SetProvider { target, okta }),
        1 => any::<usize>().prop_map(|target| Op::Delete { target }),
        3 => (any::<usize>(), 0..3usize, 0..DOMAINS.len()).prop_map(|(target, subject, domain)| Op::SignIn { target, subject, domain }),
    ]
}

fn names(ix: &[usize]) -> Vec<String> {
    ix.iter().map(|i| DOMAINS[*i].to_string()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64), ..ProptestConfig::default() })]
    #[test]
    fn indexes_stay_consistent(ops in proptest::collection::vec(op(), 1..40)) {
        let repo = SledRepo::temporary().unwrap();
        let svc = Connections::new(&repo);
        let mut ids: Vec<ConnectionId> = Vec::new();
        for op in ops {
            let pick = |t: usize| ids.get(t % ids.len().max(1)).cloned();
            let result = match op {
                Op::Create { saml, domains, org, active } => {
                    let mut p = if saml {
                        let mut p = CreateConnection::new(Provider::SamlCustom, "c");
                        p.saml = Some(SamlPatch {
                            idp_entity_id: Patch::Value("urn:idp".into()),
                            idp_sso_url: Patch::Value("https://idp.example.com/sso".into()),
                            idp_certificate: Patch::Value(enterprise_sso_conformance::TEST_CERT_PEM.into()),
                            ..Default::default()
                        });
                        p
                    } else {
                        let mut p = CreateConnection::new(Provider::OidcCustom, "c");
                        p.oidc = Some(enterprise_sso::OidcPatch {
                            client_id: Patch::Value("c".into()),
                            requires_pkce: Patch::Value(true),
                            discovery_url: Patch::Value("https://idp.example.com/d".into()),
                            // Activation needs the endpoints (explicit or discovered).
                            auth_url: Patch::Value("https://idp.example.com/authorize".into()),
                            token_url: Patch::Value("https://idp.example.com/token".into()),
                            ..Default::default()
                        });
                        p
                    };
                    p.domains = Some(names(&domains));
                    p.organization_id = org.map(|o| format!("org_{o}"));
                    p.active = Some(active);
                    block_on(svc.create(&p)).map(|c| ids.push(c.id))
                }
                Op::SetDomains { target, domains } => match pick(target) {
                    Some(id) => block_on(svc.update(&id, &UpdateConnection { domains: Patch::Value(names(&domains)), ..Default::default() })).map(drop),
                    None => Ok(()),
                },
                Op::SetOrg { target, org } => match pick(target) {
                    Some(id) => {
                        let org = org.map_or(Patch::Null, |o| Patch::Value(format!("org_{o}")));
                        block_on(svc.update(&id, &UpdateConnection { organization_id: org, ..Default::default() })).map(drop)
                    }
                    None => Ok(()),
                },
                Op::SetActive { target, active } => match pick(target) {
                    Some(id) => block_on(svc.update(&id, &UpdateConnection { active: Patch::Value(active), ..Default::default() })).map(drop),
                    None => Ok(()),
                },
                Op::SetProvider { target, okta } => match pick(target) {
                    Some(id) => {
                        let current = block_on(svc.get(&id)).unwrap();
                        let p = match (current.protocol(), okta) {
                            (enterprise_sso::Protocol::Saml, true) => Provider::SamlOkta,
                            (enterprise_sso::Protocol::Saml, false) => Provider::SamlCustom,
                            (_, true) => Provider::OidcGitlab,
                            (_, false) => Provider::OidcCustom,
                        };
                        block_on(svc.update(&id, &UpdateConnection { provider: Patch::Value(p), ..Default::default() })).map(drop)
                    }
                    None => Ok(()),
                },
                Op::SignIn { target, subject, domain } => match pick(target) {
                    Some(id) => {
                        let a = enterprise_sso::Assertion::new(&format!("user-{subject}"), [("sub", format!("user-{subject}").as_str())])
                            .with_email(&format!("u{subject}@{}", DOMAINS[domain]));
                        block_on(svc.record_sign_in(&id, &a)).map(drop)
                    }
                    None => Ok(()),
                },
                Op::Delete { target } => match pick(target) {
                    Some(id) => {
                        ids.retain(|x| *x != id);
                        block_on(svc.delete(&id))
                    }
                    None => Ok(()),
                },
            };
            match result {
                Ok(()) | Err(Error::DomainConflict { .. }) | Err(Error::SignInRefused(_)) => {}
                Err(e) => prop_assert!(false, "unexpected error {e}"),
            }
            prop_assert_eq!(repo.verify_indexes(), Ok(()));
        }
        // Every listing path agrees with a full walk of the records.
        let everything = block_on(repo.list(&ListQuery { limit: 1000, order: Order::Asc, ..Default::default() })).unwrap().items;
        prop_assert_eq!(everything.len(), ids.len());
        for org in 0..3 {
            for active in [None, Some(true), Some(false)] {
                let q = ListQuery { organization_id: Some(format!("org_{org}")), active, limit: 1000, order: Order::Asc, ..Default::default() };
                let got = block_on(repo.list(&q)).unwrap().items;
                let want: Vec<_> = everything.iter().filter(|c| q.matches(c)).cloned().collect();
                prop_assert_eq!(got, want);
            }
        }
        for d in DOMAINS {
            let d = Domain::parse(d).unwrap();
            let via_index = block_on(repo.find_by_domain(&d)).unwrap().map(|c| c.id);
            let via_scan = everything.iter().find(|c| c.domains.contains(&d)).map(|c| c.id.clone());
            prop_assert_eq!(via_index, via_scan);
        }
    }
}

#[test]
fn verify_indexes_notices_a_stale_entry() {
    let db = sled::Config::new().temporary(true).open().unwrap();
    let repo = SledRepo::from_db(db.clone()).unwrap();
    block_on(repo.insert(&saml_connection("v", &["v.example.com"], false))).unwrap();
    repo.verify_indexes().unwrap();
    db.open_tree("enterprise_sso/store")
        .unwrap()
        .insert("dghost.example.com", "ent_01M84YGM3F1WT40JCGJQM038DA")
        .unwrap();
    assert!(repo.verify_indexes().is_err());
}

/// Writes `conns` and `accounts` the way layouts 1 and 2 did: a tree per record kind and
/// per index, events in `meta` under `ev\0` + position. Layout 1 had no expiry index and
/// no version marker.
fn write_old_layout(
    db: &sled::Db,
    layout: u64,
    conns: &[enterprise_sso::EnterpriseConnection],
    accounts: &[enterprise_sso::EnterpriseAccount],
) {
    use enterprise_sso::storage::codec::{encode_account, encode_connection, encode_event};
    let tree = |n: &str| db.open_tree(format!("enterprise_sso/{n}")).unwrap();
    let sep = |a: &str, b: &str| [a.as_bytes(), &[0], b.as_bytes()].concat();
    let mut position = 0u64;
    let meta = tree("meta");
    for c in conns {
        let id = c.id.as_str();
        tree("records").insert(id, encode_connection(c)).unwrap();
        for d in &c.domains {
            tree("domains").insert(d.as_str(), id).unwrap();
        }
        if let Some(o) = &c.organization_id {
            tree("by_org").insert(sep(o, id), &[]).unwrap();
        }
        let active = [&[u8::from(c.active)], id.as_bytes()].concat();
        tree("by_active").insert(active, &[]).unwrap();
        tree("by_provider")
            .insert(sep(c.provider.as_str(), id), &[])
            .unwrap();
        if layout >= 2 {
            if let Some(t) = c.saml().and_then(|s| s.idp_certificate_expires_at) {
                let k = [&((t as u64) ^ (1 << 63)).to_be_bytes()[..], id.as_bytes()].concat();
                tree("by_cert_expiry").insert(k, &[]).unwrap();
            }
        }
        for mut e in enterprise_sso::events::connection_events(None, Some(c), c.created_at) {
            position += 1;
            e.position = position;
            let k = [&b"ev\0"[..], &position.to_be_bytes()].concat();
            meta.insert(k, encode_event(&e)).unwrap();
        }
    }
    for a in accounts {
        let id = a.id.as_str();
        tree("accounts").insert(id, encode_account(a)).unwrap();
        let conn = a.enterprise_connection_id.as_ref().unwrap().as_str();
        let subject = a.provider_user_id.as_deref().unwrap();
        tree("acc_by_subject")
            .insert(sep(conn, subject), id)
            .unwrap();
        let email = enterprise_sso::storage::email_key(&a.email_address);
        tree("acc_by_email").insert(sep(&email, id), &[]).unwrap();
        tree("acc_by_conn")
            .insert([conn.as_bytes(), id.as_bytes()].concat(), &[])
            .unwrap();
        tree("acc_gen").insert(conn, &1u64.to_be_bytes()).unwrap();
    }
    meta.insert("event_seq", &position.to_be_bytes()).unwrap();
    meta.insert("commit_seq", &7u64.to_be_bytes()).unwrap();
    if layout >= 2 {
        meta.insert("index_version", &layout.to_be_bytes()).unwrap();
    }
}

#[test]
fn layout_1_and_2_stores_are_migrated_to_one_tree_on_open() {
    use enterprise_sso::AccountRepo;
    for layout in [1, 2] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let mut a = saml_connection("old-a", &["old-a.example.com"], true);
        a.organization_id = Some("org_old".into());
        let b = oidc_connection("old-b", &["old-b.example.com", "old-c.example.com"], false);
        let expires = a.saml().unwrap().idp_certificate_expires_at.unwrap();
        let acc = enterprise_sso_conformance::account_for(&a, "subj", "u@old-a.example.com");
        {
            let db = sled::open(&path).unwrap();
            write_old_layout(
                &db,
                layout,
                &[a.clone(), b.clone()],
                std::slice::from_ref(&acc),
            );
            db.flush().unwrap();
        }
        let repo = SledRepo::open(&path).unwrap();
        repo.verify().unwrap();
        let names: Vec<String> = repo
            .db()
            .tree_names()
            .iter()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect();
        assert!(
            names
                .iter()
                .all(|n| !n.starts_with("enterprise_sso/") || n == "enterprise_sso/store"),
            "layout {layout}: old trees left: {names:?}"
        );
        assert_eq!(block_on(repo.get(&a.id)).unwrap(), Some(a.clone()));
        let d = Domain::parse("old-c.example.com").unwrap();
        assert_eq!(block_on(repo.find_by_domain(&d)).unwrap(), Some(b.clone()));
        let q = ListQuery {
            organization_id: Some("org_old".into()),
            ..Default::default()
        };
        assert_eq!(block_on(repo.list(&q)).unwrap().items, vec![a.clone()]);
        assert_eq!(
            block_on(repo.certificates_expiring_before(expires + 1)).unwrap(),
            vec![a.clone()],
            "layout {layout}: expiry index built"
        );
        assert_eq!(
            block_on(repo.find_account_by_subject(&a.id, "subj")).unwrap(),
            Some(acc.clone())
        );
        // The feed continues where layout 2 left it.
        let events = block_on(repo.events_after(0, 100)).unwrap().events;
        let last = events.len() as u64;
        assert!(last >= 2);
        assert_eq!(
            events.iter().map(|e| e.position).collect::<Vec<_>>(),
            (1..=last).collect::<Vec<_>>()
        );
        assert_eq!(events[0].connection_id.as_ref(), Some(&a.id));
        block_on(repo.delete(&a.id, 1)).unwrap();
        let events = block_on(repo.events_after(last, 100)).unwrap().events;
        assert_eq!(events.first().map(|e| e.position), Some(last + 1));
        // Deleting unlinked the account through the migrated indexes.
        let unlinked = block_on(repo.get_account(&acc.id)).unwrap().unwrap();
        assert_eq!(unlinked.enterprise_connection_id, None);
        repo.verify().unwrap();
        drop(repo);
        // Reopening a migrated store migrates nothing again.
        let repo = SledRepo::open(&path).unwrap();
        assert_eq!(block_on(repo.get(&b.id)).unwrap(), Some(b));
        assert_eq!(block_on(repo.get(&a.id)).unwrap(), None);
    }
}

#[test]
fn a_migration_cut_short_runs_again_and_newer_layouts_are_refused() {
    let db = sled::Config::new().temporary(true).open().unwrap();
    let c = saml_connection("cut", &["cut.example.com"], false);
    write_old_layout(&db, 2, std::slice::from_ref(&c), &[]);
    // As if a migration died halfway: the new tree holds part of the copy (and something
    // that must not survive), without the version marker.
    let store = db.open_tree("enterprise_sso/store").unwrap();
    store.insert(record_key(&c.id), b"half".to_vec()).unwrap();
    store.insert(b"dstale.example.com", c.id.as_str()).unwrap();
    let repo = SledRepo::from_db(db.clone()).unwrap();
    assert_eq!(block_on(repo.get(&c.id)).unwrap(), Some(c.clone()));
    repo.verify().unwrap();
    drop(repo);
    // A newer layout is refused, in either shape.
    store
        .insert(b"mindex_version", &99u64.to_be_bytes())
        .unwrap();
    assert!(matches!(
        SledRepo::from_db(db.clone()),
        Err(Error::Corrupt { .. })
    ));
    let fresh = sled::Config::new().temporary(true).open().unwrap();
    write_old_layout(&fresh, 2, &[], &[]);
    fresh
        .open_tree("enterprise_sso/meta")
        .unwrap()
        .insert("index_version", &99u64.to_be_bytes())
        .unwrap();
    assert!(matches!(
        SledRepo::from_db(fresh),
        Err(Error::Corrupt { .. })
    ));
}

#[test]
fn open_waits_for_a_lock_being_released() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let first = SledRepo::open(&path).unwrap();
    let dropper = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(150));
        drop(first);
    });
    // Without waiting this fails at once: the first handle still holds the lock.
    let second = SledRepo::open(&path);
    dropper.join().unwrap();
    assert!(second.is_ok(), "{:?}", second.err());
    // A lock that is never released is an error after the timeout, not a hang.
    let held = sled::open(dir.path().join("held")).unwrap();
    let opts = SledOptions {
        lock_timeout: std::time::Duration::from_millis(50),
        ..Default::default()
    };
    assert!(matches!(
        SledRepo::open_with(dir.path().join("held"), opts),
        Err(Error::Storage { .. })
    ));
    drop(held);
}

#[test]
fn bulk_insert_stores_and_indexes_everything() {
    let repo = SledRepo::temporary().unwrap();
    let conns: Vec<_> = (0..2500)
        .map(|i| {
            saml_connection(
                &format!("b{i}"),
                &[&format!("b{i}.bulk.example.com")],
                false,
            )
        })
        .collect();
    block_on(repo.bulk_insert(&conns)).unwrap();
    repo.verify_indexes().unwrap();
    assert_eq!(block_on(repo.count(&ListQuery::default())).unwrap(), 2500);
    let d = Domain::parse("b1234.bulk.example.com").unwrap();
    assert_eq!(
        block_on(repo.find_by_domain(&d)).unwrap().map(|c| c.id),
        Some(conns[1234].id.clone())
    );
    // A chunk with a taken domain is refused whole.
    let clash = vec![
        saml_connection("x", &["x.bulk.example.com"], false),
        saml_connection("y", &["b0.bulk.example.com"], false),
    ];
    assert!(matches!(
        block_on(repo.bulk_insert(&clash)),
        Err(Error::DomainConflict { .. })
    ));
    assert_eq!(block_on(repo.get(&clash[0].id)).unwrap(), None);
}

/// Runs `writers` OS threads that each create `each` connections on a flush-on-write store;
/// false if they have not all finished within `limit` (a deadlock).
fn concurrent_creates_finish(flush_on_write: bool, writers: usize, each: usize) -> bool {
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let dir = tempfile::tempdir().unwrap();
        let repo = SledRepo::open_with(
            dir.path().join("db"),
            SledOptions {
                flush_on_write,
                ..Default::default()
            },
        )
        .unwrap();
        std::thread::scope(|s| {
            for w in 0..writers {
                let repo = &repo;
                s.spawn(move || {
                    for i in 0..each {
                        let c = enterprise_sso_conformance::saml_connection(
                            &format!("w{w}-{i}"),
                            &[&format!("w{w}-{i}.deadlock.example.com")],
                            false,
                        );
                        block_on(repo.insert(&c)).unwrap();
                    }
                });
            }
        });
        let n = block_on(repo.count(&enterprise_sso::ListQuery::default())).unwrap();
        let _ = done_tx.send(n);
    });
    match done_rx.recv_timeout(std::time::Duration::from_secs(90)) {
        Ok(n) => {
            assert_eq!(n, (writers * each) as u64);
            true
        }
        Err(_) => false,
    }
}

#[test]
fn sixty_four_writers_never_deadlock_in_either_mode() {
    // The reported shape (8 writers × 20 stalled at 37 of 160), then 64 writers.
    for flush in [true, false] {
        assert!(
            concurrent_creates_finish(flush, 8, 20),
            "8 writers, flush {flush}: deadlock"
        );
        assert!(
            concurrent_creates_finish(flush, 64, 10),
            "64 writers, flush {flush}: deadlock"
        );
    }
}

/// Writes 30 connections, closes the store, damages the `db` file with `damage`, and
/// returns what opening it again gives.
fn open_after_damage(flush_on_write: bool, damage: impl Fn(&mut Vec<u8>)) -> Result<usize, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let repo = SledRepo::open_with(
            &path,
            SledOptions {
                flush_on_write,
                ..Default::default()
            },
        )
        .unwrap();
        for i in 0..30 {
            let c = saml_connection(
                &format!("c{i}"),
                &[&format!("d{i}.damage.example.com")],
                false,
            );
            block_on(repo.insert(&c)).unwrap();
        }
    }
    let file = path.join("db");
    let mut bytes = std::fs::read(&file).unwrap();
    damage(&mut bytes);
    std::fs::write(&file, &bytes).unwrap();
    match SledRepo::open(&path) {
        Ok(repo) => {
            let all = block_on(enterprise_sso::list_all(
                &repo,
                &enterprise_sso::ListQuery::default(),
            ))
            .map_err(|e| e.to_string())?;
            Ok(all.len())
        }
        Err(e) => Err(e.to_string()),
    }
}

#[test]
fn a_damaged_store_is_refused_never_opened_with_records_missing() {
    for flush in [true, false] {
        for (what, damage) in [
            (
                "bit at 1/4",
                Box::new(|b: &mut Vec<u8>| {
                    let i = b.len() / 4;
                    b[i] ^= 0x10;
                }) as Box<dyn Fn(&mut Vec<u8>)>,
            ),
            (
                "bit at 1/2",
                Box::new(|b: &mut Vec<u8>| {
                    let i = b.len() / 2;
                    b[i] ^= 0x01;
                }),
            ),
            (
                "ten bytes",
                Box::new(|b: &mut Vec<u8>| {
                    for k in 1..=10 {
                        let i = b.len() * k / 11;
                        b[i] = !b[i];
                    }
                }),
            ),
        ] {
            match open_after_damage(flush, damage) {
                Ok(30) => {} // damage in a part sled never reads again
                Ok(n) => panic!("flush {flush}, {what}: opened with {n} of 30 connections"),
                Err(e) => assert!(
                    e.contains("acknowledged writes are missing")
                        || e.contains("corrupt")
                        || e.contains("storage"),
                    "flush {flush}, {what}: {e}"
                ),
            }
        }
    }
}

#[test]
fn verify_catches_each_broken_index_in_turn() {
    use enterprise_sso::storage::IntegrityError;
    use enterprise_sso::AccountRepo;
    let fresh = || {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let repo = SledRepo::from_db(db.clone()).unwrap();
        let mut c = saml_connection("v", &["v.example.com"], true);
        c.organization_id = Some("org_v".into());
        block_on(repo.insert(&c)).unwrap();
        let a = enterprise_sso_conformance::account_for(&c, "subj", "a@v.example.com");
        block_on(repo.insert_account(&a)).unwrap();
        assert_eq!(repo.verify(), Ok(()));
        (db, repo)
    };
    let first_of = |repo: &SledRepo, kind: Kind| {
        repo.tree()
            .scan_prefix([kind.byte()])
            .next()
            .unwrap()
            .unwrap()
    };
    for kind in Kind::INDEXES {
        let name = kind.name();
        // An entry removed.
        let (_db, repo) = fresh();
        let (k, _) = first_of(&repo, kind);
        repo.tree().remove(k).unwrap();
        match repo.verify() {
            Err(IntegrityError::Index { index, .. }) => assert_eq!(index, name),
            other => panic!("{name}: removed entry not caught: {other:?}"),
        }
        // A stale entry added.
        let (_db, repo) = fresh();
        let (k, v) = first_of(&repo, kind);
        let mut stale = k.to_vec();
        stale.insert(1, b'z');
        repo.tree().insert(stale, v).unwrap();
        match repo.verify() {
            Err(IntegrityError::Index { index, .. }) => assert_eq!(index, name),
            other => panic!("{name}: stale entry not caught: {other:?}"),
        }
    }
    // A key of no known kind.
    let (_db, repo) = fresh();
    repo.tree().insert(b"?stray", b"").unwrap();
    assert!(matches!(
        repo.verify(),
        Err(IntegrityError::Index { index: "store", .. })
    ));
    // A damaged record.
    let (_db, repo) = fresh();
    let (k, v) = first_of(&repo, Kind::Record);
    let mut bad = v.to_vec();
    let last = bad.len() - 2;
    bad[last] ^= 0x01;
    repo.tree().insert(k, bad).unwrap();
    assert!(matches!(
        repo.verify(),
        Err(IntegrityError::Record {
            table: "records",
            ..
        })
    ));
}

/// Flush-on-write under a tokio runtime with two worker threads: writers waiting for a
/// flush give their thread back, so 64 concurrent writers share flushes (one `fsync` for
/// many commits) instead of at most one per worker thread, and every write is on disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_tokio_writers_share_flushes() {
    let dir = tempfile::tempdir().unwrap();
    let repo = std::sync::Arc::new(
        SledRepo::open_with(
            dir.path().join("db"),
            SledOptions {
                flush_on_write: true,
                ..Default::default()
            },
        )
        .unwrap(),
    );
    let (writers, each) = (64, 4);
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let repo = repo.clone();
            tokio::spawn(async move {
                for i in 0..each {
                    let c = enterprise_sso_conformance::saml_connection(
                        &format!("w{w}-{i}"),
                        &[&format!("w{w}-{i}.group.example.com")],
                        false,
                    );
                    repo.insert(&c).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let writes = (writers * each) as u64;
    let flushes = repo.write_flushes().unwrap();
    assert!(
        flushes * 16 <= writes,
        "{flushes} flushes for {writes} writes: concurrent writers did not share them"
    );
    assert_eq!(
        repo.count(&enterprise_sso::ListQuery::default())
            .await
            .unwrap(),
        writes
    );
}
