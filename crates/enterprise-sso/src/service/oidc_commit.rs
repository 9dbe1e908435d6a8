//! The OIDC callback of a sign-in in one durable write, as the hosted ACS does
//! (`hosted_commit`). Step by step, a callback commits twice: the pending state taken,
//! then the account written (an fsync each on SQLite). Here the pending state is read and
//! checked first (the same rules), the code exchanged and the ID token verified, and then
//! the state's take and the account write (with its `authentication.sso_succeeded`
//! event) are one [`crate::SignInStore::commit_sign_ins`], all or nothing.
//!
//! The state is still used once whatever happens:
//! - a pending request that does not fit (unknown, another connection's, another
//!   browser's, a test run's) is left to the step-by-step flow, which takes it and gives
//!   the typed refusal; nothing has been sent to the provider;
//! - a refusal after the read (the exchange, the token, a sign-in rule) takes the state
//!   before it is returned;
//! - of two callbacks with one state, both may reach the provider (which accepts a code
//!   once), and only one commit takes the state: the other is refused as
//!   [`OidcSignInRefusal::UnknownState`] and writes nothing. When the provider refuses the
//!   code's second use before the first commits, that refusal uses the state up and
//!   neither signs in: at most one does, never two.

use enterprise_sso_protocol::oidc::rp::CallbackOutcome;

use super::oidc::{
    exchange, refused, OidcAnswer, OidcSettings, OidcSignIn, OidcSignInRefusal, Pending,
};
use super::pending::{same_browser, BoundToBrowser};
use super::{Connections, SignIn};
use crate::error::{Error, Result};
use crate::ids::ConnectionId;
use crate::millis::UnixMillis;
use crate::repo::Store;
use crate::sign_in_store::{sign_in_key, SignInKind, SignInOp};

impl<R: Store> Connections<R> {
    /// [`Connections::oidc_finish`] in one commit: `Ok(None)` when the callback or its
    /// pending request does not fit (nothing was written or sent; the caller goes step by
    /// step).
    pub(super) async fn oidc_finish_commit(
        &self,
        settings: &OidcSettings,
        id: &ConnectionId,
        query: &str,
        browser: Option<&str>,
    ) -> Result<Option<OidcSignIn>> {
        let rp = self.relying_party(settings, id).await?;
        let now = (self.clock)();
        let Ok(CallbackOutcome::Code(callback)) = rp.read_callback(query) else {
            return Ok(None);
        };
        let key = sign_in_key(callback.state.expose_secret());
        let Some(item) = self
            .repo
            .get_sign_in(SignInKind::OidcState, &key, now)
            .await?
        else {
            return Ok(None);
        };
        if item.connection_id.as_ref() != Some(id) {
            return Ok(None);
        }
        let Ok(pending) = serde_json::from_slice::<Pending>(&item.payload) else {
            return Ok(None);
        };
        if pending.test_run || !same_browser(browser, pending.browser_key()) {
            return Ok(None);
        }
        // From here a refusal uses the state up before it is returned.
        let answer = exchange(settings, &rp, id, &callback, &pending, now).await;
        let (identity, assertion) = match answer {
            Ok(OidcAnswer::Verified {
                identity,
                assertion,
                ..
            }) => (identity, assertion),
            Ok(OidcAnswer::Refused(r)) => return self.use_up(&key, now, Err(refused(r))).await,
            Err(e) => return self.use_up(&key, now, Err(e)).await,
        };
        let (conn, who) = match self.check_sign_in(id, &assertion).await {
            Ok(checked) => checked,
            Err(e) => return self.use_up(&key, now, Err(e)).await,
        };
        let take = [SignInOp::Take {
            kind: SignInKind::OidcState,
            key: key.clone(),
        }];
        let subject_key = format!("{}\u{0}{}", conn.id, who.provider_user_id);
        let writing = crate::write_lock::lock(&subject_key).await;
        let mut last = None;
        for _ in 0..=self.max_retries {
            let now = (self.clock)();
            let found = self
                .repo
                .find_account_by_subject(&conn.id, &who.provider_user_id)
                .await?;
            let (write, created) = match Self::plan_account(&conn, &who, found.as_ref(), now) {
                Ok(planned) => planned,
                Err(e) => {
                    drop(writing);
                    return self.use_up(&key, now, Err(e)).await;
                }
            };
            match self
                .repo
                .commit_sign_ins(&take, Some(&write), UnixMillis::new(now))
                .await
            {
                Ok(Ok(_)) => {
                    drop(writing);
                    let connection = if conn.first_authenticated_at.is_none() {
                        self.mark_authenticated(&conn.id).await?
                    } else {
                        conn
                    };
                    return Ok(Some(OidcSignIn {
                        sign_in: SignIn {
                            account: write.account().clone(),
                            created,
                            connection,
                        },
                        identity: *identity,
                    }));
                }
                // Another callback with this state committed first.
                Ok(Err(_)) => return Err(refused(OidcSignInRefusal::UnknownState)),
                // Another sign-in of the same user got there first: read it again.
                Err(e @ (Error::AccountExists { .. } | Error::VersionConflict { .. })) => {
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        drop(writing);
        let e = last.unwrap_or_else(|| Error::corrupt("no sign-in attempt was made"));
        self.use_up(&key, (self.clock)(), Err(e)).await
    }

    /// Takes the pending state under `key` (used up, whatever it held), then gives `outcome`.
    async fn use_up<T>(&self, key: &str, now: i64, outcome: Result<T>) -> Result<T> {
        self.repo
            .take_sign_in(SignInKind::OidcState, key, now)
            .await?;
        outcome
    }
}
