//! Older store layouts: layouts 1 and 2 are migrated to one tree on open, a migration cut
//! short runs again, newer layouts are refused.
#![allow(clippy::unwrap_used)]

use enterprise_sso::UnixMillis;
use enterprise_sso::{ConnectionId, ConnectionRepo, Domain, Error, EventFeed, ListQuery};
use enterprise_sso_conformance::{block_on, oidc_connection, saml_connection};
use enterprise_sso_sled::{Kind, SledRepo};

/// The key of a connection's record in the store's tree.
fn record_key(id: &ConnectionId) -> Vec<u8> {
    [&[Kind::Record.byte()], id.as_str().as_bytes()].concat()
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
                let k = [
                    &((t.get() as u64) ^ (1 << 63)).to_be_bytes()[..],
                    id.as_bytes(),
                ]
                .concat();
                tree("by_cert_expiry").insert(k, &[]).unwrap();
            }
        }
        for mut e in enterprise_sso::events::connection_events(None, Some(c), c.created_at.get()) {
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
            block_on(repo.certificates_expiring_before(UnixMillis::new(expires.get() + 1)))
                .unwrap(),
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
        block_on(repo.delete(&a.id, UnixMillis::new(1))).unwrap();
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
