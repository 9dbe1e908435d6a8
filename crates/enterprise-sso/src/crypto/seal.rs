//! One sealed value: AES-256-GCM, a random nonce, the record and field as associated data.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use zeroize::Zeroizing;

use super::keyring::Keyring;

const PREFIX: &str = "\u{0}esso-sealed:v1:";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD_NO_PAD;

/// Why a secret could not be sealed or opened. Never carries the secret or a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The value was sealed with a key that is not in the ring (or no ring is configured).
    #[error("secret sealed with key {key_id}, which is not in the key ring")]
    UnknownKey {
        /// The key id stored with the value.
        key_id: String,
    },
    /// The key is in the ring but the value does not open with it: tampered with, or
    /// moved from another record or field.
    #[error("secret sealed with key {key_id} does not decrypt for this record and field")]
    Decrypt {
        /// The key id stored with the value.
        key_id: String,
    },
    /// Not a sealed value this version writes.
    #[error("sealed secret is malformed")]
    Malformed,
    /// The cipher refused to encrypt (only for inputs over AES-GCM's size limit).
    #[error("secret could not be encrypted")]
    Encrypt,
    /// A plain value is stored where the key ring requires a sealed one: someone with
    /// write access to the store replaced the ciphertext (a downgrade), or plain values
    /// from before the ring was configured were not re-encrypted yet (see
    /// `Encrypted::accepting_plain_values`).
    #[error("a plain value is stored where a sealed one belongs")]
    PlainValue,
}

/// Whether a stored secret is sealed (as opposed to plain text from before a key ring was
/// configured).
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(PREFIX)
}

fn aad(kind: &str, record_id: &str, field: &str) -> String {
    format!("enterprise-sso/v1\u{0}{kind}\u{0}{record_id}\u{0}{field}")
}

/// Seals `plain` for `field` of record `record_id` (of `kind`) with the ring's active key.
pub(crate) fn seal(
    ring: &Keyring,
    kind: &str,
    record_id: &str,
    field: &str,
    plain: &str,
) -> Result<String, CryptoError> {
    seal_bytes(ring, kind, record_id, field, plain.as_bytes())
}

/// [`seal`] of bytes (a sign-in record's payload); the sealed text is the same format.
pub(crate) fn seal_bytes(
    ring: &Keyring,
    kind: &str,
    record_id: &str,
    field: &str,
    plain: &[u8],
) -> Result<String, CryptoError> {
    let cipher = Aes256Gcm::new(ring.active_key().into());
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    let aad = aad(kind, record_id, field);
    let ct = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: plain,
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| CryptoError::Encrypt)?;
    Ok(format!(
        "{PREFIX}{}:{}:{}",
        ring.active_id(),
        B64.encode(nonce),
        B64.encode(ct)
    ))
}

/// The key id a sealed value names.
pub(crate) fn key_id_of(stored: &str) -> Option<&str> {
    stored.strip_prefix(PREFIX)?.split(':').next()
}

/// Opens a stored value: sealed values need their key in `ring`; plain values (written
/// before a ring was configured) come back as they are.
pub(crate) fn open(
    ring: Option<&Keyring>,
    kind: &str,
    record_id: &str,
    field: &str,
    stored: &str,
) -> Result<Zeroizing<String>, CryptoError> {
    match open_bytes(ring, kind, record_id, field, stored.as_bytes())? {
        None => Ok(Zeroizing::new(stored.to_owned())),
        Some(plain) => String::from_utf8(plain.to_vec())
            .map(Zeroizing::new)
            .map_err(|_| CryptoError::Malformed),
    }
}

/// Opens stored bytes: `None` when they are not sealed (the caller decides whether a
/// plain value is acceptable), the plain bytes when they open.
pub(crate) fn open_bytes(
    ring: Option<&Keyring>,
    kind: &str,
    record_id: &str,
    field: &str,
    stored: &[u8],
) -> Result<Option<Zeroizing<Vec<u8>>>, CryptoError> {
    let Some(rest) = stored.strip_prefix(PREFIX.as_bytes()) else {
        return Ok(None);
    };
    let rest = std::str::from_utf8(rest).map_err(|_| CryptoError::Malformed)?;
    let mut parts = rest.split(':');
    let (Some(key_id), Some(nonce), Some(ct), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(CryptoError::Malformed);
    };
    let key = ring
        .and_then(|r| r.key(key_id))
        .ok_or_else(|| CryptoError::UnknownKey {
            key_id: key_id.to_owned(),
        })?;
    let nonce = B64.decode(nonce).map_err(|_| CryptoError::Malformed)?;
    let ct = B64.decode(ct).map_err(|_| CryptoError::Malformed)?;
    if nonce.len() != 12 {
        return Err(CryptoError::Malformed);
    }
    let aad = aad(kind, record_id, field);
    let plain = Aes256Gcm::new(key.into())
        .decrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: &ct,
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| CryptoError::Decrypt {
            key_id: key_id.to_owned(),
        })?;
    Ok(Some(Zeroizing::new(plain)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> Keyring {
        Keyring::new("k1", [9u8; 32]).unwrap()
    }

    #[test]
    fn round_trip_fresh_nonces_and_bound_to_record_and_field() {
        let r = ring();
        let a = seal(&r, "connection", "ent_1", "oidc.client_secret", "s3cr3t").unwrap();
        let b = seal(&r, "connection", "ent_1", "oidc.client_secret", "s3cr3t").unwrap();
        assert_ne!(a, b, "a fresh nonce per value");
        assert!(is_sealed(&a) && !a.contains("s3cr3t"));
        assert_eq!(key_id_of(&a), Some("k1"));
        let open_as = |id: &str, field: &str| open(Some(&r), "connection", id, field, &a);
        assert_eq!(
            open_as("ent_1", "oidc.client_secret").unwrap().as_str(),
            "s3cr3t"
        );
        for (id, field) in [("ent_2", "oidc.client_secret"), ("ent_1", "oidc.other")] {
            assert_eq!(
                open_as(id, field).unwrap_err(),
                CryptoError::Decrypt {
                    key_id: "k1".into()
                }
            );
        }
        // Another ring without k1: a typed error naming the key.
        let other = Keyring::new("k2", [1u8; 32]).unwrap();
        assert_eq!(
            open(
                Some(&other),
                "connection",
                "ent_1",
                "oidc.client_secret",
                &a
            )
            .unwrap_err(),
            CryptoError::UnknownKey {
                key_id: "k1".into()
            }
        );
        assert_eq!(
            open(None, "connection", "ent_1", "oidc.client_secret", &a).unwrap_err(),
            CryptoError::UnknownKey {
                key_id: "k1".into()
            }
        );
        // Tampering with any byte of the ciphertext is caught.
        let mut t = a.clone().into_bytes();
        let last = t.len() - 2;
        t[last] = if t[last] == b'A' { b'B' } else { b'A' };
        let t = String::from_utf8(t).unwrap();
        assert!(open(Some(&r), "connection", "ent_1", "oidc.client_secret", &t).is_err());
        // Plain values pass through.
        assert_eq!(
            open(Some(&r), "c", "i", "f", "plain").unwrap().as_str(),
            "plain"
        );
    }
}
