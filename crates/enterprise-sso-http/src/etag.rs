//! `ETag` / `If-Match` over the connection's version.

use axum::http::{header, HeaderMap, HeaderValue};
use enterprise_sso_wire::{codes, ApiErrors};

/// The entity tag of version `v`: `"v"`, a strong tag.
pub(crate) fn tag(version: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// What `If-Match` asks for.
pub(crate) enum Precondition {
    /// No header, or `*` (the connection exists, which every update checks anyway).
    Any,
    /// Exactly this version.
    Version(u64),
    /// A tag this server never issues (weak, or not one of ours): can never match.
    Never,
}

/// Reads `If-Match`. One entity tag, or `*`; a list is refused (400) rather than guessed.
pub(crate) fn if_match(headers: &HeaderMap) -> Result<Precondition, ApiErrors> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Ok(Precondition::Any);
    };
    let bad = || {
        ApiErrors::single(
            400,
            codes::PARAM_FORMAT_INVALID,
            "is invalid",
            "If-Match must be one entity tag (as sent in ETag) or *",
            Some("If-Match"),
        )
    };
    let text = v.to_str().map_err(|_| bad())?.trim();
    if text == "*" {
        return Ok(Precondition::Any);
    }
    if text.contains(',') {
        return Err(bad());
    }
    if text.starts_with("W/") {
        // If-Match uses the strong comparison: a weak tag never matches.
        return Ok(Precondition::Never);
    }
    let inner = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .ok_or_else(bad)?;
    Ok(issued_version(inner).map_or(Precondition::Never, Precondition::Version))
}

/// The version whose tag is exactly `"{inner}"`: the decimal digits [`tag`] writes, with
/// no sign, padding or leading zero. `"02"` or `"+2"` is another tag, not version 2
/// (entity tags compare as opaque strings, RFC 9110 §8.8.3.2).
fn issued_version(inner: &str) -> Option<u64> {
    let v = inner.parse::<u64>().ok()?;
    (v.to_string() == inner).then_some(v)
}

/// 412 for a version that is not the stored one.
pub(crate) fn failed(current: Option<u64>) -> ApiErrors {
    let long = match current {
        Some(v) => format!("The connection has changed: its current version is {v}."),
        None => "The connection does not match If-Match.".to_owned(),
    };
    ApiErrors::single(
        412,
        codes::PRECONDITION_FAILED,
        "precondition failed",
        long,
        Some("If-Match"),
    )
}
