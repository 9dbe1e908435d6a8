//! The service every host calls: it owns merge, validation, retries and routing.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

use crate::account::{map_assertion, Assertion, EnterpriseAccount, SignInRefusal, Verification};
use crate::connection::{EnterpriseConnection, ProtocolConfig};
use crate::domain::Domain;
use crate::email::EmailAddress;
use crate::error::{BoxError, Error, Result};
use crate::ids::{AccountId, ConnectionId};
use crate::merge::{build_with, merge_with};
use crate::oidc::{parse_discovery, MAX_DISCOVERY_BYTES};
use crate::patch::{CreateConnection, OidcPatch, Patch, SamlPatch, UpdateConnection};
use crate::repo::{AccountPage, AccountQuery, ConnectionRepo, ListQuery, Page, Store, MAX_LIMIT};
use crate::saml::MAX_METADATA_BYTES;
use crate::validate::{FieldError, FieldErrorKind, Policy, ValidationErrors};

/// Fetches documents for [`Connections::refresh`]. The library does no network I/O: the
/// host implements this with its HTTP client (and should apply
/// [`crate::validate::ip_allowed`] to the addresses it resolves).
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

fn invalid(path: &str, kind: FieldErrorKind) -> Error {
    match ValidationErrors::from_vec(vec![FieldError::new(path, kind)]) {
        Some(v) => Error::Validation(v),
        None => Error::Corrupt {
            reason: "empty validation error".into(),
        },
    }
}

/// Source of the current time, Unix milliseconds.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// How many times [`Connections::update`] re-reads and re-merges after a version conflict
/// before giving the conflict to the caller.
pub const DEFAULT_MAX_RETRIES: usize = 32;

/// The current time in Unix milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Enterprise connections on a storage backend `R`.
///
/// ```
/// use enterprise_sso::{Connections, CreateConnection, MemoryRepo, Provider};
/// # futures_executor::block_on(async {
/// let svc = Connections::new(MemoryRepo::new());
/// let mut params = CreateConnection::new(Provider::SamlOkta, "Acme");
/// params.domains = Some(vec!["acme.com".into()]);
/// let conn = svc.create(&params).await.unwrap();
/// assert_eq!(svc.get(&conn.id).await.unwrap(), conn);
/// # });
/// ```
pub struct Connections<R> {
    repo: R,
    clock: Clock,
    max_retries: usize,
    policy: Policy,
}

impl<R: ConnectionRepo> Connections<R> {
    /// A service on `repo` with the system clock.
    pub fn new(repo: R) -> Self {
        Connections {
            repo,
            clock: Arc::new(now_ms),
            max_retries: DEFAULT_MAX_RETRIES,
            policy: Policy::default(),
        }
    }

    /// Uses `policy` for validation (e.g. to allow loopback metadata URLs in tests).
    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Uses `clock` for timestamps (tests, simulations).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Sets how often an update is retried after a version conflict.
    pub fn with_max_retries(mut self, retries: usize) -> Self {
        self.max_retries = retries;
        self
    }

    /// The storage backend.
    pub fn repo(&self) -> &R {
        &self.repo
    }

    /// Validates and stores a new connection (version 1, inactive unless `active` is set).
    pub async fn create(&self, params: &CreateConnection) -> Result<EnterpriseConnection> {
        let conn = build_with(
            params,
            ConnectionId::generate(),
            (self.clock)(),
            &self.policy,
        )?;
        self.repo.insert(&conn).await?;
        Ok(conn)
    }

    /// The connection with this id, or [`Error::NotFound`].
    pub async fn get(&self, id: &ConnectionId) -> Result<EnterpriseConnection> {
        self.repo
            .get(id)
            .await?
            .ok_or_else(|| Error::NotFound { id: id.to_string() })
    }

    /// One page of connections; `limit` is clamped to 1..=500.
    pub async fn list(&self, query: &ListQuery) -> Result<Page> {
        let mut q = query.clone();
        q.limit = q.limit.clamp(1, MAX_LIMIT);
        self.repo.list(&q).await
    }

    /// Applies a partial update: read, merge, validate, compare-and-swap write; on a
    /// version conflict it starts again from a fresh read, up to the retry limit.
    /// A failed update writes nothing.
    pub async fn update(
        &self,
        id: &ConnectionId,
        patch: &UpdateConnection,
    ) -> Result<EnterpriseConnection> {
        self.modify(id, |current, now| {
            Ok(merge_with(current, patch, now, &self.policy)?)
        })
        .await
    }

    /// Like [`Connections::update`], but only if the stored version is `expected_version`
    /// (for hosts that expose `If-Match`); no retry.
    pub async fn update_if_version(
        &self,
        id: &ConnectionId,
        expected_version: u64,
        patch: &UpdateConnection,
    ) -> Result<EnterpriseConnection> {
        let _writing = crate::write_lock::lock(id.as_str()).await;
        let current = self.get(id).await?;
        if current.version != expected_version {
            return Err(Error::VersionConflict {
                id: id.to_string(),
                expected: expected_version,
                actual: current.version,
            });
        }
        let next = merge_with(&current, patch, (self.clock)(), &self.policy)?;
        self.repo.update(&next, expected_version).await?;
        Ok(next)
    }

    /// Records a successful authentication: the first one moves the connection from
    /// `validating` to `active` state. Later calls change nothing and write nothing.
    pub async fn mark_authenticated(&self, id: &ConnectionId) -> Result<EnterpriseConnection> {
        self.modify(id, |current, now| {
            let mut next = current.clone();
            if current.first_authenticated_at.is_none() {
                next.first_authenticated_at = Some(now);
                next.version += 1;
                next.updated_at = now.max(current.updated_at);
            }
            Ok(next)
        })
        .await
    }

    /// Read-modify-CAS loop shared by every update. `f` returning the record unchanged
    /// (same version) skips the write.
    async fn modify<F>(&self, id: &ConnectionId, f: F) -> Result<EnterpriseConnection>
    where
        F: Fn(&EnterpriseConnection, i64) -> Result<EnterpriseConnection> + Send + Sync,
    {
        // In-process writers of this connection take turns (see `write_lock`), so a conflict
        // below comes from another process or replica.
        let _writing = crate::write_lock::lock(id.as_str()).await;
        let mut attempt = 0;
        loop {
            let current = self.get(id).await?;
            let next = f(&current, (self.clock)())?;
            if next.version == current.version {
                return Ok(next);
            }
            match self.repo.update(&next, current.version).await {
                Err(Error::VersionConflict { .. }) if attempt < self.max_retries => attempt += 1,
                Err(e) => return Err(e),
                Ok(()) => return Ok(next),
            }
        }
    }

    /// Every connection whose IdP certificate expires within `days` days from now (or has
    /// expired already), soonest first: the basis for renewal reminders.
    pub async fn certificates_expiring_within(
        &self,
        days: u32,
    ) -> Result<Vec<EnterpriseConnection>> {
        let before = (self.clock)().saturating_add(i64::from(days) * 86_400_000);
        self.repo.certificates_expiring_before(before).await
    }

    /// Re-reads a connection's documents through `source` and stores the result through the
    /// normal merge/validate/CAS path:
    ///
    /// - SAML: fetches `saml.idp_metadata_url` and stores it as `saml.idp_metadata`
    ///   (which re-derives entity id, SSO URL and certificate, see [`crate::merge_with`]);
    /// - OIDC: fetches `oidc.discovery_url`, checks the document
    ///   ([`crate::oidc::parse_discovery`]) and fills `auth_url`, `token_url` and
    ///   `user_info_url` where they are not set (set values, explicit or discovered
    ///   earlier, are kept; `null` them to re-discover).
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
                let xml = String::from_utf8(body).map_err(|_| {
                    invalid(
                        "saml.idp_metadata",
                        FieldErrorKind::InvalidMetadata(crate::saml::MetadataError::Malformed {
                            reason: "not UTF-8".into(),
                        }),
                    )
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
                self.modify(id, |current, now| {
                    let Some(o) = current.oidc() else {
                        // The connection switched protocol meanwhile: nothing to fill.
                        return Ok(current.clone());
                    };
                    let fill = |have: &Option<String>, found: &str| {
                        if have.is_none() {
                            Patch::Value(found.to_owned())
                        } else {
                            Patch::Absent
                        }
                    };
                    let patch = UpdateConnection {
                        oidc: Patch::Value(OidcPatch {
                            auth_url: fill(&o.auth_url, &d.authorization_endpoint),
                            token_url: fill(&o.token_url, &d.token_endpoint),
                            user_info_url: fill(&o.user_info_url, &d.userinfo_endpoint),
                            ..OidcPatch::default()
                        }),
                        ..UpdateConnection::default()
                    };
                    Ok(merge_with(current, &patch, now, &self.policy)?)
                })
                .await
            }
        }
    }

    /// Deletes a connection and frees its domains; [`Error::NotFound`] when absent. A store
    /// that holds accounts keeps the connection's accounts, deactivated and unlinked, in
    /// the same write.
    pub async fn delete(&self, id: &ConnectionId) -> Result<()> {
        if self.repo.delete(id, (self.clock)()).await? {
            Ok(())
        } else {
            Err(Error::NotFound { id: id.to_string() })
        }
    }

    /// The active connection a user with this email address should sign in with.
    ///
    /// The email's domain is normalised like a claimed domain. An active connection that
    /// claims exactly that domain wins; otherwise the nearest parent domain (never a
    /// public suffix) whose active connection has `allow_subdomains`. `Ok(None)` when no
    /// connection applies; [`Error::InvalidEmail`] for a malformed address.
    pub async fn route_email(&self, email: &str) -> Result<Option<EnterpriseConnection>> {
        self.route_domain(&email_domain(email)?).await
    }

    /// [`Connections::route_email`] for an already-parsed domain.
    async fn route_domain(&self, domain: &Domain) -> Result<Option<EnterpriseConnection>> {
        if let Some(c) = self.repo.find_by_domain(domain).await? {
            if c.active {
                return Ok(Some(c));
            }
        }
        for parent in domain.parents() {
            if let Some(c) = self.repo.find_by_domain(&parent).await? {
                if c.active && c.allow_subdomains {
                    return Ok(Some(c));
                }
            }
        }
        Ok(None)
    }
}

/// The outcome of [`Connections::record_sign_in`].
#[derive(Debug, Clone, PartialEq)]
pub struct SignIn {
    /// The account, as stored after this sign-in.
    pub account: EnterpriseAccount,
    /// Whether this sign-in created the account.
    pub created: bool,
    /// The connection, as stored after this sign-in (state `active`).
    pub connection: EnterpriseConnection,
}

impl<R: Store> Connections<R> {
    /// Records that the IdP behind `connection_id` vouched for a user.
    ///
    /// The connection must exist and be active; the assertion is mapped with
    /// [`crate::account::map_assertion`] (which also checks the email's domain). The account
    /// is created on the first sign-in and found again by (connection, provider user id)
    /// afterwards; with `sync_user_attributes` on, email and names are refreshed from the
    /// IdP on every sign-in, with it off they keep their first values.
    /// `last_authenticated_at` is set, and the connection's first sign-in moves it from
    /// `validating` to `active` (once, through the CAS path). A refused sign-in
    /// ([`Error::SignInRefused`]) writes nothing.
    pub async fn record_sign_in(
        &self,
        connection_id: &ConnectionId,
        assertion: &Assertion,
    ) -> Result<SignIn> {
        let conn = self.get(connection_id).await?;
        if !conn.active {
            return Err(Error::SignInRefused(SignInRefusal::ConnectionInactive));
        }
        let who = map_assertion(&conn, assertion).map_err(Error::SignInRefused)?;
        // Tenant boundary: the connection may vouch only for emails that routing sends to
        // it. A more specific claim by another connection (`eng.corp.com` beside a
        // `corp.com` that allows subdomains) takes those emails away from it.
        let routed = self.route_domain(who.email.domain()).await?;
        if routed.map(|c| c.id) != Some(conn.id.clone()) {
            return Err(Error::SignInRefused(SignInRefusal::EmailOutsideDomains));
        }
        let subject_key = format!("{}\u{0}{}", conn.id, who.provider_user_id);
        let writing = crate::write_lock::lock(&subject_key).await;
        let mut attempt = 0;
        let (account, created) = loop {
            let now = (self.clock)();
            let found = self
                .repo
                .find_account_by_subject(&conn.id, &who.provider_user_id)
                .await?;
            let (result, created) = match &found {
                None => {
                    let a = EnterpriseAccount {
                        id: AccountId::generate(),
                        active: true,
                        email_address: who.email.to_string(),
                        enterprise_connection_id: Some(conn.id.clone()),
                        first_name: who.first_name.clone(),
                        last_name: who.last_name.clone(),
                        protocol: conn.protocol(),
                        provider: conn.provider,
                        provider_user_id: Some(who.provider_user_id.clone()),
                        public_metadata: serde_json::Map::new(),
                        verification: Some(Verification::verified_by(&conn)),
                        last_authenticated_at: Some(now),
                        created_at: now,
                        updated_at: now,
                        version: 1,
                    };
                    (self.repo.insert_account(&a).await.map(|()| a), true)
                }
                Some(old) if !old.active => {
                    return Err(Error::SignInRefused(SignInRefusal::AccountInactive))
                }
                Some(old) => {
                    let mut a = old.clone();
                    a.last_authenticated_at =
                        Some(now.max(old.last_authenticated_at.unwrap_or(now)));
                    if conn.sync_user_attributes {
                        a.email_address = who.email.to_string();
                        a.first_name = who.first_name.clone();
                        a.last_name = who.last_name.clone();
                    }
                    a.version = old.version + 1;
                    a.updated_at = now.max(old.updated_at);
                    (
                        self.repo.update_account(&a, old.version).await.map(|()| a),
                        false,
                    )
                }
            };
            match result {
                Ok(a) => break (a, created),
                // Another sign-in of the same user got there first: start again.
                Err(Error::AccountExists { .. } | Error::VersionConflict { .. })
                    if attempt < self.max_retries =>
                {
                    attempt += 1
                }
                Err(e) => return Err(e),
            }
        };
        drop(writing);
        let connection = if conn.first_authenticated_at.is_none() {
            self.mark_authenticated(&conn.id).await?
        } else {
            conn
        };
        Ok(SignIn {
            account,
            created,
            connection,
        })
    }

    /// The account with this id, or [`Error::NotFound`].
    pub async fn get_account(&self, id: &AccountId) -> Result<EnterpriseAccount> {
        self.repo
            .get_account(id)
            .await?
            .ok_or_else(|| Error::NotFound { id: id.to_string() })
    }

    /// One page of a connection's accounts; `limit` is clamped to 1..=500.
    pub async fn list_accounts(
        &self,
        connection: &ConnectionId,
        query: &AccountQuery,
    ) -> Result<AccountPage> {
        let mut q = query.clone();
        q.limit = q.limit.clamp(1, MAX_LIMIT);
        self.repo.list_accounts(connection, &q).await
    }

    /// Every account with this email address (case-insensitive).
    pub async fn find_accounts_by_email(&self, email: &str) -> Result<Vec<EnterpriseAccount>> {
        self.repo.find_accounts_by_email(email).await
    }

    /// Replaces an account's public metadata (a JSON object), with CAS retries.
    pub async fn set_account_metadata(
        &self,
        id: &AccountId,
        metadata: serde_json::Map<String, serde_json::Value>,
    ) -> Result<EnterpriseAccount> {
        let _writing = crate::write_lock::lock(id.as_str()).await;
        let mut attempt = 0;
        loop {
            let old = self.get_account(id).await?;
            let mut a = old.clone();
            a.public_metadata = metadata.clone();
            a.version += 1;
            a.updated_at = (self.clock)().max(old.updated_at);
            match self.repo.update_account(&a, old.version).await {
                Ok(()) => return Ok(a),
                Err(Error::VersionConflict { .. }) if attempt < self.max_retries => attempt += 1,
                Err(e) => return Err(e),
            }
        }
    }

    /// Deletes an account; [`Error::NotFound`] when absent.
    pub async fn delete_account(&self, id: &AccountId) -> Result<()> {
        if self.repo.delete_account(id).await? {
            Ok(())
        } else {
            Err(Error::NotFound { id: id.to_string() })
        }
    }
}

/// The normalised domain of an email address ([`EmailAddress::parse`]).
fn email_domain(email: &str) -> Result<Domain> {
    EmailAddress::parse(email)
        .map(|e| e.domain().clone())
        .map_err(|e| Error::InvalidEmail { reason: e.reason() })
}
