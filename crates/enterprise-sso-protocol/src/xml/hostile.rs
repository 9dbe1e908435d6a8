//! Adversarial XML shapes (feature `testing`), shared by the growth tests and the
//! benchmark. Each builder takes a target size in bytes (`usize::MAX` for the metadata
//! size limit) and returns a document of about that size.

use crate::saml::metadata::MAX_METADATA_BYTES;

/// A shape builder: target size in bytes to document.
pub type Build = fn(usize) -> String;

/// Every shape, by name.
pub const SHAPES: &[(&str, Build)] = &[
    ("namespace_scope", namespace_scope),
    ("many_attributes", many_attributes),
    ("many_xmlns", many_xmlns),
    ("namespace_total", namespace_total),
    ("nested_scope", nested_scope),
    ("widest_allowed", widest_allowed),
    ("deep", deep),
];

fn target(size: usize) -> usize {
    size.min(MAX_METADATA_BYTES - 1024)
}

/// The reported shape: the root declares K prefixes and N children each one more.
pub fn namespace_scope(size: usize) -> String {
    let size = target(size);
    let k = size / 2 / 20;
    let mut s = String::with_capacity(size + 64);
    s.push_str("<r");
    for i in 0..k {
        s.push_str(&format!(" xmlns:p{i}=\"u\""));
    }
    s.push('>');
    while s.len() + 32 < size {
        s.push_str("<b xmlns:q=\"u\"/>");
    }
    s.push_str("</r>");
    s
}

/// One element with as many attributes as fit.
pub fn many_attributes(size: usize) -> String {
    let size = target(size);
    let mut s = String::with_capacity(size + 64);
    s.push_str("<r");
    let mut i = 0;
    while s.len() + 16 < size {
        s.push_str(&format!(" a{i}=\"\""));
        i += 1;
    }
    s.push_str("/>");
    s
}

/// One element with as many namespace declarations as fit.
pub fn many_xmlns(size: usize) -> String {
    let size = target(size);
    let mut s = String::with_capacity(size + 64);
    s.push_str("<r");
    let mut i = 0;
    while s.len() + 24 < size {
        s.push_str(&format!(" xmlns:n{i}=\"u\""));
        i += 1;
    }
    s.push_str("/>");
    s
}

/// Many elements, each declaring one namespace.
pub fn namespace_total(size: usize) -> String {
    let size = target(size);
    let mut s = String::with_capacity(size + 64);
    s.push_str("<r>");
    while s.len() + 24 < size {
        s.push_str("<b xmlns:q=\"u\"/>");
    }
    s.push_str("</r>");
    s
}

fn declaring(name: &str, count: usize, close: bool) -> String {
    let mut s = format!("<{name}");
    for i in 0..count {
        s.push_str(&format!(" xmlns:{name}{i}=\"u\""));
    }
    s.push_str(if close { "/>" } else { ">" });
    s
}

/// Nested elements, each declaring as many prefixes as one element may.
pub fn nested_scope(size: usize) -> String {
    let size = target(size);
    let per = crate::xml::MAX_XML_NAMESPACES_PER_ELEMENT;
    let mut s = String::with_capacity(size + 64);
    let mut depth = 0;
    while s.len() + 600 < size && depth < crate::xml::MAX_XML_DEPTH - 1 {
        s.push_str(&declaring("e", per, false));
        depth += 1;
    }
    s.push_str(&"</e>".repeat(depth));
    s
}

/// The costliest shape the limits allow: siblings that each carry the most attributes
/// and namespace declarations one element may, under a root that declares the most
/// prefixes; the tree builder runs on all of it.
pub fn widest_allowed(size: usize) -> String {
    let size = target(size);
    let max_attrs = crate::xml::MAX_XML_ATTRIBUTES;
    let mut child = String::from("<c");
    for i in 0..max_attrs {
        child.push_str(&format!(" a{i}=\"\""));
    }
    child.push_str("/>");
    let per = crate::xml::MAX_XML_NAMESPACES_PER_ELEMENT;
    let mut s = String::with_capacity(size + 64);
    s.push_str(&declaring("r", per, false));
    // Children that declare namespaces too, up to the document total.
    let mut declarations = per;
    while declarations + per <= crate::xml::MAX_XML_NAMESPACE_DECLARATIONS && s.len() + 2000 < size
    {
        s.push_str(&declaring("d", per, true));
        declarations += per;
    }
    while s.len() + child.len() + 8 < size {
        s.push_str(&child);
    }
    s.push_str("</r>");
    s
}

/// Elements nested as deep as the size allows.
pub fn deep(size: usize) -> String {
    let n = target(size) / 7;
    "<a>".repeat(n) + &"</a>".repeat(n)
}
