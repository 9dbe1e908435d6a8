//! The hosted sign-in of the server: the SAML SP and OIDC RP settings under
//! `--sp-base-url` (OIDC through the SSRF-safe fetcher), the OAuth clients of `--clients`,
//! and the sweep of expired sign-in records every minute.

use enterprise_sso_flows::Flows;
use std::sync::Arc;
use std::time::Duration;

use enterprise_sso::{Connections, DynStore};
use enterprise_sso_flows::{HostedSettings, OidcSettings, SamlSettings};
use enterprise_sso_http::{OAuthClient, SignInOptions};

/// How often expired sign-in records (pending requests, replay entries, codes, tokens)
/// are removed.
pub(crate) const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// The sign-in options, or why they cannot be built.
pub(crate) fn options(
    base: &str,
    clients: Vec<OAuthClient>,
    fetcher: Arc<enterprise_sso_fetch::Fetcher>,
) -> Result<SignInOptions, String> {
    let mut saml = SamlSettings::new(base);
    let key = std::env::var("ENTERPRISE_SSO_SP_KEY").ok();
    let cert = std::env::var("ENTERPRISE_SSO_SP_CERT").ok();
    match (key, cert) {
        (Some(k), Some(c)) => {
            let read = |p: &str| std::fs::read_to_string(p).map_err(|e| format!("{p}: {e}"));
            let pair =
                enterprise_sso_protocol::saml::sp::SpKeyPair::from_pem(&read(&k)?, &read(&c)?)
                    .map_err(|e| format!("ENTERPRISE_SSO_SP_KEY / ENTERPRISE_SSO_SP_CERT: {e}"))?;
            saml = saml.with_key(pair);
            if std::env::var("ENTERPRISE_SSO_SIGN_AUTHN_REQUESTS").as_deref() == Ok("1") {
                saml = saml.sign_requests();
            }
        }
        (None, None) => {}
        _ => {
            return Err(
                "set both ENTERPRISE_SSO_SP_KEY and ENTERPRISE_SSO_SP_CERT, or neither".into(),
            )
        }
    }
    let oidc = OidcSettings::new(base, fetcher);
    let settings = HostedSettings::new(saml).with_oidc(Arc::new(oidc));
    SignInOptions::new(settings, base, clients).map_err(|e| e.to_string())
}

/// Removes expired sign-in records every [`SWEEP_EVERY`]; a failure is logged and tried
/// again at the next turn.
pub(crate) fn spawn_sweeper(svc: Arc<Connections<DynStore>>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SWEEP_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match Flows::new(Arc::clone(&svc)).sweep_sign_ins().await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(records = n, "expired sign-in records swept"),
                Err(e) => tracing::warn!(error = %e, "sweeping sign-in records failed"),
            }
        }
    })
}
