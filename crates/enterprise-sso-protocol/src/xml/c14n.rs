//! Exclusive XML Canonicalization 1.0, without comments
//! (<https://www.w3.org/TR/xml-exc-c14n/>), of one element of a `roxmltree` document.
//!
//! This is the only canonicalization the SAML verifier accepts. It covers what a SAML
//! signature needs and nothing more:
//!
//! - the subtree of one element (the element a `Reference URI="#id"` names), optionally
//!   minus one descendant element and its subtree (the enveloped-signature transform
//!   removes the `ds:Signature` being verified);
//! - the `InclusiveNamespaces PrefixList` (`#default` names the default namespace);
//! - comments are dropped; processing instructions inside the element are kept; CDATA
//!   sections are text; text and attribute values are escaped as the specification says;
//! - namespace declarations are rendered where they are visibly utilized and not already
//!   rendered by an output ancestor with the same value, `xmlns=""` where an element
//!   without a prefix sits under a rendered non-empty default namespace; declarations come
//!   first, sorted by prefix, then attributes sorted by namespace URI and local name.
//!
//! `roxmltree` turns `\r\n` into `\n` but keeps a lone `\r` in text, where XML 1.0
//! (§2.11) wants every line break normalized before parsing: give the parser the output
//! of [`normalize_line_endings`] (the SAML verifier does).
//!
//! One deliberate difference from libxml2: namespace URIs are escaped like attribute
//! values, as the specification says (libxml2 writes them raw); no real namespace URI
//! holds `&`, `<` or `"`.
//!
//! The walk is iterative (no recursion), time is linear in the output, and the output is
//! capped ([`canonicalize`]'s `max_output`): a long namespace URI redeclared on many
//! siblings would otherwise grow the output quadratically in the input.
//!
//! The SAML verifier digests a signed Response and its signed Assertion, whose bytes are
//! most of the Response's: one walk gives both forms (`canonicalize_pair_with`). The
//! inner element's bytes go to both outputs, except where the two forms differ: the
//! namespace declarations of a start tag (each form's own, from its own rendered
//! ancestors and prefix list) and the subtree the inner form leaves out (its signature).
//! The tests compare the pair with two single walks on the corpora and on generated
//! namespace cases.

use roxmltree::{Node, NodeId};

const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// Why an element could not be canonicalized.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum C14nError {
    /// The node given is not an element.
    #[error("the node to canonicalize is not an element")]
    NotAnElement,
    /// The canonical form would be longer than the cap given.
    #[error("the canonical form is longer than {max} bytes")]
    TooLarge {
        /// The cap, in bytes.
        max: usize,
    },
    /// A qualified name could not be read back from the input (not expected from a
    /// document roxmltree accepted).
    #[error("a qualified name could not be read from the document")]
    BadName,
}

/// What to canonicalize beside the element itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct C14nOptions<'a> {
    /// An element of the subtree left out with its whole subtree (the enveloped
    /// `ds:Signature`).
    pub exclude: Option<NodeId>,
    /// The `InclusiveNamespaces PrefixList`, already split at white space; `#default`
    /// stands for the default namespace.
    pub inclusive_prefixes: &'a [&'a str],
    /// Largest output accepted, in bytes.
    pub max_output: usize,
}

/// XML 1.0 §2.11 line-break normalization of a whole document: `\r\n` and a lone `\r`
/// become `\n`. Borrowed when there is no `\r`.
pub fn normalize_line_endings(xml: &str) -> std::borrow::Cow<'_, str> {
    if !xml.contains('\r') {
        return std::borrow::Cow::Borrowed(xml);
    }
    let mut out = String::with_capacity(xml.len());
    let mut chars = xml.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' {
            if chars.peek() == Some(&'\n') {
                chars.next();
            }
            out.push('\n');
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Where canonical bytes are written: a `Vec<u8>`, or a digest fed as the walk goes (the
/// verifier hashes canonical forms without keeping them).
pub trait Sink {
    /// Appends `bytes` to the output.
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// Canonicalizes `element` and its subtree with exclusive c14n without comments.
pub fn canonicalize<'a, 'i: 'a>(
    element: Node<'a, 'i>,
    options: C14nOptions<'_>,
) -> Result<Vec<u8>, C14nError> {
    canonicalize_vec_with(&mut Scratch::default(), element, options)
}

/// Canonicalizes `element` like [`canonicalize`], writing into `sink`; returns the
/// number of bytes written. On an error, part of the output may have been written.
pub fn canonicalize_into<'a, 'i: 'a, S: Sink>(
    element: Node<'a, 'i>,
    options: C14nOptions<'_>,
    sink: &mut S,
) -> Result<usize, C14nError> {
    canonicalize_with(&mut Scratch::default(), element, options, sink)
}

/// The buffers of a canonicalization, kept from one call to the next over the same
/// document (the SAML verifier canonicalizes four elements of each response).
#[derive(Default)]
pub(crate) struct Scratch<'a, 'i> {
    /// `(uri, local, qname, value)` of the current element's attributes, sorted.
    attrs: Vec<(&'a str, &'a str, &'a str, &'a str)>,
    /// The prefixes the current element visibly utilizes, with their in-scope URI.
    utilized: Vec<(&'a str, &'a str)>,
    /// The namespace state of the walk's element, and of the inner element of a pair.
    outer: Rendering<'a>,
    inner: Rendering<'a>,
    /// Per open element: the declarations it pushed onto each `rendered`.
    pushed_by_open: Vec<(usize, usize)>,
    stack: Vec<Step<'a, 'i>>,
    /// The output of [`canonicalize_in_scratch`].
    bytes: Vec<u8>,
}

/// One canonical form's namespace state.
#[derive(Default)]
struct Rendering<'a> {
    /// `(prefix, uri)` rendered by the open output ancestors, innermost last (`""` is the
    /// default namespace).
    rendered: Vec<(&'a str, &'a str)>,
    wanted: Vec<(&'a str, &'a str)>,
    /// The current element's declarations to render, sorted by prefix.
    decls: Vec<(&'a str, &'a str)>,
}

impl<'a> Rendering<'a> {
    /// The URI an output ancestor rendered for `prefix`, innermost first.
    fn rendered_uri(&self, prefix: &str) -> Option<&'a str> {
        self.rendered
            .iter()
            .rev()
            .find(|(p, _)| same(p, prefix))
            .map(|(_, u)| *u)
    }

    /// Fills `decls` for `node`: the prefixes it `utilized` (and the `inclusive` ones in
    /// scope, as inclusive c14n has them) that no output ancestor rendered with the same
    /// URI.
    fn declarations(
        &mut self,
        node: Node<'a, '_>,
        utilized: &[(&'a str, &'a str)],
        inclusive: &[&str],
    ) {
        self.wanted.clear();
        self.wanted.extend_from_slice(utilized);
        if !inclusive.is_empty() {
            for ns in node.namespaces() {
                let p: &'a str = ns.name().unwrap_or("");
                if inclusive.contains(&p) && !self.wanted.iter().any(|(w, _)| same(w, p)) {
                    self.wanted.push((p, ns.uri()));
                }
            }
        }
        self.decls.clear();
        for i in 0..self.wanted.len() {
            let Some(&(prefix, uri)) = self.wanted.get(i) else {
                break;
            };
            if prefix == "xml" {
                continue;
            }
            let current = self.rendered_uri(prefix);
            let render = if prefix.is_empty() {
                // The default namespace: `xmlns=""` only to undo a rendered non-empty one.
                !same(current.unwrap_or(""), uri)
            } else {
                !current.is_some_and(|c| same(c, uri))
            };
            if render {
                self.decls.push((prefix, uri));
            }
        }
        if self.decls.len() > 1 {
            self.decls.sort_unstable_by(|a, b| a.0.cmp(b.0));
        }
    }

    /// Renders `decls` for the open element; returns how many it pushed.
    fn open(&mut self) -> usize {
        self.rendered.extend_from_slice(&self.decls);
        self.decls.len()
    }

    fn close(&mut self, pushed: usize) {
        let keep = self.rendered.len().saturating_sub(pushed);
        self.rendered.truncate(keep);
    }
}

enum Step<'a, 'i> {
    Open(Node<'a, 'i>),
    Close(&'i str),
    /// The inner element of a pair closed: its output ends.
    InnerEnd,
    /// The subtree the inner form leaves out closed: its output goes on.
    InnerResume,
}

/// [`canonicalize`] with the buffers of `scratch`.
pub(crate) fn canonicalize_vec_with<'a, 'i: 'a>(
    scratch: &mut Scratch<'a, 'i>,
    element: Node<'a, 'i>,
    options: C14nOptions<'_>,
) -> Result<Vec<u8>, C14nError> {
    // The canonical form is about as long as the element's text in the input: one
    // allocation in the usual case.
    let estimate = element.range().len().saturating_add(256);
    let mut bytes = Vec::with_capacity(estimate.min(options.max_output));
    canonicalize_with(scratch, element, options, &mut bytes)?;
    Ok(bytes)
}

/// [`canonicalize`] into a buffer of `scratch`, kept for the next call: the bytes are
/// valid until `scratch` is used again.
pub(crate) fn canonicalize_in_scratch<'s, 'a, 'i: 'a>(
    scratch: &'s mut Scratch<'a, 'i>,
    element: Node<'a, 'i>,
    options: C14nOptions<'_>,
) -> Result<&'s [u8], C14nError> {
    let mut bytes = std::mem::take(&mut scratch.bytes);
    bytes.clear();
    let written = canonicalize_with(scratch, element, options, &mut bytes);
    scratch.bytes = bytes;
    written?;
    Ok(&scratch.bytes)
}

/// [`canonicalize_into`] with the buffers of `scratch`.
pub(crate) fn canonicalize_with<'a, 'i: 'a, S: Sink>(
    scratch: &mut Scratch<'a, 'i>,
    element: Node<'a, 'i>,
    options: C14nOptions<'_>,
    sink: &mut S,
) -> Result<usize, C14nError> {
    let mut none = NoSink;
    let mut tee = Tee::new(sink, &mut none, usize::MAX);
    let len = walk(scratch, element, options, None, &mut tee)?;
    Ok(len)
}

/// The second element of a pair: one inside the walk's element, canonicalized with its
/// own options into its own sink in the same walk ([`canonicalize_pair_with`]).
pub(crate) struct Inner<'o, 'x, T: Sink> {
    /// The inner element.
    pub element: NodeId,
    /// Its options (`exclude` left out of its form only).
    pub options: C14nOptions<'o>,
    /// Where its canonical form goes.
    pub sink: &'x mut T,
}

/// Canonicalizes `element` into `sink` and, in the same walk, an element inside it into
/// the inner sink: the bytes of the inner subtree are produced once and go to both,
/// save where the two forms differ (namespace declarations, the inner's excluded
/// subtree). Each output is what [`canonicalize_into`] writes for its element.
///
/// `Ok(None)`, with nothing meaningful written, when one walk cannot give both forms:
/// the inner element is not a descendant of `element`, or the outer `exclude` is the
/// inner element, an ancestor of it, or inside it. The caller then canonicalizes each
/// on its own.
pub(crate) fn canonicalize_pair_with<'a, 'i: 'a, S: Sink, T: Sink>(
    scratch: &mut Scratch<'a, 'i>,
    element: Node<'a, 'i>,
    options: C14nOptions<'_>,
    sink: &mut S,
    inner: Inner<'_, '_, T>,
) -> Result<Option<(usize, usize)>, C14nError> {
    let doc = element.document();
    let Some(inner_node) = doc.get_node(inner.element) else {
        return Ok(None);
    };
    let inside = |n: Node<'_, '_>, top: Node<'_, '_>| n.ancestors().any(|a| a.id() == top.id());
    let outer_excluded = options.exclude.and_then(|id| doc.get_node(id));
    let pairable = inner_node.id() != element.id()
        && inner.options.exclude != Some(inner_node.id())
        && inside(inner_node, element)
        && !outer_excluded.is_some_and(|x| inside(inner_node, x) || inside(x, inner_node));
    if !pairable {
        return Ok(None);
    }
    let mut tee = Tee::new(sink, inner.sink, inner.options.max_output);
    let len = walk(
        scratch,
        element,
        options,
        Some((inner.element, inner.options)),
        &mut tee,
    )?;
    if tee.inner_over {
        return Err(C14nError::TooLarge {
            max: inner.options.max_output,
        });
    }
    Ok(Some((len, tee.inner_len)))
}

/// The outer and the inner canonical form of a pair walk.
#[cfg(feature = "testing")]
type PairBytes = (Vec<u8>, Vec<u8>);

/// [`canonicalize_pair_with`] into two vectors, for the tests that compare it with two
/// [`canonicalize`] calls.
#[cfg(feature = "testing")]
#[doc(hidden)]
pub fn canonicalize_pair<'a, 'i: 'a>(
    element: Node<'a, 'i>,
    options: C14nOptions<'_>,
    inner: NodeId,
    inner_options: C14nOptions<'_>,
) -> Result<Option<PairBytes>, C14nError> {
    let (mut outer_bytes, mut inner_bytes) = (Vec::new(), Vec::new());
    let lens = canonicalize_pair_with(
        &mut Scratch::default(),
        element,
        options,
        &mut outer_bytes,
        Inner {
            element: inner,
            options: inner_options,
            sink: &mut inner_bytes,
        },
    )?;
    Ok(lens.map(|(outer_len, inner_len)| {
        debug_assert_eq!(
            (outer_len, inner_len),
            (outer_bytes.len(), inner_bytes.len())
        );
        (outer_bytes, inner_bytes)
    }))
}

/// A sink that takes nothing (the missing inner sink of a single walk).
struct NoSink;

impl Sink for NoSink {
    fn put(&mut self, _: &[u8]) {}
}

/// The outer sink and the inner one of a walk; which of them takes the next bytes.
struct Tee<'x, S: Sink, T: Sink> {
    outer: &'x mut S,
    inner: &'x mut T,
    to_outer: bool,
    to_inner: bool,
    inner_len: usize,
    inner_max: usize,
    /// The inner form passed its cap (its output stopped there).
    inner_over: bool,
}

impl<'x, S: Sink, T: Sink> Tee<'x, S, T> {
    fn new(outer: &'x mut S, inner: &'x mut T, inner_max: usize) -> Self {
        Self {
            outer,
            inner,
            to_outer: true,
            to_inner: false,
            inner_len: 0,
            inner_max,
            inner_over: false,
        }
    }
}

impl<S: Sink, T: Sink> Sink for Tee<'_, S, T> {
    fn put(&mut self, bytes: &[u8]) {
        if self.to_outer {
            self.outer.put(bytes);
        }
        if self.to_inner && !self.inner_over {
            let len = self.inner_len.saturating_add(bytes.len());
            if len > self.inner_max {
                self.inner_over = true;
            } else {
                self.inner.put(bytes);
                self.inner_len = len;
            }
        }
    }
}

/// The walk: `element`'s canonical form into the outer sink of `tee` and, when `inner`
/// is given, the inner element's into its inner sink. Returns the outer length.
fn walk<'a, 'i: 'a, S: Sink, T: Sink>(
    scratch: &mut Scratch<'a, 'i>,
    element: Node<'a, 'i>,
    options: C14nOptions<'_>,
    inner: Option<(NodeId, C14nOptions<'_>)>,
    tee: &mut Tee<'_, S, T>,
) -> Result<usize, C14nError> {
    if !element.is_element() {
        return Err(C14nError::NotAnElement);
    }
    let mut out = Output {
        sink: tee,
        len: 0,
        max: options.max_output,
    };
    let inclusive = inclusive_list(options.inclusive_prefixes);
    let inner_inclusive = inner
        .map(|(_, o)| inclusive_list(o.inclusive_prefixes))
        .unwrap_or_default();
    let (inner_id, inner_exclude) = match inner {
        Some((id, o)) => (Some(id), o.exclude),
        None => (None, None),
    };
    let Scratch {
        attrs,
        utilized,
        outer,
        inner: inner_rendering,
        pushed_by_open,
        stack,
        ..
    } = scratch;
    outer.rendered.clear();
    inner_rendering.rendered.clear();
    pushed_by_open.clear();
    stack.clear();
    stack.push(Step::Open(element));
    while let Some(step) = stack.pop() {
        match step {
            Step::Close(qname) => {
                out.push(b"</")?;
                out.push(qname.as_bytes())?;
                out.push(b">")?;
                let (pushed, inner_pushed) = pushed_by_open.pop().unwrap_or_default();
                outer.close(pushed);
                inner_rendering.close(inner_pushed);
            }
            Step::InnerEnd => out.sink.to_inner = false,
            Step::InnerResume => out.sink.to_inner = true,
            Step::Open(node) => {
                if Some(node.id()) == options.exclude {
                    continue;
                }
                if Some(node.id()) == inner_id {
                    out.sink.to_inner = true;
                    stack.push(Step::InnerEnd);
                } else if out.sink.to_inner && Some(node.id()) == inner_exclude {
                    out.sink.to_inner = false;
                    stack.push(Step::InnerResume);
                }
                if node.is_text() {
                    escape_text(node.text().unwrap_or_default(), &mut out)?;
                    continue;
                }
                if node.is_pi() {
                    if let Some(pi) = node.pi() {
                        out.push(b"<?")?;
                        out.push(pi.target.as_bytes())?;
                        if let Some(value) = pi.value.filter(|v| !v.is_empty()) {
                            out.push(b" ")?;
                            out.push(value.as_bytes())?;
                        }
                        out.push(b"?>")?;
                    }
                    continue;
                }
                if !node.is_element() {
                    // Comments (and nothing else remains) are dropped.
                    continue;
                }
                let qname = element_qname(node)?;
                read_element(node, qname, attrs, utilized)?;
                outer.declarations(node, utilized, &inclusive);
                let inner_pushed = if out.sink.to_inner {
                    inner_rendering.declarations(node, utilized, &inner_inclusive);
                    if inner_rendering.decls != outer.decls {
                        // The two forms differ here: each start tag to its own sink.
                        out.sink.to_inner = false;
                        write_start(qname, &outer.decls, attrs, &mut out)?;
                        (out.sink.to_outer, out.sink.to_inner) = (false, true);
                        // Not counted against the outer cap: the tee caps the inner form.
                        let mut inner_only = Output {
                            sink: &mut *out.sink,
                            len: 0,
                            max: usize::MAX,
                        };
                        let written =
                            write_start(qname, &inner_rendering.decls, attrs, &mut inner_only);
                        out.sink.to_outer = true;
                        written?;
                    } else {
                        write_start(qname, &outer.decls, attrs, &mut out)?;
                    }
                    inner_rendering.open()
                } else {
                    write_start(qname, &outer.decls, attrs, &mut out)?;
                    0
                };
                pushed_by_open.push((outer.open(), inner_pushed));
                stack.push(Step::Close(qname));
                // Children in reverse, so the first comes off the stack first.
                let mut child = node.last_child();
                while let Some(c) = child {
                    stack.push(Step::Open(c));
                    child = c.prev_sibling();
                }
            }
        }
    }
    Ok(out.len)
}

/// The `InclusiveNamespaces` prefixes, `#default` read as `""`, each once.
fn inclusive_list<'p>(prefixes: &[&'p str]) -> Vec<&'p str> {
    let mut list: Vec<&str> = Vec::new();
    for p in prefixes {
        let p = if *p == "#default" { "" } else { *p };
        if !list.contains(&p) {
            list.push(p);
        }
    }
    list
}

struct Output<'s, S: Sink> {
    sink: &'s mut S,
    /// Bytes written so far.
    len: usize,
    max: usize,
}

impl<S: Sink> Output<'_, S> {
    fn push(&mut self, b: &[u8]) -> Result<(), C14nError> {
        let len = self.len.saturating_add(b.len());
        if len > self.max {
            return Err(C14nError::TooLarge { max: self.max });
        }
        self.sink.put(b);
        self.len = len;
        Ok(())
    }
}

/// Whether `a` and `b` are the same string. Most strings the walk compares are slices of
/// the document or of the parser's namespace table, often the very same slice, which
/// answers without reading them; short ones are compared inline, not through `memcmp`.
#[inline]
fn same(a: &str, b: &str) -> bool {
    if a.len() != b.len() {
        return false;
    }
    if std::ptr::eq(a.as_ptr(), b.as_ptr()) {
        return true;
    }
    if a.len() <= 16 {
        a.bytes().zip(b.bytes()).all(|(x, y)| x == y)
    } else {
        a == b
    }
}

/// Reads `node`'s attributes into `attrs`, sorted by namespace URI then local name, and
/// the prefixes it visibly utilizes (its own and its qualified attributes') into
/// `utilized`.
fn read_element<'a, 'i: 'a>(
    node: Node<'a, 'i>,
    qname: &'i str,
    attrs: &mut Vec<(&'a str, &'a str, &'a str, &'a str)>,
    utilized: &mut Vec<(&'a str, &'a str)>,
) -> Result<(), C14nError> {
    attrs.clear();
    utilized.clear();
    let element_uri = node.tag_name().namespace().unwrap_or("");
    utilized.push((prefix_of(qname), element_uri));
    let doc_text: &'i str = node.document().input_text();
    for a in node.attributes() {
        let aq = doc_text.get(a.range_qname()).ok_or(C14nError::BadName)?;
        let uri = a.namespace().unwrap_or("");
        let ap = prefix_of(aq);
        if !ap.is_empty() && uri != XML_NS && !utilized.iter().any(|(p, _)| same(p, ap)) {
            utilized.push((ap, uri));
        }
        attrs.push((uri, a.name(), aq, a.value()));
    }
    // By namespace URI, then local name; SAML elements mostly carry unqualified
    // attributes, often already in order.
    let attr_order = |a: &(&str, &str, &str, &str), b: &(&str, &str, &str, &str)| {
        if a.0.is_empty() && b.0.is_empty() {
            a.1.cmp(b.1)
        } else {
            (a.0, a.1).cmp(&(b.0, b.1))
        }
    };
    if !attrs.is_sorted_by(|a, b| attr_order(a, b) != std::cmp::Ordering::Greater) {
        attrs.sort_by(attr_order);
    }
    Ok(())
}

/// Writes a start tag: the name, the declarations (sorted), the attributes (sorted).
fn write_start(
    qname: &str,
    decls: &[(&str, &str)],
    attrs: &[(&str, &str, &str, &str)],
    out: &mut Output<'_, impl Sink>,
) -> Result<(), C14nError> {
    out.push(b"<")?;
    out.push(qname.as_bytes())?;
    for &(prefix, uri) in decls {
        if prefix.is_empty() {
            out.push(b" xmlns=\"")?;
        } else {
            out.push(b" xmlns:")?;
            out.push(prefix.as_bytes())?;
            out.push(b"=\"")?;
        }
        escape_attr(uri, out)?;
        out.push(b"\"")?;
    }
    for &(_, _, aq, value) in attrs {
        out.push(b" ")?;
        out.push(aq.as_bytes())?;
        out.push(b"=\"")?;
        escape_attr(value, out)?;
        out.push(b"\"")?;
    }
    out.push(b">")
}

/// The qualified name of an element as written in the input (roxmltree keeps the
/// namespace URI and local name, not the prefix).
///
/// The parser's local name is a slice of the input, right after the prefix's colon, so
/// the qualified name runs from the start tag's `<` to the local name's end: found by
/// where the slice lies, without reading the name. Anything else (a local name that is
/// not such a slice) is read from the input instead.
fn element_qname<'a, 'i: 'a>(node: Node<'a, 'i>) -> Result<&'i str, C14nError> {
    let text: &'i str = node.document().input_text();
    let start = node
        .range()
        .start
        .checked_add(1)
        .ok_or(C14nError::BadName)?;
    let local = node.tag_name().name();
    // Where the local name starts in the input, if it is a slice of it.
    let at = (local.as_ptr() as usize).wrapping_sub(text.as_ptr() as usize);
    let end = at.saturating_add(local.len());
    let bytes = text.as_bytes();
    let ends_the_name = matches!(
        bytes.get(end),
        Some(b' ' | b'\t' | b'\n' | b'\r' | b'/' | b'>')
    );
    let after_prefix = at == start
        || (at > start.saturating_add(1) && bytes.get(at.wrapping_sub(1)) == Some(&b':'));
    if at >= start && end <= text.len() && ends_the_name && after_prefix {
        if let Some(qname) = text.get(start..end) {
            return Ok(qname);
        }
    }
    element_qname_read(text, start, local)
}

/// [`element_qname`] read from the input: up to the first white space, `/` or `>`, the
/// part after its last colon being the parser's local name.
fn element_qname_read<'i>(text: &'i str, start: usize, local: &str) -> Result<&'i str, C14nError> {
    let rest = text.get(start..).ok_or(C14nError::BadName)?;
    let end = rest
        .bytes()
        .position(|b| b.is_ascii_whitespace() || b == b'/' || b == b'>')
        .ok_or(C14nError::BadName)?;
    let qname = rest.get(..end).ok_or(C14nError::BadName)?;
    // Sanity: the local part (after the last colon) is what roxmltree parsed.
    let local_start = qname
        .bytes()
        .rposition(|b| b == b':')
        .map_or(0, |colon| colon.saturating_add(1));
    let read_local = qname.get(local_start..).ok_or(C14nError::BadName)?;
    if qname.is_empty() || !same(read_local, local) {
        return Err(C14nError::BadName);
    }
    Ok(qname)
}

fn prefix_of(qname: &str) -> &str {
    // Names are short: a plain loop, not a substring search.
    match qname.bytes().position(|b| b == b':') {
        Some(colon) => qname.get(..colon).unwrap_or_default(),
        None => "",
    }
}

fn escape_text(s: &str, out: &mut Output<'_, impl Sink>) -> Result<(), C14nError> {
    escape(s, out, false)
}

fn escape_attr(s: &str, out: &mut Output<'_, impl Sink>) -> Result<(), C14nError> {
    escape(s, out, true)
}

/// The escape of one special byte (`None` for a byte written as it is).
const fn replacement(b: u8, attr: bool) -> Option<&'static [u8]> {
    Some(match b {
        b'&' => b"&amp;",
        b'<' => b"&lt;",
        b'\r' => b"&#xD;",
        b'>' if !attr => b"&gt;",
        b'"' if attr => b"&quot;",
        b'\t' if attr => b"&#x9;",
        b'\n' if attr => b"&#xA;",
        _ => return None,
    })
}

/// Where the next byte that text (`attr` false: `&`, `<`, `>`, CR) or an attribute value
/// (`attr` true: `&`, `<`, `"`, TAB, LF, CR) escapes is, from `from` on.
///
/// Two vectorized `memchr` searches (three bytes each) instead of a look-up per byte:
/// the long text of a SAML signature (certificates, signature values) has nothing to
/// escape and is found so in one pass. Each search's last answer is kept in `next`
/// (`Some(None)`: none left) and searched again only once passed, so the whole string is
/// read at most twice whatever it holds.
fn next_special(
    bytes: &[u8],
    from: usize,
    attr: bool,
    next: &mut [Option<Option<usize>>; 2],
) -> Option<usize> {
    let mut found = None;
    for (i, slot) in next.iter_mut().enumerate() {
        let stale = match *slot {
            None => true,
            Some(Some(at)) => at < from,
            Some(None) => false,
        };
        if stale {
            let rest = bytes.get(from..).unwrap_or_default();
            let hit = match (attr, i) {
                (false, 0) => memchr::memchr3(b'&', b'<', b'>', rest),
                (false, _) => memchr::memchr(b'\r', rest),
                (true, 0) => memchr::memchr3(b'&', b'<', b'"', rest),
                (true, _) => memchr::memchr3(b'\t', b'\n', b'\r', rest),
            };
            *slot = Some(hit.map(|h| h.saturating_add(from)));
        }
        if let Some(Some(at)) = *slot {
            found = Some(found.map_or(at, |f: usize| f.min(at)));
        }
    }
    found
}

/// Below this length a string is escaped by a table look-up per byte: most attribute
/// values and white-space text nodes are that short, where a vectorized search costs
/// more to set up than it saves.
const SHORT: usize = 32;

/// Bytes that text (`TEXT`) or an attribute value (`ATTR`) escapes, for short strings.
const fn special(attr: bool) -> [bool; 256] {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        // `b < 256`, so the cast is exact.
        #[allow(clippy::cast_possible_truncation)]
        let byte = b as u8;
        t[b] = replacement(byte, attr).is_some();
        b += 1;
    }
    t
}

const TEXT_SPECIAL: [bool; 256] = special(false);
const ATTR_SPECIAL: [bool; 256] = special(true);

/// Whether `bytes` holds a byte that text (`attr` false) or an attribute value (`attr`
/// true) escapes. Nearly every string of a SAML document has nothing to escape; this
/// answers so eight bytes at a time, without a search's set-up cost: each word is
/// tested for the special bytes with the exact zero-byte test of bit arithmetic
/// ([`has_byte`]), which compiles to straight-line code the compiler can vectorize.
fn needs_escape(bytes: &[u8], attr: bool) -> bool {
    let mut words = bytes.chunks_exact(8);
    let mut found = 0u64;
    for word in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        let w = u64::from_le_bytes(w);
        found |= if attr {
            has_byte(w, b'&')
                | has_byte(w, b'<')
                | has_byte(w, b'"')
                | has_byte(w, b'\t')
                | has_byte(w, b'\n')
                | has_byte(w, b'\r')
        } else {
            has_byte(w, b'&') | has_byte(w, b'<') | has_byte(w, b'>') | has_byte(w, b'\r')
        };
    }
    let table = if attr { &ATTR_SPECIAL } else { &TEXT_SPECIAL };
    found != 0 || words.remainder().iter().any(|&b| table[usize::from(b)])
}

/// Non-zero when a byte of the word `w` is `b`: the word XOR `b` in every byte has a zero
/// byte exactly then, and `(x - 0x01…01) & !x & 0x80…80` is non-zero exactly when `x`
/// has a zero byte.
#[inline(always)]
fn has_byte(w: u64, b: u8) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let x = w ^ ONES.wrapping_mul(u64::from(b));
    x.wrapping_sub(ONES) & !x & HIGHS
}

fn escape(s: &str, out: &mut Output<'_, impl Sink>, attr: bool) -> Result<(), C14nError> {
    let bytes = s.as_bytes();
    if !needs_escape(bytes, attr) {
        return out.push(bytes);
    }
    if bytes.len() < SHORT {
        return escape_short(bytes, out, attr);
    }
    let mut start = 0;
    let mut next = [None, None];
    while let Some(i) = next_special(bytes, start, attr, &mut next) {
        let end = i.saturating_add(1);
        let found = bytes.get(i..end).unwrap_or_default();
        // Every byte the searches find has a replacement; one that had none would be
        // written as it is, as any byte `replacement` does not name.
        let rep = found
            .first()
            .and_then(|&b| replacement(b, attr))
            .unwrap_or(found);
        out.push(bytes.get(start..i).unwrap_or_default())?;
        out.push(rep)?;
        start = end;
    }
    out.push(bytes.get(start..).unwrap_or_default())
}

fn escape_short(
    bytes: &[u8],
    out: &mut Output<'_, impl Sink>,
    attr: bool,
) -> Result<(), C14nError> {
    let table = if attr { &ATTR_SPECIAL } else { &TEXT_SPECIAL };
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !table[usize::from(b)] {
            continue;
        }
        let Some(rep) = replacement(b, attr) else {
            continue;
        };
        out.push(bytes.get(start..i).unwrap_or_default())?;
        out.push(rep)?;
        start = i.saturating_add(1);
    }
    out.push(bytes.get(start..).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn qualified_names_found_by_position_are_the_names_read() {
        let xml = "<p:r xmlns:p=\"urn:p\" xmlns=\"urn:d\"><a/><p:b\n x=\"1\"/><c\t>t</c>\
                   <long-prefix.x:y.z-w xmlns:long-prefix.x=\"urn:l\"></long-prefix.x:y.z-w>\
                   <é:ü xmlns:é=\"urn:e\"/><p:d></p:d ></p:r>";
        let doc = roxmltree::Document::parse(xml).unwrap();
        let mut names = Vec::new();
        for node in doc.descendants().filter(roxmltree::Node::is_element) {
            let start = node.range().start + 1;
            let read = element_qname_read(xml, start, node.tag_name().name()).unwrap();
            assert_eq!(element_qname(node).unwrap(), read);
            names.push(read);
        }
        assert_eq!(
            names,
            ["p:r", "a", "p:b", "c", "long-prefix.x:y.z-w", "é:ü", "p:d"]
        );
    }

    #[test]
    fn a_reused_scratch_gives_what_a_fresh_one_gives() {
        let xml =
            r#"<a:r xmlns:a="urn:a" xmlns:b="urn:b"><a:x b:y="1"><b:z>t</b:z></a:x><a:w/></a:r>"#;
        let doc = roxmltree::Document::parse(xml).unwrap();
        let options = |max_output| C14nOptions {
            exclude: None,
            inclusive_prefixes: &[],
            max_output,
        };
        let inner = doc.descendants().find(|n| n.has_tag_name("z")).unwrap();
        let mut scratch = Scratch::default();
        for element in doc.descendants().filter(roxmltree::Node::is_element) {
            let fresh = canonicalize(element, options(1 << 20)).unwrap();
            // A walk stopped half-way (output cap) leaves its state behind.
            let stopped = canonicalize_vec_with(&mut scratch, doc.root_element(), options(40));
            assert!(stopped.is_err());
            let reused = canonicalize_vec_with(&mut scratch, element, options(1 << 20)).unwrap();
            assert_eq!(reused, fresh);
        }
        assert_eq!(
            canonicalize_vec_with(&mut scratch, inner, options(1 << 20)).unwrap(),
            br#"<b:z xmlns:b="urn:b">t</b:z>"#
        );
    }

    proptest! {
        #[test]
        fn same_is_string_equality(a in "[ab]{0,20}", b in "[ab]{0,20}", cut in 0usize..20) {
            prop_assert_eq!(same(&a, &b), a == b);
            let cut = cut.min(a.len());
            prop_assert!(same(&a[..cut], &a[..cut]));
            prop_assert_eq!(same(&a[..cut], &a), cut == a.len());
        }

        /// The block check finds a byte to escape exactly where one is, in every position
        /// of strings around the block size.
        #[test]
        fn needs_escape_finds_every_special_byte(
            bytes in proptest::collection::vec(
                // The special bytes, their neighbours, and bytes with the high bit set:
                // a borrow between bytes must never make or hide an answer.
                prop::sample::select(
                    b"aZ09+/=:#&<>\"\t\n\r'\x00\x01\x08\x0b\x0c\x0e\x21\x23\x25\x27\x3b\x3d\x3f\x7f\x80\x81\xc3\xfe\xff"
                        .to_vec(),
                ),
                0..100,
            ),
            attr: bool,
        ) {
            let expected = bytes.iter().any(|&b| replacement(b, attr).is_some());
            prop_assert_eq!(needs_escape(&bytes, attr), expected);
            let plain: Vec<u8> = bytes.iter().map(|&b| if replacement(b, attr).is_some() { b'x' } else { b }).collect();
            prop_assert!(!needs_escape(&plain, attr));
            for (i, &b) in bytes.iter().enumerate() {
                if replacement(b, attr).is_some() {
                    let mut one = plain.clone();
                    one[i] = b;
                    prop_assert!(needs_escape(&one, attr), "{} at {}", b, i);
                }
            }
        }
    }

    fn c14n(xml: &str, prefixes: &[&str]) -> String {
        let doc = roxmltree::Document::parse(xml).unwrap();
        let out = canonicalize(
            doc.root_element(),
            C14nOptions {
                exclude: None,
                inclusive_prefixes: prefixes,
                max_output: 1 << 20,
            },
        )
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn unused_namespaces_dropped_and_attributes_sorted() {
        assert_eq!(
            c14n(
                r#"<a:r xmlns:a="urn:a" xmlns:b="urn:b" z="1" b:y="2" a="3"/>"#,
                &[]
            ),
            r#"<a:r xmlns:a="urn:a" xmlns:b="urn:b" a="3" z="1" b:y="2"></a:r>"#
        );
        assert_eq!(
            c14n(r#"<r xmlns:b="urn:b"><b:c/></r>"#, &[]),
            r#"<r><b:c xmlns:b="urn:b"></b:c></r>"#
        );
    }

    #[test]
    fn default_namespace_undeclared() {
        assert_eq!(
            c14n(r#"<r xmlns="urn:d"><c xmlns=""/></r>"#, &[]),
            r#"<r xmlns="urn:d"><c xmlns=""></c></r>"#
        );
    }

    #[test]
    fn escapes() {
        assert_eq!(
            c14n("<r a=\"&amp;&lt;&gt;&quot;&#9;&#10;&#13;\">&amp;&lt;&gt;\"&#13;<!--c--><?p d?></r>", &[]),
            "<r a=\"&amp;&lt;>&quot;&#x9;&#xA;&#xD;\">&amp;&lt;&gt;\"&#xD;<?p d?></r>"
        );
    }

    #[test]
    fn output_cap() {
        let doc = roxmltree::Document::parse("<r>0123456789</r>").unwrap();
        let r = canonicalize(
            doc.root_element(),
            C14nOptions {
                max_output: 10,
                ..C14nOptions::default()
            },
        );
        assert_eq!(r, Err(C14nError::TooLarge { max: 10 }));
    }
}
