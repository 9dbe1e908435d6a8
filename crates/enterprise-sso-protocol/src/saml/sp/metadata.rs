//! SP metadata (SAML metadata §2.4.4): what the host publishes at the connection's
//! `sp_metadata_url` for the IdP admin to import.

use base64::Engine;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

use super::authn_request::AuthnRequestError;
use super::config::ServiceProvider;

const MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
const DS: &str = "http://www.w3.org/2000/09/xmldsig#";
const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
/// The NameID formats the SP accepts, in order of preference.
pub const NAME_ID_FORMATS: &[&str] = &[
    "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
    "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
];

/// The SP metadata XML: an `EntityDescriptor` with one `SPSSODescriptor`
/// (`WantAssertionsSigned="true"`, `AuthnRequestsSigned` as given), a signing and an
/// encryption `KeyDescriptor` for each SP key pair (several during a rotation), the
/// NameID formats and the HTTP-POST Assertion Consumer Service at the ACS URL.
pub fn sp_metadata_xml(
    sp: &ServiceProvider,
    authn_requests_signed: bool,
) -> Result<String, AuthnRequestError> {
    for (v, what) in [(&sp.entity_id, "SP entity id"), (&sp.acs_url, "ACS URL")] {
        if v.chars().any(char::is_control) {
            return Err(AuthnRequestError::ControlCharacters(what));
        }
    }
    let mut events: Vec<Event<'_>> = Vec::new();
    events.push(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
    let mut entity = BytesStart::new("md:EntityDescriptor");
    entity.push_attribute(("xmlns:md", MD));
    entity.push_attribute(("xmlns:ds", DS));
    entity.push_attribute(("entityID", sp.entity_id.as_str()));
    events.push(Event::Start(entity));
    let mut sso = BytesStart::new("md:SPSSODescriptor");
    sso.push_attribute((
        "AuthnRequestsSigned",
        if authn_requests_signed {
            "true"
        } else {
            "false"
        },
    ));
    sso.push_attribute(("WantAssertionsSigned", "true"));
    sso.push_attribute(("protocolSupportEnumeration", PROTOCOL));
    events.push(Event::Start(sso));
    let certs: Vec<String> = sp
        .keys
        .iter()
        .map(|k| base64::engine::general_purpose::STANDARD.encode(&k.certificate_der))
        .collect();
    for usage in ["signing", "encryption"] {
        for cert in &certs {
            let mut kd = BytesStart::new("md:KeyDescriptor");
            kd.push_attribute(("use", usage));
            events.push(Event::Start(kd));
            events.push(Event::Start(BytesStart::new("ds:KeyInfo")));
            events.push(Event::Start(BytesStart::new("ds:X509Data")));
            events.push(Event::Start(BytesStart::new("ds:X509Certificate")));
            events.push(Event::Text(BytesText::new(cert)));
            events.push(Event::End(BytesEnd::new("ds:X509Certificate")));
            events.push(Event::End(BytesEnd::new("ds:X509Data")));
            events.push(Event::End(BytesEnd::new("ds:KeyInfo")));
            events.push(Event::End(BytesEnd::new("md:KeyDescriptor")));
        }
    }
    for format in NAME_ID_FORMATS {
        events.push(Event::Start(BytesStart::new("md:NameIDFormat")));
        events.push(Event::Text(BytesText::new(format)));
        events.push(Event::End(BytesEnd::new("md:NameIDFormat")));
    }
    let mut acs = BytesStart::new("md:AssertionConsumerService");
    acs.push_attribute(("Binding", BINDING_POST));
    acs.push_attribute(("Location", sp.acs_url.as_str()));
    acs.push_attribute(("index", "0"));
    acs.push_attribute(("isDefault", "true"));
    events.push(Event::Empty(acs));
    events.push(Event::End(BytesEnd::new("md:SPSSODescriptor")));
    events.push(Event::End(BytesEnd::new("md:EntityDescriptor")));

    let mut w = quick_xml::Writer::new_with_indent(Vec::new(), b' ', 2);
    for e in events {
        w.write_event(e).map_err(|_| AuthnRequestError::Signing)?;
    }
    String::from_utf8(w.into_inner()).map_err(|_| AuthnRequestError::Signing)
}
