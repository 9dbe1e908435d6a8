//! `saml:EncryptedAssertion` (XML Encryption 1.1, the subset SAML IdPs use).
//!
//! - Key transport: `rsa-oaep-mgf1p` (MGF1 with SHA-1, digest from `DigestMethod`,
//!   SHA-1 by default, as the standard says) and xmlenc 1.1 `rsa-oaep` (digest and MGF
//!   given). RSA PKCS#1 v1.5 key transport is refused (Bleichenbacher).
//! - Data: `aes128-cbc`, `aes256-cbc`, `aes128-gcm`, `aes256-gcm`, and `tripledes-cbc`
//!   (pysaml2's default; decryption only, one message per key, so the 64-bit block's
//!   birthday bound does not apply).
//! - The encrypted key is inside `EncryptedData/KeyInfo`, or a direct child of
//!   `EncryptedAssertion` (no `RetrievalMethod` is ever followed; no URI is fetched).
//!
//! RSA decryption uses the RustCrypto `rsa` crate 0.10: constant-time modular
//! exponentiation (`crypto-bigint`), so it is not exposed to the Marvin timing attack
//! that affects `rsa` 0.9 and older (RUSTSEC-2023-0071). Every failure after the
//! algorithm checks (key unwrapping, padding, authentication tag) is the same
//! [`Refusal::DecryptionFailed`], so the refusal is no padding oracle; the caller also
//! folds plaintext parse failures into it.

use roxmltree::Node;

use super::config::SpKeyPair;
use super::parse::{base64_value, elements, is, DS, XENC, XENC11};
use super::refusal::{shown, Refusal};

/// Largest ciphertext (`CipherValue`, decoded) accepted, in bytes.
pub const MAX_CIPHERTEXT_BYTES: usize = super::parse::MAX_DOCUMENT_BYTES;
/// Most `EncryptedKey` elements tried.
const MAX_ENCRYPTED_KEYS: usize = 4;

const RSA_OAEP_MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
const RSA_OAEP: &str = "http://www.w3.org/2009/xmlenc11#rsa-oaep";

#[derive(Debug, Clone, Copy)]
enum Data {
    TdesCbc,
    Cbc128,
    Cbc256,
    Gcm128,
    Gcm256,
}

impl Data {
    fn from_uri(uri: &str) -> Option<Self> {
        Some(match uri {
            "http://www.w3.org/2001/04/xmlenc#tripledes-cbc" => Self::TdesCbc,
            "http://www.w3.org/2001/04/xmlenc#aes128-cbc" => Self::Cbc128,
            "http://www.w3.org/2001/04/xmlenc#aes256-cbc" => Self::Cbc256,
            "http://www.w3.org/2009/xmlenc11#aes128-gcm" => Self::Gcm128,
            "http://www.w3.org/2009/xmlenc11#aes256-gcm" => Self::Gcm256,
            _ => return None,
        })
    }

    fn key_len(self) -> usize {
        match self {
            Self::Cbc128 | Self::Gcm128 => 16,
            Self::Cbc256 | Self::Gcm256 => 32,
            Self::TdesCbc => 24,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OaepHash {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

fn oaep_digest(uri: &str) -> Option<OaepHash> {
    Some(match uri {
        "http://www.w3.org/2000/09/xmldsig#sha1" => OaepHash::Sha1,
        "http://www.w3.org/2001/04/xmlenc#sha256" => OaepHash::Sha256,
        "http://www.w3.org/2001/04/xmldsig-more#sha384" => OaepHash::Sha384,
        "http://www.w3.org/2001/04/xmlenc#sha512" => OaepHash::Sha512,
        _ => return None,
    })
}

fn mgf(uri: &str) -> Option<OaepHash> {
    Some(match uri {
        "http://www.w3.org/2009/xmlenc11#mgf1sha1" => OaepHash::Sha1,
        "http://www.w3.org/2009/xmlenc11#mgf1sha256" => OaepHash::Sha256,
        "http://www.w3.org/2009/xmlenc11#mgf1sha384" => OaepHash::Sha384,
        "http://www.w3.org/2009/xmlenc11#mgf1sha512" => OaepHash::Sha512,
        _ => return None,
    })
}

fn not_allowed(what: &'static str, uri: &str) -> Refusal {
    Refusal::EncryptionAlgorithmNotAllowed {
        what,
        received: shown(uri),
    }
}

fn cipher_value(node: Node<'_, '_>) -> Result<Vec<u8>, Refusal> {
    let value = elements(node)
        .find(|n| is(n, XENC, "CipherData"))
        .and_then(|cd| elements(cd).find(|n| is(n, XENC, "CipherValue")))
        .ok_or(Refusal::DecryptionFailed)?;
    let text: String = value
        .children()
        .filter(Node::is_text)
        .filter_map(|t| t.text())
        .collect();
    if text.len() > MAX_CIPHERTEXT_BYTES.saturating_mul(4) / 3 + 8 {
        return Err(Refusal::TooLarge {
            what: "ciphertext",
            limit: MAX_CIPHERTEXT_BYTES,
            received: text.len().saturating_mul(3) / 4,
        });
    }
    base64_value(&text).ok_or(Refusal::DecryptionFailed)
}

/// One `EncryptedKey`: its OAEP parameters and ciphertext.
struct WrappedKey {
    digest: OaepHash,
    mgf: OaepHash,
    ciphertext: Vec<u8>,
}

fn wrapped_key(ek: Node<'_, '_>) -> Result<WrappedKey, Refusal> {
    let method = elements(ek)
        .find(|n| is(n, XENC, "EncryptionMethod"))
        .ok_or(Refusal::DecryptionFailed)?;
    let alg = method.attribute("Algorithm").unwrap_or_default();
    let mut digest = OaepHash::Sha1;
    let mut mgf_hash = OaepHash::Sha1;
    for p in elements(method) {
        if is(&p, DS, "DigestMethod") {
            let uri = p.attribute("Algorithm").unwrap_or_default();
            digest = oaep_digest(uri).ok_or_else(|| not_allowed("OAEP digest", uri))?;
        } else if is(&p, XENC11, "MGF") && alg == RSA_OAEP {
            let uri = p.attribute("Algorithm").unwrap_or_default();
            mgf_hash = mgf(uri).ok_or_else(|| not_allowed("OAEP mask generation", uri))?;
        } else if is(&p, XENC, "OAEPparams") {
            return Err(not_allowed("OAEP label", "OAEPparams"));
        } else {
            return Err(not_allowed("key transport parameter", p.tag_name().name()));
        }
    }
    if alg != RSA_OAEP_MGF1P && alg != RSA_OAEP {
        return Err(not_allowed("key transport", alg));
    }
    Ok(WrappedKey {
        digest,
        mgf: mgf_hash,
        ciphertext: cipher_value(ek)?,
    })
}

fn oaep_decrypt(key: &rsa::PrivateKey, w: &WrappedKey) -> Option<Vec<u8>> {
    use rsa::Oaep;
    use OaepHash::*;
    let ct = &w.ciphertext;
    macro_rules! go {
        ($d:ty, $m:ty) => {
            key.decrypt(Oaep::<$d, $m>::new_with_mgf_hash(), ct).ok()
        };
    }
    match (w.digest, w.mgf) {
        (Sha1, Sha1) => go!(sha1::Sha1, sha1::Sha1),
        (Sha256, Sha1) => go!(sha2::Sha256, sha1::Sha1),
        (Sha384, Sha1) => go!(sha2::Sha384, sha1::Sha1),
        (Sha512, Sha1) => go!(sha2::Sha512, sha1::Sha1),
        (Sha1, Sha256) => go!(sha1::Sha1, sha2::Sha256),
        (Sha256, Sha256) => go!(sha2::Sha256, sha2::Sha256),
        (Sha384, Sha256) => go!(sha2::Sha384, sha2::Sha256),
        (Sha512, Sha256) => go!(sha2::Sha512, sha2::Sha256),
        (Sha1, Sha384) => go!(sha1::Sha1, sha2::Sha384),
        (Sha256, Sha384) => go!(sha2::Sha256, sha2::Sha384),
        (Sha384, Sha384) => go!(sha2::Sha384, sha2::Sha384),
        (Sha512, Sha384) => go!(sha2::Sha512, sha2::Sha384),
        (Sha1, Sha512) => go!(sha1::Sha1, sha2::Sha512),
        (Sha256, Sha512) => go!(sha2::Sha256, sha2::Sha512),
        (Sha384, Sha512) => go!(sha2::Sha384, sha2::Sha512),
        (Sha512, Sha512) => go!(sha2::Sha512, sha2::Sha512),
    }
}

/// A decrypted assertion.
pub(crate) struct Decrypted {
    /// The plaintext: an XML fragment, not yet parsed.
    pub plaintext: Vec<u8>,
    /// Whether the data algorithm authenticates its ciphertext (GCM). With CBC, a
    /// modified ciphertext decrypts to modified plaintext, so the caller must not let
    /// its refusals tell such plaintexts apart (the XML Encryption CBC oracle).
    pub authenticated: bool,
}

/// Decrypts the assertion inside `encrypted_assertion` with the SP's keys.
pub(crate) fn decrypt(
    encrypted_assertion: Node<'_, '_>,
    keys: &[SpKeyPair],
) -> Result<Decrypted, Refusal> {
    let mut data_nodes = elements(encrypted_assertion).filter(|n| is(n, XENC, "EncryptedData"));
    let data = data_nodes.next().ok_or(Refusal::DecryptionFailed)?;
    if data_nodes.next().is_some() {
        return Err(Refusal::DecryptionFailed);
    }
    let method = elements(data)
        .find(|n| is(n, XENC, "EncryptionMethod"))
        .ok_or(Refusal::DecryptionFailed)?;
    let data_uri = method.attribute("Algorithm").unwrap_or_default();
    let alg = Data::from_uri(data_uri).ok_or_else(|| not_allowed("data encryption", data_uri))?;

    // EncryptedKey inside KeyInfo, or beside EncryptedData.
    let in_key_info = elements(data)
        .filter(|n| is(n, DS, "KeyInfo"))
        .flat_map(elements)
        .filter(|n| is(n, XENC, "EncryptedKey"));
    let beside = elements(encrypted_assertion).filter(|n| is(n, XENC, "EncryptedKey"));
    let wrapped: Vec<WrappedKey> = in_key_info
        .chain(beside)
        .take(MAX_ENCRYPTED_KEYS)
        .map(wrapped_key)
        .collect::<Result<_, _>>()?;
    if wrapped.is_empty() {
        return Err(Refusal::DecryptionFailed);
    }
    if keys.is_empty() {
        return Err(Refusal::NoDecryptionKey);
    }
    let ciphertext = cipher_value(data)?;

    for w in &wrapped {
        for k in keys {
            let Some(sym) = oaep_decrypt(&k.private_key.0, w).map(zeroize::Zeroizing::new) else {
                continue;
            };
            if sym.len() != alg.key_len() {
                continue;
            }
            if let Some(plain) = decrypt_data(alg, &sym, &ciphertext) {
                return Ok(Decrypted {
                    plaintext: plain,
                    authenticated: matches!(alg, Data::Gcm128 | Data::Gcm256),
                });
            }
        }
    }
    Err(Refusal::DecryptionFailed)
}

fn decrypt_data(alg: Data, key: &[u8], ciphertext: &[u8]) -> Option<Vec<u8>> {
    match alg {
        Data::TdesCbc => cbc_tdes(key, ciphertext),
        Data::Cbc128 => cbc_aes128(key, ciphertext),
        Data::Cbc256 => cbc_aes256(key, ciphertext),
        Data::Gcm128 => gcm_aes128(key, ciphertext),
        Data::Gcm256 => gcm_aes256(key, ciphertext),
    }
}

/// CBC with the IV first and XML Encryption padding (the last byte is the pad length,
/// 1 to the block size; the other pad bytes are arbitrary).
macro_rules! cbc_fn {
    ($name:ident, $cipher:ty, $block:expr) => {
        fn $name(key: &[u8], data: &[u8]) -> Option<Vec<u8>> {
            use aes::cipher::{BlockDecryptMut, KeyIvInit};
            const BLOCK: usize = $block;
            let (iv, body) = (data.get(..BLOCK)?, data.get(BLOCK..)?);
            if body.is_empty() || body.len() % BLOCK != 0 {
                return None;
            }
            let dec = cbc::Decryptor::<$cipher>::new_from_slices(key, iv).ok()?;
            let mut buf = body.to_vec();
            let plain = dec
                .decrypt_padded_mut::<aes::cipher::block_padding::NoPadding>(&mut buf)
                .ok()?;
            let pad = usize::from(*plain.last()?);
            if pad == 0 || pad > BLOCK || pad > plain.len() {
                return None;
            }
            let end = plain.len() - pad;
            plain.get(..end).map(<[u8]>::to_vec)
        }
    };
}
cbc_fn!(cbc_aes128, aes::Aes128, 16);
cbc_fn!(cbc_aes256, aes::Aes256, 16);
cbc_fn!(cbc_tdes, des::TdesEde3, 8);

/// AES-GCM: 12-byte IV, ciphertext, 16-byte tag.
macro_rules! gcm_fn {
    ($name:ident, $cipher:ty) => {
        fn $name(key: &[u8], data: &[u8]) -> Option<Vec<u8>> {
            use aes_gcm::aead::{Aead, KeyInit};
            let (iv, body) = (data.get(..12)?, data.get(12..)?);
            if body.len() < 16 {
                return None;
            }
            let cipher = <$cipher>::new_from_slice(key).ok()?;
            cipher.decrypt(aes_gcm::Nonce::from_slice(iv), body).ok()
        }
    };
}
gcm_fn!(gcm_aes128, aes_gcm::Aes128Gcm);
gcm_fn!(gcm_aes256, aes_gcm::Aes256Gcm);
