//! The hosted ACS in one durable write. A sign-in at the ACS takes the pending SAML
//! request, remembers the assertion ID, takes the client's authorization request, writes
//! the account (with its `authentication.sso_succeeded` event) and stores the code: each
//! of these on its own is a commit (an fsync on SQLite), so here they are first read and
//! checked (the same rules, in the core), then written together by one
//! [`crate::SignInStore::commit_sign_ins`], all or nothing.
//!
//! Only a sign-in that passes every rule goes this way. Anything else (a rule refused, a
//! record missing, one taken meanwhile by a concurrent ACS) has written nothing, and the
//! caller runs the step-by-step flow, which takes the pending request whatever follows,
//! remembers the assertion and gives the typed refusal, exactly as before.

use super::hosted::{code_item, HostedSettings, Profile};
use super::hosted_flow::{
    idp_initiated_target, saml_key, saml_raw_attributes, HostedRedirect, IdpInitiatedClient,
    Pending, SamlPost,
};
use super::saml::{assertion_of, replay_item, usable_saml_request};
use super::{Connections, SignIn};
use crate::error::{Error, Result};
use crate::ids::ConnectionId;
use crate::millis::UnixMillis;
use crate::repo::Store;
use crate::sign_in_store::{sign_in_key, SignInKind, SignInOp};
use enterprise_sso_protocol::saml::sp::VerifiedAssertion;

impl<R: Store> Connections<R> {
    /// The ACS of a sign-in that passes every rule, in one commit: `Ok(None)` when
    /// anything does not fit (nothing was written; the caller goes step by step).
    pub(super) async fn hosted_saml_commit(
        &self,
        settings: &HostedSettings,
        id: &ConnectionId,
        post: &SamlPost<'_>,
        verified: &VerifiedAssertion,
        idp_initiated: Option<&IdpInitiatedClient>,
        random: [u8; 32],
    ) -> Result<Option<HostedRedirect>> {
        let now = (self.clock)();
        let replay = SignInOp::Put(replay_item(id, verified, now));
        let (ops, pending) = match &verified.in_response_to {
            Some(request_id) => {
                let request_key = sign_in_key(request_id);
                let request = self
                    .repo
                    .get_sign_in(SignInKind::SamlRequest, &request_key, now)
                    .await?;
                let usable = request
                    .is_some_and(|r| usable_saml_request(&r, id, post.browser, verified).is_some());
                if !usable {
                    return Ok(None);
                }
                let client_key = saml_key(request_id);
                let client = self
                    .repo
                    .get_sign_in(SignInKind::HostedRequest, &client_key, now)
                    .await?
                    .filter(|i| i.connection_id.as_ref() == Some(id));
                let Some(pending) =
                    client.and_then(|c| serde_json::from_slice::<Pending>(&c.payload).ok())
                else {
                    return Ok(None);
                };
                let ops = vec![
                    SignInOp::Take {
                        kind: SignInKind::SamlRequest,
                        key: request_key,
                    },
                    replay,
                    SignInOp::Take {
                        kind: SignInKind::HostedRequest,
                        key: client_key,
                    },
                ];
                (ops, pending)
            }
            None => {
                if verified.expect_unsolicited().is_err() {
                    return Ok(None);
                }
                let Ok(pending) = idp_initiated_target(idp_initiated, post.relay_state) else {
                    return Ok(None);
                };
                (vec![replay], pending)
            }
        };
        let Ok((conn, who)) = self.check_sign_in(id, &assertion_of(verified)).await else {
            return Ok(None);
        };
        let raw = saml_raw_attributes(verified);
        let subject_key = format!("{}\u{0}{}", conn.id, who.provider_user_id);
        let writing = crate::write_lock::lock(&subject_key).await;
        for _ in 0..=self.max_retries {
            let now = (self.clock)();
            let found = self
                .repo
                .find_account_by_subject(&conn.id, &who.provider_user_id)
                .await?;
            let Ok((write, created)) = Self::plan_account(&conn, &who, found.as_ref(), now) else {
                return Ok(None);
            };
            let sign_in = SignIn {
                account: write.account().clone(),
                created,
                connection: conn.clone(),
            };
            let profile = Profile::of_sign_in(&sign_in, raw.clone());
            let Ok((code, item)) = code_item(settings, &pending.binding, &profile, random, now)
            else {
                return Ok(None);
            };
            let mut all = ops.clone();
            all.push(SignInOp::Put(item));
            match self
                .repo
                .commit_sign_ins(&all, Some(&write), UnixMillis::new(now))
                .await
            {
                Ok(Ok(_)) => {
                    drop(writing);
                    if conn.first_authenticated_at.is_none() {
                        self.mark_authenticated(&conn.id).await?;
                    }
                    return Ok(Some(HostedRedirect {
                        redirect_uri: pending.binding.redirect_uri,
                        code,
                        state: pending.state,
                        connection_id: id.clone(),
                        profile,
                    }));
                }
                Ok(Err(_)) => return Ok(None),
                // Another sign-in of the same user got there first: read it again.
                Err(Error::AccountExists { .. } | Error::VersionConflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }
}
