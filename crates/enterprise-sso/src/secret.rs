//! Secret values (the OIDC client secret) that must never leak through `Debug`, logs or errors.

use std::fmt;

/// An OIDC client secret.
///
/// Its `Debug` and `Display` print `[redacted]`; the value is only reachable through
/// [`ClientSecret::expose_secret`]. It deliberately implements no `Serialize`: the only
/// place it is written out is the storage codec ([`crate::codec`]).
///
/// ```
/// use enterprise_sso::ClientSecret;
/// let s = ClientSecret::new("hunter2");
/// assert_eq!(format!("{s:?}"), "[redacted]");
/// assert_eq!(s.expose_secret(), "hunter2");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret(String);

impl ClientSecret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself. Call this only where the value is really needed.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// Length of the secret in bytes (for validation without touching the value).
    pub fn len(&self) -> usize {
        self.0.len()
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

impl fmt::Display for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<'de> serde::Deserialize<'de> for ClientSecret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(ClientSecret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_are_redacted() {
        let s = ClientSecret::new("s3cr3t-value");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(format!("{s:#?}"), "[redacted]");
        assert_eq!(s.to_string(), "[redacted]");
        assert!(!format!("{:?}", Some(&s)).contains("s3cr3t"));
    }
}
