//! The hosted API's codes and tokens (`issue_code`, `exchange_code`, `profile_for_token`):
//! one test per rule, on the memory store with a clock the test moves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use enterprise_sso::UnixMillis;
use enterprise_sso_flows::Flows;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use enterprise_sso::{
    sign_in_key, Assertion, ConnectionRepo, Connections, Error, SignInKind, SignInStore,
};
use enterprise_sso_conformance::saml_connection;
use enterprise_sso_flows::{
    s256_challenge, CodeBinding, CodeExchange, HostedRefusal, HostedSettings, Profile, SamlSettings,
};
use enterprise_sso_memory::MemoryRepo;
use futures_executor::block_on;

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

struct World {
    svc: Arc<Connections<MemoryRepo>>,
    svc_flows: Flows<MemoryRepo>,
    now: Arc<AtomicI64>,
    settings: HostedSettings,
    profile: Profile,
    seq: std::cell::Cell<u8>,
}

impl World {
    fn new() -> World {
        let now = Arc::new(AtomicI64::new(1_800_000_000_000));
        let clock = now.clone();
        let svc_flows = Flows::new(
            Connections::new(MemoryRepo::new())
                .with_clock(Arc::new(move || clock.load(Ordering::SeqCst))),
        );
        let svc = svc_flows.connections();
        let conn = saml_connection("hosted", &["acme.com"], true);
        block_on(svc.repo().insert(&conn)).unwrap();
        let mut attributes = BTreeMap::new();
        attributes.insert("email".to_owned(), vec!["jane@acme.com".to_owned()]);
        attributes.insert("firstName".to_owned(), vec!["Jane".to_owned()]);
        let sign_in = block_on(svc.record_sign_in(
            &conn.id,
            &Assertion {
                subject: Some("jane-subject".into()),
                attributes: attributes.clone(),
            },
        ))
        .unwrap();
        let raw = attributes
            .into_iter()
            .map(|(k, v)| (k, serde_json::Value::from(v)))
            .collect();
        let profile = Profile::of_sign_in(&sign_in, raw);
        World {
            svc: Arc::clone(svc),
            svc_flows,
            now,
            settings: HostedSettings::new(SamlSettings::new("https://sso.example.com/saml")),
            profile,
            seq: std::cell::Cell::new(0),
        }
    }

    fn random(&self) -> [u8; 32] {
        self.seq.set(self.seq.get() + 1);
        [self.seq.get(); 32]
    }

    fn code(&self, client: &str, challenge: Option<&str>) -> String {
        let binding = CodeBinding {
            client_id: client.into(),
            redirect_uri: "https://app.example.com/cb".into(),
            code_challenge: challenge.map(str::to_owned),
        };
        block_on(
            self.svc_flows
                .issue_code(&self.settings, &binding, &self.profile, self.random()),
        )
        .unwrap()
    }

    fn exchange(
        &self,
        code: &str,
        client: &str,
        authenticated: bool,
        verifier: Option<&str>,
    ) -> Result<enterprise_sso_flows::TokenGrant, HostedRefusal> {
        let x = CodeExchange {
            client_id: client,
            client_authenticated: authenticated,
            code_verifier: verifier,
            redirect_uri: None,
            random: self.random(),
        };
        block_on(self.svc_flows.exchange_code(&self.settings, code, &x)).map_err(|e| match e {
            Error::HostedRefused(r) => *r,
            other => panic!("expected a hosted refusal, got {other:?}"),
        })
    }
}

#[test]
fn a_code_is_exchanged_once_for_a_token_that_reads_the_profile() {
    let w = World::new();
    let code = w.code("client_a", None);
    // Stored hashed, never raw.
    assert!(block_on(w.svc.repo().get_sign_in(
        SignInKind::AuthorizationCode,
        &sign_in_key(&code),
        UnixMillis::new(w.now.load(Ordering::SeqCst))
    ))
    .unwrap()
    .is_some());
    let grant = w.exchange(&code, "client_a", true, None).unwrap();
    assert_eq!(grant.profile, w.profile);
    assert_eq!(grant.profile.email, "jane@acme.com");
    assert_eq!(grant.profile.idp_id, "jane-subject");
    assert_eq!(grant.profile.connection_type, "OktaSAML");
    assert!(grant.profile.id.starts_with("prof_"));
    assert!(!format!("{grant:?}").contains(&grant.access_token));
    let read = block_on(w.svc_flows.profile_for_token(&grant.access_token)).unwrap();
    assert_eq!(read, w.profile);
    // Used once: the second exchange finds nothing.
    let again = w.exchange(&code, "client_a", true, None).unwrap_err();
    assert_eq!(again, HostedRefusal::CodeUnknown);
    assert_eq!(again.oauth_error(), "invalid_grant");
    // The token expires.
    w.now.fetch_add(600_000, Ordering::SeqCst);
    let gone = block_on(w.svc_flows.profile_for_token(&grant.access_token)).unwrap_err();
    assert!(matches!(gone, Error::HostedRefused(r) if *r == HostedRefusal::AccessTokenUnknown));
}

#[test]
fn a_code_expires_after_its_ttl() {
    let w = World::new();
    let code = w.code("client_a", None);
    w.now.fetch_add(600_000, Ordering::SeqCst);
    assert_eq!(
        w.exchange(&code, "client_a", true, None).unwrap_err(),
        HostedRefusal::CodeUnknown
    );
    let code = w.code("client_a", None);
    w.now.fetch_add(599_999, Ordering::SeqCst);
    w.exchange(&code, "client_a", true, None).unwrap();
}

#[test]
fn a_code_of_another_client_is_refused_and_used_up() {
    let w = World::new();
    let code = w.code("client_a", None);
    let err = w.exchange(&code, "client_b", true, None).unwrap_err();
    assert_eq!(
        err,
        HostedRefusal::CodeOfAnotherClient {
            expected: "client_a".into(),
            received: "client_b".into()
        }
    );
    assert!(!err.to_string().contains(&code));
    assert_eq!(
        w.exchange(&code, "client_a", true, None).unwrap_err(),
        HostedRefusal::CodeUnknown
    );
}

#[test]
fn pkce_binds_the_code_to_the_verifier() {
    let w = World::new();
    let challenge = s256_challenge(VERIFIER);
    // RFC 7636 appendix B's pair.
    assert_eq!(challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    let code = w.code("client_a", Some(&challenge));
    // A public client: the verifier alone authenticates the exchange.
    w.exchange(&code, "client_a", false, Some(VERIFIER))
        .unwrap();

    let code = w.code("client_a", Some(&challenge));
    let wrong = "x".repeat(43);
    let err = w
        .exchange(&code, "client_a", true, Some(&wrong))
        .unwrap_err();
    assert_eq!(
        err,
        HostedRefusal::CodeVerifierMismatch {
            expected: challenge.clone(),
            received: s256_challenge(&wrong)
        }
    );
    assert!(!err.to_string().contains(&wrong), "never the verifier");

    let code = w.code("client_a", Some(&challenge));
    assert_eq!(
        w.exchange(&code, "client_a", true, None).unwrap_err(),
        HostedRefusal::CodeVerifierMissing
    );
    // A verifier for a code issued without a challenge: a downgrade, refused.
    let code = w.code("client_a", None);
    assert_eq!(
        w.exchange(&code, "client_a", true, Some(VERIFIER))
            .unwrap_err(),
        HostedRefusal::CodeVerifierUnexpected
    );
    // Without PKCE the client must be authenticated.
    let code = w.code("client_a", None);
    assert_eq!(
        w.exchange(&code, "client_a", false, None).unwrap_err(),
        HostedRefusal::ClientNotAuthenticated
    );
    // A malformed verifier or challenge.
    assert_eq!(
        w.exchange("c", "client_a", true, Some("short"))
            .unwrap_err(),
        HostedRefusal::InvalidCodeVerifier
    );
    let binding = CodeBinding {
        client_id: "client_a".into(),
        redirect_uri: "https://app.example.com/cb".into(),
        code_challenge: Some("not-a-challenge".into()),
    };
    assert!(matches!(
        block_on(w.svc_flows.issue_code(&w.settings, &binding, &w.profile, w.random())),
        Err(Error::HostedRefused(r)) if r.code() == "invalid_code_challenge"
    ));
}

#[test]
fn a_redirect_uri_sent_at_the_exchange_must_be_the_codes() {
    let w = World::new();
    let code = w.code("client_a", None);
    let x = CodeExchange {
        client_id: "client_a",
        client_authenticated: true,
        code_verifier: None,
        redirect_uri: Some("https://evil.example.com/cb"),
        random: w.random(),
    };
    let err = block_on(w.svc_flows.exchange_code(&w.settings, &code, &x)).unwrap_err();
    assert!(matches!(err, Error::HostedRefused(r) if r.code() == "redirect_uri_mismatch"));
}

#[test]
fn sweeping_removes_expired_codes_and_tokens() {
    let w = World::new();
    let code = w.code("client_a", None);
    let _ = w.code("client_a", None);
    let grant = w.exchange(&code, "client_a", true, None).unwrap();
    assert_eq!(block_on(w.svc_flows.sweep_sign_ins()).unwrap(), 0);
    w.now.fetch_add(600_000, Ordering::SeqCst);
    // One code left and one token.
    assert_eq!(block_on(w.svc_flows.sweep_sign_ins()).unwrap(), 2);
    assert!(block_on(w.svc_flows.profile_for_token(&grant.access_token)).is_err());
}
