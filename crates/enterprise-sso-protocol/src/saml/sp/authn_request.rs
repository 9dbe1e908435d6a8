//! AuthnRequest for the HTTP-Redirect binding (SAML bindings §3.4).
//!
//! The XML is written with `quick-xml` (every value escaped, never templated), compressed
//! with raw DEFLATE, base64-encoded and URL-encoded into the IdP's SSO URL, whose own
//! query is kept. With signing, `SigAlg` is rsa-sha256 and `Signature` covers
//! `SAMLRequest=…&RelayState=…&SigAlg=…` exactly as those encoded values appear in the
//! URL (§3.4.4.1).

use std::io::{Read, Write};

use base64::Engine;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use sha2::Digest as _;

use super::config::ServiceProvider;
use super::parse::format_datetime;
use super::refusal::Refusal;

/// Longest `RelayState`, in bytes (SAML bindings §3.4.3).
pub const MAX_RELAY_STATE_BYTES: usize = 80;
/// Fewest random bytes for a request ID (128 bits).
pub const MIN_ID_RANDOM_BYTES: usize = 16;
/// The rsa-sha256 signature algorithm URI (`SigAlg`).
pub const SIG_ALG_RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

const SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";

/// Why an AuthnRequest could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthnRequestError {
    /// Fewer random bytes than [`MIN_ID_RANDOM_BYTES`].
    #[error("the request ID needs at least {min} random bytes, {received} given")]
    NotEnoughRandom {
        /// The minimum.
        min: usize,
        /// How many were given.
        received: usize,
    },
    /// `RelayState` longer than [`MAX_RELAY_STATE_BYTES`].
    #[error("RelayState is {received} bytes; the SAML bindings allow at most {max}")]
    RelayStateTooLong {
        /// The limit.
        max: usize,
        /// Its length.
        received: usize,
    },
    /// The IdP SSO URL is not an absolute http(s) URL.
    #[error("the IdP SSO URL is not an absolute http(s) URL")]
    BadSsoUrl,
    /// The IdP SSO URL's query already holds a SAML binding parameter.
    #[error("the IdP SSO URL's query already holds the parameter {0}")]
    SsoUrlHasSamlParameter(&'static str),
    /// A value (entity id, URL) holds control characters.
    #[error("the {0} holds control characters")]
    ControlCharacters(&'static str),
    /// Signing was asked for and the SP has no key pair.
    #[error("signed requests need an SP key pair, and none is configured")]
    NoSigningKey,
    /// The signing operation failed.
    #[error("the request could not be signed")]
    Signing,
}

/// What to ask of the IdP.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuthnRequestOptions<'a> {
    /// `ForceAuthn="true"`: the IdP must authenticate the user again (check the
    /// assertion's `AuthnInstant`, since IdPs may ignore it).
    pub force_authn: bool,
    /// An opaque `RelayState` (at most [`MAX_RELAY_STATE_BYTES`]).
    pub relay_state: Option<&'a str>,
    /// Sign the request with the SP's first key pair (rsa-sha256).
    pub sign: bool,
}

/// An AuthnRequest ready to send by redirect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectRequest {
    /// The request `ID`: store it as the pending request, to take exactly once.
    pub request_id: String,
    /// The `IssueInstant`, Unix ms (whole seconds).
    pub issue_instant_ms: i64,
    /// The URL to redirect the browser to.
    pub url: String,
    /// The AuthnRequest XML (for logs and tests; it holds no secret).
    pub xml: String,
}

fn no_controls(value: &str, what: &'static str) -> Result<(), AuthnRequestError> {
    if value.chars().any(char::is_control) {
        return Err(AuthnRequestError::ControlCharacters(what));
    }
    Ok(())
}

/// A request ID from caller-supplied random bytes: `_` + lowercase hex (the leading
/// underscore keeps it an `xs:ID`).
pub fn request_id(random: &[u8]) -> Result<String, AuthnRequestError> {
    if random.len() < MIN_ID_RANDOM_BYTES {
        return Err(AuthnRequestError::NotEnoughRandom {
            min: MIN_ID_RANDOM_BYTES,
            received: random.len(),
        });
    }
    let mut id = String::with_capacity(1 + random.len() * 2);
    id.push('_');
    for b in random {
        id.push_str(&format!("{b:02x}"));
    }
    Ok(id)
}

/// The AuthnRequest XML.
pub fn authn_request_xml(
    sp: &ServiceProvider,
    destination: &str,
    id: &str,
    now_ms: i64,
    force_authn: bool,
) -> Result<String, AuthnRequestError> {
    no_controls(&sp.entity_id, "SP entity id")?;
    no_controls(&sp.acs_url, "ACS URL")?;
    no_controls(destination, "IdP SSO URL")?;
    no_controls(id, "request ID")?;
    let instant = format_datetime(now_ms);
    let mut w = quick_xml::Writer::new(Vec::new());
    let mut start = BytesStart::new("samlp:AuthnRequest");
    start.push_attribute(("xmlns:samlp", SAMLP));
    start.push_attribute(("xmlns:saml", SAML));
    start.push_attribute(("ID", id));
    start.push_attribute(("Version", "2.0"));
    start.push_attribute(("IssueInstant", instant.as_str()));
    start.push_attribute(("Destination", destination));
    start.push_attribute(("AssertionConsumerServiceURL", sp.acs_url.as_str()));
    start.push_attribute(("ProtocolBinding", BINDING_POST));
    if force_authn {
        start.push_attribute(("ForceAuthn", "true"));
    }
    let mut policy = BytesStart::new("samlp:NameIDPolicy");
    policy.push_attribute(("AllowCreate", "true"));
    let events = [
        Event::Start(start),
        Event::Start(BytesStart::new("saml:Issuer")),
        Event::Text(BytesText::new(&sp.entity_id)),
        Event::End(BytesEnd::new("saml:Issuer")),
        Event::Empty(policy),
        Event::End(BytesEnd::new("samlp:AuthnRequest")),
    ];
    for e in events {
        w.write_event(e).map_err(|_| AuthnRequestError::Signing)?;
    }
    String::from_utf8(w.into_inner()).map_err(|_| AuthnRequestError::Signing)
}

fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Builds an AuthnRequest and the redirect URL to the IdP's SSO service.
///
/// `random` must hold at least [`MIN_ID_RANDOM_BYTES`] bytes from a CSPRNG; the request
/// ID is derived from them.
pub fn redirect_request(
    sp: &ServiceProvider,
    idp_sso_url: &str,
    random: &[u8],
    now_ms: i64,
    options: AuthnRequestOptions<'_>,
) -> Result<RedirectRequest, AuthnRequestError> {
    let id = request_id(random)?;
    if let Some(rs) = options.relay_state {
        if rs.len() > MAX_RELAY_STATE_BYTES {
            return Err(AuthnRequestError::RelayStateTooLong {
                max: MAX_RELAY_STATE_BYTES,
                received: rs.len(),
            });
        }
    }
    let mut url = url::Url::parse(idp_sso_url).map_err(|_| AuthnRequestError::BadSsoUrl)?;
    if !matches!(url.scheme(), "https" | "http") || url.cannot_be_a_base() {
        return Err(AuthnRequestError::BadSsoUrl);
    }
    url.set_fragment(None);
    for (k, _) in url.query_pairs() {
        for p in [
            "SAMLRequest",
            "SAMLResponse",
            "RelayState",
            "SigAlg",
            "Signature",
        ] {
            if k == p {
                return Err(AuthnRequestError::SsoUrlHasSamlParameter(p));
            }
        }
    }
    let xml = authn_request_xml(sp, idp_sso_url, &id, now_ms, options.force_authn)?;
    let mut deflater =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    deflater
        .write_all(xml.as_bytes())
        .map_err(|_| AuthnRequestError::Signing)?;
    let deflated = deflater.finish().map_err(|_| AuthnRequestError::Signing)?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(deflated);

    let mut signed_part = format!("SAMLRequest={}", encode(&b64));
    if let Some(rs) = options.relay_state {
        signed_part.push_str("&RelayState=");
        signed_part.push_str(&encode(rs));
    }
    let mut query = signed_part.clone();
    if options.sign {
        let key = sp.keys.first().ok_or(AuthnRequestError::NoSigningKey)?;
        signed_part.push_str("&SigAlg=");
        signed_part.push_str(&encode(SIG_ALG_RSA_SHA256));
        let hashed = sha2::Sha256::digest(signed_part.as_bytes());
        let signature = key
            .private_key
            .0
            .sign(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), &hashed)
            .map_err(|_| AuthnRequestError::Signing)?;
        query = signed_part;
        query.push_str("&Signature=");
        query.push_str(&encode(
            &base64::engine::general_purpose::STANDARD.encode(signature),
        ));
    }
    let full_query = match url.query().filter(|q| !q.is_empty()) {
        Some(existing) => format!("{existing}&{query}"),
        None => query,
    };
    url.set_query(Some(&full_query));
    Ok(RedirectRequest {
        request_id: id,
        issue_instant_ms: now_ms.max(0) / 1000 * 1000,
        url: url.into(),
        xml,
    })
}

/// Decodes a Redirect-binding parameter (`SAMLRequest`/`SAMLResponse` after URL
/// decoding): base64, then raw DEFLATE with the output capped at `max_output` bytes, so
/// that a deflate bomb is refused after reading at most `max_output + 1` bytes.
pub fn inflate_redirect_param(value: &str, max_output: usize) -> Result<Vec<u8>, Refusal> {
    let compressed = super::parse::decode_base64_param(value)?;
    let limit = u64::try_from(max_output)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(compressed.as_slice())
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|_| Refusal::NotDeflate)?;
    if out.len() > max_output {
        return Err(Refusal::TooLarge {
            what: "inflated SAML message",
            limit: max_output,
            received: out.len(),
        });
    }
    Ok(out)
}
