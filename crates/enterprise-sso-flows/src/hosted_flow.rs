//! The hosted sign-in flow around the SAML and OIDC engines: an authorization request of
//! the host's client starts a sign-in at the connection's IdP and is kept (hashed, in the
//! sign-in store, kind `hosted_request`) under the SAML request ID or the OIDC `state`;
//! the IdP's answer, once [`Flows::saml_finish`] / [`Flows::oidc_finish`]
//! accepted it, takes that request exactly once and turns the sign-in into a code for the
//! client's redirect URI. IdP-initiated SAML sign-ins go to the client the host names for
//! them, to its default redirect URI or to a registered one named in the RelayState
//! (`redirect_uri=…`, as WorkOS); any other RelayState is ignored, never followed.

use std::collections::BTreeMap;

use super::hosted::{
    check_code_challenge, refused, CodeBinding, HostedSettings, Profile, MAX_CLIENT_STATE_BYTES,
    MAX_RELAY_STATE_BYTES,
};
use super::oidc::OidcAnswer;
use super::oidc_commit::HostedPart;
use super::pending::{pending_item, PendingSlot};
use super::saml::SAML_REQUEST_LIVE;
use super::saml_commit::HostedSaml;
use crate::Flows;
use crate::{HostedRefusal, OidcSignInRefusal, OidcStart, SamlStart};
use enterprise_sso::{
    sign_in_key, ConnectionId, Error, ProtocolConfig, Result, SignInKind, Store, UnixMillis,
};
use enterprise_sso_protocol::oidc::rp::{OidcRefusal, ProviderErrorKind};

/// A client's authorization request (`GET /sso/authorize`), checked by the host against
/// its registered clients before it gets here.
#[derive(Debug, Clone, Copy)]
pub struct AuthorizationRequest<'a> {
    /// The client.
    pub client_id: &'a str,
    /// One of the client's registered redirect URIs (exact match, checked by the host).
    pub redirect_uri: &'a str,
    /// The client's `state`, echoed back (at most [`MAX_CLIENT_STATE_BYTES`]).
    pub state: Option<&'a str>,
    /// The PKCE S256 challenge.
    pub code_challenge: Option<&'a str>,
    /// `login_hint` for the IdP (OIDC).
    pub login_hint: Option<&'a str>,
    /// `domain_hint` for the IdP (OIDC).
    pub domain_hint: Option<&'a str>,
}

/// What arrives at a connection's ACS.
#[derive(Debug, Clone, Copy)]
pub struct SamlPost<'a> {
    /// The posted `SAMLResponse` (base64).
    pub saml_response: &'a str,
    /// The posted `RelayState`.
    pub relay_state: Option<&'a str>,
    /// The browser binding the request brought (its cookie), if any.
    pub browser: Option<&'a str>,
}

/// A client that takes IdP-initiated sign-ins.
#[derive(Debug, Clone)]
pub struct IdpInitiatedClient {
    /// The client.
    pub client_id: String,
    /// Its registered redirect URIs (a RelayState `redirect_uri=` must be one of them).
    pub redirect_uris: Vec<String>,
    /// Where an IdP-initiated sign-in goes without a RelayState naming one.
    pub default_redirect_uri: Option<String>,
}

/// Where the browser goes after a hosted sign-in: `redirect_uri?code=…&state=…`.
#[derive(Clone, PartialEq, Eq)]
pub struct HostedRedirect {
    /// The client's redirect URI.
    pub redirect_uri: String,
    /// The authorization code (secret until exchanged).
    pub code: String,
    /// The client's state, as sent.
    pub state: Option<String>,
    /// The connection signed in through.
    pub connection_id: ConnectionId,
    /// The signed-in user.
    pub profile: Profile,
}

impl std::fmt::Debug for HostedRedirect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostedRedirect")
            .field("redirect_uri", &self.redirect_uri)
            .field("code", &"<redacted>")
            .field("state", &self.state)
            .field("connection_id", &self.connection_id)
            .finish_non_exhaustive()
    }
}

/// Where the browser goes when the OIDC provider refused a sign-in the client asked for
/// (the user declined consent, the provider denied them): `redirect_uri?error=…&
/// error_description=…&state=…`, as WorkOS sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct HostedErrorRedirect {
    /// The client's redirect URI (the one its authorization request named).
    pub redirect_uri: String,
    /// WorkOS's error code: `access_denied` when the provider answered `access_denied`,
    /// `oauth_failed` for any other provider error.
    pub error: &'static str,
    /// The refusal in words (the provider's code and description, cut and cleaned).
    pub error_description: String,
    /// The client's state, as sent.
    pub state: Option<String>,
    /// The connection the sign-in went through.
    pub connection_id: ConnectionId,
    /// The typed reason (also in the `authentication.sso_failed` event).
    pub reason: OidcSignInRefusal,
}

/// How an OIDC callback ends for the client: signed in with a code, or refused by the
/// provider and sent back with an error.
#[derive(Debug, Clone, PartialEq)]
pub enum HostedOutcome {
    /// Signed in: the redirect with the code.
    SignedIn(HostedRedirect),
    /// The provider refused: the redirect with the error.
    Refused(HostedErrorRedirect),
}

/// WorkOS's code for a provider's refusal: `access_denied` ("IdP denied the user, or the
/// user declined OAuth consent"), else `oauth_failed` ("the OAuth request failed").
fn workos_error(r: &OidcRefusal) -> &'static str {
    match r {
        OidcRefusal::ProviderError {
            kind: ProviderErrorKind::AccessDenied,
            ..
        } => "access_denied",
        _ => "oauth_failed",
    }
}

/// A client's authorization request, as kept for the IdP's answer.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct Pending {
    /// What the code will be bound to.
    pub(super) binding: CodeBinding,
    /// The client's state, echoed back.
    pub(super) state: Option<String>,
}

/// The key of the client's request riding on SAML request `request_id`.
pub(super) fn saml_key(request_id: &str) -> String {
    sign_in_key(&format!("saml\u{0}{request_id}"))
}

pub(super) fn oidc_key(state: &str) -> String {
    sign_in_key(&format!("oidc\u{0}{state}"))
}

/// The `state` parameter of a URL or query string.
fn state_of(query: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
}

impl<R: Store> Flows<R> {
    /// Starts a hosted sign-in through connection `id`: the IdP URL to send the browser
    /// to. `browser` is the host's browser binding (a random cookie), `random` 64 bytes
    /// from a CSPRNG.
    pub async fn hosted_start(
        &self,
        settings: &HostedSettings,
        id: &ConnectionId,
        request: &AuthorizationRequest<'_>,
        browser: &str,
        random: [u8; 64],
    ) -> Result<String> {
        if let Some(s) = request.state {
            if s.len() > MAX_CLIENT_STATE_BYTES {
                return Err(refused(HostedRefusal::StateTooLong {
                    max: MAX_CLIENT_STATE_BYTES,
                    received: s.len(),
                }));
            }
        }
        if let Some(c) = request.code_challenge {
            check_code_challenge(c)?;
        }
        let conn = self.svc.get(id).await?;
        let (url, key, saml_request) = match &conn.config {
            ProtocolConfig::Saml(_) => {
                let mut r = [0u8; 32];
                r.copy_from_slice(&random[..32]);
                let s = settings.saml();
                let start = SamlStart {
                    browser,
                    relay_state: None,
                    random: r,
                };
                let (redirect, item) = self.saml_request_for(s, id, start, false).await?;
                (redirect.url, saml_key(&redirect.request_id), Some(item))
            }
            ProtocolConfig::Oidc(_) => {
                let oidc = settings.oidc().ok_or_else(|| {
                    Error::OidcRefused(Box::new(OidcSignInRefusal::NotConfigured {
                        missing: "the host's OIDC settings",
                    }))
                })?;
                let url = self
                    .oidc_start(
                        oidc,
                        id,
                        OidcStart {
                            browser,
                            login_hint: request.login_hint,
                            domain_hint: request.domain_hint,
                            random,
                        },
                    )
                    .await?;
                let state = url::Url::parse(&url)
                    .ok()
                    .and_then(|u| u.query().and_then(state_of))
                    .ok_or_else(|| Error::corrupt("the OIDC authorization URL has no state"))?;
                (url, oidc_key(&state), None)
            }
        };
        let now = self.now_ms();
        let payload = serde_json::to_vec(&Pending {
            binding: CodeBinding {
                client_id: request.client_id.to_owned(),
                redirect_uri: request.redirect_uri.to_owned(),
                code_challenge: request.code_challenge.map(str::to_owned),
            },
            state: request.state.map(str::to_owned),
        })
        .map_err(|_| Error::corrupt("an authorization request could not be encoded"))?;
        let slot = PendingSlot {
            kind: SignInKind::HostedRequest,
            key,
            id,
            ttl: settings.request_ttl,
        };
        const CLIENT_REQUEST_LIVE: &str = "the authorization request is already pending";
        // The SAML request (if any) and the client's request riding on it: one write, on
        // the pending path (`commit_pending`: a crash may lose it, which fails this sign-in).
        let mut items = Vec::with_capacity(2);
        if let Some(saml_request) = saml_request {
            items.push((saml_request, SAML_REQUEST_LIVE));
        }
        items.push((pending_item(slot, payload, now), CLIENT_REQUEST_LIVE));
        self.put_pending_items(items, now).await?;
        Ok(url)
    }

    /// Takes the authorization request kept under `key` for connection `id`.
    async fn take_authorization(&self, key: &str, id: &ConnectionId) -> Result<Pending> {
        let now = self.now_ms();
        let item = self
            .svc
            .repo()
            .take_sign_in(SignInKind::HostedRequest, key, UnixMillis::new(now))
            .await?
            .filter(|i| i.connection_id.as_ref() == Some(id))
            .ok_or_else(|| refused(HostedRefusal::NoAuthorizationRequest))?;
        serde_json::from_slice(&item.payload)
            .map_err(|_| Error::corrupt("an authorization request's payload"))
    }

    async fn redirect_with_code(
        &self,
        settings: &HostedSettings,
        id: &ConnectionId,
        pending: Pending,
        profile: Profile,
        random: [u8; 32],
    ) -> Result<HostedRedirect> {
        let code = self
            .issue_code(settings, &pending.binding, &profile, random)
            .await?;
        Ok(HostedRedirect {
            redirect_uri: pending.binding.redirect_uri,
            code,
            state: pending.state,
            connection_id: id.clone(),
            profile,
        })
    }

    /// [`Flows::hosted_saml_finish`] without its failure event.
    async fn hosted_saml_finish_inner(
        &self,
        settings: &HostedSettings,
        id: &ConnectionId,
        post: &SamlPost<'_>,
        idp_initiated: Option<&IdpInitiatedClient>,
        random: [u8; 32],
    ) -> Result<HostedRedirect> {
        let SamlPost {
            saml_response,
            relay_state,
            browser,
        } = *post;
        if let Some(rs) = relay_state {
            if rs.len() > MAX_RELAY_STATE_BYTES {
                return Err(refused(HostedRefusal::RelayStateTooLong {
                    max: MAX_RELAY_STATE_BYTES,
                    received: rs.len(),
                }));
            }
        }
        // Verified once: the one-commit path and the step-by-step one read the same result.
        let (verified, conn) = self.saml_verify(settings.saml(), id, saml_response).await?;
        let hosted = HostedSaml {
            settings,
            idp_initiated,
            random,
        };
        let committed = self
            .saml_commit(conn, browser, relay_state, &verified, Some(hosted))
            .await?;
        if let Some(done) = committed.and_then(|c| c.redirect) {
            return Ok(done);
        }
        let accepted = self
            .saml_accept_verified(id, verified, relay_state, browser, false)
            .await?;
        // Where the code goes is settled before the sign-in is recorded: a verified
        // Response whose client request is gone (or an unsolicited one with no client to
        // go to) signs no one in and creates no account.
        let pending = match &accepted.verified.in_response_to {
            Some(request_id) => self.take_authorization(&saml_key(request_id), id).await?,
            None => idp_initiated_target(idp_initiated, accepted.relay_state.as_deref())?,
        };
        let sign_in = self.svc.record_sign_in(id, &accepted.assertion).await?;
        let raw = saml_raw_attributes(&accepted.verified);
        let profile = Profile::of_sign_in(&sign_in, raw);
        self.redirect_with_code(settings, id, pending, profile, random)
            .await
    }

    /// [`Flows::hosted_oidc_finish`] without its failure event (a provider's
    /// refusal sent back to the client is [`HostedOutcome::Refused`], whose event the
    /// caller appends).
    async fn hosted_oidc_finish_inner(
        &self,
        settings: &HostedSettings,
        id: &ConnectionId,
        query: &str,
        browser: Option<&str>,
        random: [u8; 32],
    ) -> Result<HostedOutcome> {
        let oidc = settings.oidc().ok_or_else(|| {
            Error::OidcRefused(Box::new(OidcSignInRefusal::NotConfigured {
                missing: "the host's OIDC settings",
            }))
        })?;
        let hosted = HostedPart { settings, random };
        if let Some(redirect) = self
            .hosted_oidc_commit(oidc, id, query, browser, hosted)
            .await?
        {
            return Ok(HostedOutcome::SignedIn(redirect));
        }
        let answer = self.oidc_accept(oidc, id, query, browser, false).await?;
        // oidc_accept took the pending request under this state, bound to this connection
        // and browser: the state is verified, for a code and for a provider's error alike.
        // The client's request is taken before the sign-in is recorded (none left: no
        // account is made, and no error goes back to anyone).
        let state =
            state_of(query).ok_or_else(|| refused(HostedRefusal::NoAuthorizationRequest))?;
        let pending = self.take_authorization(&oidc_key(&state), id).await?;
        let (identity, assertion) = match answer {
            OidcAnswer::Verified {
                identity,
                assertion,
                ..
            } => (identity, assertion),
            OidcAnswer::Refused(r) => {
                return Ok(HostedOutcome::Refused(HostedErrorRedirect {
                    redirect_uri: pending.binding.redirect_uri,
                    error: workos_error(&r),
                    error_description: r.to_string(),
                    state: pending.state,
                    connection_id: id.clone(),
                    reason: OidcSignInRefusal::Rp(r),
                }));
            }
        };
        let sign_in = self.svc.record_sign_in(id, &assertion).await?;
        // The claims as the provider typed them (WorkOS's raw_attributes for OIDC).
        let raw = identity.claims.into_iter().collect();
        let profile = Profile::of_sign_in(&sign_in, raw);
        self.redirect_with_code(settings, id, pending, profile, random)
            .await
            .map(HostedOutcome::SignedIn)
    }

    /// The IdP's SAML Response posted to connection `id`'s ACS: verified and recorded by
    /// [`Flows::saml_finish`], then turned into a code for the client whose
    /// authorization request it answers (SP-initiated), or for `idp_initiated` (an
    /// unsolicited Response on a connection that allows them). A RelayState over 80 bytes
    /// is refused before the Response is read. A refusal appends
    /// `authentication.sso_failed` with its reason ([`Flows::record_sign_in_failure`]);
    /// the refusal is returned whether or not that append succeeds.
    pub async fn hosted_saml_finish(
        &self,
        settings: &HostedSettings,
        id: &ConnectionId,
        post: &SamlPost<'_>,
        idp_initiated: Option<&IdpInitiatedClient>,
        random: [u8; 32],
    ) -> Result<HostedRedirect> {
        let done = self
            .hosted_saml_finish_inner(settings, id, post, idp_initiated, random)
            .await;
        if let Err(e) = &done {
            let _ = self.record_sign_in_failure(id, e).await;
        }
        done
    }

    /// The OIDC provider's callback to connection `id` (`query`: the callback's query
    /// string): verified and recorded by [`Flows::oidc_finish`], then turned into a
    /// code for the client whose authorization request the `state` answers
    /// ([`HostedOutcome::SignedIn`]). When the provider answers with an `error` (the user
    /// declined consent: `access_denied`) and the `state` takes a live request of this
    /// connection and browser, that request and the client's are used up and the client
    /// gets the error back ([`HostedOutcome::Refused`], WorkOS's `error`,
    /// `error_description` and its `state`); any other refusal is an `Err` (the host shows
    /// a page: the callback proves nothing about where to send the browser). Every
    /// refusal, sent back or not, appends `authentication.sso_failed`, as
    /// [`Flows::hosted_saml_finish`].
    pub async fn hosted_oidc_finish(
        &self,
        settings: &HostedSettings,
        id: &ConnectionId,
        query: &str,
        browser: Option<&str>,
        random: [u8; 32],
    ) -> Result<HostedOutcome> {
        let done = self
            .hosted_oidc_finish_inner(settings, id, query, browser, random)
            .await;
        match &done {
            Err(e) => {
                let _ = self.record_sign_in_failure(id, e).await;
            }
            Ok(HostedOutcome::Refused(r)) => {
                let e = Error::OidcRefused(Box::new(r.reason.clone()));
                let _ = self.record_sign_in_failure(id, &e).await;
            }
            Ok(HostedOutcome::SignedIn(_)) => {}
        }
        done
    }
}

/// Where an IdP-initiated sign-in goes: the client's default redirect URI, or a
/// registered one the RelayState names as `redirect_uri=<uri>`. Any other RelayState is
/// ignored (WorkOS: "ignored and discarded"), never followed.
pub(super) fn idp_initiated_target(
    client: Option<&IdpInitiatedClient>,
    relay_state: Option<&str>,
) -> Result<Pending> {
    let client = client.ok_or_else(|| refused(HostedRefusal::NoIdpInitiatedClient))?;
    let named = relay_state.and_then(|rs| {
        url::form_urlencoded::parse(rs.as_bytes())
            .find(|(k, _)| k == "redirect_uri")
            .map(|(_, v)| v.into_owned())
    });
    let redirect_uri = match named {
        Some(uri) if client.redirect_uris.contains(&uri) => uri,
        Some(uri) => {
            return Err(refused(HostedRefusal::IdpInitiatedRedirectNotRegistered {
                client_id: client.client_id.clone(),
                received: uri,
            }))
        }
        None => client
            .default_redirect_uri
            .clone()
            .ok_or_else(|| refused(HostedRefusal::NoIdpInitiatedClient))?,
    };
    Ok(Pending {
        binding: CodeBinding {
            client_id: client.client_id.clone(),
            redirect_uri,
            code_challenge: None,
        },
        state: None,
    })
}

/// A SAML assertion's attributes as the profile's `raw_attributes`: by name, one value as
/// the string, several (or none) as an array of strings.
pub(super) fn saml_raw_attributes(
    verified: &enterprise_sso_protocol::saml::sp::VerifiedAssertion,
) -> BTreeMap<String, serde_json::Value> {
    let by_name: BTreeMap<String, Vec<String>> = verified.attributes.iter().fold(
        BTreeMap::new(),
        |mut m: BTreeMap<String, Vec<String>>, (name, values)| {
            m.entry(name.clone())
                .or_default()
                .extend(values.iter().cloned());
            m
        },
    );
    by_name
        .into_iter()
        .map(|(name, mut values)| {
            let v = match values.len() {
                1 => serde_json::Value::String(values.remove(0)),
                _ => serde_json::Value::from(values),
            };
            (name, v)
        })
        .collect()
}
