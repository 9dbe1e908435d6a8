//! A streaming pre-pass over XML that enforces structural limits before any tree is built.
//!
//! Tree builders spend more than linear time on some shapes: a duplicate-attribute check
//! that compares every pair of attributes of an element, and namespace scopes copied into
//! every element that declares one more prefix. The pre-pass reads the document once
//! ([`check`], a linear scanner) and refuses it as soon as one of these limits is passed, so the tree builder only ever sees documents
//! whose cost is linear in their size:
//!
//! | limit | value |
//! |---|---|
//! | element depth | [`MAX_XML_DEPTH`] |
//! | attributes on one element (namespace declarations included) | [`MAX_XML_ATTRIBUTES`] |
//! | namespace declarations on one element | [`MAX_XML_NAMESPACES_PER_ELEMENT`] |
//! | namespace declarations in scope at one element | [`MAX_XML_NAMESPACES_IN_SCOPE`] |
//! | namespace declarations in the document | [`MAX_XML_NAMESPACE_DECLARATIONS`] |
//!
//! A `<!DOCTYPE` is refused here too.

/// Deepest element nesting in one document.
pub const MAX_XML_DEPTH: usize = 64;
/// Most attributes on one element, namespace declarations included (real metadata uses
/// under a dozen; each one more costs the tree builder's duplicate check on every element).
pub const MAX_XML_ATTRIBUTES: usize = 32;
/// Most namespace declarations (`xmlns`, `xmlns:p`) on one element.
pub const MAX_XML_NAMESPACES_PER_ELEMENT: usize = 32;
/// Most namespace declarations in scope at one element (its own and its ancestors').
pub const MAX_XML_NAMESPACES_IN_SCOPE: usize = 64;
/// Most namespace declarations in one document.
pub const MAX_XML_NAMESPACE_DECLARATIONS: usize = 2048;

/// Which structural limit a document passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum XmlLimit {
    /// [`MAX_XML_DEPTH`].
    Depth,
    /// [`MAX_XML_ATTRIBUTES`].
    AttributesPerElement,
    /// [`MAX_XML_NAMESPACES_PER_ELEMENT`].
    NamespacesPerElement,
    /// [`MAX_XML_NAMESPACES_IN_SCOPE`].
    NamespacesInScope,
    /// [`MAX_XML_NAMESPACE_DECLARATIONS`].
    NamespaceDeclarations,
}

impl XmlLimit {
    /// The limit's value.
    pub fn max(self) -> usize {
        match self {
            Self::Depth => MAX_XML_DEPTH,
            Self::AttributesPerElement => MAX_XML_ATTRIBUTES,
            Self::NamespacesPerElement => MAX_XML_NAMESPACES_PER_ELEMENT,
            Self::NamespacesInScope => MAX_XML_NAMESPACES_IN_SCOPE,
            Self::NamespaceDeclarations => MAX_XML_NAMESPACE_DECLARATIONS,
        }
    }

    /// What is counted, in words.
    pub fn what(self) -> &'static str {
        match self {
            Self::Depth => "element nesting depth",
            Self::AttributesPerElement => "attributes on one element",
            Self::NamespacesPerElement => "namespace declarations on one element",
            Self::NamespacesInScope => "namespace declarations in scope",
            Self::NamespaceDeclarations => "namespace declarations in the document",
        }
    }
}

/// Why the pre-pass refused a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrepassError {
    /// A `<!DOCTYPE`.
    Doctype,
    /// A structural limit was passed.
    Limit(XmlLimit),
    /// Not well-formed (the reader's reason, bounded in length).
    Malformed(String),
}

/// Reads `xml` once and checks every limit of this module. Time and memory are linear in
/// the input; the scan stops at the first limit passed.
///
/// A hand-written scanner (it replaced a `quick-xml` pull parser, for speed: the SAML
/// verifier runs it on every response): markup is found with a vectorized search for `<`,
/// and each piece is read as XML 1.0 writes it: comments to `-->`, CDATA sections to
/// `]]>`, processing instructions to `?>`, end tags, and start tags with their
/// attributes read quote to quote (so a `>` or `/>` inside a value ends nothing). What
/// it cannot read as one of those is refused as [`PrepassError::Malformed`], and so is an
/// end tag that does not close the open element of the same name. It does not check
/// names, references or text: the parser that follows refuses what is not well-formed,
/// and only reads input the scan has already counted (up to its first error).
pub fn check(xml: &str) -> Result<(), PrepassError> {
    check_depth(xml, MAX_XML_DEPTH)
}

/// [`check`] with a lower depth limit than [`MAX_XML_DEPTH`] (a larger one is lowered
/// to it): `max_depth` nested elements pass, one more is refused as
/// [`XmlLimit::Depth`]. The SAML verifier asks for its own, smaller depth here, so no
/// walk of the tree is needed after the parse.
pub fn check_depth(xml: &str, max_depth: usize) -> Result<(), PrepassError> {
    let max_depth = max_depth.min(MAX_XML_DEPTH);
    let b = xml.as_bytes();
    // Per open element: its name, and the namespace declarations it made (so that scope
    // shrinks on close).
    let mut open: Vec<(&[u8], usize)> = Vec::new();
    let mut in_scope = 0usize;
    let mut total_declarations = 0usize;
    let mut at = 0usize;
    while let Some(found) = memchr::memchr(b'<', tail(b, at)) {
        let lt = at.saturating_add(found);
        let rest = tail(b, lt.saturating_add(1));
        at = match rest.first() {
            Some(b'?') => past(
                b,
                lt.saturating_add(2),
                b"?>",
                "unclosed processing instruction",
            )?,
            Some(b'!') if rest.starts_with(b"!--") => {
                past(b, lt.saturating_add(4), b"-->", "unclosed comment")?
            }
            Some(b'!') if rest.starts_with(b"![CDATA[") => {
                past(b, lt.saturating_add(9), b"]]>", "unclosed CDATA section")?
            }
            Some(b'!')
                if rest
                    .get(1..8)
                    .is_some_and(|d| d.eq_ignore_ascii_case(b"DOCTYPE")) =>
            {
                return Err(PrepassError::Doctype)
            }
            Some(b'!') => return Err(malformed_at("unknown markup declaration", lt)),
            Some(b'/') => {
                let start = lt.saturating_add(2);
                let end = name_end(b, start);
                let name = b.get(start..end).unwrap_or_default();
                let close = skip_space(b, end);
                if b.get(close) != Some(&b'>') {
                    return Err(malformed_at("end tag not closed by '>'", lt));
                }
                match open.pop() {
                    Some((open_name, declared)) if open_name == name => {
                        in_scope = in_scope.saturating_sub(declared);
                    }
                    _ => return Err(malformed_at("end tag does not match the open element", lt)),
                }
                close.saturating_add(1)
            }
            _ => {
                if open.len().saturating_add(1) > max_depth {
                    return Err(PrepassError::Limit(XmlLimit::Depth));
                }
                let start = lt.saturating_add(1);
                let mut i = name_end(b, start);
                let name = b.get(start..i).unwrap_or_default();
                if name.is_empty() {
                    return Err(malformed_at("element without a name", lt));
                }
                let mut attributes = 0usize;
                let mut declarations = 0usize;
                let empty = loop {
                    let after_space = skip_space(b, i);
                    match b.get(after_space) {
                        Some(b'>') => {
                            i = after_space.saturating_add(1);
                            break false;
                        }
                        Some(b'/') if b.get(after_space.saturating_add(1)) == Some(&b'>') => {
                            i = after_space.saturating_add(2);
                            break true;
                        }
                        Some(_) if after_space > i => {}
                        _ => return Err(malformed_at("start tag not closed", lt)),
                    }
                    // An attribute: name, `=`, quoted value.
                    let key_end = attribute_name_end(b, after_space);
                    let key = b.get(after_space..key_end).unwrap_or_default();
                    let eq = skip_space(b, key_end);
                    if key.is_empty() || b.get(eq) != Some(&b'=') {
                        return Err(malformed_at("attribute without '=' and a value", lt));
                    }
                    let quote_at = skip_space(b, eq.saturating_add(1));
                    let quote = match b.get(quote_at) {
                        Some(&q) if q == b'"' || q == b'\'' => q,
                        _ => return Err(malformed_at("attribute value not quoted", lt)),
                    };
                    let value_start = quote_at.saturating_add(1);
                    let Some(len) = memchr::memchr(quote, tail(b, value_start)) else {
                        return Err(malformed_at("unclosed attribute value", lt));
                    };
                    i = value_start.saturating_add(len).saturating_add(1);
                    if key == b"xmlns" || key.starts_with(b"xmlns:") {
                        declarations = declarations.saturating_add(1);
                        if declarations > MAX_XML_NAMESPACES_PER_ELEMENT {
                            return Err(PrepassError::Limit(XmlLimit::NamespacesPerElement));
                        }
                    }
                    attributes = attributes.saturating_add(1);
                    if attributes > MAX_XML_ATTRIBUTES {
                        return Err(PrepassError::Limit(XmlLimit::AttributesPerElement));
                    }
                };
                total_declarations = total_declarations.saturating_add(declarations);
                if total_declarations > MAX_XML_NAMESPACE_DECLARATIONS {
                    return Err(PrepassError::Limit(XmlLimit::NamespaceDeclarations));
                }
                if in_scope.saturating_add(declarations) > MAX_XML_NAMESPACES_IN_SCOPE {
                    return Err(PrepassError::Limit(XmlLimit::NamespacesInScope));
                }
                if !empty {
                    in_scope = in_scope.saturating_add(declarations);
                    open.push((name, declarations));
                }
                i
            }
        };
    }
    Ok(())
}

/// `b` from `at` on (empty past the end).
fn tail(b: &[u8], at: usize) -> &[u8] {
    b.get(at..).unwrap_or_default()
}

/// The index just past the first `end` at or after `from`, or `what` refused.
fn past(b: &[u8], from: usize, end: &[u8], what: &str) -> Result<usize, PrepassError> {
    memchr::memmem::find(tail(b, from), end)
        .map(|i| from.saturating_add(i).saturating_add(end.len()))
        .ok_or_else(|| malformed_at(what, from))
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r')
}

fn skip_space(b: &[u8], from: usize) -> usize {
    let n = tail(b, from).iter().take_while(|&&c| is_space(c)).count();
    from.saturating_add(n)
}

/// The end of an element name starting at `from`: white space, `/`, `>` or the end.
fn name_end(b: &[u8], from: usize) -> usize {
    let n = tail(b, from)
        .iter()
        .take_while(|&&c| !is_space(c) && c != b'/' && c != b'>')
        .count();
    from.saturating_add(n)
}

/// The end of an attribute name starting at `from`: white space, `=`, `/`, `>` or the
/// end.
fn attribute_name_end(b: &[u8], from: usize) -> usize {
    let n = tail(b, from)
        .iter()
        .take_while(|&&c| !is_space(c) && c != b'=' && c != b'/' && c != b'>')
        .count();
    from.saturating_add(n)
}

fn malformed_at(what: &str, at: usize) -> PrepassError {
    PrepassError::Malformed(format!("{what} (at byte {at})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn element_with(attrs: usize, prefix: &str) -> String {
        let mut s = String::from("<r");
        for i in 0..attrs {
            s.push_str(&format!(" {prefix}{i}=\"u\""));
        }
        s.push_str("/>");
        s
    }

    #[test]
    fn limits_are_exact() {
        assert_eq!(check(&element_with(MAX_XML_ATTRIBUTES, "a")), Ok(()));
        assert_eq!(
            check(&element_with(MAX_XML_ATTRIBUTES + 1, "a")),
            Err(PrepassError::Limit(XmlLimit::AttributesPerElement))
        );
        assert_eq!(
            check(&element_with(MAX_XML_NAMESPACES_PER_ELEMENT, "xmlns:p")),
            Ok(())
        );
        assert_eq!(
            check(&element_with(MAX_XML_NAMESPACES_PER_ELEMENT + 1, "xmlns:p")),
            Err(PrepassError::Limit(XmlLimit::NamespacesPerElement))
        );
        let deep_ok = "<a>".repeat(MAX_XML_DEPTH) + &"</a>".repeat(MAX_XML_DEPTH);
        assert_eq!(check(&deep_ok), Ok(()));
        let deep = "<a>".repeat(MAX_XML_DEPTH + 1) + &"</a>".repeat(MAX_XML_DEPTH + 1);
        assert_eq!(check(&deep), Err(PrepassError::Limit(XmlLimit::Depth)));
    }

    #[test]
    fn scope_shrinks_when_elements_close() {
        // Siblings each declare 32 prefixes: in scope never passes 32 + 32.
        let root = element_with(32, "xmlns:r").replace("/>", ">");
        let child = element_with(32, "xmlns:c");
        let doc = format!("{root}{}</r>", child.repeat(10));
        assert_eq!(check(&doc), Ok(()));
        // Nested, they pile up.
        let nested = format!(
            "{root}{}{}</r></r>",
            element_with(32, "xmlns:c").replace("/>", ">"),
            element_with(1, "xmlns:g"),
        );
        assert_eq!(
            check(&nested),
            Err(PrepassError::Limit(XmlLimit::NamespacesInScope))
        );
        // The document total counts every declaration.
        let many = format!("<r>{}</r>", "<b xmlns:q=\"u\"/>".repeat(2049));
        assert_eq!(
            check(&many),
            Err(PrepassError::Limit(XmlLimit::NamespaceDeclarations))
        );
    }

    #[test]
    fn doctype_and_malformed() {
        assert_eq!(
            check("<!DOCTYPE x [<!ENTITY a \"b\">]><x/>"),
            Err(PrepassError::Doctype)
        );
        assert!(matches!(
            check("<a><b></a>"),
            Err(PrepassError::Malformed(_))
        ));
    }
}
