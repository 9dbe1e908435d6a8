//! OpenID Connect: discovery documents.

mod discovery;
pub mod rp;

pub use discovery::*;
