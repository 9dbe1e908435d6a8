//! The outbound fetcher of enterprise-sso: the one HTTP client through which a server reads
//! the documents its connections name (SAML metadata URLs, OIDC discovery, JWKS, token and
//! user-info endpoints), built so that a URL an administrator or an IdP supplied cannot make
//! the server reach its own network (server-side request forgery).
//!
//! What a [`Fetcher`] guarantees, in production mode ([`FetchOptions::new`]):
//!
//! - **The URL rule.** Every URL, the first and each redirect target, passes
//!   `enterprise_sso_protocol::url_policy::check_fetch_url_kind` (one parse, no credentials,
//!   no IP literal the address rule refuses) and must be `https`.
//! - **The address rule, after DNS, for every connection.** Names are resolved by the
//!   fetcher's [`Resolver`] each time a connection is opened (no connection pool, no DNS
//!   cache), every resolved address is judged by
//!   `enterprise_sso_protocol::url_policy::ip_allowed` (no loopback, private, CGNAT,
//!   link-local, unique-local, multicast, unspecified, documentation or reserved address,
//!   also in IPv4-mapped, -translated, -compatible, NAT64, 6to4 and Teredo forms), and a
//!   name with any forbidden address is refused ([`FetchError::ForbiddenAddress`]) before
//!   anything connects. The connector connects only to the addresses the check returned,
//!   so a name that answers a public address to the check and a private one later (DNS
//!   rebinding) gains nothing: there is no second lookup.
//! - **Redirects**: at most 3 (GET only), each target re-checked by both rules; POST
//!   follows none.
//! - **Time**: a connect timeout and a total timeout over the whole fetch (all hops and the
//!   body) ([`FetchError::Timeout`]).
//! - **Size**: the body is read in chunks and the fetch stops as soon as it passes the cap
//!   (1 MiB by default, [`FetchError::TooLarge`]); a `Content-Length` over the cap is refused
//!   before reading. No content decoding (a compressed body is never inflated).
//! - **No ambient state**: no cookies, no proxy from the environment (`HTTPS_PROXY` and
//!   friends are ignored; [`FetchOptions::proxy`] sets one explicitly), HTTP/1.1 only.
//! - **Trust**: the operating system's CA store (read with `rustls-native-certs`, which
//!   also honours `SSL_CERT_FILE` / `SSL_CERT_DIR`) plus an optional extra PEM bundle
//!   ([`FetchOptions::extra_ca_pem`]) for IdPs behind a private CA.
//! - **Errors** name the host, never the path, query or credentials ([`FetchError`]).
//!
//! [`FetchOptions::insecure_allow_loopback_for_tests`] is the test mode: loopback addresses
//! and plain `http` to loopback are allowed (private and other ranges still are not).
//!
//! The [`Fetcher`] implements the core's [`enterprise_sso_flows::MetadataSource`], so it can be
//! handed to `Flows::refresh`.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use enterprise_sso_fetch::{FetchOptions, Fetcher};
//! let fetcher = Fetcher::new(FetchOptions::new())?;
//! let body = fetcher.get("https://login.example.com/.well-known/openid-configuration").await?;
//! # let _ = body; Ok(()) }
//! ```

mod error;
mod fetcher;
mod oidc_http;
mod options;
mod resolve;
mod tls;

pub use error::{BuildError, FetchError};
pub use fetcher::{FetchResponse, Fetcher};
pub use options::{FetchOptions, DEFAULT_MAX_BODY_BYTES, MAX_REDIRECTS};
pub use resolve::{Resolver, SystemResolver};
