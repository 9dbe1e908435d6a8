//! The OIDC relying party's ID token and JWKS rules against an attacker provider it does
//! not control: each rule, and the attack that breaks it. The provider is in-process (an
//! `OidcHttp` that answers from a table) and mints tokens with the test keys in idp/keys.
//! The callback, token, user-info and identity steps: oidc_rp_flow.rs.

#![allow(clippy::unwrap_used)]

mod oidc_rp_support;

use enterprise_sso_protocol::oidc::rp::*;
use enterprise_sso_protocol::secret::{AccessToken, Nonce};
use jsonwebtoken::{Algorithm, EncodingKey};
use oidc_rp_support::fixture::*;
use oidc_rp_support::*;
use serde_json::{json, Value};

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

#[test]
fn a_refusal_never_shows_a_secret() {
    let t = mint(&idp(), &with(claims(), "aud", json!("other")));
    let err = verify(&t).unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(!text.contains(&t), "no token");
    assert!(!text.contains(NONCE));
    assert!(!text.contains(SECRET));
}
