//! The OAuth clients the host registers: a `client_id`, its redirect URIs (matched
//! exactly, never by prefix: no open redirect), and optionally the default redirect URI
//! for IdP-initiated sign-ins. Their secret is the API key, as with WorkOS.

/// One registered client.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthClient {
    /// The client's id (`client_id`).
    pub client_id: String,
    /// The redirect URIs it may use, compared byte for byte.
    pub redirect_uris: Vec<String>,
    /// Where IdP-initiated sign-ins go (one of `redirect_uris`); at most one client has
    /// one.
    #[serde(default)]
    pub default_redirect_uri: Option<String>,
}

/// Why a client cannot be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidClient {
    /// The id is empty, longer than 256 bytes or holds characters other than visible
    /// ASCII.
    #[error("client_id must be 1 to 256 visible ASCII characters")]
    ClientId,
    /// No redirect URI.
    #[error("client {0} has no redirect URI")]
    NoRedirectUri(String),
    /// A redirect URI is not an absolute https URL (http only on a loopback host) without
    /// a fragment.
    #[error("client {client_id}: redirect URI {uri:?} must be absolute https (http only on 127.0.0.1, [::1] or localhost) without a fragment")]
    RedirectUri {
        /// The client.
        client_id: String,
        /// The URI.
        uri: String,
    },
    /// The default redirect URI is not one of the redirect URIs.
    #[error("client {0}: the default redirect URI must be one of its redirect URIs")]
    DefaultNotRegistered(String),
}

/// Whether the URL's host is a loopback address or `localhost`.
pub(crate) fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

impl OAuthClient {
    /// A checked client.
    pub fn new(
        client_id: impl Into<String>,
        redirect_uris: Vec<String>,
        default_redirect_uri: Option<String>,
    ) -> Result<Self, InvalidClient> {
        OAuthClient {
            client_id: client_id.into(),
            redirect_uris,
            default_redirect_uri,
        }
        .checked()
    }

    /// Checks a client read from configuration.
    pub fn checked(self) -> Result<Self, InvalidClient> {
        let id = &self.client_id;
        if id.is_empty() || id.len() > 256 || !id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(InvalidClient::ClientId);
        }
        if self.redirect_uris.is_empty() {
            return Err(InvalidClient::NoRedirectUri(id.clone()));
        }
        for uri in &self.redirect_uris {
            let ok = url::Url::parse(uri).is_ok_and(|u| {
                u.fragment().is_none()
                    && (u.scheme() == "https" || (u.scheme() == "http" && is_loopback(&u)))
            });
            if !ok {
                return Err(InvalidClient::RedirectUri {
                    client_id: id.clone(),
                    uri: uri.clone(),
                });
            }
        }
        if let Some(d) = &self.default_redirect_uri {
            if !self.redirect_uris.contains(d) {
                return Err(InvalidClient::DefaultNotRegistered(id.clone()));
            }
        }
        Ok(self)
    }

    /// Clients from a JSON array (the server's `ENTERPRISE_SSO_CLIENTS`):
    /// `[{"client_id": "…", "redirect_uris": ["…"], "default_redirect_uri": "…"}]`.
    pub fn list_from_json(json: &str) -> Result<Vec<OAuthClient>, String> {
        let list: Vec<OAuthClient> = serde_json::from_str(json).map_err(|e| e.to_string())?;
        list.into_iter()
            .map(|c| c.checked().map_err(|e| e.to_string()))
            .collect()
    }

    /// Whether `uri` is one of the client's redirect URIs (exact match).
    pub fn allows(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|r| r == uri)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_are_checked_and_matched_exactly() {
        let c = OAuthClient::new(
            "client_1",
            vec![
                "https://app.example.com/cb".into(),
                "http://127.0.0.1:3000/cb".into(),
            ],
            Some("https://app.example.com/cb".into()),
        )
        .unwrap();
        assert!(c.allows("https://app.example.com/cb"));
        for near in [
            "https://app.example.com/cb/",
            "https://app.example.com/cb?x=1",
            "https://app.example.com/c",
            "HTTPS://app.example.com/cb",
            "https://app.example.com.evil.com/cb",
        ] {
            assert!(!c.allows(near), "{near}");
        }
        for bad in [
            "http://app.example.com/cb",
            "https://a.example.com/cb#f",
            "/cb",
            "javascript:alert(1)",
        ] {
            assert!(
                OAuthClient::new("c", vec![bad.into()], None).is_err(),
                "{bad}"
            );
        }
        assert_eq!(
            OAuthClient::new(
                "c",
                vec!["https://a.example.com/cb".into()],
                Some("https://b.example.com/cb".into())
            ),
            Err(InvalidClient::DefaultNotRegistered("c".into()))
        );
        assert!(OAuthClient::list_from_json(
            r#"[{"client_id":"a","redirect_uris":["https://x.example/cb"],"extra":1}]"#
        )
        .is_err());
    }
}
