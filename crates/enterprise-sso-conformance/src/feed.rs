//! Change-feed cases: every write appends its events in the same write, in commit order,
//! gap-free; refused writes append nothing; a replay rebuilds the connections.

use enterprise_sso::UnixMillis;
use std::collections::{BTreeMap, HashSet};

use enterprise_sso::events::{Event, EventKind as K};
use enterprise_sso::Assertion;
use enterprise_sso::ConnectionId;
use enterprise_sso::Connections;
use enterprise_sso::Error;
use enterprise_sso::Provider;
use enterprise_sso::{list_all, ListQuery, Store};
use enterprise_sso::{CreateConnection, OidcPatch, UpdateConnection};
use enterprise_sso::{EnterpriseConnection, ProtocolConfig};
use enterprise_sso_flows::Flows;
use futures_executor::block_on;

use crate::fixtures::*;

/// Every event of the store after `from`.
async fn feed(repo: &dyn Store, from: u64) -> Vec<Event> {
    let mut out: Vec<Event> = Vec::new();
    let mut at = from;
    loop {
        let page = repo.events_after(at, 7).await.expect("events_after").events;
        let Some(last) = page.last() else {
            return out;
        };
        at = last.position;
        out.extend(page);
    }
}

async fn last_position(repo: &dyn Store) -> u64 {
    feed(repo, 0).await.last().map_or(0, |e| e.position)
}

fn kinds(events: &[Event]) -> Vec<K> {
    events.iter().map(|e| e.kind).collect()
}

/// Positions follow `from` one by one, ids are unique.
fn assert_gap_free(events: &[Event], from: u64) {
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.position, from + 1 + i as u64, "position of {:?}", e.kind);
    }
    let ids: HashSet<_> = events.iter().map(|e| e.id.clone()).collect();
    assert_eq!(ids.len(), events.len(), "event ids are unique");
}

/// The lifecycle of a connection and an account, event by event.
pub async fn feed_records_every_write(repo: &dyn Store) {
    let tag = unique_tag();
    let svc = Connections::new(repo);
    let start = last_position(repo).await;
    let params = CreateConnection::new(Provider::OidcCustom, "Feed")
        .domains([format!("feed-{tag}.com")])
        .oidc(
            OidcPatch::default()
                .client_id("c")
                .client_secret("feed-secret-one")
                .auth_url("https://idp.example.com/a")
                .token_url("https://idp.example.com/t"),
        );
    let c = svc.create(&params).await.expect("create");
    svc.update(&c.id, &UpdateConnection::default().name("Feed 2"))
        .await
        .expect("rename");
    svc.update(
        &c.id,
        &UpdateConnection::default()
            .active(true)
            .oidc(OidcPatch::default().client_secret("feed-secret-two")),
    )
    .await
    .expect("activate");
    // An update that changes nothing but bookkeeping still moves the version, so it
    // appends `connection.updated` with no changed paths (a cache on another handle learns
    // versions only from the feed; without it, an `If-Match` read there stayed stale).
    svc.update(&c.id, &UpdateConnection::default())
        .await
        .expect("empty update");
    let email = format!("ann@feed-{tag}.com");
    let signed = svc
        .record_sign_in(&c.id, &Assertion::new("ann", []).with_email(&email))
        .await
        .expect("sign in");
    let mut meta = serde_json::Map::new();
    meta.insert("team".into(), serde_json::json!("blue"));
    svc.set_account_metadata(&signed.account.id, meta)
        .await
        .expect("metadata");
    svc.update(&c.id, &UpdateConnection::default().active(false))
        .await
        .expect("deactivate");
    svc.delete(&c.id).await.expect("delete");
    svc.delete_account(&signed.account.id)
        .await
        .expect("delete account");

    let events = feed(repo, start).await;
    assert_gap_free(&events, start);
    assert_eq!(
        kinds(&events),
        [
            K::ConnectionCreated,
            K::ConnectionUpdated,
            K::ConnectionUpdated,
            K::ConnectionActivated,
            K::ConnectionUpdated,
            K::AccountCreated,
            K::SsoSucceeded,
            K::ConnectionStateChanged,
            K::AccountUpdated,
            K::ConnectionUpdated,
            K::ConnectionDeactivated,
            K::ConnectionDeleted,
            K::AccountUpdated,
            K::AccountDeactivated,
            K::AccountDeleted,
        ]
    );
    assert_eq!(events[1].changed, ["name"]);
    assert_eq!(events[2].changed, ["active", "oidc.client_secret"]);
    assert!(events[4].changed.is_empty());
    assert_eq!(events[8].changed, ["public_metadata"]);
    for e in &events {
        assert!(e.created_at > UnixMillis::new(0));
        if e.kind.as_str().starts_with("connection.") {
            assert_eq!(e.connection_id.as_ref(), Some(&c.id));
            let snap = e.connection.as_ref().expect("snapshot");
            assert!(
                snap.oidc().is_some_and(|o| o.client_secret.is_none()),
                "no secret in events"
            );
        } else {
            assert_eq!(e.account_id.as_ref(), Some(&signed.account.id));
        }
        let text = format!("{e:?}");
        assert!(!text.contains("feed-secret"), "no secret in events");
    }
}

/// Refused writes (taken domain, stale version, invalid patch, unknown id) append nothing.
pub async fn refused_writes_append_nothing(repo: &dyn Store) {
    let tag = unique_tag();
    let svc = Connections::new(repo);
    let a = saml_connection("refuse-feed-a", &[&format!("a-{tag}.com")], false);
    insert_all(repo, std::slice::from_ref(&a)).await;
    let start = last_position(repo).await;
    let b = saml_connection("refuse-feed-b", &[&format!("a-{tag}.com")], false);
    assert!(matches!(
        repo.insert(&b).await,
        Err(Error::DomainConflict { .. })
    ));
    assert!(matches!(
        repo.insert(&a).await,
        Err(Error::AlreadyExists { .. })
    ));
    let mut stale = a.clone();
    stale.name = "stale".into();
    stale.version = a.version + 1;
    assert!(matches!(
        repo.update(&stale, a.version + 5).await,
        Err(Error::VersionConflict { .. })
    ));
    assert!(svc
        .update(&a.id, &UpdateConnection::default().name(""))
        .await
        .is_err());
    assert!(!repo
        .delete(&ConnectionId::generate(), UnixMillis::new(1))
        .await
        .expect("delete"));
    assert!(feed(repo, start).await.is_empty(), "nothing appended");
}

fn comparable(c: &EnterpriseConnection) -> EnterpriseConnection {
    let mut c = c.clone();
    // Events carry neither the secret nor the raw metadata XML.
    match &mut c.config {
        ProtocolConfig::Oidc(o) => o.client_secret = None,
        ProtocolConfig::Saml(s) => s.idp_metadata = None,
    }
    // An update that changes nothing but bookkeeping appends no event.
    c.version = 0;
    c.updated_at = UnixMillis::new(0);
    c
}

/// Replaying the feed from the start rebuilds every connection the store holds (secrets
/// aside: events never carry them).
pub async fn feed_replay_reproduces_connections(repo: &dyn Store) {
    let tag = unique_tag();
    let svc = Connections::new(repo);
    let mut ids = Vec::new();
    for i in 0..6 {
        let p = if i % 2 == 0 {
            CreateConnection::new(Provider::OidcCustom, format!("r{i}"))
                .domains([format!("r{i}-{tag}.com")])
                .oidc(OidcPatch::default().client_id("c").client_secret("s"))
        } else {
            CreateConnection::new(Provider::SamlOkta, format!("r{i}"))
                .domains([format!("r{i}-{tag}.com")])
        };
        ids.push(svc.create(&p).await.expect("create").id);
    }
    svc.update(&ids[0], &UpdateConnection::default().name("renamed"))
        .await
        .expect("rename");
    svc.update(
        &ids[1],
        &UpdateConnection::default().domains(vec![format!("moved-{tag}.com")]),
    )
    .await
    .expect("move");
    svc.update(&ids[2], &UpdateConnection::default())
        .await
        .expect("empty");
    svc.delete(&ids[3]).await.expect("delete");
    let mut replayed: BTreeMap<ConnectionId, EnterpriseConnection> = BTreeMap::new();
    for e in feed(repo, 0).await {
        let (Some(id), Some(snap)) = (&e.connection_id, &e.connection) else {
            continue;
        };
        if !e.kind.as_str().starts_with("connection.") {
            continue;
        }
        if e.kind == K::ConnectionDeleted {
            replayed.remove(id);
        } else {
            replayed.insert(id.clone(), snap.clone());
        }
    }
    let stored = list_all(repo, &ListQuery::default()).await.expect("list");
    let stored: BTreeMap<_, _> = stored
        .iter()
        .map(|c| (c.id.clone(), comparable(c)))
        .collect();
    let replayed: BTreeMap<_, _> = replayed
        .iter()
        .map(|(k, c)| (k.clone(), comparable(c)))
        .collect();
    assert_eq!(replayed, stored);
}

/// Concurrent writers get consecutive positions in commit order, one event each.
pub async fn concurrent_writers_get_gap_free_positions(repo: &dyn Store) {
    let tag = unique_tag();
    let start = last_position(repo).await;
    const THREADS: usize = 8;
    const EACH: usize = 6;
    let created: Vec<ConnectionId> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let tag = &tag;
                s.spawn(move || {
                    (0..EACH)
                        .map(|i| {
                            let c = saml_connection(
                                &format!("gap{t}-{i}"),
                                &[&format!("g{t}-{i}-{tag}.com")],
                                false,
                            );
                            block_on(repo.insert(&c)).expect("insert");
                            c.id
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("thread"))
            .collect()
    });
    let events = feed(repo, start).await;
    assert_gap_free(&events, start);
    assert_eq!(events.len(), THREADS * EACH);
    let seen: HashSet<_> = events
        .iter()
        .filter_map(|e| e.connection_id.clone())
        .collect();
    assert_eq!(seen, created.into_iter().collect::<HashSet<_>>());
}

/// Pruning removes old events only; positions are never reused.
pub async fn pruning_keeps_positions(repo: &dyn Store) {
    let tag = unique_tag();
    let mut old = saml_connection("prune-old", &[&format!("p1-{tag}.com")], false);
    old.created_at = UnixMillis::new(1_000);
    old.updated_at = UnixMillis::new(1_000);
    insert_all(repo, std::slice::from_ref(&old)).await;
    let before = last_position(repo).await;
    let svc = Connections::new(repo);
    let removed = svc.prune_events_before(2_000).await.expect("prune");
    assert!(removed >= 1);
    let rest = feed(repo, 0).await;
    assert!(rest.iter().all(|e| e.created_at >= UnixMillis::new(2_000)));
    let young = saml_connection("prune-young", &[&format!("p2-{tag}.com")], false);
    insert_all(repo, std::slice::from_ref(&young)).await;
    let after = feed(repo, before).await;
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].position, before + 1, "positions are not reused");
}

/// Certificate renewal reminders: one event per certificate and threshold, however often
/// the check runs; a replaced certificate set appends `saml_certificate_renewed`.
pub async fn certificate_renewal_reminders_once(repo: &dyn Store) {
    let tag = unique_tag();
    let c = saml_connection("renew", &[&format!("renew-{tag}.com")], true);
    let expires = c
        .saml()
        .and_then(|s| s.latest_certificate_expiry())
        .expect("fixture has a certificate");
    insert_all(repo, std::slice::from_ref(&c)).await;
    let svc = Connections::new(repo);
    let now = expires.get() - 10 * 86_400_000;
    let start = last_position(repo).await;
    let first = svc.certificate_renewal_check(now, 30).await.expect("check");
    assert_eq!(first.as_slice(), std::slice::from_ref(&c.id));
    for _ in 0..3 {
        assert!(svc
            .certificate_renewal_check(now + 1000, 30)
            .await
            .expect("again")
            .is_empty());
    }
    // Not yet within 7 days; within 14 days: a second threshold, a second reminder.
    assert!(svc
        .certificate_renewal_check(now, 7)
        .await
        .expect("7")
        .is_empty());
    assert_eq!(
        svc.certificate_renewal_check(now, 14)
            .await
            .expect("14")
            .len(),
        1
    );
    let events = feed(repo, start).await;
    assert_eq!(
        kinds(&events),
        [K::CertificateRenewalRequired, K::CertificateRenewalRequired]
    );
    assert_eq!(events[0].days_until_expiry, Some(10));
    assert!(events.iter().all(|e| e.changed.is_empty()));
    let stored = repo.get(&c.id).await.expect("get").expect("some");
    assert_eq!(stored.updated_at, c.updated_at, "a reminder is not an edit");
    // A new certificate set: renewed.
    let mut next = stored.clone();
    if let ProtocolConfig::Saml(s) = &mut next.config {
        for cert in &mut s.idp_certificates {
            cert.expires_at = cert.expires_at.saturating_add_days(365);
        }
    }
    next.version += 1;
    repo.update(&next, stored.version).await.expect("rotate");
    let after = feed(repo, start + 2).await;
    assert_eq!(kinds(&after), [K::ConnectionUpdated, K::CertificateRenewed]);
    assert_eq!(after[0].changed, ["saml.idp_certificates"]);
}

/// Every answer of the feed carries its floor: the largest position a prune deleted. A
/// consumer behind it learns that it missed events even when nothing follows them, and
/// one at or past it does not.
pub async fn feed_reports_its_prune_floor(repo: &dyn Store) {
    let tag = unique_tag();
    let start = repo.events_after(0, 1).await.expect("feed").floor;
    let at = |t: i64, name: &str| {
        let mut c = saml_connection(name, &[&format!("{name}.floor-{tag}.com")], true);
        c.created_at = UnixMillis::new(t);
        c.updated_at = UnixMillis::new(t);
        c
    };
    // Created in this order: the new one, then an old one (so the feed's oldest event is
    // not its lowest position), then another new one.
    let (new1, old, new2) = (at(10_000, "new1"), at(1_000, "old"), at(10_000, "new2"));
    for c in [&new1, &old, &new2] {
        repo.insert(c).await.expect("insert");
    }
    let all = feed(repo, start).await;
    // A write may append more than one event: the first and last position of each.
    let pos = |c: &EnterpriseConnection| {
        let of = || {
            all.iter()
                .filter(|e| e.connection_id.as_ref() == Some(&c.id))
                .map(|e| e.position)
        };
        (of().min().expect("event"), of().max().expect("event"))
    };
    let (p_new1, p_old, p_new2) = (pos(&new1).1, pos(&old).1, pos(&new2).0);
    assert!(p_new1 < pos(&old).0 && p_old < p_new2);
    let old_events = all
        .iter()
        .filter(|e| e.created_at < UnixMillis::new(2_000))
        .count() as u64;
    assert_eq!(
        repo.prune_events_before(UnixMillis::new(2_000))
            .await
            .expect("prune"),
        old_events
    );
    let page = repo.events_after(start, 100).await.expect("feed");
    assert_eq!(
        page.floor, p_old,
        "the floor is the largest position pruned"
    );
    assert!(page.missed_events(start) && page.missed_events(p_new1));
    assert!(!page.missed_events(p_old));
    assert_eq!(page.resume_at(start), pos(&new2).1);
    // The floor comes with every answer, an empty one at the feed's end included, and a
    // prune that deletes nothing leaves it.
    let end = repo.events_after(pos(&new2).1, 100).await.expect("feed");
    assert!(end.events.is_empty());
    assert_eq!(end.floor, p_old);
    assert_eq!(
        repo.prune_events_before(UnixMillis::new(2_000))
            .await
            .expect("prune"),
        0
    );
    assert_eq!(
        repo.events_after(p_new2, 1).await.expect("feed").floor,
        p_old
    );
    // Pruned to the end: the floor is the last position, and new events go above it.
    assert!(
        repo.prune_events_before(UnixMillis::new(20_000))
            .await
            .expect("prune")
            >= 2
    );
    let p_end = pos(&new2).1;
    assert_eq!(
        repo.events_after(p_end, 1).await.expect("feed").floor,
        p_end
    );
    let later = at(30_000, "later");
    repo.insert(&later).await.expect("insert");
    let page = repo.events_after(p_end, 100).await.expect("feed");
    assert_eq!(page.events.first().map(|e| e.position), Some(p_end + 1));
}

/// A refused sign-in appends `authentication.sso_failed` with its typed reason, on its
/// own (no record changes), at the next position; errors that are not refusals append
/// nothing; positions stay gap-free for the writes that follow.
pub async fn refused_sign_ins_append_their_failure(repo: &dyn Store) {
    let tag = unique_tag();
    let c = saml_connection("fail", &[&format!("f-{tag}.com")], true);
    insert_all(repo, std::slice::from_ref(&c)).await;
    let start = last_position(repo).await;
    let flows = Flows::new(Connections::new(repo));
    let svc = flows.connections();
    let err = svc
        .record_sign_in(
            &c.id,
            &Assertion::new("ann", []).with_email("ann@elsewhere.example"),
        )
        .await
        .expect_err("an email outside the connection's domains is refused");
    flows
        .record_sign_in_failure(&c.id, &err)
        .await
        .expect("append");
    flows
        .record_sign_in_failure(&c.id, &Error::storage("not a refusal"))
        .await
        .expect("nothing to append");
    let next = saml_connection("fail-next", &[&format!("f2-{tag}.com")], false);
    insert_all(repo, std::slice::from_ref(&next)).await;
    let events = feed(repo, start).await;
    assert_gap_free(&events, start);
    assert_eq!(kinds(&events), [K::SsoFailed, K::ConnectionCreated]);
    let failed = &events[0];
    assert_eq!(failed.connection_id.as_ref(), Some(&c.id));
    assert!(failed.account.is_none() && failed.connection.is_none());
    let f = failed.failure.as_ref().expect("the reason");
    assert_eq!(f.code, "sign_in_email_outside_domains");
    assert!(f.message.contains("domains"), "{}", f.message);
}
