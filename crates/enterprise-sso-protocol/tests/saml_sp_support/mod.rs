//! Test helpers shared by the `saml_sp_*` tests: mint SAML responses, sign them with
//! this crate's canonicalization (RSA PKCS#1 v1.5 or ECDSA over exclusive c14n of
//! `SignedInfo`), encrypt assertions (RSA-OAEP + AES-CBC/GCM), with the keys in
//! `tests/corpus/saml/own/` (see its README).
#![allow(
    dead_code,
    unreachable_pub,
    missing_debug_implementations,
    clippy::unwrap_used,
    clippy::expect_used
)]

use base64::Engine;
use enterprise_sso_protocol::saml::sp::{
    format_datetime, IdentityProvider, ResponseVerifier, ServiceProvider, SpKeyPair,
};
use enterprise_sso_protocol::xml::c14n::{canonicalize, C14nOptions};
use sha2::Digest as _;

pub const DS: &str = "http://www.w3.org/2000/09/xmldsig#";
pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
pub const RSA_SHA512: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512";
pub const RSA_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
pub const ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
pub const ECDSA_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384";
pub const HMAC_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#hmac-sha1";
pub const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
pub const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";
pub const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";

/// 2027-06-01T12:00:00Z: the clock of every minted response.
pub const NOW: i64 = 1_811_851_200_000;
pub const SP_ENTITY: &str = "https://sp.example.com/saml/metadata/conn_1";
pub const ACS: &str = "https://sp.example.com/saml/acs/conn_1";
pub const IDP_ENTITY: &str = "https://idp.example.org/saml";
pub const REQUEST_ID: &str = "_0123456789abcdef0123456789abcdef";

pub fn corpus(name: &str) -> String {
    let path = format!(
        "{}/tests/corpus/saml/own/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .unwrap()
}

pub fn cert(name: &str) -> Vec<u8> {
    pem_der(&corpus(&format!("{name}.cert.pem")))
}

/// A signing key of the test corpus.
pub enum Signer {
    Rsa(rsa::PrivateKey),
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
}

pub fn signer(name: &str) -> Signer {
    use p256::pkcs8::DecodePrivateKey as _;
    let der = pem_der(&corpus(&format!("{name}.key.pem")));
    match name {
        "idp-p256" => Signer::P256(p256::ecdsa::SigningKey::from_pkcs8_der(&der).unwrap()),
        "idp-p384" => Signer::P384(p384::ecdsa::SigningKey::from_pkcs8_der(&der).unwrap()),
        _ => {
            use rsa::pkcs8::DecodePrivateKey as _;
            Signer::Rsa(rsa::PrivateKey::from_pkcs8_der(&der).unwrap())
        }
    }
}

pub fn sp() -> ServiceProvider {
    ServiceProvider::new(SP_ENTITY, ACS)
        .with_key(SpKeyPair::from_pem(&corpus("sp.key.pem"), &corpus("sp.cert.pem")).unwrap())
}

pub fn idp() -> IdentityProvider {
    IdentityProvider::new(IDP_ENTITY, vec![cert("idp")])
}

pub fn verifier() -> ResponseVerifier {
    ResponseVerifier::new(sp(), idp())
}

/// What a minted response says. Every field is written into the XML as given (tests
/// may put markup in a value on purpose).
#[derive(Debug, Clone)]
pub struct Spec {
    pub response_id: String,
    pub assertion_id: String,
    pub response_issuer: Option<String>,
    pub issuer: String,
    pub destination: Option<String>,
    pub response_in_response_to: Option<String>,
    pub in_response_to: Option<String>,
    pub status: String,
    pub name_id: String,
    pub audience: String,
    pub recipient: String,
    pub issue_instant: i64,
    pub not_before: i64,
    pub not_on_or_after: i64,
    pub scd_not_on_or_after: i64,
    pub authn_instant: i64,
    pub with_authn_statement: bool,
    pub version: String,
}

impl Default for Spec {
    fn default() -> Self {
        Self {
            response_id: "_resp1".into(),
            assertion_id: "_assert1".into(),
            response_issuer: Some(IDP_ENTITY.into()),
            issuer: IDP_ENTITY.into(),
            destination: Some(ACS.into()),
            response_in_response_to: Some(REQUEST_ID.into()),
            in_response_to: Some(REQUEST_ID.into()),
            status: "urn:oasis:names:tc:SAML:2.0:status:Success".into(),
            name_id: "jane@acme.com".into(),
            audience: SP_ENTITY.into(),
            recipient: ACS.into(),
            issue_instant: NOW - 10_000,
            not_before: NOW - 60_000,
            not_on_or_after: NOW + 300_000,
            scd_not_on_or_after: NOW + 300_000,
            authn_instant: NOW - 20_000,
            with_authn_statement: true,
            version: "2.0".into(),
        }
    }
}

fn opt_attr(name: &str, v: &Option<String>) -> String {
    v.as_ref()
        .map(|v| format!(" {name}=\"{v}\""))
        .unwrap_or_default()
}

impl Spec {
    pub fn assertion(&self) -> String {
        let t = format_datetime;
        let authn = if self.with_authn_statement {
            format!(
                r#"
    <saml:AuthnStatement AuthnInstant="{}" SessionIndex="_sess1" SessionNotOnOrAfter="{}">
      <saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext>
    </saml:AuthnStatement>"#,
                t(self.authn_instant),
                t(NOW + 8 * 3_600_000)
            )
        } else {
            String::new()
        };
        format!(
            r#"<saml:Assertion xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ID="{aid}" Version="{ver}" IssueInstant="{ii}">
    <saml:Issuer>{issuer}</saml:Issuer>
    <saml:Subject>
      <saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{name_id}</saml:NameID>
      <saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">
        <saml:SubjectConfirmationData NotOnOrAfter="{scd}" Recipient="{recipient}"{irt}/>
      </saml:SubjectConfirmation>
    </saml:Subject>
    <saml:Conditions NotBefore="{nb}" NotOnOrAfter="{noa}">
      <saml:AudienceRestriction><saml:Audience>{aud}</saml:Audience></saml:AudienceRestriction>
    </saml:Conditions>{authn}
    <saml:AttributeStatement>
      <saml:Attribute Name="email"><saml:AttributeValue xsi:type="xs:string">{name_id}</saml:AttributeValue></saml:Attribute>
      <saml:Attribute Name="groups"><saml:AttributeValue>admins</saml:AttributeValue><saml:AttributeValue>dev &amp; ops</saml:AttributeValue></saml:Attribute>
    </saml:AttributeStatement>
  </saml:Assertion>"#,
            aid = self.assertion_id,
            ver = self.version,
            ii = t(self.issue_instant),
            issuer = self.issuer,
            name_id = self.name_id,
            scd = t(self.scd_not_on_or_after),
            recipient = self.recipient,
            irt = opt_attr("InResponseTo", &self.in_response_to),
            nb = t(self.not_before),
            noa = t(self.not_on_or_after),
            aud = self.audience,
        )
    }

    /// The whole Response with `assertion` (the spec's own when `None`).
    pub fn response_with(&self, assertion: &str) -> String {
        let issuer = self
            .response_issuer
            .as_ref()
            .map(|i| format!("\n  <saml:Issuer>{i}</saml:Issuer>"))
            .unwrap_or_default();
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{rid}" Version="2.0" IssueInstant="{ii}"{dest}{irt}>{issuer}
  <samlp:Status><samlp:StatusCode Value="{status}"/></samlp:Status>
  {assertion}
</samlp:Response>"#,
            rid = self.response_id,
            ii = format_datetime(self.issue_instant),
            dest = opt_attr("Destination", &self.destination),
            irt = opt_attr("InResponseTo", &self.response_in_response_to),
            status = self.status,
        )
    }

    pub fn response(&self) -> String {
        self.response_with(&self.assertion())
    }

    /// Response with a signed assertion (the usual IdP default).
    pub fn signed_assertion(&self) -> String {
        sign(
            &self.response(),
            &self.assertion_id,
            &signer("idp"),
            &SigOpts::default(),
        )
    }

    /// Response and assertion both signed.
    pub fn signed_both(&self) -> String {
        let xml = self.signed_assertion();
        sign(&xml, &self.response_id, &signer("idp"), &SigOpts::default())
    }

    /// Only the Response signed.
    pub fn signed_response(&self) -> String {
        sign(
            &self.response(),
            &self.response_id,
            &signer("idp"),
            &SigOpts::default(),
        )
    }
}

/// How to sign.
#[derive(Debug, Clone)]
pub struct SigOpts {
    pub signature_method: String,
    pub digest_method: String,
    /// Certificates to put in `KeyInfo` (none: no KeyInfo).
    pub key_info_certs: Vec<Vec<u8>>,
    /// Override the Reference URI (default `#` + id).
    pub reference_uri: Option<String>,
    /// Extra XML inserted at the end of SignedInfo (before signing: it is signed).
    pub signed_info_extra: String,
    /// Transforms XML override.
    pub transforms: Option<String>,
}

impl Default for SigOpts {
    fn default() -> Self {
        Self {
            signature_method: RSA_SHA256.into(),
            digest_method: SHA256.into(),
            key_info_certs: vec![cert("idp")],
            reference_uri: None,
            signed_info_extra: String::new(),
            transforms: None,
        }
    }
}

pub fn hash(uri: &str, data: &[u8]) -> Vec<u8> {
    match uri {
        SHA1 | RSA_SHA1 => sha1::Sha1::digest(data).to_vec(),
        "http://www.w3.org/2001/04/xmldsig-more#sha384" | ECDSA_SHA384 => {
            sha2::Sha384::digest(data).to_vec()
        }
        "http://www.w3.org/2001/04/xmlenc#sha512" | RSA_SHA512 => {
            sha2::Sha512::digest(data).to_vec()
        }
        _ => sha2::Sha256::digest(data).to_vec(),
    }
}

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// Finds the element with `ID="id"`: its byte range and the end of its first child
/// element (the Issuer) in `xml`.
fn locate(xml: &str, id: &str) -> (std::ops::Range<usize>, usize) {
    let doc = roxmltree::Document::parse(xml).unwrap();
    let el = doc
        .descendants()
        .find(|n| n.attribute("ID") == Some(id))
        .unwrap_or_else(|| panic!("no element with ID {id}"));
    let issuer_end = el.first_element_child().map(|c| c.range().end).unwrap();
    (el.range(), issuer_end)
}

fn canonical_of(xml: &str, id: &str, prefixes: &[&str]) -> Vec<u8> {
    let doc = roxmltree::Document::parse(xml).unwrap();
    let el = doc
        .descendants()
        .find(|n| n.attribute("ID") == Some(id))
        .unwrap();
    canonicalize(
        el,
        C14nOptions {
            max_output: 1 << 24,
            inclusive_prefixes: prefixes,
            ..C14nOptions::default()
        },
    )
    .unwrap()
}

/// The raw signature value over `data` (canonical SignedInfo).
pub fn raw_sign(signer: &Signer, method: &str, data: &[u8]) -> Vec<u8> {
    let hashed = hash(method, data);
    match signer {
        Signer::Rsa(k) => {
            let scheme = match method {
                RSA_SHA1 => rsa::Pkcs1v15Sign::new::<sha1::Sha1>(),
                RSA_SHA512 => rsa::Pkcs1v15Sign::new::<sha2::Sha512>(),
                _ => rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
            };
            k.sign(scheme, &hashed).unwrap()
        }
        Signer::P256(k) => {
            use p256::ecdsa::signature::hazmat::PrehashSigner;
            let s: p256::ecdsa::Signature = k.sign_prehash(&hashed).unwrap();
            s.to_bytes().to_vec()
        }
        Signer::P384(k) => {
            use p384::ecdsa::signature::hazmat::PrehashSigner;
            let s: p384::ecdsa::Signature = k.sign_prehash(&hashed).unwrap();
            s.to_bytes().to_vec()
        }
    }
}

/// The `ds:Signature` XML for the element `id` of `xml` (not yet inserted).
pub fn signature_xml(xml: &str, id: &str, signer: &Signer, o: &SigOpts) -> String {
    let prefixes: &[&str] = if o.transforms.is_none() { &["xs"] } else { &[] };
    let digest = hash(&o.digest_method, &canonical_of(xml, id, prefixes));
    let uri = o.reference_uri.clone().unwrap_or_else(|| format!("#{id}"));
    let transforms = o.transforms.clone().unwrap_or_else(|| {
        format!(
            r#"<ds:Transforms><ds:Transform Algorithm="{ENVELOPED}"/><ds:Transform Algorithm="{EXC_C14N}"><ec:InclusiveNamespaces xmlns:ec="{EXC_C14N}" PrefixList="xs"/></ds:Transform></ds:Transforms>"#
        )
    });
    let signed_info = format!(
        r#"<ds:SignedInfo><ds:CanonicalizationMethod Algorithm="{EXC_C14N}"/><ds:SignatureMethod Algorithm="{sm}"/><ds:Reference URI="{uri}">{transforms}<ds:DigestMethod Algorithm="{dm}"/><ds:DigestValue>{dv}</ds:DigestValue></ds:Reference>{extra}</ds:SignedInfo>"#,
        sm = o.signature_method,
        dm = o.digest_method,
        dv = b64(&digest),
        extra = o.signed_info_extra,
    );
    // Canonical SignedInfo as it will sit under ds:Signature.
    let wrapper = format!(r#"<ds:Signature xmlns:ds="{DS}">{signed_info}</ds:Signature>"#);
    let doc = roxmltree::Document::parse(&wrapper).unwrap();
    let si = doc.root_element().first_element_child().unwrap();
    let si_c14n = canonicalize(
        si,
        C14nOptions {
            max_output: 1 << 24,
            ..C14nOptions::default()
        },
    )
    .unwrap();
    let sig = raw_sign(signer, &o.signature_method, &si_c14n);
    let key_info = if o.key_info_certs.is_empty() {
        String::new()
    } else {
        let certs: String = o
            .key_info_certs
            .iter()
            .map(|c| format!("<ds:X509Certificate>{}</ds:X509Certificate>", b64(c)))
            .collect();
        format!("<ds:KeyInfo><ds:X509Data>{certs}</ds:X509Data></ds:KeyInfo>")
    };
    format!(
        r#"<ds:Signature xmlns:ds="{DS}">{signed_info}<ds:SignatureValue>{}</ds:SignatureValue>{key_info}</ds:Signature>"#,
        b64(&sig)
    )
}

/// Signs the element `id` of `xml`: the signature goes right after its Issuer.
pub fn sign(xml: &str, id: &str, signer: &Signer, o: &SigOpts) -> String {
    let sig = signature_xml(xml, id, signer, o);
    let (_, at) = locate(xml, id);
    format!("{}{}{}", &xml[..at], sig, &xml[at..])
}

/// The byte range of the element with `ID="id"`.
pub fn element_range(xml: &str, id: &str) -> std::ops::Range<usize> {
    locate(xml, id).0
}

/// A deterministic RNG for RSA-OAEP encryption in tests.
pub struct TestRng(pub u64);

impl rsa::rand_core::TryRng for TestRng {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(self.try_next_u64()? as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.0 = self.0.wrapping_add(1);
        let h = sha2::Sha256::digest(self.0.to_le_bytes());
        Ok(u64::from_le_bytes(h[..8].try_into().unwrap()))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            let v = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        Ok(())
    }
}

impl rsa::rand_core::TryCryptoRng for TestRng {}

/// Data encryption of a minted EncryptedAssertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataAlg {
    Aes128Cbc,
    Aes256Cbc,
    Aes128Gcm,
    Aes256Gcm,
}

/// Key transport of a minted EncryptedAssertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlg {
    /// rsa-oaep-mgf1p, SHA-1 digest.
    OaepMgf1p,
    /// xmlenc11 rsa-oaep, SHA-256 digest, MGF1-SHA256.
    Oaep11Sha256,
    /// RSA PKCS#1 v1.5 (refused by the verifier; the URI alone is written).
    Rsa15,
}

/// Replaces the assertion `id` of `xml` with an EncryptedAssertion for the SP
/// certificate `sp_cert` (the assertion text is encrypted as is).
pub fn encrypt(xml: &str, id: &str, sp_cert: &str, data: DataAlg, key: KeyAlg) -> String {
    use rsa::pkcs1::DecodeRsaPublicKey as _;
    let range = element_range(xml, id);
    let plain = &xml[range.clone()];
    let mut rng = TestRng(7);
    let key_len = match data {
        DataAlg::Aes128Cbc | DataAlg::Aes128Gcm => 16,
        _ => 32,
    };
    let mut sym = vec![0u8; key_len];
    rsa::rand_core::TryRng::try_fill_bytes(&mut rng, &mut sym).unwrap();
    let mut iv = vec![0u8; 16];
    rsa::rand_core::TryRng::try_fill_bytes(&mut rng, &mut iv).unwrap();
    let (data_uri, ciphertext) = match data {
        DataAlg::Aes128Cbc | DataAlg::Aes256Cbc => {
            use aes::cipher::{BlockEncryptMut, KeyIvInit};
            let mut buf = plain.as_bytes().to_vec();
            let pad = 16 - buf.len() % 16;
            buf.extend(std::iter::repeat_n(0xAAu8, pad - 1));
            buf.push(pad as u8);
            let n = buf.len();
            let ct = if key_len == 16 {
                cbc::Encryptor::<aes::Aes128>::new_from_slices(&sym, &iv)
                    .unwrap()
                    .encrypt_padded_mut::<aes::cipher::block_padding::NoPadding>(&mut buf, n)
                    .unwrap()
                    .to_vec()
            } else {
                cbc::Encryptor::<aes::Aes256>::new_from_slices(&sym, &iv)
                    .unwrap()
                    .encrypt_padded_mut::<aes::cipher::block_padding::NoPadding>(&mut buf, n)
                    .unwrap()
                    .to_vec()
            };
            let uri = if key_len == 16 {
                "http://www.w3.org/2001/04/xmlenc#aes128-cbc"
            } else {
                "http://www.w3.org/2001/04/xmlenc#aes256-cbc"
            };
            ([iv.clone(), ct].concat(), uri)
        }
        DataAlg::Aes128Gcm | DataAlg::Aes256Gcm => {
            use aes_gcm::aead::{Aead, KeyInit};
            let nonce = aes_gcm::Nonce::from_slice(&iv[..12]);
            let ct = if key_len == 16 {
                aes_gcm::Aes128Gcm::new_from_slice(&sym)
                    .unwrap()
                    .encrypt(nonce, plain.as_bytes())
                    .unwrap()
            } else {
                aes_gcm::Aes256Gcm::new_from_slice(&sym)
                    .unwrap()
                    .encrypt(nonce, plain.as_bytes())
                    .unwrap()
            };
            let uri = if key_len == 16 {
                "http://www.w3.org/2009/xmlenc11#aes128-gcm"
            } else {
                "http://www.w3.org/2009/xmlenc11#aes256-gcm"
            };
            ([iv[..12].to_vec(), ct].concat(), uri)
        }
    }
    .swap_into();
    // The SP public key from its certificate.
    let cert_der = pem_der(sp_cert);
    let (_, parsed) = x509_parser::parse_x509_certificate(&cert_der).unwrap();
    let public =
        rsa::PublicKey::from_pkcs1_der(&parsed.public_key().subject_public_key.data).unwrap();
    let (key_method, wrapped) = match key {
        KeyAlg::OaepMgf1p => (
            format!(
                r#"<xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"><ds:DigestMethod xmlns:ds="{DS}" Algorithm="{SHA1}"/></xenc:EncryptionMethod>"#
            ),
            public
                .encrypt(&mut rng, rsa::Oaep::<sha1::Sha1>::new(), &sym)
                .unwrap(),
        ),
        KeyAlg::Oaep11Sha256 => (
            format!(
                r#"<xenc:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#rsa-oaep"><ds:DigestMethod xmlns:ds="{DS}" Algorithm="{SHA256}"/><xenc11:MGF xmlns:xenc11="http://www.w3.org/2009/xmlenc11#" Algorithm="http://www.w3.org/2009/xmlenc11#mgf1sha256"/></xenc:EncryptionMethod>"#
            ),
            public
                .encrypt(&mut rng, rsa::Oaep::<sha2::Sha256>::new(), &sym)
                .unwrap(),
        ),
        KeyAlg::Rsa15 => (
            r#"<xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-1_5"/>"#
                .to_owned(),
            vec![0u8; 256],
        ),
    };
    let enc = format!(
        r#"<saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Type="http://www.w3.org/2001/04/xmlenc#Element"><xenc:EncryptionMethod Algorithm="{data_uri}"/><ds:KeyInfo xmlns:ds="{DS}"><xenc:EncryptedKey>{key_method}<xenc:CipherData><xenc:CipherValue>{wk}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo><xenc:CipherData><xenc:CipherValue>{ct}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></saml:EncryptedAssertion>"#,
        wk = b64(&wrapped),
        ct = b64(&ciphertext),
    );
    format!("{}{}{}", &xml[..range.start], enc, &xml[range.end..])
}

trait SwapInto {
    fn swap_into(self) -> (&'static str, Vec<u8>);
}

impl SwapInto for (Vec<u8>, &'static str) {
    fn swap_into(self) -> (&'static str, Vec<u8>) {
        (self.1, self.0)
    }
}

pub fn post(xml: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(xml)
}

/// The refusal code of verifying `xml` with `v` at `now`, or `"accepted"`.
pub fn outcome(v: &ResponseVerifier, xml: &str, now: i64) -> String {
    let verified = v.verify_xml(xml.as_bytes(), now);
    // The assertion is read from the verified node: a second parse of the digested
    // canonical bytes must give the same answer, refusal or identity.
    assert_eq!(
        verified,
        v.verify_xml_reparsed(xml.as_bytes(), now),
        "node read and reparsed read differ"
    );
    match verified {
        Ok(_) => "accepted".to_owned(),
        Err(e) => e.code().to_owned(),
    }
}
