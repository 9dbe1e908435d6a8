//! The provider's signing keys: a JSON Web Key Set (RFC 7517) cached per provider.
//!
//! Keys come only from the provider's `jwks_uri` (never from a token's `jku`, `x5u`, `jwk`
//! or `x5c` header). A key is chosen by the token's `kid` among the keys whose `kty` (and
//! curve) fit the token's `alg`, whose `use` is absent or `sig`, whose `alg` is absent or
//! the token's, and whose `key_ops` is absent or has `verify`. Two keys that both fit are
//! ambiguous and refused (never "the first one"); a token without `kid` is accepted only
//! when exactly one key fits.
//!
//! The cache is fetched again when a token names a `kid` it does not hold (a rotation), at
//! most once per [`JwksCache::refetch_interval_ms`], and when older than
//! [`JwksCache::max_age_ms`] (a withdrawn key stops working), with the same rate limit.

use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use aws_lc_rs::signature::{self as aws, ParsedPublicKey};
use base64::Engine;
use serde::Deserialize;

use super::refusal::{shown, OidcRefusal};

/// Largest JWKS document accepted, in bytes.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;
/// Most keys accepted in one JWKS.
pub const MAX_JWKS_KEYS: usize = 64;
/// Default least time between two fetches of a JWKS, ms.
pub const DEFAULT_JWKS_REFETCH_INTERVAL_MS: i64 = 60_000;
/// Default age after which the cached JWKS is fetched again, ms.
pub const DEFAULT_JWKS_MAX_AGE_MS: i64 = 3_600_000;
/// Shortest RSA modulus accepted, bits.
pub const MIN_RSA_BITS: usize = 2048;

/// A JWS algorithm this relying party can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Rsa,
    P256,
    P384,
    Ed25519,
}

/// A JWS signature algorithm verified with a provider's public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SigAlg {
    Rs256,
    Rs384,
    Rs512,
    Ps256,
    Ps384,
    Ps512,
    Es256,
    Es384,
    EdDsa,
}

impl SigAlg {
    /// The slot of an RSA algorithm's parsed key and its aws-lc-rs parameters.
    fn rsa(self) -> Option<(usize, &'static aws::RsaParameters)> {
        Some(match self {
            SigAlg::Rs256 => (0, &aws::RSA_PKCS1_2048_8192_SHA256),
            SigAlg::Rs384 => (1, &aws::RSA_PKCS1_2048_8192_SHA384),
            SigAlg::Rs512 => (2, &aws::RSA_PKCS1_2048_8192_SHA512),
            SigAlg::Ps256 => (3, &aws::RSA_PSS_2048_8192_SHA256),
            SigAlg::Ps384 => (4, &aws::RSA_PSS_2048_8192_SHA384),
            SigAlg::Ps512 => (5, &aws::RSA_PSS_2048_8192_SHA512),
            _ => return None,
        })
    }
}

/// A key parsed for one algorithm, kept once made (`None`: aws-lc-rs refused the key).
type ParsedSlot = OnceLock<Option<ParsedPublicKey>>;

/// The public key material of one usable JWK, with its aws-lc-rs keys parsed on first
/// use and kept for the life of the loaded JWKS (not rebuilt per token). Each lives in
/// its own `Arc`, so the size difference between the variants costs nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Material {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
        /// RS256, RS384, RS512, PS256, PS384, PS512.
        parsed: [ParsedSlot; 6],
    },
    Ec {
        family: Family,
        /// The uncompressed point, `04 || x || y`.
        point: Vec<u8>,
        parsed: ParsedSlot,
    },
    Ed25519 {
        x: Vec<u8>,
        parsed: ParsedSlot,
    },
}

/// What a signature check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Checked {
    Valid,
    Invalid,
    /// The key cannot be used for the algorithm (aws-lc-rs refused it).
    KeyUnusable,
}

impl Material {
    fn family(&self) -> Family {
        match self {
            Material::Rsa { .. } => Family::Rsa,
            Material::Ec { family, .. } => *family,
            Material::Ed25519 { .. } => Family::Ed25519,
        }
    }

    /// Verifies a JWS signature over `message` (the signing input) with this key.
    pub(crate) fn verify(&self, alg: SigAlg, message: &[u8], signature: &[u8]) -> Checked {
        let key = match (self, alg) {
            (Material::Rsa { n, e, parsed }, _) => {
                let Some((slot, params)) = alg.rsa() else {
                    return Checked::KeyUnusable;
                };
                parsed.get(slot).and_then(|cell| {
                    cell.get_or_init(|| {
                        aws::RsaPublicKeyComponents {
                            n: n.as_slice(),
                            e: e.as_slice(),
                        }
                        .to_parsed_public_key(params)
                        .ok()
                    })
                    .as_ref()
                })
            }
            (
                Material::Ec {
                    family,
                    point,
                    parsed,
                },
                SigAlg::Es256 | SigAlg::Es384,
            ) => {
                let algorithm: &'static aws::EcdsaVerificationAlgorithm = match (family, alg) {
                    (Family::P256, SigAlg::Es256) => &aws::ECDSA_P256_SHA256_FIXED,
                    (Family::P384, SigAlg::Es384) => &aws::ECDSA_P384_SHA384_FIXED,
                    _ => return Checked::KeyUnusable,
                };
                parsed
                    .get_or_init(|| ParsedPublicKey::new(algorithm, point).ok())
                    .as_ref()
            }
            (Material::Ed25519 { x, parsed }, SigAlg::EdDsa) => parsed
                .get_or_init(|| ParsedPublicKey::new(&aws::ED25519, x).ok())
                .as_ref(),
            _ => return Checked::KeyUnusable,
        };
        match key {
            None => Checked::KeyUnusable,
            Some(k) if k.verify_sig(message, signature).is_ok() => Checked::Valid,
            Some(_) => Checked::Invalid,
        }
    }
}

/// One key of the set, usable or with the reason it is not.
#[derive(Clone)]
pub(crate) struct Entry {
    kid: Option<String>,
    use_: Option<String>,
    alg: Option<String>,
    key_ops: Option<Vec<String>>,
    kty: String,
    material: Result<Arc<Material>, &'static str>,
}

/// A key chosen for a token (its parsed keys shared with the cache).
#[derive(Clone)]
pub(crate) struct Chosen {
    pub(crate) kid: String,
    pub(crate) material: Arc<Material>,
}

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawJwk {
    kty: Option<String>,
    kid: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    alg: Option<String>,
    key_ops: Option<Vec<String>>,
    n: Option<String>,
    e: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

fn b64url(s: Option<&str>) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s?.as_bytes())
        .ok()
}

fn material(raw: &RawJwk) -> Result<Arc<Material>, &'static str> {
    match raw.kty.as_deref() {
        Some("RSA") => {
            let n = b64url(raw.n.as_deref()).ok_or("the RSA modulus n is not base64url")?;
            let e = b64url(raw.e.as_deref()).ok_or("the RSA exponent e is not base64url")?;
            let n: Vec<u8> = n.into_iter().skip_while(|b| *b == 0).collect();
            let bits = n
                .first()
                .map(|b| n.len() * 8 - b.leading_zeros() as usize)
                .unwrap_or(0);
            if bits < MIN_RSA_BITS {
                return Err("the RSA modulus is shorter than 2048 bits");
            }
            if e.is_empty() || e.len() > 8 {
                return Err("the RSA exponent is out of range");
            }
            Ok(Arc::new(Material::Rsa {
                n,
                e,
                parsed: Default::default(),
            }))
        }
        Some("EC") => {
            let (family, len) = match raw.crv.as_deref() {
                Some("P-256") => (Family::P256, 32),
                Some("P-384") => (Family::P384, 48),
                _ => return Err("the EC curve is not P-256 or P-384"),
            };
            let x = b64url(raw.x.as_deref()).ok_or("the EC x is not base64url")?;
            let y = b64url(raw.y.as_deref()).ok_or("the EC y is not base64url")?;
            if x.len() != len || y.len() != len {
                return Err("the EC coordinates have the wrong length for the curve");
            }
            let mut point = Vec::with_capacity(1 + x.len() + y.len());
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            Ok(Arc::new(Material::Ec {
                family,
                point,
                parsed: OnceLock::new(),
            }))
        }
        Some("OKP") => {
            if raw.crv.as_deref() != Some("Ed25519") {
                return Err("the OKP curve is not Ed25519");
            }
            let x = b64url(raw.x.as_deref()).ok_or("the Ed25519 x is not base64url")?;
            if x.len() != 32 {
                return Err("the Ed25519 key is not 32 bytes");
            }
            Ok(Arc::new(Material::Ed25519 {
                x,
                parsed: OnceLock::new(),
            }))
        }
        Some("oct") => Err("symmetric keys are never taken from a JWKS"),
        _ => Err("the key type is not RSA, EC or OKP"),
    }
}

/// Parses a JWKS document: size and key-count caps; each key kept with its material or
/// the reason it is unusable.
pub(crate) fn parse_jwks(body: &[u8]) -> Result<Vec<Entry>, OidcRefusal> {
    if body.len() > MAX_JWKS_BYTES {
        return Err(OidcRefusal::TooLarge {
            what: "JWKS",
            limit: MAX_JWKS_BYTES,
            received: body.len(),
        });
    }
    let set: RawSet = serde_json::from_slice(body).map_err(|_| OidcRefusal::JwksInvalid {
        problem: "not a JSON object with a keys array",
    })?;
    if set.keys.len() > MAX_JWKS_KEYS {
        return Err(OidcRefusal::JwksInvalid {
            problem: "more keys than the limit of 64",
        });
    }
    Ok(set
        .keys
        .into_iter()
        .map(|v| match serde_json::from_value::<RawJwk>(v) {
            Ok(raw) => Entry {
                material: material(&raw),
                kid: raw.kid,
                use_: raw.use_,
                alg: raw.alg,
                key_ops: raw.key_ops,
                kty: raw.kty.unwrap_or_default(),
            },
            Err(_) => Entry {
                kid: None,
                use_: None,
                alg: None,
                key_ops: None,
                kty: String::new(),
                material: Err("the key's members have the wrong JSON types"),
            },
        })
        .collect())
}

fn kty_family_fits(kty: &str, family: Family) -> bool {
    matches!(
        (kty, family),
        ("RSA", Family::Rsa) | ("EC", Family::P256 | Family::P384) | ("OKP", Family::Ed25519)
    )
}

/// Chooses the key for a token's `kid` and `alg` among `keys`. `Ok(None)`: no key has
/// the `kid`.
pub(crate) fn choose(
    keys: &[Entry],
    kid: Option<&str>,
    alg: &str,
    family: Family,
) -> Result<Option<Chosen>, OidcRefusal> {
    let kid_matches = |e: &Entry| match kid {
        Some(k) => e.kid.as_deref() == Some(k),
        None => true,
    };
    let fits = |e: &Entry| {
        kty_family_fits(&e.kty, family)
            && e.use_.as_deref().is_none_or(|u| u == "sig")
            && e.alg.as_deref().is_none_or(|a| a == alg)
            && e.key_ops
                .as_ref()
                .is_none_or(|ops| ops.iter().any(|o| o == "verify"))
    };
    let candidates: Vec<&Entry> = keys.iter().filter(|e| kid_matches(e) && fits(e)).collect();
    let shown_kid = kid.map(shown).unwrap_or_default();
    match candidates.as_slice() {
        [] => {
            // A key with this kid that does not fit says more than "unknown".
            if let Some(k) = kid {
                if let Some(e) = keys.iter().find(|e| e.kid.as_deref() == Some(k)) {
                    let reason = if !kty_family_fits(&e.kty, family) {
                        "its key type does not fit the algorithm"
                    } else if e.use_.as_deref().is_some_and(|u| u != "sig") {
                        "its use is not sig"
                    } else if e.alg.as_deref().is_some_and(|a| a != alg) {
                        "it is published for another alg"
                    } else {
                        "its key_ops do not include verify"
                    };
                    return Err(OidcRefusal::KeyUnusable {
                        kid: shown_kid,
                        alg: alg.to_owned(),
                        reason,
                    });
                }
            }
            Ok(None)
        }
        [one] => match &one.material {
            Ok(m) if m.family() == family => Ok(Some(Chosen {
                kid: one.kid.clone().unwrap_or_default(),
                material: Arc::clone(m),
            })),
            Ok(_) => Err(OidcRefusal::KeyUnusable {
                kid: shown_kid,
                alg: alg.to_owned(),
                reason: "its curve does not fit the algorithm",
            }),
            Err(reason) => Err(OidcRefusal::KeyUnusable {
                kid: shown_kid,
                alg: alg.to_owned(),
                reason,
            }),
        },
        many => Err(OidcRefusal::AmbiguousKey {
            kid: shown_kid,
            alg: alg.to_owned(),
            count: many.len(),
        }),
    }
}

#[derive(Default)]
struct State {
    keys: Arc<Vec<Entry>>,
    fetched_at_ms: Option<i64>,
    /// The last fetch of any cause (first use, stale keys, unknown `kid`).
    last_attempt_ms: Option<i64>,
    /// The last fetch caused by an unknown `kid`.
    last_unknown_kid_fetch_ms: Option<i64>,
    fetches: u64,
}

/// What [`JwksCache::select`] decided.
pub(crate) enum Selection {
    /// The key.
    Key(Chosen),
    /// Fetch the JWKS now (the rate-limit slot is taken), then select again without
    /// fetching.
    Fetch,
}

/// The JWKS of one provider, cached. The caller keeps one per provider (connection) and
/// shares it between requests (`Arc<JwksCache>`; methods take `&self`). Time is passed in.
pub struct JwksCache {
    jwks_uri: String,
    refetch_interval_ms: i64,
    max_age_ms: i64,
    state: Mutex<State>,
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.lock();
        f.debug_struct("JwksCache")
            .field("jwks_uri", &self.jwks_uri)
            .field("keys", &s.keys.len())
            .field("fetched_at_ms", &s.fetched_at_ms)
            .field("fetches", &s.fetches)
            .finish()
    }
}

impl JwksCache {
    /// An empty cache for the provider's `jwks_uri`, with the default refetch interval
    /// ([`DEFAULT_JWKS_REFETCH_INTERVAL_MS`]) and maximum age
    /// ([`DEFAULT_JWKS_MAX_AGE_MS`]).
    pub fn new(jwks_uri: impl Into<String>) -> Self {
        Self {
            jwks_uri: jwks_uri.into(),
            refetch_interval_ms: DEFAULT_JWKS_REFETCH_INTERVAL_MS,
            max_age_ms: DEFAULT_JWKS_MAX_AGE_MS,
            state: Mutex::new(State::default()),
        }
    }

    /// Sets the least time between two fetches, ms.
    #[must_use]
    pub fn with_refetch_interval_ms(mut self, ms: i64) -> Self {
        self.refetch_interval_ms = ms.max(0);
        self
    }

    /// Sets the age after which the keys are fetched again, ms.
    #[must_use]
    pub fn with_max_age_ms(mut self, ms: i64) -> Self {
        self.max_age_ms = ms.max(0);
        self
    }

    /// The URL the keys come from.
    pub fn jwks_uri(&self) -> &str {
        &self.jwks_uri
    }

    /// The least time between two fetches, ms.
    pub fn refetch_interval_ms(&self) -> i64 {
        self.refetch_interval_ms
    }

    /// The age after which the keys are fetched again, ms.
    pub fn max_age_ms(&self) -> i64 {
        self.max_age_ms
    }

    /// How many times the JWKS was fetched (attempts, successful or not).
    pub fn fetch_count(&self) -> u64 {
        self.lock().fetches
    }

    /// How many keys are cached (usable or not).
    pub fn len(&self) -> usize {
        self.lock().keys.len()
    }

    /// True when no key is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves a consistent state (every write
        // is a single assignment), so a poisoned lock is used as it is.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the cached keys with a JWKS document the caller fetched itself (the
    /// sans-I/O path; the async verifier fetches through [`super::OidcHttp`]).
    pub fn load(&self, body: &[u8], now_ms: i64) -> Result<usize, OidcRefusal> {
        let keys = parse_jwks(body)?;
        let n = keys.len();
        let mut s = self.lock();
        s.keys = Arc::new(keys);
        s.fetched_at_ms = Some(now_ms);
        Ok(n)
    }

    /// Chooses the key for a token. With `allow_fetch`, a missing `kid` or stale keys ask
    /// for a fetch when the rate limit allows one (and take the slot); otherwise an
    /// unknown `kid` is refused (`refetched` says whether this token caused a fetch).
    pub(crate) fn select(
        &self,
        kid: Option<&str>,
        alg: &str,
        family: Family,
        now_ms: i64,
        allow_fetch: bool,
        refetched: bool,
    ) -> Result<Selection, OidcRefusal> {
        let mut s = self.lock();
        let elapsed = |t: Option<i64>| {
            t.is_none_or(|t| now_ms < t || now_ms.saturating_sub(t) >= self.refetch_interval_ms)
        };
        let stale = s
            .fetched_at_ms
            .is_none_or(|t| now_ms < t || now_ms.saturating_sub(t) >= self.max_age_ms);
        // First use or stale keys: fetch, unless any fetch happened within the interval
        // (a provider that keeps failing is not hammered).
        if allow_fetch && stale && elapsed(s.last_attempt_ms) {
            s.last_attempt_ms = Some(now_ms);
            s.fetches = s.fetches.saturating_add(1);
            return Ok(Selection::Fetch);
        }
        let keys = Arc::clone(&s.keys);
        match choose(&keys, kid, alg, family)? {
            Some(k) => Ok(Selection::Key(k)),
            // An unknown kid: at most one fetch per interval for unknown kids, so tokens
            // with made-up kids cannot make us fetch more often than that.
            None if allow_fetch && elapsed(s.last_unknown_kid_fetch_ms) => {
                s.last_attempt_ms = Some(now_ms);
                s.last_unknown_kid_fetch_ms = Some(now_ms);
                s.fetches = s.fetches.saturating_add(1);
                Ok(Selection::Fetch)
            }
            None => Err(OidcRefusal::UnknownKey {
                kid: kid.map(shown).unwrap_or_default(),
                alg: alg.to_owned(),
                refetched,
            }),
        }
    }
}
