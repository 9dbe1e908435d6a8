//! What the SAML input tests share: the IdP metadata fixtures, their validity window, a
//! service at a pinned clock, and builders of SAML parameters.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use enterprise_sso::{BoxError, EnterpriseConnection, Policy};
use enterprise_sso_flows::MetadataSource;

use enterprise_sso::{Connections, CreateConnection, Patch, Provider, SamlPatch};
use enterprise_sso_memory::MemoryRepo;
use enterprise_sso_protocol::saml::parse_certificate;

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/saml/",
            $name
        ))
    };
}

#[allow(unused_imports)]
pub(crate) use fixture;

pub(crate) const OKTA: &str = fixture!("okta.metadata.xml");
pub(crate) const ENTRA: &str = fixture!("entra.metadata.xml");
pub(crate) const ADFS: &str = fixture!("adfs.metadata.xml");
pub(crate) const GOOGLE: &str = fixture!("google.metadata.xml");
/// 2024-01-01 and 2124-01-01 (see fixtures/saml/validity.txt).
pub(crate) const LONG_FROM: i64 = 1_704_067_200_000;
pub(crate) const LONG_UNTIL: i64 = 4_859_740_800_000;
/// 2029-01-01T00:00:00Z.
pub(crate) const NOW_2029: i64 = 1_861_920_000_000;

pub(crate) fn cert(pem: &str) -> Vec<u8> {
    parse_certificate(pem).unwrap().der
}

pub(crate) fn svc() -> Connections<MemoryRepo> {
    Connections::new(MemoryRepo::new()).with_clock(Arc::new(|| NOW_2029))
}

pub(crate) fn saml_params(saml: SamlPatch, active: bool) -> CreateConnection {
    let mut p = CreateConnection::new(Provider::SamlCustom, "IdP");
    p.active = Some(active);
    p.saml = Some(saml);
    p
}

pub(crate) fn metadata(xml: &str) -> SamlPatch {
    SamlPatch {
        idp_metadata: Patch::Value(xml.to_owned()),
        ..Default::default()
    }
}

pub(crate) fn base64_of(der: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(der)
}

/// An in-process source: serves one canned answer and records the URLs asked for.
pub(crate) struct FakeSource {
    pub(crate) answer: Box<dyn Fn() -> Result<Vec<u8>, BoxError> + Send + Sync>,
    pub(crate) asked: Mutex<Vec<(String, usize)>>,
}

impl FakeSource {
    pub(crate) fn new(
        answer: impl Fn() -> Result<Vec<u8>, BoxError> + Send + Sync + 'static,
    ) -> Self {
        FakeSource {
            answer: Box::new(answer),
            asked: Mutex::new(Vec::new()),
        }
    }
}

#[async_trait]
impl MetadataSource for FakeSource {
    async fn fetch(&self, url: &str, max_bytes: usize) -> Result<Vec<u8>, BoxError> {
        self.asked.lock().unwrap().push((url.to_owned(), max_bytes));
        (self.answer)()
    }
}

/// Where the refresh tests' connection fetches its metadata (a loopback URL, allowed by
/// the policy [`refreshable`] sets).
pub(crate) const METADATA_URL: &str = "http://localhost:9999/app/metadata";

/// A service that may fetch from loopback, and an inactive SAML connection with only a
/// metadata URL, ready to be refreshed.
pub(crate) async fn refreshable() -> (Connections<MemoryRepo>, EnterpriseConnection) {
    let s = svc().with_policy(Policy {
        allow_loopback_fetch: true,
    });
    let c = s
        .create(&saml_params(
            SamlPatch {
                idp_metadata_url: Patch::Value(METADATA_URL.into()),
                ..Default::default()
            },
            false,
        ))
        .await
        .unwrap();
    (s, c)
}
