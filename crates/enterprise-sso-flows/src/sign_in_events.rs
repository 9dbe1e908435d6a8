//! `authentication.sso_failed`: a refused sign-in appends its own event with the typed
//! reason (a successful one's `authentication.sso_succeeded` comes with its account
//! write, from [`enterprise_sso::account_events`]).

use crate::Flows;
use enterprise_sso::{
    events::{Event, SignInFailure},
    ConnectionId, Error, Result, Store,
};

/// The reason an error gives for a refused sign-in; `None` when the error is not a
/// refusal (storage, an unknown connection).
pub fn sign_in_failure(e: &Error) -> Option<SignInFailure> {
    let (code, message) = match e {
        Error::SamlRefused(r) => (r.code(), r.to_string()),
        Error::OidcRefused(r) => (r.code(), r.to_string()),
        Error::HostedRefused(r) => (r.code(), r.to_string()),
        Error::SignInRefused(r) => (r.code(), r.to_string()),
        _ => return None,
    };
    Some(SignInFailure {
        code: code.to_owned(),
        message,
    })
}

impl<R: Store> Flows<R> {
    /// Appends `authentication.sso_failed` for a sign-in through `id` that ended in
    /// `error`, when the error is a refusal (nothing is appended for others). The hosted
    /// flows call it for every refusal; a host running the engines itself calls it too.
    pub async fn record_sign_in_failure(&self, id: &ConnectionId, error: &Error) -> Result<()> {
        let Some(failure) = sign_in_failure(error) else {
            return Ok(());
        };
        let event = Event::sign_in_failed(id.clone(), failure, self.now_ms());
        self.svc.repo().append_events(&[event]).await
    }
}
