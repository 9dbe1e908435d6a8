//! Request bodies: declared JSON, read up to a size and a time limit before anything
//! parses them.

use std::time::Duration;

use axum::body::Body;
use axum::http::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::HeaderMap;
use enterprise_sso_wire::{codes, ApiErrors};

/// The default limit on a request body: 2 MiB (room for the largest accepted IdP
/// metadata document, 1 MiB, escaped into JSON).
pub const DEFAULT_MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// The default time for a whole request body to arrive, from the moment the handler starts
/// reading it: 30 s (a 2 MiB body at 70 kB/s). A client that declares more than it sends
/// gets 408 and the connection is closed, instead of holding it open.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

fn unsupported(header: &str, long: &str) -> ApiErrors {
    ApiErrors::single(
        415,
        codes::UNSUPPORTED_MEDIA_TYPE,
        "unsupported media type",
        long,
        Some(header),
    )
}

/// 415 unless the body is declared `application/json` (any letter case; parameters are
/// allowed, and a `charset` must be UTF-8) and not content-coded. Both official SDKs send
/// exactly `Content-Type: application/json`.
pub(crate) fn require_json(headers: &HeaderMap) -> Result<(), ApiErrors> {
    let wrong = || {
        unsupported(
            "Content-Type",
            "Request bodies must be sent with Content-Type: application/json.",
        )
    };
    let declared = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(wrong)?;
    let mut parts = declared.split(';');
    let essence = parts.next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return Err(wrong());
    }
    for param in parts {
        let (name, value) = param.split_once('=').unwrap_or((param, ""));
        let value = value.trim().trim_matches('"');
        if name.trim().eq_ignore_ascii_case("charset") && !value.eq_ignore_ascii_case("utf-8") {
            return Err(wrong());
        }
    }
    let coded = headers.get_all(CONTENT_ENCODING).iter().any(|v| {
        v.to_str().map_or(true, |v| {
            v.split(',')
                .any(|c| !c.trim().is_empty() && !c.trim().eq_ignore_ascii_case("identity"))
        })
    });
    if coded {
        return Err(unsupported(
            "Content-Encoding",
            "Content-coded request bodies are not accepted; send the JSON as is.",
        ));
    }
    Ok(())
}

/// 408: the body did not arrive in time. The handler answers with `Connection: close`.
pub(crate) fn timed_out(limit: Duration) -> ApiErrors {
    ApiErrors::single(
        408,
        codes::REQUEST_TIMEOUT,
        "request timeout",
        format!(
            "The request body did not arrive within {} ms.",
            limit.as_millis()
        ),
        None,
    )
}

fn too_large(limit: usize) -> ApiErrors {
    ApiErrors::single(
        413,
        codes::BODY_TOO_LARGE,
        "request body too large",
        format!("The request body is larger than {limit} bytes."),
        None,
    )
}

/// The whole body, or 413 as soon as it is known to be over `limit` (from
/// `Content-Length`, else while reading: at most `limit` bytes are ever buffered), or 408
/// when it has not all arrived within `time`.
pub(crate) async fn read(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    time: Duration,
) -> Result<Vec<u8>, ApiErrors> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    let Ok(read) = tokio::time::timeout(time, axum::body::to_bytes(body, limit)).await else {
        return Err(timed_out(time));
    };
    match read {
        Ok(bytes) => Ok(bytes.to_vec()),
        Err(e) => {
            // Over the limit, or the client went away mid-body.
            let over = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            if over {
                Err(too_large(limit))
            } else {
                Err(ApiErrors::single(
                    400,
                    codes::MALFORMED_BODY,
                    "malformed request body",
                    "The request body could not be read.",
                    None,
                ))
            }
        }
    }
}
