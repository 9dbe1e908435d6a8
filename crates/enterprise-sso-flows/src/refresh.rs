//! Refresh: re-reading a connection's IdP documents (SAML metadata, OIDC discovery)
//! through a host-supplied [`MetadataSource`] and storing them through the merge path.

use async_trait::async_trait;

use crate::Flows;
use enterprise_sso::{
    BoxError, ConnectionId, ConnectionRepo, CreateConnection, EnterpriseConnection, Error,
    FieldError, FieldErrorKind, OidcPatch, Patch, ProtocolConfig, Result, SamlPatch,
    UpdateConnection, ValidationErrors,
};
use enterprise_sso_protocol::oidc::{parse_discovery, Discovery, MAX_DISCOVERY_BYTES};
use enterprise_sso_protocol::saml::MAX_METADATA_BYTES;

/// Fetches documents for [`Flows::refresh`]. The library does no network I/O: the
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

/// Fetches SAML metadata from `url` and decodes it as XML 1.0 requires: at most
/// [`MAX_METADATA_BYTES`], UTF-8 or UTF-16 with its byte-order mark.
async fn fetch_metadata(source: &dyn MetadataSource, url: &Option<String>) -> Result<String> {
    let (_, body) = fetch(source, url, "saml.idp_metadata_url", MAX_METADATA_BYTES).await?;
    if body.len() > MAX_METADATA_BYTES {
        return Err(invalid(
            "saml.idp_metadata",
            FieldErrorKind::TooLong {
                max: MAX_METADATA_BYTES,
            },
        ));
    }
    enterprise_sso_protocol::saml::decode_metadata_bytes(body)
        .map_err(|e| invalid("saml.idp_metadata", FieldErrorKind::InvalidMetadata(e)))
}

impl<R: ConnectionRepo> Flows<R> {
    /// Re-reads a connection's documents through `source` and stores the result through the
    /// normal merge/validate/CAS path:
    ///
    /// - SAML: fetches `saml.idp_metadata_url` and stores it as `saml.idp_metadata`
    ///   (which re-derives entity id, SSO URL and certificate, see [`enterprise_sso::merge_with`]);
    /// - OIDC: fetches `oidc.discovery_url`, checks the document
    ///   ([`enterprise_sso_protocol::oidc::parse_discovery`]), stores its issuer (`oidc.issuer`, as given)
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
        let current = self.svc.get(id).await?;
        match &current.config {
            ProtocolConfig::Saml(s) => {
                let xml = fetch_metadata(source, &s.idp_metadata_url).await?;
                let patch = UpdateConnection {
                    saml: Patch::Value(SamlPatch {
                        idp_metadata: Patch::Value(xml),
                        ..SamlPatch::default()
                    }),
                    ..UpdateConnection::default()
                };
                self.svc.update(id, &patch).await
            }
            ProtocolConfig::Oidc(o) => {
                let (url, body) = fetch(
                    source,
                    &o.discovery_url,
                    "oidc.discovery_url",
                    MAX_DISCOVERY_BYTES,
                )
                .await?;
                let d = parse_discovery(&body, &url, self.svc.policy()).map_err(|e| {
                    invalid("oidc.discovery_url", FieldErrorKind::InvalidDiscovery(e))
                })?;
                self.svc.store_discovery(id, url, d).await
            }
        }
    }
}

/// A discovery document resolved before a write, to store once the connection exists.
type Resolved = Option<(String, Discovery)>;

impl<R: ConnectionRepo> Flows<R> {
    /// Creates a connection with the IdP documents its parameters point at resolved first,
    /// as Clerk resolves them ("resolved from discovery"): a SAML `idp_metadata_url`
    /// without `idp_metadata` is fetched and given as the metadata; an OIDC `discovery_url`
    /// is fetched and checked, and its endpoints fill `auth_url`, `token_url` and
    /// `user_info_url` where the parameters leave them out. So a connection created with
    /// only a client id, a secret and a discovery URL (or only a metadata URL) can be
    /// created active. The fetch happens before anything is written: a refused URL or
    /// document writes nothing. The discovered issuer is stored right after the create.
    pub async fn create_resolved(
        &self,
        params: &CreateConnection,
        source: &dyn MetadataSource,
    ) -> Result<EnterpriseConnection> {
        let mut p = params.clone();
        let resolved = self
            .resolve_documents(p.saml.as_mut(), p.oidc.as_mut(), source)
            .await?;
        let created = self.svc.create(&p).await?;
        self.finish_resolved(created, resolved).await
    }

    /// Updates a connection like [`Connections::update`](enterprise_sso::Connections::update) (or, with `expected_version`,
    /// [`Connections::update_if_version`](enterprise_sso::Connections::update_if_version)) after resolving the documents a new
    /// `idp_metadata_url` or `discovery_url` in the patch points at, as
    /// [`Flows::create_resolved`] does.
    pub async fn update_resolved(
        &self,
        id: &ConnectionId,
        patch: &UpdateConnection,
        expected_version: Option<u64>,
        source: &dyn MetadataSource,
    ) -> Result<EnterpriseConnection> {
        let mut p = patch.clone();
        let saml = match &mut p.saml {
            Patch::Value(s) => Some(s),
            _ => None,
        };
        let oidc = match &mut p.oidc {
            Patch::Value(o) => Some(o),
            _ => None,
        };
        let resolved = self.resolve_documents(saml, oidc, source).await?;
        let updated = match expected_version {
            Some(v) => self.svc.update_if_version(id, v, &p).await?,
            None => self.svc.update(id, &p).await?,
        };
        self.finish_resolved(updated, resolved).await
    }

    async fn finish_resolved(
        &self,
        written: EnterpriseConnection,
        resolved: Resolved,
    ) -> Result<EnterpriseConnection> {
        match resolved {
            Some((url, d)) => self.svc.store_discovery(&written.id, url, d).await,
            None => Ok(written),
        }
    }

    /// Fetches the documents a patch points at and fills the patch from them.
    async fn resolve_documents(
        &self,
        saml: Option<&mut SamlPatch>,
        oidc: Option<&mut OidcPatch>,
        source: &dyn MetadataSource,
    ) -> Result<Resolved> {
        if let Some(s) = saml {
            if let (Patch::Value(url), Patch::Absent) = (&s.idp_metadata_url, &s.idp_metadata) {
                let url = self.fetchable(url, "saml.idp_metadata_url")?;
                let xml = fetch_metadata(source, &Some(url)).await?;
                s.idp_metadata = Patch::Value(xml);
            }
        }
        let Some(o) = oidc else { return Ok(None) };
        let Patch::Value(url) = &o.discovery_url else {
            return Ok(None);
        };
        let url = self.fetchable(url, "oidc.discovery_url")?;
        let (url, body) = fetch(
            source,
            &Some(url),
            "oidc.discovery_url",
            MAX_DISCOVERY_BYTES,
        )
        .await?;
        let d = parse_discovery(&body, &url, self.svc.policy())
            .map_err(|e| invalid("oidc.discovery_url", FieldErrorKind::InvalidDiscovery(e)))?;
        let fill = |have: &mut Patch<String>, found: Option<&String>| {
            if let (Patch::Absent, Some(found)) = (&*have, found) {
                *have = Patch::Value(found.clone());
            }
        };
        fill(&mut o.auth_url, Some(&d.authorization_endpoint));
        fill(&mut o.token_url, d.token_endpoint.as_ref());
        fill(&mut o.user_info_url, d.userinfo_endpoint.as_ref());
        // The URL the merge will store is the canonical one: keep them equal, so the
        // issuer is stored against the same URL.
        o.discovery_url = Patch::Value(url.clone());
        Ok(Some((url, d)))
    }

    /// A URL from a patch, checked by the fetch policy before it is fetched, in its
    /// canonical form (what the merge would store).
    fn fetchable(&self, raw: &str, field: &'static str) -> Result<String> {
        enterprise_sso_protocol::url_policy::check_fetch_url_kind(raw, self.svc.policy())
            .map_err(|e| invalid(field, e.into()))?;
        enterprise_sso_protocol::url_policy::canonical_url(raw)
            .ok_or_else(|| invalid(field, FieldErrorKind::InvalidUrl))
    }
}

/// What [`Flows::refresh_all`] did.
#[derive(Debug, Default)]
pub struct RefreshReport {
    /// Connections whose document was fetched and stored.
    pub refreshed: Vec<ConnectionId>,
    /// Connections whose refresh failed, each with the error (a failed refresh writes
    /// nothing: the connection keeps its last good document).
    pub failed: Vec<(ConnectionId, Error)>,
}

impl<R: ConnectionRepo> Flows<R> {
    /// Refreshes every connection that has a document URL (a SAML `idp_metadata_url` or an
    /// OIDC `discovery_url`), one page of connections at a time: what a host runs on a
    /// schedule so a rotated IdP certificate or moved endpoint reaches its connections (a
    /// certificate-set change appends its change-feed events as any write does). One
    /// connection's failure does not stop the others.
    pub async fn refresh_all(&self, source: &dyn MetadataSource) -> Result<RefreshReport> {
        let mut report = RefreshReport::default();
        let mut query = enterprise_sso::ListQuery {
            limit: enterprise_sso::limits::MAX_LIMIT,
            ..Default::default()
        };
        loop {
            let page = self.svc.repo().list(&query).await?;
            for c in &page.items {
                let has_url = match &c.config {
                    ProtocolConfig::Saml(s) => s.idp_metadata_url.is_some(),
                    ProtocolConfig::Oidc(o) => o.discovery_url.is_some(),
                };
                if !has_url {
                    continue;
                }
                match self.refresh(&c.id, source).await {
                    Ok(_) => report.refreshed.push(c.id.clone()),
                    Err(e) => report.failed.push((c.id.clone(), e)),
                }
            }
            match page.next_cursor {
                Some(cursor) => query.after = Some(cursor),
                None => return Ok(report),
            }
        }
    }
}

/// A validation error with one problem at `path`.
fn invalid(path: &str, kind: FieldErrorKind) -> Error {
    Error::Validation(ValidationErrors::single(FieldError::new(path, kind)))
}
