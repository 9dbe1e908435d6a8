//! The size limits and the deployment policy of the rules: a leaf module, so every parser
//! (URL policy, SAML, OIDC) and the validator read the same numbers without depending on
//! each other.

/// Settings of the rules that depend on where the library runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// Allow loopback hosts (`localhost`, `127.0.0.0/8`, `::1`) in URLs the host's server
    /// fetches (metadata, discovery, token, user-info). Off by default: turn it on in tests
    /// that serve those documents locally.
    pub allow_loopback_fetch: bool,
}

/// Longest connection name, in characters.
pub const MAX_NAME_CHARS: usize = 256;
/// Most domains one connection may claim.
pub const MAX_DOMAINS: usize = 100;
/// Longest URL, in bytes.
pub const MAX_URL_LEN: usize = 2048;
/// Longest short text (ids, client id, secret, entity id, attribute names), in bytes.
pub const MAX_TEXT_LEN: usize = 1024;
/// Longest IdP certificate, in bytes.
pub const MAX_CERTIFICATE_LEN: usize = 64 * 1024;
/// Longest raw IdP metadata, in bytes.
pub const MAX_METADATA_LEN: usize = 1024 * 1024;
