//! The ACS in one durable write. A sign-in at the ACS takes the pending SAML request,
//! remembers the assertion ID and writes the account (with its
//! `authentication.sso_succeeded` event); the hosted flow also takes the client's
//! authorization request and stores the client's code. Each of these on its own is a
//! commit (an fsync on SQLite), so here they are first read and checked (the same rules,
//! in the core), then written together by one [`crate::SignInStore::commit_sign_ins`],
//! all or nothing.
//!
//! Only a sign-in that passes every rule goes this way. Anything else (a rule refused, a
//! record missing, one taken meanwhile by a concurrent ACS) has written nothing, and the
//! caller runs the step-by-step flow, which takes the pending request whatever follows,
//! remembers the assertion and gives the typed refusal, exactly as before.

use super::client_code::{client_code, client_redirect};
use super::hosted::HostedSettings;
use super::hosted_flow::{
    idp_initiated_target, saml_key, saml_raw_attributes, HostedRedirect, IdpInitiatedClient,
    Pending as ClientRequest,
};
use super::saml::{assertion_of, replay_item, usable_saml_request};
use crate::Flows;
use enterprise_sso::{
    sign_in_key, Committed, EnterpriseConnection, Result, SignIn, SignInKind, SignInOp, Store,
    UnixMillis,
};
use enterprise_sso_protocol::saml::sp::VerifiedAssertion;

/// What the hosted ACS adds to a sign-in's commit.
pub(super) struct HostedSaml<'a> {
    /// The hosted flow's settings (the code's lifetime).
    pub(super) settings: &'a HostedSettings,
    /// Where an unsolicited Response's code goes, when the connection allows them.
    pub(super) idp_initiated: Option<&'a IdpInitiatedClient>,
    /// 32 bytes from a CSPRNG: the code.
    pub(super) random: [u8; 32],
}

/// A sign-in committed at the ACS in one write.
pub(super) struct SamlCommitted {
    /// The recorded sign-in.
    pub(super) sign_in: SignIn,
    /// The RelayState given at the start (SP-initiated), or the one posted (unsolicited).
    pub(super) relay_state: Option<String>,
    /// The hosted flow's redirect with the client's code.
    pub(super) redirect: Option<HostedRedirect>,
}

impl<R: Store> Flows<R> {
    /// The ACS of a sign-in that passes every rule, in one commit: `Ok(None)` when
    /// anything does not fit (nothing was written; the caller goes step by step).
    /// `relay_state` is the posted one; `hosted` adds the client's request and code.
    /// `conn` is the connection as read to verify the Response.
    pub(super) async fn saml_commit(
        &self,
        conn: EnterpriseConnection,
        browser: Option<&str>,
        relay_state: Option<&str>,
        verified: &VerifiedAssertion,
        hosted: Option<HostedSaml<'_>>,
    ) -> Result<Option<SamlCommitted>> {
        let id = &conn.id.clone();
        let now = self.now_ms();
        let replay = SignInOp::Put(replay_item(id, verified, now));
        let (ops, relay_state, client) = match &verified.in_response_to {
            Some(request_id) => {
                let request_key = sign_in_key(request_id);
                let request = self
                    .svc
                    .repo()
                    .get_sign_in(SignInKind::SamlRequest, &request_key, UnixMillis::new(now))
                    .await?;
                let Some(started_with) =
                    request.and_then(|r| usable_saml_request(&r, id, browser, verified))
                else {
                    return Ok(None);
                };
                let mut ops = vec![
                    SignInOp::Take {
                        kind: SignInKind::SamlRequest,
                        key: request_key,
                    },
                    replay,
                ];
                let client = match &hosted {
                    None => None,
                    Some(_) => {
                        let client_key = saml_key(request_id);
                        let Some(client) = self
                            .svc
                            .repo()
                            .get_sign_in(
                                SignInKind::HostedRequest,
                                &client_key,
                                UnixMillis::new(now),
                            )
                            .await?
                            .filter(|i| i.connection_id.as_ref() == Some(id))
                            .and_then(|c| serde_json::from_slice::<ClientRequest>(&c.payload).ok())
                        else {
                            return Ok(None);
                        };
                        ops.push(SignInOp::Take {
                            kind: SignInKind::HostedRequest,
                            key: client_key,
                        });
                        Some(client)
                    }
                };
                (ops, started_with, client)
            }
            None => {
                if verified.expect_unsolicited().is_err() {
                    return Ok(None);
                }
                let client = match &hosted {
                    None => None,
                    Some(h) => match idp_initiated_target(h.idp_initiated, relay_state) {
                        Ok(client) => Some(client),
                        Err(_) => return Ok(None),
                    },
                };
                (vec![replay], relay_state.map(str::to_owned), client)
            }
        };
        let Ok((conn, who)) = self
            .svc
            .check_sign_in_of(conn, &assertion_of(verified))
            .await
        else {
            return Ok(None);
        };
        let extra = |sign_in: &SignIn, now: i64| match (&hosted, &client) {
            (Some(h), Some(client)) => {
                let raw = saml_raw_attributes(verified);
                client_code(h.settings, client, h.random, sign_in, raw, now)
            }
            _ => Ok(None),
        };
        match self.svc.commit_sign_in(conn, &who, &ops, extra).await? {
            Committed::Done(sign_in, code) => {
                let redirect = client_redirect(code, client, id);
                Ok(Some(SamlCommitted {
                    sign_in: *sign_in,
                    relay_state,
                    redirect,
                }))
            }
            Committed::Conflict | Committed::Refused(_) => Ok(None),
        }
    }
}
