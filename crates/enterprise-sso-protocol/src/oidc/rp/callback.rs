//! The authorization response at the redirect URI (RFC 6749 §4.1.2, RFC 9207).

use super::refusal::{shown, OidcRefusal, ProviderErrorKind};
use super::RelyingParty;
use crate::secret::{AuthorizationCode, CsrfState};

/// Longest callback query (or `form_post` body) accepted, in bytes.
pub const MAX_CALLBACK_BYTES: usize = 16 * 1024;

/// A successful authorization response: the code, and the `state` under which the caller
/// takes its [`PendingAuthorization`](super::PendingAuthorization) (once; a second take of
/// the same state must find nothing).
#[derive(Debug, Clone)]
pub struct Callback {
    /// The authorization code.
    pub code: AuthorizationCode,
    /// The `state` echoed by the provider.
    pub state: CsrfState,
}

/// What the provider's redirect to the redirect URI carries, once its form and `iss` are
/// checked ([`RelyingParty::read_callback`]).
#[derive(Debug, Clone)]
pub enum CallbackOutcome {
    /// `code` and `state`: the caller takes the pending request by the state and completes.
    Code(Callback),
    /// The provider's `error` ([`OidcRefusal::ProviderError`]), with the `state` it echoed
    /// when there was one. The state is not judged here: the caller takes its pending
    /// request by it (once, bound to the browser) before it believes the error answers
    /// one of its requests, e.g. to send the refusal back to whoever asked.
    Error {
        /// The provider's refusal: always [`OidcRefusal::ProviderError`].
        refusal: OidcRefusal,
        /// The `state` echoed with the error, if any (an empty one counts as none).
        state: Option<CsrfState>,
    },
}

impl RelyingParty {
    /// Reads the callback's query string as [`RelyingParty::read_callback`] does; the
    /// provider's `error` is returned as the refusal ([`OidcRefusal::ProviderError`]).
    pub fn callback(&self, query: &str) -> Result<Callback, OidcRefusal> {
        match self.read_callback(query)? {
            CallbackOutcome::Code(c) => Ok(c),
            CallbackOutcome::Error { refusal, .. } => Err(refusal),
        }
    }

    /// Reads the callback's query string (or a `response_mode=form_post` body):
    ///
    /// 1. every parameter at most once;
    /// 2. `iss` (RFC 9207), checked before anything else, also on error responses: when
    ///    present it must be this provider's issuer (for an Entra tenant template, an
    ///    allowed tenant's issuer); when absent it is refused if the provider advertises
    ///    `authorization_response_iss_parameter_supported`;
    /// 3. `error` becomes [`CallbackOutcome::Error`]: an [`OidcRefusal::ProviderError`]
    ///    with a typed reason, and the `state` when one was sent;
    /// 4. otherwise `code` and `state` are required.
    ///
    /// The `state` is not judged here: the caller takes its pending record by it, and a
    /// state with no record (forged, replayed, expired) is refused there.
    pub fn read_callback(&self, query: &str) -> Result<CallbackOutcome, OidcRefusal> {
        if query.len() > MAX_CALLBACK_BYTES {
            return Err(OidcRefusal::TooLarge {
                what: "callback",
                limit: MAX_CALLBACK_BYTES,
                received: query.len(),
            });
        }
        let query = query.strip_prefix('?').unwrap_or(query);
        let mut seen: Vec<String> = Vec::new();
        let mut code = None;
        let mut state = None;
        let mut iss = None;
        let mut error = None;
        let mut description = None;
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            if seen.iter().any(|s| *s == k) {
                return Err(OidcRefusal::CallbackDuplicate {
                    parameter: shown(&k),
                });
            }
            seen.push(k.to_string());
            match &*k {
                "code" => code = Some(v.into_owned()),
                "state" => state = Some(v.into_owned()),
                "iss" => iss = Some(v.into_owned()),
                "error" => error = Some(v.into_owned()),
                "error_description" => description = Some(shown(&v)),
                _ => {}
            }
        }
        match iss {
            Some(received) if self.accepted_issuer(&received).is_none() => {
                return Err(OidcRefusal::CallbackIssuerMismatch {
                    expected: self.provider.issuer().to_owned(),
                    received: shown(&received),
                });
            }
            Some(_) => {}
            None if self.provider.authorization_response_iss_parameter_supported => {
                return Err(OidcRefusal::CallbackIssuerMissing {
                    expected: self.provider.issuer().to_owned(),
                });
            }
            None => {}
        }
        if let Some(e) = error {
            return Ok(CallbackOutcome::Error {
                refusal: OidcRefusal::ProviderError {
                    kind: ProviderErrorKind::parse(&e),
                    description,
                },
                state: state.filter(|s| !s.is_empty()).map(CsrfState::new),
            });
        }
        let code = code
            .filter(|c| !c.is_empty())
            .ok_or(OidcRefusal::CallbackMissing { parameter: "code" })?;
        let state = state
            .filter(|s| !s.is_empty())
            .ok_or(OidcRefusal::CallbackMissing { parameter: "state" })?;
        Ok(CallbackOutcome::Code(Callback {
            code: AuthorizationCode::new(code),
            state: CsrfState::new(state),
        }))
    }
}
