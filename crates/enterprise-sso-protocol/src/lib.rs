//! # enterprise-sso-protocol
//!
//! The protocol code of enterprise SSO, free of the domain model: every input that comes
//! from an identity provider or a URL is parsed and judged here, with time passed in by the
//! caller. The core crate (`enterprise-sso`) applies these parsers inside its merge rules;
//! the SAML service provider and the OIDC relying party grow here.
//!
//! - [`url_policy`]: the one URL parse and its refusals (parser differentials, SSRF).
//! - [`xml`]: the streaming pre-pass that bounds an XML document before a tree is built.
//! - [`saml`]: IdP metadata and X.509 certificates.
//! - [`oidc`]: discovery documents.
//! - [`limits`]: the size limits and the deployment [`Policy`](limits::Policy).
//! - [`secret`]: secret newtypes ([`secret_type!`]): redacted `Debug`, no `Display`.

mod flow_refusal;
pub mod limits;
pub mod oidc;
pub mod saml;
pub mod secret;
pub mod url_policy;
pub mod xml;

pub use flow_refusal::{HostedRefusal, OidcSignInRefusal, SamlRefusal};
