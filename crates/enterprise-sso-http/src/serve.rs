//! Serving the router over TCP with connection limits: how long a request head may take,
//! how long an idle keep-alive connection is kept, and how many connections are served at
//! once, with the slow and idle ones shed first when every slot is taken.
//!
//! `axum::serve` has none of these: a client that opens a connection and sends nothing, or
//! a header line every few seconds, holds it (and a file descriptor) for as long as it
//! likes. [`serve`] drives hyper's HTTP/1 connection itself and watches each one.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderValue, Request, Response, StatusCode};
use axum::Router;
use enterprise_sso_wire::{codes, ApiErrors};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::{sleep_until, timeout_at, Instant};
use tower::ServiceExt;

use crate::envelope::{HttpError, Vendor};

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
/// use enterprise_sso::{Connections, MemoryRepo};
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

/// Where a connection is in its request cycle, as its watchdog sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No request in progress (just opened, or its last response was sent).
    Idle,
    /// Bytes of a request head have arrived; the head is not complete.
    Head,
    /// A request is being handled (its body read, its response written).
    Busy,
}

#[derive(Debug, Clone, Copy)]
struct State {
    phase: Phase,
    since: Instant,
    write_pending: bool,
}

/// One connection's state, shared by its IO, its service and its watchdog.
struct Conn {
    state: Mutex<State>,
    changed: Notify,
    shed: AtomicBool,
}

impl Conn {
    fn new() -> Self {
        Conn {
            state: Mutex::new(State {
                phase: Phase::Idle,
                since: Instant::now(),
                write_pending: false,
            }),
            changed: Notify::new(),
            shed: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn get(&self) -> State {
        *self.lock()
    }

    fn enter(&self, phase: Phase) {
        {
            let mut s = self.lock();
            s.phase = phase;
            s.since = Instant::now();
        }
        self.changed.notify_one();
    }

    /// Bytes read from the client: an idle connection starts a request head.
    fn bytes_arrived(&self) {
        let started = {
            let mut s = self.lock();
            let idle = s.phase == Phase::Idle;
            if idle {
                s.phase = Phase::Head;
                s.since = Instant::now();
            }
            idle
        };
        if started {
            self.changed.notify_one();
        }
    }

    fn write_pending(&self, pending: bool) {
        self.lock().write_pending = pending;
    }
}

/// The live connections, to choose one to shed.
#[derive(Default)]
struct Registry {
    next: AtomicU64,
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
    last_warning: Mutex<Option<Instant>>,
}

impl Registry {
    fn conns(&self) -> MutexGuard<'_, HashMap<u64, Arc<Conn>>> {
        self.conns.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn register(&self, conn: Arc<Conn>) -> Registered<'_> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.conns().insert(id, conn);
        Registered { registry: self, id }
    }

    /// Marks one connection to be closed: the one idle the longest, else the one whose
    /// request head has been arriving the longest (over [`SHED_HEAD_AFTER`]). Connections
    /// handling a request are never chosen. Whether one was.
    fn shed_one(&self) -> bool {
        let now = Instant::now();
        let conns = self.conns();
        let mut idle: Option<(Instant, &Arc<Conn>)> = None;
        let mut head: Option<(Instant, &Arc<Conn>)> = None;
        for c in conns.values() {
            if c.shed.load(Ordering::Acquire) {
                continue;
            }
            let s = c.get();
            let best = match s.phase {
                Phase::Idle => &mut idle,
                Phase::Head if now.duration_since(s.since) >= SHED_HEAD_AFTER => &mut head,
                _ => continue,
            };
            if best.is_none_or(|(since, _)| s.since < since) {
                *best = Some((s.since, c));
            }
        }
        let Some((_, victim)) = idle.or(head) else {
            return false;
        };
        victim.shed.store(true, Ordering::Release);
        victim.changed.notify_one();
        drop(conns);
        self.warn_at_capacity(|| {
            tracing::warn!(
                "every connection slot is taken: shedding idle and slow connections (see max_connections)"
            );
        });
        true
    }

    /// Runs `warn` at most once every 10 s.
    fn warn_at_capacity(&self, warn: impl FnOnce()) {
        let now = Instant::now();
        let mut last = self
            .last_warning
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if last.is_none_or(|t| now.duration_since(t) >= Duration::from_secs(10)) {
            *last = Some(now);
            drop(last);
            warn();
        }
    }
}

/// Removes a connection from the registry when its task ends.
struct Registered<'a> {
    registry: &'a Registry,
    id: u64,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.registry.conns().remove(&self.id);
    }
}

/// The TCP stream, reporting reads and blocked writes to its [`Conn`].
struct TrackedIo {
    stream: TcpStream,
    conn: Arc<Conn>,
}

impl AsyncRead for TrackedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.conn.bytes_arrived();
        }
        polled
    }
}

impl AsyncWrite for TrackedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.conn.write_pending(polled.is_pending());
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.conn.write_pending(polled.is_pending());
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_flush(cx);
        this.conn.write_pending(polled.is_pending());
        polled
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// The router for one connection: marks it busy while a request is handled, idle again
/// once its response body has been handed to hyper (dropped).
#[derive(Clone)]
struct ConnService {
    app: Router,
    conn: Arc<Conn>,
    keep_alive: Option<HeaderValue>,
}

/// Puts its connection back to [`Phase::Idle`] when dropped.
struct IdleOnDrop(Arc<Conn>);

impl Drop for IdleOnDrop {
    fn drop(&mut self) {
        self.0.enter(Phase::Idle);
    }
}

impl hyper::service::Service<Request<Incoming>> for ConnService {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        self.conn.enter(Phase::Busy);
        let idle = IdleOnDrop(self.conn.clone());
        let app = self.app.clone();
        let keep_alive = self.keep_alive.clone();
        Box::pin(async move {
            let res = app.oneshot(req).await?;
            let (mut parts, body) = res.into_parts();
            let closing = parts
                .headers
                .get(header::CONNECTION)
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
            if let (Some(hint), false) = (keep_alive, closing) {
                parts.headers.insert("keep-alive", hint);
            }
            let body = body.map_frame(move |frame| {
                let _held_until_the_body_is_dropped = &idle;
                frame
            });
            Ok(Response::from_parts(parts, Body::new(body)))
        })
    }
}

/// One connection in a slot: hyper serves it while a watchdog enforces the header and idle
/// timeouts, sheds it on request, and starts its graceful shutdown on `stop`.
async fn connection(
    stream: TcpStream,
    slot: OwnedSemaphorePermit,
    shared: &Shared,
    mut stop: watch::Receiver<bool>,
) {
    let conn = Arc::new(Conn::new());
    let registered = shared.registry.register(conn.clone());
    let service = ConnService {
        app: shared.app.clone(),
        conn: conn.clone(),
        keep_alive: shared.keep_alive.clone(),
    };
    let io = TokioIo::new(TrackedIo {
        stream,
        conn: conn.clone(),
    });
    let mut http = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        // hyper's header timer also runs while a connection is idle; ours tells them apart.
        .header_read_timeout(None)
        .serve_connection(io, service);
    let limits = &shared.limits;
    let mut stopping = *stop.borrow_and_update();
    if stopping {
        Pin::new(&mut http).graceful_shutdown();
    }
    let expired = loop {
        let s = conn.get();
        let deadline = match s.phase {
            Phase::Idle => Some(s.since + limits.idle_timeout),
            Phase::Head => Some(s.since + limits.header_read_timeout),
            Phase::Busy => None,
        };
        let changed = conn.changed.notified();
        tokio::select! {
            ended = &mut http => {
                if let Err(e) = ended {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = changed => {
                if conn.shed.load(Ordering::Acquire) && conn.get().phase != Phase::Busy {
                    break conn.get();
                }
            }
            () = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                let now = conn.get();
                if now.phase == s.phase && now.since == s.since {
                    break now;
                }
            }
            _ = stop.changed(), if !stopping => {
                stopping = true;
                Pin::new(&mut http).graceful_shutdown();
            }
        }
    };
    match expired.phase {
        // An idle connection may be closed at any time (RFC 9112 §9.5): no answer.
        Phase::Idle | Phase::Busy => drop(http),
        Phase::Head => {
            let parts = http.into_parts();
            let vendor = vendor_of(&parts.read_buf);
            let stream = parts.io.into_inner().stream;
            tracing::debug!("request head timed out: 408");
            // Bytes of an earlier response still waiting to be written would be lost: then
            // the connection is only closed.
            let answer = (!expired.write_pending).then(|| {
                raw_answer(
                    vendor,
                    ApiErrors::single(
                        408,
                        codes::REQUEST_TIMEOUT,
                        "request timeout",
                        format!(
                            "The request head did not arrive within {} ms.",
                            limits.header_read_timeout.as_millis()
                        ),
                        None,
                    ),
                    &[],
                )
            });
            // Lingering over the close needs no slot, and is no candidate for shedding.
            drop((registered, slot));
            answer_and_close(stream, answer.as_deref()).await;
        }
    }
}

/// A connection beyond the cap: waits for a slot, asking for idle and slow connections to
/// be shed meanwhile; 503 if none frees within the queue timeout.
async fn queued(
    stream: TcpStream,
    place: OwnedSemaphorePermit,
    shared: &Shared,
    mut stop: watch::Receiver<bool>,
) {
    let deadline = Instant::now() + shared.limits.queue_timeout;
    let mut stopping = *stop.borrow_and_update();
    let mut slot = None;
    while !stopping {
        shared.registry.shed_one();
        let retry = (Instant::now() + SHED_RETRY).min(deadline);
        tokio::select! {
            Ok(p) = shared.slots.clone().acquire_owned() => {
                slot = Some(p);
                break;
            }
            () = sleep_until(retry) => {
                if Instant::now() >= deadline {
                    break;
                }
            }
            _ = stop.changed() => stopping = true,
        }
    }
    drop(place);
    match slot {
        Some(slot) => connection(stream, slot, shared, stop).await,
        None => busy(stream).await,
    }
}

/// 503 for a connection that found no slot: once its request head has been read (an answer
/// needs a request), with `Retry-After: 1`; a connection that sends no head within a second
/// is closed without one.
async fn busy(mut stream: TcpStream) {
    let deadline = Instant::now() + LINGER;
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    let complete = loop {
        match timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => {
                head.extend_from_slice(&buf[..n]);
                if head.windows(4).any(|w| w == b"\r\n\r\n") {
                    break true;
                }
                if head.len() > BUSY_HEAD_BYTES {
                    break false;
                }
            }
            _ => break false,
        }
    };
    let answer = complete.then(|| {
        raw_answer(
            vendor_of(&head),
            ApiErrors::single(
                503,
                codes::SERVER_BUSY,
                "server busy",
                "Every connection slot is busy; retry shortly.",
                None,
            ),
            &[("retry-after", "1")],
        )
    });
    tracing::debug!(answered = complete, "no connection slot: 503");
    answer_and_close(stream, answer.as_deref()).await;
}

/// Whose envelope: from the path in the request line, if it arrived.
fn vendor_of(head: &[u8]) -> Vendor {
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let path = line
        .split(|&b| b == b' ')
        .nth(1)
        .and_then(|p| std::str::from_utf8(p).ok())
        .unwrap_or("/");
    Vendor::of_path(path.split('?').next().unwrap_or(path))
}

/// A complete `Connection: close` response, written outside hyper.
fn raw_answer(vendor: Vendor, errors: ApiErrors, extra: &[(&str, &str)]) -> Vec<u8> {
    let error = HttpError::new(vendor, errors);
    let status = error.status();
    let body = error.body().unwrap_or_default();
    let mut out = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(StatusCode::BAD_REQUEST.as_str()),
        body.len()
    );
    for (name, value) in extra {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&body);
    bytes
}

/// Writes `answer` (if any), then closes: the write side first, then reads and drops what
/// the client still sends for up to [`LINGER`], so it can read the answer before the close.
async fn answer_and_close(mut stream: TcpStream, answer: Option<&[u8]>) {
    let deadline = Instant::now() + LINGER;
    if let Some(bytes) = answer {
        if !matches!(
            timeout_at(deadline, stream.write_all(bytes)).await,
            Ok(Ok(()))
        ) {
            return;
        }
    }
    let _ = timeout_at(deadline, stream.shutdown()).await;
    let mut buf = [0u8; 4096];
    let mut drained = 0;
    while drained < LINGER_BYTES {
        match timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => drained += n,
            _ => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_follows_the_request_line() {
        assert_eq!(
            vendor_of(b"GET /connections?limit=1 HTTP/1.1\r\n"),
            Vendor::Workos
        );
        assert_eq!(
            vendor_of(b"POST /v1/enterprise_connections HTTP/1.1"),
            Vendor::Clerk
        );
        assert_eq!(vendor_of(b"GE"), Vendor::Clerk);
        let answer = String::from_utf8(raw_answer(
            Vendor::Workos,
            ApiErrors::single(503, codes::SERVER_BUSY, "server busy", "busy", None),
            &[("retry-after", "1")],
        ))
        .expect("utf-8");
        assert!(
            answer.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
            "{answer}"
        );
        assert!(
            answer.contains("\r\nretry-after: 1\r\n\r\n{\"code\":\"server_busy\""),
            "{answer}"
        );
    }
}
