//! One enveloped XML signature of the SAML profile, verified against configured keys.
//!
//! Not a general XML-DSig engine: the signature must have exactly the shape SAML IdPs
//! produce (one `SignedInfo`, exclusive c14n, one `Reference` to its parent's ID with the
//! enveloped-signature and exclusive c14n transforms, a `SignatureValue`, an optional
//! `KeyInfo`, nothing else, no comments or processing instructions). The digest is
//! computed over this crate's own canonicalization of the parent element without the
//! signature, written straight into the hash (no copy of the canonical form is kept), and
//! the caller gets a [`Verified`] handle on that parent: the element node whose canonical
//! form was digested and the signature node left out of it. Identity is read only through
//! that handle ([`super::read`] says why reading the node is reading the digested bytes).
//!
//! A verification runs in three steps: [`check`] (structure, algorithms, the candidate
//! keys: nothing expensive before a key is known), the digest, then `finish` (the digest
//! compared, the canonical `SignedInfo` verified with the keys). When the Response and
//! its Assertion are both signed, one canonicalization walk computes both digests
//! ([`verify_response_and_assertion`]); each signature is still verified in full, and
//! refusals come in the same order as two separate verifications.

use roxmltree::Node;
use sha2::Digest as _;

use super::keys::{self, TrustedCert, VerifyKey};
use super::parse::{base64_value, elements, is, token_text, DS, EXC_C14N, MAX_CANONICAL_BYTES};
use super::read::Verified;
use super::refusal::{shown, Refusal, SignedElement};
use crate::xml::c14n::{
    canonicalize_in_scratch, canonicalize_pair_with, canonicalize_with, C14nError, C14nOptions,
    Inner, Scratch, Sink,
};

const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

/// A digest algorithm allowed for `DigestMethod` (and the signature's hash).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hash {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    pub(crate) fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha1 => sha1::Sha1::digest(data).to_vec(),
            Self::Sha256 => sha2::Sha256::digest(data).to_vec(),
            Self::Sha384 => sha2::Sha384::digest(data).to_vec(),
            Self::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }
}

/// A running digest of canonical bytes, fed in chunks of up to [`DIGEST_CHUNK`] bytes
/// (the c14n walk writes many short pieces; one hash update each would cost more than
/// the copy).
struct DigestSink {
    state: DigestState,
    buf: [u8; DIGEST_CHUNK],
    len: usize,
}

const DIGEST_CHUNK: usize = 1024;

enum DigestState {
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl DigestState {
    fn update(&mut self, data: &[u8]) {
        match self {
            Self::Sha1(h) => h.update(data),
            Self::Sha256(h) => h.update(data),
            Self::Sha384(h) => h.update(data),
            Self::Sha512(h) => h.update(data),
        }
    }
}

impl DigestSink {
    fn new(hash: Hash) -> Self {
        let state = match hash {
            Hash::Sha1 => DigestState::Sha1(sha1::Sha1::new()),
            Hash::Sha256 => DigestState::Sha256(sha2::Sha256::new()),
            Hash::Sha384 => DigestState::Sha384(sha2::Sha384::new()),
            Hash::Sha512 => DigestState::Sha512(sha2::Sha512::new()),
        };
        Self {
            state,
            buf: [0; DIGEST_CHUNK],
            len: 0,
        }
    }

    /// Whether the digest of everything written equals `expected`.
    fn matches(self, expected: &[u8]) -> bool {
        let Self {
            mut state,
            buf,
            len,
        } = self;
        state.update(buf.get(..len).unwrap_or_default());
        match state {
            DigestState::Sha1(h) => h.finalize().as_slice() == expected,
            DigestState::Sha256(h) => h.finalize().as_slice() == expected,
            DigestState::Sha384(h) => h.finalize().as_slice() == expected,
            DigestState::Sha512(h) => h.finalize().as_slice() == expected,
        }
    }
}

impl Sink for DigestSink {
    fn put(&mut self, bytes: &[u8]) {
        let end = self.len.saturating_add(bytes.len());
        if let Some(room) = self.buf.get_mut(self.len..end) {
            room.copy_from_slice(bytes);
            self.len = end;
            return;
        }
        self.state
            .update(self.buf.get(..self.len).unwrap_or_default());
        self.len = 0;
        match self.buf.get_mut(..bytes.len()) {
            Some(room) => {
                room.copy_from_slice(bytes);
                self.len = bytes.len();
            }
            None => self.state.update(bytes),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Rsa,
    Ecdsa,
}

fn signature_method(uri: &str) -> Option<(Family, Hash)> {
    Some(match uri {
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" => (Family::Rsa, Hash::Sha256),
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384" => (Family::Rsa, Hash::Sha384),
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512" => (Family::Rsa, Hash::Sha512),
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256" => (Family::Ecdsa, Hash::Sha256),
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384" => (Family::Ecdsa, Hash::Sha384),
        "http://www.w3.org/2000/09/xmldsig#rsa-sha1" => (Family::Rsa, Hash::Sha1),
        _ => return None,
    })
}

pub(crate) fn digest_method(uri: &str) -> Option<Hash> {
    Some(match uri {
        "http://www.w3.org/2001/04/xmlenc#sha256" => Hash::Sha256,
        "http://www.w3.org/2001/04/xmldsig-more#sha384" => Hash::Sha384,
        "http://www.w3.org/2001/04/xmlenc#sha512" => Hash::Sha512,
        "http://www.w3.org/2000/09/xmldsig#sha1" => Hash::Sha1,
        _ => return None,
    })
}

/// What verification needs besides the signature.
pub(crate) struct Context<'c> {
    pub certs: &'c [TrustedCert],
    pub now_ms: i64,
    pub allow_sha1: bool,
}

fn bad(element: SignedElement, problem: &'static str) -> Refusal {
    Refusal::SignatureStructure { element, problem }
}

fn c14n_refusal(e: C14nError) -> Refusal {
    match e {
        C14nError::TooLarge { max } => Refusal::XmlLimit {
            what: "bytes in a canonical form",
            limit: max,
        },
        _ => Refusal::Malformed {
            reason: shown(&e.to_string()),
        },
    }
}

/// The `PrefixList` of an optional `InclusiveNamespaces` child, the only child allowed
/// (`""` without one).
fn prefix_list<'a>(node: Node<'a, '_>, element: SignedElement) -> Result<&'a str, Refusal> {
    let mut it = elements(node);
    match (it.next(), it.next()) {
        (None, _) => Ok(""),
        (Some(inc), None) if is(&inc, EXC_C14N, "InclusiveNamespaces") => {
            Ok(inc.attribute("PrefixList").unwrap_or_default())
        }
        _ => Err(bad(element, "unexpected element under a c14n method")),
    }
}

/// A `PrefixList` split at white space.
pub(crate) fn split_prefixes(list: &str) -> Vec<&str> {
    list.split_ascii_whitespace().collect()
}

fn algorithm<'a>(node: Node<'a, '_>) -> &'a str {
    node.attribute("Algorithm").unwrap_or_default()
}

/// Verifies `signature`, a direct child of `signed`, and returns the verified content:
/// `signed` without the signature, whose canonical form the digest covers. `scratch`: the
/// canonicalization's buffers, shared by the verifications of one document.
pub(crate) fn verify<'a, 'i>(
    signed: Node<'a, 'i>,
    signature: Node<'a, 'i>,
    element: SignedElement,
    ctx: &Context<'_>,
    scratch: &mut Scratch<'a, 'i>,
) -> Result<Verified<'a, 'i>, Refusal> {
    let checked = check(signed, signature, element, ctx)?;
    let digest = checked.digest(scratch)?;
    checked.finish(digest, scratch)
}

/// Verifies the Response's signature and its Assertion's, both present: the digests of
/// the two come from one canonicalization walk (the Assertion's bytes are most of what
/// the Response's digest covers). Refusals come in the order [`verify`] called on the
/// Response, then on the Assertion, gives them: the Assertion's are held until the
/// Response is verified.
pub(crate) fn verify_response_and_assertion<'a, 'i>(
    response: (Node<'a, 'i>, Node<'a, 'i>),
    assertion: (Node<'a, 'i>, Node<'a, 'i>),
    ctx: &Context<'_>,
    scratch: &mut Scratch<'a, 'i>,
) -> Result<(Verified<'a, 'i>, Verified<'a, 'i>), Refusal> {
    let outer = check(response.0, response.1, SignedElement::Response, ctx)?;
    let inner = check(assertion.0, assertion.1, SignedElement::Assertion, ctx);
    let digests = match &inner {
        Ok(inner) => {
            let (mut outer_digest, mut inner_digest) = (outer.sink(), inner.sink());
            let inner_prefixes = split_prefixes(inner.verified.prefix_list());
            let paired = canonicalize_pair_with(
                scratch,
                outer.verified.node(),
                outer.options(&split_prefixes(outer.verified.prefix_list())),
                &mut outer_digest,
                Inner {
                    element: inner.verified.node().id(),
                    options: inner.options(&inner_prefixes),
                    sink: &mut inner_digest,
                },
            );
            // Not pairable, or refused (a cap): each on its own below, so the refusal is
            // the one a single walk gives.
            matches!(paired, Ok(Some(_))).then_some((outer_digest, inner_digest))
        }
        Err(_) => None,
    };
    let (outer_digest, inner_digest) = match digests {
        Some((o, i)) => (o, Some(i)),
        None => (outer.digest(scratch)?, None),
    };
    let verified_response = outer.finish(outer_digest, scratch)?;
    let inner = inner?;
    let inner_digest = match inner_digest {
        Some(d) => d,
        None => inner.digest(scratch)?,
    };
    Ok((verified_response, inner.finish(inner_digest, scratch)?))
}

/// A signature whose structure, algorithms and keys passed: what is left is the digest
/// over its parent's canonical form and the signature over its `SignedInfo`.
pub(crate) struct Checked<'a, 'i, 'c> {
    verified: Verified<'a, 'i>,
    element: SignedElement,
    digest_hash: Hash,
    expected_digest: Vec<u8>,
    signed_info: Node<'a, 'i>,
    signed_info_prefix_list: &'a str,
    family: Family,
    sig_hash: Hash,
    signature_bytes: Vec<u8>,
    candidates: Vec<&'c TrustedCert>,
}

/// The structure, algorithms and keys of `signature` (a direct child of `signed`), before
/// any canonicalization or public-key work.
fn check<'a, 'i, 'c>(
    signed: Node<'a, 'i>,
    signature: Node<'a, 'i>,
    element: SignedElement,
    ctx: &Context<'c>,
) -> Result<Checked<'a, 'i, 'c>, Refusal> {
    // No comments or processing instructions anywhere in the signature: they are how
    // digest and signature values have been cut short by other verifiers. One of each
    // part in the whole signature: a second SignedInfo (CVE-2025-29774) or a stray
    // DigestValue (CVE-2024-45409) anywhere in it is refused, not skipped. Both read in
    // one walk; a comment is reported before a count, whatever comes first.
    const PARTS: [(&str, &str); 4] = [
        ("SignedInfo", "not exactly one SignedInfo"),
        ("Reference", "not exactly one Reference"),
        ("DigestValue", "not exactly one DigestValue"),
        ("SignatureValue", "not exactly one SignatureValue"),
    ];
    let mut counts = [0usize; PARTS.len()];
    for n in signature.descendants() {
        if n.is_comment() || n.is_pi() {
            return Err(bad(
                element,
                "comment or processing instruction inside ds:Signature",
            ));
        }
        if n.is_element() && n.tag_name().namespace() == Some(DS) {
            let name = n.tag_name().name();
            for (count, (part, _)) in counts.iter_mut().zip(PARTS) {
                if name == part {
                    *count = count.saturating_add(1);
                }
            }
        }
    }
    for (count, (_, problem)) in counts.into_iter().zip(PARTS) {
        if count != 1 {
            return Err(bad(element, problem));
        }
    }
    let mut parts = elements(signature);
    let signed_info = parts
        .next()
        .filter(|n| is(n, DS, "SignedInfo"))
        .ok_or_else(|| bad(element, "SignedInfo is not the first child"))?;
    let signature_value = parts
        .next()
        .filter(|n| is(n, DS, "SignatureValue"))
        .ok_or_else(|| bad(element, "SignatureValue does not follow SignedInfo"))?;
    let key_info = match parts.next() {
        None => None,
        Some(k) if is(&k, DS, "KeyInfo") => Some(k),
        Some(_) => return Err(bad(element, "unexpected element in ds:Signature (Object?)")),
    };
    if parts.next().is_some() {
        return Err(bad(element, "unexpected element after KeyInfo (Object?)"));
    }

    // SignedInfo: CanonicalizationMethod, SignatureMethod, one Reference.
    let mut si = elements(signed_info);
    let (c14n_method, sig_method, reference) = match (si.next(), si.next(), si.next(), si.next())
    {
        (Some(c), Some(s), Some(r), None)
            if is(&c, DS, "CanonicalizationMethod")
                && is(&s, DS, "SignatureMethod")
                && is(&r, DS, "Reference") =>
        {
            (c, s, r)
        }
        _ => {
            return Err(bad(
                element,
                "SignedInfo must hold CanonicalizationMethod, SignatureMethod and exactly one Reference",
            ))
        }
    };
    if algorithm(c14n_method) != EXC_C14N {
        return Err(Refusal::CanonicalizationNotAllowed {
            element,
            received: shown(algorithm(c14n_method)),
        });
    }
    // Read (and its InclusiveNamespaces checked) here; split when SignedInfo is
    // canonicalized.
    let signed_info_prefix_list = prefix_list(c14n_method, element)?;
    let sig_uri = algorithm(sig_method);
    let (family, sig_hash) =
        signature_method(sig_uri).ok_or_else(|| Refusal::SignatureAlgorithmNotAllowed {
            element,
            received: shown(sig_uri),
        })?;
    if sig_hash == Hash::Sha1 && !ctx.allow_sha1 {
        return Err(Refusal::Sha1NotAllowed {
            element,
            received: shown(sig_uri),
        });
    }
    if elements(sig_method).next().is_some() {
        return Err(bad(element, "unexpected element under SignatureMethod"));
    }

    // Reference: URI = "#" + the parent's ID; Transforms, DigestMethod, DigestValue.
    let id = signed
        .attribute("ID")
        .filter(|id| !id.is_empty())
        .ok_or(Refusal::MissingId { element })?;
    let uri = reference.attribute("URI").unwrap_or_default();
    if uri.strip_prefix('#') != Some(id) {
        return Err(Refusal::ReferenceUriMismatch {
            element,
            expected: shown(&format!("#{id}")),
            received: shown(uri),
        });
    }
    let mut rc = elements(reference);
    let (transforms, digest_node, digest_value) = match (rc.next(), rc.next(), rc.next(), rc.next())
    {
        (Some(t), Some(m), Some(v), None)
            if is(&t, DS, "Transforms")
                && is(&m, DS, "DigestMethod")
                && is(&v, DS, "DigestValue") =>
        {
            (t, m, v)
        }
        _ => {
            return Err(bad(
                element,
                "Reference must hold Transforms, DigestMethod and one DigestValue",
            ))
        }
    };
    let transform_nodes: Vec<Node<'_, '_>> = elements(transforms).collect();
    let received = || -> Vec<String> {
        transform_nodes
            .iter()
            .map(|t| {
                if is(t, DS, "Transform") {
                    shown(algorithm(*t))
                } else {
                    crate::saml::sp::parse::expanded_name(t)
                }
            })
            .collect()
    };
    let reference_prefix_list = match transform_nodes.as_slice() {
        [env, exc]
            if is(env, DS, "Transform")
                && is(exc, DS, "Transform")
                && algorithm(*env) == ENVELOPED
                && algorithm(*exc) == EXC_C14N
                && elements(*env).next().is_none() =>
        {
            prefix_list(*exc, element)?
        }
        _ => {
            return Err(Refusal::TransformsNotAllowed {
                element,
                received: received(),
            })
        }
    };
    let digest_uri = algorithm(digest_node);
    let digest_hash =
        digest_method(digest_uri).ok_or_else(|| Refusal::DigestAlgorithmNotAllowed {
            element,
            received: shown(digest_uri),
        })?;
    if digest_hash == Hash::Sha1 && !ctx.allow_sha1 {
        return Err(Refusal::Sha1NotAllowed {
            element,
            received: shown(digest_uri),
        });
    }
    let expected_digest = base64_value(&token_text(digest_value, "DigestValue")?)
        .ok_or_else(|| bad(element, "DigestValue is not base64"))?;
    let signature_bytes = base64_value(&token_text(signature_value, "SignatureValue")?)
        .ok_or_else(|| bad(element, "SignatureValue is not base64"))?;

    // Keys before any expensive work: fail closed without a valid configured certificate.
    let key_info_certs = key_info
        .map(|k| key_info_certificates(k, ctx.certs))
        .unwrap_or_default();
    let candidates = keys::select(ctx.certs, &key_info_certs, ctx.now_ms, element)?;

    Ok(Checked {
        verified: Verified::new(signed, Some(signature), reference_prefix_list),
        element,
        digest_hash,
        expected_digest,
        signed_info,
        signed_info_prefix_list,
        family,
        sig_hash,
        signature_bytes,
        candidates,
    })
}

impl<'a, 'i> Checked<'a, 'i, '_> {
    /// A running digest of the kind the `DigestMethod` names.
    fn sink(&self) -> DigestSink {
        DigestSink::new(self.digest_hash)
    }

    /// The options of the canonical form the digest covers: the parent without this
    /// signature, the Reference's prefix list.
    fn options<'p>(&self, prefixes: &'p [&'p str]) -> C14nOptions<'p> {
        C14nOptions {
            exclude: self.verified.excluded(),
            inclusive_prefixes: prefixes,
            max_output: MAX_CANONICAL_BYTES,
        }
    }

    /// The digest over our canonical form of the parent without this signature.
    fn digest(&self, scratch: &mut Scratch<'a, 'i>) -> Result<DigestSink, Refusal> {
        let prefixes = split_prefixes(self.verified.prefix_list());
        let mut digest = self.sink();
        canonicalize_with(
            scratch,
            self.verified.node(),
            self.options(&prefixes),
            &mut digest,
        )
        .map_err(c14n_refusal)?;
        Ok(digest)
    }

    /// Compares the `digest` of the parent's canonical form, then verifies the signature
    /// over the canonical `SignedInfo` with the candidate keys.
    fn finish(
        self,
        digest: DigestSink,
        scratch: &mut Scratch<'a, 'i>,
    ) -> Result<Verified<'a, 'i>, Refusal> {
        let Self {
            verified,
            element,
            expected_digest,
            signed_info,
            signed_info_prefix_list,
            family,
            sig_hash,
            signature_bytes,
            candidates,
            ..
        } = self;
        if !digest.matches(&expected_digest) {
            return Err(Refusal::DigestMismatch { element });
        }
        let signed_info_prefixes = split_prefixes(signed_info_prefix_list);
        let signed_info_bytes = canonicalize_in_scratch(
            scratch,
            signed_info,
            C14nOptions {
                exclude: None,
                inclusive_prefixes: &signed_info_prefixes,
                max_output: MAX_CANONICAL_BYTES,
            },
        )
        .map_err(c14n_refusal)?;
        // ECDSA verifies a prehash (the SHA-256 of a SignedInfo for a P-384 key is allowed).
        let hashed = || sig_hash.digest(signed_info_bytes);
        let mut usable = false;
        let mut unusable_reason = "no key of the signature's type";
        for cert in candidates {
            match (&cert.key, family) {
                (VerifyKey::Rsa(k), Family::Rsa) => {
                    usable = true;
                    if k.verify(sig_hash, signed_info_bytes, &signature_bytes) {
                        return Ok(verified);
                    }
                }
                (VerifyKey::P256(k), Family::Ecdsa) => {
                    usable = true;
                    use p256::ecdsa::signature::hazmat::PrehashVerifier;
                    if let Ok(sig) = p256::ecdsa::Signature::from_slice(&signature_bytes) {
                        if k.verify_prehash(&hashed(), &sig).is_ok() {
                            return Ok(verified);
                        }
                    }
                }
                (VerifyKey::P384(k), Family::Ecdsa) => {
                    usable = true;
                    use p384::ecdsa::signature::hazmat::PrehashVerifier;
                    if let Ok(sig) = p384::ecdsa::Signature::from_slice(&signature_bytes) {
                        if k.verify_prehash(&hashed(), &sig).is_ok() {
                            return Ok(verified);
                        }
                    }
                }
                (VerifyKey::Unusable(why), _) => unusable_reason = why,
                _ => {}
            }
        }
        if usable {
            Err(Refusal::SignatureInvalid { element })
        } else {
            Err(Refusal::KeyUnusable {
                problem: unusable_reason,
            })
        }
    }
}

/// Most certificates read from one `KeyInfo`.
const MAX_KEY_INFO_CERTS: usize = 8;

/// DER of each `KeyInfo/X509Data/X509Certificate` (undecodable ones are skipped: they
/// can match nothing). One equal to a configured certificate is recognized by its base64
/// text ([`keys::same_base64`]) and borrowed from the configuration without decoding:
/// the decoder accepts one text per DER (canonical padding and trailing bits), so equal
/// text is equal DER. Only a certificate that is not configured is decoded.
fn key_info_certificates<'c>(
    key_info: Node<'_, '_>,
    configured: &'c [TrustedCert],
) -> Vec<std::borrow::Cow<'c, [u8]>> {
    elements(key_info)
        .filter(|n| is(n, DS, "X509Data"))
        .flat_map(elements)
        .filter(|n| is(n, DS, "X509Certificate"))
        .filter_map(|n| {
            let text = n.text().unwrap_or_default();
            match configured
                .iter()
                .find(|c| keys::same_base64(text, &c.base64))
            {
                Some(c) => Some(std::borrow::Cow::Borrowed(c.der.as_slice())),
                None => base64_value(text).map(std::borrow::Cow::Owned),
            }
        })
        .take(MAX_KEY_INFO_CERTS)
        .collect()
}
