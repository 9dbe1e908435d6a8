//! A full disk: on a small tmpfs, writes go on until the disk is full; the write that
//! cannot be made returns `Error::Storage` (no panic, no other error), what was
//! acknowledged stays readable, and once space returns the store opens, passes its
//! integrity check and holds every acknowledged write. Needs root (to mount the tmpfs):
//! elsewhere it is skipped with a notice; with `CI=true` it must run.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use enterprise_sso::Error;
use enterprise_sso_conformance::saml_connection;
use enterprise_sso_reliability::Kind;

fn mount(dir: &Path, size: &str, remount: bool) -> bool {
    let mut opts = format!("size={size}");
    if remount {
        opts = format!("remount,{opts}");
    }
    Command::new("mount")
        .args(["-t", "tmpfs", "-o", &opts, "tmpfs", dir.to_str().unwrap()])
        .status()
        .is_ok_and(|s| s.success())
}

struct Unmount<'a>(&'a Path);

impl Drop for Unmount<'_> {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0).status();
    }
}

fn fill_until_full(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    if !mount(&mnt, "12m", false) {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "could not mount a tmpfs on CI (the full-disk test needs root)"
        );
        eprintln!("full-disk test skipped: mounting a tmpfs needs root");
        return;
    }
    let _unmount = Unmount(&mnt);
    let path = mnt.join("store");
    let mut acked = Vec::new();
    let mut refused = None;
    {
        let opened = kind.open_checked(&path).unwrap();
        let store = opened.store();
        for i in 0..200_000 {
            let mut c = saml_connection(
                &format!("{}{i}", "n".repeat(200)),
                &[&format!("d{i}.full.example.com")],
                false,
            );
            c.organization_id = Some(format!("org_{}", "o".repeat(200)));
            match futures_executor::block_on(store.insert(&c)) {
                Ok(()) => acked.push(c),
                Err(e @ Error::Storage { .. }) => {
                    refused = Some(e);
                    break;
                }
                Err(e) => panic!("{}: a full disk gave an untyped error: {e:?}", kind.name()),
            }
        }
        let e = refused.expect("the disk never filled");
        eprintln!("{}: full after {} writes: {e}", kind.name(), acked.len());
        assert!(acked.len() > 100, "too few writes to mean anything");
        // While the disk is full, a read gives what was acknowledged or a typed storage
        // error (sled reports a background flush's failed write on the next operation,
        // reads included; seen in about one run of four), never other data.
        for c in acked.iter().rev().take(20) {
            match futures_executor::block_on(store.get(&c.id)) {
                Ok(got) => assert_eq!(got.as_ref(), Some(c)),
                Err(Error::Storage { .. }) => {}
                Err(e) => panic!("{}: a read on a full disk gave {e:?}", kind.name()),
            }
        }
    }
    // Space returns; the store opens and holds every acknowledged write.
    assert!(mount(&mnt, "256m", true), "remount with more space");
    let opened = kind.open_checked(&path).unwrap();
    opened.verify().unwrap();
    for c in &acked {
        assert_eq!(
            futures_executor::block_on(opened.store().get(&c.id))
                .unwrap()
                .as_ref(),
            Some(c),
            "{}: acknowledged write lost",
            kind.name()
        );
    }
    // And takes writes again.
    let c = saml_connection("after", &["after.full.example.com"], false);
    futures_executor::block_on(opened.store().insert(&c)).unwrap();
}

#[test]
fn sqlite_on_a_full_disk() {
    fill_until_full(Kind::Sqlite);
}

#[test]
fn sled_on_a_full_disk() {
    fill_until_full(Kind::Sled);
}

/// sled's flush after a failed write (ENOSPC) can block for ever, and dropping a store used
/// to flush unconditionally: a server on a full disk then ignored SIGTERM. Dropping a sled
/// store whose disk filled must return, in both sled modes, every time (three runs each;
/// the hang showed in about one run of five; `ENTERPRISE_SSO_FULL_DISK_RUNS` for more). A
/// tmpfs of 8 MiB, mounted as root.
#[test]
fn a_sled_store_dropped_on_a_full_disk_returns() {
    use enterprise_sso_sled::{SledOptions, SledRepo, CLOSE_TIMEOUT};
    for flush_on_write in [true, false] {
        let runs = std::env::var("ENTERPRISE_SSO_FULL_DISK_RUNS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3);
        for run in 0..runs {
            let dir = tempfile::tempdir().unwrap();
            let mnt = dir.path().join("mnt");
            std::fs::create_dir(&mnt).unwrap();
            if !mount(&mnt, "8m", false) {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "could not mount a tmpfs on CI (the full-disk test needs root)"
                );
                eprintln!("full-disk drop test skipped: mounting a tmpfs needs root");
                return;
            }
            let _unmount = LazyUnmount(&mnt);
            let repo = SledRepo::open_with(
                mnt.join("store"),
                SledOptions {
                    flush_on_write,
                    ..SledOptions::default()
                },
            )
            .unwrap();
            let mut refused = false;
            for i in 0..400_000 {
                let mut c = saml_connection(
                    &format!("{}{i}", "n".repeat(200)),
                    &[&format!("d{i}.drop.example.com")],
                    false,
                );
                c.organization_id = Some(format!("org_{}", "o".repeat(200)));
                match futures_executor::block_on(enterprise_sso::ConnectionRepo::insert(&repo, &c))
                {
                    Ok(()) => {}
                    Err(Error::Storage { .. }) => {
                        refused = true;
                        break;
                    }
                    Err(e) => panic!("a full disk gave an untyped error: {e:?}"),
                }
            }
            assert!(
                refused,
                "the disk never filled (flush_on_write {flush_on_write})"
            );
            let started = std::time::Instant::now();
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                drop(repo);
                let _ = tx.send(());
            });
            let limit = CLOSE_TIMEOUT + std::time::Duration::from_secs(10);
            assert!(
                rx.recv_timeout(limit).is_ok(),
                "run {run}, flush_on_write {flush_on_write}: dropping the store did not \
                 return within {limit:?}"
            );
            eprintln!(
                "flush_on_write {flush_on_write}, run {run}: dropped in {:?}",
                started.elapsed()
            );
        }
    }
}

/// Unmounts lazily: a closer thread may still hold the store's files.
struct LazyUnmount<'a>(&'a Path);

impl Drop for LazyUnmount<'_> {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.0).status();
    }
}
