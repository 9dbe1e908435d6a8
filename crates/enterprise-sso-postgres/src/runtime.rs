//! Where the driver runs. tokio-postgres needs a tokio runtime for its sockets and for the
//! task that drives each connection. Calls made inside a tokio runtime run there, with no
//! hand-off; calls from anywhere else (another executor, `futures::executor::block_on`)
//! are sent to one small shared runtime that this crate starts on first use.

use std::future::Future;
use std::sync::OnceLock;

/// Why the driver could not be run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// The shared runtime could not be started.
    #[error("could not start the shared tokio runtime: {0}")]
    Start(String),
    /// The task running the call panicked or was cancelled.
    #[error("the PostgreSQL task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
    /// The pool could not be used.
    #[error("connection pool: {0}")]
    Pool(String),
}

static SHARED: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();

fn shared() -> Result<&'static tokio::runtime::Runtime, RuntimeError> {
    SHARED
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("enterprise-sso-postgres")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| RuntimeError::Start(e.clone()))
}

/// Runs `fut` on the caller's tokio runtime if there is one, else on the shared runtime.
pub(crate) async fn run<F>(fut: F) -> Result<F::Output, RuntimeError>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    if tokio::runtime::Handle::try_current().is_ok() {
        Ok(fut.await)
    } else {
        Ok(shared()?.spawn(fut).await?)
    }
}
