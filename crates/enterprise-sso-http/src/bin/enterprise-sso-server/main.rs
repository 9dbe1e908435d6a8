//! `enterprise-sso-server`: the HTTP API over a store chosen by URL.
//!
//! ```text
//! ENTERPRISE_SSO_API_KEYS=sk_live_… enterprise-sso-server [--listen 127.0.0.1:8080]
//!     [--store sqlite:enterprise-sso.db | sled:DIR | postgres://…] [--sp-base-url URL]
//!     [--max-connections N] [--header-read-timeout T] [--idle-timeout T]
//!     [--body-read-timeout T] [--shutdown-grace T] [--feed-retention T|off] [--clients JSON]
//!     [--dev-no-auth-loopback-only]
//! ```
//!
//! The change feed is pruned on a schedule (`--feed-retention`, default 7 days): events
//! older than the retention are deleted every tenth of it (at most hourly). A consumer
//! that was behind them sees the feed's floor above its position and starts over.
//!
//! Prints `listening on http://ADDR` on stdout once bound (port 0 picks a free port), logs
//! one line per request to stderr (`RUST_LOG` filters), serves within the connection limits
//! of [`enterprise_sso_http::serve`], and on SIGTERM or ctrl-c stops accepting and finishes
//! the requests in flight before exiting (for up to `--shutdown-grace`, default 20 s; the
//! connections still busy then are closed).

mod config;
mod refresh;
mod sign_in;

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use enterprise_sso::Connections;
use enterprise_sso_http::{router_with, Auth, HttpOptions};

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cfg = match config::Config::from_env_and_args(std::env::args().skip(1)) {
        Ok(config::Parsed::Run(cfg)) => cfg,
        Ok(config::Parsed::Help) => {
            println!("{}\n\n{}", config::USAGE, config::REENCRYPT_USAGE);
            return ExitCode::SUCCESS;
        }
        Ok(config::Parsed::Reencrypt(r)) => return reencrypt(r).await,
        Err(e) => {
            eprintln!("enterprise-sso-server: {e}\n\n{}", config::USAGE);
            return ExitCode::from(2);
        }
    };
    let repo = match enterprise_sso_http::store_url::open(&cfg.store).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("enterprise-sso-server: cannot open the store: {e}");
            return ExitCode::from(1);
        }
    };
    let repo = match cfg.keyring {
        None => {
            tracing::warn!("no ENTERPRISE_SSO_KEYRING: client secrets are stored in plain text");
            repo
        }
        Some(ring) => match enterprise_sso_http::store_url::encrypted(repo, ring).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("enterprise-sso-server: {e}");
                return ExitCode::from(1);
            }
        },
    };
    if matches!(cfg.auth, Auth::DevelopmentOnlyNoAuth) {
        tracing::warn!("AUTHENTICATION IS OFF (--dev-no-auth-loopback-only): development use only");
    }
    // IdP documents (SAML metadata URLs, OIDC discovery) are fetched on create and update
    // through the SSRF-safe fetcher: https only, no internal addresses, 1 MiB, timeouts.
    let insecure_loopback =
        std::env::var("ENTERPRISE_SSO_INSECURE_FETCH_LOOPBACK_FOR_TESTS").as_deref() == Ok("1");
    let mut fetch = if insecure_loopback {
        tracing::warn!("FETCHING FROM LOOPBACK IS ALLOWED (tests only)");
        enterprise_sso_fetch::FetchOptions::insecure_allow_loopback_for_tests()
    } else {
        enterprise_sso_fetch::FetchOptions::new()
    };
    if let Ok(path) = std::env::var("ENTERPRISE_SSO_FETCH_CA") {
        match std::fs::read(&path) {
            Ok(pem) => fetch = fetch.extra_ca_pem(pem),
            Err(e) => {
                eprintln!("enterprise-sso-server: ENTERPRISE_SSO_FETCH_CA {path}: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let fetcher = match enterprise_sso_fetch::Fetcher::new(fetch) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("enterprise-sso-server: cannot build the document fetcher: {e}");
            return ExitCode::from(1);
        }
    };
    let svc = Arc::new(Connections::new(repo).with_policy(enterprise_sso::Policy {
        allow_loopback_fetch: insecure_loopback,
    }));
    let fetcher = Arc::new(fetcher);
    match refresh::interval_from_env() {
        Ok(Some(every)) => refresh::spawn(svc.clone(), fetcher.clone(), every),
        Ok(None) => tracing::info!("scheduled document refresh is off"),
        Err(e) => {
            eprintln!("enterprise-sso-server: {e}");
            return ExitCode::from(2);
        }
    }
    let pruner = cfg
        .feed_retention
        .map(|retention| tokio::spawn(prune_feed(Arc::clone(&svc), retention)));
    // Expired sign-in records are swept whether or not this server signs people in:
    // another replica on the same store may.
    let sweeper = sign_in::spawn_sweeper(Arc::clone(&svc));
    let sign_in = match (&cfg.sp_base_url, cfg.clients.is_empty()) {
        (Some(base), false) => match sign_in::options(base, cfg.clients, fetcher.clone()) {
            Ok(o) => Some(o),
            Err(e) => {
                eprintln!("enterprise-sso-server: hosted sign-in: {e}");
                return ExitCode::from(2);
            }
        },
        _ => None,
    };
    let app = router_with(
        svc,
        cfg.auth,
        HttpOptions {
            sp_base_url: cfg.sp_base_url,
            body_read_timeout: cfg.body_read_timeout,
            metadata_source: Some(fetcher),
            sign_in,
            ..HttpOptions::default()
        },
    );
    let listener = match tokio::net::TcpListener::bind(cfg.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "enterprise-sso-server: cannot listen on {}: {e}",
                cfg.listen
            );
            return ExitCode::from(1);
        }
    };
    match listener.local_addr() {
        Ok(addr) => {
            println!("listening on http://{addr}");
            let _ = std::io::stdout().flush();
            tracing::info!(%addr, store = %cfg.store.kind(), "listening");
        }
        Err(e) => {
            eprintln!("enterprise-sso-server: {e}");
            return ExitCode::from(1);
        }
    }
    let served = enterprise_sso_http::serve(listener, app, cfg.limits, shutdown_signal()).await;
    if let Some(p) = pruner {
        p.abort();
    }
    sweeper.abort();
    match served {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("enterprise-sso-server: {e}");
            ExitCode::from(1)
        }
    }
}

/// Deletes the feed's events older than `retention`, every [`config::prune_every`]; a
/// failed prune is logged and tried again at the next turn.
async fn prune_feed(
    svc: Arc<Connections<enterprise_sso::DynStore>>,
    retention: std::time::Duration,
) {
    let every = config::prune_every(retention);
    let keep_ms = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
    loop {
        tokio::time::sleep(every).await;
        let before = enterprise_sso::now_ms().saturating_sub(keep_ms);
        match svc.prune_events_before(before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(events = n, "change feed pruned"),
            Err(e) => tracing::warn!(error = %e, "pruning the change feed failed"),
        }
    }
}

/// SIGTERM or ctrl-c.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// The `reencrypt` command: every client secret and test run sealed under the ring's
/// active key (and, with `--accept-plain-values`, plain ones sealed too). Exit 1 when a secret could not
/// be opened, naming each connection (never the secret).
async fn reencrypt(r: config::Reencrypt) -> ExitCode {
    let repo = match enterprise_sso_http::store_url::open(&r.store).await {
        Ok(repo) => repo,
        Err(e) => {
            eprintln!("enterprise-sso-server reencrypt: cannot open the store: {e}");
            return ExitCode::from(1);
        }
    };
    let active = r.keyring.active_id().to_string();
    let mut store = enterprise_sso::crypto::Encrypted::new(repo, r.keyring);
    if r.accept_plain_values {
        tracing::warn!("reading plain secrets as secrets for this run (--accept-plain-values)");
        store = store.accepting_plain_values();
    }
    match store.reencrypt_all(256).await {
        Ok(report) => {
            println!(
                "reencrypt: {} connections examined, {} rewritten under key {active}, {} test runs rewritten, {} unreadable",
                report.examined,
                report.rewritten,
                report.test_runs_rewritten,
                report.unreadable.len()
            );
            for u in &report.unreadable {
                println!("unreadable: {} {}: {}", u.id, u.field, u.error);
            }
            if report.unreadable.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("enterprise-sso-server reencrypt: {e}");
            ExitCode::from(1)
        }
    }
}
