//! Secret values (the OIDC client secret) that must never leak through `Debug`, logs or errors.

enterprise_sso_protocol::secret_type! {
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
    pub ClientSecret
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
