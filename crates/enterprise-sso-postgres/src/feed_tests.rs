//! The feed's concurrency contract on a real server (`SSO_TEST_POSTGRES_URL`): a write
//! never waits for another writer's feed append, and an event committed late is placed
//! after the ones readers have already seen, never below them.
#![allow(clippy::unwrap_used)]

use enterprise_sso::EventFeed;
use std::time::Duration;

use enterprise_sso::events::connection_events;
use enterprise_sso::storage::codec::encode_event;
use enterprise_sso::testing::saml_connection;
use enterprise_sso::ConnectionRepo;

use crate::test_server::url;
use crate::{events, PostgresOptions, PostgresRepo};

async fn repo(schema: &str) -> Option<PostgresRepo> {
    let url = url()?;
    let schema = format!("{schema}_{}", std::process::id());
    Some(
        PostgresRepo::connect_with(
            &url,
            PostgresOptions {
                schema,
                ..PostgresOptions::default()
            },
        )
        .await
        .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_do_not_wait_for_each_other_and_late_events_come_last() {
    let Some(repo) = repo("feedlate").await else {
        return;
    };
    let b = saml_connection("b", &["b.feedlate.example.com"], true);
    repo.insert(&b).await.unwrap();
    let late = saml_connection("late", &["late.feedlate.example.com"], true);
    let first = repo.events_after(0, 100).await.unwrap().events;
    let base = first.last().unwrap().position;

    // A write's transaction that has appended its event and not committed yet.
    let mut client = repo.inner.client().await.unwrap();
    let tx = client.transaction().await.unwrap();
    events::append(
        &tx,
        &repo.inner,
        connection_events(None, Some(&late), late.created_at.get()),
    )
    .await
    .unwrap();

    // Another write commits meanwhile, without waiting for it.
    let mut b2 = b.clone();
    b2.name = "b, renamed".into();
    b2.version += 1;
    tokio::time::timeout(Duration::from_secs(10), repo.update(&b2, b.version))
        .await
        .expect("a write waited for another writer's uncommitted feed append")
        .unwrap();
    // Readers see it at the next position; the open write's event is not there yet.
    let seen = repo.events_after(base, 100).await.unwrap().events;
    assert!(!seen.is_empty());
    for (i, e) in seen.iter().enumerate() {
        assert_eq!(
            (e.position, e.connection_id.as_ref()),
            (base + 1 + i as u64, Some(&b.id))
        );
    }
    let seen_last = seen.last().unwrap().position;

    // Committed later, its event comes after every position a reader has seen.
    tx.commit().await.unwrap();
    let after = repo.events_after(seen_last, 100).await.unwrap().events;
    assert!(!after.is_empty());
    for (i, e) in after.iter().enumerate() {
        assert_eq!(
            (e.position, e.connection_id.as_ref()),
            (seen_last + 1 + i as u64, Some(&late.id))
        );
    }
    let end = after.last().unwrap().position;
    let all: Vec<u64> = repo
        .events_after(0, 100)
        .await
        .unwrap()
        .events
        .iter()
        .map(|e| e.position)
        .collect();
    assert_eq!(all, (1..=end).collect::<Vec<_>>());
}

/// A schema-2 store (positions from the counter row) migrated to schema 3 keeps its events
/// and their positions, and new events continue after them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_2_events_keep_their_positions() {
    let Some(other) = repo("feedv2_pool").await else {
        return;
    };
    let schema = format!("feedv2_{}", std::process::id());
    let mut client = other.inner.pool.get().await.unwrap();
    crate::schema::migrate_to(&mut client, &schema, 2)
        .await
        .unwrap();
    let c = saml_connection("old", &["old.feedv2.example.com"], true);
    let mut old = connection_events(None, Some(&c), c.created_at.get());
    old.extend(connection_events(None, Some(&c), c.created_at.get()));
    for (i, e) in old.iter_mut().enumerate() {
        e.position = i as u64 + 1;
        client
            .execute(
                &format!("INSERT INTO {schema}.events (position, created_at, record) VALUES ($1, $2, $3)"),
                &[&(e.position as i64), &e.created_at.get(), &encode_event(e)],
            )
            .await
            .unwrap();
    }
    client
        .execute(
            &format!("UPDATE {schema}.event_counter SET last = $1"),
            &[&(old.len() as i64)],
        )
        .await
        .unwrap();

    let repo = PostgresRepo::connect_with(
        &url().unwrap(),
        PostgresOptions {
            schema: schema.clone(),
            ..PostgresOptions::default()
        },
    )
    .await
    .unwrap();
    let n = saml_connection("new", &["new.feedv2.example.com"], true);
    repo.insert(&n).await.unwrap();
    let all = repo.events_after(0, 100).await.unwrap().events;
    assert_eq!(&all[..old.len()], &old[..]);
    assert!(all.len() > old.len());
    for (i, e) in all.iter().enumerate() {
        assert_eq!(e.position, i as u64 + 1);
    }
    assert!(all[old.len()..]
        .iter()
        .all(|e| e.connection_id.as_ref() == Some(&n.id)));
}

/// Builds a schema-3 store (no prune floor yet) named `schema`, with `placed` events at
/// positions 1..=placed of which the first `pruned` were deleted by a schema-3 prune.
async fn schema_3_store(other: &PostgresRepo, schema: &str, placed: usize, pruned: usize) {
    let mut client = other.inner.pool.get().await.unwrap();
    crate::schema::migrate_to(&mut client, schema, 3)
        .await
        .unwrap();
    let c = saml_connection("old", &[&format!("old.{schema}.example.com")], true);
    for i in 1..=placed {
        let mut e = connection_events(None, Some(&c), c.created_at.get()).remove(0);
        e.position = i as u64;
        client
            .execute(
                &format!(
                    "INSERT INTO {schema}.events (position, created_at, record) \
                     VALUES ($1, $2, $3)"
                ),
                &[&(i as i64), &e.created_at.get(), &encode_event(&e)],
            )
            .await
            .unwrap();
    }
    client
        .execute(
            &format!("UPDATE {schema}.event_counter SET last = $1"),
            &[&(placed as i64)],
        )
        .await
        .unwrap();
    client
        .execute(
            &format!("DELETE FROM {schema}.events WHERE position <= $1"),
            &[&(pruned as i64)],
        )
        .await
        .unwrap();
}

/// The upgrade to schema 4 (the prune floor): a feed a schema-3 prune had shortened
/// reports its end as the floor, so a consumer that was behind starts over once rather
/// than miss the pruned events; a feed never pruned reports no floor; new events follow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_3_prunes_become_the_floor_on_upgrade() {
    let Some(other) = repo("feedv3_pool").await else {
        return;
    };
    for (placed, pruned, floor) in [(5usize, 3usize, 5u64), (4, 0, 0)] {
        let schema = format!("feedv3p{pruned}x{}", std::process::id());
        schema_3_store(&other, &schema, placed, pruned).await;
        let repo = PostgresRepo::connect_with(
            &url().unwrap(),
            PostgresOptions {
                schema: schema.clone(),
                ..PostgresOptions::default()
            },
        )
        .await
        .unwrap();
        let page = repo.events_after(0, 100).await.unwrap();
        assert_eq!(page.floor, floor, "schema {schema}");
        assert_eq!(page.missed_events(0), floor > 0);
        assert!(!page.missed_events(placed as u64));
        assert_eq!(page.events.len(), placed - pruned);
        let n = saml_connection("new", &[&format!("new.{schema}.example.com")], true);
        repo.insert(&n).await.unwrap();
        let after = repo.events_after(placed as u64, 100).await.unwrap();
        assert!(!after.events.is_empty());
        assert_eq!(after.events[0].position, placed as u64 + 1);
        assert!(after
            .events
            .iter()
            .all(|e| e.connection_id.as_ref() == Some(&n.id)));
    }
}
