//! SAML sign-in through a connection: the AuthnRequest out (SP-initiated), the IdP's
//! Response in, verified by the protocol crate's narrow verifier against the connection's
//! IdP entity id and certificate set, the pending request taken exactly once, the
//! assertion ID remembered against replay, and the verified identity recorded as a
//! sign-in ([`Connections::record_sign_in`]).
//!
//! The SP side of every connection is derived from one host-configured base URL
//! ([`SamlSettings`]): entity id `{base}/{id}`, ACS `{base}/{id}/acs`, metadata
//! `{base}/{id}/metadata` (what the wire shows as `sp_entity_id`, `acs_url`,
//! `sp_metadata_url`).

use enterprise_sso::{
    sign_in_key, Assertion, ConnectionId, EnterpriseConnection, Error, Result, SignIn, SignInItem,
    SignInKind, Store, UnixMillis,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use enterprise_sso_protocol::saml::sp::{
    redirect_request, AuthnRequestOptions, IdentityProvider, ResponseVerifier, ServiceProvider,
    SpKeyPair, VerifiedAssertion,
};

use super::pending::{
    kind_name, pending_item, same_browser, BoundToBrowser, PendingProblem, PendingSlot,
};
use crate::{Flows, SamlRefusal};

/// How long a pending AuthnRequest may wait for its Response (ten minutes).
pub const DEFAULT_SAML_REQUEST_TTL: Duration = Duration::from_secs(600);
/// The refusal of a pending request whose random ID is already live (broken randomness).
pub(super) const SAML_REQUEST_LIVE: &str = "the request ID is already pending";
/// How old an IdP-initiated (unsolicited) Response may be, where a connection allows them.
pub const DEFAULT_IDP_INITIATED_MAX_AGE: Duration = Duration::from_secs(300);

/// The host's SAML service-provider settings, shared by every connection.
#[derive(Debug, Clone)]
pub struct SamlSettings {
    base_url: String,
    keys: Vec<SpKeyPair>,
    clock_skew: Duration,
    request_ttl: Duration,
    idp_initiated_max_age: Duration,
    sign_requests: bool,
    verifiers: VerifierCache,
}

/// Most connections whose verifier is kept (past it the cache starts over).
const MAX_CACHED_VERIFIERS: usize = 4096;

/// What a connection's verifier was built from: reused while these are unchanged.
#[derive(PartialEq, Eq)]
struct VerifierInputs {
    entity_id: String,
    certificates: Vec<String>,
    allow_idp_initiated: bool,
}

/// The response verifier of each connection, so its IdP certificates and keys are parsed
/// once per connection (and again when they change), not on every response. A clone of
/// the settings starts empty (its builder may change what verifiers are made from).
#[derive(Default)]
struct VerifierCache(Mutex<HashMap<ConnectionId, (VerifierInputs, Arc<ResponseVerifier>)>>);

impl Clone for VerifierCache {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl std::fmt::Debug for VerifierCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0.lock().map(|m| m.len()).unwrap_or_default();
        f.debug_struct("VerifierCache")
            .field("connections", &n)
            .finish()
    }
}

impl SamlSettings {
    /// Settings under `base_url` (e.g. `https://auth.example.com/saml`), with a clock skew
    /// of two minutes, ten-minute requests, five-minute IdP-initiated responses, and
    /// unsigned AuthnRequests.
    pub fn new(base_url: impl Into<String>) -> Self {
        SamlSettings {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            keys: Vec::new(),
            clock_skew: enterprise_sso_protocol::saml::sp::DEFAULT_CLOCK_SKEW,
            request_ttl: DEFAULT_SAML_REQUEST_TTL,
            idp_initiated_max_age: DEFAULT_IDP_INITIATED_MAX_AGE,
            sign_requests: false,
            verifiers: VerifierCache::default(),
        }
    }

    /// The response verifier of connection `id` for these inputs: the kept one while they
    /// are unchanged, otherwise made (certificates parsed) and kept.
    fn verifier(
        &self,
        id: &ConnectionId,
        inputs: VerifierInputs,
        ders: impl FnOnce() -> Vec<Vec<u8>>,
    ) -> Arc<ResponseVerifier> {
        {
            let m = self.verifiers.0.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((kept, v)) = m.get(id) {
                if *kept == inputs {
                    return Arc::clone(v);
                }
            }
        }
        let mut verifier = ResponseVerifier::new(
            self.service_provider(id),
            IdentityProvider::new(inputs.entity_id.clone(), ders()),
        )
        .clock_skew(self.clock_skew);
        if inputs.allow_idp_initiated {
            verifier = verifier.allow_idp_initiated(self.idp_initiated_max_age);
        }
        let verifier = Arc::new(verifier);
        let mut m = self.verifiers.0.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() >= MAX_CACHED_VERIFIERS && !m.contains_key(id) {
            m.clear();
        }
        m.insert(id.clone(), (inputs, Arc::clone(&verifier)));
        verifier
    }

    /// Adds an SP key pair (signs AuthnRequests when asked, decrypts encrypted
    /// assertions, and is published in SP metadata). The first signs; all decrypt.
    pub fn with_key(mut self, key: SpKeyPair) -> Self {
        self.keys.push(key);
        self
    }

    /// Signs AuthnRequests (Redirect binding, rsa-sha256) with the first key.
    pub fn sign_requests(mut self) -> Self {
        self.sign_requests = true;
        self
    }

    /// The tolerated clock difference with IdPs.
    pub fn clock_skew(mut self, skew: Duration) -> Self {
        self.clock_skew = skew;
        self
    }

    /// How long a pending request may wait for its response.
    pub fn request_ttl(mut self, ttl: Duration) -> Self {
        self.request_ttl = ttl;
        self
    }

    /// How old an unsolicited response may be (for connections that allow them).
    pub fn idp_initiated_max_age(mut self, age: Duration) -> Self {
        self.idp_initiated_max_age = age;
        self
    }

    /// The SP entity id of a connection: `{base}/{id}`.
    pub fn entity_id(&self, id: &ConnectionId) -> String {
        format!("{}/{id}", self.base_url)
    }

    /// The ACS URL of a connection: `{base}/{id}/acs`.
    pub fn acs_url(&self, id: &ConnectionId) -> String {
        format!("{}/{id}/acs", self.base_url)
    }

    /// The SP metadata URL of a connection: `{base}/{id}/metadata`.
    pub fn metadata_url(&self, id: &ConnectionId) -> String {
        format!("{}/{id}/metadata", self.base_url)
    }

    /// The protocol crate's service provider for a connection.
    pub fn service_provider(&self, id: &ConnectionId) -> ServiceProvider {
        self.keys.iter().cloned().fold(
            ServiceProvider::new(self.entity_id(id), self.acs_url(id)),
            ServiceProvider::with_key,
        )
    }

    /// The SP metadata XML of a connection.
    pub fn metadata_xml(&self, id: &ConnectionId) -> Result<String> {
        enterprise_sso_protocol::saml::sp::sp_metadata_xml(
            &self.service_provider(id),
            self.sign_requests,
        )
        .map_err(refused)
    }
}

/// What the host gives to start a sign-in.
#[derive(Debug, Clone, Copy)]
pub struct SamlStart<'a> {
    /// A value bound to the browser that starts the flow (e.g. a random cookie the host
    /// set): the response is accepted only from the same browser. Stored hashed.
    pub browser: &'a str,
    /// An opaque RelayState (at most 80 bytes), echoed by the IdP and returned by
    /// [`Flows::saml_finish`].
    pub relay_state: Option<&'a str>,
    /// 32 bytes from a CSPRNG (the request ID is made from them).
    pub random: [u8; 32],
}

/// Where to send the browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlRedirect {
    /// The IdP's SSO URL with the AuthnRequest (HTTP-Redirect binding).
    pub url: String,
    /// The request ID (stored as a pending request; not secret).
    pub request_id: String,
    /// The AuthnRequest XML (for a test run's log).
    pub request_xml: String,
}

/// A sign-in finished through SAML.
#[derive(Debug, Clone)]
pub struct SamlSignIn {
    /// The recorded sign-in (account, connection, whether the account was created).
    pub sign_in: SignIn,
    /// The RelayState given at the start (SP-initiated), or the one the IdP posted
    /// (IdP-initiated; opaque, never a URL to redirect to).
    pub relay_state: Option<String>,
    /// The verified assertion the sign-in was made from.
    pub assertion: VerifiedAssertion,
}

fn refused(r: impl Into<SamlRefusal>) -> Error {
    Error::SamlRefused(Box::new(r.into()))
}

/// The pending request's payload: the browser binding (hashed) and the RelayState.
#[derive(serde::Serialize, serde::Deserialize)]
struct Pending {
    browser: String,
    relay_state: Option<String>,
    /// A test run's request: its response is recorded in the run, never signs in.
    #[serde(default)]
    test_run: bool,
}

impl BoundToBrowser for Pending {
    fn browser_key(&self) -> &str {
        &self.browser
    }
}

fn saml_parts(conn: &EnterpriseConnection) -> Result<(&str, &str)> {
    let saml = conn.saml().ok_or_else(|| refused(SamlRefusal::NotSaml))?;
    let entity = saml.idp_entity_id.as_deref().ok_or_else(|| {
        refused(SamlRefusal::NotConfigured {
            missing: "idp_entity_id",
        })
    })?;
    let sso = saml.idp_sso_url.as_deref().ok_or_else(|| {
        refused(SamlRefusal::NotConfigured {
            missing: "idp_sso_url",
        })
    })?;
    Ok((entity, sso))
}

/// A Response that passed every rule of [`Flows::saml_accept`], not yet recorded.
pub(super) struct AcceptedSaml {
    /// The RelayState (the start's, or the posted one of an unsolicited response).
    pub(super) relay_state: Option<String>,
    /// The verified assertion.
    pub(super) verified: VerifiedAssertion,
    /// The identity as the account mapping reads it.
    pub(super) assertion: Assertion,
}

impl<R: Store> Flows<R> {
    /// Starts an SP-initiated sign-in: an AuthnRequest to the connection's IdP, stored as a
    /// pending request bound to `start.browser`, to be taken once by its Response.
    pub async fn saml_start(
        &self,
        settings: &SamlSettings,
        id: &ConnectionId,
        start: SamlStart<'_>,
    ) -> Result<SamlRedirect> {
        self.saml_start_for(settings, id, start, false).await
    }

    /// [`Flows::saml_start`] for a sign-in or (`test_run`) a test run's request,
    /// which an inactive connection may also make (an admin tests before activating).
    pub(super) async fn saml_start_for(
        &self,
        settings: &SamlSettings,
        id: &ConnectionId,
        start: SamlStart<'_>,
        test_run: bool,
    ) -> Result<SamlRedirect> {
        let (redirect, item) = self.saml_request_for(settings, id, start, test_run).await?;
        let now = item.created_at.get();
        self.put_pending_items(vec![(item, SAML_REQUEST_LIVE)], now)
            .await?;
        Ok(redirect)
    }

    /// [`Flows::saml_start_for`] without its write: the redirect, and the pending
    /// request's record for the caller to store (alone, or with the records it goes with).
    pub(super) async fn saml_request_for(
        &self,
        settings: &SamlSettings,
        id: &ConnectionId,
        start: SamlStart<'_>,
        test_run: bool,
    ) -> Result<(SamlRedirect, SignInItem)> {
        let conn = self.svc.get(id).await?;
        if !conn.active && !test_run {
            return Err(Error::SignInRefused(
                enterprise_sso::SignInRefusal::ConnectionInactive,
            ));
        }
        let (_, sso_url) = saml_parts(&conn)?;
        let force_authn = conn.saml().is_some_and(|s| s.force_authn);
        let now = self.now_ms();
        let request = redirect_request(
            &settings.service_provider(id),
            sso_url,
            &start.random,
            now,
            AuthnRequestOptions {
                force_authn,
                relay_state: start.relay_state,
                sign: settings.sign_requests,
            },
        )
        .map_err(refused)?;
        let payload = serde_json::to_vec(&Pending {
            browser: sign_in_key(start.browser),
            relay_state: start.relay_state.map(str::to_owned),
            test_run,
        })
        .map_err(|_| Error::InvalidArgument {
            argument: "relay_state",
            reason: "cannot be stored",
        })?;
        let slot = PendingSlot {
            kind: SignInKind::SamlRequest,
            key: sign_in_key(&request.request_id),
            id,
            ttl: settings.request_ttl,
        };
        let item = pending_item(slot, payload, now);
        let redirect = SamlRedirect {
            url: request.url,
            request_id: request.request_id,
            request_xml: request.xml,
        };
        Ok((redirect, item))
    }

    /// Verifies the IdP's Response posted to connection `id`'s ACS and records the sign-in.
    ///
    /// `browser` is the value the host bound to this browser at [`Flows::saml_start`]
    /// (`None` when the browser brought none: then only an IdP-initiated response can pass,
    /// and only on a connection that allows them). Nothing is written when any rule fails.
    pub async fn saml_finish(
        &self,
        settings: &SamlSettings,
        id: &ConnectionId,
        saml_response: &str,
        relay_state: Option<&str>,
        browser: Option<&str>,
    ) -> Result<SamlSignIn> {
        // Verified once: the one-commit path and the step-by-step one read the same result.
        let (verified, conn) = self.saml_verify(settings, id, saml_response).await?;
        if let Some(done) = self
            .saml_commit(conn, browser, relay_state, &verified, None)
            .await?
        {
            return Ok(SamlSignIn {
                sign_in: done.sign_in,
                relay_state: done.relay_state,
                assertion: verified,
            });
        }
        let accepted = self
            .saml_accept_verified(id, verified, relay_state, browser, false)
            .await?;
        let sign_in = self.svc.record_sign_in(id, &accepted.assertion).await?;
        Ok(SamlSignIn {
            sign_in,
            relay_state: accepted.relay_state,
            assertion: accepted.verified,
        })
    }

    /// The Response posted to connection `id`'s ACS, verified against the connection's IdP
    /// (nothing read from or written to the sign-in store).
    pub(super) async fn saml_verify(
        &self,
        settings: &SamlSettings,
        id: &ConnectionId,
        saml_response: &str,
    ) -> Result<(VerifiedAssertion, EnterpriseConnection)> {
        let conn = self.svc.get(id).await?;
        let (entity_id, _) = saml_parts(&conn)?;
        let saml = conn.saml().ok_or_else(|| refused(SamlRefusal::NotSaml))?;
        let inputs = VerifierInputs {
            entity_id: entity_id.to_owned(),
            certificates: saml
                .idp_certificates
                .iter()
                .map(|c| c.pem.clone())
                .collect(),
            allow_idp_initiated: saml.allow_idp_initiated,
        };
        let verifier = settings.verifier(id, inputs, || {
            saml.idp_certificates
                .iter()
                .filter_map(|c| enterprise_sso_protocol::saml::parse_certificate(&c.pem).ok())
                .map(|c| c.der)
                .collect()
        });
        let now = self.now_ms();
        let verified = verifier.verify_post(saml_response, now).map_err(refused)?;
        Ok((verified, conn))
    }

    /// Every rule of [`Flows::saml_finish`] but the recording: the Response
    /// verified, its request taken (one of a sign-in, or with `test_run` one of a test
    /// run: each refuses the other's), its assertion ID remembered against replay.
    pub(super) async fn saml_accept(
        &self,
        settings: &SamlSettings,
        id: &ConnectionId,
        saml_response: &str,
        relay_state: Option<&str>,
        browser: Option<&str>,
        test_run: bool,
    ) -> Result<AcceptedSaml> {
        let (verified, _) = self.saml_verify(settings, id, saml_response).await?;
        self.saml_accept_verified(id, verified, relay_state, browser, test_run)
            .await
    }

    /// [`Flows::saml_accept`] after its verification: the pending request (or the
    /// unsolicited rules), then the replay entry.
    pub(super) async fn saml_accept_verified(
        &self,
        id: &ConnectionId,
        verified: VerifiedAssertion,
        relay_state: Option<&str>,
        browser: Option<&str>,
        test_run: bool,
    ) -> Result<AcceptedSaml> {
        let now = self.now_ms();
        let relay_state = match &verified.in_response_to {
            Some(request_id) => {
                let p: Pending = self
                    .take_pending(
                        SignInKind::SamlRequest,
                        request_id,
                        id,
                        browser,
                        now,
                        "a pending SAML request's payload",
                    )
                    .await?
                    .map_err(|problem| {
                        refused(match problem {
                            PendingProblem::Unknown => SamlRefusal::UnknownRequest {
                                in_response_to: request_id.clone(),
                            },
                            PendingProblem::OtherConnection(expected) => {
                                SamlRefusal::RequestForAnotherConnection {
                                    expected,
                                    received: id.to_string(),
                                }
                            }
                            PendingProblem::OtherBrowser => SamlRefusal::BrowserMismatch,
                        })
                    })?;
                verified.expect_request(request_id).map_err(refused)?;
                if p.test_run != test_run {
                    return Err(refused(SamlRefusal::RequestKindMismatch {
                        expected: kind_name(test_run),
                        received: kind_name(p.test_run),
                    }));
                }
                p.relay_state
            }
            None if test_run => {
                return Err(refused(SamlRefusal::RequestKindMismatch {
                    expected: kind_name(true),
                    received: "unsolicited response",
                }));
            }
            None => {
                verified.expect_unsolicited().map_err(refused)?;
                relay_state.map(str::to_owned)
            }
        };

        let replay = replay_item(id, &verified, now);
        if !self
            .svc
            .repo()
            .put_sign_in(&replay, UnixMillis::new(now))
            .await?
        {
            return Err(refused(SamlRefusal::Replayed {
                assertion_id: verified.assertion_id.clone(),
            }));
        }
        let assertion = assertion_of(&verified);
        Ok(AcceptedSaml {
            relay_state,
            verified,
            assertion,
        })
    }
}

/// The replay-cache record of a verified assertion: its ID under connection `id`, kept
/// until the assertion's `NotOnOrAfter` plus skew.
pub(super) fn replay_item(id: &ConnectionId, verified: &VerifiedAssertion, now: i64) -> SignInItem {
    SignInItem {
        kind: SignInKind::SamlAssertion,
        key: sign_in_key(&format!("{id}\u{0}{}", verified.assertion_id)),
        connection_id: Some(id.clone()),
        created_at: UnixMillis::new(now),
        expires_at: UnixMillis::new(verified.replay_until_ms.max(now.saturating_add(1))),
        payload: Vec::new(),
    }
}

/// The identity a verified assertion gives the account mapping.
pub(super) fn assertion_of(verified: &VerifiedAssertion) -> Assertion {
    Assertion {
        subject: Some(verified.name_id.clone()),
        attributes: verified.attributes.iter().fold(
            std::collections::BTreeMap::<String, Vec<String>>::new(),
            |mut m, (name, values)| {
                m.entry(name.clone())
                    .or_default()
                    .extend(values.iter().cloned());
                m
            },
        ),
    }
}

/// Whether the pending SAML request `item` (read, not taken) passes every rule
/// [`Flows::saml_accept`] applies to the request a Response answers: made for
/// connection `id`, answered by the browser that started it, named by the verified
/// `InResponseTo`, and a sign-in's (not a test run's). Its RelayState when it does.
pub(super) fn usable_saml_request(
    item: &SignInItem,
    id: &ConnectionId,
    browser: Option<&str>,
    verified: &VerifiedAssertion,
) -> Option<Option<String>> {
    if item.connection_id.as_ref() != Some(id) {
        return None;
    }
    let p: Pending = serde_json::from_slice(&item.payload).ok()?;
    let request_id = verified.in_response_to.as_deref()?;
    let fits = same_browser(browser, &p.browser)
        && verified.expect_request(request_id).is_ok()
        && !p.test_run;
    fits.then_some(p.relay_state)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn inputs(entity: &str, certs: &[&str], idp_initiated: bool) -> VerifierInputs {
        VerifierInputs {
            entity_id: entity.to_owned(),
            certificates: certs.iter().map(|c| (*c).to_owned()).collect(),
            allow_idp_initiated: idp_initiated,
        }
    }

    #[test]
    fn a_connection_keeps_its_verifier_until_its_idp_inputs_change() {
        let settings = SamlSettings::new("https://sso.example.com/saml");
        let a: ConnectionId = "ent_01HZX3W9Q8M7K6J5H4G3F2E1D0".parse().unwrap();
        let b: ConnectionId = "ent_01HZX3W9Q8M7K6J5H4G3F2E1D1".parse().unwrap();
        let parses = std::cell::Cell::new(0);
        let get = |id: &ConnectionId, i: VerifierInputs| {
            settings.verifier(id, i, || {
                parses.set(parses.get() + 1);
                Vec::new()
            })
        };
        let first = get(&a, inputs("https://idp", &["cert-1"], false));
        let again = get(&a, inputs("https://idp", &["cert-1"], false));
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(parses.get(), 1);
        // Any change of what the verifier is made from makes a new one: a rotated
        // certificate set, another entity id, IdP-initiated switched on.
        for changed in [
            inputs("https://idp", &["cert-1", "cert-2"], false),
            inputs("https://idp", &["cert-2"], false),
            inputs("https://other-idp", &["cert-2"], false),
            inputs("https://other-idp", &["cert-2"], true),
        ] {
            let v = get(&a, changed);
            assert!(!Arc::ptr_eq(&first, &v));
        }
        assert_eq!(parses.get(), 5);
        // Connections do not share verifiers; a clone of the settings starts empty.
        let other = get(&b, inputs("https://other-idp", &["cert-2"], true));
        assert_eq!(parses.get(), 6);
        let cloned = settings.clone();
        let from_clone =
            cloned.verifier(&b, inputs("https://other-idp", &["cert-2"], true), Vec::new);
        assert!(!Arc::ptr_eq(&other, &from_clone));
    }
}
