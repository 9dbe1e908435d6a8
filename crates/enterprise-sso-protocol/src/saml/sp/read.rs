//! Reads an assertion that has been verified: the caller passes the root of a document
//! parsed from verified canonical bytes, never a node of the received document.
//!
//! Values are the full text of their element (every text node concatenated; comments
//! are gone after canonicalization, and processing instructions or child elements in a
//! value are refused), so `jane@acme.com<!---->.evil.com` is read whole or not at all.

use roxmltree::Node;

use super::parse::{self, children_named, elements, is, one_child, token_text, value_text, SAML};
use super::refusal::Refusal;

const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

/// A bearer `SubjectConfirmationData`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Bearer {
    pub recipient: Option<String>,
    pub not_on_or_after_ms: Option<i64>,
    pub not_before_ms: Option<i64>,
    pub in_response_to: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Conditions {
    pub not_before_ms: Option<i64>,
    pub not_on_or_after_ms: Option<i64>,
    /// One list of audiences per `AudienceRestriction` (each must name the SP).
    pub audience_restrictions: Vec<Vec<String>>,
}

#[derive(Debug, Clone)]
pub(crate) struct Authn {
    pub authn_instant_ms: i64,
    pub session_index: Option<String>,
    pub session_not_on_or_after_ms: Option<i64>,
}

#[derive(Debug, Clone)]
pub(crate) struct AssertionData {
    pub id: String,
    pub version: String,
    pub issuer: String,
    pub issue_instant_ms: i64,
    pub name_id: String,
    pub name_id_format: Option<String>,
    pub bearer: Vec<Bearer>,
    pub conditions: Conditions,
    pub authn: Option<Authn>,
    pub attributes: Vec<(String, Vec<String>)>,
}

fn time_attr(node: Node<'_, '_>, name: &str, field: &'static str) -> Result<Option<i64>, Refusal> {
    node.attribute(name)
        .map(|v| parse::parse_datetime(v).ok_or(Refusal::BadTime { field }))
        .transpose()
}

fn single<'a, 'i>(
    node: Node<'a, 'i>,
    local: &'static str,
) -> Result<Option<Node<'a, 'i>>, Refusal> {
    one_child(node, SAML, local).map_err(|_| Refusal::Malformed {
        reason: format!("the assertion has more than one {local}"),
    })
}

/// Reads the verified `saml:Assertion` element `a`.
pub(crate) fn read_assertion(a: Node<'_, '_>) -> Result<AssertionData, Refusal> {
    if !is(&a, SAML, "Assertion") {
        return Err(Refusal::Missing { what: "Assertion" });
    }
    let id = a
        .attribute("ID")
        .filter(|s| !s.is_empty())
        .ok_or(Refusal::Missing { what: "ID" })?
        .to_owned();
    let version = a.attribute("Version").unwrap_or_default().to_owned();
    let issue_instant_ms =
        time_attr(a, "IssueInstant", "Assertion IssueInstant")?.ok_or(Refusal::Missing {
            what: "IssueInstant",
        })?;
    let issuer = match elements(a).next() {
        Some(i) if is(&i, SAML, "Issuer") => token_text(i, "Issuer")?,
        _ => String::new(),
    };

    // Subject: one NameID, bearer confirmations.
    let subject = single(a, "Subject")?.ok_or(Refusal::Missing { what: "Subject" })?;
    if children_named(subject, SAML, "EncryptedID")
        .next()
        .is_some()
    {
        return Err(Refusal::Unsupported {
            what: "an EncryptedID",
        });
    }
    let name_id_node = one_child(subject, SAML, "NameID")
        .map_err(|_| Refusal::Malformed {
            reason: "the Subject has more than one NameID".to_owned(),
        })?
        .ok_or(Refusal::Missing { what: "NameID" })?;
    let name_id = token_text(name_id_node, "NameID")?;
    if name_id.is_empty() {
        return Err(Refusal::Missing { what: "NameID" });
    }
    let name_id_format = name_id_node.attribute("Format").map(str::to_owned);
    let mut bearer = Vec::new();
    for sc in children_named(subject, SAML, "SubjectConfirmation") {
        if sc.attribute("Method") != Some(BEARER) {
            continue;
        }
        let mut data = children_named(sc, SAML, "SubjectConfirmationData");
        let Some(scd) = data.next() else {
            bearer.push(Bearer::default());
            continue;
        };
        if data.next().is_some() {
            return Err(Refusal::Malformed {
                reason: "a SubjectConfirmation has more than one SubjectConfirmationData"
                    .to_owned(),
            });
        }
        bearer.push(Bearer {
            recipient: scd.attribute("Recipient").map(str::to_owned),
            not_on_or_after_ms: time_attr(
                scd,
                "NotOnOrAfter",
                "SubjectConfirmationData NotOnOrAfter",
            )?,
            not_before_ms: time_attr(scd, "NotBefore", "SubjectConfirmationData NotBefore")?,
            in_response_to: scd.attribute("InResponseTo").map(str::to_owned),
        });
    }

    // Conditions.
    let cond = single(a, "Conditions")?.ok_or(Refusal::Missing { what: "Conditions" })?;
    let mut conditions = Conditions {
        not_before_ms: time_attr(cond, "NotBefore", "Conditions NotBefore")?,
        not_on_or_after_ms: time_attr(cond, "NotOnOrAfter", "Conditions NotOnOrAfter")?,
        audience_restrictions: Vec::new(),
    };
    for ar in children_named(cond, SAML, "AudienceRestriction") {
        let audiences = children_named(ar, SAML, "Audience")
            .map(|au| token_text(au, "Audience"))
            .collect::<Result<Vec<_>, _>>()?;
        conditions.audience_restrictions.push(audiences);
    }

    // AuthnStatement (the first one is read).
    let authn = match children_named(a, SAML, "AuthnStatement").next() {
        None => None,
        Some(st) => Some(Authn {
            authn_instant_ms: time_attr(st, "AuthnInstant", "AuthnInstant")?.ok_or(
                Refusal::Missing {
                    what: "AuthnInstant",
                },
            )?,
            session_index: st.attribute("SessionIndex").map(str::to_owned),
            session_not_on_or_after_ms: time_attr(
                st,
                "SessionNotOnOrAfter",
                "AuthnStatement SessionNotOnOrAfter",
            )?,
        }),
    };

    // Attributes, merged by Name.
    let mut attributes: Vec<(String, Vec<String>)> = Vec::new();
    for st in children_named(a, SAML, "AttributeStatement") {
        if children_named(st, SAML, "EncryptedAttribute")
            .next()
            .is_some()
        {
            return Err(Refusal::Unsupported {
                what: "an EncryptedAttribute",
            });
        }
        for attr in children_named(st, SAML, "Attribute") {
            let name = attr.attribute("Name").unwrap_or_default();
            let values = children_named(attr, SAML, "AttributeValue")
                .map(|v| value_text(v, "AttributeValue"))
                .collect::<Result<Vec<_>, _>>()?;
            match attributes.iter_mut().find(|(n, _)| n == name) {
                Some((_, existing)) => existing.extend(values),
                None => attributes.push((name.to_owned(), values)),
            }
        }
    }
    Ok(AssertionData {
        id,
        version,
        issuer,
        issue_instant_ms,
        name_id,
        name_id_format,
        bearer,
        conditions,
        authn,
        attributes,
    })
}
