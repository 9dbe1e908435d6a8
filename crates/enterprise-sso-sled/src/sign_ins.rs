//! The sign-in store ([`SignInStore`]) under the [`Kind::SignIn`] prefix of the store's
//! tree: key `s` + kind name + `0x00` + key (the hash the flows computed), value an item
//! of its own small format (see [`encode`]).
//!
//! Put and take are writes like every other (see `group`): one sled transaction each, so
//! sled's conflict detection serialises two takes of one key and exactly one finds the
//! entry; with flush-on-write they return once on disk. A read is a plain `get`. sled
//! transactions cannot range-scan, so a sweep lists the expired entries first and then
//! removes, in transactions of up to [`SWEEP_CHUNK`] keys, those still expired (one taken
//! or rewritten meanwhile is left alone); it reads every sign-in entry, as the event
//! prune reads the feed (an expiry index would cost every put and take a second key).

use async_trait::async_trait;
use enterprise_sso::storage::stored_id;
use enterprise_sso::{
    AccountWrite, ConnectionId, Error, Result, SignInCommit, SignInConflict, SignInItem,
    SignInKind, SignInOp, SignInStore, UnixMillis,
};

use crate::keys::Kind;
use crate::tx::{abort, storage, Tx, TxResult};
use crate::SledRepo;

/// The format tag of an encoded item.
const FORMAT: u8 = 1;
/// Bytes before the payload: tag, checksum, created, expires, connection id length.
const HEADER: usize = 1 + 4 + 8 + 8 + 2;
/// Keys removed per transaction by a sweep.
pub(crate) const SWEEP_CHUNK: usize = 512;

/// The tree key of `kind`'s record `key`.
pub(crate) fn key(kind: SignInKind, key: &str) -> Vec<u8> {
    Kind::SignIn.key(&[kind.as_str().as_bytes(), &[0], key.as_bytes()])
}

/// `1`, CRC-32 of what follows, `created_at` and `expires_at` (i64 big-endian), the
/// connection id's length (u16 big-endian, 0 for none) and bytes, then the payload.
pub(crate) fn encode(it: &SignInItem) -> Result<Vec<u8>> {
    let conn = it.connection_id.as_ref().map_or("", ConnectionId::as_str);
    let len = u16::try_from(conn.len()).map_err(|_| Error::corrupt("connection id too long"))?;
    let mut v = Vec::with_capacity(HEADER + conn.len() + it.payload.len());
    v.push(FORMAT);
    v.extend_from_slice(&[0; 4]);
    v.extend_from_slice(&it.created_at.get().to_be_bytes());
    v.extend_from_slice(&it.expires_at.get().to_be_bytes());
    v.extend_from_slice(&len.to_be_bytes());
    v.extend_from_slice(conn.as_bytes());
    v.extend_from_slice(&it.payload);
    let crc = crc32fast::hash(&v[5..]).to_be_bytes();
    v[1..5].copy_from_slice(&crc);
    Ok(v)
}

fn i64_at(v: &[u8], at: usize) -> Option<i64> {
    Some(i64::from_be_bytes(v.get(at..at + 8)?.try_into().ok()?))
}

/// When the encoded item `v` expires (checksum not checked: a sweep's candidate test).
fn expires_at(v: &[u8]) -> Option<i64> {
    i64_at(v, 13)
}

/// The item stored as `v` under `kind` and `key`; [`Error::Corrupt`] when the bytes are
/// not one (wrong tag, checksum, lengths or connection id).
pub(crate) fn decode(kind: SignInKind, key: &str, v: &[u8]) -> Result<SignInItem> {
    let bad = || Error::corrupt("bad sign-in item");
    if v.len() < HEADER || v[0] != FORMAT {
        return Err(bad());
    }
    if crc32fast::hash(&v[5..]).to_be_bytes() != v[1..5] {
        return Err(Error::corrupt("sign-in item checksum mismatch"));
    }
    let len = usize::from(u16::from_be_bytes([v[21], v[22]]));
    let conn = v.get(HEADER..HEADER + len).ok_or_else(bad)?;
    let connection_id = match conn {
        [] => None,
        c => Some(stored_id::<ConnectionId>(
            std::str::from_utf8(c).map_err(|_| bad())?,
            "sign-in item",
        )?),
    };
    Ok(SignInItem {
        kind,
        key: key.to_owned(),
        connection_id,
        created_at: UnixMillis::new(i64_at(v, 5).ok_or_else(bad)?),
        expires_at: UnixMillis::new(i64_at(v, 13).ok_or_else(bad)?),
        payload: v[HEADER + len..].to_vec(),
    })
}

/// The integrity check of one sign-in entry: a known kind, and a value that decodes.
pub(crate) fn verify_entry(k: &[u8], v: &[u8]) -> std::result::Result<(), String> {
    let rest = k.get(1..).unwrap_or_default();
    let split = rest.iter().position(|b| *b == 0).ok_or("no kind")?;
    let kind = std::str::from_utf8(&rest[..split])
        .ok()
        .and_then(SignInKind::parse)
        .ok_or("unknown kind")?;
    let key = std::str::from_utf8(&rest[split + 1..]).map_err(|_| "key is not UTF-8")?;
    decode(kind, key, v).map(drop).map_err(|e| e.to_string())
}

#[async_trait]
impl SignInStore for SledRepo {
    async fn put_sign_in(&self, item: &SignInItem, now: UnixMillis) -> Result<bool> {
        let (k, v, kind, raw) = (
            key(item.kind, &item.key),
            encode(item)?,
            item.kind,
            item.key.clone(),
        );
        self.write(move |tx| {
            if let Some(old) = tx.get(&k)? {
                match decode(kind, &raw, &old) {
                    Ok(old) if old.is_live_at(now) => return Ok(false),
                    Ok(_) => {}
                    Err(e) => return abort(e),
                }
            }
            tx.put(&k, v.clone());
            Ok(true)
        })
        .await
    }

    async fn take_sign_in(
        &self,
        kind: SignInKind,
        key: &str,
        now: UnixMillis,
    ) -> Result<Option<SignInItem>> {
        let (k, raw) = (self::key(kind, key), key.to_owned());
        self.write(move |tx| {
            let Some(old) = tx.get(&k)? else {
                return Ok(None);
            };
            tx.del(&k);
            match decode(kind, &raw, &old) {
                Ok(it) => Ok(it.is_live_at(now).then_some(it)),
                Err(e) => abort(e),
            }
        })
        .await
    }

    async fn get_sign_in(
        &self,
        kind: SignInKind,
        key: &str,
        now: UnixMillis,
    ) -> Result<Option<SignInItem>> {
        match self.tree.get(self::key(kind, key)).map_err(storage)? {
            None => Ok(None),
            Some(v) => Ok(Some(decode(kind, key, &v)?).filter(|it| it.is_live_at(now))),
        }
    }

    async fn sweep_sign_ins(&self, now: UnixMillis) -> Result<u64> {
        let mut expired = Vec::new();
        for entry in self.tree.scan_prefix([Kind::SignIn.byte()]) {
            let (k, v) = entry.map_err(storage)?;
            // An entry whose bytes are damaged is left for `verify` to report.
            if expires_at(&v).is_some_and(|e| e <= now.get()) {
                expired.push(k.to_vec());
            }
        }
        let mut removed = 0;
        for chunk in expired.chunks(SWEEP_CHUNK) {
            let chunk = chunk.to_vec();
            removed += self
                .write(move |tx| {
                    let mut n = 0;
                    for k in &chunk {
                        if let Some(v) = tx.get(k)? {
                            if expires_at(&v).is_some_and(|e| e <= now.get()) {
                                tx.del(k);
                                n += 1;
                            }
                        }
                    }
                    Ok(n)
                })
                .await?;
        }
        Ok(removed)
    }

    async fn list_sign_ins(
        &self,
        kind: SignInKind,
        connection_id: &ConnectionId,
        now: UnixMillis,
    ) -> Result<Vec<SignInItem>> {
        // `s` + kind + 0x00: one kind's entries (no kind's name ends another's with 0x00).
        let prefix = key(kind, "");
        let mut out = Vec::new();
        for entry in self.tree.scan_prefix(&prefix) {
            let (k, v) = entry.map_err(storage)?;
            let raw = std::str::from_utf8(&k[prefix.len()..])
                .map_err(|_| Error::corrupt("sign-in key is not UTF-8"))?;
            let it = decode(kind, raw, &v)?;
            if it.is_live_at(now) && it.connection_id.as_ref() == Some(connection_id) {
                out.push(it);
            }
        }
        Ok(out)
    }

    async fn commit_sign_ins(
        &self,
        ops: &[SignInOp],
        account: Option<&AccountWrite>,
        now: UnixMillis,
    ) -> Result<SignInCommit> {
        self.commit_batch(ops, account, now.get()).await
    }
}

/// A batch operation ready for the transaction (puts encoded outside it).
enum Step {
    Take(SignInKind, String, Vec<u8>),
    Put(SignInItem, Vec<u8>, Vec<u8>),
    Unknown,
}

/// One step inside the write: `Ok(true)` when applied.
fn apply(tx: &Tx<'_>, step: &Step, now: i64, taken: &mut Vec<SignInItem>) -> TxResult<bool> {
    match step {
        Step::Take(kind, raw, k) => {
            let Some(old) = tx.get(k)? else {
                return Ok(false);
            };
            tx.del(k);
            match decode(*kind, raw, &old) {
                Ok(it) if it.is_live_at(UnixMillis::new(now)) => {
                    taken.push(it);
                    Ok(true)
                }
                Ok(_) => Ok(false),
                Err(e) => abort(e),
            }
        }
        Step::Put(it, k, v) => {
            if let Some(old) = tx.get(k)? {
                match decode(it.kind, &it.key, &old) {
                    Ok(old) if old.is_live_at(UnixMillis::new(now)) => return Ok(false),
                    Ok(_) => {}
                    Err(e) => return abort(e),
                }
            }
            tx.put(k, v.clone());
            Ok(true)
        }
        Step::Unknown => Ok(false),
    }
}

impl SledRepo {
    /// [`SignInStore::commit_sign_ins`]: one write of the batch (see `group`), so one
    /// sled transaction; a conflict discards what the earlier steps did.
    async fn commit_batch(
        &self,
        ops: &[SignInOp],
        account: Option<&AccountWrite>,
        now: i64,
    ) -> Result<SignInCommit> {
        let steps = ops
            .iter()
            .map(|op| {
                Ok(match op {
                    SignInOp::Take { kind, key: raw } => {
                        Step::Take(*kind, raw.clone(), key(*kind, raw))
                    }
                    SignInOp::Put(it) => Step::Put(it.clone(), key(it.kind, &it.key), encode(it)?),
                    _ => Step::Unknown,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let account = match account {
            None => None,
            Some(AccountWrite::Insert(a)) => Some((a.clone(), None)),
            Some(AccountWrite::Update {
                account,
                expected_version,
            }) => Some((account.clone(), Some(*expected_version))),
            Some(_) => {
                return Err(Error::InvalidArgument {
                    argument: "account",
                    reason: "an account write this store does not know",
                })
            }
        };
        self.write(move |tx| {
            let mut taken = Vec::new();
            for (index, step) in steps.iter().enumerate() {
                if !apply(tx, step, now, &mut taken)? {
                    tx.discard();
                    return Ok(Err(SignInConflict { index }));
                }
            }
            match &account {
                Some((a, None)) => crate::accounts::insert_in(tx, a)?,
                Some((a, Some(expected))) => crate::accounts::update_in(tx, a, *expected)?,
                None => {}
            }
            Ok(Ok(taken))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(conn: Option<ConnectionId>, payload: &[u8]) -> SignInItem {
        SignInItem {
            kind: SignInKind::OidcState,
            key: enterprise_sso::sign_in_key("s"),
            connection_id: conn,
            created_at: UnixMillis::new(-5),
            expires_at: UnixMillis::new(i64::MAX),
            payload: payload.to_vec(),
        }
    }

    #[test]
    fn items_round_trip_and_damage_is_caught() {
        for it in [
            item(None, b""),
            item(Some(ConnectionId::generate()), b"verifier\x00bytes"),
        ] {
            let v = encode(&it).expect("encode");
            assert_eq!(decode(it.kind, &it.key, &v).expect("decode"), it);
            assert_eq!(expires_at(&v), Some(it.expires_at.get()));
            for i in 0..v.len() {
                let mut bad = v.clone();
                bad[i] ^= 0x40;
                assert!(decode(it.kind, &it.key, &bad).is_err(), "byte {i} flipped");
            }
            assert!(decode(it.kind, &it.key, &v[..v.len().min(HEADER) - 1]).is_err());
        }
        let k = key(SignInKind::OidcState, "abc");
        assert_eq!(k, b"soidc_state\x00abc");
        let v = encode(&item(None, b"x")).expect("encode");
        assert_eq!(verify_entry(&k, &v), Ok(()));
        assert!(verify_entry(b"snope\x00abc", &v).is_err());
    }
}
