//! Fixtures and helpers the cases share: valid connections and accounts, unique tags, and
//! reads that panic with the store's answer when they fail.

use crate::account::{EnterpriseAccount, Verification};
use crate::connection::EnterpriseConnection;
use crate::domain::Domain;
use crate::ids::{AccountId, ConnectionId};
use crate::merge::build;
use crate::millis::UnixMillis;
use crate::patch::{CreateConnection, OidcPatch, Patch, SamlPatch};
use crate::provider::Provider;
use crate::repo::{ListQuery, Store};
use crate::secret::ClientSecret;
use crate::service::now_ms;

/// A self-signed IdP certificate valid from 2024-01-01 to 2124-01-01, for tests.
pub const TEST_CERT_PEM: &str = include_str!("testdata/idp_cert.pem");

/// A valid SAML connection (inactive unless `active`), claiming `domains`.
pub fn saml_connection(name: &str, domains: &[&str], active: bool) -> EnterpriseConnection {
    let mut p = CreateConnection::new(Provider::SamlOkta, name);
    p.domains = Some(domains.iter().map(|d| d.to_string()).collect());
    p.active = Some(active);
    p.saml = Some(SamlPatch {
        idp_entity_id: Patch::Value(format!("https://idp.example.com/{name}")),
        idp_sso_url: Patch::Value("https://idp.example.com/sso".into()),
        idp_certificate: Patch::Value(TEST_CERT_PEM.into()),
        ..Default::default()
    });
    expect_built(&p)
}

/// A valid confidential OIDC client (inactive unless `active`), claiming `domains`.
pub fn oidc_connection(name: &str, domains: &[&str], active: bool) -> EnterpriseConnection {
    let mut p = CreateConnection::new(Provider::OidcCustom, name);
    p.domains = Some(domains.iter().map(|d| d.to_string()).collect());
    p.active = Some(active);
    p.oidc = Some(OidcPatch {
        client_id: Patch::Value(format!("client-{name}")),
        client_secret: Patch::Value(ClientSecret::new(format!("secret-{name}"))),
        discovery_url: Patch::Value(
            "https://idp.example.com/.well-known/openid-configuration".into(),
        ),
        // What a successful discovery fills in (activation needs them).
        auth_url: Patch::Value("https://idp.example.com/authorize".into()),
        token_url: Patch::Value("https://idp.example.com/token".into()),
        ..Default::default()
    });
    expect_built(&p)
}

/// Builds a connection from create parameters, panicking with the refusal.
pub fn expect_built(p: &CreateConnection) -> EnterpriseConnection {
    match build(p, ConnectionId::generate(), now_ms()) {
        Ok(c) => c,
        Err(e) => panic!("fixture does not validate: {e}"),
    }
}

/// A fresh lower-case tag usable inside domain names, so cases never collide.
pub fn unique_tag() -> String {
    ConnectionId::generate().as_str()[4..].to_lowercase()
}

/// A domain from text that is known to be valid.
pub fn domain(s: &str) -> Domain {
    Domain::parse(s).unwrap_or_else(|e| panic!("bad fixture domain {s}: {e}"))
}

/// Reads a connection that must exist.
pub async fn must_get(repo: &dyn Store, id: &ConnectionId) -> EnterpriseConnection {
    match repo.get(id).await {
        Ok(Some(c)) => c,
        other => panic!("get({id}) = {other:?}"),
    }
}

/// Inserts every connection, panicking on the first refusal.
pub async fn insert_all(repo: &dyn Store, conns: &[EnterpriseConnection]) {
    for c in conns {
        if let Err(e) = repo.insert(c).await {
            panic!("insert {}: {e}", c.id);
        }
    }
}

/// Walks every page of `query` and returns the ids in the order seen.
pub async fn walk(repo: &dyn Store, query: &ListQuery) -> Vec<ConnectionId> {
    let mut q = query.clone();
    let mut seen = Vec::new();
    for _ in 0..10_000 {
        let page = repo.list(&q).await.expect("list");
        assert!(page.items.len() <= q.limit, "page larger than limit");
        seen.extend(page.items.iter().map(|c| c.id.clone()));
        match page.next_cursor {
            Some(c) => {
                assert_eq!(
                    Some(&c),
                    page.items.last().map(|c| &c.id),
                    "cursor is the last item"
                );
                q.after = Some(c)
            }
            None => return seen,
        }
    }
    panic!("pagination did not end");
}

/// A fresh account linked to `conn`.
pub fn account_for(conn: &EnterpriseConnection, subject: &str, email: &str) -> EnterpriseAccount {
    let now = now_ms();
    EnterpriseAccount {
        id: AccountId::generate(),
        active: true,
        email_address: email.to_owned(),
        enterprise_connection_id: Some(conn.id.clone()),
        first_name: Some("Jane".into()),
        last_name: None,
        protocol: conn.protocol(),
        provider: conn.provider,
        provider_user_id: Some(subject.to_owned()),
        public_metadata: serde_json::Map::from_iter([(
            "team".to_owned(),
            serde_json::json!(["a", 1]),
        )]),
        verification: Some(Verification::verified_by(conn)),
        last_authenticated_at: Some(UnixMillis::new(now)),
        created_at: UnixMillis::new(now),
        updated_at: UnixMillis::new(now),
        version: 1,
    }
}

/// Reads an account that must exist.
pub async fn must_get_account(repo: &dyn Store, id: &AccountId) -> EnterpriseAccount {
    match repo.get_account(id).await {
        Ok(Some(a)) => a,
        other => panic!("get_account({id}) = {other:?}"),
    }
}

/// An active SAML connection for sign-in cases, claiming `{tag}.com` and its subdomains
/// (with `sync`, sign-ins update the account's attributes).
pub fn sign_in_connection(name: &str, tag: &str, sync: bool) -> EnterpriseConnection {
    let mut c = saml_connection(name, &[&format!("{tag}.com")], true);
    c.allow_subdomains = true;
    c.sync_user_attributes = sync;
    c
}

/// A key ring for running the suite over [`crate::crypto::Encrypted`]: an active key and
/// an older one (fixed test keys; never use them for real data).
pub fn test_keyring() -> crate::crypto::Keyring {
    crate::crypto::Keyring::new("conformance-2", [0x5Au8; 32])
        .and_then(|r| r.with_old_key("conformance-1", [0xA5u8; 32]))
        .unwrap_or_else(|e| panic!("test keyring: {e}"))
}

/// Every byte of every file under `dir` (recursively): what a copied store directory
/// reveals, for the at-rest tests of file-based adapters.
pub fn dir_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {dir:?}: {e}"));
    for e in entries {
        let p = e.unwrap_or_else(|e| panic!("entry: {e}")).path();
        if p.is_dir() {
            out.extend(dir_bytes(&p));
        } else {
            out.extend(std::fs::read(&p).unwrap_or_else(|e| panic!("read {p:?}: {e}")));
        }
    }
    out
}

/// Whether `needle` occurs in `hay`.
pub fn contains_bytes(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Writes a connection test run whose payload holds `marker` (as a run keeps an ID token
/// or a SAML Response), for the at-rest tests: with a key ring, `marker` must not reach
/// the store's files or tables. The record lives an hour past `now_ms()`.
pub async fn write_test_run_record(store: &dyn Store, marker: &str) {
    let now = now_ms();
    let item = crate::SignInItem {
        kind: crate::SignInKind::TestRun,
        key: crate::sign_in_key(&format!("at-rest-run-{}", unique_tag())),
        connection_id: None,
        created_at: UnixMillis::new(now),
        expires_at: UnixMillis::new(now.saturating_add(3_600_000)),
        payload: format!("{{\"id_token\":\"{marker}\"}}").into_bytes(),
    };
    let written = store.put_sign_in(&item, UnixMillis::new(now)).await;
    assert_eq!(written.ok(), Some(true), "the test run was not written");
}
