//! The certificate expiry index.

use enterprise_sso::now_ms;
use enterprise_sso::IdpCertificate;
use enterprise_sso::Store;
use enterprise_sso::UnixMillis;
use enterprise_sso::{EnterpriseConnection, ProtocolConfig};

use crate::fixtures::*;

/// Connections whose certificates all expire before a time (the latest expiry of the set,
/// see `IdpCertificate::latest_expiry_of`), soonest first, all of them; kept current through updates and
/// deletes.
pub async fn certificate_expiry_query(repo: &dyn Store) {
    let with_expiries = |name: &str, expiries: &[i64]| {
        let mut c = saml_connection(name, &[], false);
        if let ProtocolConfig::Saml(s) = &mut c.config {
            s.idp_certificates = expiries
                .iter()
                .map(|t| IdpCertificate {
                    pem: TEST_CERT_PEM.to_owned(),
                    issued_at: UnixMillis::new(t - 1_000),
                    expires_at: UnixMillis::new(*t),
                })
                .collect();
            s.idp_certificate_expires_at = expiries.first().copied().map(UnixMillis::new);
            if expiries.is_empty() {
                s.idp_certificate = None;
                s.idp_certificate_issued_at = None;
            }
        }
        c
    };
    let with_expiry = |name: &str, t: Option<i64>| with_expiries(name, t.as_slice());
    // Far in the past, so other cases' connections (which expire in 2124) never match.
    let base = -1_000_000_000_000i64;
    let late = with_expiry("late", Some(base + 300));
    let early = with_expiry("early", Some(base + 100));
    let mid = with_expiry("mid", Some(base + 200));
    let none = with_expiry("none", None);
    let oidc = oidc_connection("oidc-exp", &[], false);
    // A rotation in progress: the old certificate expires first, its successor last; only
    // the successor's expiry counts.
    let rotating = with_expiries("rotating", &[base + 50, base + 400]);
    insert_all(
        repo,
        &[
            late.clone(),
            early.clone(),
            mid.clone(),
            none.clone(),
            oidc,
            rotating.clone(),
        ],
    )
    .await;
    assert_eq!(
        must_get(repo, &rotating.id).await,
        rotating,
        "the set round-trips"
    );
    let ids = |v: Vec<EnterpriseConnection>| v.into_iter().map(|c| c.id).collect::<Vec<_>>();
    let got = ids(repo
        .certificates_expiring_before(UnixMillis::new(base + 250))
        .await
        .expect("query"));
    assert_eq!(got, vec![early.id.clone(), mid.id.clone()]);
    let got = ids(repo
        .certificates_expiring_before(UnixMillis::new(base + 100))
        .await
        .expect("query"));
    assert!(got.is_empty(), "strictly before: {got:?}");
    // Renewing a certificate moves it out; deleting removes it.
    let mut renewed = with_expiries("early", &[base + 100, base + 1_000]);
    renewed.id = early.id.clone();
    renewed.version = 2;
    repo.update(&renewed, 1).await.expect("renew");
    assert!(repo
        .delete(&mid.id, UnixMillis::new(now_ms()))
        .await
        .expect("delete"));
    let got = ids(repo
        .certificates_expiring_before(UnixMillis::new(base + 2_000))
        .await
        .expect("query"));
    assert_eq!(
        got,
        vec![late.id.clone(), rotating.id.clone(), renewed.id.clone()]
    );
    // Many at once: no silent cap.
    let many: Vec<_> = (0..60)
        .map(|i| with_expiry(&format!("m{i}"), Some(base + 10 + i)))
        .collect();
    insert_all(repo, &many).await;
    assert_eq!(
        repo.certificates_expiring_before(UnixMillis::new(base + 70))
            .await
            .expect("query")
            .len(),
        60
    );
}
