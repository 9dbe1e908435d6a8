//! A streaming pre-pass over XML that enforces structural limits before any tree is built.
//!
//! Tree builders spend more than linear time on some shapes: a duplicate-attribute check
//! that compares every pair of attributes of an element, and namespace scopes copied into
//! every element that declares one more prefix. The pre-pass reads the document once with
//! `quick-xml` (a linear pull parser, attribute duplicate checks off) and refuses it as
//! soon as one of these limits is passed, so the tree builder only ever sees documents
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
pub fn check(xml: &str) -> Result<(), PrepassError> {
    use quick_xml::events::Event;

    let mut reader = quick_xml::Reader::from_str(xml);
    // Namespace declarations made by each open element, so that scope shrinks on close.
    let mut declared_by_open: Vec<usize> = Vec::new();
    let mut in_scope = 0usize;
    let mut total_declarations = 0usize;
    loop {
        let event = reader.read_event().map_err(|e| malformed(&e))?;
        let (start, empty) = match &event {
            Event::Start(s) => (s, false),
            Event::Empty(s) => (s, true),
            Event::End(_) => {
                in_scope -= declared_by_open.pop().unwrap_or(0);
                continue;
            }
            Event::DocType(_) => return Err(PrepassError::Doctype),
            Event::Eof => return Ok(()),
            _ => continue,
        };
        if declared_by_open.len() + 1 > MAX_XML_DEPTH {
            return Err(PrepassError::Limit(XmlLimit::Depth));
        }
        let mut attributes = 0usize;
        let mut declarations = 0usize;
        let mut attrs = start.attributes();
        attrs.with_checks(false);
        for attr in attrs {
            let attr = attr.map_err(|e| malformed(&e))?;
            let key = attr.key.as_ref();
            if key == "xmlns" || key.starts_with("xmlns:") {
                declarations += 1;
                if declarations > MAX_XML_NAMESPACES_PER_ELEMENT {
                    return Err(PrepassError::Limit(XmlLimit::NamespacesPerElement));
                }
            }
            attributes += 1;
            if attributes > MAX_XML_ATTRIBUTES {
                return Err(PrepassError::Limit(XmlLimit::AttributesPerElement));
            }
        }
        total_declarations += declarations;
        if total_declarations > MAX_XML_NAMESPACE_DECLARATIONS {
            return Err(PrepassError::Limit(XmlLimit::NamespaceDeclarations));
        }
        if in_scope + declarations > MAX_XML_NAMESPACES_IN_SCOPE {
            return Err(PrepassError::Limit(XmlLimit::NamespacesInScope));
        }
        if !empty {
            in_scope += declarations;
            declared_by_open.push(declarations);
        }
    }
}

fn malformed(e: &dyn std::fmt::Display) -> PrepassError {
    PrepassError::Malformed(e.to_string().chars().take(200).collect())
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
