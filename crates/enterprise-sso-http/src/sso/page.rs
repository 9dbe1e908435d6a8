//! The answers of the browser-facing routes: a small HTML page for a refusal that must not
//! redirect (an unknown client, an unregistered redirect URI, a refused response at the
//! ACS), and redirects.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// Escapes text for HTML.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A readable refusal page: the status, a stable code and the reason (which never holds
/// a secret: the core's refusals do not). No script, nothing loaded, not cached.
pub(crate) fn refusal(status: StatusCode, code: &str, message: &str) -> Response {
    let body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign-in failed</title></head>\n<body><h1>Sign-in failed</h1>\n<p><code id=\"error\">{}</code></p>\n<p id=\"error_description\">{}</p>\n</body></html>\n",
        escape(code),
        escape(message)
    );
    let mut res = (status, body).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    no_store(h);
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

fn no_store(h: &mut axum::http::HeaderMap) {
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// A redirect (`status`: 302 from authorize, 303 after a POST) to `location`, with an
/// optional `Set-Cookie`.
pub(crate) fn redirect(status: StatusCode, location: &str, cookie: Option<&str>) -> Response {
    let Ok(loc) = HeaderValue::from_str(location) else {
        return refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "The redirect could not be made.",
        );
    };
    let mut res = status.into_response();
    let h = res.headers_mut();
    h.insert(header::LOCATION, loc);
    no_store(h);
    if let Some(c) = cookie.and_then(|c| HeaderValue::from_str(c).ok()) {
        h.insert(header::SET_COOKIE, c);
    }
    res
}

#[cfg(test)]
mod tests {
    #[test]
    fn pages_escape_what_they_show() {
        let p = super::escape("<script>alert('x')</script> & \"q\"");
        assert!(!p.contains('<') && !p.contains('\'') && !p.contains('"'));
    }
}
