//! Each connection's phase (idle, request head, busy) as its watchdog sees it, the
//! registry that picks one to shed, and the IO and service wrappers that report to it.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderValue, Request, Response};
use axum::Router;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::Instant;
use tower::ServiceExt;

use super::SHED_HEAD_AFTER;

/// Where a connection is in its request cycle, as its watchdog sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// No request in progress (just opened, or its last response was sent).
    Idle,
    /// Bytes of a request head have arrived; the head is not complete.
    Head,
    /// A request is being handled (its body read, its response written).
    Busy,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct State {
    pub(super) phase: Phase,
    pub(super) since: Instant,
    pub(super) write_pending: bool,
}

/// One connection's state, shared by its IO, its service and its watchdog.
pub(super) struct Conn {
    pub(super) state: Mutex<State>,
    pub(super) changed: Notify,
    pub(super) shed: AtomicBool,
}

impl Conn {
    pub(super) fn new() -> Self {
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

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn get(&self) -> State {
        *self.lock()
    }

    pub(super) fn enter(&self, phase: Phase) {
        {
            let mut s = self.lock();
            s.phase = phase;
            s.since = Instant::now();
        }
        self.changed.notify_one();
    }

    /// Bytes read from the client: an idle connection starts a request head.
    pub(super) fn bytes_arrived(&self) {
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

    pub(super) fn write_pending(&self, pending: bool) {
        self.lock().write_pending = pending;
    }
}

/// The live connections, to choose one to shed.
#[derive(Default)]
pub(super) struct Registry {
    next: AtomicU64,
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
    last_warning: Mutex<Option<Instant>>,
}

impl Registry {
    pub(super) fn conns(&self) -> MutexGuard<'_, HashMap<u64, Arc<Conn>>> {
        self.conns.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn register(&self, conn: Arc<Conn>) -> Registered<'_> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.conns().insert(id, conn);
        Registered { registry: self, id }
    }

    /// Marks one connection to be closed: the one idle the longest, else the one whose
    /// request head has been arriving the longest (over [`SHED_HEAD_AFTER`]). Connections
    /// handling a request are never chosen. Whether one was.
    pub(super) fn shed_one(&self) -> bool {
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
    pub(super) fn warn_at_capacity(&self, warn: impl FnOnce()) {
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
pub(super) struct Registered<'a> {
    registry: &'a Registry,
    id: u64,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.registry.conns().remove(&self.id);
    }
}

/// The TCP stream, reporting reads and blocked writes to its [`Conn`].
pub(super) struct TrackedIo {
    pub(super) stream: TcpStream,
    pub(super) conn: Arc<Conn>,
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
pub(super) struct ConnService {
    pub(super) app: Router,
    pub(super) conn: Arc<Conn>,
    pub(super) keep_alive: Option<HeaderValue>,
}

/// Puts its connection back to [`Phase::Idle`] when dropped.
pub(super) struct IdleOnDrop(Arc<Conn>);

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
