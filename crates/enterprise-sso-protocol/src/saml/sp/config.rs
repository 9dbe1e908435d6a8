//! The two parties of a SAML connection: this service provider and the IdP it trusts.

use std::fmt;

use base64::Engine;

/// This service provider, as one connection presents it to its IdP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceProvider {
    /// The SP entity id (the `Audience` the IdP must name).
    pub entity_id: String,
    /// The Assertion Consumer Service URL (HTTP-POST), where the IdP posts the response;
    /// `Destination` and the bearer `Recipient` must equal it exactly.
    pub acs_url: String,
    /// SP key pairs, newest first: used to sign AuthnRequests (the first one) and to
    /// decrypt encrypted assertions (each one in turn, for rotation). Empty when the host
    /// configures none.
    pub keys: Vec<SpKeyPair>,
}

impl ServiceProvider {
    /// A service provider without key pairs.
    pub fn new(entity_id: impl Into<String>, acs_url: impl Into<String>) -> Self {
        Self {
            entity_id: entity_id.into(),
            acs_url: acs_url.into(),
            keys: Vec::new(),
        }
    }

    /// Adds a key pair (call newest first).
    #[must_use]
    pub fn with_key(mut self, key: SpKeyPair) -> Self {
        self.keys.push(key);
        self
    }
}

/// The IdP of one connection: its entity id and the signing certificates the host
/// configured for it (several during a rotation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityProvider {
    /// The IdP entity id (the `Issuer` it must use).
    pub entity_id: String,
    /// DER X.509 certificates; only those valid at verification time are used, and with
    /// none valid every response is refused.
    pub certificates: Vec<Vec<u8>>,
}

impl IdentityProvider {
    /// An IdP with its entity id and DER certificates.
    pub fn new(entity_id: impl Into<String>, certificates: Vec<Vec<u8>>) -> Self {
        Self {
            entity_id: entity_id.into(),
            certificates,
        }
    }
}

/// Why an SP key pair could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Not a PEM or DER RSA private key (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE
    /// KEY`).
    #[error("the SP private key is not an RSA private key in PKCS#8 or PKCS#1 PEM/DER")]
    NotAPrivateKey,
    /// The RSA key is shorter than 2048 bits.
    #[error("the SP private key has {bits} bits; at least 2048 are required")]
    TooShort {
        /// The modulus size.
        bits: usize,
    },
    /// The certificate is not an X.509 certificate.
    #[error("the SP certificate is not a PEM or DER X.509 certificate")]
    NotACertificate,
    /// The certificate's public key is not the private key's.
    #[error("the SP certificate does not belong to the SP private key")]
    Mismatch,
}

/// An SP RSA private key. Its `Debug` output is redacted; it is never printed, logged or
/// serialized by this crate.
///
/// Decryption uses the RustCrypto `rsa` crate 0.10, whose modular exponentiation is
/// constant time (`crypto-bigint`): it is not exposed to the Marvin timing attack on RSA
/// decryption that affects `rsa` 0.9 and older (RUSTSEC-2023-0071).
#[derive(Clone)]
pub struct SpPrivateKey(pub(crate) rsa::PrivateKey);

impl fmt::Debug for SpPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SpPrivateKey(<redacted>)")
    }
}

impl PartialEq for SpPrivateKey {
    fn eq(&self, other: &Self) -> bool {
        use rsa::traits::PublicKeyParts;
        // Public parts only: equal keys have equal moduli.
        self.0.n() == other.0.n() && self.0.e() == other.0.e()
    }
}

impl Eq for SpPrivateKey {}

/// An SP key pair: an RSA private key and its certificate (DER), published in SP
/// metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpKeyPair {
    /// The private key (redacted `Debug`).
    pub private_key: SpPrivateKey,
    /// The certificate, DER.
    pub certificate_der: Vec<u8>,
}

impl SpKeyPair {
    /// Loads a key pair from PEM (or base64 DER) text: a PKCS#8 `PRIVATE KEY` or PKCS#1
    /// `RSA PRIVATE KEY` of at least 2048 bits, and the certificate whose public key it
    /// is.
    pub fn from_pem(private_key: &str, certificate: &str) -> Result<Self, KeyError> {
        use rsa::pkcs1::DecodeRsaPrivateKey;
        use rsa::pkcs8::DecodePrivateKey;
        use rsa::traits::PublicKeyParts;

        let (label, der) = pem_or_base64(private_key).ok_or(KeyError::NotAPrivateKey)?;
        let key = match label.as_deref() {
            Some("RSA PRIVATE KEY") => rsa::PrivateKey::from_pkcs1_der(&der).ok(),
            Some("PRIVATE KEY") => rsa::PrivateKey::from_pkcs8_der(&der).ok(),
            None => rsa::PrivateKey::from_pkcs8_der(&der)
                .ok()
                .or_else(|| rsa::PrivateKey::from_pkcs1_der(&der).ok()),
            Some(_) => None,
        }
        .ok_or(KeyError::NotAPrivateKey)?;
        let bits = key.size().saturating_mul(8);
        if bits < 2048 {
            return Err(KeyError::TooShort { bits });
        }
        let (label, cert_der) = pem_or_base64(certificate).ok_or(KeyError::NotACertificate)?;
        if !matches!(label.as_deref(), None | Some("CERTIFICATE")) {
            return Err(KeyError::NotACertificate);
        }
        let public = super::keys::rsa_public_key_of(&cert_der).ok_or(KeyError::NotACertificate)?;
        if public.n() != key.n() || public.e() != key.e() {
            return Err(KeyError::Mismatch);
        }
        Ok(Self {
            private_key: SpPrivateKey(key),
            certificate_der: cert_der,
        })
    }
}

/// One PEM block's label and DER, or bare base64 DER (label `None`).
pub(crate) fn pem_or_base64(text: &str) -> Option<(Option<String>, Vec<u8>)> {
    let text = text.trim();
    let decode = |body: &str| {
        let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
        base64::engine::general_purpose::STANDARD
            .decode(compact.as_bytes())
            .ok()
    };
    match text.strip_prefix("-----BEGIN ") {
        None => decode(text).map(|der| (None, der)),
        Some(rest) => {
            let (label, rest) = rest.split_once("-----")?;
            let end = format!("-----END {label}-----");
            let (body, after) = rest.split_once(end.as_str())?;
            if !after.trim().is_empty() {
                return None;
            }
            decode(body).map(|der| (Some(label.to_owned()), der))
        }
    }
}
