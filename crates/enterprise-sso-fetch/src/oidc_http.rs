//! The fetcher as the OIDC relying party's HTTP client
//! (`enterprise_sso_protocol::oidc::rp::OidcHttp`): discovery and JWKS by `GET` (a non-2xx
//! answer is an error), user info with a bearer token and the token request by form `POST`
//! (any status is returned; neither follows a redirect, so a token or secret never goes
//! elsewhere). Every call goes through the same address checks, caps and timeouts.

use async_trait::async_trait;
use enterprise_sso_protocol::oidc::rp::{HttpError, HttpResponse, OidcHttp};
use enterprise_sso_protocol::secret::AccessToken;

use crate::{FetchResponse, Fetcher};

fn response(r: FetchResponse) -> HttpResponse {
    HttpResponse {
        status: r.status,
        content_type: r.content_type,
        body: r.body,
    }
}

#[async_trait]
impl OidcHttp for Fetcher {
    async fn get(&self, url: &str, max_bytes: usize) -> Result<HttpResponse, HttpError> {
        let body = self.get_limited(url, max_bytes).await?;
        Ok(HttpResponse {
            status: 200,
            content_type: None,
            body,
        })
    }

    async fn get_with_bearer(
        &self,
        url: &str,
        token: &AccessToken,
        _max_bytes: usize,
    ) -> Result<HttpResponse, HttpError> {
        Ok(response(
            Fetcher::get_with_bearer(self, url, token.expose_secret()).await?,
        ))
    }

    async fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
        _max_bytes: usize,
    ) -> Result<HttpResponse, HttpError> {
        Ok(response(Fetcher::post_form(self, url, form, basic).await?))
    }
}
