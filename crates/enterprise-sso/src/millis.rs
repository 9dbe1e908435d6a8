//! [`UnixMillis`]: a point in time as the library's public API counts it.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A point in time, in milliseconds since the Unix epoch (UTC), the unit of every time the
/// library stores and returns (`created_at`, `updated_at`, certificate windows, event
/// times), Clerk's wire unit too.
///
/// Where it is used: every time the library stores or returns. The records' times (a
/// connection's and an account's `created_at`, `updated_at`, `first_authenticated_at` /
/// `last_authenticated_at`, a SAML connection's primary certificate window, each
/// [`crate::IdpCertificate`]'s window and each [`crate::RenewalNotice`]'s times), the change
/// feed's [`crate::events::Event`] `created_at`, and [`crate::SignInItem`]'s `created_at` and
/// `expires_at`. The store traits' time parameters are `UnixMillis` too
/// ([`crate::ConnectionRepo::delete`]'s `now`,
/// [`crate::ConnectionRepo::certificates_expiring_before`],
/// [`crate::AccountRepo::delete_account`], [`crate::EventFeed::prune_events_before`], every
/// [`crate::SignInStore`] method's `now`), so an adapter cannot mistake seconds for
/// milliseconds. The service's methods that take a time
/// ([`crate::Connections::certificate_renewal_check`]'s `now`,
/// [`crate::Connections::prune_events_before`]'s `before`) take `impl Into<UnixMillis>`, so
/// a bare `i64` of milliseconds still works there. Stored formats and the wire JSON keep
/// their integers (the type is `serde(transparent)`; adapters call [`UnixMillis::get`] at
/// their SQL or key edge). Arithmetic saturates instead of overflowing. [`crate::Clock`]
/// stays a closure returning Unix ms as `i64`, so a test clock is still
/// `Arc::new(|| 1_500)`; the service wraps its reading where it hands a time on. Durations
/// and counts (a refusal's `expired_at` in a validation error, `days_until_expiry`) stay
/// integers.
///
/// ```
/// use enterprise_sso::UnixMillis;
/// use std::time::Duration;
/// let t = UnixMillis::new(1_700_000_000_000);
/// assert_eq!(t.saturating_add(Duration::from_secs(1)).get(), 1_700_000_001_000);
/// assert_eq!(t.saturating_add_days(1), UnixMillis::from(1_700_086_400_000));
/// assert_eq!(i64::from(UnixMillis::MAX), i64::MAX);
/// assert!(UnixMillis::now() > t);
/// ```
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(transparent)]
pub struct UnixMillis(i64);

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;

impl UnixMillis {
    /// The latest representable time.
    pub const MAX: UnixMillis = UnixMillis(i64::MAX);

    /// The time `ms` milliseconds after the Unix epoch (negative: before it).
    pub const fn new(ms: i64) -> Self {
        UnixMillis(ms)
    }

    /// The system clock now (a time before the epoch reads as the epoch, one past
    /// `i64::MAX` milliseconds as [`UnixMillis::MAX`]).
    pub fn now() -> Self {
        UnixMillis(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
                .unwrap_or(0),
        )
    }

    /// The milliseconds since the epoch.
    pub const fn get(self) -> i64 {
        self.0
    }

    /// `self + d`, saturating at [`UnixMillis::MAX`].
    pub fn saturating_add(self, d: Duration) -> Self {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        UnixMillis(self.0.saturating_add(ms))
    }

    /// `self + days` whole days, saturating.
    pub fn saturating_add_days(self, days: u32) -> Self {
        UnixMillis(self.0.saturating_add(i64::from(days) * DAY_MS))
    }
}

impl From<i64> for UnixMillis {
    fn from(ms: i64) -> Self {
        UnixMillis(ms)
    }
}

impl From<UnixMillis> for i64 {
    fn from(t: UnixMillis) -> Self {
        t.0
    }
}

impl fmt::Display for UnixMillis {
    /// The milliseconds, as a number.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturates_converts_and_serialises_as_the_integer() {
        assert_eq!(UnixMillis::MAX.saturating_add_days(1), UnixMillis::MAX);
        assert_eq!(
            UnixMillis::new(1).saturating_add(Duration::MAX),
            UnixMillis::MAX
        );
        assert_eq!(UnixMillis::new(-5).saturating_add_days(0).get(), -5);
        assert_eq!(
            serde_json::to_string(&UnixMillis::new(1_500)).unwrap(),
            "1500"
        );
        let back: UnixMillis = serde_json::from_str("1500").unwrap();
        assert_eq!(
            (back, back.to_string()),
            (UnixMillis::from(1_500), "1500".into())
        );
        let now = UnixMillis::now().get();
        assert!(now > 1_700_000_000_000 && now <= crate::now_ms());
    }
}
