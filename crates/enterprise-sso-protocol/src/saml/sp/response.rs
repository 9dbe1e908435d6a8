//! The Response verifier (HTTP-POST binding): one parse, the structural allowlist, the
//! signatures, then every semantic rule on the verified assertion only.
//!
//! Order of work:
//!
//! 1. caps, UTF-8, the streaming pre-pass, one `roxmltree` parse (no DTD, node and depth
//!    caps); root `samlp:Response`; a non-Success `Status` is reported as such;
//! 2. structure: exactly one `Assertion`/`EncryptedAssertion` in the whole document, a
//!    direct child of the Response; every `ds:Signature` directly under the Response or
//!    that Assertion, right after their `Issuer`, one each at most; every ID unique;
//! 3. signatures ([`super::signature`]): each one present must verify; the assertion
//!    must be covered by its own or by the Response's;
//! 4. the assertion is read **only** from what a digest covers, through the
//!    [`Verified`] handle [`signature::verify`] returns: the Assertion node its own
//!    signature's canonical form was computed from, or — when only the Response is
//!    signed — the Assertion child of the Response node the Response signature covers.
//!    Reading that node reads exactly the values of the digested canonical bytes
//!    ([`super::read`] gives the argument; a test hook reads from a second parse of those
//!    bytes and the tests require the same answers). An encrypted assertion is decrypted
//!    from the verified Response's node when the Response is signed;
//! 5. semantic rules (issuer, audience, destination, recipient, times with skew,
//!    `InResponseTo`, unsolicited responses).

use std::time::Duration;

use roxmltree::{Node, NodeId};

use super::config::{IdentityProvider, ServiceProvider};
use super::keys::{trusted_certs, TrustedCert};
use super::parse::{self, children_named, elements, is, DS, SAML, SAMLP};
use super::read::{read_assertion, AssertionData, Verified};
use super::refusal::{shown, Refusal, SignedElement};
use super::signature::{self, Context};
use crate::xml::c14n::Scratch;

/// Default allowed clock skew between the IdP and this verifier.
pub const DEFAULT_CLOCK_SKEW: Duration = Duration::from_secs(120);

const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

/// Which elements carried a valid signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SignedParts {
    /// The `samlp:Response` was signed (and verified).
    pub response: bool,
    /// The `saml:Assertion` was signed (and verified).
    pub assertion: bool,
}

/// The identity a verified response carries, read only from signed content.
///
/// Not constructible outside this crate: holding one means a response passed every rule.
/// The caller still has to take the pending request [`in_response_to`](Self::in_response_to)
/// names (exactly once) and remember [`assertion_id`](Self::assertion_id) until
/// [`replay_until_ms`](Self::replay_until_ms) to refuse a replay.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedAssertion {
    /// The Assertion's `ID` (the replay-cache key, with the connection).
    pub assertion_id: String,
    /// The Assertion's `Issuer` (equal to the IdP entity id).
    pub issuer: String,
    /// The `NameID`, the full text of the element.
    pub name_id: String,
    /// The `NameID` `Format`, if given.
    pub name_id_format: Option<String>,
    /// The first `AuthnStatement`'s `SessionIndex`, if given.
    pub session_index: Option<String>,
    /// Attributes by `Name`, in document order, values in order (one entry per name).
    pub attributes: Vec<(String, Vec<String>)>,
    /// The `InResponseTo` of the accepted bearer `SubjectConfirmationData` (signed);
    /// `None` for an unsolicited (IdP-initiated) response.
    pub in_response_to: Option<String>,
    /// The Assertion's `IssueInstant`, Unix ms.
    pub issue_instant_ms: i64,
    /// The first `AuthnStatement`'s `AuthnInstant`, Unix ms (check it when `ForceAuthn`
    /// was requested).
    pub authn_instant_ms: i64,
    /// The `SessionNotOnOrAfter`, if given, Unix ms.
    pub session_not_on_or_after_ms: Option<i64>,
    /// Remember the assertion id until this time (the earliest `NotOnOrAfter` plus the
    /// clock skew, Unix ms): the assertion cannot be accepted after it.
    pub replay_until_ms: i64,
    /// Which elements were signed.
    pub signed: SignedParts,
    /// Whether the assertion arrived encrypted.
    pub encrypted: bool,
}

impl VerifiedAssertion {
    /// Checks that the assertion answers the pending request `request_id` (exact match).
    /// An unsolicited assertion answers no request.
    pub fn expect_request(&self, request_id: &str) -> Result<(), Refusal> {
        match &self.in_response_to {
            Some(r) if r == request_id => Ok(()),
            other => Err(Refusal::WrongRequest {
                expected: shown(request_id),
                received: shown(other.as_deref().unwrap_or_default()),
            }),
        }
    }

    /// Checks that the assertion is unsolicited, for a caller with no pending request
    /// for this browser: a response minted for an SP-initiated request is never
    /// accepted as unsolicited (it may be a captured response replayed elsewhere).
    pub fn expect_unsolicited(&self) -> Result<(), Refusal> {
        match &self.in_response_to {
            None => Ok(()),
            Some(r) => Err(Refusal::UnexpectedInResponseTo { received: shown(r) }),
        }
    }

    /// The values of the attribute `name`, if present.
    pub fn attribute(&self, name: &str) -> Option<&[String]> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }
}

/// Verifies SAML responses for one connection (one SP, one IdP).
#[derive(Debug, Clone)]
pub struct ResponseVerifier {
    sp: ServiceProvider,
    idp: IdentityProvider,
    certs: Vec<TrustedCert>,
    skew_ms: i64,
    allow_sha1: bool,
    idp_initiated_max_age_ms: Option<i64>,
}

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl ResponseVerifier {
    /// A verifier for SP-initiated sign-in: every assertion must answer a request
    /// (`InResponseTo`), SHA-1 is refused, the clock skew is [`DEFAULT_CLOCK_SKEW`].
    pub fn new(sp: ServiceProvider, idp: IdentityProvider) -> Self {
        let certs = trusted_certs(&idp.certificates);
        Self {
            sp,
            idp,
            certs,
            skew_ms: duration_ms(DEFAULT_CLOCK_SKEW),
            allow_sha1: false,
            idp_initiated_max_age_ms: None,
        }
    }

    /// Sets the allowed clock skew (applied to every time bound, both directions).
    #[must_use]
    pub fn clock_skew(mut self, skew: Duration) -> Self {
        self.skew_ms = duration_ms(skew);
        self
    }

    /// Accepts SHA-1 signatures and digests (`rsa-sha1`, `sha1`) for an IdP that cannot
    /// sign with SHA-256. Insecure: SHA-1 collisions are practical.
    #[must_use]
    pub fn insecure_allow_sha1(mut self) -> Self {
        self.allow_sha1 = true;
        self
    }

    /// Accepts unsolicited (IdP-initiated) responses: no `InResponseTo` anywhere, and an
    /// `IssueInstant` and `AuthnInstant` no older than `max_age` (plus skew). A response
    /// that names a request is never accepted as unsolicited.
    #[must_use]
    pub fn allow_idp_initiated(mut self, max_age: Duration) -> Self {
        self.idp_initiated_max_age_ms = Some(duration_ms(max_age));
        self
    }

    /// Verifies the `SAMLResponse` form value of an HTTP-POST binding.
    pub fn verify_post(
        &self,
        saml_response_base64: &str,
        now_ms: i64,
    ) -> Result<VerifiedAssertion, Refusal> {
        let bytes = parse::decode_base64_param(saml_response_base64)?;
        let text = parse::prepare_owned(bytes)?;
        self.verify_text(&text, now_ms, ReadFrom::Node)
    }

    /// Verifies a decoded SAML response document.
    pub fn verify_xml(&self, xml: &[u8], now_ms: i64) -> Result<VerifiedAssertion, Refusal> {
        let text = parse::prepare(xml)?;
        self.verify_text(&text, now_ms, ReadFrom::Node)
    }

    /// [`verify_xml`](Self::verify_xml) reading the assertion from a second parse of the
    /// canonical bytes its digest covers, instead of from the verified node: the tests
    /// check that both always give the same answer (see [`super::read`]).
    #[cfg(feature = "testing")]
    #[doc(hidden)]
    pub fn verify_xml_reparsed(
        &self,
        xml: &[u8],
        now_ms: i64,
    ) -> Result<VerifiedAssertion, Refusal> {
        let text = parse::prepare(xml)?;
        self.verify_text(&text, now_ms, ReadFrom::Reparse)
    }

    fn verify_text(
        &self,
        text: &parse::Prepared,
        now_ms: i64,
        read: ReadFrom,
    ) -> Result<VerifiedAssertion, Refusal> {
        let doc = parse::parse(text)?;
        let root = doc.root_element();
        if !is(&root, SAMLP, "Response") {
            return Err(Refusal::NotAResponse {
                received: parse::expanded_name(&root),
            });
        }
        // Status first: a failed login's response often has no assertion or signature,
        // and the admin needs the IdP's status. It can only refuse, never grant.
        check_status(root)?;
        let assertion = check_structure(root)?;
        let ctx = Context {
            certs: &self.certs,
            now_ms,
            allow_sha1: self.allow_sha1,
        };
        let mut scratch = Scratch::default();
        let encrypted = is(&assertion, SAML, "EncryptedAssertion");
        let response_signature = one_signature(root, SignedElement::Response)?;
        let assertion_signature = if encrypted {
            None
        } else {
            one_signature(assertion, SignedElement::Assertion)?
        };
        // Both signed: one canonicalization walk gives both digests. Otherwise each
        // signature present is verified, the Response's first.
        let (verified_response, verified_assertion) =
            match (response_signature, assertion_signature) {
                (Some(rs), Some(asig)) => {
                    let (r, a) = signature::verify_response_and_assertion(
                        (root, rs),
                        (assertion, asig),
                        &ctx,
                        &mut scratch,
                    )?;
                    (Some(r), Some(a))
                }
                (rs, asig) => {
                    let r = rs
                        .map(|s| {
                            signature::verify(root, s, SignedElement::Response, &ctx, &mut scratch)
                        })
                        .transpose()?;
                    let a = asig
                        .map(|s| {
                            signature::verify(
                                assertion,
                                s,
                                SignedElement::Assertion,
                                &ctx,
                                &mut scratch,
                            )
                        })
                        .transpose()?;
                    (r, a)
                }
            };
        let mut signed = SignedParts {
            response: verified_response.is_some(),
            assertion: verified_assertion.is_some(),
        };

        // Everything below reads the assertion through a `Verified` handle only: the node
        // a checked digest covers (its own signature's, or the Response's).
        let data = if encrypted {
            // The ciphertext: the verified Response's child when the Response is signed.
            let source = match verified_response {
                Some(v) => v.child(assertion).ok_or(Refusal::DecryptionFailed)?.node(),
                None => assertion,
            };
            let (data, assertion_signed) =
                self.decrypted_assertion(source, &ctx, signed.response, read)?;
            signed.assertion = assertion_signed;
            data
        } else if let Some(v) = verified_assertion {
            read.assertion(v)?
        } else {
            // Only the Response is signed: its Assertion child, inside what it covers.
            let v = verified_response
                .and_then(|v| v.child(assertion))
                .ok_or(Refusal::Unsigned)?;
            read.assertion(v)?
        };
        self.check_response_fields(root)?;
        self.check_assertion(root, data, now_ms, signed, encrypted)
    }

    /// Decrypts `encrypted` and verifies what it holds; returns the assertion read from
    /// it and whether the assertion carried its own signature.
    fn decrypted_assertion(
        &self,
        encrypted: Node<'_, '_>,
        ctx: &Context<'_>,
        response_signed: bool,
        read: ReadFrom,
    ) -> Result<(AssertionData, bool), Refusal> {
        let decrypted = super::decrypt::decrypt(encrypted, &self.sp.keys)?;
        let plain = &decrypted.plaintext;
        let inner = || -> Result<(AssertionData, bool), Refusal> {
            let wrapped = wrap_fragment(encrypted, plain).ok_or(Refusal::DecryptionFailed)?;
            let text = parse::prepare(&wrapped)?;
            let doc = parse::parse(&text)?;
            let wrapper = doc.root_element();
            let mut kids = wrapper.children().filter(|n| {
                !(n.is_text()
                    && n.text()
                        .unwrap_or_default()
                        .trim_matches(parse::is_xml_space)
                        .is_empty())
            });
            let assertion = match (kids.next(), kids.next()) {
                (Some(a), None) if is(&a, SAML, "Assertion") => a,
                _ => return Err(Refusal::DecryptionFailed),
            };
            scan(wrapper, &[assertion.id()], 1)?;
            match one_signature(assertion, SignedElement::Assertion)? {
                Some(sig) => Ok((
                    read.assertion(signature::verify(
                        assertion,
                        sig,
                        SignedElement::Assertion,
                        ctx,
                        &mut Scratch::default(),
                    )?)?,
                    true,
                )),
                // The whole plaintext came from ciphertext the Response signature covers.
                None if response_signed => {
                    Ok((read.assertion(Verified::new(assertion, None, ""))?, false))
                }
                None => Err(Refusal::Unsigned),
            }
        };
        match inner() {
            Ok(v) => Ok(v),
            // CBC ciphertext no signature authenticated: one refusal for every failure up
            // to the assertion's own signature, so that no answer tells a modified
            // ciphertext that decrypts to well-formed XML from one that does not (the XML
            // Encryption CBC oracle). GCM refuses any modified ciphertext by its tag.
            Err(_) if !response_signed && !decrypted.authenticated => {
                Err(Refusal::DecryptionFailed)
            }
            Err(e) => Err(e),
        }
    }

    fn check_response_fields(&self, root: Node<'_, '_>) -> Result<(), Refusal> {
        let version = root.attribute("Version").unwrap_or_default();
        if version != "2.0" {
            return Err(Refusal::Version {
                element: SignedElement::Response,
                received: shown(version),
            });
        }
        if let Some(issuer) =
            parse::one_child(root, SAML, "Issuer").map_err(|_| Refusal::IssuerMismatch {
                element: SignedElement::Response,
                expected: shown(&self.idp.entity_id),
                received: "(several Issuer elements)".to_owned(),
            })?
        {
            let received = parse::token_text(issuer, "Issuer")?;
            if received != self.idp.entity_id {
                return Err(Refusal::IssuerMismatch {
                    element: SignedElement::Response,
                    expected: shown(&self.idp.entity_id),
                    received: shown(&received),
                });
            }
        }
        if let Some(destination) = root.attribute("Destination") {
            if destination != self.sp.acs_url {
                return Err(Refusal::DestinationMismatch {
                    expected: shown(&self.sp.acs_url),
                    received: shown(destination),
                });
            }
        }
        Ok(())
    }

    fn check_assertion(
        &self,
        root: Node<'_, '_>,
        a: AssertionData,
        now_ms: i64,
        signed: SignedParts,
        encrypted: bool,
    ) -> Result<VerifiedAssertion, Refusal> {
        let skew = self.skew_ms;
        if a.version != "2.0" {
            return Err(Refusal::Version {
                element: SignedElement::Assertion,
                received: shown(&a.version),
            });
        }
        if a.issuer != self.idp.entity_id {
            return Err(Refusal::IssuerMismatch {
                element: SignedElement::Assertion,
                expected: shown(&self.idp.entity_id),
                received: shown(&a.issuer),
            });
        }
        not_after(now_ms, a.issue_instant_ms, skew, "IssueInstant")?;
        // Conditions.
        if let Some(nb) = a.conditions.not_before_ms {
            not_after(now_ms, nb, skew, "Conditions NotBefore")?;
        }
        if let Some(noa) = a.conditions.not_on_or_after_ms {
            before(now_ms, noa, skew, "Conditions NotOnOrAfter")?;
        }
        if a.conditions.audience_restrictions.is_empty()
            || a.conditions
                .audience_restrictions
                .iter()
                .any(|r| !r.contains(&self.sp.entity_id))
        {
            return Err(Refusal::AudienceMismatch {
                expected: shown(&self.sp.entity_id),
                received: a
                    .conditions
                    .audience_restrictions
                    .iter()
                    .flatten()
                    .take(10)
                    .map(|s| shown(s))
                    .collect(),
            });
        }
        // Bearer confirmations: at least one with our Recipient, in its time window.
        if a.bearer.is_empty() {
            return Err(Refusal::NoBearerConfirmation);
        }
        let mut first_error = None;
        let mut accepted: Vec<&super::read::Bearer> = Vec::new();
        for b in &a.bearer {
            let check = || -> Result<(), Refusal> {
                if b.recipient.as_deref() != Some(self.sp.acs_url.as_str()) {
                    return Err(Refusal::RecipientMismatch {
                        expected: shown(&self.sp.acs_url),
                        received: shown(b.recipient.as_deref().unwrap_or_default()),
                    });
                }
                let noa = b.not_on_or_after_ms.ok_or(Refusal::Missing {
                    what: "SubjectConfirmationData NotOnOrAfter",
                })?;
                before(now_ms, noa, skew, "SubjectConfirmationData NotOnOrAfter")?;
                if let Some(nb) = b.not_before_ms {
                    not_after(now_ms, nb, skew, "SubjectConfirmationData NotBefore")?;
                }
                Ok(())
            };
            match check() {
                Ok(()) => accepted.push(b),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        let Some(chosen) = accepted.first() else {
            return Err(first_error.unwrap_or(Refusal::NoBearerConfirmation));
        };
        if accepted
            .iter()
            .any(|b| b.in_response_to != chosen.in_response_to)
        {
            return Err(Refusal::AmbiguousConfirmation);
        }
        let in_response_to = chosen.in_response_to.clone();
        let scd_noa = chosen.not_on_or_after_ms.unwrap_or(i64::MIN);
        let authn = a.authn.ok_or(Refusal::Missing {
            what: "AuthnStatement",
        })?;
        if let Some(snoa) = authn.session_not_on_or_after_ms {
            before(now_ms, snoa, skew, "AuthnStatement SessionNotOnOrAfter")?;
        }
        not_after(now_ms, authn.authn_instant_ms, skew, "AuthnInstant")?;

        // InResponseTo: the Response's own (signed or not) must agree with the signed one.
        if let Some(r) = root.attribute("InResponseTo") {
            if Some(r) != in_response_to.as_deref() {
                return Err(Refusal::InResponseToMismatch {
                    response: shown(r),
                    assertion: shown(in_response_to.as_deref().unwrap_or_default()),
                });
            }
        }
        if in_response_to.is_none() {
            let max_age = self
                .idp_initiated_max_age_ms
                .ok_or(Refusal::UnsolicitedNotAllowed)?;
            let issued = a.issue_instant_ms.min(authn.authn_instant_ms);
            if now_ms.saturating_sub(issued) > max_age.saturating_add(skew) {
                return Err(Refusal::UnsolicitedTooOld {
                    issued_ms: issued,
                    max_age_ms: max_age,
                    now_ms,
                });
            }
        }
        let earliest = a
            .conditions
            .not_on_or_after_ms
            .map_or(scd_noa, |c| c.min(scd_noa));
        Ok(VerifiedAssertion {
            assertion_id: a.id,
            issuer: a.issuer,
            name_id: a.name_id,
            name_id_format: a.name_id_format,
            session_index: authn.session_index,
            attributes: a.attributes,
            in_response_to,
            issue_instant_ms: a.issue_instant_ms,
            authn_instant_ms: authn.authn_instant_ms,
            session_not_on_or_after_ms: authn.session_not_on_or_after_ms,
            replay_until_ms: earliest.saturating_add(skew),
            signed,
            encrypted,
        })
    }
}

/// Refuses unless `at <= now + skew` (a start time reached).
fn not_after(now_ms: i64, at_ms: i64, skew_ms: i64, field: &'static str) -> Result<(), Refusal> {
    if at_ms > now_ms.saturating_add(skew_ms) {
        return Err(Refusal::NotYetValid {
            field,
            at_ms,
            now_ms,
            skew_ms,
        });
    }
    Ok(())
}

/// Refuses unless `now < at + skew` (an exclusive end time not reached).
fn before(now_ms: i64, at_ms: i64, skew_ms: i64, field: &'static str) -> Result<(), Refusal> {
    if now_ms >= at_ms.saturating_add(skew_ms) {
        return Err(Refusal::Expired {
            field,
            at_ms,
            now_ms,
            skew_ms,
        });
    }
    Ok(())
}

/// Where the assertion's values are read from.
#[derive(Debug, Clone, Copy)]
enum ReadFrom {
    /// The verified node itself (see [`super::read`]).
    Node,
    /// A second parse of the canonical bytes the digest covered (the test hook).
    #[cfg(feature = "testing")]
    Reparse,
}

impl ReadFrom {
    fn assertion(self, verified: Verified<'_, '_>) -> Result<AssertionData, Refusal> {
        match self {
            Self::Node => read_assertion(verified),
            #[cfg(feature = "testing")]
            Self::Reparse => {
                let prefixes = signature::split_prefixes(verified.prefix_list());
                let bytes = crate::xml::c14n::canonicalize(
                    verified.node(),
                    crate::xml::c14n::C14nOptions {
                        exclude: verified.excluded(),
                        inclusive_prefixes: &prefixes,
                        max_output: parse::MAX_CANONICAL_BYTES,
                    },
                )
                .map_err(|_| Refusal::XmlLimit {
                    what: "bytes in a canonical form",
                    limit: parse::MAX_CANONICAL_BYTES,
                })?;
                let text = parse::prepare_owned(bytes)?;
                let doc = parse::parse(&text)?;
                read_assertion(Verified::new(doc.root_element(), None, ""))
            }
        }
    }
}

fn check_status(root: Node<'_, '_>) -> Result<(), Refusal> {
    let status = parse::one_child(root, SAMLP, "Status")
        .ok()
        .flatten()
        .ok_or(Refusal::Missing { what: "Status" })?;
    let code = children_named(status, SAMLP, "StatusCode")
        .next()
        .ok_or(Refusal::Missing { what: "StatusCode" })?;
    let value = code.attribute("Value").unwrap_or_default();
    if value == SUCCESS {
        return Ok(());
    }
    let sub_status = children_named(code, SAMLP, "StatusCode")
        .next()
        .and_then(|c| c.attribute("Value"))
        .map(shown);
    let message = children_named(status, SAMLP, "StatusMessage")
        .next()
        .and_then(|m| parse::value_text(m, "StatusMessage").ok())
        .map(|m| shown(m.trim()));
    Err(Refusal::StatusNotSuccess {
        status: shown(value),
        sub_status,
        message,
    })
}

/// The one `ds:Signature` child of `node`, if any; two are refused.
fn one_signature<'a, 'i>(
    node: Node<'a, 'i>,
    element: SignedElement,
) -> Result<Option<Node<'a, 'i>>, Refusal> {
    parse::one_child(node, DS, "Signature").map_err(|_| Refusal::DuplicateSignature { element })
}

/// The structural allowlist of a Response; returns its one assertion (plain or
/// encrypted), a direct child of the root.
fn check_structure<'a, 'i>(root: Node<'a, 'i>) -> Result<Node<'a, 'i>, Refusal> {
    // The Response's children as the schema lists them: anything else (a signature whose
    // namespace was changed, a stray element) is refused rather than skipped.
    if let Some(other) = elements(root).find(|n| {
        !(is(n, SAML, "Issuer")
            || is(n, DS, "Signature")
            || is(n, SAMLP, "Extensions")
            || is(n, SAMLP, "Status")
            || is(n, SAML, "Assertion")
            || is(n, SAML, "EncryptedAssertion"))
    }) {
        return Err(Refusal::UnexpectedElement {
            received: parse::expanded_name(&other),
        });
    }
    let direct: Vec<Node<'a, 'i>> = elements(root)
        .filter(|n| is(n, SAML, "Assertion") || is(n, SAML, "EncryptedAssertion"))
        .collect();
    let assertion = match direct.as_slice() {
        [one] => *one,
        _ => {
            let count = root
                .descendants()
                .filter(|n| is(n, SAML, "Assertion") || is(n, SAML, "EncryptedAssertion"))
                .count();
            return Err(Refusal::AssertionCount {
                count,
                misplaced: count != direct.len(),
            });
        }
    };
    let parents: Vec<NodeId> = if is(&assertion, SAML, "Assertion") {
        vec![root.id(), assertion.id()]
    } else {
        vec![root.id()]
    };
    scan(root, &parents, 1)?;
    Ok(assertion)
}

/// Walks every element under `top`: IDs unique, assertions counted (`expected`
/// anywhere), signatures only under `signature_parents` and right after their
/// `Issuer`.
fn scan(top: Node<'_, '_>, signature_parents: &[NodeId], expected: usize) -> Result<(), Refusal> {
    let mut ids: std::collections::HashSet<&str> = std::collections::HashSet::new();
    let mut assertions = 0usize;
    let mut misplaced = false;
    for n in top.descendants().filter(Node::is_element) {
        for a in n.attributes() {
            let id_like = (a.namespace().is_none()
                && matches!(a.name(), "ID" | "Id" | "id" | "AssertionID"))
                || (a.namespace() == Some("http://www.w3.org/XML/1998/namespace")
                    && a.name() == "id");
            if id_like && !ids.insert(a.value()) {
                return Err(Refusal::DuplicateId {
                    id: shown(a.value()),
                });
            }
        }
        let tag = n.tag_name();
        let (ns, local) = (tag.namespace(), tag.name());
        if ns == Some(SAML) && matches!(local, "Assertion" | "EncryptedAssertion") {
            assertions = assertions.saturating_add(1);
            if n.parent().map(|p| p.id()) != Some(top.id()) {
                misplaced = true;
            }
        }
        if ns != Some(DS) {
            continue;
        }
        if matches!(
            local,
            "SignedInfo" | "Reference" | "DigestValue" | "SignatureValue"
        ) && !n.ancestors().any(|a| is(&a, DS, "Signature"))
        {
            return Err(Refusal::SignatureMisplaced {
                place: format!("(a stray {local}) outside any ds:Signature"),
            });
        }
        if local == "Signature" {
            let parent = n.parent_element();
            if let Some(p) = parent.filter(|p| signature_parents.contains(&p.id())) {
                if children_named(p, DS, "Signature").nth(1).is_some() {
                    return Err(Refusal::DuplicateSignature {
                        element: if is(&p, SAMLP, "Response") {
                            SignedElement::Response
                        } else {
                            SignedElement::Assertion
                        },
                    });
                }
            }
            let allowed = parent.is_some_and(|p| signature_parents.contains(&p.id()));
            // Schema order: the Signature follows the Issuer (first child), or is the
            // first child of a Response without Issuer.
            let mut before = n.prev_siblings().skip(1).filter(Node::is_element);
            let placed = match (before.next(), before.next()) {
                (None, _) => parent.is_some_and(|p| is(&p, SAMLP, "Response")),
                (Some(i), None) => is(&i, SAML, "Issuer"),
                _ => false,
            };
            if !allowed || !placed {
                return Err(Refusal::SignatureMisplaced {
                    place: match parent {
                        Some(p) if allowed => {
                            format!("after other elements in {}", parse::expanded_name(&p))
                        }
                        Some(p) => format!("in {}", parse::expanded_name(&p)),
                        None => "at the root".to_owned(),
                    },
                });
            }
        }
    }
    if assertions != expected || misplaced {
        return Err(Refusal::AssertionCount {
            count: assertions,
            misplaced,
        });
    }
    Ok(())
}

/// The decrypted fragment inside an element that declares the namespaces in scope at
/// the `EncryptedAssertion` (the fragment may use prefixes declared there).
fn wrap_fragment(encrypted: Node<'_, '_>, plain: &[u8]) -> Option<Vec<u8>> {
    let body = std::str::from_utf8(plain).ok()?;
    let body = body.strip_prefix('\u{feff}').unwrap_or(body);
    // An XML declaration at the start of the fragment is dropped.
    let body = if body.starts_with("<?xml") {
        body.get(body.find("?>")?.checked_add(2)?..)?
    } else {
        body
    };
    let mut out = String::with_capacity(body.len().saturating_add(256));
    out.push_str("<decrypted");
    for ns in encrypted.namespaces() {
        match ns.name() {
            Some("xml") => continue,
            Some(p) => {
                out.push_str(" xmlns:");
                out.push_str(p);
            }
            None => out.push_str(" xmlns"),
        }
        out.push_str("=\"");
        for c in ns.uri().chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '"' => out.push_str("&quot;"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push('>');
    out.push_str(body);
    out.push_str("</decrypted>");
    Some(out.into_bytes())
}
