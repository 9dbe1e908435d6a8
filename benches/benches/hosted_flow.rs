//! The hosted SP-initiated sign-in in process, one after another: `hosted_start` (the
//! client's authorization request: the AuthnRequest and the pending request stored) →
//! `hosted_saml_finish` (the IdP's signed Response verified, the sign-in recorded, the
//! pending request taken, a code issued) → `exchange_code` (PKCE and client secret, an
//! access token stored) → `profile_for_token`, on `MemoryRepo`, `SqliteRepo` (a file,
//! the default durable mode) and `PostgresRepo` when `SSO_BENCH_POSTGRES_URL` /
//! `SSO_TEST_POSTGRES_URL` is set.
//!
//! Timed: those four calls. Not timed: minting and signing the IdP's Response for the
//! AuthnRequest ID `hosted_start` chose (the IdP's work; `iter_custom` stops the clock for
//! it). Users cycle over 1024 emails, so most sign-ins update an existing account.
//!
//! ```sh
//! cargo bench -p enterprise-sso-benches --bench hosted_flow
//! scripts/with-postgres.sh cargo bench -p enterprise-sso-benches --bench hosted_flow
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use enterprise_sso_flows::Flows;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use enterprise_sso::{now_ms, ConnectionId, Connections, DynStore};
use enterprise_sso_benches::hosted::{self as h, Idp, StoreKind};
use enterprise_sso_flows::{AuthorizationRequest, CodeExchange, HostedSettings, SamlPost};

struct Flow {
    svc_flows: Flows<DynStore>,
    id: ConnectionId,
    settings: HostedSettings,
    idp: Idp,
    n: std::sync::atomic::AtomicU64,
}

impl Flow {
    /// One sign-in; the time of the four calls (minting excluded).
    async fn one(&self) -> Duration {
        let req = AuthorizationRequest {
            client_id: h::CLIENT_ID,
            redirect_uri: h::REDIRECT_URI,
            state: Some("st-1"),
            code_challenge: Some(h::CHALLENGE),
            login_hint: None,
            domain_hint: None,
        };
        let browser = "bench-browser-0000000000000000000000";
        let n = self.n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let t0 = Instant::now();
        let url = self
            .svc_flows
            .hosted_start(&self.settings, &self.id, &req, browser, h::random())
            .await
            .expect("start");
        let mut timed = t0.elapsed();
        let response = self.idp.respond(
            self.settings.saml(),
            &self.id,
            &h::request_id(&url),
            &h::user(n),
            now_ms(),
        );
        let t1 = Instant::now();
        let post = SamlPost {
            saml_response: &response,
            relay_state: None,
            browser: Some(browser),
        };
        let done = self
            .svc_flows
            .hosted_saml_finish(&self.settings, &self.id, &post, None, h::random())
            .await
            .expect("finish");
        let exchange = CodeExchange {
            client_id: h::CLIENT_ID,
            client_authenticated: true,
            code_verifier: Some(h::VERIFIER),
            redirect_uri: Some(h::REDIRECT_URI),
            random: h::random(),
        };
        let grant = self
            .svc_flows
            .exchange_code(&self.settings, &done.code, &exchange)
            .await
            .expect("exchange");
        let profile = self
            .svc_flows
            .profile_for_token(&grant.access_token)
            .await
            .expect("profile");
        timed += t1.elapsed();
        assert_eq!(profile.email, h::user(n));
        timed
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pg = enterprise_sso_benches::pg::url();
    let mut g = c.benchmark_group("hosted_flow");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sampling_mode(criterion::SamplingMode::Flat);
    for kind in [StoreKind::Memory, StoreKind::Sqlite, StoreKind::Postgres] {
        let Some(store) = rt.block_on(h::store(kind, dir.path(), pg.as_deref(), 4)) else {
            eprintln!(
                "hosted_flow/postgres skipped: set SSO_BENCH_POSTGRES_URL or SSO_TEST_POSTGRES_URL"
            );
            continue;
        };
        let svc_flows = Flows::new(Connections::new(store));
        let svc = svc_flows.connections();
        let id = rt.block_on(h::saml_connection(svc));
        let flow = Arc::new(Flow {
            svc_flows,
            id,
            settings: h::settings(),
            idp: Idp::new(),
            n: Default::default(),
        });
        // Every user's account exists before timing (later sign-ins update it).
        rt.block_on(async {
            for _ in 0..h::USERS {
                flow.one().await;
            }
        });
        g.bench_function(format!("sign_in/{}", kind.name()), |b| {
            b.iter_custom(|iters| {
                let flow = flow.clone();
                rt.block_on(async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        total += flow.one().await;
                    }
                    total
                })
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
