//! The commit sidecar: a small file beside sled's own that records how many commits were
//! known to be on disk. sled recovers a damaged log by cutting it at the damage, which
//! leaves a consistent but older store (records silently missing, their domains free to
//! claim). Every transaction of this adapter bumps a commit counter in the `meta` tree;
//! after each flush the counter's durable value is written here (checksummed, `fsync`ed).
//! On open, a store whose counter is behind the sidecar has lost acknowledged writes and
//! is refused ([`enterprise_sso::integrity::IntegrityError::WritesLost`]).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The sidecar's file name inside the sled directory.
pub const FILE_NAME: &str = "enterprise_sso.commits";

pub(crate) struct Sidecar {
    path: PathBuf,
    file: Mutex<Option<File>>,
}

fn invalid(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned())
}

impl Sidecar {
    pub(crate) fn new(dir: &Path) -> Sidecar {
        Sidecar {
            path: dir.join(FILE_NAME),
            file: Mutex::new(None),
        }
    }

    /// The durable commit count, if the file exists.
    pub(crate) fn read(&self) -> std::io::Result<Option<u64>> {
        let mut bytes = Vec::new();
        match File::open(&self.path) {
            Ok(mut f) => f.read_to_end(&mut bytes)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let (seq, crc) = bytes
            .split_first_chunk::<8>()
            .and_then(|(s, rest)| Some((s, rest.first_chunk::<4>()?)))
            .ok_or_else(|| invalid("commit sidecar is truncated"))?;
        if crc32fast::hash(seq).to_be_bytes() != *crc {
            return Err(invalid("commit sidecar fails its checksum"));
        }
        Ok(Some(u64::from_be_bytes(*seq)))
    }

    /// Records `seq` commits as durable (written in place, then `fsync`).
    pub(crate) fn write(&self, seq: u64) -> std::io::Result<()> {
        let mut guard = self
            .file
            .lock()
            .map_err(|_| std::io::Error::other("sidecar lock poisoned"))?;
        if guard.is_none() {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .read(true)
                .write(true)
                .open(&self.path)?;
            *guard = Some(f);
        }
        let f = guard
            .as_mut()
            .ok_or_else(|| std::io::Error::other("sidecar not open"))?;
        let mut buf = [0u8; 12];
        buf[..8].copy_from_slice(&seq.to_be_bytes());
        let crc = crc32fast::hash(&buf[..8]).to_be_bytes();
        buf[8..].copy_from_slice(&crc);
        f.seek(SeekFrom::Start(0))?;
        f.write_all(&buf)?;
        f.sync_data()
    }
}
