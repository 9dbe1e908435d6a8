//! Verification keys: only from the connection's configured certificates, only those
//! valid now. A certificate in the response's `KeyInfo` is at most a selector: it picks
//! configured certificates by exact DER equality and is never trusted by itself.

use std::sync::OnceLock;

use aws_lc_rs::signature::{self as aws, ParsedPublicKey};
use base64::Engine as _;
use sha2::Digest as _;

use super::refusal::{Refusal, SignedElement};
use super::signature::Hash;

/// Smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// An RSA public key from a configured certificate, verified with aws-lc-rs: parsed once
/// per hash the first time a signature needs it, then kept with the verifier (so a
/// verifier kept per connection parses each IdP key once, not once per response).
#[derive(Clone)]
pub(crate) struct RsaVerifyKey {
    /// PKCS#1 `RSAPublicKey` DER.
    pkcs1: Vec<u8>,
    /// `rsa` 0.10's view of the key (the SP's own encryption key is used for wrapping).
    pub(crate) public: rsa::PublicKey,
    /// The parsed key per hash: SHA-1, SHA-256, SHA-384, SHA-512.
    parsed: [OnceLock<Option<ParsedPublicKey>>; 4],
}

impl std::fmt::Debug for RsaVerifyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaVerifyKey")
            .field("bytes", &self.pkcs1.len())
            .finish_non_exhaustive()
    }
}

impl RsaVerifyKey {
    /// Verifies an RSASSA-PKCS1-v1_5 signature of `message` (the canonical SignedInfo)
    /// with `hash`.
    pub(crate) fn verify(&self, hash: Hash, message: &[u8], signature: &[u8]) -> bool {
        let (slot, params): (usize, &'static aws::RsaParameters) = match hash {
            Hash::Sha1 => (0, &aws::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY),
            Hash::Sha256 => (1, &aws::RSA_PKCS1_2048_8192_SHA256),
            Hash::Sha384 => (2, &aws::RSA_PKCS1_2048_8192_SHA384),
            Hash::Sha512 => (3, &aws::RSA_PKCS1_2048_8192_SHA512),
        };
        let Some(cell) = self.parsed.get(slot) else {
            return false;
        };
        cell.get_or_init(|| ParsedPublicKey::new(params, &self.pkcs1).ok())
            .as_ref()
            .is_some_and(|k| k.verify_sig(message, signature).is_ok())
    }
}

/// A public key from a configured certificate.
#[derive(Debug, Clone)]
pub(crate) enum VerifyKey {
    Rsa(Box<RsaVerifyKey>),
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    /// A key this verifier cannot use (reported when it is the only candidate).
    Unusable(&'static str),
}

/// A configured certificate with its key and validity.
#[derive(Debug, Clone)]
pub(crate) struct TrustedCert {
    pub der: Vec<u8>,
    /// `der` in standard base64 with padding, the one text the decoder maps to it (a
    /// `KeyInfo` certificate is compared to this without being decoded).
    pub base64: String,
    pub key: VerifyKey,
    pub not_before_ms: i64,
    pub not_after_ms: i64,
}

impl TrustedCert {
    pub(crate) fn valid_at(&self, now_ms: i64) -> bool {
        self.not_before_ms <= now_ms && now_ms <= self.not_after_ms
    }
}

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";

/// Parses configured certificates (ones that are not X.509 are skipped: the host
/// validated them when it stored them).
pub(crate) fn trusted_certs(ders: &[Vec<u8>]) -> Vec<TrustedCert> {
    ders.iter().filter_map(|der| parse_cert(der)).collect()
}

fn parse_cert(der: &[u8]) -> Option<TrustedCert> {
    let (rest, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    if !rest.is_empty() {
        return None;
    }
    let validity = cert.validity();
    let spki = cert.public_key();
    let algorithm = spki.algorithm.algorithm.to_id_string();
    let bits: &[u8] = &spki.subject_public_key.data;
    let key = if algorithm == OID_RSA {
        rsa_key(bits)
    } else if algorithm == OID_EC {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok())
            .map(|o| o.to_id_string());
        match curve.as_deref() {
            Some(OID_P256) => p256::ecdsa::VerifyingKey::from_sec1_bytes(bits)
                .map(VerifyKey::P256)
                .unwrap_or(VerifyKey::Unusable("invalid P-256 public key")),
            Some(OID_P384) => p384::ecdsa::VerifyingKey::from_sec1_bytes(bits)
                .map(VerifyKey::P384)
                .unwrap_or(VerifyKey::Unusable("invalid P-384 public key")),
            _ => VerifyKey::Unusable("elliptic curve other than P-256 or P-384"),
        }
    } else {
        VerifyKey::Unusable("key type other than RSA or ECDSA")
    };
    Some(TrustedCert {
        der: der.to_vec(),
        base64: base64::engine::general_purpose::STANDARD.encode(der),
        key,
        not_before_ms: validity.not_before.timestamp().saturating_mul(1000),
        not_after_ms: validity.not_after.timestamp().saturating_mul(1000),
    })
}

fn rsa_key(pkcs1: &[u8]) -> VerifyKey {
    use rsa::pkcs1::DecodeRsaPublicKey;
    use rsa::traits::PublicKeyParts;
    match rsa::PublicKey::from_pkcs1_der(pkcs1) {
        Ok(k) if k.size().saturating_mul(8) >= MIN_RSA_BITS => {
            VerifyKey::Rsa(Box::new(RsaVerifyKey {
                pkcs1: pkcs1.to_vec(),
                public: k,
                parsed: Default::default(),
            }))
        }
        Ok(_) => VerifyKey::Unusable("RSA key shorter than 2048 bits"),
        Err(_) => VerifyKey::Unusable("invalid RSA public key"),
    }
}

/// The RSA public key of a DER certificate (SP key pairs).
pub(crate) fn rsa_public_key_of(der: &[u8]) -> Option<rsa::PublicKey> {
    match parse_cert(der)?.key {
        VerifyKey::Rsa(k) => Some(k.public),
        _ => None,
    }
}

/// SHA-256 of `der`, lowercase hex.
pub(crate) fn fingerprint(der: &[u8]) -> String {
    sha2::Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `text` with its ASCII white space removed (what [`super::parse::base64_value`]
/// ignores) is exactly `canonical`. Compared run by run, nothing copied.
pub(crate) fn same_base64(text: &str, canonical: &str) -> bool {
    // Removing white space only shortens: text no longer than `canonical` matches only
    // when it is `canonical` itself (one vectorized compare, the usual unwrapped case).
    if text.len() <= canonical.len() {
        return text == canonical;
    }
    let mut rest = canonical.as_bytes();
    for run in text
        .as_bytes()
        .split(u8::is_ascii_whitespace)
        .filter(|r| !r.is_empty())
    {
        match rest.strip_prefix(run) {
            Some(after) => rest = after,
            None => return false,
        }
    }
    rest.is_empty()
}

/// The configured certificates to try for one signature: the valid ones, narrowed to
/// those equal to a `KeyInfo` certificate when the signature carries any.
pub(crate) fn select<'c>(
    certs: &'c [TrustedCert],
    key_info_certs: &[std::borrow::Cow<'_, [u8]>],
    now_ms: i64,
    element: SignedElement,
) -> Result<Vec<&'c TrustedCert>, Refusal> {
    let valid: Vec<&TrustedCert> = certs.iter().filter(|c| c.valid_at(now_ms)).collect();
    if valid.is_empty() {
        return Err(Refusal::NoTrustedCertificate {
            configured: certs.len(),
        });
    }
    if key_info_certs.is_empty() {
        return Ok(valid);
    }
    let chosen: Vec<&TrustedCert> = valid
        .iter()
        .copied()
        .filter(|c| key_info_certs.iter().any(|k| **k == *c.der))
        .collect();
    if !chosen.is_empty() {
        return Ok(chosen);
    }
    // A configured certificate that is not valid now, or an unknown one.
    if let Some(c) = certs
        .iter()
        .find(|c| key_info_certs.iter().any(|k| **k == *c.der))
    {
        return Err(Refusal::CertificateNotValidNow {
            element,
            fingerprint: fingerprint(&c.der),
            not_before_ms: c.not_before_ms,
            not_after_ms: c.not_after_ms,
        });
    }
    Err(Refusal::CertificateNotTrusted {
        element,
        fingerprint: key_info_certs
            .first()
            .map(|d| fingerprint(d))
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The shortcut for texts no longer than the canonical form gives the answer of
        /// removing white space and comparing.
        #[test]
        fn same_base64_is_equality_without_white_space(
            text in "[AB \n]{0,12}",
            canonical in "[AB]{0,8}",
        ) {
            let stripped: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            prop_assert_eq!(same_base64(&text, &canonical), stripped == canonical);
        }
    }

    #[test]
    fn key_info_text_equals_configured_base64_only_for_the_same_der() {
        let der: Vec<u8> = (0u8..200).collect();
        let canonical = base64::engine::general_purpose::STANDARD.encode(&der);
        assert!(same_base64(&canonical, &canonical));
        // Line breaks and indentation as IdPs write them.
        let wrapped: String = canonical
            .as_bytes()
            .chunks(64)
            .map(|c| format!("\n    {}", std::str::from_utf8(c).unwrap()))
            .collect::<String>()
            + "\n  ";
        assert!(same_base64(&wrapped, &canonical));
        assert!(!same_base64(&canonical[..canonical.len() - 4], &canonical));
        assert!(!same_base64(&format!("{canonical}AAAA"), &canonical));
        assert!(!same_base64("", &canonical));
        // A second text for the same bytes (non-zero trailing bits, no padding) is not
        // accepted by the decoder either: equal text is exactly equal DER.
        let last = canonical.trim_end_matches('=');
        let bump = |c: u8| if c == b'A' { 'B' } else { 'A' };
        let other = format!(
            "{}{}{}",
            &last[..last.len() - 1],
            bump(*last.as_bytes().last().unwrap()),
            &canonical[last.len()..]
        );
        assert_ne!(
            super::super::parse::base64_value(&other).as_deref(),
            Some(&der[..])
        );
        assert_eq!(
            super::super::parse::base64_value(last).as_deref(),
            None,
            "padding is required"
        );
        assert_eq!(
            super::super::parse::base64_value(&wrapped).as_deref(),
            Some(&der[..])
        );
    }
}
