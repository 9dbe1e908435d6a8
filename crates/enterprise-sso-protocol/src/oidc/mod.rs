//! OpenID Connect: discovery documents.

mod discovery;

pub use discovery::*;
