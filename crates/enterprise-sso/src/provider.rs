//! Identity providers, the protocol each speaks, and their WorkOS connection types.

use std::fmt;
use std::str::FromStr;

/// The SSO protocol of a connection. Clerk calls OIDC `oauth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// SAML 2.0.
    Saml,
    /// OAuth 2.0 / OpenID Connect.
    Oauth,
}

impl Protocol {
    /// The wire name: `saml` or `oauth`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Saml => "saml",
            Protocol::Oauth => "oauth",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The identity provider of a connection (Clerk's provider set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Provider {
    /// Any SAML 2.0 IdP.
    SamlCustom,
    /// Okta over SAML.
    SamlOkta,
    /// Google Workspace over SAML.
    SamlGoogle,
    /// Microsoft Entra ID (Azure AD) over SAML.
    SamlMicrosoft,
    /// Any OpenID Connect provider.
    OidcCustom,
    /// GitHub Enterprise over OIDC.
    OidcGithubEnterprise,
    /// GitLab over OIDC.
    OidcGitlab,
}

/// A WorkOS `connection_type` (seed 003), for the providers where one fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WorkosConnectionType {
    /// `GenericSAML`
    GenericSaml,
    /// `OktaSAML`
    OktaSaml,
    /// `GoogleSAML`
    GoogleSaml,
    /// `AzureSAML`
    AzureSaml,
    /// `GenericOIDC`
    GenericOidc,
}

impl WorkosConnectionType {
    /// The exact WorkOS spelling, e.g. `OktaSAML`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GenericSaml => "GenericSAML",
            Self::OktaSaml => "OktaSAML",
            Self::GoogleSaml => "GoogleSAML",
            Self::AzureSaml => "AzureSAML",
            Self::GenericOidc => "GenericOIDC",
        }
    }
}

impl Provider {
    /// Every provider, in declaration order.
    pub const ALL: [Provider; 7] = [
        Provider::SamlCustom,
        Provider::SamlOkta,
        Provider::SamlGoogle,
        Provider::SamlMicrosoft,
        Provider::OidcCustom,
        Provider::OidcGithubEnterprise,
        Provider::OidcGitlab,
    ];

    /// The wire name, e.g. `saml_okta`.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::SamlCustom => "saml_custom",
            Provider::SamlOkta => "saml_okta",
            Provider::SamlGoogle => "saml_google",
            Provider::SamlMicrosoft => "saml_microsoft",
            Provider::OidcCustom => "oidc_custom",
            Provider::OidcGithubEnterprise => "oidc_github_enterprise",
            Provider::OidcGitlab => "oidc_gitlab",
        }
    }

    /// The protocol this provider speaks.
    pub fn protocol(self) -> Protocol {
        match self {
            Provider::SamlCustom
            | Provider::SamlOkta
            | Provider::SamlGoogle
            | Provider::SamlMicrosoft => Protocol::Saml,
            Provider::OidcCustom | Provider::OidcGithubEnterprise | Provider::OidcGitlab => {
                Protocol::Oauth
            }
        }
    }

    /// The WorkOS `connection_type` for this provider. GitHub Enterprise and GitLab have
    /// no WorkOS type of their own; they are generic OIDC providers there.
    pub fn workos_connection_type(self) -> WorkosConnectionType {
        match self {
            Provider::SamlCustom => WorkosConnectionType::GenericSaml,
            Provider::SamlOkta => WorkosConnectionType::OktaSaml,
            Provider::SamlGoogle => WorkosConnectionType::GoogleSaml,
            Provider::SamlMicrosoft => WorkosConnectionType::AzureSaml,
            Provider::OidcCustom | Provider::OidcGithubEnterprise | Provider::OidcGitlab => {
                WorkosConnectionType::GenericOidc
            }
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Text that names no known provider.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown provider (expected one of saml_custom, saml_okta, saml_google, saml_microsoft, oidc_custom, oidc_github_enterprise, oidc_gitlab)")]
pub struct UnknownProvider;

impl FromStr for Provider {
    type Err = UnknownProvider;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Provider::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or(UnknownProvider)
    }
}

impl<'de> serde::Deserialize<'de> for Provider {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for Provider {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_protocols() {
        for p in Provider::ALL {
            assert_eq!(p.as_str().parse::<Provider>(), Ok(p));
            let expected = if p.as_str().starts_with("saml_") {
                Protocol::Saml
            } else {
                Protocol::Oauth
            };
            assert_eq!(p.protocol(), expected);
            let ty = p.workos_connection_type().as_str();
            assert_eq!(ty.ends_with("SAML"), expected == Protocol::Saml, "{ty}");
        }
        assert_eq!("SAML_OKTA".parse::<Provider>(), Err(UnknownProvider));
        assert_eq!(
            Provider::SamlMicrosoft.workos_connection_type().as_str(),
            "AzureSAML"
        );
    }
}
