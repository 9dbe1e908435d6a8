//! The OIDC relying party against an attacker provider it does not control: each rule of
//! the ID token, JWKS, callback, token and user-info steps, and the attack that breaks it.
//! The provider is in-process (an `OidcHttp` that answers from a table) and mints tokens
//! with the test keys in idp/keys.

#![allow(clippy::unwrap_used)]

mod oidc_rp_support;

use enterprise_sso_protocol::limits::Policy;
use enterprise_sso_protocol::oidc::rp::*;
use enterprise_sso_protocol::secret::{AccessToken, AuthorizationCode, Nonce};
use jsonwebtoken::{Algorithm, EncodingKey};
use oidc_rp_support::*;
use serde_json::{json, Value};

const ISSUER: &str = "https://op.example.com";
const DISCOVERY: &str = "https://op.example.com/.well-known/openid-configuration";
const JWKS_URI: &str = "https://op.example.com/jwks";
const TOKEN_URI: &str = "https://op.example.com/token";
const USERINFO_URI: &str = "https://op.example.com/me";
const CLIENT: &str = "rp";
const SECRET: &str = "rp-secret-0123456789";
const REDIRECT: &str = "https://app.example.com/cb";
const NONCE: &str = "n-0S6_WzA2Mj";
/// Now, on a whole second (NumericDates are seconds).
const NOW_S: i64 = 1_780_000_000;
const NOW: i64 = NOW_S * 1000;
const SKEW: i64 = DEFAULT_CLOCK_SKEW_MS;

fn discovery(extra: Value) -> Value {
    let mut d = json!({
        "issuer": ISSUER,
        "authorization_endpoint": "https://op.example.com/auth",
        "token_endpoint": TOKEN_URI,
        "userinfo_endpoint": USERINFO_URI,
        "jwks_uri": JWKS_URI,
        "response_types_supported": ["code"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "authorization_response_iss_parameter_supported": true,
    });
    if let (Some(d), Value::Object(e)) = (d.as_object_mut(), extra) {
        for (k, v) in e {
            d.insert(k, v);
        }
    }
    d
}

fn metadata(extra: Value) -> ProviderMetadata {
    ProviderMetadata::from_discovery(
        discovery(extra).to_string().as_bytes(),
        DISCOVERY,
        &Policy::default(),
    )
    .expect("discovery")
}

fn client() -> ClientConfig {
    ClientConfig::new(CLIENT, Some(OidcClientSecret::new(SECRET)), REDIRECT)
}

fn rp_with(extra: Value, client: ClientConfig) -> RelyingParty {
    RelyingParty::new(metadata(extra), client).expect("rp")
}

fn rp() -> RelyingParty {
    rp_with(json!({}), client())
}

fn idp() -> TestKey {
    TestKey::rsa("idp", "idp", Algorithm::RS256)
}

fn claims() -> Value {
    json!({
        "iss": ISSUER, "sub": "user-1", "aud": CLIENT,
        "exp": NOW_S + 600, "iat": NOW_S, "nonce": NONCE,
        "email": "jane@acme.com", "email_verified": true,
        "given_name": "Jane", "family_name": "Doe",
    })
}

fn with(mut c: Value, k: &str, v: Value) -> Value {
    c[k] = v;
    c
}

fn without(mut c: Value, k: &str) -> Value {
    c.as_object_mut().expect("object").remove(k);
    c
}

fn cache_with(keys: &[&TestKey]) -> JwksCache {
    let c = JwksCache::new(JWKS_URI);
    c.load(&jwks(keys), NOW).expect("jwks");
    c
}

/// Verifies with a cache holding `keys`, never fetching.
fn verify_keys(
    rp: &RelyingParty,
    keys: &[&TestKey],
    token: &str,
    now: i64,
) -> Result<IdTokenClaims, OidcRefusal> {
    rp.verify_id_token_cached(&cache_with(keys), token, &Nonce::new(NONCE), None, now)
}

fn verify(token: &str) -> Result<IdTokenClaims, OidcRefusal> {
    verify_keys(&rp(), &[&idp()], token, NOW)
}

fn code_of(r: Result<IdTokenClaims, OidcRefusal>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

// ---------------------------------------------------------------- controls

#[test]
fn a_valid_token_of_each_algorithm_is_accepted() {
    let rs = idp();
    let ps = TestKey::rsa("idp", "idp-ps", Algorithm::PS256);
    let es = TestKey::ec("idp-ec");
    let ed = TestKey::ed25519("idp-ed");
    let rs512 = TestKey::rsa("idp2", "idp2-512", Algorithm::RS512);
    let keys = [&rs, &ps, &es, &ed, &rs512];
    for k in keys {
        let got = verify_keys(&rp(), &keys, &mint(k, &claims()), NOW)
            .unwrap_or_else(|e| panic!("{}: {e}", alg_name(k.alg)));
        assert_eq!(got.subject, "user-1");
        assert_eq!(got.alg, alg_name(k.alg));
        assert_eq!(got.kid, k.kid);
    }
}

// ---------------------------------------------------------------- algorithms

#[test]
fn alg_none_is_refused() {
    let header = json!({ "alg": "none", "typ": "JWT" });
    let body = format!(
        "{}.{}.",
        b64u(header.to_string().as_bytes()),
        b64u(claims().to_string().as_bytes())
    );
    let err = verify(&body).unwrap_err();
    assert_eq!(err.code(), "oidc_alg_not_allowed", "{err}");
    assert!(err.to_string().contains("\"none\""), "{err}");
    // Also with a signature part and other spellings.
    for alg in ["none", "None", "NONE", "", "nOnE"] {
        let header = json!({ "alg": alg, "kid": "idp" });
        let t = format!(
            "{}.{}.{}",
            b64u(header.to_string().as_bytes()),
            b64u(claims().to_string().as_bytes()),
            b64u(b"sig")
        );
        assert_eq!(code_of(verify(&t)), "oidc_alg_not_allowed", "{alg}");
    }
}

#[test]
fn hs256_keyed_with_the_rsa_public_key_is_refused() {
    let k = idp();
    let forged = |kid: &str| {
        let header = json!({ "alg": "HS256", "kid": kid, "typ": "JWT" });
        let key = EncodingKey::from_secret(k.public_pem.as_bytes()).unwrap();
        mint_raw(&header, &claims(), &key, Algorithm::HS256)
    };
    // The provider does not advertise HS256: the algorithm is refused outright.
    let err = verify(&forged("idp")).unwrap_err();
    assert_eq!(err.code(), "oidc_alg_not_allowed", "{err}");
    // Even when advertised, HS* is keyed by the client secret only, never by a JWKS key.
    let hs = rp_with(
        json!({ "id_token_signing_alg_values_supported": ["RS256", "HS256"] }),
        client(),
    );
    let err = verify_keys(&hs, &[&k], &forged("idp"), NOW).unwrap_err();
    assert_eq!(err.code(), "oidc_signature_invalid", "{err}");
    // Control: HS256 with the client secret, advertised, verifies.
    let header = json!({ "alg": "HS256", "typ": "JWT" });
    let good = mint_raw(
        &header,
        &claims(),
        &EncodingKey::from_secret(SECRET.as_bytes()).unwrap(),
        Algorithm::HS256,
    );
    assert_eq!(code_of(verify_keys(&hs, &[&k], &good, NOW)), "ok");
    // A public client has no secret: HS* is never allowed.
    let public = ClientConfig::new(CLIENT, None, REDIRECT);
    let hs_public = rp_with(
        json!({ "id_token_signing_alg_values_supported": ["HS256"] }),
        public,
    );
    assert_eq!(
        code_of(verify_keys(&hs_public, &[&k], &good, NOW)),
        "oidc_alg_not_allowed"
    );
    // Not advertised: the correctly keyed HS256 token is refused too.
    assert_eq!(
        code_of(verify_keys(&rp(), &[&k], &good, NOW)),
        "oidc_alg_not_allowed"
    );
}

#[test]
fn an_oct_key_in_the_jwks_is_never_used() {
    let header = json!({ "alg": "HS256", "kid": "sym", "typ": "JWT" });
    let t = mint_raw(
        &header,
        &claims(),
        &EncodingKey::from_secret(b"attacker").unwrap(),
        Algorithm::HS256,
    );
    let c = JwksCache::new(JWKS_URI);
    let set = json!({ "keys": [{ "kty": "oct", "kid": "sym", "k": b64u(b"attacker") }] });
    c.load(set.to_string().as_bytes(), NOW).unwrap();
    let hs = rp_with(
        json!({ "id_token_signing_alg_values_supported": ["HS256"] }),
        client(),
    );
    let err = hs
        .verify_id_token_cached(&c, &t, &Nonce::new(NONCE), None, NOW)
        .unwrap_err();
    assert_eq!(
        err.code(),
        "oidc_signature_invalid",
        "keyed by the client secret, not the JWKS: {err}"
    );
}

#[test]
fn crit_jwe_and_foreign_typ_are_refused() {
    let k = idp();
    let h = json!({ "alg": "RS256", "kid": "idp", "crit": ["exp"], "exp": 1 });
    assert_eq!(
        code_of(verify(&mint_raw(&h, &claims(), &k.encoding, k.alg))),
        "oidc_id_token_crit"
    );
    let h = json!({ "alg": "RS256", "kid": "idp", "typ": "at+jwt" });
    assert_eq!(
        code_of(verify(&mint_raw(&h, &claims(), &k.encoding, k.alg))),
        "oidc_id_token_malformed"
    );
    assert_eq!(code_of(verify("a.b.c.d.e")), "oidc_id_token_malformed");
    assert_eq!(code_of(verify("a.b")), "oidc_id_token_malformed");
    // Padding or standard-alphabet base64 in the signature.
    let t = mint(&k, &claims()) + "=";
    assert_eq!(code_of(verify(&t)), "oidc_id_token_malformed");
}

#[test]
fn a_tampered_token_is_refused() {
    let t = mint(&idp(), &claims());
    let mut parts: Vec<String> = t.split('.').map(str::to_owned).collect();
    parts[1] = b64u(with(claims(), "sub", json!("admin")).to_string().as_bytes());
    assert_eq!(code_of(verify(&parts.join("."))), "oidc_signature_invalid");
    // Signed by the attacker under the provider's kid.
    let forged = mint(
        &TestKey::rsa("attacker", "idp", Algorithm::RS256),
        &claims(),
    );
    assert_eq!(code_of(verify(&forged)), "oidc_signature_invalid");
}

// ---------------------------------------------------------------- keys

#[test]
fn jku_x5u_and_jwk_headers_pointing_at_attacker_keys_are_ignored() {
    let attacker = TestKey::rsa("attacker", "attacker", Algorithm::RS256);
    let evil_jwks = "https://evil.example/jwks";
    let http = FakeProvider::default();
    http.route(JWKS_URI, ok_json(jwks(&[&idp()])));
    http.route(evil_jwks, ok_json(jwks(&[&attacker])));
    let rp = rp();
    let cache = rp.new_jwks_cache();
    let run = |header: Value| {
        let t = mint_raw(&header, &claims(), &attacker.encoding, Algorithm::RS256);
        block_on(rp.verify_id_token(&http, &cache, &t, &Nonce::new(NONCE), None, NOW))
    };
    // The attacker's kid with jku / x5u: not in the provider's JWKS.
    for h in [
        json!({ "alg": "RS256", "kid": "attacker", "jku": evil_jwks }),
        json!({ "alg": "RS256", "kid": "attacker", "x5u": "https://evil.example/cert.pem" }),
        json!({ "alg": "RS256", "kid": "attacker", "jwk": attacker.jwk }),
    ] {
        assert_eq!(code_of(run(h)), "oidc_unknown_kid");
    }
    // The provider's kid with the attacker's key embedded: the JWKS key is used.
    for h in [
        json!({ "alg": "RS256", "kid": "idp", "jwk": attacker.jwk }),
        json!({ "alg": "RS256", "kid": "idp", "jku": evil_jwks }),
        json!({ "alg": "RS256", "jwk": attacker.jwk }),
    ] {
        assert_eq!(code_of(run(h)), "oidc_signature_invalid");
    }
    assert_eq!(http.hits(evil_jwks), 0, "the jku URL is never fetched");
    assert!(http.seen().iter().all(|s| s.url == JWKS_URI));
}

#[test]
fn unknown_kid_refetches_once_per_interval() {
    let http = FakeProvider::default();
    http.route(JWKS_URI, ok_json(jwks(&[&idp()])));
    let rp = rp();
    let cache = rp.new_jwks_cache();
    let nonce = Nonce::new(NONCE);
    let v = |t: &str, now: i64| block_on(rp.verify_id_token(&http, &cache, t, &nonce, None, now));
    // First use: one fetch.
    assert_eq!(code_of(v(&mint(&idp(), &claims()), NOW)), "ok");
    assert_eq!(http.hits(JWKS_URI), 1);
    // A rotated key the JWKS does not publish yet: one re-fetch, then refused.
    let idp2 = TestKey::rsa("idp2", "idp2", Algorithm::RS256);
    let err = v(&mint(&idp2, &claims()), NOW + 1_000).unwrap_err();
    assert_eq!(
        err,
        OidcRefusal::UnknownKey {
            kid: "idp2".into(),
            alg: "RS256".into(),
            refetched: true
        }
    );
    assert_eq!(http.hits(JWKS_URI), 2);
    // A second unknown kid within the interval: no fetch.
    let other = TestKey::rsa("attacker", "kid-3", Algorithm::RS256);
    let err = v(&mint(&other, &claims()), NOW + 2_000).unwrap_err();
    assert_eq!(
        err,
        OidcRefusal::UnknownKey {
            kid: "kid-3".into(),
            alg: "RS256".into(),
            refetched: false
        }
    );
    assert_eq!(http.hits(JWKS_URI), 2, "rate-limited");
    // Known keys keep working meanwhile, without fetching.
    assert_eq!(code_of(v(&mint(&idp(), &claims()), NOW + 3_000)), "ok");
    assert_eq!(http.hits(JWKS_URI), 2);
    // The provider publishes idp2; after the interval the unknown kid triggers a fetch.
    http.route(JWKS_URI, ok_json(jwks(&[&idp(), &idp2])));
    let later = NOW + 1_000 + DEFAULT_JWKS_REFETCH_INTERVAL_MS;
    assert_eq!(code_of(v(&mint(&idp2, &claims()), later)), "ok");
    assert_eq!(http.hits(JWKS_URI), 3);
    assert_eq!(cache.fetch_count(), 3);
}

#[test]
fn stale_keys_are_fetched_again_and_a_withdrawn_key_stops_working() {
    let http = FakeProvider::default();
    http.route(JWKS_URI, ok_json(jwks(&[&idp()])));
    let rp = rp();
    let cache = rp.new_jwks_cache();
    let nonce = Nonce::new(NONCE);
    let t = mint(&idp(), &claims());
    assert_eq!(
        code_of(block_on(
            rp.verify_id_token(&http, &cache, &t, &nonce, None, NOW)
        )),
        "ok"
    );
    // The provider withdraws idp (compromised); after max age the cache notices.
    let idp2 = TestKey::rsa("idp2", "idp2", Algorithm::RS256);
    http.route(JWKS_URI, ok_json(jwks(&[&idp2])));
    let later = NOW + DEFAULT_JWKS_MAX_AGE_MS;
    let fresh = with(
        with(claims(), "iat", json!(later / 1000)),
        "exp",
        json!(later / 1000 + 600),
    );
    let t = mint(&idp(), &fresh);
    assert_eq!(
        code_of(block_on(
            rp.verify_id_token(&http, &cache, &t, &nonce, None, later)
        )),
        "oidc_unknown_kid"
    );
    assert_eq!(http.hits(JWKS_URI), 2);
}

#[test]
fn duplicate_kids_are_refused_as_ambiguous() {
    let dup = TestKey::rsa("attacker", "idp", Algorithm::RS256);
    let err = verify_keys(&rp(), &[&idp(), &dup], &mint(&idp(), &claims()), NOW).unwrap_err();
    assert_eq!(err.code(), "oidc_ambiguous_kid", "{err}");
    // The order does not matter either way.
    let err = verify_keys(&rp(), &[&dup, &idp()], &mint(&idp(), &claims()), NOW).unwrap_err();
    assert_eq!(err.code(), "oidc_ambiguous_kid");
    // A token without kid: only when exactly one key fits.
    let no_kid = |k: &TestKey| {
        mint_raw(
            &json!({ "alg": "RS256" }),
            &claims(),
            &k.encoding,
            Algorithm::RS256,
        )
    };
    let idp2 = TestKey::rsa("idp2", "idp2", Algorithm::RS256);
    assert_eq!(
        code_of(verify_keys(&rp(), &[&idp()], &no_kid(&idp()), NOW)),
        "ok"
    );
    assert_eq!(
        code_of(verify_keys(&rp(), &[&idp(), &idp2], &no_kid(&idp()), NOW)),
        "oidc_ambiguous_kid"
    );
    // The same kid for an encryption key beside the signing key is not ambiguous.
    let mut enc = dup.clone();
    enc.jwk["use"] = json!("enc");
    assert_eq!(
        code_of(verify_keys(
            &rp(),
            &[&idp(), &enc],
            &mint(&idp(), &claims()),
            NOW
        )),
        "ok"
    );
}

#[test]
fn keys_that_do_not_fit_the_alg_are_unusable() {
    let t = mint(&idp(), &claims());
    let mut k = idp();
    k.jwk["use"] = json!("enc");
    assert_eq!(
        code_of(verify_keys(&rp(), &[&k], &t, NOW)),
        "oidc_key_unusable"
    );
    let mut k = idp();
    k.jwk["alg"] = json!("RS512");
    assert_eq!(
        code_of(verify_keys(&rp(), &[&k], &t, NOW)),
        "oidc_key_unusable"
    );
    let mut k = idp();
    k.jwk["key_ops"] = json!(["encrypt"]);
    assert_eq!(
        code_of(verify_keys(&rp(), &[&k], &t, NOW)),
        "oidc_key_unusable"
    );
    // An EC key under the kid of an RS256 token.
    let ec = TestKey::ec("idp");
    assert_eq!(
        code_of(verify_keys(&rp(), &[&ec], &t, NOW)),
        "oidc_key_unusable"
    );
    // A 1024-bit modulus.
    let mut k = idp();
    let n = base64::Engine::decode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        k.jwk["n"].as_str().unwrap(),
    )
    .unwrap();
    k.jwk["n"] = json!(b64u(&n[..128]));
    let err = verify_keys(&rp(), &[&k], &t, NOW).unwrap_err();
    assert_eq!(err.code(), "oidc_key_unusable");
    assert!(err.to_string().contains("2048"), "{err}");
}

#[test]
fn oversized_jwks_and_token_are_refused() {
    let c = JwksCache::new(JWKS_URI);
    let big = json!({ "keys": [], "pad": "x".repeat(MAX_JWKS_BYTES) }).to_string();
    assert_eq!(
        c.load(big.as_bytes(), NOW).unwrap_err().code(),
        "oidc_too_large"
    );
    let many: Vec<Value> = (0..MAX_JWKS_KEYS + 1)
        .map(|i| json!({ "kty": "RSA", "kid": i.to_string() }))
        .collect();
    let err = c
        .load(json!({ "keys": many }).to_string().as_bytes(), NOW)
        .unwrap_err();
    assert_eq!(err.code(), "oidc_jwks_invalid");
    assert_eq!(
        c.load(b"not json", NOW).unwrap_err().code(),
        "oidc_jwks_invalid"
    );
    // Through the HTTP path too.
    let http = FakeProvider::default();
    http.route(JWKS_URI, ok_json(big.into_bytes()));
    let rp = rp();
    let cache = rp.new_jwks_cache();
    let r = block_on(rp.verify_id_token(
        &http,
        &cache,
        &mint(&idp(), &claims()),
        &Nonce::new(NONCE),
        None,
        NOW,
    ));
    assert_eq!(code_of(r), "oidc_too_large");
    // A token over the cap, refused before any parse.
    let huge = mint(
        &idp(),
        &with(claims(), "pad", json!("y".repeat(MAX_ID_TOKEN_BYTES))),
    );
    let err = verify(&huge).unwrap_err();
    assert_eq!(err.code(), "oidc_too_large");
}

// ---------------------------------------------------------------- claims

#[test]
fn wrong_issuer_is_refused() {
    for iss in [
        "https://evil.example.com",
        "https://op.example.com/",
        "https://OP.example.com",
        "op.example.com",
    ] {
        let err = verify(&mint(&idp(), &with(claims(), "iss", json!(iss)))).unwrap_err();
        assert_eq!(err.code(), "oidc_iss_mismatch", "{iss}");
    }
    assert_eq!(
        code_of(verify(&mint(&idp(), &without(claims(), "iss")))),
        "oidc_missing_claim"
    );
    assert_eq!(
        code_of(verify(&mint(
            &idp(),
            &with(claims(), "iss", json!([ISSUER]))
        ))),
        "oidc_claims_invalid"
    );
}

#[test]
fn wrong_audience_and_a_token_for_another_client_are_refused() {
    let err = verify(&mint(&idp(), &with(claims(), "aud", json!("other-client")))).unwrap_err();
    assert_eq!(
        err,
        OidcRefusal::AudienceMismatch {
            expected: CLIENT.into(),
            received: vec!["other-client".into()]
        }
    );
    assert_eq!(
        code_of(verify(&mint(
            &idp(),
            &with(claims(), "aud", json!(["a", "b"]))
        ))),
        "oidc_aud_mismatch"
    );
    assert_eq!(
        code_of(verify(&mint(&idp(), &without(claims(), "aud")))),
        "oidc_missing_claim"
    );
    // Prefix / case near-misses.
    for aud in ["rp2", "RP", "r", ""] {
        assert_eq!(
            code_of(verify(&mint(&idp(), &with(claims(), "aud", json!(aud))))),
            "oidc_aud_mismatch"
        );
    }
}

#[test]
fn azp_must_be_the_client_when_several_audiences_or_present() {
    let multi = with(claims(), "aud", json!([CLIENT, "other-client"]));
    assert_eq!(code_of(verify(&mint(&idp(), &multi))), "oidc_azp_mismatch");
    assert_eq!(
        code_of(verify(&mint(
            &idp(),
            &with(multi.clone(), "azp", json!("other-client"))
        ))),
        "oidc_azp_mismatch"
    );
    assert_eq!(
        code_of(verify(&mint(&idp(), &with(multi, "azp", json!(CLIENT))))),
        "ok"
    );
    assert_eq!(
        code_of(verify(&mint(
            &idp(),
            &with(claims(), "azp", json!("other-client"))
        ))),
        "oidc_azp_mismatch"
    );
    assert_eq!(
        code_of(verify(&mint(&idp(), &with(claims(), "azp", json!(CLIENT))))),
        "ok"
    );
}

#[test]
fn exp_at_the_skew_boundary() {
    let t = mint(
        &idp(),
        &with(
            with(claims(), "exp", json!(NOW_S)),
            "iat",
            json!(NOW_S - 60),
        ),
    );
    // Accepted up to the last millisecond before exp + skew.
    assert_eq!(
        code_of(verify_keys(&rp(), &[&idp()], &t, NOW + SKEW - 1)),
        "ok"
    );
    let err = verify_keys(&rp(), &[&idp()], &t, NOW + SKEW).unwrap_err();
    assert_eq!(
        err,
        OidcRefusal::Expired {
            exp_ms: NOW,
            now_ms: NOW + SKEW,
            skew_ms: SKEW
        }
    );
    assert_eq!(
        code_of(verify(&mint(&idp(), &without(claims(), "exp")))),
        "oidc_missing_claim"
    );
    assert_eq!(
        code_of(verify(&mint(&idp(), &with(claims(), "exp", json!("soon"))))),
        "oidc_claims_invalid"
    );
    // A configured skew of zero.
    let mut c = client();
    c.clock_skew_ms = 0;
    let strict = rp_with(json!({}), c);
    assert_eq!(code_of(verify_keys(&strict, &[&idp()], &t, NOW - 1)), "ok");
    assert_eq!(
        code_of(verify_keys(&strict, &[&idp()], &t, NOW)),
        "oidc_expired"
    );
}

#[test]
fn nbf_and_iat_in_the_future_at_the_skew_boundary() {
    for claim in ["nbf", "iat"] {
        let at = NOW_S + SKEW / 1000;
        let edge = mint(&idp(), &with(claims(), claim, json!(at)));
        assert_eq!(
            code_of(verify(&edge)),
            "ok",
            "{claim} = now + skew is accepted"
        );
        let over = mint(&idp(), &with(claims(), claim, json!(at + 1)));
        let err = verify(&over).unwrap_err();
        assert_eq!(
            err,
            OidcRefusal::NotYetValid {
                claim,
                at_ms: (at + 1) * 1000,
                now_ms: NOW,
                skew_ms: SKEW
            },
            "{claim}"
        );
        // One millisecond later, the same token is fine.
        assert_eq!(
            code_of(verify_keys(&rp(), &[&idp()], &over, NOW + 1000)),
            "ok"
        );
    }
    assert_eq!(
        code_of(verify(&mint(&idp(), &without(claims(), "iat")))),
        "oidc_missing_claim"
    );
    // Fractional NumericDates are read, not refused.
    assert_eq!(
        code_of(verify(&mint(
            &idp(),
            &with(claims(), "nbf", json!(NOW_S as f64 + 0.5))
        ))),
        "ok"
    );
}

#[test]
fn nonce_missing_or_changed_is_refused() {
    assert_eq!(
        code_of(verify(&mint(&idp(), &without(claims(), "nonce")))),
        "oidc_nonce_missing"
    );
    for n in ["other", "n-0S6_WzA2Mk", "n-0S6_WzA2Mj ", "", "N-0S6_WZA2MJ"] {
        let err = verify(&mint(&idp(), &with(claims(), "nonce", json!(n)))).unwrap_err();
        assert_eq!(err, OidcRefusal::NonceMismatch, "{n:?}");
        assert!(!err.to_string().contains(NONCE), "the nonce is never shown");
    }
}

#[test]
fn at_hash_must_match_the_access_token() {
    use sha2::Digest;
    let at = AccessToken::new("access-token-1");
    let half = &sha2::Sha256::digest(b"access-token-1")[..16];
    let good = mint(&idp(), &with(claims(), "at_hash", json!(b64u(half))));
    let bad = mint(&idp(), &with(claims(), "at_hash", json!(b64u(&[0u8; 16]))));
    let c = cache_with(&[&idp()]);
    let n = Nonce::new(NONCE);
    assert_eq!(
        code_of(rp().verify_id_token_cached(&c, &good, &n, Some(&at), NOW)),
        "ok"
    );
    assert_eq!(
        code_of(rp().verify_id_token_cached(&c, &bad, &n, Some(&at), NOW)),
        "oidc_at_hash_mismatch"
    );
    let other = AccessToken::new("access-token-2");
    assert_eq!(
        code_of(rp().verify_id_token_cached(&c, &good, &n, Some(&other), NOW)),
        "oidc_at_hash_mismatch"
    );
}

#[test]
fn sub_is_required() {
    assert_eq!(
        code_of(verify(&mint(&idp(), &without(claims(), "sub")))),
        "oidc_missing_claim"
    );
    assert_eq!(
        code_of(verify(&mint(&idp(), &with(claims(), "sub", json!(""))))),
        "oidc_missing_claim"
    );
    assert_eq!(
        code_of(verify(&mint(&idp(), &with(claims(), "sub", json!(42))))),
        "oidc_claims_invalid"
    );
}

// ---------------------------------------------------------------- Entra multi-tenant

const ENTRA_COMMON: &str =
    "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration";
const ENTRA_TEMPLATE: &str = "https://login.microsoftonline.com/{tenantid}/v2.0";
const TENANT: &str = "6babcaad-604b-40ac-a9d7-9fd97c0b779f";
const OTHER_TENANT: &str = "00000000-1111-2222-3333-444444444444";

fn entra(allowed: &[&str]) -> RelyingParty {
    let doc = json!({
        "issuer": ENTRA_TEMPLATE,
        "authorization_endpoint": "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
        "token_endpoint": "https://login.microsoftonline.com/common/oauth2/v2.0/token",
        "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
        "jwks_uri": "https://login.microsoftonline.com/common/discovery/v2.0/keys",
        "response_types_supported": ["code", "id_token"],
        "id_token_signing_alg_values_supported": ["RS256"],
    });
    let meta = ProviderMetadata::from_discovery(
        doc.to_string().as_bytes(),
        ENTRA_COMMON,
        &Policy::default(),
    )
    .unwrap();
    assert!(meta.is_tenant_template());
    let mut c = client();
    c.allowed_tenants = allowed.iter().map(|s| (*s).to_owned()).collect();
    RelyingParty::new(meta, c).unwrap()
}

fn entra_claims(tenant: &str) -> Value {
    let c = with(
        claims(),
        "iss",
        json!(format!("https://login.microsoftonline.com/{tenant}/v2.0")),
    );
    with(without(c, "email_verified"), "tid", json!(tenant))
}

#[test]
fn entra_template_accepts_only_the_named_tenants() {
    let rp = entra(&[TENANT]);
    let ok = verify_keys(&rp, &[&idp()], &mint(&idp(), &entra_claims(TENANT)), NOW).unwrap();
    assert_eq!(ok.tenant.as_deref(), Some(TENANT));
    // A token from the attacker's tenant, validly signed by Microsoft's key.
    let err = verify_keys(
        &rp,
        &[&idp()],
        &mint(&idp(), &entra_claims(OTHER_TENANT)),
        NOW,
    )
    .unwrap_err();
    assert_eq!(
        err,
        OidcRefusal::TenantNotAllowed {
            allowed: vec![TENANT.into()],
            received: OTHER_TENANT.into()
        }
    );
    // The template itself, a tid that disagrees with iss, and path games.
    let t = mint(
        &idp(),
        &with(entra_claims(TENANT), "iss", json!(ENTRA_TEMPLATE)),
    );
    assert_eq!(
        code_of(verify_keys(&rp, &[&idp()], &t, NOW)),
        "oidc_iss_mismatch"
    );
    let t = mint(
        &idp(),
        &with(entra_claims(TENANT), "tid", json!(OTHER_TENANT)),
    );
    assert_eq!(
        code_of(verify_keys(&rp, &[&idp()], &t, NOW)),
        "oidc_tenant_not_allowed"
    );
    for iss in [
        format!("https://login.microsoftonline.com/{OTHER_TENANT}/{TENANT}/v2.0"),
        format!("https://login.microsoftonline.com/{TENANT}/v2.0/"),
        format!("https://sts.windows.net/{TENANT}/"),
        format!("https://evil.example/{TENANT}/v2.0"),
    ] {
        let t = mint(&idp(), &with(entra_claims(TENANT), "iss", json!(iss)));
        assert_eq!(
            code_of(verify_keys(&rp, &[&idp()], &t, NOW)),
            "oidc_iss_mismatch",
            "{iss}"
        );
    }
    // No tenant named: every token is refused.
    let none = entra(&[]);
    assert_eq!(
        code_of(verify_keys(
            &none,
            &[&idp()],
            &mint(&idp(), &entra_claims(TENANT)),
            NOW
        )),
        "oidc_tenant_not_allowed"
    );
}

#[test]
fn entra_email_is_not_trusted_without_a_verification_signal() {
    let rp = entra(&[TENANT]);
    let id = verify_keys(&rp, &[&idp()], &mint(&idp(), &entra_claims(TENANT)), NOW).unwrap();
    let who = rp.identity(&id, None);
    assert_eq!(who.email, None, "Entra sends no email_verified");
    assert_eq!(
        who.claims["email"],
        json!("jane@acme.com"),
        "kept in the raw claims only"
    );
    let edov = with(entra_claims(TENANT), "xms_edov", json!(true));
    let id = verify_keys(&rp, &[&idp()], &mint(&idp(), &edov), NOW).unwrap();
    assert_eq!(
        rp.identity(&id, None).email_verification,
        Some(EmailVerification::DomainOwnerVerified)
    );
}

// ---------------------------------------------------------------- identity and user info

#[test]
fn unverified_email_is_not_the_identitys() {
    let rp_default = rp();
    let mut c = client();
    c.provider_emails_verified = true;
    let rp_trusting = rp_with(json!({}), c);
    for (ev, default_email, trusting) in [
        (
            json!(true),
            Some("jane@acme.com"),
            Some(EmailVerification::Claim),
        ),
        (
            json!("true"),
            Some("jane@acme.com"),
            Some(EmailVerification::Claim),
        ),
        (json!(false), None, Some(EmailVerification::ProviderPolicy)),
        (
            json!("false"),
            None,
            Some(EmailVerification::ProviderPolicy),
        ),
        (json!(1), None, Some(EmailVerification::ProviderPolicy)),
        (Value::Null, None, Some(EmailVerification::ProviderPolicy)),
    ] {
        let id = verify(&mint(&idp(), &with(claims(), "email_verified", ev.clone()))).unwrap();
        let who = rp_default.identity(&id, None);
        assert_eq!(who.email.as_deref(), default_email, "{ev}");
        assert_eq!(who.subject, "user-1");
        assert_eq!(
            rp_trusting.identity(&id, None).email_verification,
            trusting,
            "{ev}"
        );
    }
}

fn flow_http(token_body: Value) -> FakeProvider {
    let http = FakeProvider::default();
    http.route(JWKS_URI, ok_json(jwks(&[&idp()])));
    http.route(TOKEN_URI, ok_json(token_body.to_string()));
    http
}

fn pending() -> PendingAuthorization {
    let req = rp()
        .authorization_request(&random(1), &AuthorizationOptions::default(), NOW)
        .unwrap();
    PendingAuthorization {
        nonce: Nonce::new(NONCE),
        ..req.pending
    }
}

fn random(seed: u8) -> [u8; AUTHORIZATION_RANDOM_BYTES] {
    let mut r = [0u8; AUTHORIZATION_RANDOM_BYTES];
    for (i, b) in r.iter_mut().enumerate() {
        *b = seed.wrapping_mul(31).wrapping_add(i as u8);
    }
    r
}

fn callback() -> Callback {
    rp().callback(&format!("code=c0de&state=s1&iss={ISSUER}"))
        .unwrap()
}

#[test]
fn userinfo_fills_missing_claims_and_its_sub_must_match() {
    let thin = without(
        without(without(claims(), "email"), "given_name"),
        "family_name",
    );
    let token =
        json!({ "access_token": "at-1", "token_type": "Bearer", "id_token": mint(&idp(), &thin) });
    let http = flow_http(token.clone());
    http.route(USERINFO_URI, ok_json(json!({ "sub": "user-1", "email": "jane@acme.com", "email_verified": true, "given_name": "Jane" }).to_string()));
    let rp = rp();
    let cache = rp.new_jwks_cache();
    let who = block_on(rp.complete(&http, &cache, &callback(), &pending(), NOW)).unwrap();
    assert!(who.from_userinfo);
    assert_eq!(who.email.as_deref(), Some("jane@acme.com"));
    assert_eq!(who.given_name.as_deref(), Some("Jane"));
    let ui = http
        .seen()
        .into_iter()
        .find(|s| s.url == USERINFO_URI)
        .unwrap();
    assert_eq!(ui.bearer.as_deref(), Some("at-1"));

    // Another user's user info.
    let http = flow_http(token.clone());
    http.route(
        USERINFO_URI,
        ok_json(
            json!({ "sub": "user-2", "email": "boss@acme.com", "email_verified": true })
                .to_string(),
        ),
    );
    let err = block_on(rp.complete(&http, &rp.new_jwks_cache(), &callback(), &pending(), NOW))
        .unwrap_err();
    assert_eq!(
        err,
        OidcRefusal::UserinfoSubjectMismatch {
            expected: "user-1".into(),
            received: "user-2".into()
        }
    );
    // No sub at all, a signed answer, an error status.
    for (resp, code) in [
        (
            ok_json(json!({ "email": "x@acme.com" }).to_string()),
            "oidc_userinfo_sub_mismatch",
        ),
        (
            HttpResponse {
                status: 200,
                content_type: Some("application/jwt".into()),
                body: b"a.b.c".to_vec(),
            },
            "oidc_userinfo_invalid",
        ),
        (
            HttpResponse {
                status: 401,
                content_type: None,
                body: vec![],
            },
            "oidc_http_status",
        ),
        (
            ok_json(vec![b' '; MAX_USERINFO_BYTES + 1]),
            "oidc_too_large",
        ),
    ] {
        let http = flow_http(token.clone());
        http.route(USERINFO_URI, resp);
        let err = block_on(rp.complete(&http, &rp.new_jwks_cache(), &callback(), &pending(), NOW))
            .unwrap_err();
        assert_eq!(err.code(), code);
    }
    // A complete token: no user-info call.
    let full = json!({ "access_token": "at-1", "token_type": "Bearer", "id_token": mint(&idp(), &claims()) });
    let http = flow_http(full);
    let who =
        block_on(rp.complete(&http, &rp.new_jwks_cache(), &callback(), &pending(), NOW)).unwrap();
    assert!(!who.from_userinfo);
    assert_eq!(http.hits(USERINFO_URI), 0);
}

#[test]
fn the_flow_verifies_at_hash_from_the_same_response() {
    let swapped = with(claims(), "at_hash", json!(b64u(&[1u8; 16])));
    let token = json!({ "access_token": "at-1", "token_type": "Bearer", "id_token": mint(&idp(), &swapped) });
    let rp = rp();
    let err = block_on(rp.complete(
        &flow_http(token),
        &rp.new_jwks_cache(),
        &callback(),
        &pending(),
        NOW,
    ))
    .unwrap_err();
    assert_eq!(err.code(), "oidc_at_hash_mismatch");
}

// ---------------------------------------------------------------- callback

#[test]
fn callback_iss_of_another_provider_is_refused() {
    let rp = rp();
    let err = rp
        .callback("code=c&state=s&iss=https%3A%2F%2Fevil.example.com")
        .unwrap_err();
    assert_eq!(
        err,
        OidcRefusal::CallbackIssuerMismatch {
            expected: ISSUER.into(),
            received: "https://evil.example.com".into()
        }
    );
    // Checked on error responses too: an attacker provider's error is not reported as ours.
    let err = rp
        .callback("error=access_denied&state=s&iss=https%3A%2F%2Fevil.example.com")
        .unwrap_err();
    assert_eq!(err.code(), "oidc_callback_iss_mismatch");
    // Advertised, so required.
    assert_eq!(
        rp.callback("code=c&state=s").unwrap_err().code(),
        "oidc_callback_iss_missing"
    );
    // Not advertised: absent is accepted, present is still checked.
    let quiet = rp_with(
        json!({ "authorization_response_iss_parameter_supported": false }),
        client(),
    );
    assert!(quiet.callback("code=c&state=s").is_ok());
    assert_eq!(
        quiet
            .callback("code=c&state=s&iss=https://evil.example.com")
            .unwrap_err()
            .code(),
        "oidc_callback_iss_mismatch"
    );
    let ok = rp
        .callback(&format!("code=c0de&state=s1&iss={ISSUER}"))
        .unwrap();
    assert_eq!(ok.code.expose_secret(), "c0de");
    assert_eq!(ok.state.expose_secret(), "s1");
}

#[test]
fn callback_errors_are_typed_and_parameters_counted() {
    let rp = rp();
    let err = rp
        .callback(&format!(
            "error=access_denied&error_description=User+cancelled&state=s&iss={ISSUER}"
        ))
        .unwrap_err();
    assert_eq!(
        err,
        OidcRefusal::ProviderError {
            kind: ProviderErrorKind::AccessDenied,
            description: Some("User cancelled".into())
        }
    );
    let err = rp
        .callback(&format!("error=login_required&iss={ISSUER}"))
        .unwrap_err();
    assert_eq!(
        err,
        OidcRefusal::ProviderError {
            kind: ProviderErrorKind::LoginRequired,
            description: None
        }
    );
    let err = rp
        .callback(&format!("error=%3Cscript%3E%0A&iss={ISSUER}"))
        .unwrap_err();
    assert_eq!(
        err,
        OidcRefusal::ProviderError {
            kind: ProviderErrorKind::Other("<script>?".into()),
            description: None
        }
    );
    assert_eq!(
        rp.callback(&format!("code=a&code=b&state=s&iss={ISSUER}"))
            .unwrap_err()
            .code(),
        "oidc_callback_duplicate"
    );
    assert_eq!(
        rp.callback(&format!("code=a&state=s&iss={ISSUER}&iss={ISSUER}"))
            .unwrap_err()
            .code(),
        "oidc_callback_duplicate"
    );
    assert_eq!(
        rp.callback(&format!("state=s&iss={ISSUER}")).unwrap_err(),
        OidcRefusal::CallbackMissing { parameter: "code" }
    );
    assert_eq!(
        rp.callback(&format!("code=c&iss={ISSUER}")).unwrap_err(),
        OidcRefusal::CallbackMissing { parameter: "state" }
    );
    assert_eq!(
        rp.callback(&"a".repeat(MAX_CALLBACK_BYTES + 1))
            .unwrap_err()
            .code(),
        "oidc_too_large"
    );
}

// ---------------------------------------------------------------- authorization request

#[test]
fn the_authorization_request_carries_state_nonce_and_pkce() {
    let mut c = client();
    c.extra_scopes = vec!["offline_access groups".into(), "email".into()];
    let rp = rp_with(json!({}), c);
    let opts = AuthorizationOptions {
        login_hint: Some("jane@acme.com".into()),
        domain_hint: Some("acme.com".into()),
    };
    let req = rp.authorization_request(&random(3), &opts, NOW).unwrap();
    let url = url::Url::parse(&req.url).unwrap();
    assert!(req.url.starts_with("https://op.example.com/auth?"));
    let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], CLIENT);
    assert_eq!(q["redirect_uri"], REDIRECT);
    assert_eq!(q["scope"], "openid email profile offline_access groups");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(
        q["code_challenge"],
        req.pending.pkce_verifier.s256_challenge()
    );
    assert_eq!(q["state"], req.state.expose_secret());
    assert_eq!(q["nonce"], req.pending.nonce.expose_secret());
    assert_eq!(q["state"].len(), 22, "128 bits, base64url");
    assert_eq!(q["nonce"].len(), 22);
    assert_ne!(q["state"], q["nonce"]);
    assert_eq!(req.pending.pkce_verifier.len(), 43);
    assert_eq!(q["login_hint"], "jane@acme.com");
    assert_eq!(q["domain_hint"], "acme.com");
    // A different draw gives different values; all-equal bytes are refused.
    let other = rp.authorization_request(&random(4), &opts, NOW).unwrap();
    assert!(!other.state.ct_eq(&req.state));
    assert_eq!(
        rp.authorization_request(&[0u8; 64], &opts, NOW)
            .unwrap_err()
            .code(),
        "oidc_weak_randomness"
    );
    // The pending record survives its byte form.
    let back = PendingAuthorization::from_payload(&req.pending.to_payload()).unwrap();
    assert!(back.nonce.ct_eq(&req.pending.nonce));
    assert!(back.pkce_verifier.ct_eq(&req.pending.pkce_verifier));
    assert_eq!(back.redirect_uri, REDIRECT);
    assert_eq!(back.created_at_ms, NOW);
    assert_eq!(
        PendingAuthorization::from_payload(b"{}")
            .unwrap_err()
            .code(),
        "oidc_pending_invalid"
    );
    // Secrets never in Debug.
    let dbg = format!("{req:?}");
    assert!(!dbg.contains(req.pending.pkce_verifier.expose_secret()));
    assert!(!dbg.contains(req.pending.nonce.expose_secret()));
}

// ---------------------------------------------------------------- token endpoint

#[test]
fn token_auth_method_is_chosen_from_discovery() {
    let req = |extra: Value, c: ClientConfig| {
        rp_with(extra, c).token_request(&AuthorizationCode::new("c0de"), &pending())
    };
    // Both listed: basic. The secret is never in the form.
    let r = req(json!({}), client()).unwrap();
    assert_eq!(r.auth_method, TokenAuthMethod::ClientSecretBasic);
    assert_eq!(r.basic_pair(), Some((CLIENT, SECRET)));
    assert!(r.form_pairs().iter().all(|(k, _)| *k != "client_secret"));
    // Only post listed.
    let r = req(
        json!({ "token_endpoint_auth_methods_supported": ["client_secret_post"] }),
        client(),
    )
    .unwrap();
    assert_eq!(r.auth_method, TokenAuthMethod::ClientSecretPost);
    assert!(r.basic.is_none());
    assert!(r.form_pairs().contains(&("client_secret", SECRET)));
    assert!(r.form_pairs().contains(&("client_id", CLIENT)));
    // Nothing listed: the Discovery default, basic.
    let r = req(
        json!({ "token_endpoint_auth_methods_supported": null }),
        client(),
    )
    .unwrap();
    assert_eq!(r.auth_method, TokenAuthMethod::ClientSecretBasic);
    // Only methods we do not implement.
    let err = req(
        json!({ "token_endpoint_auth_methods_supported": ["private_key_jwt"] }),
        client(),
    )
    .unwrap_err();
    assert_eq!(err.code(), "oidc_auth_method_unsupported");
    // A public client: client_id and PKCE only.
    let public = ClientConfig::new(CLIENT, None, REDIRECT);
    let err = req(json!({}), public.clone()).unwrap_err();
    assert_eq!(
        err.code(),
        "oidc_auth_method_unsupported",
        "none is not listed"
    );
    let r = req(
        json!({ "token_endpoint_auth_methods_supported": ["client_secret_basic", "none"] }),
        public,
    )
    .unwrap();
    assert_eq!(r.auth_method, TokenAuthMethod::None);
    assert!(r.basic.is_none());
    let form = r.form_pairs();
    assert!(form.contains(&("client_id", CLIENT)));
    assert!(form.iter().all(|(k, _)| *k != "client_secret"));
    // Always: the code, the redirect URI and the PKCE verifier.
    let p = pending();
    assert!(form.contains(&("grant_type", "authorization_code")));
    assert!(form.contains(&("code", "c0de")));
    assert!(form.contains(&("redirect_uri", REDIRECT)));
    assert!(form.contains(&("code_verifier", p.pkce_verifier.expose_secret())));
    assert!(!format!("{r:?}").contains(p.pkce_verifier.expose_secret()));
    // A configured method that does not fit the client.
    let mut c = client();
    c.token_auth_method = Some(TokenAuthMethod::None);
    assert_eq!(req(json!({}), c).unwrap_err().code(), "oidc_config");
}

#[test]
fn token_responses_are_parsed_strictly() {
    let rp = rp();
    let ok = |v: Value| rp.parse_token_response(200, v.to_string().as_bytes());
    let r = ok(json!({ "access_token": "a", "token_type": "bearer", "id_token": "x.y.z", "expires_in": 60 })).unwrap();
    assert_eq!(r.expires_in, Some(60));
    assert!(!format!("{r:?}").contains("x.y.z"));
    assert_eq!(
        ok(json!({ "access_token": "a", "token_type": "Bearer" }))
            .unwrap_err()
            .code(),
        "oidc_token_response_invalid"
    );
    assert_eq!(
        ok(json!({ "access_token": "a", "token_type": "mac", "id_token": "x" }))
            .unwrap_err()
            .code(),
        "oidc_token_response_invalid"
    );
    assert_eq!(
        ok(json!({ "token_type": "Bearer", "id_token": "x" }))
            .unwrap_err()
            .code(),
        "oidc_token_response_invalid"
    );
    let err = rp
        .parse_token_response(
            400,
            br#"{"error":"invalid_grant","error_description":"code used"}"#,
        )
        .unwrap_err();
    assert_eq!(
        err,
        OidcRefusal::TokenError {
            kind: ProviderErrorKind::InvalidGrant,
            description: Some("code used".into())
        }
    );
    let err = rp
        .parse_token_response(401, br#"{"error":"invalid_client"}"#)
        .unwrap_err();
    assert_eq!(
        err,
        OidcRefusal::TokenError {
            kind: ProviderErrorKind::InvalidClient,
            description: None
        }
    );
    assert_eq!(
        rp.parse_token_response(500, b"oops").unwrap_err().code(),
        "oidc_http_status"
    );
    assert_eq!(
        rp.parse_token_response(200, b"<html>").unwrap_err().code(),
        "oidc_token_response_invalid"
    );
    let big = vec![b' '; MAX_TOKEN_RESPONSE_BYTES + 1];
    assert_eq!(
        rp.parse_token_response(200, &big).unwrap_err().code(),
        "oidc_too_large"
    );
}

#[test]
fn a_refusal_never_shows_a_secret() {
    let t = mint(&idp(), &with(claims(), "aud", json!("other")));
    let err = verify(&t).unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(!text.contains(&t), "no token");
    assert!(!text.contains(NONCE));
    assert!(!text.contains(SECRET));
}
