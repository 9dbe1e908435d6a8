//! Index integrity: random operation sequences keep every index equal to the records,
//! `verify_indexes` notices each kind of broken index, and bulk inserts index everything.
#![allow(clippy::unwrap_used)]

use enterprise_sso::{
    ConnectionId, ConnectionRepo, Connections, CreateConnection, Domain, Error, ListQuery, Order,
    Patch, Provider, SamlPatch, UpdateConnection,
};
use enterprise_sso_conformance::{block_on, saml_connection};
use enterprise_sso_sled::{Kind, SledRepo};
use proptest::prelude::*;

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
