//! Request bodies, read up to a limit before anything parses them.

use axum::body::Body;
use axum::http::{header::CONTENT_LENGTH, HeaderMap};
use enterprise_sso_wire::{codes, ApiErrors};

/// The default limit on a request body: 2 MiB (room for the largest accepted IdP
/// metadata document, 1 MiB, escaped into JSON).
pub const DEFAULT_MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

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
/// `Content-Length`, else while reading: at most `limit` bytes are ever buffered).
pub(crate) async fn read(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Vec<u8>, ApiErrors> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    match axum::body::to_bytes(body, limit).await {
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
