//! The HTTP the relying party needs, as a trait the host implements. This crate does no
//! network I/O: the host's SSRF-safe fetcher (`enterprise-sso-fetch`) implements
//! [`OidcHttp`], and tests implement it with an in-process provider.

use async_trait::async_trait;

use crate::secret::AccessToken;

/// An error of the host's HTTP client (timeout, refused address, TLS...). Its message
/// becomes part of an [`OidcRefusal::Transport`](super::OidcRefusal::Transport), so it must
/// name the host at most, never a query string, a credential or a body.
pub type HttpError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The `Content-Type`, when given.
    pub content_type: Option<String>,
    /// The body (at most the cap the call names; a client may stop reading past it and
    /// return an error, or return the longer body, which the caller then refuses).
    pub body: Vec<u8>,
}

/// The three requests an OIDC relying party makes. Implementations must:
///
/// - apply the fetch-URL rule and the address rule after DNS (the job of
///   `enterprise-sso-fetch`), with connect and total timeouts;
/// - stop reading a body past `max_bytes` (returning an error), never decode a
///   compressed body, keep no cookies;
/// - follow no redirect for [`OidcHttp::post_form`] and [`OidcHttp::get_with_bearer`]
///   (the code, secret or token would go along); [`OidcHttp::get`] may follow a few,
///   each re-checked.
#[async_trait]
pub trait OidcHttp: Send + Sync + std::fmt::Debug {
    /// `GET url` (discovery, JWKS). Any status is returned.
    async fn get(&self, url: &str, max_bytes: usize) -> Result<HttpResponse, HttpError>;

    /// `GET url` with `Authorization: Bearer <token>` (user info). Any status is returned.
    async fn get_with_bearer(
        &self,
        url: &str,
        token: &AccessToken,
        max_bytes: usize,
    ) -> Result<HttpResponse, HttpError>;

    /// `POST url` with `form` as `application/x-www-form-urlencoded` (the token request),
    /// and `Authorization: Basic` when `basic` is given: the client id and secret each
    /// form-urlencoded, joined by `:`, base64 (RFC 6749 §2.3.1). Any status is returned.
    async fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
        max_bytes: usize,
    ) -> Result<HttpResponse, HttpError>;
}

#[async_trait]
impl<T: OidcHttp + ?Sized> OidcHttp for &T {
    async fn get(&self, url: &str, max_bytes: usize) -> Result<HttpResponse, HttpError> {
        (**self).get(url, max_bytes).await
    }
    async fn get_with_bearer(
        &self,
        url: &str,
        token: &AccessToken,
        max_bytes: usize,
    ) -> Result<HttpResponse, HttpError> {
        (**self).get_with_bearer(url, token, max_bytes).await
    }
    async fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
        max_bytes: usize,
    ) -> Result<HttpResponse, HttpError> {
        (**self).post_form(url, form, basic, max_bytes).await
    }
}

#[async_trait]
impl<T: OidcHttp + ?Sized> OidcHttp for std::sync::Arc<T> {
    async fn get(&self, url: &str, max_bytes: usize) -> Result<HttpResponse, HttpError> {
        (**self).get(url, max_bytes).await
    }
    async fn get_with_bearer(
        &self,
        url: &str,
        token: &AccessToken,
        max_bytes: usize,
    ) -> Result<HttpResponse, HttpError> {
        (**self).get_with_bearer(url, token, max_bytes).await
    }
    async fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
        max_bytes: usize,
    ) -> Result<HttpResponse, HttpError> {
        (**self).post_form(url, form, basic, max_bytes).await
    }
}
