//! The fetcher: the URL rule per hop, the checked resolver per connection, the total
//! timeout over the whole fetch and the body cap while reading.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use enterprise_sso::BoxError;
use enterprise_sso_flows::MetadataSource;
use enterprise_sso_protocol::limits::Policy;
use enterprise_sso_protocol::url_policy::{check_fetch_url_kind, ip_allowed, UrlError};
use reqwest::header::{HeaderValue, CONTENT_TYPE, LOCATION};
use url::Url;

use crate::error::{BuildError, FetchError};
use crate::options::FetchOptions;
use crate::resolve::{CheckedResolver, ResolveRefusal};

/// An answer that is returned whatever its status (token and user-info requests, whose
/// error answers carry a JSON body the caller reads).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FetchResponse {
    /// The HTTP status code.
    pub status: u16,
    /// The `Content-Type` header, when present and readable.
    pub content_type: Option<String>,
    /// The body, at most the cap.
    pub body: Vec<u8>,
}

/// The SSRF-safe HTTP client (see the crate docs for what it guarantees). Cheap to clone;
/// build one per process and share it.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    policy: Policy,
    allow_http: bool,
    has_proxy: bool,
    max_body_bytes: usize,
    max_redirects: usize,
    connect_timeout: Duration,
    total_timeout: Duration,
}

impl fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fetcher")
            .field("allow_loopback", &self.policy.allow_loopback_fetch)
            .field("has_proxy", &self.has_proxy)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_redirects", &self.max_redirects)
            .field("connect_timeout", &self.connect_timeout)
            .field("total_timeout", &self.total_timeout)
            .finish_non_exhaustive()
    }
}

/// What one call sends and how it treats the answer.
struct Call<'a> {
    /// `Some` for a form POST.
    form: Option<String>,
    basic: Option<(&'a str, &'a str)>,
    bearer: Option<&'a str>,
    /// GET of a document: follow redirects, refuse a non-2xx status.
    document: bool,
    max_bytes: usize,
}

impl Fetcher {
    /// Builds a fetcher. Fails when the extra CA bundle is unreadable, when there is no
    /// trusted root at all, or when the proxy URL is unusable.
    pub fn new(opts: FetchOptions) -> Result<Self, BuildError> {
        if opts.allow_loopback {
            tracing::warn!(
                "enterprise-sso-fetch: TEST MODE (insecure_allow_loopback_for_tests): \
                 loopback addresses and plain http may be fetched"
            );
        }
        let tls = crate::tls::client_config(&opts)?;
        let policy = Policy {
            allow_loopback_fetch: opts.allow_loopback,
        };
        let mut proxy_host = None;
        let mut builder = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .connect_timeout(opts.connect_timeout)
            // No pool: every fetch opens a new connection, so names are resolved (and
            // checked) again each time.
            .pool_max_idle_per_host(0)
            .http1_only()
            .https_only(!opts.allow_loopback)
            .user_agent(opts.user_agent.clone());
        if let Some(proxy) = &opts.proxy {
            let parsed = Url::parse(proxy).map_err(|_| BuildError::InvalidProxy)?;
            proxy_host = parsed.host_str().map(str::to_ascii_lowercase);
            builder =
                builder.proxy(reqwest::Proxy::all(proxy).map_err(|_| BuildError::InvalidProxy)?);
        }
        let resolver = CheckedResolver {
            inner: Arc::clone(&opts.resolver),
            policy: policy.clone(),
            exempt: proxy_host,
        };
        let client = builder
            .dns_resolver(Arc::new(resolver))
            .build()
            .map_err(|e| BuildError::Client(e.without_url()))?;
        Ok(Self {
            client,
            policy,
            allow_http: opts.allow_loopback,
            has_proxy: opts.proxy.is_some(),
            max_body_bytes: opts.max_body_bytes,
            max_redirects: opts.max_redirects,
            connect_timeout: opts.connect_timeout,
            total_timeout: opts.total_timeout,
        })
    }

    /// GETs the document at `url`: redirects followed (each target checked), a 2xx status
    /// required, the body at most the configured cap.
    pub async fn get(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        self.get_limited(url, self.max_body_bytes).await
    }

    /// [`Fetcher::get`] with a cap of `max_bytes` (never above the configured cap).
    pub async fn get_limited(&self, url: &str, max_bytes: usize) -> Result<Vec<u8>, FetchError> {
        let call = Call {
            form: None,
            basic: None,
            bearer: None,
            document: true,
            max_bytes: max_bytes.min(self.max_body_bytes),
        };
        Ok(self.run(url, call).await?.body)
    }

    /// GETs `url` with `Authorization: Bearer <token>` (an OIDC user-info request). No
    /// redirect is followed (the token would go along); any status is returned.
    pub async fn get_with_bearer(
        &self,
        url: &str,
        token: &str,
    ) -> Result<FetchResponse, FetchError> {
        let call = Call {
            form: None,
            basic: None,
            bearer: Some(token),
            document: false,
            max_bytes: self.max_body_bytes,
        };
        self.run(url, call).await
    }

    /// POSTs `form` as `application/x-www-form-urlencoded` (an OAuth token request), with
    /// HTTP Basic credentials when `basic` is given (`client_secret_basic`: both parts are
    /// form-encoded first, as RFC 6749 section 2.3.1 says). No redirect is followed (the
    /// secret would go along); any status is returned.
    pub async fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Result<FetchResponse, FetchError> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let call = Call {
            form: Some(body),
            basic,
            bearer: None,
            document: false,
            max_bytes: self.max_body_bytes,
        };
        self.run(url, call).await
    }

    /// The URL rule for one hop, with typed refusals.
    fn check_url(&self, value: &str) -> Result<Url, FetchError> {
        let verdict = check_fetch_url_kind(value, &self.policy);
        let parsed = Url::parse(value).ok();
        let host = parsed.as_ref().map(host_of).unwrap_or_default();
        if let Some(u) = &parsed {
            if u.scheme() == "http" && !self.allow_http {
                return Err(FetchError::InsecureScheme { host });
            }
        }
        match verdict {
            Ok(()) => {}
            Err(UrlError::Insecure) => return Err(FetchError::InsecureScheme { host }),
            Err(UrlError::ForbiddenHost) => {
                return Err(match parsed.as_ref().and_then(Url::host) {
                    Some(url::Host::Ipv4(ip)) => FetchError::ForbiddenAddress {
                        host,
                        addr: ip.into(),
                    },
                    Some(url::Host::Ipv6(ip)) => FetchError::ForbiddenAddress {
                        host,
                        addr: ip.into(),
                    },
                    _ => FetchError::ForbiddenHost { host },
                })
            }
            Err(reason) => return Err(FetchError::InvalidUrl { reason }),
        }
        parsed.ok_or(FetchError::InvalidUrl {
            reason: UrlError::Invalid,
        })
    }

    async fn run(&self, url: &str, call: Call<'_>) -> Result<FetchResponse, FetchError> {
        let first = self.check_url(url)?;
        let host = host_of(&first);
        match tokio::time::timeout(self.total_timeout, self.hops(first, call)).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout {
                host,
                after: self.total_timeout,
            }),
        }
    }

    async fn hops(&self, mut url: Url, call: Call<'_>) -> Result<FetchResponse, FetchError> {
        let mut redirects = 0usize;
        loop {
            let host = host_of(&url);
            let mut request = match &call.form {
                Some(form) => self
                    .client
                    .post(url.clone())
                    .header(
                        CONTENT_TYPE,
                        HeaderValue::from_static("application/x-www-form-urlencoded"),
                    )
                    .body(form.clone()),
                None => self.client.get(url.clone()),
            };
            if let Some((user, password)) = call.basic {
                let user: String = url::form_urlencoded::byte_serialize(user.as_bytes()).collect();
                let password: String =
                    url::form_urlencoded::byte_serialize(password.as_bytes()).collect();
                request = request.basic_auth(user, Some(password));
            }
            if let Some(token) = call.bearer {
                request = request.bearer_auth(token);
            }
            let mut response = request.send().await.map_err(|e| self.map_error(e, &host))?;
            // A second look at the address actually connected to (the resolver already
            // refused forbidden ones; through a proxy this is the proxy's address).
            if !self.has_proxy {
                if let Some(peer) = response.remote_addr() {
                    if !ip_allowed(peer.ip(), &self.policy) {
                        return Err(FetchError::ForbiddenAddress {
                            host,
                            addr: peer.ip(),
                        });
                    }
                }
            }
            let status = response.status().as_u16();
            if call.document && matches!(status, 301 | 302 | 303 | 307 | 308) {
                if redirects >= self.max_redirects {
                    return Err(FetchError::TooManyRedirects {
                        host,
                        max: self.max_redirects,
                    });
                }
                let next =
                    location(&response, &url).ok_or(FetchError::BadRedirect { host, status })?;
                url = self.check_url(next.as_str())?;
                redirects += 1;
                continue;
            }
            if call.document && !(200..300).contains(&status) {
                return Err(FetchError::Status { host, status });
            }
            let content_type = response
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = self
                .read_capped(&mut response, call.max_bytes, &host)
                .await?;
            return Ok(FetchResponse {
                status,
                content_type,
                body,
            });
        }
    }

    /// Reads the body, stopping as soon as it passes `max` bytes.
    async fn read_capped(
        &self,
        response: &mut reqwest::Response,
        max: usize,
        host: &str,
    ) -> Result<Vec<u8>, FetchError> {
        let too_large = || FetchError::TooLarge {
            host: host.to_owned(),
            max,
        };
        let declared = response.content_length();
        if declared.is_some_and(|n| n > max as u64) {
            return Err(too_large());
        }
        let initial = declared.map_or(0, |n| n as usize).min(max);
        let mut body = Vec::with_capacity(initial);
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.map_error(e, host))?
        {
            if chunk.len() > max - body.len() {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// reqwest's error as a typed refusal: the checked resolver's verdict and rustls's
    /// error are found in its source chain. The URL is stripped.
    fn map_error(&self, e: reqwest::Error, host: &str) -> FetchError {
        let host = host.to_owned();
        let e = e.without_url();
        let mut cur: Option<&(dyn StdError + 'static)> = Some(&e);
        while let Some(err) = cur {
            if let Some(refusal) = err.downcast_ref::<ResolveRefusal>() {
                return match refusal {
                    ResolveRefusal::Forbidden(addr) => {
                        FetchError::ForbiddenAddress { host, addr: *addr }
                    }
                    ResolveRefusal::Failed(io) => FetchError::Resolve {
                        host,
                        source: io::Error::new(io.kind(), io.to_string()),
                    },
                };
            }
            if let Some(tls) = err.downcast_ref::<rustls::Error>() {
                return FetchError::Tls {
                    host,
                    source: Box::new(tls.clone()),
                };
            }
            // `io::Error::source` skips the error it wraps: descend with `get_ref`.
            cur = match err.downcast_ref::<io::Error>().and_then(io::Error::get_ref) {
                Some(inner) => Some(inner as &(dyn StdError + 'static)),
                None => err.source(),
            };
        }
        if e.is_timeout() {
            FetchError::Timeout {
                host,
                after: self.connect_timeout,
            }
        } else if e.is_connect() {
            FetchError::Connect {
                host,
                source: Box::new(e),
            }
        } else {
            FetchError::Http {
                host,
                source: Box::new(e),
            }
        }
    }
}

/// The URL's host as the error messages name it.
fn host_of(url: &Url) -> String {
    url.host_str().unwrap_or_default().to_owned()
}

/// The redirect target: `Location` resolved against the current URL. `None` when missing,
/// not visible ASCII, or carrying a backslash or a space (spellings parsers disagree on).
fn location(response: &reqwest::Response, base: &Url) -> Option<Url> {
    let value = response.headers().get(LOCATION)?.to_str().ok()?;
    if value.is_empty() || value.contains(['\\', ' ']) {
        return None;
    }
    base.join(value).ok()
}

/// For [`enterprise_sso_flows::Flows::refresh`]: a GET of the document with a cap of
/// `max_bytes` (never above the configured cap); a longer body is a
/// [`FetchError::TooLarge`].
#[async_trait]
impl MetadataSource for Fetcher {
    async fn fetch(&self, url: &str, max_bytes: usize) -> Result<Vec<u8>, BoxError> {
        self.get_limited(url, max_bytes)
            .await
            .map_err(|e| Box::new(e) as BoxError)
    }
}
