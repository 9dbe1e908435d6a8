//! Persistence: drop and reopen, host-owned databases, record format tags, durability
//! across an abort, and damaged files refused on open.
#![allow(clippy::unwrap_used)]

use enterprise_sso::{
    ClientSecret, ConnectionId, ConnectionRepo, Connections, Domain, Error, ListQuery, Order,
    Patch, ProtocolConfig, UpdateConnection,
};
use enterprise_sso_conformance::{block_on, oidc_connection, saml_connection};
use enterprise_sso_sled::{Kind, SledOptions, SledRepo};

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
