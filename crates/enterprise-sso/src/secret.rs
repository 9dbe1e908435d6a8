//! Secret values (the OIDC client secret) that must never leak through `Debug`, logs or errors.

use std::fmt;

/// An OIDC client secret.
///
/// Its `Debug` prints `[redacted]`; the value is only reachable through
/// [`ClientSecret::expose_secret`]. As oauth2-rs does for its secret types, it implements
/// neither `Display` (so it cannot end up in a formatted message by accident) nor
/// `PartialEq` (whose early exit leaks timing): compare with [`ClientSecret::ct_eq`]. It
/// deliberately implements no `Serialize`: the only place it is written out is the storage
/// codec ([`crate::storage::codec`]).
///
/// ```
/// use enterprise_sso::ClientSecret;
/// let s = ClientSecret::new("hunter2");
/// assert_eq!(format!("{s:?}"), "[redacted]");
/// assert_eq!(s.expose_secret(), "hunter2");
/// ```
///
/// The text is zeroized when the value is dropped (`zeroize`).
#[derive(Clone)]
pub struct ClientSecret(zeroize::Zeroizing<String>);

impl ClientSecret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(zeroize::Zeroizing::new(value.into()))
    }

    /// The secret itself. Call this only where the value is really needed.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// Length of the secret in bytes (for validation without touching the value).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Compares two secrets in time that depends only on their lengths, not on where
    /// they first differ.
    pub fn ct_eq(&self, other: &ClientSecret) -> bool {
        let (a, b) = (self.0.as_bytes(), other.0.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }

    /// True when the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<&str> for ClientSecret {
    fn from(s: &str) -> Self {
        ClientSecret::new(s)
    }
}

impl From<String> for ClientSecret {
    fn from(s: String) -> Self {
        ClientSecret::new(s)
    }
}

impl<'de> serde::Deserialize<'de> for ClientSecret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(ClientSecret::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = ClientSecret::new("s3cr3t-value");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(format!("{s:#?}"), "[redacted]");
        assert!(!format!("{:?}", Some(&s)).contains("s3cr3t"));
    }

    #[test]
    fn constant_time_comparison() {
        let s = ClientSecret::new("s3cr3t-value");
        assert!(s.ct_eq(&ClientSecret::new("s3cr3t-value")));
        assert!(!s.ct_eq(&ClientSecret::new("s3cr3t-valuf")));
        assert!(!s.ct_eq(&ClientSecret::new("s3cr3t-valu")));
        assert!(!s.ct_eq(&ClientSecret::new("")));
    }
}
