//! The OIDC callback of a sign-in in one durable write, as the hosted ACS does
//! (`hosted_commit`). Step by step, a callback commits twice: the pending state taken,
//! then the account written (an fsync each on SQLite). Here the pending state is read and
//! checked first (the same rules), the code exchanged and the ID token verified, and then
//! the state's take and the account write (with its `authentication.sso_succeeded`
//! event) are one [`crate::SignInStore::commit_sign_ins`], all or nothing. The hosted
//! flow's callback adds the client's authorization request (taken) and the code it gets
//! (stored) to the same commit: one instead of four.
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

use super::client_code::{client_code, client_redirect};
use super::hosted::HostedSettings;
use super::hosted_flow::{oidc_key, HostedRedirect, Pending as ClientRequest};
use super::oidc::{exchange, refused, OidcAnswer, OidcSettings, OidcSignIn, Pending};
use super::pending::{same_browser, BoundToBrowser};
use crate::{Flows, OidcSignInRefusal};
use enterprise_sso::{
    sign_in_key, Committed, ConnectionId, Result, SignIn, SignInKind, SignInOp, Store, UnixMillis,
};

/// What the hosted flow's callback needs beyond a sign-in: where codes are kept and the
/// code's randomness.
pub(super) struct HostedPart<'a> {
    /// The hosted flow's settings (the code's lifetime).
    pub(super) settings: &'a HostedSettings,
    /// 32 bytes from a CSPRNG: the code.
    pub(super) random: [u8; 32],
}

impl<R: Store> Flows<R> {
    /// [`Flows::oidc_finish`] in one commit: `Ok(None)` when the callback or its
    /// pending request does not fit (nothing was written or sent; the caller goes step by
    /// step).
    pub(super) async fn oidc_finish_commit(
        &self,
        settings: &OidcSettings,
        id: &ConnectionId,
        query: &str,
        browser: Option<&str>,
    ) -> Result<Option<OidcSignIn>> {
        Ok(self
            .oidc_commit(settings, id, query, browser, None)
            .await?
            .map(|(done, _)| done))
    }

    /// The hosted flow's callback in one commit (with the client's request and its code):
    /// `Ok(None)` as [`Flows::oidc_finish_commit`], also when the client's request
    /// is not there.
    pub(super) async fn hosted_oidc_commit(
        &self,
        settings: &OidcSettings,
        id: &ConnectionId,
        query: &str,
        browser: Option<&str>,
        hosted: HostedPart<'_>,
    ) -> Result<Option<HostedRedirect>> {
        Ok(self
            .oidc_commit(settings, id, query, browser, Some(hosted))
            .await?
            .and_then(|(_, redirect)| redirect))
    }

    async fn oidc_commit(
        &self,
        settings: &OidcSettings,
        id: &ConnectionId,
        query: &str,
        browser: Option<&str>,
        hosted: Option<HostedPart<'_>>,
    ) -> Result<Option<(OidcSignIn, Option<HostedRedirect>)>> {
        let rp = self.relying_party(settings, id).await?;
        let now = self.now_ms();
        let Ok(CallbackOutcome::Code(callback)) = rp.read_callback(query) else {
            return Ok(None);
        };
        let key = sign_in_key(callback.state.expose_secret());
        let Some(item) = self
            .svc
            .repo()
            .get_sign_in(SignInKind::OidcState, &key, UnixMillis::new(now))
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
        let mut takes = vec![key.clone()];
        let client = match &hosted {
            None => None,
            Some(_) => {
                let client_key = oidc_key(callback.state.expose_secret());
                let Some(request) = self
                    .svc
                    .repo()
                    .get_sign_in(SignInKind::HostedRequest, &client_key, UnixMillis::new(now))
                    .await?
                    .filter(|i| i.connection_id.as_ref() == Some(id))
                    .and_then(|i| serde_json::from_slice::<ClientRequest>(&i.payload).ok())
                else {
                    return Ok(None);
                };
                takes.push(client_key);
                Some(request)
            }
        };
        // From here a refusal uses the state up before it is returned.
        let answer = exchange(settings, &rp, id, &callback, &pending, now).await;
        let (identity, assertion) = match answer {
            Ok(OidcAnswer::Verified {
                identity,
                assertion,
                ..
            }) => (identity, assertion),
            Ok(OidcAnswer::Refused(r)) => return self.use_up(&takes, now, Err(refused(r))).await,
            Err(e) => return self.use_up(&takes, now, Err(e)).await,
        };
        let (conn, who) = match self.svc.check_sign_in(id, &assertion).await {
            Ok(checked) => checked,
            Err(e) => return self.use_up(&takes, now, Err(e)).await,
        };
        let kinds = [SignInKind::OidcState, SignInKind::HostedRequest];
        let take: Vec<SignInOp> = kinds
            .into_iter()
            .zip(&takes)
            .map(|(kind, key)| SignInOp::Take {
                kind,
                key: key.clone(),
            })
            .collect();
        let extra = |sign_in: &SignIn, now: i64| match (&hosted, &client) {
            (Some(h), Some(client)) => {
                // The claims as the provider typed them (WorkOS's raw_attributes).
                let raw = identity.claims.clone().into_iter().collect();
                client_code(h.settings, client, h.random, sign_in, raw, now)
            }
            _ => Ok(None),
        };
        match self.svc.commit_sign_in(conn, &who, &take, extra).await? {
            Committed::Done(sign_in, code) => {
                let redirect = client_redirect(code, client, id);
                Ok(Some((
                    OidcSignIn {
                        sign_in: *sign_in,
                        identity: *identity,
                    },
                    redirect,
                )))
            }
            // Another callback with this state committed first.
            Committed::Conflict => Err(refused(OidcSignInRefusal::UnknownState)),
            Committed::Refused(e) => self.use_up(&takes, self.now_ms(), Err(e)).await,
        }
    }

    /// Takes the pending state, and the client's request riding on it, under `keys` (used
    /// up, whatever they held), then gives `outcome`.
    async fn use_up<T>(&self, keys: &[String], now: i64, outcome: Result<T>) -> Result<T> {
        let kinds = [SignInKind::OidcState, SignInKind::HostedRequest];
        for (kind, key) in kinds.into_iter().zip(keys) {
            self.svc
                .repo()
                .take_sign_in(kind, key, UnixMillis::new(now))
                .await?;
        }
        outcome
    }
}
