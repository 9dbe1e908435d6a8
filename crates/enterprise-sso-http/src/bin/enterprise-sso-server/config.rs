//! Command line and environment.

use std::net::SocketAddr;

use enterprise_sso_http::{ApiKeys, Auth};

use enterprise_sso_http::store_url::StoreUrl;

pub(crate) const USAGE: &str = "\
usage: enterprise-sso-server [--listen ADDR] [--store URL] [--sp-base-url URL]
                             [--dev-no-auth-loopback-only]

  --listen ADDR        address to listen on (default 127.0.0.1:8080; env ENTERPRISE_SSO_LISTEN)
  --store URL          sqlite:PATH (default sqlite:enterprise-sso.db), sled:DIR, or
                       postgres://user:password@host:port/db (env ENTERPRISE_SSO_STORE)
  --sp-base-url URL    base of the host's SAML SP endpoints, shown as acs_url etc.
  --dev-no-auth-loopback-only
                       serve WITHOUT authentication, only on a loopback address

API keys: ENTERPRISE_SSO_API_KEYS, a comma-separated list (required unless
--dev-no-auth-loopback-only). Clients send one as `Authorization: Bearer <key>`.
Encryption at rest: ENTERPRISE_SSO_KEYRING, `id:base64key` entries (32-byte keys),
comma-separated, the first one active; without it client secrets are stored in plain text.";

/// What `main` runs.
pub(crate) struct Config {
    pub listen: SocketAddr,
    pub store: StoreUrl,
    pub sp_base_url: Option<String>,
    pub auth: Auth,
    pub keyring: Option<enterprise_sso::crypto::Keyring>,
}

pub(crate) enum Parsed {
    Run(Config),
    Help,
}

impl Config {
    pub(crate) fn from_env_and_args(args: impl Iterator<Item = String>) -> Result<Parsed, String> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let mut listen = env("ENTERPRISE_SSO_LISTEN").unwrap_or_else(|| "127.0.0.1:8080".into());
        let mut store =
            env("ENTERPRISE_SSO_STORE").unwrap_or_else(|| "sqlite:enterprise-sso.db".into());
        let mut sp_base_url = None;
        let mut no_auth = false;
        let mut args = args.peekable();
        while let Some(a) = args.next() {
            let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
            match a.as_str() {
                "--listen" => listen = value("--listen")?,
                "--store" => store = value("--store")?,
                "--sp-base-url" => sp_base_url = Some(value("--sp-base-url")?),
                "--dev-no-auth-loopback-only" => no_auth = true,
                "-h" | "--help" => return Ok(Parsed::Help),
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        let listen: SocketAddr = listen
            .parse()
            .map_err(|_| format!("--listen: {listen:?} is not an address like 127.0.0.1:8080"))?;
        let keys = ApiKeys::from_list(&env("ENTERPRISE_SSO_API_KEYS").unwrap_or_default())
            .map_err(|e| format!("ENTERPRISE_SSO_API_KEYS: {e}"))?;
        let auth = match (keys, no_auth) {
            (Some(_), true) => {
                return Err("--dev-no-auth-loopback-only and ENTERPRISE_SSO_API_KEYS are both set; choose one".into())
            }
            (Some(k), false) => Auth::Keys(k),
            (None, true) if listen.ip().is_loopback() => Auth::DevelopmentOnlyNoAuth,
            (None, true) => {
                return Err(format!(
                    "--dev-no-auth-loopback-only refuses to listen on {listen}, which is not a loopback address"
                ))
            }
            (None, false) => {
                return Err("no API keys: set ENTERPRISE_SSO_API_KEYS (or, for local development only, pass --dev-no-auth-loopback-only)".into())
            }
        };
        let keyring = env("ENTERPRISE_SSO_KEYRING")
            .map(|spec| enterprise_sso::crypto::Keyring::from_spec(&spec))
            .transpose()
            .map_err(|e| format!("ENTERPRISE_SSO_KEYRING: {e}"))?;
        Ok(Parsed::Run(Config {
            listen,
            store: StoreUrl::parse(&store).map_err(|e| e.to_string())?,
            sp_base_url,
            auth,
            keyring,
        }))
    }
}
