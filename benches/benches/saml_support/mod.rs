//! Shared by the `saml_verify` bench and the `saml_growth` test: the samlify response
//! that Ory Polis verifies beside us (`benches/polis/saml-response.xml`), responses of any
//! size minted with the same IdP key (`idp/keys/idp-key.pem`), and the inputs of the
//! crypto floor (canonical bytes, canonical `SignedInfo`, signature values) taken out of a
//! signed response.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use base64::Engine as _;
use enterprise_sso_protocol::saml::parse_certificates;
use enterprise_sso_protocol::saml::sp::{
    format_datetime, parse_datetime, IdentityProvider, ResponseVerifier, ServiceProvider,
};
use enterprise_sso_protocol::xml::c14n::{canonicalize, C14nOptions};
use sha2::Digest as _;

/// Polis's SP endpoints as `benches/polis/saml.mjs` configures them (audience =
/// `samlAudience`, ACS = `externalUrl` + `samlPath`), and the samlify IdP.
pub const SP_ENTITY: &str = "https://saml.example.com";
pub const ACS: &str = "https://sso.example.com/api/oauth/saml";
pub const IDP_ENTITY: &str = "http://127.0.0.1:7000/idp";
pub const REQUEST_ID: &str = "_polis_bench_request_0001";

/// The samlify response both sides verify (minted by `benches/polis/saml.sh --mint`).
pub const POLIS_RESPONSE: &str = include_str!("../../polis/saml-response.xml");
const IDP_CERT: &str = include_str!("../../../idp/keys/idp-cert.pem");
const IDP_KEY: &str = include_str!("../../../idp/keys/idp-key.pem");

/// The clock of minted responses: 2026-06-01T12:00:00Z.
pub const NOW: i64 = 1_780_315_200_000;

const DS: &str = "http://www.w3.org/2000/09/xmldsig#";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";

pub fn idp_cert_der() -> Vec<u8> {
    parse_certificates(IDP_CERT).unwrap().remove(0).der
}

pub fn idp_key() -> rsa::PrivateKey {
    use rsa::pkcs8::DecodePrivateKey as _;
    rsa::PrivateKey::from_pkcs8_pem(IDP_KEY).unwrap()
}

/// PKCS#1 `RSAPublicKey` DER of the IdP key (what ring and aws-lc-rs take).
pub fn idp_public_pkcs1() -> Vec<u8> {
    use rsa::pkcs1::EncodeRsaPublicKey as _;
    idp_key()
        .to_public_key()
        .to_pkcs1_der()
        .unwrap()
        .as_bytes()
        .to_vec()
}

pub fn verifier() -> ResponseVerifier {
    ResponseVerifier::new(
        ServiceProvider::new(SP_ENTITY, ACS),
        IdentityProvider::new(IDP_ENTITY, vec![idp_cert_der()]),
    )
}

/// One minute after the response's `IssueInstant`: the instant both sides verify at.
pub fn verify_time(xml: &str) -> i64 {
    let doc = roxmltree::Document::parse(xml).unwrap();
    parse_datetime(doc.root_element().attribute("IssueInstant").unwrap()).unwrap() + 60_000
}

pub fn b64(data: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn attribute(name: &str, friendly: &str, values: &[String]) -> String {
    let values: String = values
        .iter()
        .map(|v| {
            format!(
                r#"<saml:AttributeValue xsi:type="xs:string">{}</saml:AttributeValue>"#,
                esc(v)
            )
        })
        .collect();
    format!(
        r#"<saml:Attribute Name="{name}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri" FriendlyName="{friendly}">{values}</saml:Attribute>"#
    )
}

/// A response of samlify's shape (no white space, Response and Assertion signed with
/// rsa-sha256 / sha256 / exclusive c14n, the IdP certificate in each `KeyInfo`) whose
/// `memberOf` attribute has `groups` values; identity `jane@acme.com`, clock [`NOW`].
pub fn mint(groups: usize) -> String {
    let t = format_datetime;
    let later = t(NOW + 300_000);
    let (rid, aid) = ("_bench_response_0001", "_bench_assertion_0001");
    let groups: Vec<String> = (0..groups)
        .map(|i| format!("cn=app-{i:05}-users,ou=groups,dc=acme,dc=com"))
        .collect();
    let attributes = [
        attribute(
            "urn:oid:0.9.2342.19200300.100.1.3",
            "mail",
            &["jane@acme.com".into()],
        ),
        attribute("urn:oid:2.5.4.42", "givenName", &["Jane".into()]),
        attribute("urn:oid:2.5.4.4", "sn", &["Doe".into()]),
        attribute(
            "urn:oid:2.16.840.1.113730.3.1.241",
            "displayName",
            &["Jane Doe".into()],
        ),
        attribute("urn:oid:1.2.840.113556.1.2.102", "memberOf", &groups),
    ]
    .concat();
    let assertion = format!(
        r#"<saml:Assertion xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{aid}" Version="2.0" IssueInstant="{now}"><saml:Issuer>{IDP_ENTITY}</saml:Issuer><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">jane@acme.com</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{later}" Recipient="{ACS}" InResponseTo="{REQUEST_ID}"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{now}" NotOnOrAfter="{later}"><saml:AudienceRestriction><saml:Audience>{SP_ENTITY}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="{now}" SessionIndex="{aid}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement>{attributes}</saml:AttributeStatement></saml:Assertion>"#,
        now = t(NOW),
    );
    let response = format!(
        r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{rid}" Version="2.0" IssueInstant="{now}" Destination="{ACS}" InResponseTo="{REQUEST_ID}"><saml:Issuer>{IDP_ENTITY}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>{assertion}</samlp:Response>"#,
        now = t(NOW),
    );
    let key = idp_key();
    let cert = b64(idp_cert_der());
    let signed = sign(&response, aid, &key, &cert);
    sign(&signed, rid, &key, &cert)
}

/// A response of about `bytes` bytes: [`mint`] with as many `memberOf` values as fit.
pub fn mint_sized(bytes: usize) -> String {
    let base = mint(0).len();
    // One value is 99 bytes of XML ("cn=app-NNNNN-users,..." in its AttributeValue).
    let per = mint(1).len() - base;
    mint(bytes.saturating_sub(base) / per)
}

fn sha256(data: &[u8]) -> Vec<u8> {
    sha2::Sha256::digest(data).to_vec()
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
    .unwrap()
}

/// Signs the element `ID="id"` of `xml` (enveloped, exclusive c14n, rsa-sha256); the
/// signature goes right after its `Issuer`.
fn sign(xml: &str, id: &str, key: &rsa::PrivateKey, cert_b64: &str) -> String {
    let doc = roxmltree::Document::parse(xml).unwrap();
    let el = doc
        .descendants()
        .find(|n| n.attribute("ID") == Some(id))
        .unwrap();
    let at = el.first_element_child().unwrap().range().end;
    let digest = b64(sha256(&c14n(el, None)));
    let signed_info = format!(
        r##"<ds:SignedInfo><ds:CanonicalizationMethod Algorithm="{EXC_C14N}"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#{id}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="{EXC_C14N}"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>{digest}</ds:DigestValue></ds:Reference></ds:SignedInfo>"##
    );
    let wrapper = format!(r#"<ds:Signature xmlns:ds="{DS}">{signed_info}</ds:Signature>"#);
    let wdoc = roxmltree::Document::parse(&wrapper).unwrap();
    let si = c14n(wdoc.root_element().first_element_child().unwrap(), None);
    let sig = key
        .sign(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), &sha256(&si))
        .unwrap();
    let signature = format!(
        r#"<ds:Signature xmlns:ds="{DS}">{signed_info}<ds:SignatureValue>{}</ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert_b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>"#,
        b64(sig)
    );
    format!("{}{}{}", &xml[..at], signature, &xml[at..])
}

/// What the crypto of one enveloped signature needs: the canonical bytes its Reference
/// digests (the signed element without the signature), the canonical `SignedInfo` the
/// RSA signature covers, and the signature value.
#[derive(Debug, Clone)]
pub struct SignatureWork {
    pub canonical: Vec<u8>,
    pub digest: Vec<u8>,
    pub signed_info: Vec<u8>,
    pub signature: Vec<u8>,
}

/// The Response's and the Assertion's signature work of a signed response (each checked:
/// the digest matches, so these are exactly the bytes a verifier digests).
pub fn signature_work(xml: &str) -> Vec<SignatureWork> {
    let doc = roxmltree::Document::parse(xml).unwrap();
    let ds = |n: &roxmltree::Node<'_, '_>, name: &str| {
        n.is_element() && n.tag_name().namespace() == Some(DS) && n.tag_name().name() == name
    };
    let root = doc.root_element();
    let assertion = root
        .children()
        .find(|n| n.tag_name().name() == "Assertion")
        .unwrap();
    [root, assertion]
        .into_iter()
        .map(|el| {
            let sig = el.children().find(|n| ds(n, "Signature")).unwrap();
            let part = |name: &str| sig.descendants().find(|n| ds(n, name)).unwrap();
            let text = |name: &str| {
                let t: String = part(name)
                    .text()
                    .unwrap()
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect();
                base64::engine::general_purpose::STANDARD.decode(t).unwrap()
            };
            let w = SignatureWork {
                canonical: c14n(el, Some(sig.id())),
                digest: text("DigestValue"),
                signed_info: c14n(part("SignedInfo"), None),
                signature: text("SignatureValue"),
            };
            assert_eq!(sha256(&w.canonical), w.digest, "canonical bytes mismatch");
            w
        })
        .collect()
}
