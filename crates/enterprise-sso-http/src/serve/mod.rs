//! Serving the router over TCP with connection limits: how long a request head may take,
//! how long an idle keep-alive connection is kept, and how many connections are served at
//! once, with the slow and idle ones shed first when every slot is taken; and how long a stop
//! waits for the requests in progress.
//!
//! `axum::serve` has none of these: a client that opens a connection and sends nothing, or
//! a header line every few seconds, holds it (and a file descriptor) for as long as it
//! likes. [`serve`] drives hyper's HTTP/1 connection itself and watches each one.

mod connection;
mod track;

use std::future::Future;
use std::io;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderValue;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::{timeout_at, Instant};

use connection::{connection, queued};
use track::Registry;

/// Default [`ServerLimits::header_read_timeout`]: 10 s.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default [`ServerLimits::idle_timeout`]: 75 s.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(75);
/// Default [`ServerLimits::max_connections`]: 512.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// Default [`ServerLimits::queue_timeout`]: 5 s.
pub const DEFAULT_QUEUE_TIMEOUT: Duration = Duration::from_secs(5);
/// Default [`ServerLimits::shutdown_grace`]: 20 s.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// Connections accepted beyond [`ServerLimits::max_connections`] that wait for a slot (and
/// get 503 if none frees in time). With these also taken, the server stops accepting and
/// new connections wait in the kernel's listen queue.
const QUEUE: usize = 32;
/// File descriptors left for the store, the log and the listener when the connection cap
/// is fitted under the process's open-file limit.
const FD_RESERVE: u64 = 32;
/// Under pressure, a request head that has been arriving for this long is shed (408): a
/// client that sends its head in one piece takes far less.
const SHED_HEAD_AFTER: Duration = Duration::from_secs(1);
/// How often a connection waiting for a slot asks for another one to be shed.
const SHED_RETRY: Duration = Duration::from_millis(250);
/// After a 408 or 503 written outside hyper: how long (and how much) the rest of the
/// request is read and dropped, so that closing does not reset the connection before the
/// client has read the answer.
const LINGER: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 64 * 1024;
/// Largest request head read to answer 503.
const BUSY_HEAD_BYTES: usize = 16 * 1024;

/// Connection limits for [`serve`]. [`Default`] gives the values of the `DEFAULT_*`
/// constants; each one is also a flag of `enterprise-sso-server`.
///
/// The body of a request has its own limits, in [`crate::HttpOptions`]
/// (`max_body_bytes`, `body_read_timeout`), enforced by the router however it is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerLimits {
    /// Longest time from the first byte of a request to the end of its head (request line
    /// and headers). Then the server answers 408 and closes the connection.
    pub header_read_timeout: Duration,
    /// Longest time a connection may stay open with no request on it: after it is opened,
    /// and after each response, until the first byte of the next request. Then it is closed
    /// without an answer, as HTTP allows for an idle connection. Responses carry
    /// `Keep-Alive: timeout=<seconds>` so clients stop reusing it first.
    pub idle_timeout: Duration,
    /// Connections served at once. A connection beyond this waits up to `queue_timeout`
    /// for a slot; while it waits, the connection idle the longest, else one whose request
    /// head has been arriving for over a second, is closed to make room. Requests in
    /// progress are never cut short. Lowered at start to fit under the process's limit of
    /// open files (Linux), with a warning.
    pub max_connections: usize,
    /// How long a connection beyond `max_connections` waits for a slot before it is
    /// answered 503 with `Retry-After: 1` (after its request head is read) and closed.
    pub queue_timeout: Duration,
    /// After the shutdown signal, how long the requests in progress have to finish. Then
    /// the connections still open are closed (their clients see the connection end, with no
    /// answer) and [`serve`] returns: a stuck request, or a client that never reads its
    /// answer, cannot keep the process from stopping.
    pub shutdown_grace: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            queue_timeout: DEFAULT_QUEUE_TIMEOUT,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
        }
    }
}

/// Serves `app` on `listener` within `limits` until `shutdown` completes; then stops
/// accepting, closes idle connections, lets the requests in progress finish (the limits
/// still bound slow clients) for up to [`ServerLimits::shutdown_grace`], closes the
/// connections still open, and returns.
///
/// HTTP/1.1 only. Put a reverse proxy in front for TLS, HTTP/2, per-client rate limits
/// and request logging at the edge.
///
/// ```no_run
/// use std::sync::Arc;
/// use enterprise_sso::Connections;
/// use enterprise_sso_memory::MemoryRepo;
/// use enterprise_sso_http::{router, serve, ApiKeys, Auth, ServerLimits};
/// # async fn run() -> std::io::Result<()> {
/// let keys = ApiKeys::from_list("sk_live_example").unwrap().unwrap();
/// let app = router(Arc::new(Connections::new(MemoryRepo::new())), Auth::Keys(keys));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// let limits = ServerLimits { max_connections: 256, ..ServerLimits::default() };
/// serve(listener, app, limits, async { let _ = tokio::signal::ctrl_c().await; }).await
/// # }
/// ```
pub async fn serve<F>(
    listener: TcpListener,
    app: Router,
    limits: ServerLimits,
    shutdown: F,
) -> io::Result<()>
where
    F: Future<Output = ()>,
{
    let limits = Arc::new(fit_to_open_file_limit(limits));
    let cap = limits.max_connections;
    tracing::info!(
        max_connections = cap,
        header_read_timeout_ms = limits.header_read_timeout.as_millis(),
        idle_timeout_ms = limits.idle_timeout.as_millis(),
        queue_timeout_ms = limits.queue_timeout.as_millis(),
        shutdown_grace_ms = limits.shutdown_grace.as_millis(),
        "connection limits"
    );
    let shared = Arc::new(Shared {
        app,
        limits: limits.clone(),
        slots: Arc::new(Semaphore::new(cap)),
        registry: Registry::default(),
        keep_alive: keep_alive_hint(limits.idle_timeout),
    });
    let queue = Arc::new(Semaphore::new(QUEUE));
    let (stop_tx, stop_rx) = watch::channel(false);
    let (abort_tx, abort_rx) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    loop {
        // A slot, else a place in the queue; with neither, accept nothing: new connections
        // wait in the kernel's listen queue, first come first served.
        let ticket = tokio::select! {
            biased;
            () = &mut shutdown => break,
            Ok(p) = shared.slots.clone().acquire_owned() => Ticket::Slot(p),
            Ok(p) = queue.clone().acquire_owned() => Ticket::Queued(p),
        };
        let stream = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    accept_failed(&e, &shared.registry).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let stop = stop_rx.clone();
        let mut abort = abort_rx.clone();
        tokio::spawn(async move {
            let served = async {
                match ticket {
                    Ticket::Slot(slot) => connection(stream, slot, &shared, stop).await,
                    Ticket::Queued(place) => queued(stream, place, &shared, stop).await,
                }
            };
            // Past the shutdown grace the connection is dropped: its socket closes and its
            // slot frees.
            tokio::select! {
                () = served => {}
                _ = abort.wait_for(|a| *a) => {}
            }
        });
    }
    drop(listener);
    tracing::info!(
        grace_ms = limits.shutdown_grace.as_millis(),
        "stopped accepting; closing idle connections, finishing requests in progress"
    );
    let _ = stop_tx.send(true);
    // Every connection holds a slot or a place in the queue until it ends.
    let drained = async {
        let _slots = shared.slots.acquire_many(permits(cap)).await;
        let _queue = queue.acquire_many(permits(QUEUE)).await;
    };
    if timeout_at(Instant::now() + limits.shutdown_grace, drained)
        .await
        .is_err()
    {
        let open = cap.saturating_sub(shared.slots.available_permits())
            + QUEUE.saturating_sub(queue.available_permits());
        tracing::warn!(
            open,
            grace_ms = limits.shutdown_grace.as_millis(),
            "connections still busy at the end of the shutdown grace: closing them"
        );
        let _ = abort_tx.send(true);
        let _slots = shared.slots.acquire_many(permits(cap)).await;
        let _queue = queue.acquire_many(permits(QUEUE)).await;
    }
    Ok(())
}

fn permits(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

enum Ticket {
    Slot(OwnedSemaphorePermit),
    Queued(OwnedSemaphorePermit),
}

/// What every connection task shares.
struct Shared {
    app: Router,
    limits: Arc<ServerLimits>,
    slots: Arc<Semaphore>,
    registry: Registry,
    keep_alive: Option<HeaderValue>,
}

fn keep_alive_hint(idle: Duration) -> Option<HeaderValue> {
    let secs = idle.as_secs();
    (secs > 0)
        .then(|| HeaderValue::from_str(&format!("timeout={secs}")).ok())
        .flatten()
}

/// The cap, lowered to fit under the soft limit of open files where it can be read.
fn fit_to_open_file_limit(mut limits: ServerLimits) -> ServerLimits {
    let wanted = limits.max_connections.max(1);
    limits.max_connections = wanted
        .min(Semaphore::MAX_PERMITS)
        .min(usize::try_from(u32::MAX).unwrap_or(usize::MAX));
    if let Some(files) = open_file_limit() {
        let room = files
            .saturating_sub(FD_RESERVE + QUEUE as u64)
            .max(files / 4)
            .max(1);
        if wanted as u64 > room {
            limits.max_connections = usize::try_from(room).unwrap_or(1);
            tracing::warn!(
                requested = wanted,
                max_connections = limits.max_connections,
                open_file_limit = files,
                "max_connections lowered to fit under the open-file limit (raise it with ulimit -n)"
            );
        }
    }
    limits
}

/// The soft limit of open files (`RLIMIT_NOFILE`), on Linux.
fn open_file_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// A failed `accept`. Out of file descriptors: shed a connection and wait a little rather
/// than spin; a connection that failed before it was accepted: nothing to do.
async fn accept_failed(e: &io::Error, registry: &Registry) {
    use io::ErrorKind as K;
    if matches!(
        e.kind(),
        K::ConnectionAborted | K::ConnectionReset | K::ConnectionRefused | K::Interrupted
    ) {
        return;
    }
    registry
        .warn_at_capacity(|| tracing::warn!(error = %e, "accept failed; shedding a connection"));
    registry.shed_one();
    tokio::time::sleep(Duration::from_millis(100)).await;
}
