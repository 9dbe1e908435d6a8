//! `authentication.sso_failed`: a refused sign-in appends its own event with the typed
//! reason (a successful one's `authentication.sso_succeeded` comes with its account
//! write, from [`crate::events::account_events`]).

use super::Connections;
use crate::account::SignInRefusal;
use crate::error::{Error, Result};
use crate::events::{Event, SignInFailure};
use crate::ids::ConnectionId;
use crate::repo::Store;

/// The stable code of a sign-in rule.
fn sign_in_code(r: &SignInRefusal) -> &'static str {
    match r {
        SignInRefusal::ConnectionInactive => "sign_in_connection_inactive",
        SignInRefusal::AccountInactive => "sign_in_account_inactive",
        SignInRefusal::MissingSubject => "sign_in_missing_subject",
        SignInRefusal::MissingEmail => "sign_in_missing_email",
        SignInRefusal::InvalidEmail => "sign_in_invalid_email",
        SignInRefusal::EmailOutsideDomains => "sign_in_email_outside_domains",
        SignInRefusal::NotAuthenticatable => "sign_in_not_authenticatable",
        SignInRefusal::JitProvisioningDisabled => "sign_in_jit_provisioning_disabled",
        _ => "sign_in_refused",
    }
}

/// The reason an error gives for a refused sign-in; `None` when the error is not a
/// refusal (storage, an unknown connection).
pub fn sign_in_failure(e: &Error) -> Option<SignInFailure> {
    let (code, message) = match e {
        Error::SamlRefused(r) => (r.code(), r.to_string()),
        Error::OidcRefused(r) => (r.code(), r.to_string()),
        Error::HostedRefused(r) => (r.code(), r.to_string()),
        Error::SignInRefused(r) => (sign_in_code(r), r.to_string()),
        _ => return None,
    };
    Some(SignInFailure {
        code: code.to_owned(),
        message,
    })
}

impl<R: Store> Connections<R> {
    /// Appends `authentication.sso_failed` for a sign-in through `id` that ended in
    /// `error`, when the error is a refusal (nothing is appended for others). The hosted
    /// flows call it for every refusal; a host running the engines itself calls it too.
    pub async fn record_sign_in_failure(&self, id: &ConnectionId, error: &Error) -> Result<()> {
        let Some(failure) = sign_in_failure(error) else {
            return Ok(());
        };
        let event = Event::sign_in_failed(id.clone(), failure, (self.clock)());
        self.repo.append_events(&[event]).await
    }
}
