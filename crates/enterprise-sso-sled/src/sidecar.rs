//! The commit sidecar: a small file beside sled's own that records how many commits were
//! known to be on disk. sled recovers a damaged log by cutting it at the damage, which
//! leaves a consistent but older store (records silently missing, their domains free to
//! claim). Every transaction of this adapter bumps a commit counter in the `meta` tree;
//! after each flush the counter's durable value is written here (checksummed, `fsync`ed).
//! On open, a store whose counter is behind the sidecar has lost acknowledged writes and
//! is refused ([`enterprise_sso::storage::IntegrityError::WritesLost`]).
//!
//! A flush-on-write batch writes the count in place right after its flush but leaves the
//! file's `fsync` to a background thread ([`Sidecar::write_sync_soon`]): the writes are
//! already on disk when the batch answers, and the sidecar's own `fsync` (as slow as the
//! flush) is only the detector's. So after a power cut the sidecar may trail by the
//! batches of that last `fsync` (a loss among those goes undetected); a process crash
//! loses nothing (the written count is in the kernel's hands). A host flush and a clean
//! close write and `fsync` it in line. A failed background `fsync` fails the next write.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// The sidecar's file name inside the sled directory.
pub const FILE_NAME: &str = "enterprise_sso.commits";

pub(crate) struct Sidecar {
    path: PathBuf,
    file: Mutex<Option<File>>,
    syncer: Mutex<Option<Syncer>>,
}

/// What the background `fsync` thread is asked, and what it met.
#[derive(Default)]
struct SyncState {
    /// A write since the last `fsync` began.
    wanted: bool,
    stop: bool,
    /// The error of the last background `fsync`, for the next write to report.
    failed: Option<std::io::Error>,
    /// Background `fsync`s made.
    syncs: u64,
}

/// The background `fsync` thread of [`Sidecar::write_sync_soon`].
struct Syncer {
    state: Arc<(Mutex<SyncState>, Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn opened(file: &Option<File>) -> std::io::Result<&File> {
    file.as_ref()
        .ok_or_else(|| std::io::Error::other("sidecar not open"))
}

fn lock(m: &Mutex<SyncState>) -> MutexGuard<'_, SyncState> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Syncer {
    fn start(file: File) -> std::io::Result<Syncer> {
        let state = Arc::new((Mutex::new(SyncState::default()), Condvar::new()));
        let shared = Arc::clone(&state);
        let thread = std::thread::Builder::new()
            .name("sso-sled-sidecar".to_owned())
            .spawn(move || {
                let (m, cv) = &*shared;
                loop {
                    let mut s = lock(m);
                    while !s.wanted && !s.stop {
                        s = cv.wait(s).unwrap_or_else(|p| p.into_inner());
                    }
                    if !s.wanted {
                        return;
                    }
                    s.wanted = false;
                    drop(s);
                    let synced = file.sync_data();
                    let mut s = lock(m);
                    s.syncs += 1;
                    if let Err(e) = synced {
                        s.failed = Some(e);
                    }
                }
            })?;
        Ok(Syncer {
            state,
            thread: Some(thread),
        })
    }
}

impl Drop for Syncer {
    /// Runs the last requested `fsync`, then ends the thread.
    fn drop(&mut self) {
        let (m, cv) = &*self.state;
        lock(m).stop = true;
        cv.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn invalid(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned())
}

impl Sidecar {
    pub(crate) fn new(dir: &Path) -> Sidecar {
        Sidecar {
            path: dir.join(FILE_NAME),
            file: Mutex::new(None),
            syncer: Mutex::new(None),
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
        let written = self.write_in_place(seq)?;
        opened(&written)?.sync_data()
    }

    /// Records `seq` commits as durable: written in place now, `fsync`ed by the
    /// background thread soon (see the module docs). Reports a failed earlier `fsync`.
    pub(crate) fn write_sync_soon(&self, seq: u64) -> std::io::Result<()> {
        let written = self.write_in_place(seq)?;
        let file = opened(&written)?;
        let mut syncer = self
            .syncer
            .lock()
            .map_err(|_| std::io::Error::other("sidecar lock poisoned"))?;
        if syncer.is_none() {
            *syncer = Some(Syncer::start(file.try_clone()?)?);
        }
        if let Some(sy) = syncer.as_ref() {
            let (m, cv) = &*sy.state;
            let mut s = lock(m);
            if let Some(e) = s.failed.take() {
                return Err(e);
            }
            s.wanted = true;
            cv.notify_one();
        }
        Ok(())
    }

    /// Writes `seq` at the start of the file (opened on first use); returns the file.
    fn write_in_place(&self, seq: u64) -> std::io::Result<MutexGuard<'_, Option<File>>> {
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
        let mut f = opened(&guard)?;
        let mut buf = [0u8; 12];
        buf[..8].copy_from_slice(&seq.to_be_bytes());
        let crc = crc32fast::hash(&buf[..8]).to_be_bytes();
        buf[8..].copy_from_slice(&crc);
        f.seek(SeekFrom::Start(0))?;
        f.write_all(&buf)?;
        Ok(guard)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn syncs(s: &Sidecar) -> u64 {
        let syncer = s.syncer.lock().unwrap();
        let n = lock(&syncer.as_ref().unwrap().state.0).syncs;
        n
    }

    /// A batch's count is in the file at once and `fsync`ed by the background thread;
    /// dropping the sidecar waits for the last requested `fsync`.
    #[test]
    fn a_count_written_for_sync_soon_is_read_back_at_once_and_synced_in_the_background() {
        let dir = tempfile::tempdir().unwrap();
        let s = Sidecar::new(dir.path());
        s.write_sync_soon(5).unwrap();
        assert_eq!(Sidecar::new(dir.path()).read().unwrap(), Some(5));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while syncs(&s) == 0 {
            assert!(std::time::Instant::now() < deadline, "never synced");
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        s.write_sync_soon(6).unwrap();
        let state = Arc::clone(&s.syncer.lock().unwrap().as_ref().unwrap().state);
        drop(s);
        let after = lock(&state.0);
        assert!(!after.wanted, "the last requested fsync was not made");
        assert_eq!(Sidecar::new(dir.path()).read().unwrap(), Some(6));
    }
}
