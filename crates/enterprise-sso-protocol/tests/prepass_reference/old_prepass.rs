//! The pre-pass as it was before issue 31's speed work: a `quick-xml` pull parser
//! (attribute duplicate checks off), kept frozen as the reference of
//! `tests/prepass_reference.rs`.

use enterprise_sso_protocol::xml::{
    PrepassError, XmlLimit, MAX_XML_ATTRIBUTES, MAX_XML_DEPTH, MAX_XML_NAMESPACES_IN_SCOPE,
    MAX_XML_NAMESPACES_PER_ELEMENT, MAX_XML_NAMESPACE_DECLARATIONS,
};

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
