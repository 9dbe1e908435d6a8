//! HTTP load check: `enterprise-sso-http` on the SQLite store (default mode), driven over
//! loopback by 64 concurrent HTTP/1.1 keep-alive connections (a hyper client, one
//! connection per task), beside the same calls made in process by 64 tasks, in one run.
//!
//! ```sh
//! cargo run --release -p enterprise-sso-benches --bin http_load
//! SSO_LOAD_SECS=10 SSO_LOAD_CONNECTIONS=10000 SSO_LOAD_CONCURRENCY=64 cargo run --release -p enterprise-sso-benches --bin http_load
//! ```
//!
//! Ids are drawn uniformly over the whole store; list pages are one organization's first
//! page of 10 (as Clerk's SDK asks for them, with `total_count`). Prints a Markdown table:
//! requests/s, p50, p99, errors (any status but 200, or a transport failure).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use enterprise_sso::ListQuery;
use enterprise_sso::{ConnectionId, ConnectionRepo, Connections, DynStore};
use enterprise_sso_benches::{connection, org_of, template, PER_ORG};
use enterprise_sso_http::{router, ApiKeys, Auth};
use enterprise_sso_sqlite::SqliteRepo;
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;

const KEY: &str = "sk_load_test_key";

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// xorshift: cheap, deterministic per task.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

struct Outcome {
    latencies_us: Vec<u32>,
    errors: u64,
    elapsed: Duration,
}

impl Outcome {
    fn row(mut self, label: &str) -> String {
        self.latencies_us.sort_unstable();
        let n = self.latencies_us.len();
        let pct = |p: f64| {
            self.latencies_us
                .get(((n as f64 * p) as usize).min(n.saturating_sub(1)))
                .copied()
                .unwrap_or(0)
        };
        format!(
            "| {label} | {:.0} | {} | {} | {} |",
            n as f64 / self.elapsed.as_secs_f64(),
            fmt_us(pct(0.50)),
            fmt_us(pct(0.99)),
            self.errors
        )
    }
}

fn fmt_us(us: u32) -> String {
    if us >= 1000 {
        format!("{:.2} ms", f64::from(us) / 1000.0)
    } else {
        format!("{us} µs")
    }
}

/// Runs `tasks` copies of `op` until `secs` pass; each returns whether it succeeded.
async fn drive<F, Fut>(tasks: usize, secs: u64, op: F) -> Outcome
where
    F: Fn(usize, u64) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let errors = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut handles = Vec::new();
    for t in 0..tasks {
        let op = op.clone();
        let errors = errors.clone();
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(1 << 16);
            let mut i = 0u64;
            while Instant::now() < deadline {
                let t0 = Instant::now();
                let ok = op(t, i).await;
                lat.push(u32::try_from(t0.elapsed().as_micros()).unwrap_or(u32::MAX));
                if !ok {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                i += 1;
            }
            lat
        }));
    }
    let mut latencies_us = Vec::new();
    for h in handles {
        latencies_us.extend(h.await.unwrap_or_default());
    }
    Outcome {
        latencies_us,
        errors: errors.load(Ordering::Relaxed),
        elapsed: started.elapsed(),
    }
}

type Sender = hyper::client::conn::http1::SendRequest<Body>;

async fn connect(addr: std::net::SocketAddr) -> Sender {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let _ = stream.set_nodelay(true);
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    sender
}

/// One GET over the task's own connection; true on a 200 with a readable body.
async fn get(sender: &tokio::sync::Mutex<Sender>, uri: String) -> bool {
    let req = match hyper::Request::get(uri)
        .header("authorization", format!("Bearer {KEY}"))
        .header("host", "127.0.0.1")
        .body(Body::empty())
    {
        Ok(r) => r,
        Err(_) => return false,
    };
    let mut s = sender.lock().await;
    if s.ready().await.is_err() {
        return false;
    }
    match s.send_request(req).await {
        Ok(res) => {
            let ok = res.status() == hyper::StatusCode::OK;
            ok & res.into_body().collect().await.is_ok()
        }
        Err(_) => false,
    }
}

fn main() {
    let secs = env("SSO_LOAD_SECS", 10);
    let n = env("SSO_LOAD_CONNECTIONS", 10_000) as usize;
    let tasks = env("SSO_LOAD_CONCURRENCY", 64) as usize;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let dir = tempfile_dir();
        let repo = SqliteRepo::open(dir.join("load.db")).expect("open sqlite");
        let t = template();
        let mut ids = Vec::with_capacity(n);
        for i in 0..n {
            let c = connection(&t, i);
            repo.insert(&c).await.expect("insert");
            ids.push(c.id);
        }
        let repo: DynStore = Arc::new(repo);
        let svc = Arc::new(Connections::new(repo));
        let keys = ApiKeys::from_list(KEY).expect("key").expect("some");
        let app = router(svc.clone(), Auth::Keys(keys));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });

        let ids: Arc<Vec<ConnectionId>> = Arc::new(ids);
        let orgs = n.div_ceil(PER_ORG);
        let mut senders = Vec::new();
        for _ in 0..tasks {
            senders.push(Arc::new(tokio::sync::Mutex::new(connect(addr).await)));
        }
        let senders = Arc::new(senders);
        let mut rows = Vec::new();

        let (s2, ids2) = (svc.clone(), ids.clone());
        let inproc_get = drive(tasks, secs, move |t, i| {
            let (svc, ids) = (s2.clone(), ids2.clone());
            async move {
                let k = Rng(0x9E37_79B9_7F4A_7C15 ^ (t as u64) << 32 ^ i).below(ids.len());
                svc.get(&ids[k]).await.is_ok()
            }
        })
        .await;
        rows.push(inproc_get.row("in process: `Connections::get`"));

        let (snd, ids2) = (senders.clone(), ids.clone());
        let http_get = drive(tasks, secs, move |t, i| {
            let (snd, ids) = (snd.clone(), ids2.clone());
            async move {
                let k = Rng(0x9E37_79B9_7F4A_7C15 ^ (t as u64) << 32 ^ i).below(ids.len());
                get(&snd[t], format!("/v1/enterprise_connections/{}", ids[k])).await
            }
        })
        .await;
        rows.push(http_get.row("HTTP: `GET /v1/enterprise_connections/{id}`"));

        let s2 = svc.clone();
        let inproc_list = drive(tasks, secs, move |t, i| {
            let svc = s2.clone();
            async move {
                let org = org_of(Rng(0xD1B5_4A32_D192_ED03 ^ (t as u64) << 32 ^ i).below(orgs) * PER_ORG);
                let q = ListQuery {
                    organization_id: Some(org),
                    ..ListQuery::default()
                };
                svc.list(&q).await.is_ok() & svc.count(&q).await.is_ok()
            }
        })
        .await;
        rows.push(inproc_list.row("in process: `list` + `count` (one organization)"));

        let snd = senders.clone();
        let http_list = drive(tasks, secs, move |t, i| {
            let snd = snd.clone();
            async move {
                let org = org_of(Rng(0xD1B5_4A32_D192_ED03 ^ (t as u64) << 32 ^ i).below(orgs) * PER_ORG);
                get(&snd[t], format!("/v1/enterprise_connections?limit=10&organization_id={org}")).await
            }
        })
        .await;
        rows.push(http_list.row("HTTP: `GET /v1/enterprise_connections?organization_id=…`"));

        println!(
            "SQLite store (default mode), {n} connections, {tasks} concurrent tasks / connections, {secs} s each, {} cores\n",
            std::thread::available_parallelism().map_or(0, |p| p.get())
        );
        println!("| what | requests/s | p50 | p99 | errors |\n| --- | ---: | ---: | ---: | ---: |");
        for r in rows {
            println!("{r}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    });
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sso-http-load-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
