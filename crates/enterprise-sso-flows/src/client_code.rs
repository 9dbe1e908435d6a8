//! The hosted client's part of a one-commit sign-in, shared by the SAML ACS
//! (`saml_commit`) and the OIDC callback (`oidc_commit`): the client's code, made inside
//! [`Connections::commit_sign_in`]'s `extra` and stored by its commit, and the redirect that
//! takes it to the client.

use std::collections::BTreeMap;

use super::hosted::{code_item, HostedSettings, Profile};
use super::hosted_flow::{HostedRedirect, Pending as ClientRequest};
use enterprise_sso::{ConnectionId, Result, SignIn, SignInItem};

/// The `extra` of a hosted sign-in ([`Connections::commit_sign_in`]): the client's code for
/// the sign-in's profile (`raw`: WorkOS's `raw_attributes`), its record stored by the
/// commit, the code and the profile kept for [`client_redirect`].
pub(super) fn client_code(
    settings: &HostedSettings,
    client: &ClientRequest,
    random: [u8; 32],
    sign_in: &SignIn,
    raw: BTreeMap<String, serde_json::Value>,
    now: i64,
) -> Result<Option<(SignInItem, (String, Profile))>> {
    let profile = Profile::of_sign_in(sign_in, raw);
    let (code, item) = code_item(settings, &client.binding, &profile, random, now)?;
    Ok(Some((item, (code, profile))))
}

/// The redirect that takes the client's code to it, once the commit stored the code.
pub(super) fn client_redirect(
    code: Option<(String, Profile)>,
    client: Option<ClientRequest>,
    id: &ConnectionId,
) -> Option<HostedRedirect> {
    code.zip(client)
        .map(|((code, profile), client)| HostedRedirect {
            redirect_uri: client.binding.redirect_uri,
            code,
            state: client.state,
            connection_id: id.clone(),
            profile,
        })
}
