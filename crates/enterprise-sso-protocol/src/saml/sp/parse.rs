//! The one parse of a SAML message, its caps, and the small readers every rule uses
//! (names, values, times).

use roxmltree::{Document, Node};

use super::refusal::{shown, Refusal};

/// Largest `SAMLResponse` form value accepted, in bytes of base64 (white space
/// included).
pub const MAX_BASE64_BYTES: usize = 256 * 1024;
/// Largest decoded SAML document accepted, in bytes (the base64 cap decodes to at most
/// 192 KiB).
pub const MAX_DOCUMENT_BYTES: usize = 192 * 1024;
/// Most XML nodes in one SAML document.
pub const MAX_NODES: u32 = 20_000;
/// Deepest element nesting in a SAML document (real responses nest fewer than 12).
pub const MAX_DEPTH: usize = 32;
/// Largest canonical form computed for one element, in bytes: exclusive c14n can repeat
/// a namespace declaration on every sibling, so its output is capped separately.
pub const MAX_CANONICAL_BYTES: usize = 4 * MAX_DOCUMENT_BYTES;

pub(crate) const SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub(crate) const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub(crate) const DS: &str = "http://www.w3.org/2000/09/xmldsig#";
pub(crate) const XENC: &str = "http://www.w3.org/2001/04/xmlenc#";
pub(crate) const XENC11: &str = "http://www.w3.org/2009/xmlenc11#";
pub(crate) const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";

/// Decodes a `SAMLResponse` form value (base64, line breaks allowed).
pub(crate) fn decode_base64_param(value: &str) -> Result<Vec<u8>, Refusal> {
    if value.len() > MAX_BASE64_BYTES {
        return Err(Refusal::TooLarge {
            what: "SAMLResponse (base64)",
            limit: MAX_BASE64_BYTES,
            received: value.len(),
        });
    }
    decode_ignoring_white_space(value.as_bytes()).ok_or(Refusal::NotBase64)
}

/// Standard base64 with ASCII white space ignored. Decoded as it is first (the decoder
/// refuses white space, so this only succeeds without any); the text is copied without
/// its white space only when that fails and there is some, so a form value on one line
/// is read once, not scanned first.
fn decode_ignoring_white_space(text: &[u8]) -> Option<Vec<u8>> {
    match decode_standard(text) {
        Some(bytes) => Some(bytes),
        None if text.iter().any(u8::is_ascii_whitespace) => {
            decode_standard(&without_white_space(text))
        }
        None => None,
    }
}

/// Standard base64, padded, canonical (the padding and the unused bits of the last
/// character must be what the encoder writes, so one text decodes to a given value):
/// `base64-simd`, vectorized, about five times faster than the `base64` crate on a form
/// value and as strict (the tests compare the two on edge cases and random input).
fn decode_standard(text: &[u8]) -> Option<Vec<u8>> {
    base64_simd::STANDARD.decode_to_vec(text).ok()
}

/// `text` without ASCII white space: borrowed when it has none, otherwise copied a run
/// at a time (base64 is wrapped in lines of 64 or 76 characters).
fn without_white_space(text: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if !text.iter().any(u8::is_ascii_whitespace) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = Vec::with_capacity(text.len());
    for run in text.split(u8::is_ascii_whitespace) {
        out.extend_from_slice(run);
    }
    std::borrow::Cow::Owned(out)
}

/// Document text that passed [`prepare`]: the only input [`parse`] takes, so no tree is
/// built from text the pre-pass has not bounded.
pub(crate) struct Prepared(String);

/// Bytes to document text: size cap, UTF-8 (a byte-order mark is dropped), line breaks
/// normalized (XML 1.0 §2.11, which `roxmltree` does only in part), and the linear
/// streaming pre-pass of [`crate::xml`] (DOCTYPE, depth up to [`MAX_DEPTH`], attributes,
/// namespaces).
pub(crate) fn prepare(bytes: &[u8]) -> Result<Prepared, Refusal> {
    check_size(bytes)?;
    prepare_owned(bytes.to_vec())
}

/// [`prepare`] of bytes the caller owns (a decoded form value): no copy unless a line
/// break or a byte-order mark has to go.
pub(crate) fn prepare_owned(mut bytes: Vec<u8>) -> Result<Prepared, Refusal> {
    check_size(&bytes)?;
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        bytes.drain(..3);
    }
    let text = String::from_utf8(bytes).map_err(|_| Refusal::NotUtf8)?;
    let text = if text.contains('\r') {
        crate::xml::c14n::normalize_line_endings(&text).into_owned()
    } else {
        text
    };
    crate::xml::check_depth(&text, MAX_DEPTH).map_err(|e| match e {
        crate::xml::PrepassError::Doctype => Refusal::Doctype,
        crate::xml::PrepassError::Limit(crate::xml::XmlLimit::Depth) => Refusal::XmlLimit {
            what: "element nesting depth",
            limit: MAX_DEPTH,
        },
        crate::xml::PrepassError::Limit(l) => Refusal::XmlLimit {
            what: l.what(),
            limit: l.max(),
        },
        crate::xml::PrepassError::Malformed(reason) => Refusal::Malformed {
            reason: shown(&reason),
        },
    })?;
    Ok(Prepared(text))
}

fn check_size(bytes: &[u8]) -> Result<(), Refusal> {
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(Refusal::TooLarge {
            what: "SAML document",
            limit: MAX_DOCUMENT_BYTES,
            received: bytes.len(),
        });
    }
    Ok(())
}

/// Parses prepared text with `roxmltree` (DTD refused, node cap); the pre-pass has
/// already bounded its depth and attributes.
pub(crate) fn parse(text: &Prepared) -> Result<Document<'_>, Refusal> {
    let opts = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_NODES,
        ..roxmltree::ParsingOptions::default()
    };
    Document::parse_with_options(&text.0, opts).map_err(|e| match e {
        roxmltree::Error::DtdDetected => Refusal::Doctype,
        roxmltree::Error::NodesLimitReached => Refusal::XmlLimit {
            what: "XML nodes",
            limit: MAX_NODES as usize,
        },
        other => Refusal::Malformed {
            reason: shown(&other.to_string()),
        },
    })
}

/// Whether `node` is the element `{ns}local`.
pub(crate) fn is(node: &Node<'_, '_>, ns: &str, local: &str) -> bool {
    node.is_element() && node.tag_name().name() == local && node.tag_name().namespace() == Some(ns)
}

/// The element children of `node`.
pub(crate) fn elements<'a, 'i>(node: Node<'a, 'i>) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children().filter(Node::is_element)
}

/// The element children named `{ns}local`.
pub(crate) fn children_named<'a, 'i>(
    node: Node<'a, 'i>,
    ns: &'static str,
    local: &'static str,
) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children().filter(move |c| is(c, ns, local))
}

/// The single child `{ns}local`, `None` when absent; two are refused as
/// [`Refusal::Missing`]'s sibling rule by the caller through `what`.
pub(crate) fn one_child<'a, 'i>(
    node: Node<'a, 'i>,
    ns: &'static str,
    local: &'static str,
) -> Result<Option<Node<'a, 'i>>, Node<'a, 'i>> {
    let mut it = children_named(node, ns, local);
    let first = it.next();
    match it.next() {
        Some(second) => Err(second),
        None => Ok(first),
    }
}

/// `{namespace}local` of an element, for messages.
pub(crate) fn expanded_name(node: &Node<'_, '_>) -> String {
    match node.tag_name().namespace() {
        Some(ns) => shown(&format!("{{{ns}}}{}", node.tag_name().name())),
        None => shown(node.tag_name().name()),
    }
}

/// The full text of a value element: every text child concatenated (a comment never
/// cuts a value short); child elements and processing instructions are refused. Borrowed
/// from the document when there is one text child, the usual case.
pub(crate) fn value_text<'a>(
    node: Node<'a, '_>,
    what: &'static str,
) -> Result<std::borrow::Cow<'a, str>, Refusal> {
    let mut out: Option<std::borrow::Cow<'a, str>> = None;
    for c in node.children() {
        if c.is_text() {
            let text = c.text().unwrap_or_default();
            out = Some(match out {
                None => std::borrow::Cow::Borrowed(text),
                Some(mut joined) => {
                    joined.to_mut().push_str(text);
                    joined
                }
            });
        } else if c.is_element() || c.is_pi() {
            return Err(Refusal::MarkupInValue { what });
        }
    }
    Ok(out.unwrap_or_default())
}

/// [`value_text`] with XML white space trimmed (entity ids, URLs, IDs, times).
pub(crate) fn token_text<'a>(
    node: Node<'a, '_>,
    what: &'static str,
) -> Result<std::borrow::Cow<'a, str>, Refusal> {
    value_text(node, what).map(|s| match s {
        std::borrow::Cow::Borrowed(b) => std::borrow::Cow::Borrowed(b.trim_matches(is_xml_space)),
        std::borrow::Cow::Owned(o) => {
            std::borrow::Cow::Owned(o.trim_matches(is_xml_space).to_owned())
        }
    })
}

pub(crate) fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// Base64 of a `DigestValue`, `SignatureValue`, `CipherValue` or certificate: white space
/// ignored.
pub(crate) fn base64_value(text: &str) -> Option<Vec<u8>> {
    decode_ignoring_white_space(text.as_bytes())
}

// ---- xs:dateTime ----

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Parses an `xs:dateTime` (`YYYY-MM-DDThh:mm:ss[.fff][Z|±hh:mm]`, no zone read as UTC)
/// into Unix milliseconds. Years 1970 to 9999; fractions beyond milliseconds truncated.
///
/// Read by position (the layout is fixed up to the seconds), without allocating: a
/// response carries half a dozen of these.
pub fn parse_datetime(s: &str) -> Option<i64> {
    let b = s.trim_matches(is_xml_space).as_bytes();
    let number = |from: usize, to: usize| -> Option<i64> {
        let part = b.get(from..to)?;
        part.iter().try_fold(0i64, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0'))
        })
    };
    let at = |i: usize| b.get(i).copied();
    if at(4) != Some(b'-')
        || at(7) != Some(b'-')
        || at(10) != Some(b'T')
        || at(13) != Some(b':')
        || at(16) != Some(b':')
    {
        return None;
    }
    let (y, m, d) = (number(0, 4)?, number(5, 7)?, number(8, 10)?);
    let (h, mi, se) = (number(11, 13)?, number(14, 16)?, number(17, 19)?);
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    if h > 23 || mi > 59 || se > 59 {
        return None;
    }
    let mut rest = b.get(19..)?;
    let mut ms = 0;
    if let Some(fraction) = rest.strip_prefix(b".") {
        let len = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
        if len == 0 {
            return None;
        }
        for i in 0..3 {
            let digit = fraction
                .get(i)
                .filter(|_| i < len)
                .map_or(0, |&c| i64::from(c - b'0'));
            ms = ms * 10 + digit;
        }
        rest = fraction.get(len..)?;
    }
    let offset_min = match rest {
        [] | [b'Z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let two = |a: u8, c: u8| {
                (a.is_ascii_digit() && c.is_ascii_digit())
                    .then(|| i64::from(a - b'0') * 10 + i64::from(c - b'0'))
            };
            let (zh, zm) = (two(*h1, *h2)?, two(*m1, *m2)?);
            if zh > 14 || zm > 59 {
                return None;
            }
            if *sign == b'-' {
                -(zh * 60 + zm)
            } else {
                zh * 60 + zm
            }
        }
        _ => return None,
    };
    let days = days_from_civil(y, m, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + se - offset_min * 60;
    secs.checked_mul(1000)?.checked_add(ms)
}

/// Formats Unix milliseconds as `YYYY-MM-DDThh:mm:ssZ` (whole seconds, UTC). Times
/// before 1970 are written as 1970-01-01T00:00:00Z.
pub fn format_datetime(ms: i64) -> String {
    let secs = ms.max(0) / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use proptest::prelude::*;

    /// The `base64` crate's strict standard engine, which the decoder replaced.
    fn reference(text: &[u8]) -> Option<Vec<u8>> {
        base64::engine::general_purpose::STANDARD.decode(text).ok()
    }

    #[test]
    fn base64_as_strict_as_the_base64_crate() {
        let edge: &[&[u8]] = &[
            b"",
            b"=",
            b"==",
            b"===",
            b"====",
            b"A",
            b"AA",
            b"AAA",
            b"AAAA",
            b"AA==",
            b"AB==",
            b"AAA=",
            b"AAB=",
            b"AA=A",
            b"A===",
            b"AAAA====",
            b"AA==AAAA",
            b"AA=",
            b"AAAAA",
            b"QUJD",
            b"QUJDRA",
            b"QUJDRA==",
            b"QUJDRB==",
            b"QUJDRA=",
            b"QUJDRA===",
            b"QUJD\nRA==",
            b" QUJD",
            b"QUJD ",
            b"QU-D",
            b"QU_D",
            b"QU.D",
            b"\xff\xfe==",
            b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo+Pz8/Pz8/Pz8/Pz8/Pz8/Pz8/Pz8/Pz8/Pw==",
            b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo+Pz8/Pz8/Pz8/Pz8/Pz8/Pz8/Pz8/Pz8/Px==",
            b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo+Pz8/Pz8/Pz8/P=8/Pz8/Pz8/Pz8/Pz8/Pw==",
        ];
        for text in edge {
            assert_eq!(decode_standard(text), reference(text), "{text:?}");
        }
    }

    proptest! {
        #[test]
        fn base64_decoders_agree(
            data in proptest::collection::vec(any::<u8>(), 0..200),
            edits in proptest::collection::vec(
                (any::<prop::sample::Index>(), prop::sample::select(
                    b"AZaz09+/=-_ \n.\x00\xc3".to_vec()
                )),
                0..3,
            ),
        ) {
            let mut text = base64::engine::general_purpose::STANDARD.encode(&data).into_bytes();
            prop_assert_eq!(decode_standard(&text), Some(data));
            for (at, b) in edits {
                if !text.is_empty() {
                    let i = at.index(text.len());
                    text[i] = b;
                }
            }
            prop_assert_eq!(decode_standard(&text), reference(&text));
        }
    }

    #[test]
    fn the_prepass_holds_the_saml_depth() {
        let nested = |depth: usize| ("<a>".repeat(depth) + &"</a>".repeat(depth)).into_bytes();
        let at_limit = prepare(&nested(MAX_DEPTH)).map(|_| ());
        assert_eq!(at_limit.map_err(|e| e.code()), Ok(()));
        match prepare(&nested(MAX_DEPTH + 1)) {
            Err(Refusal::XmlLimit { what, limit }) => {
                assert_eq!((what, limit), ("element nesting depth", MAX_DEPTH));
            }
            other => panic!("{:?}", other.map(|_| ())),
        }
        assert!(parse(&prepare(&nested(MAX_DEPTH)).unwrap()).is_ok());
    }

    /// The earlier reader, split by split: the reference the positional one is compared with.
    /// Parses an `xs:dateTime` (`YYYY-MM-DDThh:mm:ss[.fff][Z|±hh:mm]`, no zone read as UTC)
    /// into Unix milliseconds. Years 1970 to 9999; fractions beyond milliseconds truncated.
    fn digits(s: &str) -> Option<i64> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    }

    fn parse_datetime_reference(s: &str) -> Option<i64> {
        let s = s.trim_matches(is_xml_space);
        let (date, time) = s.split_once('T')?;
        let mut dp = date.split('-');
        let (y, m, d) = (dp.next()?, dp.next()?, dp.next()?);
        if dp.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return None;
        }
        let (y, m, d) = (digits(y)?, digits(m)?, digits(d)?);
        if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m)
        {
            return None;
        }
        let (clock, offset_min) = if let Some(c) = time.strip_suffix('Z') {
            (c, 0)
        } else if let Some(i) = time.rfind(['+', '-']) {
            let (c, z) = time.split_at(i);
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let (zh, zm) = z.get(1..)?.split_once(':')?;
            if zh.len() != 2 || zm.len() != 2 {
                return None;
            }
            let (zh, zm) = (digits(zh)?, digits(zm)?);
            if zh > 14 || zm > 59 {
                return None;
            }
            (c, sign * (zh * 60 + zm))
        } else {
            (time, 0)
        };
        let (hms, frac) = match clock.split_once('.') {
            Some((hms, frac)) => (hms, Some(frac)),
            None => (clock, None),
        };
        let mut tp = hms.split(':');
        let (h, mi, se) = (tp.next()?, tp.next()?, tp.next()?);
        if tp.next().is_some() || h.len() != 2 || mi.len() != 2 || se.len() != 2 {
            return None;
        }
        let (h, mi, se) = (digits(h)?, digits(mi)?, digits(se)?);
        if h > 23 || mi > 59 || se > 59 {
            return None;
        }
        let ms = match frac {
            None => 0,
            Some(f) => {
                digits(f)?;
                let padded: String = f.chars().chain("000".chars()).take(3).collect();
                digits(&padded)?
            }
        };
        let days = days_from_civil(y, m, d);
        let secs = days * 86_400 + h * 3600 + mi * 60 + se - offset_min * 60;
        secs.checked_mul(1000)?.checked_add(ms)
    }

    /// Every arrangement of date, separator, time, fraction, zone and padding from these
    /// lists (right and wrong ones): the positional reader answers as the earlier one.
    #[test]
    fn datetime_readers_agree_on_every_shape() {
        let dates = [
            "2024-02-29",
            "2023-02-29",
            "1970-01-01",
            "1969-12-31",
            "9999-12-31",
            "2024-13-01",
            "2024-00-10",
            "2024-1-01",
            "24-01-01",
            "2024-04-31",
        ];
        let seps = ["T", "t", " ", ""];
        let times = [
            "12:34:56", "00:00:00", "23:59:59", "24:00:00", "12:60:00", "12:00:60", "1:00:00",
            "12:34",
        ];
        let fractions = ["", ".", ".5", ".123", ".1234567", ".x"];
        let zones = [
            "", "Z", "z", "+00:00", "-00:00", "+14:00", "+15:00", "-14:59", "+14:60", "+2:00",
            "+02", "+1a:00", "+02:00Z", "Z+02:00",
        ];
        let pads = ["", " ", "\n\t", "x"];
        let mut accepted = 0;
        for date in dates {
            for sep in seps {
                for time in times {
                    for fraction in fractions {
                        for zone in zones {
                            for pad in pads {
                                let text = format!("{pad}{date}{sep}{time}{fraction}{zone}{pad}");
                                let new = parse_datetime(&text);
                                assert_eq!(new, parse_datetime_reference(&text), "{text:?}");
                                accepted += usize::from(new.is_some());
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(accepted, 648);
    }

    proptest! {
        /// The positional reader answers as the earlier one on every arrangement of the
        /// pieces a date-time is made of, and of the ways to get them wrong.
        #[test]
        fn datetime_readers_agree(pieces in proptest::collection::vec(prop::sample::select(vec![
            "2024", "1970", "9999", "1969", "0000", "-", "02", "29", "13", "00", "T", "t", ":",
            "23", "24", "59", "60", ".", "5", "123", "1234567", "Z", "z", "+", "-", "14", "15",
            "+02:00", "-00:30", "+2:00", "+14:00", "+15:00", "-14:59", "+14:60", "+1a:00", " ", "\n", "x", "", "2024-02-29T12:34:56",
            "2023-02-29T00:00:00", "12:34:56.7891234",
        ]), 0..8)) {
            let text: String = pieces.concat();
            prop_assert_eq!(parse_datetime(&text), parse_datetime_reference(&text), "{:?}", text);
        }
    }

    #[test]
    fn datetimes() {
        assert_eq!(parse_datetime("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_datetime("2024-02-29T12:34:56.789Z"),
            Some(1_709_210_096_789)
        );
        assert_eq!(
            parse_datetime("2024-02-29T12:34:56.7891234Z"),
            Some(1_709_210_096_789)
        );
        assert_eq!(
            parse_datetime("2024-02-29T14:34:56+02:00"),
            Some(1_709_210_096_000)
        );
        assert_eq!(
            parse_datetime("2024-02-29T12:34:56"),
            Some(1_709_210_096_000)
        );
        for bad in [
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01 00:00:00Z",
            "2024-01-01T00:00:00.Z",
            "+2024-01-01T00:00:00Z",
            "2024-01-01T00:00:00+2:00",
            "",
        ] {
            assert_eq!(parse_datetime(bad), None, "{bad}");
        }
        assert_eq!(format_datetime(1_709_210_096_789), "2024-02-29T12:34:56Z");
        for ms in [0, 951_782_400_000, 4_102_444_800_000, 1_709_210_096_000] {
            assert_eq!(parse_datetime(&format_datetime(ms)), Some(ms));
        }
    }
}
