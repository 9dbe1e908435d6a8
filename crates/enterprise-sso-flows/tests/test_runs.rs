//! Test runs in the core, on the memory store with a clock the test moves: the URL token
//! is taken once and expires, runs expire after the retention, a connection keeps at most
//! `MAX_TEST_RUNS_PER_CONNECTION` (the oldest dropped), the list filters and pages, and
//! another connection's token starts nothing. (The flows through the IdP are in the HTTP
//! crate's router tests, with samlify-signed Responses.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use enterprise_sso_flows::Flows;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use enterprise_sso::{ConnectionId, ConnectionRepo, Connections, Error};
use enterprise_sso_conformance::saml_connection;
use enterprise_sso_flows::{
    HostedSettings, SamlSettings, TestRunQuery, TestRunStatus, MAX_TEST_RUNS_PER_CONNECTION,
    TEST_RUN_RETENTION, TEST_RUN_URL_TTL,
};
use enterprise_sso_memory::MemoryRepo;
use futures_executor::block_on;

struct World {
    svc: Arc<Connections<MemoryRepo>>,
    svc_flows: Flows<MemoryRepo>,
    now: Arc<AtomicI64>,
    id: ConnectionId,
    settings: HostedSettings,
    seq: std::cell::Cell<u32>,
}

impl World {
    fn new() -> World {
        let now = Arc::new(AtomicI64::new(1_800_000_000_000));
        let clock = now.clone();
        let svc_flows = Flows::new(
            Connections::new(MemoryRepo::new())
                .with_clock(Arc::new(move || clock.load(Ordering::SeqCst))),
        );
        let svc = svc_flows.connections();
        let conn = saml_connection("runs", &["acme.com"], true);
        block_on(svc.repo().insert(&conn)).unwrap();
        World {
            svc: Arc::clone(svc),
            svc_flows,
            now,
            id: conn.id,
            settings: HostedSettings::new(SamlSettings::new("https://sso.example.com/saml")),
            seq: std::cell::Cell::new(0),
        }
    }

    fn random<const N: usize>(&self) -> [u8; N] {
        self.seq.set(self.seq.get() + 1);
        let mut b = [0u8; N];
        for (i, x) in b.iter_mut().enumerate() {
            *x = (self.seq.get().wrapping_mul(31).wrapping_add(i as u32) % 251) as u8;
        }
        b
    }

    fn advance(&self, ms: i64) {
        self.now.fetch_add(ms, Ordering::SeqCst);
    }

    fn all(&self) -> TestRunQuery {
        TestRunQuery {
            statuses: vec![],
            limit: 500,
            offset: 0,
        }
    }
}

fn ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap()
}

#[test]
fn the_url_token_is_taken_once_and_expires() {
    let w = World::new();
    let made = block_on(w.svc_flows.create_test_run(&w.id, w.random())).unwrap();
    assert!(
        !format!("{made:?}").contains(&made.token),
        "the token never in Debug"
    );
    assert_eq!(made.run.status, TestRunStatus::Pending);
    // Another connection's URL starts nothing.
    let other = saml_connection("other", &["other.com"], true);
    block_on(w.svc.repo().insert(&other)).unwrap();
    let e = block_on(w.svc_flows.begin_test_run(
        &w.settings,
        &other.id,
        &made.token,
        "browser",
        w.random(),
    ))
    .unwrap_err();
    assert!(
        matches!(
            e,
            Error::InvalidArgument {
                argument: "token",
                ..
            }
        ),
        "{e:?}"
    );
    // The token was taken by that try (use-once whatever happens).
    let e = block_on(
        w.svc_flows
            .begin_test_run(&w.settings, &w.id, &made.token, "b", w.random()),
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            Error::InvalidArgument {
                argument: "token",
                ..
            }
        ),
        "{e:?}"
    );

    let made = block_on(w.svc_flows.create_test_run(&w.id, w.random())).unwrap();
    let url =
        block_on(
            w.svc_flows
                .begin_test_run(&w.settings, &w.id, &made.token, "b", w.random()),
        )
        .unwrap();
    assert!(
        url.contains("SAMLRequest=") && url.contains("RelayState=test_run."),
        "{url}"
    );
    let run = block_on(w.svc_flows.get_test_run(&w.id, &made.run.id))
        .unwrap()
        .unwrap();
    assert!(run
        .saml
        .unwrap()
        .saml_request
        .unwrap()
        .contains("AuthnRequest"));
    assert!(block_on(
        w.svc_flows
            .begin_test_run(&w.settings, &w.id, &made.token, "b", w.random())
    )
    .is_err());

    let late = block_on(w.svc_flows.create_test_run(&w.id, w.random())).unwrap();
    w.advance(ms(TEST_RUN_URL_TTL));
    assert!(block_on(
        w.svc_flows
            .begin_test_run(&w.settings, &w.id, &late.token, "b", w.random())
    )
    .is_err());
}

#[test]
fn runs_expire_and_a_connection_keeps_the_newest() {
    let w = World::new();
    let first = block_on(w.svc_flows.create_test_run(&w.id, w.random())).unwrap();
    for _ in 0..MAX_TEST_RUNS_PER_CONNECTION {
        w.advance(1);
        block_on(w.svc_flows.create_test_run(&w.id, w.random())).unwrap();
    }
    let page = block_on(w.svc_flows.list_test_runs(&w.id, &w.all())).unwrap();
    assert_eq!(page.total_count, MAX_TEST_RUNS_PER_CONNECTION as u64);
    assert!(
        page.data.iter().all(|r| r.id != first.run.id),
        "the oldest was dropped"
    );
    assert!(
        page.data
            .windows(2)
            .all(|p| p[0].created_at >= p[1].created_at),
        "newest first"
    );
    let q = TestRunQuery {
        statuses: vec![TestRunStatus::Success],
        ..w.all()
    };
    assert_eq!(
        block_on(w.svc_flows.list_test_runs(&w.id, &q))
            .unwrap()
            .total_count,
        0
    );
    let q = TestRunQuery {
        limit: 3,
        offset: 198,
        ..w.all()
    };
    assert_eq!(
        block_on(w.svc_flows.list_test_runs(&w.id, &q))
            .unwrap()
            .data
            .len(),
        2
    );

    w.advance(ms(TEST_RUN_RETENTION));
    assert_eq!(
        block_on(w.svc_flows.list_test_runs(&w.id, &w.all()))
            .unwrap()
            .total_count,
        0
    );
    let e = block_on(
        w.svc_flows
            .list_test_runs(&ConnectionId::generate(), &w.all()),
    )
    .unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
}
