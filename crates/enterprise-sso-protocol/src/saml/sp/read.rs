//! Reads an assertion that has been verified, through a [`Verified`] handle only: the
//! element node whose canonical form a checked digest covers, and the one node that form
//! left out (the enveloped `ds:Signature`).
//!
//! # Why reading the node is reading the digested bytes
//!
//! The assertion is read from the same `roxmltree` node the signature's `Reference`
//! resolved to and the canonicalizer walked, not from a second parse of the canonical
//! bytes. The two read the same values, because the canonical form
//! ([`crate::xml::c14n`]) writes out every piece of the subtree this reader looks at, and
//! the reader looks at nothing the canonical form leaves out:
//!
//! - what the reader consumes: element names as namespace URI and local name, unprefixed
//!   attribute values, and the text of value elements;
//! - element names: the canonical form writes each element's prefix with a declaration
//!   of the URI this parse resolved it to (or relies on an output ancestor that declared
//!   the same URI), so a parse of the canonical bytes resolves every name to the same
//!   URI; attributes likewise, and their values are written from the normalized values
//!   read here, escaped so that a parse gives them back unchanged (`&#x9;`, `&#xA;`,
//!   `&#xD;`);
//! - text: written from the parsed text (entities and CDATA resolved), escaped, so a
//!   parse gives the same characters; line breaks were normalized before the first parse;
//! - what the canonical form leaves out: comments, which the value readers skip while
//!   concatenating every text node ([`parse::value_text`]: `jane@acme.com<!---->.evil.com`
//!   reads as `jane@acme.com.evil.com` from the node exactly as from the canonical bytes,
//!   where the two text nodes have become one), and the excluded signature, a
//!   `ds:Signature` child of the signed element that [`Verified::children`] never yields
//!   (and no reader looks into the `ds` namespace);
//! - what would be ambiguous is refused, not interpreted: a processing instruction or an
//!   element inside a value (kept by the canonical form, refused by the reader), a second
//!   `NameID`, `Subject`, `Conditions` or `SubjectConfirmationData`.
//!
//! A [`Verified`] is made only by [`super::signature::verify`] after the digest and the
//! signature check (or from the verified Response for its one direct Assertion child),
//! and it cannot be made from a node of another document. The tests hold the equivalence
//! to the old design: `verify_xml_reparsed` (feature `testing`) reads every assertion
//! from a second parse of its canonical bytes instead, and the corpus, the attack tests
//! and the mutation property test require both to give the same answer.
//!
//! Values are the full text of their element (every text node concatenated; comments
//! never cut a value short, and processing instructions or child elements in a value are
//! refused), so `jane@acme.com<!---->.evil.com` is read whole or not at all.

use roxmltree::{Node, NodeId};

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

/// An element whose canonical form, without [`excluded`](Self::excluded), a verified
/// digest covers: the only way the assertion reader gets a node.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Verified<'a, 'i> {
    node: Node<'a, 'i>,
    excluded: Option<NodeId>,
    /// The `InclusiveNamespaces PrefixList` the digest's canonical form used.
    prefix_list: &'a str,
}

impl<'a, 'i> Verified<'a, 'i> {
    /// For [`super::signature::verify`] once it has checked the digest of `node`'s
    /// canonical form without `excluded` (a child of `node`), and for an element read
    /// from bytes the caller verified as a whole (a decrypted assertion).
    pub(super) fn new(
        node: Node<'a, 'i>,
        excluded: Option<Node<'a, 'i>>,
        prefix_list: &'a str,
    ) -> Self {
        Self {
            node,
            excluded: excluded.map(|n| n.id()),
            prefix_list,
        }
    }

    /// The `InclusiveNamespaces PrefixList` of the digested canonical form.
    pub(super) fn prefix_list(&self) -> &'a str {
        self.prefix_list
    }

    /// The node left out of the canonical form.
    pub(super) fn excluded(&self) -> Option<NodeId> {
        self.excluded
    }

    /// The verified element.
    pub(super) fn node(&self) -> Node<'a, 'i> {
        self.node
    }

    /// The element children of the verified element, the excluded one left out.
    pub(super) fn children(&self) -> impl Iterator<Item = Node<'a, 'i>> + '_ {
        elements(self.node).filter(|n| Some(n.id()) != self.excluded)
    }

    /// The element child `child` of the verified element, itself verified (the digest
    /// covers the whole subtree); `None` for anything else, the excluded node included.
    pub(super) fn child(&self, child: Node<'a, 'i>) -> Option<Self> {
        let is_child = child.is_element()
            && child.parent().map(|p| p.id()) == Some(self.node.id())
            && Some(child.id()) != self.excluded;
        is_child.then_some(Self {
            node: child,
            excluded: None,
            prefix_list: "",
        })
    }
}

fn time_attr(node: Node<'_, '_>, name: &str, field: &'static str) -> Result<Option<i64>, Refusal> {
    node.attribute(name)
        .map(|v| parse::parse_datetime(v).ok_or(Refusal::BadTime { field }))
        .transpose()
}

fn single<'a, 'i>(
    verified: &Verified<'a, 'i>,
    local: &'static str,
) -> Result<Option<Node<'a, 'i>>, Refusal> {
    let mut it = verified.children().filter(|n| is(n, SAML, local));
    match (it.next(), it.next()) {
        (first, None) => Ok(first),
        (_, Some(_)) => Err(Refusal::Malformed {
            reason: format!("the assertion has more than one {local}"),
        }),
    }
}

/// Reads the verified `saml:Assertion` element.
pub(crate) fn read_assertion(verified: Verified<'_, '_>) -> Result<AssertionData, Refusal> {
    let a = verified.node();
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
    let issuer = match verified.children().next() {
        Some(i) if is(&i, SAML, "Issuer") => token_text(i, "Issuer")?.into_owned(),
        _ => String::new(),
    };

    // Subject: one NameID, bearer confirmations.
    let subject = single(&verified, "Subject")?.ok_or(Refusal::Missing { what: "Subject" })?;
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
    let name_id = token_text(name_id_node, "NameID")?.into_owned();
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
    let cond = single(&verified, "Conditions")?.ok_or(Refusal::Missing { what: "Conditions" })?;
    let mut conditions = Conditions {
        not_before_ms: time_attr(cond, "NotBefore", "Conditions NotBefore")?,
        not_on_or_after_ms: time_attr(cond, "NotOnOrAfter", "Conditions NotOnOrAfter")?,
        audience_restrictions: Vec::new(),
    };
    for ar in children_named(cond, SAML, "AudienceRestriction") {
        let audiences = children_named(ar, SAML, "Audience")
            .map(|au| token_text(au, "Audience").map(std::borrow::Cow::into_owned))
            .collect::<Result<Vec<_>, _>>()?;
        conditions.audience_restrictions.push(audiences);
    }

    // AuthnStatement (the first one is read).
    let authn = match verified.children().find(|n| is(n, SAML, "AuthnStatement")) {
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
    for st in verified
        .children()
        .filter(|n| is(n, SAML, "AttributeStatement"))
    {
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
                .map(|v| value_text(v, "AttributeValue").map(std::borrow::Cow::into_owned))
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
