//! The hosted SP-initiated sign-in over loopback: `enterprise-sso-http` served by the
//! crate's own `serve()` (its connection limits, HTTP/1.1 keep-alive) on 127.0.0.1, and
//! 1 and 64 concurrent simulated browsers, beside the same flow called in process by the
//! same number of tasks, on SQLite (a file, the default durable mode), PostgreSQL (when
//! `SSO_BENCH_POSTGRES_URL` / `SSO_TEST_POSTGRES_URL` is set) and, in process only,
//! `MemoryRepo`.
//!
//! ```sh
//! cargo run --release -p enterprise-sso-benches --bin hosted_load
//! SSO_FLOW_SIGNINS=4000 SSO_FLOW_STORES=sqlite,postgres SSO_FLOW_CONCURRENCY=1,64 \
//!   scripts/with-postgres.sh cargo run --release -p enterprise-sso-benches --bin hosted_load
//! ```
//!
//! A browser (one keep-alive connection, its own cookie jar) signs in as a user's browser
//! does: `GET /sso/authorize` (client id, redirect URI, state, connection, PKCE S256) →
//! 302 to the IdP with the `SAMLRequest` and the browser cookie → `POST {base}/{id}/acs`
//! with the IdP's signed `SAMLResponse` and the cookie → 303 to the redirect URI with the
//! code → the client app's `POST /sso/token` (client secret and PKCE verifier) → 200 with
//! the access token → `GET /sso/profile` with it → 200. Each step's status is checked.
//!
//! What is timed: a Response can only be signed once the AuthnRequest ID is known, and the
//! IdP's signing is not ours to time, so each round runs in three phases: (1) timed, every
//! browser sends its authorizations (`SSO_FLOW_BATCH` per browser); (2) not timed, the IdP
//! signs a Response for every AuthnRequest ID (on all cores, nothing else running);
//! (3) timed, every browser posts its Responses to the ACS, exchanges the codes and reads
//! the profiles. One sign-in's latency = its authorize + its ACS, token and profile;
//! sign-ins/s = sign-ins / (wall time of phases 1 and 3). A warm-up round of `USERS`
//! sign-ins first creates every account (later sign-ins update them), unrecorded.
//!
//! Prints a Markdown table and, last, one JSON line (for `benches/polis/flow.sh`).

use enterprise_sso_flows::Flows;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use enterprise_sso::{now_ms, ConnectionId, Connections, DynStore};
use enterprise_sso_benches::hosted::{self as h, Idp, StoreKind};
use enterprise_sso_flows::{AuthorizationRequest, CodeExchange, HostedSettings, SamlPost};
use enterprise_sso_http::{
    router_with, serve, ApiKeys, Auth, HttpOptions, OAuthClient, ServerLimits, SignInOptions,
};
use http_body_util::BodyExt;
use hyper::header;
use hyper_util::rt::TokioIo;

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

type Sender = hyper::client::conn::http1::SendRequest<Body>;

/// What a run drives: the service in process, or the server over loopback.
#[derive(Clone)]
enum Target {
    InProcess(Flows<DynStore>),
    Http(SocketAddr),
}

struct World {
    id: ConnectionId,
    settings: HostedSettings,
    idp: Idp,
}

/// One browser: its connection and cookie (HTTP), its binding value (in process).
struct Browser {
    sender: Option<Sender>,
    cookie: Option<String>,
    binding: String,
}

struct Reply {
    status: u16,
    location: Option<String>,
    body: Vec<u8>,
}

impl Browser {
    async fn new(target: &Target, n: usize) -> Browser {
        let sender = match target {
            Target::Http(addr) => {
                let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
                let _ = stream.set_nodelay(true);
                let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                    .await
                    .expect("handshake");
                tokio::spawn(conn);
                Some(sender)
            }
            Target::InProcess(_) => None,
        };
        Browser {
            sender,
            cookie: None,
            binding: format!("bench-browser-{n:032}"),
        }
    }

    async fn send(&mut self, req: hyper::http::request::Builder, body: Body) -> Reply {
        let mut req = req.header(header::HOST, "127.0.0.1");
        if let Some(c) = &self.cookie {
            req = req.header(header::COOKIE, c);
        }
        let req = req.body(body).expect("request");
        let s = self.sender.as_mut().expect("an HTTP browser");
        s.ready().await.expect("connection ready");
        let res = s.send_request(req).await.expect("send");
        if let Some(c) = res.headers().get(header::SET_COOKIE) {
            let c = c.to_str().expect("cookie");
            self.cookie = Some(c.split(';').next().unwrap_or(c).to_owned());
        }
        let status = res.status().as_u16();
        let location = res
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = res
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
            .to_vec();
        Reply {
            status,
            location,
            body,
        }
    }
}

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

fn param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Step 1: the authorization; the IdP URL (with the AuthnRequest).
async fn authorize(w: &World, target: &Target, b: &mut Browser) -> String {
    match target {
        Target::InProcess(svc_flows) => {
            let req = AuthorizationRequest {
                client_id: h::CLIENT_ID,
                redirect_uri: h::REDIRECT_URI,
                state: Some("st-1"),
                code_challenge: Some(h::CHALLENGE),
                login_hint: None,
                domain_hint: None,
            };
            svc_flows
                .hosted_start(&w.settings, &w.id, &req, &b.binding, h::random())
                .await
                .expect("hosted_start")
        }
        Target::Http(_) => {
            let id = w.id.to_string();
            let q = form(&[
                ("client_id", h::CLIENT_ID),
                ("redirect_uri", h::REDIRECT_URI),
                ("response_type", "code"),
                ("connection", &id),
                ("state", "st-1"),
                ("code_challenge", h::CHALLENGE),
                ("code_challenge_method", "S256"),
            ]);
            let r = b
                .send(
                    hyper::Request::get(format!("/sso/authorize?{q}")),
                    Body::empty(),
                )
                .await;
            assert_eq!(
                r.status,
                302,
                "authorize: {}",
                String::from_utf8_lossy(&r.body)
            );
            r.location.expect("Location")
        }
    }
}

/// Steps 2–4: the ACS, the token and the profile; the profile's email and each step's
/// time.
async fn finish(
    w: &World,
    target: &Target,
    b: &mut Browser,
    response: &str,
) -> (String, [Duration; 3]) {
    let t0 = Instant::now();
    let (t1, t2);
    let email = match target {
        Target::InProcess(svc_flows) => {
            let post = SamlPost {
                saml_response: response,
                relay_state: None,
                browser: Some(&b.binding),
            };
            let done = svc_flows
                .hosted_saml_finish(&w.settings, &w.id, &post, None, h::random())
                .await
                .expect("hosted_saml_finish");
            t1 = Instant::now();
            let exchange = CodeExchange {
                client_id: h::CLIENT_ID,
                client_authenticated: true,
                code_verifier: Some(h::VERIFIER),
                redirect_uri: Some(h::REDIRECT_URI),
                random: h::random(),
            };
            let grant = svc_flows
                .exchange_code(&w.settings, &done.code, &exchange)
                .await
                .expect("exchange_code");
            t2 = Instant::now();
            svc_flows
                .profile_for_token(&grant.access_token)
                .await
                .expect("profile_for_token")
                .email
        }
        Target::Http(_) => {
            let acs = format!("/saml/{}/acs", w.id);
            let r = b
                .send(
                    hyper::Request::post(acs)
                        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded"),
                    Body::from(form(&[("SAMLResponse", response)])),
                )
                .await;
            assert_eq!(r.status, 303, "acs: {}", String::from_utf8_lossy(&r.body));
            let loc = r.location.expect("Location");
            assert!(loc.starts_with(h::REDIRECT_URI), "redirect {loc}");
            let code = param(&loc, "code").expect("code");
            t1 = Instant::now();
            // The client app's calls, on the same connection.
            let r = b
                .send(
                    hyper::Request::post("/sso/token")
                        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded"),
                    Body::from(form(&[
                        ("client_id", h::CLIENT_ID),
                        ("client_secret", h::API_KEY),
                        ("grant_type", "authorization_code"),
                        ("code", &code),
                        ("code_verifier", h::VERIFIER),
                    ])),
                )
                .await;
            assert_eq!(r.status, 200, "token: {}", String::from_utf8_lossy(&r.body));
            let j: serde_json::Value = serde_json::from_slice(&r.body).expect("token JSON");
            let token = j["access_token"].as_str().expect("access_token");
            t2 = Instant::now();
            let r = b
                .send(
                    hyper::Request::get("/sso/profile")
                        .header(header::AUTHORIZATION, format!("Bearer {token}")),
                    Body::empty(),
                )
                .await;
            assert_eq!(
                r.status,
                200,
                "profile: {}",
                String::from_utf8_lossy(&r.body)
            );
            let p: serde_json::Value = serde_json::from_slice(&r.body).expect("profile JSON");
            p["email"].as_str().expect("email").to_owned()
        }
    };
    (email, [t1 - t0, t2 - t1, t2.elapsed()])
}

struct Outcome {
    latencies_us: Vec<u64>,
    /// Per step (authorize, ACS, token, profile).
    steps_us: [Vec<u64>; 4],
    timed: Duration,
}

impl Outcome {
    fn new() -> Outcome {
        Outcome {
            latencies_us: Vec::new(),
            steps_us: Default::default(),
            timed: Duration::ZERO,
        }
    }
}

fn us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// One round: `batch` sign-ins per browser, in the three phases of the module docs.
async fn round(
    w: &Arc<World>,
    target: &Target,
    browsers: &mut Vec<Browser>,
    batch: usize,
    first_user: u64,
    out: &mut Outcome,
) {
    // Phase 1 (timed): the authorizations.
    let t0 = Instant::now();
    let mut handles = Vec::new();
    for (i, mut b) in browsers.drain(..).enumerate() {
        let (w, target) = (w.clone(), target.clone());
        handles.push(tokio::spawn(async move {
            let mut got = Vec::with_capacity(batch);
            for _ in 0..batch {
                let t = Instant::now();
                let url = authorize(&w, &target, &mut b).await;
                got.push((t.elapsed(), url));
            }
            (i, b, got)
        }));
    }
    let mut started = Vec::new();
    for hnd in handles {
        started.push(hnd.await.expect("phase 1"));
    }
    let phase1 = t0.elapsed();

    // Phase 2 (not timed): the IdP signs a Response per AuthnRequest.
    let mut jobs = Vec::new();
    for (i, _, got) in &started {
        let (w, urls, i) = (
            w.clone(),
            got.iter().map(|(_, u)| u.clone()).collect::<Vec<_>>(),
            *i,
        );
        jobs.push(tokio::task::spawn_blocking(move || {
            urls.iter()
                .enumerate()
                .map(|(j, url)| {
                    let n = first_user + (i * batch + j) as u64;
                    let email = h::user(n);
                    let r = w.idp.respond(
                        w.settings.saml(),
                        &w.id,
                        &h::request_id(url),
                        &email,
                        now_ms(),
                    );
                    (r, email)
                })
                .collect::<Vec<_>>()
        }));
    }
    let mut responses = Vec::new();
    for j in jobs {
        responses.push(j.await.expect("mint"));
    }

    // Phase 3 (timed): ACS, token, profile.
    let t0 = Instant::now();
    let mut handles = Vec::new();
    for ((i, mut b, got), resp) in started.into_iter().zip(responses) {
        let (w, target) = (w.clone(), target.clone());
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(batch);
            for ((t_auth, _), (response, email)) in got.into_iter().zip(resp) {
                let t = Instant::now();
                let (got_email, steps) = finish(&w, &target, &mut b, &response).await;
                let d = t_auth + t.elapsed();
                assert_eq!(got_email, email);
                lat.push([us(d), us(t_auth), us(steps[0]), us(steps[1]), us(steps[2])]);
            }
            (i, b, lat)
        }));
    }
    let mut back = Vec::new();
    for hnd in handles {
        back.push(hnd.await.expect("phase 3"));
    }
    out.timed += phase1 + t0.elapsed();
    back.sort_by_key(|(i, _, _)| *i);
    for (_, b, lat) in back {
        for l in lat {
            out.latencies_us.push(l[0]);
            for (k, v) in l[1..].iter().enumerate() {
                out.steps_us[k].push(*v);
            }
        }
        browsers.push(b);
    }
}

/// `total` sign-ins (after a warm-up round) by `tasks` browsers.
async fn run(w: &Arc<World>, target: &Target, tasks: usize, total: usize, batch: usize) -> Outcome {
    let mut browsers = Vec::new();
    for n in 0..tasks {
        browsers.push(Browser::new(target, n).await);
    }
    let mut out = Outcome::new();
    let warm = (h::USERS as usize).div_ceil(tasks);
    round(w, target, &mut browsers, warm, 0, &mut out).await;
    out = Outcome::new();
    let per_round = tasks * batch;
    let mut done = 0;
    while done < total {
        round(w, target, &mut browsers, batch, done as u64, &mut out).await;
        done += per_round;
    }
    out
}

fn pct(sorted: &[u64], p: f64) -> u64 {
    let n = sorted.len();
    sorted
        .get(((n as f64 * p) as usize).min(n.saturating_sub(1)))
        .copied()
        .unwrap_or(0)
}

fn main() {
    let total: usize = env("SSO_FLOW_SIGNINS", "3000")
        .parse()
        .expect("SSO_FLOW_SIGNINS");
    let batch_cap: usize = env("SSO_FLOW_BATCH", "20").parse().expect("SSO_FLOW_BATCH");
    let stores: Vec<StoreKind> = env("SSO_FLOW_STORES", "memory,sqlite,postgres")
        .split(',')
        .map(|s| StoreKind::parse(s.trim()).expect("SSO_FLOW_STORES: memory, sqlite, postgres"))
        .collect();
    let conc: Vec<usize> = env("SSO_FLOW_CONCURRENCY", "1,64")
        .split(',')
        .map(|s| s.trim().parse().expect("SSO_FLOW_CONCURRENCY"))
        .collect();
    let pg = enterprise_sso_benches::pg::url();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut rows = Vec::new();
    let mut json = Vec::new();
    rt.block_on(async {
        for kind in stores {
            let max = conc.iter().copied().max().unwrap_or(1);
            let Some(store) = h::store(kind, dir.path(), pg.as_deref(), max.min(32)).await else {
                eprintln!("postgres skipped: set SSO_BENCH_POSTGRES_URL or SSO_TEST_POSTGRES_URL");
                continue;
            };
            let svc_flows = Flows::new(Arc::new(Connections::new(store)));
            let svc = svc_flows.connections();
            let id = h::saml_connection(svc).await;
            let w = Arc::new(World {
                id,
                settings: h::settings(),
                idp: Idp::new(),
            });
            let keys = ApiKeys::from_list(h::API_KEY).expect("key").expect("a key");
            let client = OAuthClient::new(h::CLIENT_ID, vec![h::REDIRECT_URI.into()], None)
                .expect("client");
            let opts = HttpOptions {
                sp_base_url: Some(h::SP_BASE.into()),
                sign_in: Some(
                    SignInOptions::new(h::settings(), h::SP_BASE, vec![client]).expect("sign-in"),
                ),
                ..HttpOptions::default()
            };
            let app = router_with(svc.clone(), Auth::Keys(keys), opts);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("addr");
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let server = tokio::spawn(serve(listener, app, ServerLimits::default(), async {
                let _ = stopped.await;
            }));
            for &tasks in &conc {
                let batch = batch_cap.min(total.div_ceil(tasks)).max(1);
                let mut targets = vec![("in process", Target::InProcess(svc_flows.clone()))];
                if kind != StoreKind::Memory {
                    targets.push(("HTTP", Target::Http(addr)));
                }
                for (label, target) in targets {
                    let mut o = run(&w, &target, tasks, total, batch).await;
                    o.latencies_us.sort_unstable();
                    let n = o.latencies_us.len();
                    let per_s = n as f64 / o.timed.as_secs_f64();
                    let (p50, p99) = (pct(&o.latencies_us, 0.5), pct(&o.latencies_us, 0.99));
                    let steps: Vec<u64> = o
                        .steps_us
                        .iter_mut()
                        .map(|v| {
                            v.sort_unstable();
                            pct(v, 0.5)
                        })
                        .collect();
                    let ms = |v: u64| format!("{:.2}", v as f64 / 1000.0);
                    rows.push(format!(
                        "| {} | {label} | {tasks} | {n} | {per_s:.0} | {} ms | {} ms | {} |",
                        kind.name(),
                        ms(p50),
                        ms(p99),
                        steps.iter().map(|&v| ms(v)).collect::<Vec<_>>().join(" / ")
                    ));
                    eprintln!("{}", rows.last().map_or("", String::as_str));
                    json.push(serde_json::json!({
                        "store": kind.name(), "via": if label == "HTTP" { "http" } else { "inproc" },
                        "browsers": tasks, "sign_ins": n, "per_s": per_s,
                        "p50_us": p50, "p99_us": p99, "steps_p50_us": steps,
                    }));
                }
            }
            let _ = stop.send(());
            let _ = server.await;
        }
    });
    println!(
        "hosted SP-initiated sign-in (authorize, ACS, token, profile), {} cores, batch {batch_cap} per browser per round\n",
        std::thread::available_parallelism().map_or(0, |p| p.get())
    );
    println!("| store | via | browsers | sign-ins | sign-ins/s | p50 | p99 | p50 of authorize / ACS / token / profile (ms) |");
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |");
    for r in rows {
        println!("{r}");
    }
    println!("{}", serde_json::Value::Array(json));
}
