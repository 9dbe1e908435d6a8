//! Concurrent writers: no lost update, no conflict between in-process writers.

use enterprise_sso::Connections;
use enterprise_sso::Error;
use enterprise_sso::Store;
use enterprise_sso::{Patch, UpdateConnection};
use futures_executor::block_on;

use crate::fixtures::*;

/// Several threads update the same connections through the service: no update is lost,
/// and the final state equals a serial replay of the accepted patches in version order.
pub async fn concurrent_updates_lose_nothing(repo: &dyn Store) {
    use std::sync::Arc;
    let svc = Connections::new(repo)
        .with_max_retries(10_000)
        .with_clock(Arc::new(|| 4_102_444_800_000));
    let tag = unique_tag();
    let targets: Vec<_> = (0..3)
        .map(|i| saml_connection(&format!("conc{i}"), &[], false))
        .collect();
    insert_all(repo, &targets).await;
    const THREADS: usize = 4;
    const UPDATES: usize = 15;
    let accepted = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let (svc, targets, tag) = (&svc, &targets, &tag);
                s.spawn(move || {
                    let mut out = Vec::new();
                    for u in 0..UPDATES {
                        let target = &targets[(t + u) % targets.len()];
                        let mut patch = UpdateConnection {
                            name: Patch::Value(format!("t{t}-u{u}")),
                            ..Default::default()
                        };
                        match u % 3 {
                            0 => patch.domains = Patch::Value(vec![format!("t{t}-u{u}-{tag}.com")]),
                            1 => patch.active = Patch::Value(u % 2 == 0),
                            _ => {
                                patch.organization_id = if u % 2 == 0 {
                                    Patch::Null
                                } else {
                                    Patch::Value(format!("org_{t}"))
                                }
                            }
                        }
                        let next = block_on(svc.update(&target.id, &patch)).expect("update");
                        out.push((target.id.clone(), next.version, patch));
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("updater thread"))
            .collect::<Vec<_>>()
    });
    assert_eq!(accepted.len(), THREADS * UPDATES);
    for t in &targets {
        let mut mine: Vec<_> = accepted.iter().filter(|(id, _, _)| *id == t.id).collect();
        mine.sort_by_key(|(_, v, _)| *v);
        let mut replay = t.clone();
        for (_, version, patch) in mine {
            replay =
                enterprise_sso::merge(&replay, patch, 4_102_444_800_000).expect("replayed patch");
            assert_eq!(
                replay.version, *version,
                "versions are dense: no update lost"
            );
        }
        assert_eq!(
            must_get(repo, &t.id).await,
            replay,
            "final state equals the serial replay"
        );
    }
}

/// 64 writers in this process (OS threads, each with its own `Connections`) × 50 PATCHes
/// of one connection, with no retries allowed: none fails with a version conflict, because
/// in-process writers take turns; a conflict can only come from another process.
pub async fn in_process_writers_never_conflict(repo: &dyn Store) {
    const THREADS: usize = 64;
    const PATCHES: usize = 50;
    let target = saml_connection("contended", &[], false);
    insert_all(repo, std::slice::from_ref(&target)).await;
    let conflicts = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (target, conflicts) = (&target, &conflicts);
            s.spawn(move || {
                let svc = Connections::new(repo).with_max_retries(0);
                for p in 0..PATCHES {
                    let patch = UpdateConnection {
                        name: Patch::Value(format!("t{t}-p{p}")),
                        ..Default::default()
                    };
                    match block_on(svc.update(&target.id, &patch)) {
                        Ok(_) => {}
                        Err(Error::VersionConflict { .. }) => {
                            conflicts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        Err(e) => panic!("{e:?}"),
                    }
                }
            });
        }
    });
    assert_eq!(conflicts.into_inner(), 0, "in-process writers conflicted");
    assert_eq!(
        must_get(repo, &target.id).await.version,
        1 + (THREADS * PATCHES) as u64
    );
}
