//! The URL policy: one parse (the WHATWG URL Standard, as the `url` crate implements it),
//! a refusal of every character where URL parsers are known to disagree, and the
//! server-side-request-forgery rule for URLs the host's server fetches.
//!
//! - Refused anywhere in a URL: a backslash (WHATWG reads it as `/` in `https` URLs,
//!   RFC 3986 parsers as data, so `https://good.com\@127.0.0.1/` has two hosts), ASCII
//!   white space and control characters, and any `%` in the authority (a percent-encoded
//!   host such as `localhost%2e` is decoded by some parsers and not by others). The URL
//!   must spell out `scheme://` with a non-empty authority in ASCII (an IDN host is given
//!   in its punycode form), since WHATWG maps `https:host`, `https:///host` and Unicode
//!   dots where RFC 3986 parsers do not.
//! - What is stored is the parser's serialisation ([`canonical_url`]), so the URL that was
//!   checked is byte for byte the URL that is fetched.
//! - IP checks see through IPv6 forms that carry an IPv4 address: IPv4-mapped
//!   (`::ffff:a.b.c.d`), IPv4-translated (`::ffff:0:a.b.c.d`), IPv4-compatible
//!   (`::a.b.c.d`), NAT64 (`64:ff9b::/96`, `64:ff9b:1::/48`), 6to4 (`2002::/16`) and
//!   Teredo (`2001::/32`, the client address): the embedded IPv4 address is judged.
//! - `localhost` with a trailing dot is `localhost`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::limits::{Policy, MAX_URL_LEN};

/// Why a URL was refused (the validator reports each as its own field error kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// Longer than `max` bytes.
    #[error("is longer than {max} bytes")]
    TooLong {
        /// The limit.
        max: usize,
    },
    /// Not an absolute URL with a host, or one spelled in a way parsers disagree on.
    #[error("is not an acceptable absolute URL")]
    Invalid,
    /// Not `https` (plain `http` only to a loopback host).
    #[error("must use https")]
    Insecure,
    /// Carries a user name or password.
    #[error("must not carry credentials")]
    Credentials,
    /// Points at an address the server must not fetch.
    #[error("points at a forbidden address")]
    ForbiddenHost,
}

/// The URL rule: absolute, with a host, `https` (or `http` to a loopback host), no
/// credentials, at most [`MAX_URL_LEN`] bytes as given and as stored ([`canonical_url`]),
/// none of the characters parsers disagree on.
pub fn check_url_kind(value: &str) -> Result<(), UrlError> {
    parse_checked(value).map(|_| ())
}

/// The rule for URLs the host's server fetches (metadata, discovery, token, user-info):
/// the URL rule, and no IP literal that [`ip_allowed`] refuses; loopback (and `localhost`)
/// only when [`Policy::allow_loopback_fetch`] is on.
pub fn check_fetch_url_kind(value: &str, policy: &Policy) -> Result<(), UrlError> {
    let url = parse_checked(value)?;
    let allowed = match url.host().ok_or(UrlError::Invalid)? {
        url::Host::Domain(d) => !is_localhost(d) || policy.allow_loopback_fetch,
        url::Host::Ipv4(ip) => ip_allowed(IpAddr::V4(ip), policy),
        url::Host::Ipv6(ip) => ip_allowed(IpAddr::V6(ip), policy),
    };
    if allowed {
        Ok(())
    } else {
        Err(UrlError::ForbiddenHost)
    }
}

/// The stored form of an acceptable URL: the WHATWG serialisation (`https://Acme.COM`
/// becomes `https://acme.com/`). `None` when the URL rule refuses it.
pub fn canonical_url(value: &str) -> Option<String> {
    parse_checked(value).ok().map(String::from)
}

/// Whether `ip` may be fetched under `policy` (for hosts that resolve names themselves and
/// want to apply the same rule to the resolved address). Refused: private (10/8,
/// 172.16/12, 192.168/16), CGNAT (100.64/10), link-local (169.254/16, fe80::/10),
/// unique-local (fc00::/7) and site-local (fec0::/10), unspecified, "this network" (0/8),
/// broadcast, multicast (224/4, ff00::/8), documentation (192.0.2/24, 198.51.100/24,
/// 203.0.113/24, 2001:db8::/32, 3fff::/20), benchmarking (198.18/15), IETF protocol
/// assignments (192.0.0/24), reserved (240/4) and discard-only (100::/64) addresses;
/// loopback only when [`Policy::allow_loopback_fetch`] is on. IPv6 addresses that embed
/// an IPv4 address are judged by the IPv4 address.
pub fn ip_allowed(ip: IpAddr, policy: &Policy) -> bool {
    let v4 = match ip {
        IpAddr::V4(v4) => v4,
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => v4,
            None if v6.is_loopback() => return policy.allow_loopback_fetch,
            None => return !forbidden_v6(v6),
        },
    };
    if v4.is_loopback() {
        policy.allow_loopback_fetch
    } else {
        !forbidden_v4(v4)
    }
}

/// The IPv4 address an IPv6 address carries, for the forms listed in the module docs.
pub fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        // IPv4-mapped ::ffff:a.b.c.d
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(low),
        // IPv4-translated ::ffff:0:a.b.c.d
        [0, 0, 0, 0, 0xffff, 0, _, _] => Some(low),
        // IPv4-compatible ::a.b.c.d (not :: and ::1)
        [0, 0, 0, 0, 0, 0, hi, lo] if hi != 0 || lo > 1 => Some(low),
        // NAT64 well-known prefix and local-use prefix
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(low),
        [0x64, 0xff9b, 1, _, _, _, _, _] => Some(low),
        // 6to4 2002:AABB:CCDD::/48
        [0x2002, hi, lo, _, _, _, _, _] => Some(Ipv4Addr::new(
            (hi >> 8) as u8,
            hi as u8,
            (lo >> 8) as u8,
            lo as u8,
        )),
        // Teredo 2001:0::/32, client address stored inverted in the last 32 bits
        [0x2001, 0, _, _, _, _, hi, lo] => Some(Ipv4Addr::new(
            !(hi >> 8) as u8,
            !hi as u8,
            !(lo >> 8) as u8,
            !lo as u8,
        )),
        _ => None,
    }
}

/// Parses under the URL rule.
fn parse_checked(value: &str) -> Result<url::Url, UrlError> {
    if value.len() > MAX_URL_LEN {
        return Err(UrlError::TooLong { max: MAX_URL_LEN });
    }
    if value
        .chars()
        .any(|c| c == '\\' || c.is_control() || c.is_whitespace())
    {
        return Err(UrlError::Invalid);
    }
    // `scheme://authority` spelled out: WHATWG also accepts `https:host` and
    // `https:///host`, which RFC 3986 parsers read as having no host at all.
    let authority = raw_authority(value).ok_or(UrlError::Invalid)?;
    if authority.is_empty() || authority.contains('%') || !authority.is_ascii() {
        return Err(UrlError::Invalid);
    }
    let url = url::Url::parse(value).map_err(|_| UrlError::Invalid)?;
    // The cap holds for the stored form too: percent-encoding can triple what was given
    // (`é` is `%C3%A9`), and a stored URL over the cap would be refused when it is checked
    // again (found by the `hostile_inputs` fuzz target).
    if url.as_str().len() > MAX_URL_LEN {
        return Err(UrlError::TooLong { max: MAX_URL_LEN });
    }
    let host = url.host().ok_or(UrlError::Invalid)?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlError::Credentials);
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&host) => Ok(url),
        "http" => Err(UrlError::Insecure),
        _ => Err(UrlError::Invalid),
    }
}

/// The text between `scheme://` and the first `/`, `?` or `#`; `None` unless the URL
/// starts with an ASCII-alphabetic scheme followed by `://`.
fn raw_authority(value: &str) -> Option<&str> {
    let (scheme, rest) = value.split_once("://")?;
    if scheme.is_empty() || !scheme.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(&rest[..end])
}

fn is_localhost(domain: &str) -> bool {
    let d = domain.strip_suffix('.').unwrap_or(domain);
    d == "localhost" || d.ends_with(".localhost")
}

fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => is_localhost(d),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => {
            ip.is_loopback() || embedded_v4(*ip).is_some_and(|v| v.is_loopback())
        }
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        // "this network" 0/8, CGNAT 100.64/10, IETF protocol assignments 192.0.0/24,
        // benchmarking 198.18/15, reserved 240/4
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b & 0xfe) == 18)
        || a >= 240
}

fn forbidden_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    ip.is_unspecified()
        || ip.is_multicast()
        // unique-local fc00::/7, link-local fe80::/10, deprecated site-local fec0::/10
        || (s[0] & 0xfe00) == 0xfc00
        || (s[0] & 0xffc0) == 0xfe80
        || (s[0] & 0xffc0) == 0xfec0
        // documentation 2001:db8::/32 and 3fff::/20, discard-only 100::/64
        || (s[0] == 0x2001 && s[1] == 0x0db8)
        || (s[0] & 0xfff0) == 0x3ff0
        || (s[0] == 0x0100 && s[1] == 0 && s[2] == 0 && s[3] == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_length_cap_holds_for_the_stored_form_so_a_stored_url_checks_again() {
        // 1,224 bytes given, 3,624 once `é` is percent-encoded.
        let given = format!("https://idp.example.com/{}", "é".repeat(600));
        assert!(given.len() <= MAX_URL_LEN);
        let too_long = Err(UrlError::TooLong { max: MAX_URL_LEN });
        assert_eq!(check_url_kind(&given), too_long);
        assert_eq!(canonical_url(&given), None);
        // 1,824 bytes stored: accepted, and the stored form is accepted as it is.
        let fits = format!("https://idp.example.com/{}", "é".repeat(300));
        let stored = canonical_url(&fits).unwrap_or_default();
        assert_eq!(stored.len(), 24 + 300 * 6);
        assert_eq!(canonical_url(&stored).as_deref(), Some(stored.as_str()));
    }

    #[test]
    fn embedded_addresses_are_unwrapped() {
        for (v6, v4) in [
            ("::ffff:127.0.0.1", "127.0.0.1"),
            ("::ffff:0:7f00:1", "127.0.0.1"),
            ("::127.0.0.1", "127.0.0.1"),
            ("64:ff9b::a9fe:a9fe", "169.254.169.254"),
            ("64:ff9b:1::a00:1", "10.0.0.1"),
            ("2002:a9fe:a9fe::", "169.254.169.254"),
            ("2001:0:4136:e378:8000:63bf:80ff:fffe", "127.0.0.1"),
        ] {
            let ip: Ipv6Addr = v6.parse().unwrap();
            assert_eq!(embedded_v4(ip), Some(v4.parse().unwrap()), "{v6}");
        }
        for plain in ["::1", "::", "2001:db8::1", "fe80::1"] {
            let ip: Ipv6Addr = plain.parse().unwrap();
            assert_eq!(embedded_v4(ip), None, "{plain}");
        }
    }

    #[test]
    fn special_purpose_ranges_are_refused() {
        let policy = Policy::default();
        for bad in [
            "10.0.0.1",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "239.255.255.250",
            "192.0.2.1",
            "198.51.100.1",
            "203.0.113.1",
            "192.0.0.170",
            "198.18.0.1",
            "198.19.255.255",
            "240.0.0.1",
            "::",
            "::1",
            "fd00::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "ff05::1:3",
            "2001:db8::1",
            "3fff::1",
            "100::1",
            "::ffff:10.0.0.1",
            "::ffff:224.0.0.1",
            "64:ff9b::c000:201",
            "2002:c000:0201::",
        ] {
            let ip: IpAddr = bad.parse().unwrap();
            assert!(!ip_allowed(ip, &policy), "{bad}");
        }
        for good in [
            "8.8.8.8",
            "1.1.1.1",
            "100.63.255.255",
            "100.128.0.1",
            "198.17.255.255",
            "198.20.0.1",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2a00:1450:4001:80b::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            let ip: IpAddr = good.parse().unwrap();
            assert!(ip_allowed(ip, &policy), "{good}");
        }
    }
}
