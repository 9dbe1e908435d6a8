//! The hosted sign-in benchmarks' shared parts (`benches/hosted_flow.rs`,
//! `bin/hosted_load.rs`): the stores, one active SAML connection trusting the test IdP
//! key (`idp/keys/idp-key.pem`), the OAuth client, and the IdP itself: a Response of
//! samlify's shape (Response and Assertion signed, rsa-sha256, exclusive c14n) minted for
//! one AuthnRequest ID, so it answers exactly that request.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use aws_lc_rs::rand::SecureRandom as _;
use aws_lc_rs::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use base64::Engine as _;
use enterprise_sso::{
    ConnectionId, Connections, CreateConnection, DynStore, Patch, Provider, SamlPatch, Store,
};
use enterprise_sso_flows::{HostedSettings, SamlSettings};
use enterprise_sso_memory::MemoryRepo;
use enterprise_sso_postgres::{PostgresOptions, PostgresRepo};
use enterprise_sso_protocol::saml::sp::{format_datetime, inflate_redirect_param};
use enterprise_sso_protocol::xml::c14n::{canonicalize, C14nOptions};
use enterprise_sso_sqlite::SqliteRepo;

/// The SP base URL: ACS `{base}/{id}/acs`, entity id `{base}/{id}`.
pub const SP_BASE: &str = "http://127.0.0.1:3000/saml";
/// The IdP's entity id.
pub const IDP_ENTITY: &str = "http://127.0.0.1:7000/idp";
/// The OAuth client signing in.
pub const CLIENT_ID: &str = "client_bench";
/// Its registered redirect URI.
pub const REDIRECT_URI: &str = "https://app.example.com/cb";
/// The API key, which is the client secret.
pub const API_KEY: &str = "sk_bench_hosted_flow";
/// PKCE verifier (RFC 7636 appendix B) and its S256 challenge.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
/// The S256 challenge of [`VERIFIER`].
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
/// Distinct users signing in (`user{n % USERS}@acme.com`): the first sign-in of each
/// creates the account, later ones update it.
pub const USERS: u64 = 1024;

const IDP_CERT: &str = include_str!("../../idp/keys/idp-cert.pem");
const IDP_KEY: &str = include_str!("../../idp/keys/idp-key.pem");
const DS: &str = "http://www.w3.org/2000/09/xmldsig#";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";

/// The hosted settings every benchmark uses (defaults: 10-minute codes and tokens).
pub fn settings() -> HostedSettings {
    HostedSettings::new(SamlSettings::new(SP_BASE))
}

/// `N` bytes from the system CSPRNG (what the HTTP layer gives the service).
pub fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut b)
        .expect("system random");
    b
}

/// Which store a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// `MemoryRepo`.
    Memory,
    /// `SqliteRepo` on a file (WAL, synchronous FULL: the default mode).
    Sqlite,
    /// `PostgresRepo` in schema `bench_flow` (dropped and made again per run).
    Postgres,
}

impl StoreKind {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            StoreKind::Memory => "memory",
            StoreKind::Sqlite => "sqlite",
            StoreKind::Postgres => "postgres",
        }
    }

    /// From its name.
    pub fn parse(s: &str) -> Option<StoreKind> {
        match s {
            "memory" => Some(StoreKind::Memory),
            "sqlite" => Some(StoreKind::Sqlite),
            "postgres" => Some(StoreKind::Postgres),
            _ => None,
        }
    }
}

/// An empty store of `kind` (SQLite in `dir`; PostgreSQL at `pg_url` with a pool of
/// `pool_size`), `None` for PostgreSQL without a URL.
pub async fn store(
    kind: StoreKind,
    dir: &Path,
    pg_url: Option<&str>,
    pool_size: usize,
) -> Option<DynStore> {
    Some(match kind {
        StoreKind::Memory => Arc::new(MemoryRepo::new()),
        StoreKind::Sqlite => {
            let path = dir.join("hosted_flow.db");
            let _ = std::fs::remove_file(&path);
            Arc::new(SqliteRepo::open(path).expect("open sqlite"))
        }
        StoreKind::Postgres => {
            let url = pg_url?;
            let raw = crate::pg::raw_pool(url, 1);
            raw.get()
                .await
                .expect("postgres")
                .batch_execute("DROP SCHEMA IF EXISTS bench_flow CASCADE")
                .await
                .expect("drop schema");
            let opts = PostgresOptions {
                schema: "bench_flow".into(),
                pool_size,
                ..PostgresOptions::default()
            };
            Arc::new(
                PostgresRepo::connect_with(url, opts)
                    .await
                    .expect("connect"),
            )
        }
    })
}

/// Creates the active SAML connection (domain acme.com) trusting the IdP key.
pub async fn saml_connection<S: Store>(svc: &Connections<S>) -> ConnectionId {
    let mut p = CreateConnection::new(Provider::SamlCustom, "Acme");
    p.domains = Some(vec!["acme.com".into()]);
    p.active = Some(true);
    p.organization_id = Some("org_acme".into());
    p.saml = Some(SamlPatch {
        idp_entity_id: Patch::Value(IDP_ENTITY.into()),
        idp_sso_url: Patch::Value("http://127.0.0.1:7000/sso".into()),
        idp_certificate: Patch::Value(IDP_CERT.into()),
        ..Default::default()
    });
    svc.create(&p).await.expect("create connection").id
}

/// The AuthnRequest ID in an IdP redirect URL (`…?SAMLRequest=…`).
pub fn request_id(idp_url: &str) -> String {
    let u = url::Url::parse(idp_url).expect("IdP URL");
    let req = u
        .query_pairs()
        .find(|(k, _)| k == "SAMLRequest")
        .expect("SAMLRequest")
        .1
        .into_owned();
    let xml = inflate_redirect_param(&req, 1 << 16).expect("inflate");
    let xml = String::from_utf8(xml).expect("utf-8");
    let at = xml.find(" ID=\"").expect("ID") + 5;
    xml[at..at + xml[at..].find('"').expect("ID end")].to_owned()
}

/// The test IdP: signs Responses with `idp/keys/idp-key.pem` (aws-lc-rs).
pub struct Idp {
    key: RsaKeyPair,
    cert_b64: String,
    serial: AtomicU64,
}

impl std::fmt::Debug for Idp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Idp").finish_non_exhaustive()
    }
}

impl Default for Idp {
    fn default() -> Self {
        Self::new()
    }
}

fn pem_body(pem: &str) -> Vec<u8> {
    let b: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<String>();
    base64::engine::general_purpose::STANDARD
        .decode(b.trim())
        .expect("PEM base64")
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn c14n(node: roxmltree::Node<'_, '_>, exclude: Option<roxmltree::NodeId>) -> Vec<u8> {
    canonicalize(
        node,
        C14nOptions {
            exclude,
            inclusive_prefixes: &[],
            max_output: 1 << 24,
        },
    )
    .expect("c14n")
}

fn b64(data: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

impl Idp {
    /// The IdP with the repository's test key.
    pub fn new() -> Idp {
        Idp {
            key: RsaKeyPair::from_pkcs8(&pem_body(IDP_KEY)).expect("IdP key (PKCS#8)"),
            cert_b64: b64(pem_body(IDP_CERT)),
            serial: AtomicU64::new(0),
        }
    }

    /// A signed Response (base64, as posted) for connection `id` answering `request_id`,
    /// for `email`, issued at `now` (ms) and valid five minutes.
    pub fn respond(
        &self,
        saml: &SamlSettings,
        id: &ConnectionId,
        request_id: &str,
        email: &str,
        now: i64,
    ) -> String {
        let n = self.serial.fetch_add(1, Ordering::Relaxed);
        let salt = u64::from_le_bytes(random());
        let (rid, aid) = (format!("_r{salt:016x}{n}"), format!("_a{salt:016x}{n}"));
        let (sp, acs) = (esc(&saml.entity_id(id)), esc(&saml.acs_url(id)));
        let (email, irt) = (esc(email), esc(request_id));
        let (t, later) = (format_datetime(now), format_datetime(now + 300_000));
        let attr = |name: &str, friendly: &str, value: &str| {
            format!(
                r#"<saml:Attribute Name="{name}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri" FriendlyName="{friendly}"><saml:AttributeValue xsi:type="xs:string">{value}</saml:AttributeValue></saml:Attribute>"#
            )
        };
        let attributes = [
            attr("urn:oid:0.9.2342.19200300.100.1.3", "mail", &email),
            attr("urn:oid:2.5.4.42", "givenName", "Jane"),
            attr("urn:oid:2.5.4.4", "sn", "Doe"),
        ]
        .concat();
        let assertion = format!(
            r#"<saml:Assertion xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{aid}" Version="2.0" IssueInstant="{t}"><saml:Issuer>{IDP_ENTITY}</saml:Issuer><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{email}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{later}" Recipient="{acs}" InResponseTo="{irt}"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{t}" NotOnOrAfter="{later}"><saml:AudienceRestriction><saml:Audience>{sp}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="{t}" SessionIndex="{aid}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement>{attributes}</saml:AttributeStatement></saml:Assertion>"#
        );
        let response = format!(
            r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{rid}" Version="2.0" IssueInstant="{t}" Destination="{acs}" InResponseTo="{irt}"><saml:Issuer>{IDP_ENTITY}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>{assertion}</samlp:Response>"#
        );
        let signed = self.sign(&response, &aid);
        b64(self.sign(&signed, &rid))
    }

    /// Signs the element `ID="id"` of `xml` (enveloped, exclusive c14n, rsa-sha256); the
    /// signature goes right after its `Issuer`.
    fn sign(&self, xml: &str, id: &str) -> String {
        let doc = roxmltree::Document::parse(xml).expect("minted XML");
        let el = doc
            .descendants()
            .find(|n| n.attribute("ID") == Some(id))
            .expect("signed element");
        let at = el.first_element_child().expect("Issuer").range().end;
        let digest = b64(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            &c14n(el, None),
        ));
        let signed_info = format!(
            r##"<ds:SignedInfo><ds:CanonicalizationMethod Algorithm="{EXC_C14N}"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#{id}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="{EXC_C14N}"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>{digest}</ds:DigestValue></ds:Reference></ds:SignedInfo>"##
        );
        let wrapper = format!(r#"<ds:Signature xmlns:ds="{DS}">{signed_info}</ds:Signature>"#);
        let wdoc = roxmltree::Document::parse(&wrapper).expect("SignedInfo");
        let si = c14n(
            wdoc.root_element()
                .first_element_child()
                .expect("SignedInfo"),
            None,
        );
        let mut sig = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &aws_lc_rs::rand::SystemRandom::new(),
                &si,
                &mut sig,
            )
            .expect("sign");
        let signature = format!(
            r#"<ds:Signature xmlns:ds="{DS}">{signed_info}<ds:SignatureValue>{}</ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>"#,
            b64(&sig),
            self.cert_b64
        );
        format!("{}{}{}", &xml[..at], signature, &xml[at..])
    }
}

/// The email of sign-in number `n`.
pub fn user(n: u64) -> String {
    format!("user{}@acme.com", n % USERS)
}
