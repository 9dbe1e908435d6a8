//! Bearer API keys, compared in constant time.

use std::fmt;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use enterprise_sso_wire::{codes, ApiErrors};
use subtle::ConstantTimeEq;

use crate::envelope::{HttpError, Vendor};

/// One API key. It has no `Display`, and its `Debug` is redacted, so it cannot end up in
/// a log line or an error by accident.
#[derive(Clone)]
pub struct ApiKey(Arc<str>);

impl ApiKey {
    /// A key (any non-empty text without white space; the host chooses the format).
    pub fn new(key: impl Into<String>) -> Result<Self, InvalidApiKey> {
        let key = key.into();
        if key.is_empty() || key.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(InvalidApiKey);
        }
        Ok(ApiKey(key.into()))
    }

    fn matches(&self, given: &[u8]) -> bool {
        // `ct_eq` on slices of different lengths is false without looking at the bytes,
        // so only the length of a key can be learned from the timing, never its content.
        bool::from(self.0.as_bytes().ct_eq(given))
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// A key that is empty or holds white space or control characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an API key must be non-empty text without white space or control characters")]
pub struct InvalidApiKey;

/// The keys that may call the API. Every request must send one as
/// `Authorization: Bearer <key>`.
#[derive(Clone, Debug)]
pub struct ApiKeys {
    keys: Arc<[ApiKey]>,
}

impl ApiKeys {
    /// The accepted keys; `None` when the list is empty (an API without keys is not a
    /// configuration: see [`crate::Auth::DevelopmentOnlyNoAuth`]).
    pub fn new(keys: impl IntoIterator<Item = ApiKey>) -> Option<Self> {
        let keys: Arc<[ApiKey]> = keys.into_iter().collect();
        (!keys.is_empty()).then_some(ApiKeys { keys })
    }

    /// Keys from a comma-separated list (the server's environment variable); blank
    /// entries are skipped.
    pub fn from_list(list: &str) -> Result<Option<Self>, InvalidApiKey> {
        let keys = list
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(ApiKey::new)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ApiKeys::new(keys))
    }

    /// Whether `given` is one of the keys. Every key is compared, in constant time each.
    pub fn accepts(&self, given: &[u8]) -> bool {
        self.keys
            .iter()
            .fold(false, |found, k| found | k.matches(given))
    }
}

/// How the router authenticates requests.
#[derive(Clone, Debug)]
pub enum Auth {
    /// Bearer keys (the only production setting).
    Keys(ApiKeys),
    /// No authentication at all. For local development only: the server binary accepts it
    /// only with `--dev-no-auth-loopback-only` and a loopback listen address.
    DevelopmentOnlyNoAuth,
}

/// Middleware: refuses a request without an accepted key (401 in the vendor's envelope).
pub(crate) async fn require_key(State(auth): State<Auth>, req: Request, next: Next) -> Response {
    let Auth::Keys(keys) = &auth else {
        return next.run(req).await;
    };
    let vendor = Vendor::of_path(req.uri().path());
    let given = req
        .headers()
        .get(AUTHORIZATION)
        .map(|v| v.as_bytes())
        .and_then(|v| {
            v.strip_prefix(b"Bearer ")
                .or_else(|| v.strip_prefix(b"bearer "))
        });
    let refusal = match given {
        None => Some((
            codes::AUTHORIZATION_MISSING,
            "The request has no Authorization: Bearer header.",
        )),
        Some(key) if !keys.accepts(key) => Some((
            codes::API_KEY_INVALID,
            "The API key sent is not one of the configured keys.",
        )),
        Some(_) => None,
    };
    match refusal {
        None => next.run(req).await,
        Some((code, long)) => HttpError::new(
            vendor,
            ApiErrors::single(401, code, "unauthorized", long, None),
        )
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_compared_exactly_and_never_printed() {
        let keys = ApiKeys::from_list(" sk_test_one, ,sk_test_two ")
            .unwrap()
            .unwrap();
        assert!(keys.accepts(b"sk_test_one") && keys.accepts(b"sk_test_two"));
        for bad in [&b"sk_test_on"[..], b"sk_test_one ", b"", b"SK_TEST_ONE"] {
            assert!(!keys.accepts(bad), "{bad:?}");
        }
        assert!(!format!("{keys:?}").contains("sk_test"));
        assert!(ApiKeys::from_list(" , ").unwrap().is_none());
        assert!(ApiKey::new("has space").is_err());
    }
}
