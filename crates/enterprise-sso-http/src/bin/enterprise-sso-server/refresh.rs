//! The scheduled refresh of IdP documents: every interval, each connection with a SAML
//! metadata URL or an OIDC discovery URL is re-read through the fetcher
//! (`Flows::refresh_all`), so a rotated certificate or moved endpoint reaches it.

use enterprise_sso_flows::Flows;
use std::sync::Arc;
use std::time::Duration;

use enterprise_sso::{Connections, DynStore};
use enterprise_sso_flows::MetadataSource;

/// Six hours.
pub(crate) const DEFAULT_INTERVAL: Duration = Duration::from_secs(6 * 3600);

/// The interval from `ENTERPRISE_SSO_REFRESH_INTERVAL` (seconds; `0` turns it off).
pub(crate) fn interval_from_env() -> Result<Option<Duration>, String> {
    match std::env::var("ENTERPRISE_SSO_REFRESH_INTERVAL") {
        Err(_) => Ok(Some(DEFAULT_INTERVAL)),
        Ok(v) => match v.trim().parse::<u64>() {
            Ok(0) => Ok(None),
            Ok(s) => Ok(Some(Duration::from_secs(s))),
            Err(_) => Err(format!(
                "ENTERPRISE_SSO_REFRESH_INTERVAL must be a number of seconds, got {v:?}"
            )),
        },
    }
}

/// Runs the refresh every `interval` (the first one after one interval: documents were
/// resolved when each connection was written).
pub(crate) fn spawn(
    svc: Arc<Connections<DynStore>>,
    source: Arc<dyn MetadataSource>,
    interval: Duration,
) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            match Flows::new(Arc::clone(&svc))
                .refresh_all(source.as_ref())
                .await
            {
                Ok(report) => {
                    for (id, e) in &report.failed {
                        tracing::warn!(connection = %id, error = %e, "document refresh failed");
                    }
                    tracing::info!(
                        refreshed = report.refreshed.len(),
                        failed = report.failed.len(),
                        "documents refreshed"
                    );
                }
                Err(e) => tracing::warn!(error = %e, "document refresh could not list connections"),
            }
        }
    });
}
