//! Sign-in: recording that a connection's IdP vouched for a user, creating or finding the
//! enterprise account.

use super::retry::retry_on_conflict;
use super::Connections;
use crate::account::{
    map_assertion, Assertion, EnterpriseAccount, MappedIdentity, SignInRefusal, Verification,
};
use crate::connection::EnterpriseConnection;
use crate::error::{Error, Result};
use crate::ids::{AccountId, ConnectionId};
use crate::millis::UnixMillis;
use crate::repo::Store;
use crate::sign_in_store::AccountWrite;

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
    /// The connection must exist and be active; the assertion is mapped by the
    /// connection's attribute mapping (which also checks the email's domain). The account
    /// is created on the first sign-in and found again by (connection, provider user id)
    /// afterwards; with `sync_user_attributes` on, email and names are refreshed from the
    /// IdP on every sign-in, with it off they keep their first values.
    /// `last_authenticated_at` is set, and the connection's first sign-in moves it from
    /// `validating` to `active` (once, through the CAS path). A connection that is not
    /// `authenticatable` refuses every sign-in; with `disable_jit_provisioning` only users
    /// who already have an account sign in. A refused sign-in
    /// ([`Error::SignInRefused`]) writes nothing.
    pub async fn record_sign_in(
        &self,
        connection_id: &ConnectionId,
        assertion: &Assertion,
    ) -> Result<SignIn> {
        let (conn, who) = self.check_sign_in(connection_id, assertion).await?;
        let subject_key = format!("{}\u{0}{}", conn.id, who.provider_user_id);
        let writing = crate::write_lock::lock(&subject_key).await;
        let who = &who;
        let conn_ref = &conn;
        let (account, created) = retry_on_conflict(
            self.max_retries,
            // Another sign-in of the same user got there first: start again.
            |e| {
                matches!(
                    e,
                    Error::AccountExists { .. } | Error::VersionConflict { .. }
                )
            },
            || async move { self.sign_in_once(conn_ref, who).await },
        )
        .await?;
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

    /// The checks of [`Connections::record_sign_in`] before its account write: the
    /// connection (active, authenticatable), the assertion mapped, and the tenant boundary.
    /// A flow that writes its sign-in with [`Connections::commit_sign_in`] calls this first.
    pub async fn check_sign_in(
        &self,
        connection_id: &ConnectionId,
        assertion: &Assertion,
    ) -> Result<(EnterpriseConnection, MappedIdentity)> {
        let conn = self.get(connection_id).await?;
        self.check_sign_in_of(conn, assertion).await
    }

    /// [`Connections::check_sign_in`] on a connection the caller has just read (the ACS
    /// reads it to verify the Response): one read fewer, the same rules.
    pub async fn check_sign_in_of(
        &self,
        conn: EnterpriseConnection,
        assertion: &Assertion,
    ) -> Result<(EnterpriseConnection, MappedIdentity)> {
        let connection_id = &conn.id;
        if !conn.active {
            return Err(Error::SignInRefused(SignInRefusal::ConnectionInactive));
        }
        if !conn.authenticatable {
            return Err(Error::SignInRefused(SignInRefusal::NotAuthenticatable));
        }
        let who = map_assertion(&conn, assertion).map_err(Error::SignInRefused)?;
        // Tenant boundary: the connection may vouch only for emails that routing sends to
        // it. A more specific claim by another connection (`eng.corp.com` beside a
        // `corp.com` that allows subdomains) takes those emails away from it.
        let routed = self.route_domain(who.email.domain()).await?;
        if routed.map(|c| c.id) != Some(conn.id.clone()) {
            // A connection deleted (or deactivated) since it was read routes nothing: say
            // so, rather than blame the email.
            let now = self.get(connection_id).await?;
            if !now.active {
                return Err(Error::SignInRefused(SignInRefusal::ConnectionInactive));
            }
            return Err(Error::SignInRefused(SignInRefusal::EmailOutsideDomains));
        }
        Ok((conn, who))
    }

    /// The account write of a sign-in at `now`: create the account, or update `found`
    /// (the one stored for this connection and provider user id). Whether it creates.
    pub(super) fn plan_account(
        conn: &EnterpriseConnection,
        who: &MappedIdentity,
        found: Option<&EnterpriseAccount>,
        now: i64,
    ) -> Result<(AccountWrite, bool)> {
        match found {
            None if conn.disable_jit_provisioning => {
                Err(Error::SignInRefused(SignInRefusal::JitProvisioningDisabled))
            }
            None => Ok((
                AccountWrite::Insert(EnterpriseAccount {
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
                    verification: Some(Verification::verified_by(conn)),
                    last_authenticated_at: Some(UnixMillis::new(now)),
                    created_at: UnixMillis::new(now),
                    updated_at: UnixMillis::new(now),
                    version: 1,
                }),
                true,
            )),
            Some(old) if !old.active => Err(Error::SignInRefused(SignInRefusal::AccountInactive)),
            Some(old) => {
                let mut a = old.clone();
                a.last_authenticated_at = Some(
                    UnixMillis::new(now)
                        .max(old.last_authenticated_at.unwrap_or(UnixMillis::new(now))),
                );
                if conn.sync_user_attributes {
                    a.email_address = who.email.to_string();
                    a.first_name = who.first_name.clone();
                    a.last_name = who.last_name.clone();
                }
                a.version = old.version + 1;
                a.updated_at = UnixMillis::new(now).max(old.updated_at);
                Ok((
                    AccountWrite::Update {
                        account: a,
                        expected_version: old.version,
                    },
                    false,
                ))
            }
        }
    }

    /// One attempt of the account write of a sign-in: create the account, or update the
    /// one found by (connection, provider user id).
    async fn sign_in_once(
        &self,
        conn: &EnterpriseConnection,
        who: &MappedIdentity,
    ) -> Result<(EnterpriseAccount, bool)> {
        let now = (self.clock)();
        let found = self
            .repo
            .find_account_by_subject(&conn.id, &who.provider_user_id)
            .await?;
        let (write, created) = Self::plan_account(conn, who, found.as_ref(), now)?;
        match &write {
            AccountWrite::Insert(a) => self.repo.insert_account(a).await?,
            AccountWrite::Update {
                account,
                expected_version,
            } => self.repo.update_account(account, *expected_version).await?,
        }
        let (AccountWrite::Insert(a) | AccountWrite::Update { account: a, .. }) = write;
        Ok((a, created))
    }
}
