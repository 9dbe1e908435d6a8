//! The key ring: key ids and 32-byte keys, one active.

use std::collections::BTreeMap;
use std::fmt;

use zeroize::Zeroizing;

/// A key's id: 1..=32 characters of `A-Z a-z 0-9 _ -` (stored beside every value it
/// seals, so it must not contain the token's `:` separator).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(String);

impl KeyId {
    /// Checks and wraps an id.
    pub fn new(id: impl Into<String>) -> Result<Self, KeyringError> {
        let id = id.into();
        let ok = (1..=32).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if ok {
            Ok(KeyId(id))
        } else {
            Err(KeyringError::InvalidKeyId)
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.0)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a key ring could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyringError {
    /// A key id outside `[A-Za-z0-9_-]{1,32}`.
    #[error("a key id must be 1 to 32 characters of A-Z, a-z, 0-9, _ or -")]
    InvalidKeyId,
    /// A key that is not exactly 32 bytes.
    #[error("key {key_id}: an AES-256 key is exactly 32 bytes, got {len}")]
    InvalidKeyLength {
        /// Which key.
        key_id: String,
        /// Its length in bytes.
        len: usize,
    },
    /// The same id twice.
    #[error("key {key_id} is given twice")]
    DuplicateKeyId {
        /// Which key.
        key_id: String,
    },
    /// The active key id names no key of the ring.
    #[error("the active key {key_id} is not in the ring")]
    ActiveKeyMissing {
        /// Which key.
        key_id: String,
    },
}

/// Key id → 32-byte key; the active key encrypts, every key decrypts. Keys are zeroized
/// when the ring is dropped, and `Debug` shows only the ids.
///
/// ```
/// use enterprise_sso::crypto::Keyring;
/// let ring = Keyring::new("k2026", [7u8; 32])
///     .unwrap()
///     .with_old_key("k2025", [3u8; 32])
///     .unwrap();
/// assert_eq!(ring.active_id().as_str(), "k2026");
/// assert_eq!(format!("{ring:?}"), "Keyring { active: k2026, keys: [k2025, k2026] }");
/// ```
#[derive(Clone)]
pub struct Keyring {
    keys: BTreeMap<KeyId, Zeroizing<[u8; 32]>>,
    active: KeyId,
}

fn key_bytes(id: &KeyId, bytes: &[u8]) -> Result<Zeroizing<[u8; 32]>, KeyringError> {
    let mut key = Zeroizing::new([0u8; 32]);
    if bytes.len() != 32 {
        return Err(KeyringError::InvalidKeyLength {
            key_id: id.to_string(),
            len: bytes.len(),
        });
    }
    key.copy_from_slice(bytes);
    Ok(key)
}

impl Keyring {
    /// A ring with one key, active.
    pub fn new(active_id: &str, key: impl AsRef<[u8]>) -> Result<Self, KeyringError> {
        let id = KeyId::new(active_id)?;
        let key = key_bytes(&id, key.as_ref())?;
        Ok(Keyring {
            keys: BTreeMap::from([(id.clone(), key)]),
            active: id,
        })
    }

    /// Adds a key that still decrypts but no longer encrypts (a rotated-out key).
    pub fn with_old_key(mut self, id: &str, key: impl AsRef<[u8]>) -> Result<Self, KeyringError> {
        let id = KeyId::new(id)?;
        if self.keys.contains_key(&id) {
            return Err(KeyringError::DuplicateKeyId {
                key_id: id.to_string(),
            });
        }
        let key = key_bytes(&id, key.as_ref())?;
        self.keys.insert(id, key);
        Ok(self)
    }

    /// A ring from `id:base64key` entries separated by commas, the first one active (the
    /// server's `ENTERPRISE_SSO_KEYRING`).
    pub fn from_spec(spec: &str) -> Result<Self, KeyringError> {
        use base64::Engine as _;
        let mut ring: Option<Keyring> = None;
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (id, b64) = entry.split_once(':').ok_or(KeyringError::InvalidKeyId)?;
            let id_checked = KeyId::new(id)?;
            let bytes = Zeroizing::new(
                base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .map_err(|_| KeyringError::InvalidKeyLength {
                        key_id: id_checked.to_string(),
                        len: 0,
                    })?,
            );
            ring = Some(match ring {
                None => Keyring::new(id, bytes.as_slice())?,
                Some(r) => r.with_old_key(id, bytes.as_slice())?,
            });
        }
        ring.ok_or(KeyringError::InvalidKeyId)
    }

    /// The active key's id.
    pub fn active_id(&self) -> &KeyId {
        &self.active
    }

    /// The active key.
    pub(crate) fn active_key(&self) -> &[u8; 32] {
        // The constructor puts the active key in the map and nothing removes it.
        self.keys.get(&self.active).map_or(&[0u8; 32], |k| k)
    }

    /// The key with this id, if the ring has it.
    pub(crate) fn key(&self, id: &str) -> Option<&[u8; 32]> {
        self.keys
            .iter()
            .find(|(k, _)| k.as_str() == id)
            .map(|(_, v)| &**v)
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keyring {{ active: {}, keys: [", self.active)?;
        for (i, k) in self.keys.keys().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{k}")?;
        }
        f.write_str("] }")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rings_are_checked_and_never_print_keys() {
        assert!(Keyring::new("bad:id", [0u8; 32]).is_err());
        assert!(matches!(
            Keyring::new("k", [0u8; 31]),
            Err(KeyringError::InvalidKeyLength { len: 31, .. })
        ));
        let r = Keyring::new("a", [0xABu8; 32]).unwrap();
        assert!(matches!(
            r.clone().with_old_key("a", [1u8; 32]),
            Err(KeyringError::DuplicateKeyId { .. })
        ));
        let text = format!("{r:?}");
        assert!(!text.contains("171") && !text.to_lowercase().contains("ab, ab"));
        let spec = Keyring::from_spec("new:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=, old:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=").unwrap();
        assert_eq!(spec.active_id().as_str(), "new");
        assert_eq!(spec.key("old"), Some(&[2u8; 32]));
        assert!(Keyring::from_spec("x:AAAA").is_err());
    }
}
