//! The pending request of an OIDC sign-in, as the sign-in store keeps it between start and
//! callback, its nonce and PKCE verifier sealed under the request's `state` (module docs
//! of `oidc`).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use sha2::Digest as _;
use zeroize::Zeroizing;

use crate::pending::BoundToBrowser;
use enterprise_sso::{ConnectionId, Error, Result};

#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct Pending {
    pub(super) browser: String,
    /// The [`PendingAuthorization`] payload, sealed ([`seal_pending`]), base64.
    pub(super) sealed: String,
    /// A test run's request: its callback is recorded in the run, never signs in.
    #[serde(default)]
    pub(crate) test_run: bool,
}

const PENDING_KEY_LABEL: &[u8] = b"enterprise-sso/oidc-pending/v1\0";

/// The AES-256 key of one pending request: SHA-256 of a label and the `state`.
fn pending_key(state: &str) -> Zeroizing<[u8; 32]> {
    let mut h = sha2::Sha256::new();
    h.update(PENDING_KEY_LABEL);
    h.update(state.as_bytes());
    Zeroizing::new(h.finalize().into())
}

/// Seals a pending request's payload under its `state` for connection `id`: the GCM
/// nonce is derived from the key and the plaintext (each key seals one request, and the
/// same input seals the same way), stored in front of the ciphertext.
pub(super) fn seal_pending(state: &str, id: &ConnectionId, plain: &[u8]) -> Result<String> {
    let key = pending_key(state);
    let mut h = sha2::Sha256::new();
    h.update(b"nonce\0");
    h.update(key.as_slice());
    h.update(plain);
    let digest = h.finalize();
    let nonce = Nonce::from_slice(digest.get(..12).unwrap_or_default());
    let aad = id.to_string();
    let ct = Aes256Gcm::new(key.as_slice().into())
        .encrypt(
            nonce,
            Payload {
                msg: plain,
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| Error::corrupt("an OIDC pending request could not be sealed"))?;
    let mut out = Vec::with_capacity(12 + ct.len());
    out.extend_from_slice(nonce);
    out.extend_from_slice(&ct);
    Ok(base64::engine::general_purpose::STANDARD.encode(out))
}

/// Opens what [`seal_pending`] made; `None` when it does not open (another state or
/// connection, altered, or not sealed).
pub(super) fn open_pending(
    state: &str,
    id: &ConnectionId,
    sealed: &str,
) -> Option<Zeroizing<Vec<u8>>> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(sealed)
        .ok()?;
    let (nonce, ct) = (bytes.get(..12)?, bytes.get(12..)?);
    let key = pending_key(state);
    let aad = id.to_string();
    Aes256Gcm::new(key.as_slice().into())
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: ct,
                aad: aad.as_bytes(),
            },
        )
        .ok()
        .map(Zeroizing::new)
}

impl BoundToBrowser for Pending {
    fn browser_key(&self) -> &str {
        &self.browser
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn id() -> ConnectionId {
        "ent_01HZX3W9Q8M7K6J5H4G3F2E1D0".parse().unwrap()
    }

    #[test]
    fn pending_payload_is_sealed_under_the_state_and_the_connection() {
        let plain = br#"{"v":1,"nonce":"the-nonce-value","pkce":"the-pkce-verifier"}"#;
        let sealed = seal_pending("state-1", &id(), plain).unwrap();
        let stored = base64::engine::general_purpose::STANDARD
            .decode(&sealed)
            .unwrap();
        assert!(!stored.windows(9).any(|w| w == b"the-nonce"));
        assert!(!sealed.contains("the-nonce"));
        assert_eq!(
            open_pending("state-1", &id(), &sealed).unwrap().as_slice(),
            plain
        );
        // Another state, another connection, an altered byte: nothing opens.
        assert!(open_pending("state-2", &id(), &sealed).is_none());
        let other: ConnectionId = "ent_01HZX3W9Q8M7K6J5H4G3F2E1D1".parse().unwrap();
        assert!(open_pending("state-1", &other, &sealed).is_none());
        let mut altered = stored.clone();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        let altered = base64::engine::general_purpose::STANDARD.encode(altered);
        assert!(open_pending("state-1", &id(), &altered).is_none());
        assert!(open_pending("state-1", &id(), "not base64!").is_none());
        // Two requests (two states) seal differently even with the same content.
        assert_ne!(sealed, seal_pending("state-2", &id(), plain).unwrap());
    }
}
