//! Why a SAML response was refused: one typed reason per rule.
//!
//! Every variant names the rule it enforces and, where the rule compares values, what was
//! expected and what was received (entity ids, URLs, times, algorithm URIs), so that an IT
//! admin can fix a misconfigured IdP from the message alone. A refusal never holds XML,
//! keys, the `SAMLResponse` or decrypted content; values copied from the response are cut
//! to [`MAX_VALUE_CHARS`] characters with control characters replaced.

use std::fmt;

/// Longest value copied from a response into a refusal, in characters.
pub const MAX_VALUE_CHARS: usize = 200;

/// Which element a signature rule concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedElement {
    /// The `samlp:Response`.
    Response,
    /// The `saml:Assertion`.
    Assertion,
}

impl fmt::Display for SignedElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Response => "Response",
            Self::Assertion => "Assertion",
        })
    }
}

/// Why a SAML response (or a redirect-binding input) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    // ---- input ----
    /// The input is larger than the cap for its stage.
    #[error("the SAML {what} is {received} bytes, more than the limit of {limit}")]
    TooLarge {
        /// Which input (`base64 SAMLResponse`, `decoded SAMLResponse`, `ciphertext`...).
        what: &'static str,
        /// The limit, in bytes.
        limit: usize,
        /// The size received (at least `limit + 1` when reading stopped early).
        received: usize,
    },
    /// The `SAMLResponse` is not base64.
    #[error("the SAMLResponse parameter is not valid base64")]
    NotBase64,
    /// The document is not UTF-8.
    #[error("the SAML document is not UTF-8")]
    NotUtf8,
    /// A `<!DOCTYPE` (entities are never expanded).
    #[error("the SAML document has a DOCTYPE, which is never accepted")]
    Doctype,
    /// Not well-formed XML.
    #[error("the SAML document is not well-formed XML ({reason})")]
    Malformed {
        /// The parser's reason (position and kind).
        reason: String,
    },
    /// A structural limit of the XML (depth, nodes, attributes, namespaces) was passed.
    #[error("the SAML document has more {what} than the limit of {limit}")]
    XmlLimit {
        /// What is counted.
        what: &'static str,
        /// The limit.
        limit: usize,
    },
    /// The root element is not `samlp:Response`.
    #[error("the SAML document's root element is {received}, expected samlp:Response")]
    NotAResponse {
        /// The root's `{namespace}local` name.
        received: String,
    },

    // ---- structure ----
    /// Not exactly one `Assertion`/`EncryptedAssertion` in the document, as a direct child
    /// of the Response.
    #[error("the Response must hold exactly one Assertion or EncryptedAssertion as a direct child; it holds {count} assertions{}", if *.misplaced { " (some not directly under Response)" } else { "" })]
    AssertionCount {
        /// Assertions and encrypted assertions found anywhere in the document.
        count: usize,
        /// Whether one of them is not a direct child of the Response.
        misplaced: bool,
    },
    /// An element the SAML schema does not allow directly under the Response (a
    /// signature in another namespace, a stray element).
    #[error("the Response holds an unexpected element {received}; only Issuer, Signature, Extensions, Status and one Assertion or EncryptedAssertion are allowed")]
    UnexpectedElement {
        /// The element's `{namespace}local` name.
        received: String,
    },
    /// A `ds:Signature` somewhere other than directly under the Response or the Assertion,
    /// right after their Issuer.
    #[error("a ds:Signature is placed {place}; signatures are accepted only directly under the Response or the Assertion, after Issuer")]
    SignatureMisplaced {
        /// Where it was found (parent element name).
        place: String,
    },
    /// Two signatures on the same element.
    #[error("the {element} carries more than one ds:Signature")]
    DuplicateSignature {
        /// The element.
        element: SignedElement,
    },
    /// Two elements carry the same ID.
    #[error("the ID {id:?} appears on more than one element")]
    DuplicateId {
        /// The repeated ID.
        id: String,
    },
    /// A signed element without an `ID` attribute.
    #[error("the signed {element} has no ID attribute")]
    MissingId {
        /// The element.
        element: SignedElement,
    },
    /// The signature's shape is not the one SAML uses (one SignedInfo, one Reference, no
    /// Object, no comments...).
    #[error("the {element}'s ds:Signature is malformed: {problem}")]
    SignatureStructure {
        /// The signed element.
        element: SignedElement,
        /// What is wrong.
        problem: &'static str,
    },
    /// `Reference URI` does not name the signature's parent.
    #[error("the {element}'s signature Reference URI is {received:?}, expected {expected:?} (the ID of the element that carries the signature)")]
    ReferenceUriMismatch {
        /// The signed element.
        element: SignedElement,
        /// `#` + the parent's ID.
        expected: String,
        /// The URI found.
        received: String,
    },
    /// Transforms other than exactly enveloped-signature + exclusive c14n.
    #[error("the {element}'s signature uses the transforms [{}]; only enveloped-signature followed by exclusive c14n (without comments) is accepted", .received.join(", "))]
    TransformsNotAllowed {
        /// The signed element.
        element: SignedElement,
        /// The transform algorithm URIs found.
        received: Vec<String>,
    },
    /// A `CanonicalizationMethod` other than exclusive c14n without comments.
    #[error("the {element}'s signature uses CanonicalizationMethod {received}; only http://www.w3.org/2001/10/xml-exc-c14n# is accepted")]
    CanonicalizationNotAllowed {
        /// The signed element.
        element: SignedElement,
        /// The algorithm URI found.
        received: String,
    },
    /// A `SignatureMethod` outside the allowlist (HMAC is never accepted).
    #[error("the {element}'s SignatureMethod {received} is not accepted; use rsa-sha256/384/512 or ecdsa-sha256/384")]
    SignatureAlgorithmNotAllowed {
        /// The signed element.
        element: SignedElement,
        /// The algorithm URI found.
        received: String,
    },
    /// A `DigestMethod` outside the allowlist.
    #[error(
        "the {element}'s DigestMethod {received} is not accepted; use sha256, sha384 or sha512"
    )]
    DigestAlgorithmNotAllowed {
        /// The signed element.
        element: SignedElement,
        /// The algorithm URI found.
        received: String,
    },
    /// SHA-1 (signature or digest) without the connection's opt-in.
    #[error("the {element} is signed with SHA-1 ({received}); configure the IdP to sign with SHA-256, or allow SHA-1 for this connection")]
    Sha1NotAllowed {
        /// The signed element.
        element: SignedElement,
        /// The algorithm URI found.
        received: String,
    },

    // ---- cryptography ----
    /// No configured IdP certificate is valid at the time of verification.
    #[error("no IdP signing certificate configured for this connection is valid now ({configured} configured)")]
    NoTrustedCertificate {
        /// How many certificates are configured (valid or not).
        configured: usize,
    },
    /// The certificate in `KeyInfo` is not one of the connection's certificates.
    #[error("the {element} is signed with a certificate that is not configured for this connection (SHA-256 fingerprint {fingerprint}); add the IdP's current signing certificate")]
    CertificateNotTrusted {
        /// The signed element.
        element: SignedElement,
        /// SHA-256 of the DER, hex.
        fingerprint: String,
    },
    /// The certificate in `KeyInfo` is configured but not valid now.
    #[error("the {element} is signed with a configured certificate that is not valid now (SHA-256 fingerprint {fingerprint}, valid {not_before_ms}..{not_after_ms} ms)")]
    CertificateNotValidNow {
        /// The signed element.
        element: SignedElement,
        /// SHA-256 of the DER, hex.
        fingerprint: String,
        /// Start of validity, Unix ms.
        not_before_ms: i64,
        /// End of validity, Unix ms.
        not_after_ms: i64,
    },
    /// An RSA key shorter than 2048 bits, or a key of a type the algorithm cannot use.
    #[error("the IdP certificate's key cannot be used: {problem}")]
    KeyUnusable {
        /// What is wrong.
        problem: &'static str,
    },
    /// The digest of the signed element does not match `DigestValue`.
    #[error("the {element} was modified after it was signed (digest mismatch)")]
    DigestMismatch {
        /// The signed element.
        element: SignedElement,
    },
    /// `SignatureValue` does not verify with any trusted key.
    #[error("the {element}'s signature does not verify with any configured IdP certificate")]
    SignatureInvalid {
        /// The signed element.
        element: SignedElement,
    },
    /// Neither the Assertion nor the Response carrying it is signed.
    #[error(
        "the assertion is not signed (neither the Assertion nor the Response carries a signature)"
    )]
    Unsigned,

    // ---- encryption ----
    /// An encryption algorithm outside the allowlist (RSA PKCS#1 v1.5 key transport is
    /// never accepted).
    #[error("the EncryptedAssertion uses {what} {received}, which is not accepted")]
    EncryptionAlgorithmNotAllowed {
        /// `key transport` or `data encryption` or `OAEP digest`.
        what: &'static str,
        /// The algorithm URI found.
        received: String,
    },
    /// An encrypted assertion but no SP decryption key configured.
    #[error(
        "the assertion is encrypted but this service provider has no decryption key configured"
    )]
    NoDecryptionKey,
    /// The assertion could not be decrypted (one reason for every failure, so that the
    /// refusal is no decryption oracle).
    #[error("the encrypted assertion could not be decrypted with this service provider's keys")]
    DecryptionFailed,
    /// Encrypted identifiers or attributes, which this verifier does not read.
    #[error(
        "the assertion holds {what}, which is not supported; configure the IdP not to encrypt it"
    )]
    Unsupported {
        /// What (`EncryptedID`, `EncryptedAttribute`).
        what: &'static str,
    },

    // ---- semantics ----
    /// `Status` is not Success.
    #[error("the IdP answered with status {status}{}{}", .sub_status.as_ref().map(|s| format!(" / {s}")).unwrap_or_default(), .message.as_ref().map(|m| format!(": {m}")).unwrap_or_default())]
    StatusNotSuccess {
        /// The top-level status code URI.
        status: String,
        /// The nested status code, if any.
        sub_status: Option<String>,
        /// The IdP's `StatusMessage`, if any.
        message: Option<String>,
    },
    /// `Version` is not 2.0.
    #[error("the {element} has Version {received:?}, expected \"2.0\"")]
    Version {
        /// The element.
        element: SignedElement,
        /// The version found.
        received: String,
    },
    /// An `Issuer` differs from the IdP entity id.
    #[error("the {element}'s Issuer is {received:?}, expected the IdP entity id {expected:?}")]
    IssuerMismatch {
        /// The element.
        element: SignedElement,
        /// The connection's IdP entity id.
        expected: String,
        /// The Issuer found (empty when missing).
        received: String,
    },
    /// No `AudienceRestriction` names the SP, or one names others only.
    #[error("the assertion's audience is [{}], expected it to contain this SP's entity id {expected:?}", .received.join(", "))]
    AudienceMismatch {
        /// The SP entity id.
        expected: String,
        /// The audiences found.
        received: Vec<String>,
    },
    /// `Destination` differs from the ACS URL.
    #[error("the Response's Destination is {received:?}, expected this SP's ACS URL {expected:?}")]
    DestinationMismatch {
        /// The ACS URL.
        expected: String,
        /// The Destination found.
        received: String,
    },
    /// No bearer `SubjectConfirmationData` has the ACS URL as `Recipient`.
    #[error("the assertion's bearer SubjectConfirmation Recipient is {received:?}, expected this SP's ACS URL {expected:?}")]
    RecipientMismatch {
        /// The ACS URL.
        expected: String,
        /// The Recipient found (empty when missing).
        received: String,
    },
    /// No bearer `SubjectConfirmation`.
    #[error("the assertion has no bearer SubjectConfirmation")]
    NoBearerConfirmation,
    /// A required element is missing.
    #[error("the assertion has no {what}")]
    Missing {
        /// What (`Subject`, `NameID`, `Conditions`, `AuthnStatement`, ...).
        what: &'static str,
    },
    /// A time (`NotBefore`, `IssueInstant`...) is not yet reached, skew included.
    #[error("the {field} of the assertion is {at_ms} ms, later than now ({now_ms} ms) plus the allowed clock skew of {skew_ms} ms; check the IdP's clock")]
    NotYetValid {
        /// Which time.
        field: &'static str,
        /// Its value, Unix ms.
        at_ms: i64,
        /// The verifier's now, Unix ms.
        now_ms: i64,
        /// The allowed skew, ms.
        skew_ms: i64,
    },
    /// A `NotOnOrAfter` has passed, skew included (exclusive bound).
    #[error("the assertion expired: its {field} is {at_ms} ms, and now ({now_ms} ms) is at or past it plus the allowed clock skew of {skew_ms} ms")]
    Expired {
        /// Which time.
        field: &'static str,
        /// Its value, Unix ms.
        at_ms: i64,
        /// The verifier's now, Unix ms.
        now_ms: i64,
        /// The allowed skew, ms.
        skew_ms: i64,
    },
    /// A time value that is not an `xs:dateTime`.
    #[error("the {field} of the SAML response is not a valid xs:dateTime")]
    BadTime {
        /// Which time.
        field: &'static str,
    },
    /// The Response's `InResponseTo` differs from the one in the signed assertion.
    #[error("the Response's InResponseTo {response:?} differs from the signed assertion's {assertion:?}")]
    InResponseToMismatch {
        /// The Response's (unsigned or signed) value.
        response: String,
        /// The signed assertion's value (empty when absent).
        assertion: String,
    },
    /// The assertion answers another request than the one expected.
    #[error("the assertion answers request {received:?}, expected {expected:?}")]
    WrongRequest {
        /// The pending request id.
        expected: String,
        /// The `InResponseTo` of the assertion (empty when unsolicited).
        received: String,
    },
    /// The assertion answers a request, and no request is pending for this browser.
    #[error("the assertion answers request {received:?}, but no sign-in is pending for this browser; a response to an SP-initiated request is never accepted as unsolicited")]
    UnexpectedInResponseTo {
        /// The `InResponseTo` of the assertion.
        received: String,
    },
    /// An unsolicited (IdP-initiated) response when the connection does not allow them.
    #[error("the response is unsolicited (IdP-initiated, no InResponseTo), which this connection does not allow")]
    UnsolicitedNotAllowed,
    /// An unsolicited response older than the allowed maximum age.
    #[error("the unsolicited response was issued at {issued_ms} ms, more than {max_age_ms} ms before now ({now_ms} ms)")]
    UnsolicitedTooOld {
        /// The assertion's IssueInstant (or AuthnInstant, the older), Unix ms.
        issued_ms: i64,
        /// The allowed maximum age, ms.
        max_age_ms: i64,
        /// The verifier's now, Unix ms.
        now_ms: i64,
    },
    /// `NameID` or an `AttributeValue` has child elements or processing instructions.
    #[error("the assertion's {what} holds markup, which is not accepted in a value")]
    MarkupInValue {
        /// Where.
        what: &'static str,
    },
    /// Two confirmations that would both be accepted disagree on `InResponseTo`.
    #[error("the assertion's bearer SubjectConfirmations disagree on InResponseTo")]
    AmbiguousConfirmation,

    // ---- redirect binding ----
    /// A DEFLATE stream that is not valid.
    #[error("the SAML message is not valid raw DEFLATE data")]
    NotDeflate,
}

impl Refusal {
    /// A stable snake_case code for logs, metrics and API responses.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "saml_too_large",
            Self::NotBase64 => "saml_not_base64",
            Self::NotUtf8 => "saml_not_utf8",
            Self::Doctype => "saml_doctype",
            Self::Malformed { .. } => "saml_malformed_xml",
            Self::XmlLimit { .. } => "saml_xml_limit",
            Self::NotAResponse { .. } => "saml_not_a_response",
            Self::AssertionCount { .. } => "saml_assertion_count",
            Self::UnexpectedElement { .. } => "saml_unexpected_element",
            Self::SignatureMisplaced { .. } => "saml_signature_misplaced",
            Self::DuplicateSignature { .. } => "saml_duplicate_signature",
            Self::DuplicateId { .. } => "saml_duplicate_id",
            Self::MissingId { .. } => "saml_missing_id",
            Self::SignatureStructure { .. } => "saml_signature_structure",
            Self::ReferenceUriMismatch { .. } => "saml_reference_uri_mismatch",
            Self::TransformsNotAllowed { .. } => "saml_transforms_not_allowed",
            Self::CanonicalizationNotAllowed { .. } => "saml_canonicalization_not_allowed",
            Self::SignatureAlgorithmNotAllowed { .. } => "saml_signature_algorithm_not_allowed",
            Self::DigestAlgorithmNotAllowed { .. } => "saml_digest_algorithm_not_allowed",
            Self::Sha1NotAllowed { .. } => "saml_sha1_not_allowed",
            Self::NoTrustedCertificate { .. } => "saml_no_trusted_certificate",
            Self::CertificateNotTrusted { .. } => "saml_certificate_not_trusted",
            Self::CertificateNotValidNow { .. } => "saml_certificate_not_valid_now",
            Self::KeyUnusable { .. } => "saml_key_unusable",
            Self::DigestMismatch { .. } => "saml_digest_mismatch",
            Self::SignatureInvalid { .. } => "saml_signature_invalid",
            Self::Unsigned => "saml_unsigned",
            Self::EncryptionAlgorithmNotAllowed { .. } => "saml_encryption_algorithm_not_allowed",
            Self::NoDecryptionKey => "saml_no_decryption_key",
            Self::DecryptionFailed => "saml_decryption_failed",
            Self::Unsupported { .. } => "saml_unsupported",
            Self::StatusNotSuccess { .. } => "saml_status_not_success",
            Self::Version { .. } => "saml_version",
            Self::IssuerMismatch { .. } => "saml_issuer_mismatch",
            Self::AudienceMismatch { .. } => "saml_audience_mismatch",
            Self::DestinationMismatch { .. } => "saml_destination_mismatch",
            Self::RecipientMismatch { .. } => "saml_recipient_mismatch",
            Self::NoBearerConfirmation => "saml_no_bearer_confirmation",
            Self::Missing { .. } => "saml_missing_element",
            Self::NotYetValid { .. } => "saml_not_yet_valid",
            Self::Expired { .. } => "saml_expired",
            Self::BadTime { .. } => "saml_bad_time",
            Self::InResponseToMismatch { .. } => "saml_in_response_to_mismatch",
            Self::WrongRequest { .. } => "saml_wrong_request",
            Self::UnexpectedInResponseTo { .. } => "saml_unexpected_in_response_to",
            Self::UnsolicitedNotAllowed => "saml_unsolicited_not_allowed",
            Self::UnsolicitedTooOld { .. } => "saml_unsolicited_too_old",
            Self::MarkupInValue { .. } => "saml_markup_in_value",
            Self::AmbiguousConfirmation => "saml_ambiguous_confirmation",
            Self::NotDeflate => "saml_not_deflate",
        }
    }

    /// Every code [`Refusal::code`] can return, for documentation and dashboards.
    pub const CODES: &'static [&'static str] = &[
        "saml_too_large",
        "saml_not_base64",
        "saml_not_utf8",
        "saml_doctype",
        "saml_malformed_xml",
        "saml_xml_limit",
        "saml_not_a_response",
        "saml_assertion_count",
        "saml_unexpected_element",
        "saml_signature_misplaced",
        "saml_duplicate_signature",
        "saml_duplicate_id",
        "saml_missing_id",
        "saml_signature_structure",
        "saml_reference_uri_mismatch",
        "saml_transforms_not_allowed",
        "saml_canonicalization_not_allowed",
        "saml_signature_algorithm_not_allowed",
        "saml_digest_algorithm_not_allowed",
        "saml_sha1_not_allowed",
        "saml_no_trusted_certificate",
        "saml_certificate_not_trusted",
        "saml_certificate_not_valid_now",
        "saml_key_unusable",
        "saml_digest_mismatch",
        "saml_signature_invalid",
        "saml_unsigned",
        "saml_encryption_algorithm_not_allowed",
        "saml_no_decryption_key",
        "saml_decryption_failed",
        "saml_unsupported",
        "saml_status_not_success",
        "saml_version",
        "saml_issuer_mismatch",
        "saml_audience_mismatch",
        "saml_destination_mismatch",
        "saml_recipient_mismatch",
        "saml_no_bearer_confirmation",
        "saml_missing_element",
        "saml_not_yet_valid",
        "saml_expired",
        "saml_bad_time",
        "saml_in_response_to_mismatch",
        "saml_wrong_request",
        "saml_unexpected_in_response_to",
        "saml_unsolicited_not_allowed",
        "saml_unsolicited_too_old",
        "saml_markup_in_value",
        "saml_ambiguous_confirmation",
        "saml_not_deflate",
    ];
}

/// A value from the response, fit for a refusal: at most [`MAX_VALUE_CHARS`] characters,
/// control characters replaced by `?`.
pub(crate) fn shown(value: &str) -> String {
    value
        .chars()
        .take(MAX_VALUE_CHARS)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_a_listed_unique_code_and_a_message() {
        let e = SignedElement::Assertion;
        let s = String::new;
        let all = vec![
            Refusal::TooLarge {
                what: "x",
                limit: 1,
                received: 2,
            },
            Refusal::NotBase64,
            Refusal::NotUtf8,
            Refusal::Doctype,
            Refusal::Malformed { reason: s() },
            Refusal::XmlLimit {
                what: "x",
                limit: 1,
            },
            Refusal::NotAResponse { received: s() },
            Refusal::AssertionCount {
                count: 2,
                misplaced: true,
            },
            Refusal::UnexpectedElement { received: s() },
            Refusal::SignatureMisplaced { place: s() },
            Refusal::DuplicateSignature { element: e },
            Refusal::DuplicateId { id: s() },
            Refusal::MissingId { element: e },
            Refusal::SignatureStructure {
                element: e,
                problem: "x",
            },
            Refusal::ReferenceUriMismatch {
                element: e,
                expected: s(),
                received: s(),
            },
            Refusal::TransformsNotAllowed {
                element: e,
                received: vec![],
            },
            Refusal::CanonicalizationNotAllowed {
                element: e,
                received: s(),
            },
            Refusal::SignatureAlgorithmNotAllowed {
                element: e,
                received: s(),
            },
            Refusal::DigestAlgorithmNotAllowed {
                element: e,
                received: s(),
            },
            Refusal::Sha1NotAllowed {
                element: e,
                received: s(),
            },
            Refusal::NoTrustedCertificate { configured: 0 },
            Refusal::CertificateNotTrusted {
                element: e,
                fingerprint: s(),
            },
            Refusal::CertificateNotValidNow {
                element: e,
                fingerprint: s(),
                not_before_ms: 0,
                not_after_ms: 0,
            },
            Refusal::KeyUnusable { problem: "x" },
            Refusal::DigestMismatch { element: e },
            Refusal::SignatureInvalid { element: e },
            Refusal::Unsigned,
            Refusal::EncryptionAlgorithmNotAllowed {
                what: "x",
                received: s(),
            },
            Refusal::NoDecryptionKey,
            Refusal::DecryptionFailed,
            Refusal::Unsupported { what: "x" },
            Refusal::StatusNotSuccess {
                status: s(),
                sub_status: Some(s()),
                message: Some(s()),
            },
            Refusal::Version {
                element: e,
                received: s(),
            },
            Refusal::IssuerMismatch {
                element: e,
                expected: s(),
                received: s(),
            },
            Refusal::AudienceMismatch {
                expected: s(),
                received: vec![],
            },
            Refusal::DestinationMismatch {
                expected: s(),
                received: s(),
            },
            Refusal::RecipientMismatch {
                expected: s(),
                received: s(),
            },
            Refusal::NoBearerConfirmation,
            Refusal::Missing { what: "x" },
            Refusal::NotYetValid {
                field: "x",
                at_ms: 0,
                now_ms: 0,
                skew_ms: 0,
            },
            Refusal::Expired {
                field: "x",
                at_ms: 0,
                now_ms: 0,
                skew_ms: 0,
            },
            Refusal::BadTime { field: "x" },
            Refusal::InResponseToMismatch {
                response: s(),
                assertion: s(),
            },
            Refusal::WrongRequest {
                expected: s(),
                received: s(),
            },
            Refusal::UnexpectedInResponseTo { received: s() },
            Refusal::UnsolicitedNotAllowed,
            Refusal::UnsolicitedTooOld {
                issued_ms: 0,
                max_age_ms: 0,
                now_ms: 0,
            },
            Refusal::MarkupInValue { what: "x" },
            Refusal::AmbiguousConfirmation,
            Refusal::NotDeflate,
        ];
        let mut seen = std::collections::HashSet::new();
        for r in &all {
            assert!(
                Refusal::CODES.contains(&r.code()),
                "{} not listed",
                r.code()
            );
            assert!(seen.insert(r.code()), "{} twice", r.code());
            assert!(!r.to_string().is_empty());
        }
        assert_eq!(seen.len(), Refusal::CODES.len());
    }
}
