//! One connection's task: served in a slot under its watchdog, or waiting in the queue
//! for one, and the raw answers (408, 503) written outside hyper.

use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::http::StatusCode;
use enterprise_sso_wire::{codes, ApiErrors};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{watch, OwnedSemaphorePermit};
use tokio::time::{sleep_until, timeout_at, Instant};

use super::track::{Conn, ConnService, Phase, TrackedIo};
use super::{Shared, BUSY_HEAD_BYTES, LINGER, LINGER_BYTES, SHED_RETRY};
use crate::envelope::{HttpError, Vendor};

/// One connection in a slot: hyper serves it while a watchdog enforces the header and idle
/// timeouts, sheds it on request, and starts its graceful shutdown on `stop`.
pub(super) async fn connection(
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
pub(super) async fn queued(
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
pub(super) async fn busy(mut stream: TcpStream) {
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
pub(super) fn vendor_of(head: &[u8]) -> Vendor {
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let path = line
        .split(|&b| b == b' ')
        .nth(1)
        .and_then(|p| std::str::from_utf8(p).ok())
        .unwrap_or("/");
    Vendor::of_path(path.split('?').next().unwrap_or(path))
}

/// A complete `Connection: close` response, written outside hyper.
pub(super) fn raw_answer(vendor: Vendor, errors: ApiErrors, extra: &[(&str, &str)]) -> Vec<u8> {
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
pub(super) async fn answer_and_close(mut stream: TcpStream, answer: Option<&[u8]>) {
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
    pub(super) fn the_envelope_follows_the_request_line() {
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
