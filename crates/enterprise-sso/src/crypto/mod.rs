//! Encryption at rest of secret fields (the OIDC client secret) and of what connection
//! test runs keep from the IdP (the sign-in records of kind `test_run`).
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
//!   so sealed and plain values never collide.
//! - **Downgrades are refused.** With a ring, a plain value where a sealed one belongs is
//!   refused ([`CryptoError::PlainValue`]): otherwise anyone who can write to the store
//!   could replace a secret without a key. Plain values written before a ring was
//!   configured are read only by [`Encrypted::accepting_plain_values`], for the migration:
//!   run [`Encrypted::reencrypt_all`] through it once, then use [`Encrypted::new`].
//! - **One bad record stays one bad record.** A secret that cannot be opened fails the
//!   reads of its own connection with [`crate::Error::UnreadableSecret`], which names the
//!   connection and field. A listing that contains it fails the same way, naming it,
//!   rather than leave it out: a listing that silently omits a connection reads, to a
//!   host that reconciles or exports from it, as if the connection were deleted, and a
//!   page whose length no longer matches its count breaks paging. Every other read
//!   (the other connections, routing, sign-in) is untouched. [`Encrypted::check_secrets`]
//!   opens every secret and lists each record that fails; [`Encrypted::reencrypt_all`]
//!   goes on past them and reports them; [`Encrypted::replace_secret`] repairs one.
//!
//! Without a [`Keyring`] (no wrapper), secrets are stored as plain text: protect the store
//! as a secret store.

mod keyring;
mod seal;
mod store;

pub use keyring::{KeyId, Keyring, KeyringError};
pub use seal::{is_sealed, CryptoError};
pub use store::{Encrypted, ReencryptReport, SecretCheck, UnreadableSecret};
