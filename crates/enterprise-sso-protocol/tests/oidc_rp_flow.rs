//! The OIDC relying party's callback, authorization request, token request, user-info
//! and identity steps, and the Entra multi-tenant rule, against an in-process attacker
//! provider. The ID token and JWKS rules: oidc_rp_attacks.rs.

#![allow(clippy::unwrap_used)]

mod oidc_rp_support;

use enterprise_sso_protocol::limits::Policy;
use enterprise_sso_protocol::oidc::rp::*;
use enterprise_sso_protocol::secret::{AuthorizationCode, Nonce};
use oidc_rp_support::fixture::*;
use oidc_rp_support::*;
use serde_json::{json, Value};

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
    let done = block_on(rp.complete(&http, &cache, &callback(), &pending(), NOW)).unwrap();
    // The verified ID token comes back as sent; the access token nowhere.
    assert_eq!(
        done.id_token.expose_secret(),
        token["id_token"].as_str().unwrap()
    );
    assert_eq!(format!("{:?}", done.id_token), "[redacted]");
    assert!(!format!("{done:?}").contains("at-1"));
    let who = done.identity;
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
    let who = block_on(rp.complete(&http, &rp.new_jwks_cache(), &callback(), &pending(), NOW))
        .unwrap()
        .identity;
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
    // read_callback gives the error with the state it came with, for the caller to take
    // its pending request by (and none when the provider sent none, or an empty one).
    match rp
        .read_callback(&format!(
            "error=access_denied&error_description=User+cancelled&state=s&iss={ISSUER}"
        ))
        .unwrap()
    {
        CallbackOutcome::Error { refusal, state } => {
            assert_eq!(refusal.code(), "oidc_provider_error");
            assert_eq!(state.unwrap().expose_secret(), "s");
        }
        other => panic!("expected the provider's error, got {other:?}"),
    }
    for q in ["error=access_denied", "error=access_denied&state="] {
        match rp.read_callback(&format!("{q}&iss={ISSUER}")).unwrap() {
            CallbackOutcome::Error { state, .. } => assert!(state.is_none(), "{q}"),
            other => panic!("expected the provider's error, got {other:?}"),
        }
    }
    // The iss and duplicate checks come first on error answers too.
    assert_eq!(
        rp.read_callback("error=access_denied&state=s&iss=https%3A%2F%2Fevil.example.com")
            .unwrap_err()
            .code(),
        "oidc_callback_iss_mismatch"
    );
    assert_eq!(
        rp.read_callback(&format!("error=access_denied&state=s&state=t&iss={ISSUER}"))
            .unwrap_err()
            .code(),
        "oidc_callback_duplicate"
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
