//! Command line and environment.

use std::net::SocketAddr;
use std::time::Duration;

use enterprise_sso_http::{ApiKeys, Auth, ServerLimits, DEFAULT_BODY_READ_TIMEOUT};

use enterprise_sso_http::store_url::StoreUrl;

pub(crate) const USAGE: &str = "\
usage: enterprise-sso-server [--listen ADDR] [--store URL] [--sp-base-url URL]
                             [--max-connections N] [--header-read-timeout T]
                             [--idle-timeout T] [--body-read-timeout T]
                             [--shutdown-grace T]
                             [--feed-retention T|off] [--dev-no-auth-loopback-only]

  --listen ADDR        address to listen on (default 127.0.0.1:8080; env ENTERPRISE_SSO_LISTEN)
  --store URL          sqlite:PATH (default sqlite:enterprise-sso.db), sled:DIR, or
                       postgres://user:password@host:port/db (env ENTERPRISE_SSO_STORE)
  --sp-base-url URL    base of the host's SAML SP endpoints, shown as acs_url etc.
  --max-connections N  connections served at once (default 512, lowered to fit the
                       open-file limit); beyond it idle and slow ones are shed, then 503
                       (env ENTERPRISE_SSO_MAX_CONNECTIONS)
  --header-read-timeout T
                       time for a request head, from its first byte (default 10s; 408)
                       (env ENTERPRISE_SSO_HEADER_READ_TIMEOUT)
  --idle-timeout T     time an idle keep-alive connection is kept (default 75s)
                       (env ENTERPRISE_SSO_IDLE_TIMEOUT)
  --body-read-timeout T
                       time for a request body, once its head is in (default 30s; 408)
                       (env ENTERPRISE_SSO_BODY_READ_TIMEOUT)
  --shutdown-grace T   after SIGTERM, time the requests in progress have to finish; then
                       their connections are closed (default 20s)
                       (env ENTERPRISE_SSO_SHUTDOWN_GRACE)
                       T: seconds (30, 30s) or milliseconds (500ms), more than zero
  --feed-retention T   how long change-feed events are kept (default 7d; 30d, 12h, 90m,
                       45s, or off); the feed is pruned every tenth of it (at most hourly).
                       A consumer behind the pruned part learns it from the feed's floor
                       and starts over (env ENTERPRISE_SSO_FEED_RETENTION)
  --clients JSON       OAuth clients of the hosted sign-in (env ENTERPRISE_SSO_CLIENTS): a
                       JSON array of {client_id, redirect_uris, default_redirect_uri?};
                       needs --sp-base-url,
                       which then also serves the SP routes ({base}/{id}/acs, /metadata,
                       /callback) on its path
  --dev-no-auth-loopback-only
                       serve WITHOUT authentication, only on a loopback address

API keys: ENTERPRISE_SSO_API_KEYS, a comma-separated list (required unless
--dev-no-auth-loopback-only). Clients send one as `Authorization: Bearer <key>`.
Encryption at rest: ENTERPRISE_SSO_KEYRING, `id:base64key` entries (32-byte keys),
comma-separated, the first one active; without it client secrets are stored in plain text.
IdP documents: a create or update that gives saml.idp_metadata_url or oidc.discovery_url
fetches the document first (https only, never an internal address, 1 MiB, 15 s) and fills
the connection from it. ENTERPRISE_SSO_FETCH_CA: a PEM file of extra CA certificates
(IdPs behind a private CA). ENTERPRISE_SSO_INSECURE_FETCH_LOOPBACK_FOR_TESTS=1 allows
loopback and plain http (tests only). ENTERPRISE_SSO_REFRESH_INTERVAL: seconds between
scheduled re-reads of every connection's document (default 21600, 0 turns them off).
Hosted sign-in (with --clients): /sso/authorize, /sso/token, /sso/profile (WorkOS SSO
API; client secrets are the API keys). ENTERPRISE_SSO_SP_KEY / ENTERPRISE_SSO_SP_CERT: PEM
files of an SP key pair (published in SP metadata, decrypts encrypted assertions);
ENTERPRISE_SSO_SIGN_AUTHN_REQUESTS=1 signs AuthnRequests with it. Expired sign-in records
are swept every minute.";

/// What `main` runs.
pub(crate) struct Config {
    pub listen: SocketAddr,
    pub store: StoreUrl,
    pub sp_base_url: Option<String>,
    pub auth: Auth,
    pub keyring: Option<enterprise_sso::crypto::Keyring>,
    pub limits: ServerLimits,
    pub body_read_timeout: Duration,
    /// How long change-feed events are kept (`None`: for ever).
    pub feed_retention: Option<Duration>,
    /// The hosted sign-in's OAuth clients (none: the sign-in routes are off).
    pub clients: Vec<enterprise_sso_http::OAuthClient>,
}

/// The default of `--feed-retention`: a week, long enough for a consumer (a webhook
/// sender, a replica's cache) to be down over a weekend and catch up without a reset.
pub(crate) const DEFAULT_FEED_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

pub(crate) enum Parsed {
    Run(Box<Config>),
    Help,
    /// `reencrypt`: seal every client secret and test run under the key ring's active key,
    /// then exit.
    Reencrypt(Reencrypt),
}

/// The one-shot `reencrypt` command (key rotation, or the move of a plain store to a key
/// ring with `--accept-plain-values`).
pub(crate) struct Reencrypt {
    pub store: StoreUrl,
    pub keyring: enterprise_sso::crypto::Keyring,
    /// Read plain (never sealed) secrets as the secret and seal them: only for the one
    /// run that moves a store written without a key ring to one.
    pub accept_plain_values: bool,
}

pub(crate) const REENCRYPT_USAGE: &str = "\
usage: enterprise-sso-server reencrypt [--store URL] [--accept-plain-values]

Seals every client secret and connection test run under the active key of
ENTERPRISE_SSO_KEYRING (the first entry), then exits: run it after putting a new key first in the ring, before removing
the old one. --accept-plain-values also seals secrets stored in plain text (a store
that ran without a key ring); the server itself refuses a plain value where a sealed
one belongs. Prints what it did; exits 1 when a secret could not be opened (named by
connection id; repair or delete it before retiring its key).";

impl Reencrypt {
    fn from_env_and_args(args: impl Iterator<Item = String>) -> Result<Parsed, String> {
        let mut store = std::env::var("ENTERPRISE_SSO_STORE")
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "sqlite:enterprise-sso.db".into());
        let mut accept_plain_values = false;
        let mut args = args.peekable();
        while let Some(a) = args.next() {
            match a.as_str() {
                "--store" => store = args.next().ok_or("--store needs a value")?,
                "--accept-plain-values" => accept_plain_values = true,
                "-h" | "--help" => return Ok(Parsed::Help),
                other => return Err(format!("reencrypt: unknown argument {other:?}")),
            }
        }
        let spec = std::env::var("ENTERPRISE_SSO_KEYRING")
            .ok()
            .filter(|v| !v.is_empty())
            .ok_or("reencrypt: ENTERPRISE_SSO_KEYRING is required")?;
        let keyring = enterprise_sso::crypto::Keyring::from_spec(&spec)
            .map_err(|e| format!("ENTERPRISE_SSO_KEYRING: {e}"))?;
        let store = StoreUrl::parse(&store).map_err(|e| format!("--store: {e}"))?;
        Ok(Parsed::Reencrypt(Reencrypt {
            store,
            keyring,
            accept_plain_values,
        }))
    }
}

impl Config {
    pub(crate) fn from_env_and_args(args: impl Iterator<Item = String>) -> Result<Parsed, String> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let mut listen = env("ENTERPRISE_SSO_LISTEN").unwrap_or_else(|| "127.0.0.1:8080".into());
        let mut store =
            env("ENTERPRISE_SSO_STORE").unwrap_or_else(|| "sqlite:enterprise-sso.db".into());
        let mut sp_base_url = None;
        let mut max_connections = env("ENTERPRISE_SSO_MAX_CONNECTIONS");
        let mut header_read_timeout = env("ENTERPRISE_SSO_HEADER_READ_TIMEOUT");
        let mut idle_timeout = env("ENTERPRISE_SSO_IDLE_TIMEOUT");
        let mut body_read_timeout = env("ENTERPRISE_SSO_BODY_READ_TIMEOUT");
        let mut shutdown_grace = env("ENTERPRISE_SSO_SHUTDOWN_GRACE");
        let mut feed_retention = env("ENTERPRISE_SSO_FEED_RETENTION");
        let mut clients = env("ENTERPRISE_SSO_CLIENTS");
        let mut no_auth = false;
        let mut args = args.peekable();
        if args.peek().map(String::as_str) == Some("reencrypt") {
            args.next();
            return Reencrypt::from_env_and_args(args);
        }
        while let Some(a) = args.next() {
            let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
            match a.as_str() {
                "--listen" => listen = value("--listen")?,
                "--store" => store = value("--store")?,
                "--sp-base-url" => sp_base_url = Some(value("--sp-base-url")?),
                "--max-connections" => max_connections = Some(value("--max-connections")?),
                "--header-read-timeout" => {
                    header_read_timeout = Some(value("--header-read-timeout")?);
                }
                "--idle-timeout" => idle_timeout = Some(value("--idle-timeout")?),
                "--body-read-timeout" => body_read_timeout = Some(value("--body-read-timeout")?),
                "--shutdown-grace" => shutdown_grace = Some(value("--shutdown-grace")?),
                "--feed-retention" => feed_retention = Some(value("--feed-retention")?),
                "--clients" => clients = Some(value("--clients")?),
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
        let defaults = ServerLimits::default();
        let limits = ServerLimits {
            max_connections: match max_connections {
                None => defaults.max_connections,
                Some(n) => n.parse().ok().filter(|&n: &usize| n > 0).ok_or_else(|| {
                    format!("--max-connections: {n:?} is not a whole number above zero")
                })?,
            },
            header_read_timeout: duration(
                "--header-read-timeout",
                header_read_timeout,
                defaults.header_read_timeout,
            )?,
            idle_timeout: duration("--idle-timeout", idle_timeout, defaults.idle_timeout)?,
            shutdown_grace: duration("--shutdown-grace", shutdown_grace, defaults.shutdown_grace)?,
            ..defaults
        };
        let body_read_timeout = duration(
            "--body-read-timeout",
            body_read_timeout,
            DEFAULT_BODY_READ_TIMEOUT,
        )?;
        let feed_retention = retention(feed_retention)?;
        let clients = match clients {
            None => Vec::new(),
            Some(json) => enterprise_sso_http::OAuthClient::list_from_json(&json)
                .map_err(|e| format!("--clients: {e}"))?,
        };
        if !clients.is_empty() && sp_base_url.is_none() {
            return Err("--clients needs --sp-base-url (where the SP routes are served)".into());
        }
        Ok(Parsed::Run(Box::new(Config {
            listen,
            store: StoreUrl::parse(&store).map_err(|e| e.to_string())?,
            sp_base_url,
            auth,
            keyring,
            limits,
            body_read_timeout,
            feed_retention,
            clients,
        })))
    }
}

/// A duration flag: `30`, `30s` or `500ms`, above zero; `default` when not given.
fn duration(flag: &str, given: Option<String>, default: Duration) -> Result<Duration, String> {
    let Some(text) = given else {
        return Ok(default);
    };
    let t = text.trim();
    let parsed = if let Some(ms) = t.strip_suffix("ms") {
        ms.parse().ok().map(Duration::from_millis)
    } else {
        t.strip_suffix('s')
            .unwrap_or(t)
            .parse()
            .ok()
            .map(Duration::from_secs)
    };
    parsed
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("{flag}: {text:?} is not a duration like 30s or 500ms"))
}

/// `--feed-retention`: `off`, or a whole number of days, hours, minutes or seconds
/// (`7d`, `12h`, `90m`, `45s`, a bare number is seconds), above zero.
fn retention(given: Option<String>) -> Result<Option<Duration>, String> {
    let Some(text) = given else {
        return Ok(Some(DEFAULT_FEED_RETENTION));
    };
    let t = text.trim();
    if t.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let (n, unit) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&t[..i], c),
        _ => (t, 's'),
    };
    let secs = match unit {
        'd' => 86_400,
        'h' => 3_600,
        'm' => 60,
        's' => 1,
        _ => 0,
    };
    n.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(secs))
        .filter(|&s| s > 0)
        .map(|s| Some(Duration::from_secs(s)))
        .ok_or_else(|| format!("--feed-retention: {text:?} is not a duration like 7d, 12h or off"))
}

/// How often the feed is pruned for a retention: a tenth of it, between one second and
/// one hour.
pub(crate) fn prune_every(retention: Duration) -> Duration {
    (retention / 10).clamp(Duration::from_secs(1), Duration::from_secs(3600))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn feed_retention_parses_days_to_seconds_and_off() {
        assert_eq!(retention(None).unwrap(), Some(DEFAULT_FEED_RETENTION));
        assert_eq!(
            retention(Some("30d".into())).unwrap(),
            Some(Duration::from_secs(30 * 86_400))
        );
        assert_eq!(
            retention(Some("12h".into())).unwrap(),
            Some(Duration::from_secs(43_200))
        );
        assert_eq!(
            retention(Some("90m".into())).unwrap(),
            Some(Duration::from_secs(5_400))
        );
        assert_eq!(
            retention(Some("45".into())).unwrap(),
            Some(Duration::from_secs(45))
        );
        assert_eq!(retention(Some("OFF".into())).unwrap(), None);
        for bad in ["0d", "", "7w", "-1d", "d", "1.5d"] {
            assert!(retention(Some(bad.into())).is_err(), "{bad}");
        }
        assert_eq!(
            prune_every(DEFAULT_FEED_RETENTION),
            Duration::from_secs(3600)
        );
        assert_eq!(prune_every(Duration::from_secs(2)), Duration::from_secs(1));
        assert_eq!(
            prune_every(Duration::from_secs(600)),
            Duration::from_secs(60)
        );
    }
}
