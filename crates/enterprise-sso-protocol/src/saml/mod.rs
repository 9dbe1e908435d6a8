//! SAML: IdP metadata and certificates as a connection stores them.

pub mod metadata;
pub mod sp;

pub use metadata::*;
