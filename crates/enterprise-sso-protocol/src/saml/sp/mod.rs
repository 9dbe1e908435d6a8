//! The SAML service provider: AuthnRequests (HTTP-Redirect), SP metadata, and a
//! Response verifier (HTTP-POST) that holds against the SAML attack catalogue.
//!
//! A narrow SAML-profile verifier, not a general XML-DSig engine (the shape of SSOReady's
//! verifier and python3-saml's placement rules):
//!
//! - one parse (`roxmltree`, DTD refused, size, node and depth caps, the linear
//!   pre-pass of [`crate::xml`]); root `samlp:Response`;
//! - exactly one `Assertion` or `EncryptedAssertion`, a direct child of the Response;
//!   `ds:Signature` only directly under the Response or the Assertion, after `Issuer`,
//!   one each; every ID unique;
//! - one `SignedInfo`, one `Reference` to `#` + the parent's ID, transforms exactly
//!   enveloped-signature + exclusive c14n ([`crate::xml::c14n`], this crate's own),
//!   rsa-sha256/384/512 or ecdsa-sha256/384, digests sha256/384/512; SHA-1 only with
//!   [`ResponseVerifier::insecure_allow_sha1`]; never HMAC;
//! - keys only from the connection's certificates valid now ([`IdentityProvider`]),
//!   `KeyInfo` at most a selector by exact DER; no valid certificate, no sign-in;
//! - identity read only from what a checked digest covers: the very node the
//!   `Reference` resolved to and the canonicalizer walked, minus the enveloped signature
//!   (`read` says why that reads exactly the digested bytes; the tests compare it with a
//!   second parse of those bytes), each value the full text of its element;
//! - semantic rules: Status, Issuer, Audience, Destination, bearer Recipient, times with
//!   skew (`NotOnOrAfter` exclusive), `InResponseTo`, unsolicited responses.
//!
//! Every refusal is a [`Refusal`] with a stable [`code`](Refusal::code).
//!
//! Time is passed in (`now_ms`, Unix milliseconds), and so is randomness (request IDs).

mod authn_request;
mod config;
mod decrypt;
mod keys;
mod metadata;
mod parse;
mod read;
mod refusal;
mod response;
mod signature;

pub use authn_request::{
    authn_request_xml, inflate_redirect_param, redirect_request, request_id, AuthnRequestError,
    AuthnRequestOptions, RedirectRequest, MAX_RELAY_STATE_BYTES, MIN_ID_RANDOM_BYTES,
    SIG_ALG_RSA_SHA256,
};
pub use config::{IdentityProvider, KeyError, ServiceProvider, SpKeyPair, SpPrivateKey};
pub use decrypt::MAX_CIPHERTEXT_BYTES;
pub use keys::MIN_RSA_BITS;
pub use metadata::{sp_metadata_xml, NAME_ID_FORMATS};
pub use parse::{
    format_datetime, parse_datetime, MAX_BASE64_BYTES, MAX_CANONICAL_BYTES, MAX_DEPTH,
    MAX_DOCUMENT_BYTES, MAX_NODES,
};
pub use refusal::{Refusal, SignedElement, MAX_VALUE_CHARS};
pub use response::{ResponseVerifier, SignedParts, VerifiedAssertion, DEFAULT_CLOCK_SKEW};
