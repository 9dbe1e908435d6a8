//! Encryption at rest of secret fields (today the OIDC client secret).
//!
//! - [`Keyring`]: key id → 32-byte AES-256 key, one of them active. The active key
//!   encrypts; any key in the ring decrypts. Keys are zeroized on drop and never printed.
//! - [`Encrypted`]: a store wrapper ([`crate::Store`] over any store) that seals every
//!   secret field before the inner store sees it and opens it on the way back, so every
//!   adapter (memory, SQLite, sled, PostgreSQL, yours) stores only ciphertext without code
//!   of its own. [`Encrypted::reencrypt_all`] moves every value to the active key in
//!   bounded batches; [`Encrypted::check_keys`] finds values whose key is not in the ring.
//! - A sealed value is AES-256-GCM (RustCrypto `aes-gcm`) with a fresh random 96-bit
//!   nonce per value, and the record kind, record id and field name as associated data:
//!   a ciphertext copied into another record or field fails to decrypt
//!   ([`CryptoError::Decrypt`]). The stored text is
//!   `"\0esso-sealed:v1:<key id>:<base64 nonce>:<base64 ciphertext+tag>"`; the leading NUL
//!   cannot begin a valid plain secret (validation refuses control characters in secrets),
//!   so sealed and plain values never collide, and plain values written before a ring was
//!   configured stay readable until re-encrypted.
//!
//! Without a [`Keyring`] (no wrapper), secrets are stored as plain text: protect the store
//! as a secret store.

mod keyring;
mod seal;
mod store;

pub use keyring::{KeyId, Keyring, KeyringError};
pub use seal::{is_sealed, CryptoError};
pub use store::{Encrypted, ReencryptReport};
