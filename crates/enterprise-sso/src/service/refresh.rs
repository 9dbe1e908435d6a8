//! Refresh: re-reading a connection's IdP documents (SAML metadata, OIDC discovery)
//! through a host-supplied [`MetadataSource`] and storing them through the merge path.

use async_trait::async_trait;

use super::{invalid, Connections};
use crate::connection::{EnterpriseConnection, ProtocolConfig};
use crate::error::{BoxError, Error, Result};
use crate::ids::ConnectionId;
use crate::merge::merge_with;
use crate::oidc::{parse_discovery, MAX_DISCOVERY_BYTES};
use crate::patch::{OidcPatch, Patch, SamlPatch, UpdateConnection};
use crate::repo::ConnectionRepo;
use crate::saml::MAX_METADATA_BYTES;
use crate::validate::FieldErrorKind;

/// Fetches documents for [`Connections::refresh`]. The library does no network I/O: the
/// host implements this with its HTTP client (and should apply
/// `enterprise_sso_protocol::url_policy::ip_allowed` to the addresses it resolves).
#[async_trait]
pub trait MetadataSource: Send + Sync {
    /// The body at `url`. Implementations should stop reading after `max_bytes + 1`
    /// bytes; a longer body is refused by the caller anyway.
    async fn fetch(&self, url: &str, max_bytes: usize) -> std::result::Result<Vec<u8>, BoxError>;
}

/// Fetches the document at the configured URL `url` (named `what`), reading at most
/// `max_bytes`.
async fn fetch(
    source: &dyn MetadataSource,
    url: &Option<String>,
    what: &'static str,
    max_bytes: usize,
) -> Result<(String, Vec<u8>)> {
    let url = url
        .clone()
        .ok_or_else(|| invalid(what, FieldErrorKind::Required))?;
    let body = source
        .fetch(&url, max_bytes)
        .await
        .map_err(|source| Error::Fetch { what, source })?;
    Ok((url, body))
}

impl<R: ConnectionRepo> Connections<R> {
    /// Re-reads a connection's documents through `source` and stores the result through the
    /// normal merge/validate/CAS path:
    ///
    /// - SAML: fetches `saml.idp_metadata_url` and stores it as `saml.idp_metadata`
    ///   (which re-derives entity id, SSO URL and certificate, see [`crate::merge_with`]);
    /// - OIDC: fetches `oidc.discovery_url`, checks the document
    ///   ([`crate::oidc::parse_discovery`]), stores its issuer (`oidc.issuer`, as given)
    ///   and fills `auth_url`, `token_url` and `user_info_url` where they are not set and
    ///   the document has them (set values, explicit or discovered earlier, are kept;
    ///   `null` them to re-discover). An OIDC connection is activated only once it has
    ///   `auth_url` and `token_url`, so a connection whose discovery document was refused
    ///   cannot be activated until a refresh succeeds or both are set explicitly.
    ///
    /// A failed fetch ([`Error::Fetch`]), an oversized or invalid document
    /// ([`Error::Validation`]) writes nothing.
    pub async fn refresh(
        &self,
        id: &ConnectionId,
        source: &dyn MetadataSource,
    ) -> Result<EnterpriseConnection> {
        let current = self.get(id).await?;
        match &current.config {
            ProtocolConfig::Saml(s) => {
                let (_, body) = fetch(
                    source,
                    &s.idp_metadata_url,
                    "saml.idp_metadata_url",
                    MAX_METADATA_BYTES,
                )
                .await?;
                if body.len() > MAX_METADATA_BYTES {
                    return Err(invalid(
                        "saml.idp_metadata",
                        FieldErrorKind::TooLong {
                            max: MAX_METADATA_BYTES,
                        },
                    ));
                }
                let xml = crate::saml::decode_metadata_bytes(body).map_err(|e| {
                    invalid("saml.idp_metadata", FieldErrorKind::InvalidMetadata(e))
                })?;
                let patch = UpdateConnection {
                    saml: Patch::Value(SamlPatch {
                        idp_metadata: Patch::Value(xml),
                        ..SamlPatch::default()
                    }),
                    ..UpdateConnection::default()
                };
                self.update(id, &patch).await
            }
            ProtocolConfig::Oidc(o) => {
                let (url, body) = fetch(
                    source,
                    &o.discovery_url,
                    "oidc.discovery_url",
                    MAX_DISCOVERY_BYTES,
                )
                .await?;
                let d = parse_discovery(&body, &url, &self.policy).map_err(|e| {
                    invalid("oidc.discovery_url", FieldErrorKind::InvalidDiscovery(e))
                })?;
                let policy = self.policy.clone();
                self.modify(id, false, move |current: &EnterpriseConnection, now| {
                    let Some(o) = current.oidc() else {
                        // The connection switched protocol meanwhile: nothing to fill.
                        return Ok(current.clone());
                    };
                    if o.discovery_url.as_deref() != Some(url.as_str()) {
                        // Its discovery URL changed meanwhile: this document is not its own.
                        return Ok(current.clone());
                    }
                    let fill = |have: &Option<String>, found: Option<&String>| match (have, found) {
                        (None, Some(found)) => Patch::Value(found.clone()),
                        _ => Patch::Absent,
                    };
                    let patch = UpdateConnection {
                        oidc: Patch::Value(OidcPatch {
                            auth_url: fill(&o.auth_url, Some(&d.authorization_endpoint)),
                            token_url: fill(&o.token_url, d.token_endpoint.as_ref()),
                            user_info_url: fill(&o.user_info_url, d.userinfo_endpoint.as_ref()),
                            ..OidcPatch::default()
                        }),
                        ..UpdateConnection::default()
                    };
                    let mut next = merge_with(current, &patch, now, &policy)?;
                    if let ProtocolConfig::Oidc(o) = &mut next.config {
                        o.issuer = Some(d.issuer.clone());
                    }
                    Ok(next)
                })
                .await
            }
        }
    }
}
