//! Concurrency stress: threads apply random patches and sign-ins to shared connections
//! through the service, with the default retry limit. No version conflict may escape, and
//! the final state must equal a serial replay of the accepted operations.
//! `SSO_STRESS_OPS` sets the operations per thread (default 60).
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use enterprise_sso::conformance::saml_connection;
use enterprise_sso::{
    merge, AccountQuery, Assertion, Connections, EnterpriseConnection, Error, MemoryRepo, Patch,
    Store, UpdateConnection,
};
use enterprise_sso_reliability::{Kind, Rng};
use futures_executor::block_on;

const THREADS: usize = 4;
const CLOCK: i64 = 4_102_444_800_000;

fn ops() -> usize {
    std::env::var("SSO_STRESS_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60)
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
}

fn stress(repo: &dyn Store) {
    let svc = Connections::new(repo).with_clock(std::sync::Arc::new(|| CLOCK));
    // Three connections for patches, three (already active and authenticated, so sign-ins
    // never write to them) for sign-ins with attribute sync on.
    let mut conns: Vec<EnterpriseConnection> = (0..6)
        .map(|i| {
            let mut c = saml_connection(
                &format!("stress{i}"),
                &[&format!("s{i}.stress.example.com")],
                true,
            );
            if i >= 3 {
                c.first_authenticated_at = Some(1);
                c.sync_user_attributes = true;
            }
            c
        })
        .collect();
    for c in &conns {
        block_on(repo.insert(c)).unwrap();
    }
    let accepted: Vec<Accepted> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let (svc, conns) = (&svc, &conns);
                s.spawn(move || {
                    let mut rng = Rng::new(t as u64 + 1);
                    let mut out = Vec::new();
                    for n in 0..ops() {
                        if rng.below(2) == 0 {
                            let conn = rng.below(3) as usize;
                            let mut patch = UpdateConnection {
                                name: Patch::Value(format!("t{t}n{n}")),
                                ..Default::default()
                            };
                            match rng.below(3) {
                                0 => patch.active = Patch::Value(rng.below(2) == 0),
                                1 => {
                                    patch.organization_id =
                                        Patch::Value(format!("org_{}", rng.below(3)))
                                }
                                _ => {
                                    patch.domains = Patch::Value(vec![
                                        format!("s{conn}.stress.example.com"),
                                        format!("t{t}n{n}.stress.example.com"),
                                    ])
                                }
                            }
                            match block_on(svc.update(&conns[conn].id, &patch)) {
                                Ok(c) => out.push(Accepted::Patch {
                                    conn,
                                    version: c.version,
                                    patch,
                                }),
                                Err(e @ Error::VersionConflict { .. }) => {
                                    panic!("a version conflict escaped the retries: {e}")
                                }
                                Err(e) => panic!("unexpected error: {e}"),
                            }
                        } else {
                            let conn = 3 + rng.below(3) as usize;
                            let subject = rng.below(4);
                            let first_name = format!("t{t}n{n}");
                            let a = Assertion::new(
                                &format!("user{subject}"),
                                [("firstName", first_name.as_str())],
                            )
                            .with_email(&format!("user{subject}@s{conn}.stress.example.com"));
                            match block_on(svc.record_sign_in(&conns[conn].id, &a)) {
                                Ok(r) => out.push(Accepted::SignIn {
                                    conn,
                                    subject,
                                    version: r.account.version,
                                    first_name,
                                }),
                                Err(e) => panic!("sign-in failed: {e}"),
                            }
                        }
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert_eq!(accepted.len(), THREADS * ops());
    // Serial replay of the accepted patches, in version order, per connection.
    for (i, c) in conns.iter_mut().enumerate().take(3) {
        let mut mine: Vec<_> = accepted
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
            *c = merge(c, patch, CLOCK).unwrap();
            assert_eq!(c.version, version, "versions are dense");
        }
        assert_eq!(
            &block_on(repo.get(&c.id)).unwrap().unwrap(),
            c,
            "final state equals the serial replay"
        );
    }
    // Accounts: one per (connection, subject); its version counts its sign-ins, and with
    // sync on it holds the attributes of the last one.
    let mut expected: HashMap<(usize, u64), (u64, String)> = HashMap::new();
    for a in &accepted {
        if let Accepted::SignIn {
            conn,
            subject,
            version,
            first_name,
        } = a
        {
            let e = expected
                .entry((*conn, *subject))
                .or_insert((0, String::new()));
            if *version > e.0 {
                *e = (*version, first_name.clone());
            }
        }
    }
    let counts = accepted
        .iter()
        .fold(HashMap::new(), |mut m: HashMap<(usize, u64), u64>, a| {
            if let Accepted::SignIn { conn, subject, .. } = a {
                *m.entry((*conn, *subject)).or_default() += 1;
            }
            m
        });
    for i in 3..6 {
        let page = block_on(repo.list_accounts(
            &conns[i].id,
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
            let (version, first) = &expected[&(i, subject)];
            assert_eq!(
                acc.version,
                counts[&(i, subject)],
                "every sign-in recorded once"
            );
            assert_eq!(acc.version, *version);
            assert_eq!(
                acc.first_name.as_deref(),
                Some(first.as_str()),
                "the last sign-in's attributes"
            );
        }
        let subjects = expected.keys().filter(|(c, _)| *c == i).count();
        assert_eq!(page.items.len(), subjects, "one account per subject");
    }
}

#[test]
fn memory_under_concurrency() {
    stress(&MemoryRepo::new());
}

#[test]
fn durable_stores_under_concurrency() {
    for kind in Kind::ALL {
        let dir = tempfile::tempdir().unwrap();
        let store = kind.open(&dir.path().join("stress")).unwrap();
        stress(&*store);
    }
}
