//! SAML inputs: IdP metadata (XML) and IdP certificates (X.509), parsed defensively.
//!
//! Metadata is parsed with `roxmltree` with DTDs refused: a `<!DOCTYPE` is an error, so no
//! entity can be declared, expanded (billion laughs) or fetched (XXE); roxmltree never
//! resolves external resources anyway. Input size ([`MAX_METADATA_BYTES`]), node count
//! ([`MAX_XML_NODES`]) and element depth ([`MAX_XML_DEPTH`]) are bounded, and the tree is
//! walked without recursion. Before the tree is built, a linear streaming pre-pass
//! ([`crate::xml`]) bounds depth, attributes and namespace declarations, so the
//! cost of any input up to the size limit is linear in its size.

use base64::Engine;

/// Largest metadata document accepted, in bytes.
pub const MAX_METADATA_BYTES: usize = crate::limits::MAX_METADATA_LEN;
/// Most XML nodes in one metadata document.
pub const MAX_XML_NODES: u32 = 100_000;
pub use crate::xml::{
    XmlLimit, MAX_XML_ATTRIBUTES, MAX_XML_DEPTH, MAX_XML_NAMESPACES_IN_SCOPE,
    MAX_XML_NAMESPACES_PER_ELEMENT, MAX_XML_NAMESPACE_DECLARATIONS,
};

const MD_NS: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
const DS_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
/// The HTTP-Redirect binding.
pub const BINDING_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
/// The HTTP-POST binding.
pub const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";

/// Why a certificate was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateError {
    /// Neither a PEM block nor base64.
    #[error("is neither a PEM certificate nor base64 DER")]
    NotEncoded,
    /// A PEM block of another kind (a key, a certificate request).
    #[error("is a PEM `{label}` block, not a CERTIFICATE")]
    WrongType {
        /// The PEM label (sanitised).
        label: String,
    },
    /// Decoded, but not a DER X.509 certificate.
    #[error("is not a valid X.509 certificate")]
    NotX509,
    /// Text outside the PEM blocks.
    #[error("has text outside its PEM blocks")]
    TrailingData,
    /// More PEM blocks than [`MAX_CERTIFICATES_PER_FIELD`].
    #[error("has more than {max} PEM blocks")]
    TooMany {
        /// The limit.
        max: usize,
    },
    /// A field that takes one certificate holds several.
    #[error("holds {count} certificates; give exactly one")]
    NotOne {
        /// How many it holds.
        count: usize,
    },
}

/// A parsed X.509 certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// DER bytes.
    pub der: Vec<u8>,
    /// Start of validity, Unix ms.
    pub not_before_ms: i64,
    /// End of validity, Unix ms.
    pub not_after_ms: i64,
}

impl Certificate {
    /// The certificate as PEM text.
    pub fn to_pem(&self) -> String {
        let b64 = base64::engine::general_purpose::STANDARD.encode(&self.der);
        let mut out = String::with_capacity(b64.len() + 64);
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
        out
    }

    /// Whether it has expired at `now_ms`.
    pub fn is_expired_at(&self, now_ms: i64) -> bool {
        self.not_after_ms < now_ms
    }
}

/// Most certificates one certificate field may hold; counted before any is decoded.
pub const MAX_CERTIFICATES_PER_FIELD: usize = 16;

/// Parses a field that holds exactly one certificate: one PEM `CERTIFICATE` block or bare
/// base64 DER (rules at [`parse_certificates`]).
pub fn parse_certificate(text: &str) -> Result<Certificate, CertificateError> {
    let mut certs = parse_certificates(text)?;
    match certs.len() {
        1 => Ok(certs.remove(0)),
        count => Err(CertificateError::NotOne { count }),
    }
}

/// Parses PEM text (one or more `CERTIFICATE` blocks, lines may be indented) or bare
/// base64 DER. Any other PEM block (a private key, a request) makes the whole text
/// invalid, as does text outside the blocks; the error names the block's label, never
/// its contents. At most [`MAX_CERTIFICATES_PER_FIELD`] blocks; time is linear in the
/// input.
pub fn parse_certificates(text: &str) -> Result<Vec<Certificate>, CertificateError> {
    const BEGIN: &str = "-----BEGIN ";
    let text = text.trim();
    if !text.starts_with("-----BEGIN") {
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(compact.as_bytes())
            .map_err(|_| CertificateError::NotEncoded)?;
        return certificate_from_der(der).map(|c| vec![c]);
    }
    let blocks = text.matches("-----BEGIN").count();
    if blocks > MAX_CERTIFICATES_PER_FIELD {
        return Err(CertificateError::TooMany {
            max: MAX_CERTIFICATES_PER_FIELD,
        });
    }
    // Every block's label first: a key anywhere refuses the field before anything is
    // decoded.
    let mut spans = Vec::with_capacity(blocks);
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        let after = rest
            .strip_prefix(BEGIN)
            .ok_or(CertificateError::TrailingData)?;
        let (label, after) = after
            .split_once("-----")
            .ok_or(CertificateError::NotEncoded)?;
        if label != "CERTIFICATE" {
            return Err(CertificateError::WrongType {
                label: sanitize_label(label),
            });
        }
        let end = after
            .find("-----END CERTIFICATE-----")
            .ok_or(CertificateError::NotEncoded)?;
        spans.push(&after[..end]);
        rest = &after[end + "-----END CERTIFICATE-----".len()..];
    }
    spans
        .into_iter()
        .map(|body| {
            let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            let der = base64::engine::general_purpose::STANDARD
                .decode(compact.as_bytes())
                .map_err(|_| CertificateError::NotEncoded)?;
            certificate_from_der(der)
        })
        .collect()
}

fn sanitize_label(label: &str) -> String {
    label
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == ' ')
        .take(40)
        .collect()
}

fn certificate_from_der(der: Vec<u8>) -> Result<Certificate, CertificateError> {
    let (not_before_ms, not_after_ms) = {
        let (rest, cert) =
            x509_parser::parse_x509_certificate(&der).map_err(|_| CertificateError::NotX509)?;
        if !rest.is_empty() {
            return Err(CertificateError::NotX509);
        }
        let v = cert.validity();
        (
            v.not_before.timestamp().saturating_mul(1000),
            v.not_after.timestamp().saturating_mul(1000),
        )
    };
    Ok(Certificate {
        der,
        not_before_ms,
        not_after_ms,
    })
}

/// Why IdP metadata was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MetadataError {
    /// Larger than [`MAX_METADATA_BYTES`].
    #[error("is larger than {max} bytes")]
    TooLarge {
        /// The limit.
        max: usize,
    },
    /// Has a DOCTYPE (refused: no entities, no external references).
    #[error("has a DOCTYPE, which is not allowed")]
    Doctype,
    /// More than [`MAX_XML_NODES`] nodes.
    #[error("has more than {max} XML nodes")]
    TooManyNodes {
        /// The limit.
        max: u32,
    },
    /// Nested deeper than [`MAX_XML_DEPTH`].
    #[error("nests elements deeper than {max}")]
    TooDeep {
        /// The limit.
        max: usize,
    },
    /// Passed a structural limit of [`crate::xml`] (attributes or namespace
    /// declarations per element, in scope or in total).
    #[error("has more {} than the limit of {}", .0.what(), .0.max())]
    LimitExceeded(XmlLimit),
    /// Not well-formed XML.
    #[error("is not well-formed XML ({reason})")]
    Malformed {
        /// The parser's reason (position and kind).
        reason: String,
    },
    /// No `EntityDescriptor` (well-formed XML without what is needed).
    #[error("has no EntityDescriptor")]
    NoEntityDescriptor,
    /// An `EntitiesDescriptor` aggregate with several IdP entities, and no `idp_entity_id`
    /// naming one of them.
    #[error("holds {count} IdP entities ({}); set idp_entity_id to choose one", .entity_ids.join(", "))]
    AmbiguousEntity {
        /// How many IdP entities.
        count: usize,
        /// The first few entity ids (each cut to 200 characters).
        entity_ids: Vec<String>,
    },
    /// More signing certificates than [`MAX_CERTIFICATES_PER_FIELD`].
    #[error("has more than {max} signing certificates")]
    TooManyCertificates {
        /// The limit.
        max: usize,
    },
    /// Required parts are missing (named, like Clerk's `saml_metadata_missing_fields`).
    #[error("is missing {}", .0.join(", "))]
    MissingFields(Vec<&'static str>),
    /// A signing certificate in the metadata is not a valid certificate.
    #[error("has a signing certificate that {0}")]
    InvalidCertificate(CertificateError),
}

/// One `SingleSignOnService`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoService {
    /// Binding URI.
    pub binding: String,
    /// Location URL.
    pub location: String,
}

/// What the library needs from IdP metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpMetadata {
    /// `entityID`.
    pub entity_id: String,
    /// SSO services with the HTTP-Redirect or HTTP-POST binding, in document order.
    pub sso_services: Vec<SsoService>,
    /// Signing certificates (`KeyDescriptor` with `use="signing"` or no `use`), in order.
    pub signing_certificates: Vec<Certificate>,
}

impl IdpMetadata {
    /// The SSO URL to use: the HTTP-Redirect service if there is one, else HTTP-POST.
    pub fn preferred_sso_url(&self) -> Option<&str> {
        self.sso_services
            .iter()
            .find(|s| s.binding == BINDING_REDIRECT)
            .or_else(|| self.sso_services.first())
            .map(|s| s.location.as_str())
    }

    /// Whether `url` is one of the metadata's SSO locations (compared in the URL policy's
    /// canonical form, so `https://IdP.example.com` matches `https://idp.example.com/`).
    pub fn has_sso_url(&self, url: &str) -> bool {
        let canonical = crate::url_policy::canonical_url(url);
        self.sso_services.iter().any(|s| {
            s.location == url
                || (canonical.is_some()
                    && crate::url_policy::canonical_url(&s.location) == canonical)
        })
    }

    /// Whether `cert` is one of the metadata's signing certificates (same DER).
    pub fn has_certificate(&self, cert: &Certificate) -> bool {
        self.signing_certificates.iter().any(|c| c.der == cert.der)
    }
}

/// The entity to read among every `EntityDescriptor` of the document (rules at
/// [`parse_metadata_for`]). Without any IdP entity, a lone entity is read (and reported as
/// missing its `IDPSSODescriptor`).
fn choose_entity<'a, 'i>(
    entities: &[roxmltree::Node<'a, 'i>],
    want: Option<&str>,
) -> Result<roxmltree::Node<'a, 'i>, MetadataError> {
    let idps: Vec<_> = entities
        .iter()
        .filter(|e| e.children().any(|c| is_md(&c, "IDPSSODescriptor")))
        .copied()
        .collect();
    fn id<'a>(e: &roxmltree::Node<'a, '_>) -> Option<&'a str> {
        e.attribute("entityID").map(str::trim)
    }
    if let Some(found) = want.and_then(|w| idps.iter().find(|e| id(e) == Some(w.trim()))) {
        return Ok(*found);
    }
    match (idps.as_slice(), entities) {
        ([one], _) => Ok(*one),
        ([], []) => Err(MetadataError::NoEntityDescriptor),
        ([], [lone]) => Ok(*lone),
        ([], _) => Err(MetadataError::MissingFields(vec!["IDPSSODescriptor"])),
        (many, _) => Err(MetadataError::AmbiguousEntity {
            count: many.len(),
            entity_ids: many
                .iter()
                .take(5)
                .map(|e| id(e).unwrap_or_default().chars().take(200).collect())
                .collect(),
        }),
    }
}

fn is_md(node: &roxmltree::Node<'_, '_>, name: &str) -> bool {
    node.is_element()
        && node.tag_name().name() == name
        && node.tag_name().namespace() == Some(MD_NS)
}

/// Decodes a metadata document as fetched (bytes) into text, as an XML 1.0 parser must:
/// UTF-8 (a byte-order mark is dropped), or UTF-16 little- or big-endian when the document
/// starts with that byte-order mark. Anything else that is not UTF-8 is refused.
pub fn decode_metadata_bytes(bytes: Vec<u8>) -> Result<String, MetadataError> {
    let utf16 = |le: bool| -> Result<String, MetadataError> {
        let body = &bytes[2..];
        if !body.len().is_multiple_of(2) {
            return Err(MetadataError::Malformed {
                reason: "UTF-16 document with an odd number of bytes".into(),
            });
        }
        let units = body.chunks_exact(2).map(|p| {
            if le {
                u16::from_le_bytes([p[0], p[1]])
            } else {
                u16::from_be_bytes([p[0], p[1]])
            }
        });
        char::decode_utf16(units)
            .collect::<Result<String, _>>()
            .map_err(|_| MetadataError::Malformed {
                reason: "invalid UTF-16".into(),
            })
    };
    match bytes.get(..3) {
        Some([0xEF, 0xBB, 0xBF]) => {
            String::from_utf8(bytes[3..].to_vec()).map_err(|_| MetadataError::Malformed {
                reason: "not UTF-8".into(),
            })
        }
        Some([0xFF, 0xFE, _]) => utf16(true),
        Some([0xFE, 0xFF, _]) => utf16(false),
        _ => String::from_utf8(bytes).map_err(|_| MetadataError::Malformed {
            reason: "not UTF-8 (nor UTF-16 with a byte-order mark)".into(),
        }),
    }
}

/// Parses and checks IdP metadata: one `EntityDescriptor`, or an `EntitiesDescriptor`
/// aggregate holding exactly one IdP entity (one with an `IDPSSODescriptor`; SP entities
/// beside it are ignored). An aggregate with several IdP entities needs
/// [`parse_metadata_for`].
pub fn parse_metadata(xml: &str) -> Result<IdpMetadata, MetadataError> {
    parse_metadata_for(xml, None)
}

/// [`parse_metadata`], choosing the IdP entity whose `entityID` is `want` when the
/// document holds several. When `want` names none of them and there are several,
/// [`MetadataError::AmbiguousEntity`] lists them; with exactly one IdP entity, that one is
/// returned whatever `want` says (the caller compares the ids).
pub fn parse_metadata_for(xml: &str, want: Option<&str>) -> Result<IdpMetadata, MetadataError> {
    if xml.len() > MAX_METADATA_BYTES {
        return Err(MetadataError::TooLarge {
            max: MAX_METADATA_BYTES,
        });
    }
    // A byte-order mark and white space before the XML declaration are common in
    // downloaded metadata (Entra ID's carries a BOM); XML parsers read past them.
    let xml = xml.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    // Linear pre-pass: refuses shapes the tree builder would spend super-linear time on,
    // and checks depth before any tree exists.
    crate::xml::check(xml).map_err(|e| match e {
        crate::xml::PrepassError::Doctype => MetadataError::Doctype,
        crate::xml::PrepassError::Limit(XmlLimit::Depth) => {
            MetadataError::TooDeep { max: MAX_XML_DEPTH }
        }
        crate::xml::PrepassError::Limit(limit) => MetadataError::LimitExceeded(limit),
        crate::xml::PrepassError::Malformed(reason) => MetadataError::Malformed { reason },
    })?;
    let opts = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_XML_NODES,
        ..roxmltree::ParsingOptions::default()
    };
    let doc = roxmltree::Document::parse_with_options(xml, opts).map_err(|e| match e {
        roxmltree::Error::DtdDetected => MetadataError::Doctype,
        roxmltree::Error::NodesLimitReached => MetadataError::TooManyNodes { max: MAX_XML_NODES },
        other => MetadataError::Malformed {
            reason: other.to_string().chars().take(200).collect(),
        },
    })?;

    // Depth check and EntityDescriptor search in one iterative walk.
    let mut entities = Vec::new();
    let mut stack = vec![(doc.root(), 0usize)];
    while let Some((node, depth)) = stack.pop() {
        if depth > MAX_XML_DEPTH {
            return Err(MetadataError::TooDeep { max: MAX_XML_DEPTH });
        }
        if is_md(&node, "EntityDescriptor") {
            entities.push(node);
        }
        stack.extend(
            node.children()
                .filter(|c| c.is_element())
                .map(|c| (c, depth + 1)),
        );
    }
    let entity = choose_entity(&entities, want)?;

    let mut missing = Vec::new();
    let entity_id = entity
        .attribute("entityID")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    if entity_id.is_none() {
        missing.push("entityID");
    }
    let idp = entity.children().find(|c| is_md(c, "IDPSSODescriptor"));
    let mut sso_services = Vec::new();
    let mut signing_certificates = Vec::new();
    match idp {
        None => missing.extend([
            "IDPSSODescriptor",
            "SingleSignOnService",
            "signing certificate",
        ]),
        Some(idp) => {
            for s in idp.children().filter(|c| is_md(c, "SingleSignOnService")) {
                let binding = s.attribute("Binding").unwrap_or_default();
                let location = s.attribute("Location").map(str::trim).unwrap_or_default();
                if (binding == BINDING_REDIRECT || binding == BINDING_POST) && !location.is_empty()
                {
                    sso_services.push(SsoService {
                        binding: binding.to_owned(),
                        location: location.to_owned(),
                    });
                }
            }
            if sso_services.is_empty() {
                missing.push("SingleSignOnService (HTTP-Redirect or HTTP-POST)");
            }
            for kd in idp.children().filter(|c| is_md(c, "KeyDescriptor")) {
                if !matches!(kd.attribute("use"), None | Some("signing")) {
                    continue;
                }
                let certs = kd.descendants().filter(|n| {
                    n.is_element()
                        && n.tag_name().name() == "X509Certificate"
                        && n.tag_name().namespace() == Some(DS_NS)
                });
                for c in certs {
                    let text: String = c
                        .text()
                        .unwrap_or_default()
                        .chars()
                        .filter(|c| !c.is_whitespace())
                        .collect();
                    let der = base64::engine::general_purpose::STANDARD
                        .decode(text.as_bytes())
                        .map_err(|_| {
                            MetadataError::InvalidCertificate(CertificateError::NotEncoded)
                        })?;
                    let cert =
                        certificate_from_der(der).map_err(MetadataError::InvalidCertificate)?;
                    // ADFS and others list one certificate under several KeyDescriptors.
                    if !signing_certificates
                        .iter()
                        .any(|x: &Certificate| x.der == cert.der)
                    {
                        if signing_certificates.len() == MAX_CERTIFICATES_PER_FIELD {
                            return Err(MetadataError::TooManyCertificates {
                                max: MAX_CERTIFICATES_PER_FIELD,
                            });
                        }
                        signing_certificates.push(cert);
                    }
                }
            }
            if signing_certificates.is_empty() {
                missing.push("signing certificate");
            }
        }
    }
    match entity_id {
        Some(entity_id) if missing.is_empty() => Ok(IdpMetadata {
            entity_id,
            sso_services,
            signing_certificates,
        }),
        _ => Err(MetadataError::MissingFields(missing)),
    }
}
