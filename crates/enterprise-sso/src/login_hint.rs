//! The `login_hint` a SAML connection sends to the IdP on a service-provider-initiated
//! sign-in (Clerk's `SAMLConnectionLoginHint`).
//!
//! The same shape is used on the wire, in patches and in storage:
//! `{"mode": "email_address"}`, `{"mode": "off"}` or
//! `{"mode": "custom_attribute", "source": "<public_metadata key>"}`. `source` is required
//! with `custom_attribute` and refused with the other modes, so a stored hint is always
//! consistent.

use serde::{Deserialize, Serialize};

/// Longest `source` key, in bytes.
pub const MAX_LOGIN_HINT_SOURCE_LEN: usize = 256;

/// What the SAML connection sends as `login_hint`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case", try_from = "RawLoginHint")]
pub enum LoginHint {
    /// The email address the user typed (the default).
    #[default]
    EmailAddress,
    /// The value stored under `source` in the user's `public_metadata`.
    CustomAttribute {
        /// The `public_metadata` key.
        source: String,
    },
    /// No `login_hint`.
    Off,
}

/// The decoded object before its consistency check.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLoginHint {
    mode: Mode,
    #[serde(default)]
    source: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Mode {
    EmailAddress,
    CustomAttribute,
    Off,
}

impl TryFrom<RawLoginHint> for LoginHint {
    type Error = &'static str;

    fn try_from(raw: RawLoginHint) -> Result<Self, Self::Error> {
        match (raw.mode, raw.source) {
            (Mode::CustomAttribute, Some(source)) => Ok(LoginHint::CustomAttribute { source }),
            // The spelling serde uses, so the wire layer reports it as a missing parameter.
            (Mode::CustomAttribute, None) => Err("missing field `source`"),
            (_, Some(_)) => Err("source is only allowed with mode custom_attribute"),
            (Mode::EmailAddress, None) => Ok(LoginHint::EmailAddress),
            (Mode::Off, None) => Ok(LoginHint::Off),
        }
    }
}

impl LoginHint {
    /// The wire spelling of the mode.
    pub fn mode(&self) -> &'static str {
        match self {
            LoginHint::EmailAddress => "email_address",
            LoginHint::CustomAttribute { .. } => "custom_attribute",
            LoginHint::Off => "off",
        }
    }

    /// The `public_metadata` key, for `custom_attribute`.
    pub fn source(&self) -> Option<&str> {
        match self {
            LoginHint::CustomAttribute { source } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_shapes() {
        let h: LoginHint =
            serde_json::from_str(r#"{"mode":"custom_attribute","source":"upn"}"#).unwrap();
        assert_eq!(h.source(), Some("upn"));
        assert_eq!(
            serde_json::to_string(&LoginHint::Off).unwrap(),
            r#"{"mode":"off"}"#
        );
        assert!(serde_json::from_str::<LoginHint>(r#"{"mode":"off","source":"x"}"#).is_err());
        assert!(serde_json::from_str::<LoginHint>(r#"{"mode":"custom_attribute"}"#).is_err());
        assert!(serde_json::from_str::<LoginHint>(r#"{"mode":"sms"}"#).is_err());
    }
}
