//! XML shared by the SAML code: the streaming pre-pass that bounds a document's structure
//! before any tree is built.

pub mod c14n;
mod limits;

#[cfg(feature = "testing")]
pub mod hostile;

pub use limits::*;
