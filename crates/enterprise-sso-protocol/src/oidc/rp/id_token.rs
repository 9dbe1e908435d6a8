//! ID token verification (OpenID Connect Core §3.1.3.7), with our rules written out;
//! aws-lc-rs checks the signature bytes, with the provider's keys parsed once per loaded
//! JWKS ([`super::jwks`]) and HS* through its constant-time HMAC verification.

use base64::Engine;
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::Digest;

use super::http::OidcHttp;
use super::jwks::{Checked, Family, JwksCache, Material, Selection, SigAlg, MAX_JWKS_BYTES};
use super::refusal::{shown, OidcRefusal};
use super::RelyingParty;
use crate::secret::{AccessToken, Nonce};

/// Largest ID token accepted, in bytes (Entra tokens with many group claims stay well
/// under this; past it a provider sends a groups overage claim).
pub const MAX_ID_TOKEN_BYTES: usize = 64 * 1024;

/// The asymmetric algorithms accepted, always.
pub const ASYMMETRIC_ALGORITHMS: [&str; 9] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

/// The symmetric algorithms, accepted only keyed by the client secret and only when the
/// provider lists them in `id_token_signing_alg_values_supported`.
pub const HMAC_ALGORITHMS: [&str; 3] = ["HS256", "HS384", "HS512"];

/// An ID token that passed every rule.
#[derive(Debug, Clone, PartialEq)]
pub struct IdTokenClaims {
    /// `iss`, exactly as the token carries it.
    pub issuer: String,
    /// The tenant, for a provider whose issuer is a tenant template (Entra multi-tenant).
    pub tenant: Option<String>,
    /// `sub`.
    pub subject: String,
    /// `aud`, as a list.
    pub audiences: Vec<String>,
    /// `exp`, Unix ms.
    pub expires_at_ms: i64,
    /// `iat`, Unix ms.
    pub issued_at_ms: i64,
    /// The header's `alg`.
    pub alg: String,
    /// The `kid` of the key that verified it (empty for HS*).
    pub kid: String,
    /// Every claim, as the token carries it.
    pub claims: Map<String, Value>,
}

#[derive(Deserialize)]
struct RawHeader {
    alg: Option<String>,
    kid: Option<String>,
    typ: Option<String>,
    crit: Option<Value>,
    // `jku`, `x5u`, `jwk`, `x5c`, `x5t`: never read. Keys come from the provider's JWKS.
}

#[derive(Clone, Copy)]
enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

/// How an algorithm is verified.
#[derive(Clone, Copy)]
enum Kind {
    /// With a key of this family from the provider's JWKS.
    PublicKey(Family, SigAlg),
    /// HS*: keyed by the client secret.
    Hmac(aws_lc_rs::hmac::Algorithm),
}

struct Alg {
    name: &'static str,
    kind: Kind,
    hash: Hash,
}

fn alg_of(name: &str) -> Option<Alg> {
    use aws_lc_rs::hmac;
    use Family as F;
    use Kind::{Hmac, PublicKey as Pk};
    let (name, kind, hash) = match name {
        "RS256" => ("RS256", Pk(F::Rsa, SigAlg::Rs256), Hash::Sha256),
        "RS384" => ("RS384", Pk(F::Rsa, SigAlg::Rs384), Hash::Sha384),
        "RS512" => ("RS512", Pk(F::Rsa, SigAlg::Rs512), Hash::Sha512),
        "PS256" => ("PS256", Pk(F::Rsa, SigAlg::Ps256), Hash::Sha256),
        "PS384" => ("PS384", Pk(F::Rsa, SigAlg::Ps384), Hash::Sha384),
        "PS512" => ("PS512", Pk(F::Rsa, SigAlg::Ps512), Hash::Sha512),
        "ES256" => ("ES256", Pk(F::P256, SigAlg::Es256), Hash::Sha256),
        "ES384" => ("ES384", Pk(F::P384, SigAlg::Es384), Hash::Sha384),
        // Ed25519 hashes with SHA-512, which at_hash then uses too.
        "EdDSA" => ("EdDSA", Pk(F::Ed25519, SigAlg::EdDsa), Hash::Sha512),
        "HS256" => ("HS256", Hmac(hmac::HMAC_SHA256), Hash::Sha256),
        "HS384" => ("HS384", Hmac(hmac::HMAC_SHA384), Hash::Sha384),
        "HS512" => ("HS512", Hmac(hmac::HMAC_SHA512), Hash::Sha512),
        _ => return None,
    };
    Some(Alg { name, kind, hash })
}

/// The key a token is checked with.
enum Key<'k> {
    /// A JWKS key (its parsed forms kept in the cache).
    Jwk(std::sync::Arc<Material>),
    /// The client secret (HS*).
    Secret(&'k [u8]),
}

/// A token split and its header judged; nothing verified yet.
struct Parsed<'a> {
    signing_input: &'a str,
    payload: &'a str,
    signature: Vec<u8>,
    alg: Alg,
    kid: Option<String>,
}

fn b64(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.as_bytes())
        .ok()
}

fn malformed(problem: &'static str) -> OidcRefusal {
    OidcRefusal::IdTokenMalformed { problem }
}

fn claims_invalid(problem: impl Into<String>) -> OidcRefusal {
    OidcRefusal::ClaimsInvalid {
        problem: problem.into(),
    }
}

/// A NumericDate claim (seconds, integer or not) as Unix ms.
fn numeric_date_ms(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<i64>, OidcRefusal> {
    let Some(v) = claims.get(name) else {
        return Ok(None);
    };
    let bad = || claims_invalid(format!("{name} is not a NumericDate"));
    if let Some(i) = v.as_i64() {
        return i.checked_mul(1000).map(Some).ok_or_else(bad);
    }
    match v.as_f64() {
        Some(f) if f.is_finite() && f.abs() < 9.0e15 => Ok(Some((f * 1000.0).floor() as i64)),
        _ => Err(bad()),
    }
}

fn string_claim<'c>(
    claims: &'c Map<String, Value>,
    name: &'static str,
) -> Result<Option<&'c str>, OidcRefusal> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(claims_invalid(format!("{name} is not a string"))),
    }
}

impl RelyingParty {
    /// The algorithms this connection accepts: [`ASYMMETRIC_ALGORITHMS`], and the HS*
    /// ones that the provider advertises when the client has a secret.
    pub fn allowed_algorithms(&self) -> Vec<&'static str> {
        let mut out = ASYMMETRIC_ALGORITHMS.to_vec();
        if self.client.client_secret.is_some() {
            for h in HMAC_ALGORITHMS {
                if self
                    .provider
                    .id_token_signing_alg_values_supported
                    .iter()
                    .any(|a| a == h)
                {
                    out.push(h);
                }
            }
        }
        out
    }

    fn parse_token<'a>(&self, token: &'a str) -> Result<Parsed<'a>, OidcRefusal> {
        if token.len() > MAX_ID_TOKEN_BYTES {
            return Err(OidcRefusal::TooLarge {
                what: "ID token",
                limit: MAX_ID_TOKEN_BYTES,
                received: token.len(),
            });
        }
        let parts: Vec<&str> = token.split('.').collect();
        let [header, payload, signature] = parts.as_slice() else {
            return Err(malformed(if parts.len() == 5 {
                "an encrypted token (JWE) is not supported"
            } else {
                "not three dot-separated parts (a JWS in compact serialisation)"
            }));
        };
        let signing_input = &token[..header.len() + 1 + payload.len()];
        let header_bytes = b64(header).ok_or(malformed("the header is not base64url"))?;
        let h: RawHeader = serde_json::from_slice(&header_bytes)
            .map_err(|_| malformed("the header is not a JSON object of the expected shape"))?;
        if let Some(crit) = h.crit {
            let received = match crit {
                Value::Array(a) => a.iter().map(|v| shown(v.as_str().unwrap_or("?"))).collect(),
                other => vec![shown(&other.to_string())],
            };
            return Err(OidcRefusal::CriticalHeader { received });
        }
        if let Some(typ) = h.typ.as_deref() {
            if !typ.eq_ignore_ascii_case("JWT") && !typ.eq_ignore_ascii_case("application/jwt") {
                return Err(malformed("typ is not JWT (an access or logout token?)"));
            }
        }
        let alg_name = h.alg.unwrap_or_default();
        let allowed = self.allowed_algorithms();
        let alg = alg_of(&alg_name)
            .filter(|a| allowed.contains(&a.name))
            .ok_or_else(|| OidcRefusal::AlgorithmNotAllowed {
                allowed: allowed.iter().map(|s| (*s).to_owned()).collect(),
                received: shown(&alg_name),
            })?;
        let signature = b64(signature).ok_or(malformed("the signature is not base64url"))?;
        Ok(Parsed {
            signing_input,
            payload,
            signature,
            alg,
            kid: h.kid,
        })
    }

    /// Verifies an ID token with the keys already in `jwks`, never fetching (the sans-I/O
    /// path: a `kid` the cache does not hold is refused; load a fresh JWKS with
    /// [`JwksCache::load`] and call again). See [`Self::verify_id_token`] for the rules.
    pub fn verify_id_token_cached(
        &self,
        jwks: &JwksCache,
        id_token: &str,
        nonce: &Nonce,
        access_token: Option<&AccessToken>,
        now_ms: i64,
    ) -> Result<IdTokenClaims, OidcRefusal> {
        let parsed = self.parse_token(id_token)?;
        let (key, kid) = match parsed.alg.kind {
            Kind::Hmac(_) => self.hmac_key()?,
            Kind::PublicKey(family, _) => {
                match jwks.select(
                    parsed.kid.as_deref(),
                    parsed.alg.name,
                    family,
                    now_ms,
                    false,
                    false,
                )? {
                    Selection::Key(k) => (Key::Jwk(k.material), k.kid),
                    Selection::Fetch => {
                        return Err(OidcRefusal::UnknownKey {
                            kid: parsed.kid.as_deref().map(shown).unwrap_or_default(),
                            alg: parsed.alg.name.to_owned(),
                            refetched: false,
                        })
                    }
                }
            }
        };
        self.finish(&parsed, &key, kid, nonce, access_token, now_ms)
    }

    /// Verifies an ID token (OIDC Core §3.1.3.7):
    ///
    /// - at most [`MAX_ID_TOKEN_BYTES`]; a JWS in compact form (no JWE); no `crit`; `typ`
    ///   absent or JWT;
    /// - `alg` in [`Self::allowed_algorithms`] (never `none`; HS* keyed by the client
    ///   secret, only when the provider advertises it);
    /// - the key from the provider's JWKS only (by `kid`, `kty`/curve, `use`, `alg`,
    ///   `key_ops`; `jku`, `x5u`, `jwk`, `x5c` headers ignored), the cache fetched again
    ///   on an unknown `kid` at most once per interval; ambiguous keys refused;
    /// - the signature (aws-lc-rs; HS* with its constant-time HMAC check);
    /// - `iss` exactly the provider's issuer (a tenant template: an allowed tenant's
    ///   issuer, and `tid`, when present, that tenant); `aud` contains the client id;
    ///   `azp` the client id when present and required with several audiences;
    /// - `exp` (now must be before `exp` + skew), `iat` and `nbf` (not after now + skew);
    /// - `nonce` equal to the request's (constant time); `sub` present;
    /// - `at_hash`, when present and an access token is given, matches it.
    pub async fn verify_id_token(
        &self,
        http: &dyn OidcHttp,
        jwks: &JwksCache,
        id_token: &str,
        nonce: &Nonce,
        access_token: Option<&AccessToken>,
        now_ms: i64,
    ) -> Result<IdTokenClaims, OidcRefusal> {
        let parsed = self.parse_token(id_token)?;
        let (key, kid) = match parsed.alg.kind {
            Kind::Hmac(_) => self.hmac_key()?,
            Kind::PublicKey(family, _) => {
                let kid = parsed.kid.as_deref();
                let alg = parsed.alg.name;
                let chosen = match jwks.select(kid, alg, family, now_ms, true, false)? {
                    Selection::Key(k) => k,
                    Selection::Fetch => {
                        let resp =
                            http.get(jwks.jwks_uri(), MAX_JWKS_BYTES)
                                .await
                                .map_err(|e| OidcRefusal::Transport {
                                    endpoint: "jwks",
                                    message: shown(&e.to_string()),
                                })?;
                        if resp.status != 200 {
                            return Err(OidcRefusal::HttpStatus {
                                endpoint: "jwks",
                                expected: "200",
                                status: resp.status,
                            });
                        }
                        jwks.load(&resp.body, now_ms)?;
                        match jwks.select(kid, alg, family, now_ms, false, true)? {
                            Selection::Key(k) => k,
                            Selection::Fetch => {
                                return Err(OidcRefusal::UnknownKey {
                                    kid: kid.map(shown).unwrap_or_default(),
                                    alg: alg.to_owned(),
                                    refetched: true,
                                })
                            }
                        }
                    }
                };
                (Key::Jwk(chosen.material), chosen.kid)
            }
        };
        self.finish(&parsed, &key, kid, nonce, access_token, now_ms)
    }

    fn hmac_key(&self) -> Result<(Key<'_>, String), OidcRefusal> {
        let secret = self
            .client
            .client_secret
            .as_ref()
            .filter(|s| !s.is_empty())
            .ok_or(OidcRefusal::Config {
                problem: "an HS* ID token needs the client secret".into(),
            })?;
        Ok((
            Key::Secret(secret.expose_secret().as_bytes()),
            String::new(),
        ))
    }

    fn finish(
        &self,
        parsed: &Parsed<'_>,
        key: &Key<'_>,
        kid: String,
        nonce: &Nonce,
        access_token: Option<&AccessToken>,
        now_ms: i64,
    ) -> Result<IdTokenClaims, OidcRefusal> {
        let alg = &parsed.alg;
        let message = parsed.signing_input.as_bytes();
        let checked = match (key, alg.kind) {
            (Key::Jwk(material), Kind::PublicKey(_, sig_alg)) => {
                material.verify(sig_alg, message, &parsed.signature)
            }
            (Key::Secret(secret), Kind::Hmac(algorithm)) => {
                let k = aws_lc_rs::hmac::Key::new(algorithm, secret);
                if aws_lc_rs::hmac::verify(&k, message, &parsed.signature).is_ok() {
                    Checked::Valid
                } else {
                    Checked::Invalid
                }
            }
            _ => Checked::KeyUnusable,
        };
        match checked {
            Checked::Valid => {}
            Checked::Invalid => {
                return Err(OidcRefusal::SignatureInvalid {
                    alg: alg.name.to_owned(),
                    kid: shown(&kid),
                })
            }
            Checked::KeyUnusable => {
                return Err(OidcRefusal::KeyUnusable {
                    kid: shown(&kid),
                    alg: alg.name.to_owned(),
                    reason: "the key cannot be loaded for this algorithm",
                })
            }
        }

        // Signed: the claims are read from here on.
        let payload = b64(parsed.payload).ok_or(malformed("the payload is not base64url"))?;
        let claims: Map<String, Value> = serde_json::from_slice(&payload)
            .map_err(|_| claims_invalid("the payload is not a JSON object"))?;

        let iss =
            string_claim(&claims, "iss")?.ok_or(OidcRefusal::MissingClaim { claim: "iss" })?;
        let tenant = self.judge_issuer(iss)?;
        if let Some(t) = &tenant {
            if let Some(tid) = string_claim(&claims, "tid")? {
                if !tid.eq_ignore_ascii_case(t) {
                    return Err(OidcRefusal::TenantNotAllowed {
                        allowed: vec![t.clone()],
                        received: shown(tid),
                    });
                }
            }
        }

        let audiences: Vec<String> = match claims.get("aud") {
            None => return Err(OidcRefusal::MissingClaim { claim: "aud" }),
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| claims_invalid("aud is not a string or a list of strings"))?,
            Some(_) => return Err(claims_invalid("aud is not a string or a list of strings")),
        };
        let client_id = &self.client.client_id;
        if !audiences.iter().any(|a| a == client_id) {
            return Err(OidcRefusal::AudienceMismatch {
                expected: client_id.clone(),
                received: audiences.iter().map(|a| shown(a)).collect(),
            });
        }
        let azp = string_claim(&claims, "azp")?;
        if azp.is_some_and(|a| a != client_id) || (audiences.len() > 1 && azp.is_none()) {
            return Err(OidcRefusal::AuthorizedPartyMismatch {
                expected: client_id.clone(),
                received: azp.map(shown),
            });
        }

        let skew = self.client.clock_skew_ms.max(0);
        let exp =
            numeric_date_ms(&claims, "exp")?.ok_or(OidcRefusal::MissingClaim { claim: "exp" })?;
        if now_ms >= exp.saturating_add(skew) {
            return Err(OidcRefusal::Expired {
                exp_ms: exp,
                now_ms,
                skew_ms: skew,
            });
        }
        let iat =
            numeric_date_ms(&claims, "iat")?.ok_or(OidcRefusal::MissingClaim { claim: "iat" })?;
        for (claim, at) in [
            ("iat", Some(iat)),
            ("nbf", numeric_date_ms(&claims, "nbf")?),
        ] {
            if let Some(at) = at {
                if at > now_ms.saturating_add(skew) {
                    return Err(OidcRefusal::NotYetValid {
                        claim,
                        at_ms: at,
                        now_ms,
                        skew_ms: skew,
                    });
                }
            }
        }

        let got = string_claim(&claims, "nonce")?.ok_or(OidcRefusal::NonceMissing)?;
        if !crate::secret::ct_eq(got.as_bytes(), nonce.expose_secret().as_bytes()) {
            return Err(OidcRefusal::NonceMismatch);
        }

        let sub = string_claim(&claims, "sub")?
            .filter(|s| !s.is_empty())
            .ok_or(OidcRefusal::MissingClaim { claim: "sub" })?;

        if let (Some(at_hash), Some(token)) = (string_claim(&claims, "at_hash")?, access_token) {
            let bytes = token.expose_secret().as_bytes();
            let digest = match alg.hash {
                Hash::Sha256 => sha2::Sha256::digest(bytes).to_vec(),
                Hash::Sha384 => sha2::Sha384::digest(bytes).to_vec(),
                Hash::Sha512 => sha2::Sha512::digest(bytes).to_vec(),
            };
            let half = digest.get(..digest.len() / 2).unwrap_or_default();
            let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(half);
            if !crate::secret::ct_eq(expected.as_bytes(), at_hash.as_bytes()) {
                return Err(OidcRefusal::AccessTokenHashMismatch);
            }
        }

        Ok(IdTokenClaims {
            issuer: iss.to_owned(),
            tenant,
            subject: sub.to_owned(),
            audiences,
            expires_at_ms: exp,
            issued_at_ms: iat,
            alg: alg.name.to_owned(),
            kid,
            claims,
        })
    }
}
