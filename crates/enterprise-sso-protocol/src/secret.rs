//! Secret values: client secrets, PKCE verifiers, nonces, `state` values, authorization
//! codes and tokens. Every one is a newtype made by [`secret_type!`](crate::secret_type),
//! as oauth2-rs makes its secret types: `Debug` prints `[redacted]`, there is no
//! `Display` (so a secret cannot end up in a formatted message by accident) and no
//! `PartialEq` (whose early exit leaks timing; compare with `ct_eq`), the text is zeroized
//! when the value is dropped, and the value is reachable only through `expose_secret`.

use base64::Engine;
use sha2::Digest;

/// Declares a secret newtype over a `String`: redacted `Debug`, no `Display`, no
/// `PartialEq`, zeroized on drop, `new`, `expose_secret`, `len`, `is_empty`, a
/// constant-time `ct_eq`, and `From<&str>` / `From<String>`.
///
/// ```
/// enterprise_sso_protocol::secret_type! {
///     /// An API key.
///     pub ApiKey
/// }
/// let k = ApiKey::new("sk_live_1");
/// assert_eq!(format!("{k:?}"), "[redacted]");
/// assert!(k.ct_eq(&ApiKey::new("sk_live_1")));
/// ```
#[macro_export]
macro_rules! secret_type {
    ($(#[$attr:meta])* $vis:vis $name:ident) => {
        $(#[$attr])*
        #[derive(Clone)]
        $vis struct $name($crate::secret::Zeroizing<String>);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: impl Into<String>) -> Self {
                Self($crate::secret::Zeroizing::new(value.into()))
            }

            /// The secret itself. Call this only where the value is really needed.
            pub fn expose_secret(&self) -> &str {
                &self.0
            }

            /// Length in bytes (for validation without touching the value).
            pub fn len(&self) -> usize {
                self.0.len()
            }

            /// True for the empty string.
            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }

            /// Compares two secrets in time that depends only on their lengths, not on
            /// where they first differ.
            pub fn ct_eq(&self, other: &Self) -> bool {
                $crate::secret::ct_eq(self.0.as_bytes(), other.0.as_bytes())
            }
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str("[redacted]")
            }
        }

        impl ::std::convert::From<&str> for $name {
            fn from(s: &str) -> Self {
                Self::new(s)
            }
        }

        impl ::std::convert::From<String> for $name {
            fn from(s: String) -> Self {
                Self::new(s)
            }
        }
    };
}

#[doc(hidden)]
pub use zeroize::Zeroizing;

/// Byte strings equal, in time that depends only on their lengths.
#[doc(hidden)]
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Base64url without padding, as PKCE, `state` and `nonce` values are written.
fn base64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

secret_type! {
    /// A PKCE code verifier (RFC 7636): 32 random bytes, base64url (43 characters).
    pub PkceCodeVerifier
}

secret_type! {
    /// An OpenID Connect `nonce`: binds an ID token to the authorization request.
    pub Nonce
}

secret_type! {
    /// An OAuth `state` value: binds the callback to the browser that started the flow.
    pub CsrfState
}

secret_type! {
    /// An authorization code, as a provider or this library's token endpoint issues it.
    pub AuthorizationCode
}

secret_type! {
    /// An access token.
    pub AccessToken
}

secret_type! {
    /// An ID token (a compact JWS), as the provider's token endpoint issued it: a bearer of
    /// the user's identity to this client, so it is kept only where a caller asks for it
    /// (a connection test run records the verified one).
    pub IdToken
}

impl PkceCodeVerifier {
    /// A verifier from 32 random bytes the caller drew (randomness is injected).
    pub fn from_random(bytes: [u8; 32]) -> Self {
        Self::new(base64url(&bytes))
    }

    /// The S256 challenge: base64url(SHA-256(verifier)). Not secret: it is sent in the
    /// authorization request.
    pub fn s256_challenge(&self) -> String {
        base64url(&sha2::Sha256::digest(self.expose_secret().as_bytes()))
    }
}

impl Nonce {
    /// A nonce from 16 or more random bytes the caller drew.
    pub fn from_random(bytes: [u8; 16]) -> Self {
        Self::new(base64url(&bytes))
    }
}

impl CsrfState {
    /// A `state` from 16 or more random bytes the caller drew.
    pub fn from_random(bytes: [u8; 16]) -> Self {
        Self::new(base64url(&bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted_and_comparison_is_exact() {
        let v = PkceCodeVerifier::from_random([7; 32]);
        assert_eq!(format!("{v:?}"), "[redacted]");
        assert_eq!(format!("{:#?}", Some(&v)), "Some(\n    [redacted],\n)");
        assert_eq!(v.len(), 43);
        assert!(v.ct_eq(&v.clone()));
        assert!(!v.ct_eq(&PkceCodeVerifier::from_random([8; 32])));
        assert!(!Nonce::new("abc").ct_eq(&Nonce::new("abd")));
        assert!(!Nonce::new("abc").ct_eq(&Nonce::new("ab")));
    }

    #[test]
    fn s256_challenge_matches_rfc_7636_appendix_b() {
        // RFC 7636 Appendix B: the verifier and its S256 challenge.
        let v = PkceCodeVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert_eq!(
            v.s256_challenge(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
