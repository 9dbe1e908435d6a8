//! User info (OIDC Core §5.3) and the identity the sign-in yields.

use serde_json::{Map, Value};

use super::http::OidcHttp;
use super::id_token::IdTokenClaims;
use super::refusal::{shown, OidcRefusal};
use super::RelyingParty;
use crate::secret::AccessToken;

/// Largest user-info response accepted, in bytes.
pub const MAX_USERINFO_BYTES: usize = 64 * 1024;

/// Why an email address was taken as the user's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailVerification {
    /// The provider said `email_verified: true`.
    Claim,
    /// Microsoft Entra ID's optional claim `xms_edov: true` (the email's domain is verified
    /// by the tenant that issued the token).
    DomainOwnerVerified,
    /// The connection says the provider's emails are verified
    /// ([`ClientConfig::provider_emails_verified`](super::ClientConfig::provider_emails_verified)).
    ProviderPolicy,
}

/// The identity a verified sign-in yields.
#[derive(Debug, Clone, PartialEq)]
pub struct OidcIdentity {
    /// The token's `iss`.
    pub issuer: String,
    /// The tenant, for a multi-tenant (template) provider.
    pub tenant: Option<String>,
    /// `sub`: the stable subject, unique per issuer. Key accounts by (issuer, subject),
    /// never by email.
    pub subject: String,
    /// The email, only when verified ([`Self::email_verification`] says how); an
    /// unverified one stays in [`Self::claims`] only.
    pub email: Option<String>,
    /// How the email was verified.
    pub email_verification: Option<EmailVerification>,
    /// `given_name`.
    pub given_name: Option<String>,
    /// `family_name`.
    pub family_name: Option<String>,
    /// `name`.
    pub name: Option<String>,
    /// The ID token's claims, with user-info claims added for names the token lacks.
    pub claims: Map<String, Value>,
    /// Whether user info was fetched.
    pub from_userinfo: bool,
}

fn is_true(v: Option<&Value>) -> bool {
    // Some providers (AWS Cognito's user info) send booleans as strings.
    matches!(v, Some(Value::Bool(true))) || matches!(v, Some(Value::String(s)) if s == "true")
}

fn text(claims: &Map<String, Value>, name: &str) -> Option<String> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

impl RelyingParty {
    /// Whether the ID token lacks claims that user info would give (an email, or any of
    /// the names) and the provider has a user-info endpoint.
    pub fn needs_userinfo(&self, id: &IdTokenClaims) -> bool {
        let lacks_names = ["given_name", "family_name", "name"]
            .iter()
            .all(|c| text(&id.claims, c).is_none());
        self.provider.discovery.userinfo_endpoint.is_some()
            && (text(&id.claims, "email").is_none() || lacks_names)
    }

    /// Reads a user-info answer: HTTP 200, a JSON object (signed or encrypted user info,
    /// `application/jwt`, is not supported), at most [`MAX_USERINFO_BYTES`], whose `sub`
    /// equals the ID token's (OIDC Core §5.3.2: otherwise the answer may be another
    /// user's).
    pub fn parse_userinfo(
        &self,
        id: &IdTokenClaims,
        status: u16,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<Map<String, Value>, OidcRefusal> {
        if body.len() > MAX_USERINFO_BYTES {
            return Err(OidcRefusal::TooLarge {
                what: "user-info response",
                limit: MAX_USERINFO_BYTES,
                received: body.len(),
            });
        }
        if status != 200 {
            return Err(OidcRefusal::HttpStatus {
                endpoint: "userinfo",
                expected: "200",
                status,
            });
        }
        if content_type.is_some_and(|c| c.trim_start().starts_with("application/jwt")) {
            return Err(OidcRefusal::UserinfoInvalid {
                problem: "signed or encrypted user info (application/jwt) is not supported",
            });
        }
        let claims: Map<String, Value> =
            serde_json::from_slice(body).map_err(|_| OidcRefusal::UserinfoInvalid {
                problem: "not a JSON object",
            })?;
        let sub = claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if sub != id.subject {
            return Err(OidcRefusal::UserinfoSubjectMismatch {
                expected: shown(&id.subject),
                received: shown(sub),
            });
        }
        Ok(claims)
    }

    /// Fetches user info with the access token and reads it ([`Self::parse_userinfo`]).
    pub async fn userinfo(
        &self,
        http: &dyn OidcHttp,
        id: &IdTokenClaims,
        access_token: &AccessToken,
    ) -> Result<Map<String, Value>, OidcRefusal> {
        let url = self.provider.discovery.userinfo_endpoint.as_deref().ok_or(
            OidcRefusal::UserinfoInvalid {
                problem: "the provider has no user-info endpoint",
            },
        )?;
        let resp = http
            .get_with_bearer(url, access_token, MAX_USERINFO_BYTES)
            .await
            .map_err(|e| OidcRefusal::Transport {
                endpoint: "userinfo",
                message: shown(&e.to_string()),
            })?;
        self.parse_userinfo(id, resp.status, resp.content_type.as_deref(), &resp.body)
    }

    /// The identity of a verified ID token and, optionally, its user info (already checked
    /// by [`Self::parse_userinfo`]):
    ///
    /// - subject = `sub`;
    /// - the email and its verification come as a pair from the ID token when it has an
    ///   `email`, else from user info; the email is kept only when `email_verified` is true
    ///   (boolean, or the string `"true"`), or `xms_edov` is true (Entra), or the connection
    ///   says the provider's emails are verified;
    /// - names from the ID token, else from user info;
    /// - claims: the ID token's, plus user-info claims whose names the token lacks.
    pub fn identity(
        &self,
        id: &IdTokenClaims,
        userinfo: Option<&Map<String, Value>>,
    ) -> OidcIdentity {
        let mut claims = id.claims.clone();
        let email_source = if text(&id.claims, "email").is_some() {
            Some(&id.claims)
        } else {
            userinfo.filter(|u| text(u, "email").is_some())
        };
        let (email, email_verification) = match email_source {
            Some(src) => {
                let how = if is_true(src.get("email_verified")) {
                    Some(EmailVerification::Claim)
                } else if is_true(src.get("xms_edov")) {
                    Some(EmailVerification::DomainOwnerVerified)
                } else if self.client.provider_emails_verified {
                    Some(EmailVerification::ProviderPolicy)
                } else {
                    None
                };
                (how.and_then(|_| text(src, "email")), how)
            }
            None => (None, None),
        };
        if let Some(u) = userinfo {
            for (k, v) in u {
                claims.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        let pick =
            |name: &str| text(&id.claims, name).or_else(|| userinfo.and_then(|u| text(u, name)));
        OidcIdentity {
            issuer: id.issuer.clone(),
            tenant: id.tenant.clone(),
            subject: id.subject.clone(),
            email,
            email_verification,
            given_name: pick("given_name"),
            family_name: pick("family_name"),
            name: pick("name"),
            claims,
            from_userinfo: userinfo.is_some(),
        }
    }
}
