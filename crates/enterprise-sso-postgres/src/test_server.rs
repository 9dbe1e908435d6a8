//! The test server the in-crate tests use (see `scripts/with-postgres.sh`).

/// `SSO_TEST_POSTGRES_URL`, or `None` to skip (never on CI, where the server must run).
pub(crate) fn url() -> Option<String> {
    match std::env::var("SSO_TEST_POSTGRES_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("SSO_TEST_POSTGRES_URL is not set: on CI the PostgreSQL tests must run")
        }
        _ => None,
    }
}
