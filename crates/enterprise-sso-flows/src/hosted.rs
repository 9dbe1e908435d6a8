//! The hosted sign-in API's codes and tokens (the WorkOS SSO API's rules): after a
//! successful sign-in the host's client gets a short-lived authorization code bound to its
//! `client_id`, its `redirect_uri`, an optional PKCE S256 challenge, the connection and
//! the signed-in profile; the code is taken exactly once for an access token, which reads
//! the profile until it expires. Codes and tokens are stored hashed ([`sign_in_key`]) in
//! the sign-in store (kinds `authorization_code` and `access_token`), so replicas sharing
//! a store share them; the raw values exist only in the answers.
//!
//! The flow around it (authorize → IdP → ACS or callback → code) is in `hosted_flow`.

use crate::{Flows, HostedRefusal};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use sha2::Digest;

use crate::{OidcSettings, SamlSettings};
use enterprise_sso::{
    sign_in_key, Error, Result, SignIn, SignInItem, SignInKind, SignInOp, Store, UnixMillis,
};

/// How long an authorization code may wait for its exchange (ten minutes, as WorkOS).
pub const DEFAULT_CODE_TTL: Duration = Duration::from_secs(600);
/// How long an access token reads its profile (ten minutes: WorkOS's `expires_in`).
pub const DEFAULT_ACCESS_TOKEN_TTL: Duration = Duration::from_secs(600);
/// How long a client's authorization request is kept (30 minutes: longer than the
/// ten-minute SAML and OIDC requests it rides on).
pub const DEFAULT_HOSTED_REQUEST_TTL: Duration = Duration::from_secs(1800);
/// The longest client `state` kept for the redirect back (bytes).
pub const MAX_CLIENT_STATE_BYTES: usize = 2048;
/// The longest RelayState accepted at the ACS (the SAML bindings' 80 bytes).
pub const MAX_RELAY_STATE_BYTES: usize = 80;

/// The hosted sign-in's settings: the SAML SP and OIDC RP settings, and how long codes
/// and access tokens live.
#[derive(Debug, Clone)]
pub struct HostedSettings {
    saml: SamlSettings,
    oidc: Option<Arc<OidcSettings>>,
    pub(super) request_ttl: Duration,
    code_ttl: Duration,
    access_token_ttl: Duration,
}

impl HostedSettings {
    /// SAML sign-ins through `saml`; OIDC sign-ins only once [`HostedSettings::with_oidc`]
    /// gives the relying party's settings. Codes and tokens live ten minutes.
    pub fn new(saml: SamlSettings) -> Self {
        HostedSettings {
            saml,
            oidc: None,
            request_ttl: DEFAULT_HOSTED_REQUEST_TTL,
            code_ttl: DEFAULT_CODE_TTL,
            access_token_ttl: DEFAULT_ACCESS_TOKEN_TTL,
        }
    }

    /// Signs in through OIDC connections with `oidc`.
    pub fn with_oidc(mut self, oidc: Arc<OidcSettings>) -> Self {
        self.oidc = Some(oidc);
        self
    }

    /// How long a client's authorization request is kept for the IdP's answer: at least
    /// the SAML and OIDC request lifetimes (it is only found through a live pending
    /// request, so a longer life costs only storage until the sweep).
    pub fn request_ttl(mut self, ttl: Duration) -> Self {
        self.request_ttl = ttl;
        self
    }

    /// How long a code may wait for its exchange.
    pub fn code_ttl(mut self, ttl: Duration) -> Self {
        self.code_ttl = ttl;
        self
    }

    /// How long an access token reads its profile.
    pub fn access_token_ttl(mut self, ttl: Duration) -> Self {
        self.access_token_ttl = ttl;
        self
    }

    /// The SAML settings.
    pub fn saml(&self) -> &SamlSettings {
        &self.saml
    }

    /// The OIDC settings, when OIDC sign-in is on.
    pub fn oidc(&self) -> Option<&OidcSettings> {
        self.oidc.as_deref()
    }

    /// The access token's lifetime, in seconds (`expires_in`).
    pub fn access_token_ttl_secs(&self) -> u64 {
        self.access_token_ttl.as_secs()
    }
}

/// The signed-in user as the hosted API shows them (WorkOS's `Profile`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct Profile {
    /// `prof_` and the account's ULID: stable per (connection, user).
    pub id: String,
    /// The IdP's id of the user (SAML NameID, OIDC `sub`).
    pub idp_id: String,
    /// The connection.
    pub connection_id: String,
    /// WorkOS's connection type (`GenericSAML`, `OktaSAML`, `GenericOIDC`, …).
    pub connection_type: String,
    /// The connection's organization.
    pub organization_id: Option<String>,
    /// The email, as the account holds it.
    pub email: String,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// The IdP's attributes or claims, by name, as WorkOS shows them: a SAML attribute
    /// with one value is that string, with several (or none) an array of strings; an OIDC
    /// claim keeps its JSON type (string, number, boolean, array, object). Bounded by what
    /// the engines read: a SAML Response of at most 192 KiB, an ID token of at most
    /// `MAX_ID_TOKEN_BYTES` and user info of at most `MAX_USERINFO_BYTES`.
    pub raw_attributes: BTreeMap<String, serde_json::Value>,
    /// The enterprise account (an extension of WorkOS's profile).
    pub enterprise_account_id: String,
}

impl Profile {
    /// The profile of a recorded sign-in, with the IdP's attributes
    /// ([`Profile::raw_attributes`]).
    pub fn of_sign_in(
        sign_in: &SignIn,
        raw_attributes: BTreeMap<String, serde_json::Value>,
    ) -> Self {
        let a = &sign_in.account;
        let c = &sign_in.connection;
        let account = a.id.as_str();
        Profile {
            id: format!(
                "prof_{}",
                account
                    .strip_prefix(enterprise_sso::ACCOUNT_ID_PREFIX)
                    .unwrap_or(account)
            ),
            idp_id: a.provider_user_id.clone().unwrap_or_default(),
            connection_id: c.id.to_string(),
            connection_type: c.provider.workos_connection_type().as_str().to_owned(),
            organization_id: c.organization_id.clone(),
            email: a.email_address.clone(),
            first_name: a.first_name.clone(),
            last_name: a.last_name.clone(),
            raw_attributes,
            enterprise_account_id: account.to_owned(),
        }
    }
}

/// What a code is bound to (the authorization request that led to it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CodeBinding {
    /// The client that asked.
    pub client_id: String,
    /// Where the code is sent (one of the client's registered URIs).
    pub redirect_uri: String,
    /// The PKCE S256 challenge, when the client sent one.
    pub code_challenge: Option<String>,
}

/// What the client presents at the token endpoint.
#[derive(Clone, Copy)]
pub struct CodeExchange<'a> {
    /// The `client_id` sent.
    pub client_id: &'a str,
    /// Whether the host authenticated the client (its secret matched).
    pub client_authenticated: bool,
    /// The PKCE `code_verifier`, when sent.
    pub code_verifier: Option<&'a str>,
    /// The `redirect_uri`, when sent (then it must be the code's).
    pub redirect_uri: Option<&'a str>,
    /// 32 bytes from a CSPRNG (the access token is made from them).
    pub random: [u8; 32],
}

impl std::fmt::Debug for CodeExchange<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeExchange")
            .field("client_id", &self.client_id)
            .field("client_authenticated", &self.client_authenticated)
            .field("code_verifier", &self.code_verifier.map(|_| "<redacted>"))
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

/// An exchanged code: the access token and the profile.
#[derive(Clone)]
pub struct TokenGrant {
    /// The access token (secret: only in the answer; stored hashed).
    pub access_token: String,
    /// Its lifetime in seconds.
    pub expires_in: u64,
    /// The signed-in user.
    pub profile: Profile,
}

impl std::fmt::Debug for TokenGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenGrant")
            .field("access_token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .field("profile", &self.profile)
            .finish()
    }
}

pub(super) fn refused(r: HostedRefusal) -> Error {
    Error::HostedRefused(Box::new(r))
}

pub(super) use super::pending::millis;

/// BASE64URL without padding: codes, tokens and S256 challenges.
pub(super) fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The S256 challenge of a verifier.
pub fn s256_challenge(verifier: &str) -> String {
    b64url(&sha2::Sha256::digest(verifier.as_bytes()))
}

/// Checks an S256 `code_challenge`: 43 base64url characters (a SHA-256 digest).
pub fn check_code_challenge(challenge: &str) -> Result<()> {
    if challenge.len() != 43 {
        return Err(refused(HostedRefusal::InvalidCodeChallenge {
            reason: "it must be 43 characters long",
        }));
    }
    if !challenge
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(refused(HostedRefusal::InvalidCodeChallenge {
            reason: "it must be base64url (A-Z a-z 0-9 - _)",
        }));
    }
    Ok(())
}

fn valid_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

#[derive(serde::Serialize, serde::Deserialize)]
struct CodePayload {
    binding: CodeBinding,
    profile: Profile,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct TokenPayload {
    client_id: String,
    profile: Profile,
}

/// The refusal of a code whose random value is already live (broken randomness).
pub(super) const CODE_LIVE: &str = "the code is already live";
/// The refusal of an access token whose random value is already live.
const TOKEN_LIVE: &str = "the access token is already live";

/// An authorization code for `profile` bound to `binding`, issued at `now`: the raw code
/// and its record (stored hashed, for [`HostedSettings::code_ttl`]).
pub(super) fn code_item(
    settings: &HostedSettings,
    binding: &CodeBinding,
    profile: &Profile,
    random: [u8; 32],
    now: i64,
) -> Result<(String, SignInItem)> {
    if let Some(c) = &binding.code_challenge {
        check_code_challenge(c)?;
    }
    let code = b64url(&random);
    let payload = serde_json::to_vec(&CodePayload {
        binding: binding.clone(),
        profile: profile.clone(),
    })
    .map_err(|_| Error::corrupt("an authorization code could not be encoded"))?;
    let item = SignInItem {
        kind: SignInKind::AuthorizationCode,
        key: sign_in_key(&code),
        connection_id: profile.connection_id.parse().ok(),
        created_at: UnixMillis::new(now),
        expires_at: UnixMillis::new(now.saturating_add(millis(settings.code_ttl))),
        payload,
    };
    Ok((code, item))
}

/// The exchange's rules on the code's binding, in order: issued to `exchange.client_id`;
/// a `redirect_uri` sent is the code's; with a challenge, the verifier is required and
/// must hash to it (S256); without one, a verifier is refused (a downgrade) and the
/// client must be authenticated.
fn check_exchange(
    b: &CodeBinding,
    exchange: &CodeExchange<'_>,
) -> std::result::Result<(), HostedRefusal> {
    if !enterprise_sso_protocol::secret::ct_eq(
        b.client_id.as_bytes(),
        exchange.client_id.as_bytes(),
    ) {
        return Err(HostedRefusal::CodeOfAnotherClient {
            expected: b.client_id.clone(),
            received: exchange.client_id.to_owned(),
        });
    }
    if let Some(r) = exchange.redirect_uri {
        if r != b.redirect_uri {
            return Err(HostedRefusal::RedirectUriMismatch {
                expected: b.redirect_uri.clone(),
                received: r.to_owned(),
            });
        }
    }
    match (&b.code_challenge, exchange.code_verifier) {
        (Some(_), None) => Err(HostedRefusal::CodeVerifierMissing),
        (Some(challenge), Some(v)) => {
            let got = s256_challenge(v);
            if enterprise_sso_protocol::secret::ct_eq(got.as_bytes(), challenge.as_bytes()) {
                Ok(())
            } else {
                Err(HostedRefusal::CodeVerifierMismatch {
                    expected: challenge.clone(),
                    received: got,
                })
            }
        }
        (None, Some(_)) => Err(HostedRefusal::CodeVerifierUnexpected),
        (None, None) if !exchange.client_authenticated => {
            Err(HostedRefusal::ClientNotAuthenticated)
        }
        (None, None) => Ok(()),
    }
}

/// The grant of an exchanged code and the access token's record.
fn grant(
    settings: &HostedSettings,
    connection_id: Option<enterprise_sso::ConnectionId>,
    p: CodePayload,
    exchange: &CodeExchange<'_>,
    now: i64,
) -> Result<(TokenGrant, SignInItem)> {
    let access_token = b64url(&exchange.random);
    let payload = serde_json::to_vec(&TokenPayload {
        client_id: p.binding.client_id.clone(),
        profile: p.profile.clone(),
    })
    .map_err(|_| Error::corrupt("an access token could not be encoded"))?;
    let token = SignInItem {
        kind: SignInKind::AccessToken,
        key: sign_in_key(&access_token),
        connection_id,
        created_at: UnixMillis::new(now),
        expires_at: UnixMillis::new(now.saturating_add(millis(settings.access_token_ttl))),
        payload,
    };
    let grant = TokenGrant {
        access_token,
        expires_in: settings.access_token_ttl.as_secs(),
        profile: p.profile,
    };
    Ok((grant, token))
}

impl<R: Store> Flows<R> {
    /// Issues an authorization code for `profile` (a sign-in just recorded), bound to
    /// `binding`; the raw code is returned (give it only to the redirect URI) and stored
    /// hashed for [`HostedSettings::code_ttl`]. `random`: 32 bytes from a CSPRNG.
    pub async fn issue_code(
        &self,
        settings: &HostedSettings,
        binding: &CodeBinding,
        profile: &Profile,
        random: [u8; 32],
    ) -> Result<String> {
        let now = self.now_ms();
        let (code, item) = code_item(settings, binding, profile, random, now)?;
        if !self
            .svc
            .repo()
            .put_sign_in(&item, UnixMillis::new(now))
            .await?
        {
            return Err(Error::InvalidArgument {
                argument: "random",
                reason: CODE_LIVE,
            });
        }
        Ok(code)
    }

    /// Exchanges a code for an access token and the profile. The code is taken (used
    /// up) first, whatever follows, so a code presented twice, or by the wrong client,
    /// never works again. Rules, in order: the code is live; it was issued to
    /// `exchange.client_id`; a `redirect_uri` sent is the code's; with a challenge, the
    /// verifier is required and must hash to it (S256); without one, a verifier is
    /// refused (a downgrade) and the client must be authenticated.
    pub async fn exchange_code(
        &self,
        settings: &HostedSettings,
        code: &str,
        exchange: &CodeExchange<'_>,
    ) -> Result<TokenGrant> {
        if let Some(v) = exchange.code_verifier {
            if !valid_verifier(v) {
                return Err(refused(HostedRefusal::InvalidCodeVerifier));
            }
        }
        let now = self.now_ms();
        let key = sign_in_key(code);
        // The common case in one durable write: the code read, every rule checked on it,
        // then taken and the token stored together. Anything else (no code, a rule
        // refused, the code taken meanwhile) wrote nothing and goes the long way below,
        // which takes the code first whatever follows, as a refusal must.
        if let Some(item) = self
            .svc
            .repo()
            .get_sign_in(SignInKind::AuthorizationCode, &key, UnixMillis::new(now))
            .await?
        {
            let p: CodePayload = serde_json::from_slice(&item.payload)
                .map_err(|_| Error::corrupt("an authorization code's payload"))?;
            if check_exchange(&p.binding, exchange).is_ok() {
                let (grant, token) = grant(settings, item.connection_id.clone(), p, exchange, now)?;
                let ops = [
                    SignInOp::Take {
                        kind: SignInKind::AuthorizationCode,
                        key: key.clone(),
                    },
                    SignInOp::Put(token),
                ];
                if self
                    .svc
                    .repo()
                    .commit_sign_ins(&ops, None, UnixMillis::new(now))
                    .await?
                    .is_ok()
                {
                    return Ok(grant);
                }
            }
        }
        let Some(item) = self
            .svc
            .repo()
            .take_sign_in(SignInKind::AuthorizationCode, &key, UnixMillis::new(now))
            .await?
        else {
            return Err(refused(HostedRefusal::CodeUnknown));
        };
        let p: CodePayload = serde_json::from_slice(&item.payload)
            .map_err(|_| Error::corrupt("an authorization code's payload"))?;
        check_exchange(&p.binding, exchange).map_err(refused)?;
        let (grant, token) = grant(settings, item.connection_id.clone(), p, exchange, now)?;
        if !self
            .svc
            .repo()
            .put_sign_in(&token, UnixMillis::new(now))
            .await?
        {
            return Err(Error::InvalidArgument {
                argument: "random",
                reason: TOKEN_LIVE,
            });
        }
        Ok(grant)
    }

    /// The profile an access token reads (until it expires).
    pub async fn profile_for_token(&self, access_token: &str) -> Result<Profile> {
        let now = self.now_ms();
        let item = self
            .svc
            .repo()
            .get_sign_in(
                SignInKind::AccessToken,
                &sign_in_key(access_token),
                UnixMillis::new(now),
            )
            .await?
            .ok_or_else(|| refused(HostedRefusal::AccessTokenUnknown))?;
        let p: TokenPayload = serde_json::from_slice(&item.payload)
            .map_err(|_| Error::corrupt("an access token's payload"))?;
        Ok(p.profile)
    }

    /// Removes every expired sign-in record (pending requests, replay entries, codes,
    /// tokens) at the service's clock; how many. Hosts run it on a schedule.
    pub async fn sweep_sign_ins(&self) -> Result<u64> {
        let now = self.now_ms();
        self.svc.repo().sweep_sign_ins(UnixMillis::new(now)).await
    }
}
