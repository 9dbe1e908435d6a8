//! [`Encrypted`]: any store, with its secret fields sealed at rest.

use std::borrow::Cow;
use std::sync::Arc;

use async_trait::async_trait;

use super::keyring::Keyring;
use super::seal::{key_id_of, open, open_bytes, seal, seal_bytes, CryptoError};
use crate::connection::{EnterpriseConnection, ProtocolConfig};
use crate::domain::Domain;
use crate::error::{Error, Result};
use crate::ids::ConnectionId;
use crate::millis::UnixMillis;
use crate::repo::{AccountRepo, ConnectionRepo, EventFeed, ListQuery, Order, Page, MAX_LIMIT};
use crate::secret::ClientSecret;
use crate::sign_in_store::{
    AccountWrite, SignInCommit, SignInItem, SignInKind, SignInOp, SignInStore,
};

const KIND: &str = "connection";
const CLIENT_SECRET: &str = "oidc.client_secret";
const SIGN_IN_KIND: &str = "sign_in";
const PAYLOAD: &str = "payload";
/// How a test run's payload is named where it cannot be opened.
const TEST_RUN_PAYLOAD: &str = "test_run.payload";

/// A store whose secret fields (the OIDC client secret, and the payload of a connection's
/// test runs) are sealed with a [`Keyring`] before the inner store sees them, and opened
/// on the way back. Everything else passes through unchanged, so every rule and every
/// index of the inner store still applies.
///
/// ```
/// use enterprise_sso::crypto::{Encrypted, Keyring};
/// use enterprise_sso::{Connections, ConnectionRepo, CreateConnection, OidcPatch, Provider};
/// use enterprise_sso_memory::MemoryRepo;
/// # futures_executor::block_on(async {
/// let store = Encrypted::new(MemoryRepo::new(), Keyring::new("k1", [7u8; 32]).unwrap());
/// let svc = Connections::new(store);
/// let params = CreateConnection::new(Provider::OidcCustom, "Acme").domains(["acme.com"])
///     .oidc(OidcPatch::default().client_id("c").client_secret("s3cr3t"));
/// let c = svc.create(&params).await.unwrap();
/// // The service sees the secret; the inner store holds only ciphertext.
/// let mine = svc.get(&c.id).await.unwrap();
/// assert_eq!(mine.oidc().unwrap().client_secret.as_ref().unwrap().expose_secret(), "s3cr3t");
/// let raw = svc.repo().inner().get(&c.id).await.unwrap().unwrap();
/// assert!(!raw.oidc().unwrap().client_secret.as_ref().unwrap().expose_secret().contains("s3cr3t"));
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct Encrypted<S> {
    inner: S,
    ring: Arc<Keyring>,
    accept_plain: bool,
}

/// A connection whose stored secret cannot be opened (never the value itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableSecret {
    /// The connection.
    pub id: ConnectionId,
    /// The field (`oidc.client_secret`).
    pub field: &'static str,
    /// Why it cannot be opened.
    pub error: CryptoError,
}

impl From<UnreadableSecret> for Error {
    fn from(u: UnreadableSecret) -> Error {
        Error::UnreadableSecret {
            id: u.id,
            field: u.field,
            source: u.error,
        }
    }
}

/// What [`Encrypted::reencrypt_all`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReencryptReport {
    /// Connections read.
    pub examined: u64,
    /// Connections rewritten under the active key (their secret was under an older key, or
    /// plain text when plain values are accepted).
    pub rewritten: u64,
    /// Connections whose secret could not be opened, so could not be moved: the run went
    /// on past each. Until they are repaired ([`Encrypted::replace_secret`]) or deleted,
    /// the keys they name cannot be retired.
    pub unreadable: Vec<UnreadableSecret>,
    /// Connection test runs whose payload was rewritten under the active key. A run that
    /// does not open is reported in [`ReencryptReport::unreadable`] (field
    /// `test_run.payload`) and left as it is, to expire with its retention.
    pub test_runs_rewritten: u64,
}

/// What [`Encrypted::check_secrets`] found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecretCheck {
    /// Connections read.
    pub examined: u64,
    /// Connections with a secret, every one opened.
    pub secrets: u64,
    /// Every connection whose secret could not be opened, in id order.
    pub unreadable: Vec<UnreadableSecret>,
}

impl<S> Encrypted<S> {
    /// `inner`, sealed with `ring`. Reads of values sealed with a key that is not in the
    /// ring fail with [`CryptoError::UnknownKey`]; use [`Encrypted::check_keys`] to find
    /// them all at start-up.
    pub fn new(inner: S, ring: Keyring) -> Self {
        Encrypted {
            inner,
            ring: Arc::new(ring),
            accept_plain: false,
        }
    }

    /// This store, also reading plain values (written before a ring was configured) as
    /// the secret. Only for the migration to a ring: [`Encrypted::reencrypt_all`] through
    /// it seals them; afterwards use [`Encrypted::new`], which refuses a plain value where
    /// a sealed one belongs ([`CryptoError::PlainValue`]: a downgrade by whoever can write
    /// to the store).
    pub fn accepting_plain_values(mut self) -> Self {
        self.accept_plain = true;
        self
    }

    /// The inner store (which holds sealed values).
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The key ring.
    pub fn keyring(&self) -> &Keyring {
        &self.ring
    }

    fn seal_conn(&self, c: &EnterpriseConnection) -> Result<EnterpriseConnection> {
        let mut out = c.clone();
        if let ProtocolConfig::Oidc(o) = &mut out.config {
            if let Some(s) = &o.client_secret {
                let sealed = seal(
                    &self.ring,
                    KIND,
                    c.id.as_str(),
                    CLIENT_SECRET,
                    s.expose_secret(),
                )
                .map_err(Error::Crypto)?;
                o.client_secret = Some(ClientSecret::new(sealed));
            }
        }
        Ok(out)
    }

    /// Opens one stored secret of connection `id`.
    fn open_secret(
        &self,
        id: &ConnectionId,
        stored: &str,
    ) -> std::result::Result<zeroize::Zeroizing<String>, UnreadableSecret> {
        let unreadable = |error| UnreadableSecret {
            id: id.clone(),
            field: CLIENT_SECRET,
            error,
        };
        match self
            .open_stored(KIND, id.as_str(), CLIENT_SECRET, stored.as_bytes())
            .map_err(unreadable)?
        {
            Some(plain) => String::from_utf8(plain.to_vec())
                .map(zeroize::Zeroizing::new)
                .map_err(|_| unreadable(CryptoError::Malformed)),
            None => Ok(zeroize::Zeroizing::new(stored.to_owned())),
        }
    }

    /// Opens a stored value of `field` of record `record_id` (of `kind`): the plain bytes,
    /// or `None` for a value stored in plain text, which only a store accepting plain
    /// values reads ([`Encrypted::accepting_plain_values`]); otherwise it is a refused
    /// downgrade ([`CryptoError::PlainValue`]). Client secrets and test runs share this
    /// rule.
    fn open_stored(
        &self,
        kind: &str,
        record_id: &str,
        field: &str,
        stored: &[u8],
    ) -> std::result::Result<Option<zeroize::Zeroizing<Vec<u8>>>, CryptoError> {
        match open_bytes(Some(&self.ring), kind, record_id, field, stored)? {
            None if !self.accept_plain => Err(CryptoError::PlainValue),
            opened => Ok(opened),
        }
    }

    fn open_conn(&self, mut c: EnterpriseConnection) -> Result<EnterpriseConnection> {
        let id = c.id.clone();
        if let ProtocolConfig::Oidc(o) = &mut c.config {
            if let Some(s) = &o.client_secret {
                let plain = self.open_secret(&id, s.expose_secret())?;
                o.client_secret = Some(ClientSecret::new(plain.as_str()));
            }
        }
        Ok(c)
    }

    /// Opens every connection of a listing; the first one that does not open fails it,
    /// naming that connection (module docs: why a listing does not leave it out).
    fn open_all(&self, items: Vec<EnterpriseConnection>) -> Result<Vec<EnterpriseConnection>> {
        items.into_iter().map(|c| self.open_conn(c)).collect()
    }
}

fn is_sealed_under(stored: &str, key: &str) -> bool {
    key_id_of(stored) == Some(key)
}

/// The key id a stored connection's secret is sealed with (`None`: plain, or no secret).
fn stored_key_id(c: &EnterpriseConnection) -> Option<Option<String>> {
    c.oidc()
        .and_then(|o| o.client_secret.as_ref())
        .map(|s| key_id_of(s.expose_secret()).map(str::to_owned))
}

impl<S: ConnectionRepo> Encrypted<S> {
    /// Walks the whole store (in pages of at most 500) and fails with
    /// [`CryptoError::UnknownKey`] naming the first key id that is not in the ring, so a
    /// host can refuse to start rather than fail on the first read of such a record.
    pub async fn check_keys(&self) -> Result<u64> {
        let mut n = 0;
        self.walk(MAX_LIMIT, |c| {
            n += 1;
            match stored_key_id(c) {
                Some(Some(k)) if self.ring.key(&k).is_none() => {
                    Err(Error::Crypto(CryptoError::UnknownKey { key_id: k }))
                }
                _ => Ok(()),
            }
        })
        .await?;
        Ok(n)
    }

    async fn walk(
        &self,
        batch: usize,
        mut each: impl FnMut(&EnterpriseConnection) -> Result<()>,
    ) -> Result<()> {
        let mut q = ListQuery {
            order: Order::Asc,
            limit: batch.clamp(1, MAX_LIMIT),
            ..ListQuery::default()
        };
        loop {
            let page = self.inner.list(&q).await?;
            for c in &page.items {
                each(c)?;
            }
            match page.next_cursor {
                Some(next) => q.after = Some(next),
                None => return Ok(()),
            }
        }
    }

    /// Opens every stored secret (in pages of at most 500) and lists each connection whose
    /// secret does not open, with why: its key is not in the ring, it does not decrypt for
    /// its record (damaged, or copied from another), it is malformed, or it is a refused
    /// plain value. Unlike [`Encrypted::check_keys`], which only looks at key ids, this
    /// finds every record a read would fail on. Fails only if the store does.
    pub async fn check_secrets(&self) -> Result<SecretCheck> {
        let mut check = SecretCheck::default();
        self.walk(MAX_LIMIT, |c| {
            check.examined += 1;
            if let Some(s) = c.oidc().and_then(|o| o.client_secret.as_ref()) {
                match self.open_secret(&c.id, s.expose_secret()) {
                    Ok(_) => check.secrets += 1,
                    Err(u) => check.unreadable.push(u),
                }
            }
            Ok(())
        })
        .await?;
        Ok(check)
    }

    /// Replaces the stored secret of connection `id` without reading the old one (which
    /// may not open: this is how a record [`Encrypted::check_secrets`] lists is repaired),
    /// sealed with the active key; `None` removes it. A compare-and-swap at `version + 1`
    /// with `updated_at = now`; returns the connection as stored now, opened.
    ///
    /// Errors: [`Error::NotFound`]; [`Error::InvalidArgument`] for a connection that is
    /// not OIDC; a concurrent writer's [`Error::VersionConflict`].
    pub async fn replace_secret(
        &self,
        id: &ConnectionId,
        secret: Option<&ClientSecret>,
        now: i64,
    ) -> Result<EnterpriseConnection> {
        let stored = self
            .inner
            .get(id)
            .await?
            .ok_or_else(|| Error::not_found(id))?;
        let mut next = stored.clone();
        let ProtocolConfig::Oidc(o) = &mut next.config else {
            return Err(Error::InvalidArgument {
                argument: "id",
                reason: "the connection is not OIDC: it has no client secret",
            });
        };
        o.client_secret = secret.cloned();
        next.version = stored.version + 1;
        next.updated_at = UnixMillis::new(now);
        let sealed = self.seal_conn(&next)?;
        self.inner.update(&sealed, stored.version).await?;
        Ok(next)
    }
}

impl<S: ConnectionRepo + SignInStore> Encrypted<S> {
    /// Moves every secret to the active key: connections whose secret is sealed with an
    /// older key (or plain text, through [`Encrypted::accepting_plain_values`]) are
    /// rewritten (compare-and-swap, `version + 1`, `updated_at` kept), `batch`
    /// connections per page read (1..=500). A connection changed meanwhile is read again.
    /// A connection whose secret does not open is left as it is and reported
    /// ([`ReencryptReport::unreadable`]); the run goes on past it. Each connection's test
    /// runs, whose payloads the ring seals too, are moved the same way
    /// ([`ReencryptReport::test_runs_rewritten`]). Safe to run while the store is in use,
    /// and again after an interruption.
    pub async fn reencrypt_all(&self, batch: usize) -> Result<ReencryptReport> {
        let mut report = ReencryptReport::default();
        let mut q = ListQuery {
            order: Order::Asc,
            limit: batch.clamp(1, MAX_LIMIT),
            ..ListQuery::default()
        };
        let active = self.ring.active_id().as_str().to_owned();
        loop {
            let page = self.inner.list(&q).await?;
            for c in page.items {
                report.examined += 1;
                self.reencrypt_test_runs(&c.id, &mut report).await?;
                let mut stored = c;
                loop {
                    match stored_key_id(&stored) {
                        None => break,
                        Some(Some(k)) if k == active => break,
                        Some(_) => {}
                    }
                    let opened = match self.open_conn(stored.clone()) {
                        Ok(c) => c,
                        Err(Error::UnreadableSecret { id, field, source }) => {
                            report.unreadable.push(UnreadableSecret {
                                id,
                                field,
                                error: source,
                            });
                            break;
                        }
                        Err(e) => return Err(e),
                    };
                    let mut next = self.seal_conn(&opened)?;
                    next.version = stored.version + 1;
                    match self.inner.update(&next, stored.version).await {
                        Ok(()) => {
                            report.rewritten += 1;
                            break;
                        }
                        Err(Error::VersionConflict { .. }) => {
                            match self.inner.get(&stored.id).await? {
                                Some(now) => stored = now,
                                None => break,
                            }
                        }
                        Err(Error::NotFound { .. }) => break,
                        Err(e) => return Err(e),
                    }
                }
            }
            match page.next_cursor {
                Some(next) => q.after = Some(next),
                None => return Ok(report),
            }
        }
    }

    /// Moves the test runs of connection `id` to the active key: each one sealed under
    /// another key (or plain, when plain values are accepted) is opened, sealed again and
    /// swapped in one batch (take, then put). A run taken meanwhile (it finished and was
    /// written again, under the active key) is left alone.
    async fn reencrypt_test_runs(
        &self,
        id: &ConnectionId,
        report: &mut ReencryptReport,
    ) -> Result<()> {
        let now = UnixMillis::now();
        let active = self.ring.active_id().as_str();
        for stored in self
            .inner
            .list_sign_ins(SignInKind::TestRun, id, now)
            .await?
        {
            let under = std::str::from_utf8(&stored.payload)
                .ok()
                .and_then(key_id_of);
            if under == Some(active) {
                continue;
            }
            let opened = match self.open_item(stored.clone()) {
                Ok(item) => item,
                Err(Error::Crypto(error)) => {
                    report.unreadable.push(UnreadableSecret {
                        id: id.clone(),
                        field: TEST_RUN_PAYLOAD,
                        error,
                    });
                    continue;
                }
                Err(e) => return Err(e),
            };
            let ops = [
                SignInOp::Take {
                    kind: SignInKind::TestRun,
                    key: stored.key.clone(),
                },
                SignInOp::Put(self.seal_item(&opened)?.into_owned()),
            ];
            if self.inner.commit_sign_ins(&ops, None, now).await?.is_ok() {
                report.test_runs_rewritten += 1;
            }
        }
        Ok(())
    }
}

#[async_trait]
impl<S: ConnectionRepo> ConnectionRepo for Encrypted<S> {
    async fn insert(&self, conn: &EnterpriseConnection) -> Result<()> {
        self.inner.insert(&self.seal_conn(conn)?).await
    }

    async fn get(&self, id: &ConnectionId) -> Result<Option<EnterpriseConnection>> {
        self.inner
            .get(id)
            .await?
            .map(|c| self.open_conn(c))
            .transpose()
    }

    /// Seals the secret afresh only when it changed: an unchanged secret keeps its stored
    /// ciphertext, so the store (and its change feed) sees no change there.
    async fn update(&self, conn: &EnterpriseConnection, expected_version: u64) -> Result<()> {
        let mut sealed = self.seal_conn(conn)?;
        if let (Some(stored), Some(mine)) = (
            self.inner.get(&conn.id).await?,
            conn.oidc().and_then(|o| o.client_secret.as_ref()),
        ) {
            if stored.version == expected_version {
                if let Some(s) = stored.oidc().and_then(|o| o.client_secret.as_ref()) {
                    let same = open(
                        Some(&self.ring),
                        KIND,
                        conn.id.as_str(),
                        CLIENT_SECRET,
                        s.expose_secret(),
                    )
                    .is_ok_and(|p| ClientSecret::new(p.as_str()).ct_eq(mine));
                    if same && is_sealed_under(s.expose_secret(), self.ring.active_id().as_str()) {
                        if let ProtocolConfig::Oidc(o) = &mut sealed.config {
                            o.client_secret = Some(s.clone());
                        }
                    }
                }
            }
        }
        self.inner.update(&sealed, expected_version).await
    }

    async fn delete(&self, id: &ConnectionId, now: UnixMillis) -> Result<bool> {
        self.inner.delete(id, now).await
    }

    async fn list(&self, query: &ListQuery) -> Result<Page> {
        let page = self.inner.list(query).await?;
        Ok(Page {
            items: self.open_all(page.items)?,
            next_cursor: page.next_cursor,
            prev_cursor: page.prev_cursor,
        })
    }

    async fn find_by_domain(&self, domain: &Domain) -> Result<Option<EnterpriseConnection>> {
        self.inner
            .find_by_domain(domain)
            .await?
            .map(|c| self.open_conn(c))
            .transpose()
    }

    async fn certificates_expiring_before(
        &self,
        before: UnixMillis,
    ) -> Result<Vec<EnterpriseConnection>> {
        self.open_all(self.inner.certificates_expiring_before(before).await?)
    }

    async fn count(&self, query: &ListQuery) -> Result<u64> {
        self.inner.count(query).await
    }
}

#[async_trait]
impl<S: EventFeed> EventFeed for Encrypted<S> {
    async fn events_after(&self, position: u64, limit: usize) -> Result<crate::repo::FeedPage> {
        self.inner.events_after(position, limit).await
    }
    async fn prune_events_before(&self, before: UnixMillis) -> Result<u64> {
        self.inner.prune_events_before(before).await
    }
    async fn append_events(&self, events: &[crate::events::Event]) -> Result<()> {
        self.inner.append_events(events).await
    }
}

// Accounts hold no secret: every call goes to the store as it is.
crate::forward_account_repo!(impl[S: AccountRepo] for Encrypted<S>, |s| s.inner);

/// The sign-in records whose payload the ring seals: a connection's test runs, which keep
/// what the IdP sent (the raw SAML Response, the verified ID token and its claims) for an
/// admin to read, and cannot be hashed. The other records need no ring: their keys are
/// hashes and they live minutes, and the flows seal the OIDC pending request (nonce, PKCE
/// verifier) under the `state` the browser holds.
fn sealed_at_rest(kind: SignInKind) -> bool {
    matches!(kind, SignInKind::TestRun)
}

/// What a record's payload is bound to: a payload copied into another record (another
/// key, kind or connection) does not open.
fn record_id(item: &SignInItem) -> String {
    format!(
        "{}\u{0}{}\u{0}{}",
        item.kind.as_str(),
        item.key,
        item.connection_id.as_ref().map_or("", |c| c.as_str())
    )
}

impl<S> Encrypted<S> {
    fn seal_item<'a>(&self, item: &'a SignInItem) -> Result<Cow<'a, SignInItem>> {
        if !sealed_at_rest(item.kind) {
            return Ok(Cow::Borrowed(item));
        }
        let sealed = seal_bytes(
            &self.ring,
            SIGN_IN_KIND,
            &record_id(item),
            PAYLOAD,
            &item.payload,
        )
        .map_err(Error::Crypto)?;
        let mut out = item.clone();
        out.payload = sealed.into_bytes();
        Ok(Cow::Owned(out))
    }

    fn open_item(&self, mut item: SignInItem) -> Result<SignInItem> {
        if !sealed_at_rest(item.kind) {
            return Ok(item);
        }
        let opened = self
            .open_stored(SIGN_IN_KIND, &record_id(&item), PAYLOAD, &item.payload)
            .map_err(Error::Crypto)?;
        // `None`: written before the ring, read as it is while migrating.
        if let Some(plain) = opened {
            item.payload = plain.to_vec();
        }
        Ok(item)
    }

    fn seal_ops<'a>(&self, ops: &'a [SignInOp]) -> Result<Cow<'a, [SignInOp]>> {
        if !ops
            .iter()
            .any(|op| matches!(op, SignInOp::Put(i) if sealed_at_rest(i.kind)))
        {
            return Ok(Cow::Borrowed(ops));
        }
        ops.iter()
            .map(|op| match op {
                SignInOp::Put(i) => Ok(SignInOp::Put(self.seal_item(i)?.into_owned())),
                other => Ok(other.clone()),
            })
            .collect::<Result<Vec<_>>>()
            .map(Cow::Owned)
    }

    fn open_commit(&self, commit: SignInCommit) -> Result<SignInCommit> {
        match commit {
            Ok(taken) => Ok(Ok(taken
                .into_iter()
                .map(|i| self.open_item(i))
                .collect::<Result<Vec<_>>>()?)),
            Err(conflict) => Ok(Err(conflict)),
        }
    }
}

// Sign-in records pass through, but for the payloads [`sealed_at_rest`] names.
#[async_trait]
impl<S: SignInStore> SignInStore for Encrypted<S> {
    async fn put_sign_in(&self, item: &SignInItem, now: UnixMillis) -> Result<bool> {
        let item = self.seal_item(item)?;
        self.inner.put_sign_in(&item, now).await
    }

    async fn take_sign_in(
        &self,
        kind: SignInKind,
        key: &str,
        now: UnixMillis,
    ) -> Result<Option<SignInItem>> {
        let found = self.inner.take_sign_in(kind, key, now).await?;
        found.map(|i| self.open_item(i)).transpose()
    }

    async fn get_sign_in(
        &self,
        kind: SignInKind,
        key: &str,
        now: UnixMillis,
    ) -> Result<Option<SignInItem>> {
        let found = self.inner.get_sign_in(kind, key, now).await?;
        found.map(|i| self.open_item(i)).transpose()
    }

    async fn sweep_sign_ins(&self, now: UnixMillis) -> Result<u64> {
        self.inner.sweep_sign_ins(now).await
    }

    async fn list_sign_ins(
        &self,
        kind: SignInKind,
        connection_id: &ConnectionId,
        now: UnixMillis,
    ) -> Result<Vec<SignInItem>> {
        self.inner
            .list_sign_ins(kind, connection_id, now)
            .await?
            .into_iter()
            .map(|i| self.open_item(i))
            .collect()
    }

    async fn commit_sign_ins(
        &self,
        ops: &[SignInOp],
        account: Option<&AccountWrite>,
        now: UnixMillis,
    ) -> Result<SignInCommit> {
        let ops = self.seal_ops(ops)?;
        let commit = self.inner.commit_sign_ins(&ops, account, now).await?;
        self.open_commit(commit)
    }

    async fn commit_pending(&self, ops: &[SignInOp], now: UnixMillis) -> Result<SignInCommit> {
        let ops = self.seal_ops(ops)?;
        let commit = self.inner.commit_pending(&ops, now).await?;
        self.open_commit(commit)
    }
}
