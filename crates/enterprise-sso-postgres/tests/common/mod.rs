//! Shared by the PostgreSQL test binaries: the server's URL, and a fresh schema per test.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Once;

use enterprise_sso_postgres::{PostgresOptions, PostgresRepo};

/// The variable that names the test server.
pub(crate) const URL_VAR: &str = "SSO_TEST_POSTGRES_URL";

/// The test server's URL. Without one, CI fails here; elsewhere the tests skip, with a
/// one-line notice (written past the test harness's capture, once per binary).
pub(crate) fn url() -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(u) if !u.is_empty() => Some(u),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{URL_VAR} is not set: on CI the PostgreSQL tests must run (see .ci/run)")
        }
        _ => {
            static NOTICE: Once = Once::new();
            NOTICE.call_once(|| {
                let _ = writeln!(
                    std::io::stderr(),
                    "note: {URL_VAR} is not set, PostgreSQL tests skipped; \
                     run `scripts/with-postgres.sh cargo test -p enterprise-sso-postgres`"
                );
            });
            None
        }
    }
}

/// Whether the PostgreSQL tests run here.
pub(crate) fn available() -> bool {
    url().is_some()
}

/// A schema name no other test uses.
pub(crate) fn unique_schema(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    )
}

/// Options for a test store in its own schema.
pub(crate) fn options(schema: &str) -> PostgresOptions {
    PostgresOptions {
        schema: schema.to_owned(),
        pool_size: 8,
        ..PostgresOptions::default()
    }
}

/// A store in a new schema, opened from a caller outside any tokio runtime.
pub(crate) fn fresh(prefix: &str) -> PostgresRepo {
    let schema = unique_schema(prefix);
    futures_executor::block_on(PostgresRepo::connect_with(
        &url().unwrap(),
        options(&schema),
    ))
    .unwrap()
}
