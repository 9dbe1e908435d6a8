//! OIDC sign-in through a connection: the authorization request out (state, nonce, PKCE
//! S256), the callback in, its `state` taken exactly once from the sign-in store and bound
//! to the browser that started the flow, the code exchanged and the ID token verified by
//! the protocol crate's relying party (`enterprise_sso_protocol::oidc::rp`), and the
//! identity recorded as a sign-in (the rules of [`Connections::record_sign_in`]; the
//! state's take and the account write are one commit, see `oidc_commit`). Only a verified
//! email is passed on; the subject is `sub`, never the email.
//!
//! The provider's metadata comes from the connection's discovery URL, fetched through the
//! host's HTTP client and kept in [`OidcSettings`] for [`DEFAULT_OIDC_METADATA_TTL`]
//! ([`OidcSettings::metadata_ttl`]); the JWKS cache lives there too, shared by every
//! sign-in of the provider.
//!
//! # The pending request is sealed
//!
//! Between start and callback the sign-in store keeps, under the hashed `state`, the
//! request's nonce and PKCE verifier. They are stored sealed (AES-256-GCM) under a key
//! derived from the `state` itself (SHA-256 of a domain label and the state), which the
//! store never holds: a copy of the store (a backup, a replica, a read-only SQL
//! injection) yields neither the nonce nor the verifier. Only someone who has both the
//! store and the `state` of a live request (it travels in the browser's URL) can open it,
//! and the record is deleted when the callback takes it. The connection id is the
//! associated data, so a record moved to another connection does not open. This does not
//! depend on the store: `Connections` is generic over it, and the [`enterprise_sso::crypto`] key
//! ring seals connection secrets and test runs in the store wrapper, which passes the
//! other sign-in records through unchanged.
//!
//! The module: the settings and the provider cache (`settings`), the pending request and
//! its sealing (`sealed`), and here the flow itself (start, callback, exchange).

mod sealed;
mod settings;

use std::collections::BTreeMap;

use enterprise_sso_protocol::oidc::rp::{
    AuthorizationOptions, Callback, CallbackOutcome, ClientConfig, OidcClientSecret, OidcIdentity,
    OidcRefusal, PendingAuthorization, RelyingParty,
};
use enterprise_sso_protocol::secret::{CsrfState, IdToken};

use super::pending::{kind_name, PendingProblem, PendingSlot};
use crate::{Flows, OidcSignInRefusal};
use enterprise_sso::{
    sign_in_key, Assertion, ConnectionId, Error, Result, SignIn, SignInKind, Store,
};
use sealed::{open_pending, seal_pending};

pub(crate) use sealed::Pending;
pub use settings::{OidcSettings, DEFAULT_OIDC_METADATA_TTL, DEFAULT_OIDC_REQUEST_TTL};

/// What the host gives to start an OIDC sign-in.
#[derive(Debug, Clone, Copy)]
pub struct OidcStart<'a> {
    /// A value bound to the browser (e.g. a random cookie the host set); the callback is
    /// accepted only from the same browser. Stored hashed.
    pub browser: &'a str,
    /// `login_hint` for the provider.
    pub login_hint: Option<&'a str>,
    /// `domain_hint` for the provider (Entra).
    pub domain_hint: Option<&'a str>,
    /// 64 bytes from a CSPRNG (state, nonce and PKCE verifier are made from them).
    pub random: [u8; 64],
}

/// A sign-in finished through OIDC.
#[derive(Debug, Clone)]
pub struct OidcSignIn {
    /// The recorded sign-in.
    pub sign_in: SignIn,
    /// The verified identity it was made from (claims included; no token).
    pub identity: OidcIdentity,
}

/// What a callback brought ([`Flows::oidc_accept`]).
pub(super) enum OidcAnswer {
    /// The ID token verified: the identity, the assertion it maps to, and the token.
    Verified {
        /// The identity (claims included; boxed: it is most of the answer's size).
        identity: Box<OidcIdentity>,
        /// What [`Connections::record_sign_in`] takes.
        assertion: Assertion,
        /// The verified ID token (only a test run keeps it).
        id_token: IdToken,
    },
    /// The provider answered with an `error` (e.g. `access_denied`: the user declined
    /// consent) and a `state` under which a pending request of this connection and this
    /// browser was taken: the refusal answers one of our requests, which is used up.
    Refused(OidcRefusal),
}

pub(super) fn refused(r: impl Into<OidcSignInRefusal>) -> Error {
    Error::OidcRefused(Box::new(r.into()))
}

/// The rest of a callback once its pending request `p` is known: the payload opened, the
/// code exchanged and the ID token verified; the identity and the assertion it maps to.
pub(super) async fn exchange(
    settings: &OidcSettings,
    rp: &RelyingParty,
    id: &ConnectionId,
    callback: &Callback,
    p: &Pending,
    now: i64,
) -> Result<OidcAnswer> {
    let opened = open_pending(callback.state.expose_secret(), id, &p.sealed)
        .ok_or_else(|| refused(OidcRefusal::PendingInvalid))?;
    let authorization = PendingAuthorization::from_payload(&opened).map_err(refused)?;
    let jwks = settings.jwks_for(rp);
    let done = rp
        .complete(settings.http.as_ref(), &jwks, callback, &authorization, now)
        .await
        .map_err(refused)?;
    let identity = done.identity;
    let mut attributes = BTreeMap::new();
    let mut put = |name: &str, v: &Option<String>| {
        if let Some(v) = v {
            attributes.insert(name.to_owned(), vec![v.clone()]);
        }
    };
    put("sub", &Some(identity.subject.clone()));
    put("email", &identity.email);
    put("given_name", &identity.given_name);
    put("family_name", &identity.family_name);
    let assertion = Assertion {
        subject: Some(identity.subject.clone()),
        attributes,
    };
    Ok(OidcAnswer::Verified {
        identity: Box::new(identity),
        assertion,
        id_token: done.id_token,
    })
}

/// The state of an authorization URL.
pub(super) fn state_of_url(url: &str) -> Option<String> {
    url::Url::parse(url).ok().and_then(|u| {
        u.query_pairs()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned())
    })
}

impl<R: Store> Flows<R> {
    pub(super) async fn relying_party(
        &self,
        settings: &OidcSettings,
        id: &ConnectionId,
    ) -> Result<RelyingParty> {
        let conn = self.svc.get(id).await?;
        let o = conn
            .oidc()
            .ok_or_else(|| refused(OidcSignInRefusal::NotOidc))?;
        let client_id = o.client_id.clone().ok_or_else(|| {
            refused(OidcSignInRefusal::NotConfigured {
                missing: "client_id",
            })
        })?;
        let discovery = o.discovery_url.clone().ok_or_else(|| {
            refused(OidcSignInRefusal::NotConfigured {
                missing: "discovery_url",
            })
        })?;
        let secret = o
            .client_secret
            .as_ref()
            .map(|s| OidcClientSecret::new(s.expose_secret()));
        let provider = settings
            .provider(&discovery, self.svc.policy(), self.now_ms())
            .await
            .map_err(refused)?;
        RelyingParty::new(
            provider,
            ClientConfig::new(client_id, secret, settings.redirect_uri(id)),
        )
        .map_err(refused)
    }

    /// Starts an OIDC sign-in: the authorization URL to send the browser to. The request's
    /// nonce and PKCE verifier are kept in the sign-in store under the hashed `state`,
    /// bound to `start.browser`, until the callback takes them.
    pub async fn oidc_start(
        &self,
        settings: &OidcSettings,
        id: &ConnectionId,
        start: OidcStart<'_>,
    ) -> Result<String> {
        self.oidc_start_for(settings, id, start, false).await
    }

    /// [`Flows::oidc_start`] for a sign-in or (`test_run`) a test run's request,
    /// which an inactive connection may also make.
    pub(super) async fn oidc_start_for(
        &self,
        settings: &OidcSettings,
        id: &ConnectionId,
        start: OidcStart<'_>,
        test_run: bool,
    ) -> Result<String> {
        let conn = self.svc.get(id).await?;
        if !conn.active && !test_run {
            return Err(Error::SignInRefused(
                enterprise_sso::SignInRefusal::ConnectionInactive,
            ));
        }
        let rp = self.relying_party(settings, id).await?;
        let now = self.now_ms();
        let request = rp
            .authorization_request(
                &start.random,
                &AuthorizationOptions {
                    login_hint: start.login_hint.map(str::to_owned),
                    domain_hint: start.domain_hint.map(str::to_owned),
                },
                now,
            )
            .map_err(refused)?;
        let payload = serde_json::to_vec(&Pending {
            browser: sign_in_key(start.browser),
            sealed: seal_pending(
                request.state.expose_secret(),
                id,
                &request.pending.to_payload(),
            )?,
            test_run,
        })
        .map_err(|_| Error::corrupt("an OIDC pending request could not be encoded"))?;
        let slot = PendingSlot {
            kind: SignInKind::OidcState,
            key: sign_in_key(request.state.expose_secret()),
            id,
            ttl: settings.request_ttl,
        };
        self.put_pending(slot, payload, now, "the state is already pending")
            .await?;
        Ok(request.url)
    }

    /// Handles the provider's callback to connection `id` (`query`: the callback URL's
    /// query string) and records the sign-in. The pending request is taken (used up) as
    /// soon as the state matches, whatever happens next.
    pub async fn oidc_finish(
        &self,
        settings: &OidcSettings,
        id: &ConnectionId,
        query: &str,
        browser: Option<&str>,
    ) -> Result<OidcSignIn> {
        if let Some(done) = self
            .oidc_finish_commit(settings, id, query, browser)
            .await?
        {
            return Ok(done);
        }
        match self
            .oidc_accept(settings, id, query, browser, false)
            .await?
        {
            OidcAnswer::Verified {
                identity,
                assertion,
                ..
            } => {
                let sign_in = self.svc.record_sign_in(id, &assertion).await?;
                Ok(OidcSignIn {
                    sign_in,
                    identity: *identity,
                })
            }
            OidcAnswer::Refused(r) => Err(refused(r)),
        }
    }

    /// Every rule of [`Flows::oidc_finish`] but the recording: the state taken (a
    /// sign-in's, or with `test_run` a test run's: each refuses the other's), the code
    /// exchanged and the ID token verified; the identity and its assertion. The
    /// provider's `error` with a state is [`OidcAnswer::Refused`] once that state's
    /// pending request is taken (the same rules as for a code: live, this connection's,
    /// this browser's, the right kind); with no state it is refused as it is.
    pub(super) async fn oidc_accept(
        &self,
        settings: &OidcSettings,
        id: &ConnectionId,
        query: &str,
        browser: Option<&str>,
        test_run: bool,
    ) -> Result<OidcAnswer> {
        let rp = self.relying_party(settings, id).await?;
        let now = self.now_ms();
        let callback = match rp.read_callback(query).map_err(refused)? {
            CallbackOutcome::Code(c) => c,
            CallbackOutcome::Error {
                refusal,
                state: Some(state),
            } => {
                self.take_oidc_pending(&state, id, browser, test_run, now)
                    .await?;
                return Ok(OidcAnswer::Refused(refusal));
            }
            CallbackOutcome::Error {
                refusal,
                state: None,
            } => return Err(refused(refusal)),
        };
        let p = self
            .take_oidc_pending(&callback.state, id, browser, test_run, now)
            .await?;
        exchange(settings, &rp, id, &callback, &p, now).await
    }

    /// Takes the pending request kept under `state` for connection `id`: refused when
    /// unknown (forged, replayed, expired), another connection's, another browser's, or
    /// of the other kind (a sign-in's on the test-run path, or the other way round).
    async fn take_oidc_pending(
        &self,
        state: &CsrfState,
        id: &ConnectionId,
        browser: Option<&str>,
        test_run: bool,
        now: i64,
    ) -> Result<Pending> {
        let p: Pending = self
            .take_pending(
                SignInKind::OidcState,
                state.expose_secret(),
                id,
                browser,
                now,
                "an OIDC pending request's payload",
            )
            .await?
            .map_err(|problem| {
                refused(match problem {
                    PendingProblem::Unknown => OidcSignInRefusal::UnknownState,
                    PendingProblem::OtherConnection(expected) => {
                        OidcSignInRefusal::RequestForAnotherConnection {
                            expected,
                            received: id.to_string(),
                        }
                    }
                    PendingProblem::OtherBrowser => OidcSignInRefusal::BrowserMismatch,
                })
            })?;
        if p.test_run != test_run {
            return Err(refused(OidcSignInRefusal::RequestKindMismatch {
                expected: kind_name(test_run),
                received: kind_name(p.test_run),
            }));
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use base64::Engine as _;

    use enterprise_sso::UnixMillis;

    use enterprise_sso::SignInItem;

    use async_trait::async_trait;
    use enterprise_sso_protocol::oidc::rp::{HttpError, HttpResponse, OidcHttp};
    use enterprise_sso_protocol::secret::AccessToken;
    use futures_executor::block_on;

    use super::*;
    use enterprise_sso::{
        ClientSecret, Connections, CreateConnection, OidcPatch, Patch, Provider, SignInStore,
    };
    use enterprise_sso_memory::MemoryRepo;

    const ISSUER: &str = "https://idp.example.com";
    const DISCOVERY: &str = "https://idp.example.com/.well-known/openid-configuration";

    #[derive(Debug, Default)]
    struct Discovery {
        fetches: AtomicUsize,
    }

    #[async_trait]
    impl OidcHttp for Discovery {
        async fn get(
            &self,
            url: &str,
            _max: usize,
        ) -> std::result::Result<HttpResponse, HttpError> {
            assert_eq!(url, DISCOVERY);
            self.fetches.fetch_add(1, Ordering::SeqCst);
            let body = serde_json::json!({
                "issuer": ISSUER,
                "authorization_endpoint": format!("{ISSUER}/authorize"),
                "token_endpoint": format!("{ISSUER}/token"),
                "jwks_uri": format!("{ISSUER}/jwks"),
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
            });
            Ok(HttpResponse {
                status: 200,
                content_type: Some("application/json".into()),
                body: body.to_string().into_bytes(),
            })
        }
        async fn get_with_bearer(
            &self,
            url: &str,
            _token: &AccessToken,
            _max: usize,
        ) -> std::result::Result<HttpResponse, HttpError> {
            Err(format!("unexpected user info request to {url}").into())
        }
        async fn post_form(
            &self,
            url: &str,
            _form: &[(&str, &str)],
            _basic: Option<(&str, &str)>,
            _max: usize,
        ) -> std::result::Result<HttpResponse, HttpError> {
            Err(format!("unexpected token request to {url}").into())
        }
    }

    #[test]
    fn provider_metadata_is_fetched_once_per_ttl() {
        let http = Arc::new(Discovery::default());
        let settings = OidcSettings::new("https://app.example.com/oidc", http.clone())
            .metadata_ttl(Duration::from_secs(60));
        let policy = enterprise_sso_protocol::limits::Policy::default();
        let get = |now| block_on(settings.provider(DISCOVERY, &policy, now)).unwrap();
        assert_eq!(get(1_000).issuer(), ISSUER);
        get(30_000);
        get(60_999);
        assert_eq!(http.fetches.load(Ordering::SeqCst), 1);
        get(61_000);
        assert_eq!(http.fetches.load(Ordering::SeqCst), 2);
        // A clock that went back fetches again rather than trust the entry.
        get(10_000);
        assert_eq!(http.fetches.load(Ordering::SeqCst), 3);

        let uncached = OidcSettings::new("https://app.example.com/oidc", http.clone())
            .metadata_ttl(Duration::ZERO);
        block_on(uncached.provider(DISCOVERY, &policy, 0)).unwrap();
        block_on(uncached.provider(DISCOVERY, &policy, 0)).unwrap();
        assert_eq!(http.fetches.load(Ordering::SeqCst), 5);
    }

    #[test]
    fn start_stores_no_nonce_and_an_altered_record_is_refused_at_the_callback() {
        let http = Arc::new(Discovery::default());
        let settings = OidcSettings::new("https://app.example.com/oidc", http.clone());
        let svc_flows =
            Flows::new(Connections::new(MemoryRepo::new()).with_clock(Arc::new(|| 1_000_000)));
        let svc = svc_flows.connections();
        let mut p = CreateConnection::new(Provider::OidcCustom, "Acme");
        p.domains = Some(vec!["acme.com".into()]);
        p.active = Some(true);
        p.oidc = Some(OidcPatch {
            client_id: Patch::Value("client".into()),
            client_secret: Patch::Value(ClientSecret::new("client-secret")),
            discovery_url: Patch::Value(DISCOVERY.into()),
            auth_url: Patch::Value(format!("{ISSUER}/authorize")),
            token_url: Patch::Value(format!("{ISSUER}/token")),
            ..Default::default()
        });
        let conn = block_on(svc.create(&p)).unwrap();
        let mut random = [0u8; 64];
        for (i, b) in random.iter_mut().enumerate() {
            *b = u8::try_from(i).unwrap().wrapping_mul(37).wrapping_add(11);
        }
        let start = OidcStart {
            browser: "browser-1",
            login_hint: None,
            domain_hint: None,
            random,
        };
        let url = block_on(svc_flows.oidc_start(&settings, &conn.id, start)).unwrap();
        let param = |name: &str| {
            url.split(['?', '&'])
                .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                .unwrap()
                .to_owned()
        };
        let (state, nonce) = (param("state"), param("nonce"));
        let key = sign_in_key(&state);
        let item = block_on(svc.repo().take_sign_in(
            SignInKind::OidcState,
            &key,
            UnixMillis::new(1_000_000),
        ))
        .unwrap()
        .unwrap();
        let text = String::from_utf8_lossy(&item.payload).into_owned();
        assert!(
            !text.contains(&nonce),
            "the nonce is stored in clear: {text}"
        );
        assert!(
            !text.contains("pkce"),
            "the verifier is stored in clear: {text}"
        );

        // The same record with one byte of the sealed value changed.
        let mut pending: Pending = serde_json::from_slice(&item.payload).unwrap();
        let mut raw = base64::engine::general_purpose::STANDARD
            .decode(&pending.sealed)
            .unwrap();
        raw[20] ^= 0x40;
        pending.sealed = base64::engine::general_purpose::STANDARD.encode(raw);
        let altered = SignInItem {
            payload: serde_json::to_vec(&pending).unwrap(),
            ..item
        };
        assert!(block_on(svc.repo().put_sign_in(&altered, UnixMillis::new(1_000_000))).unwrap());
        let query = format!("code=c1&state={state}");
        let err = block_on(svc_flows.oidc_finish(&settings, &conn.id, &query, Some("browser-1")))
            .unwrap_err();
        match err {
            Error::OidcRefused(r) => assert_eq!(r.code(), "oidc_pending_invalid"),
            other => panic!("expected oidc_pending_invalid, got {other:?}"),
        }
        // Start and callback used one discovery fetch.
        assert_eq!(http.fetches.load(Ordering::SeqCst), 1);
    }
}
