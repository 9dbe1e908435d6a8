//! Secrets sealed at rest through `crypto::Encrypted`: bound to record and field, typed
//! errors for missing keys, rotation with `reencrypt_all`, plain values from before.
#![allow(clippy::unwrap_used)]

use enterprise_sso::crypto::{is_sealed, CryptoError, Encrypted, Keyring};
use enterprise_sso::{
    ClientSecret, ConnectionRepo, Connections, CreateConnection, EnterpriseConnection, Error,
    OidcPatch, ProtocolConfig, Provider,
};
use enterprise_sso_conformance::oidc_connection;
use enterprise_sso_memory::MemoryRepo;
use futures_executor::block_on;

fn ring_v1() -> Keyring {
    Keyring::new("v1", [1u8; 32]).unwrap()
}

fn ring_v2() -> Keyring {
    Keyring::new("v2", [2u8; 32])
        .unwrap()
        .with_old_key("v1", [1u8; 32])
        .unwrap()
}

fn secret_of(c: &EnterpriseConnection) -> String {
    c.oidc()
        .and_then(|o| o.client_secret.as_ref())
        .map(|s| s.expose_secret().to_owned())
        .unwrap_or_default()
}

fn with_secret(name: &str, domain: &str, secret: &str) -> EnterpriseConnection {
    let mut c = oidc_connection(name, &[domain], true);
    if let ProtocolConfig::Oidc(o) = &mut c.config {
        o.client_secret = Some(ClientSecret::new(secret));
    }
    c
}

#[test]
fn the_inner_store_holds_only_ciphertext_and_the_service_sees_the_secret() {
    block_on(async {
        let svc = Connections::new(Encrypted::new(MemoryRepo::new(), ring_v1()));
        let params = CreateConnection::new(Provider::OidcCustom, "Acme")
            .domains(["acme.com"])
            .oidc(
                OidcPatch::default()
                    .client_id("c")
                    .client_secret("hunter2-secret"),
            );
        let c = svc.create(&params).await.unwrap();
        assert_eq!(secret_of(&c), "hunter2-secret");
        assert_eq!(secret_of(&svc.get(&c.id).await.unwrap()), "hunter2-secret");
        let raw = svc.repo().inner().get(&c.id).await.unwrap().unwrap();
        assert!(is_sealed(&secret_of(&raw)), "{:?}", secret_of(&raw).len());
        assert!(!secret_of(&raw).contains("hunter2"));
        // Updates re-seal with a fresh nonce; the secret survives other edits.
        let n = svc
            .update(
                &c.id,
                &enterprise_sso::UpdateConnection::default().name("Acme 2"),
            )
            .await
            .unwrap();
        assert_eq!(secret_of(&n), "hunter2-secret");
        // An update that leaves the secret alone keeps its ciphertext (so the store and its
        // change feed see no change there); a new secret is sealed with a fresh nonce.
        let raw2 = svc.repo().inner().get(&c.id).await.unwrap().unwrap();
        assert_eq!(secret_of(&raw2), secret_of(&raw));
        let u = enterprise_sso::UpdateConnection::default()
            .oidc(OidcPatch::default().client_secret("hunter3-secret"));
        let n = svc.update(&c.id, &u).await.unwrap();
        assert_eq!(secret_of(&n), "hunter3-secret");
        let raw3 = svc.repo().inner().get(&c.id).await.unwrap().unwrap();
        assert!(is_sealed(&secret_of(&raw3)) && secret_of(&raw3) != secret_of(&raw));
    });
}

#[test]
fn a_ciphertext_moved_to_another_record_does_not_open() {
    block_on(async {
        let store = Encrypted::new(MemoryRepo::new(), ring_v1());
        let a = with_secret("a", "a.example.com", "secret-of-a");
        let b = with_secret("b", "b.example.com", "secret-of-b");
        store.insert(&a).await.unwrap();
        store.insert(&b).await.unwrap();
        // An attacker with write access to the raw store copies A's ciphertext into B.
        let raw_a = store.inner().get(&a.id).await.unwrap().unwrap();
        let mut raw_b = store.inner().get(&b.id).await.unwrap().unwrap();
        if let ProtocolConfig::Oidc(o) = &mut raw_b.config {
            o.client_secret = Some(ClientSecret::new(secret_of(&raw_a)));
        }
        raw_b.version += 1;
        store
            .inner()
            .update(&raw_b, raw_b.version - 1)
            .await
            .unwrap();
        let got = store.get(&b.id).await;
        assert!(
            matches!(&got, Err(Error::UnreadableSecret { id, field: "oidc.client_secret", source: CryptoError::Decrypt { key_id } }) if key_id == "v1" && *id == b.id),
            "{got:?}"
        );
        // A still opens.
        assert_eq!(
            secret_of(&store.get(&a.id).await.unwrap().unwrap()),
            "secret-of-a"
        );
    });
}

#[test]
fn a_key_missing_from_the_ring_is_a_typed_error_naming_it() {
    block_on(async {
        let inner = MemoryRepo::new();
        let c = with_secret("a", "a.example.com", "s");
        Encrypted::new(&inner, ring_v1()).insert(&c).await.unwrap();
        let wrong = Encrypted::new(&inner, Keyring::new("v9", [9u8; 32]).unwrap());
        fn names_v1(e: &Error) -> bool {
            matches!(e.crypto(), Some(CryptoError::UnknownKey { key_id }) if key_id == "v1")
        }
        let got = wrong.get(&c.id).await;
        assert!(got.as_ref().is_err_and(names_v1), "{got:?}");
        let checked = wrong.check_keys().await;
        assert!(checked.as_ref().is_err_and(names_v1), "{checked:?}");
        let text = format!("{:?} {}", got.unwrap_err(), checked.unwrap_err());
        assert!(!text.contains("\u{1}\u{1}\u{1}"), "no key bytes in errors");
        // Without any ring, the sealed value is not silently handed out as the secret.
        let raw = inner.get(&c.id).await.unwrap().unwrap();
        assert_ne!(secret_of(&raw), "s");
    });
}

#[test]
fn rotation_moves_every_value_to_the_active_key_in_batches() {
    block_on(async {
        let inner = MemoryRepo::new();
        // Written before encryption was turned on: plain text.
        let legacy = with_secret("legacy", "legacy.example.com", "plain-legacy");
        inner.insert(&legacy).await.unwrap();
        // Written under v1.
        let old = Encrypted::new(&inner, ring_v1());
        let mut ids = vec![legacy.id.clone()];
        for i in 0..23 {
            let c = with_secret(
                &format!("c{i}"),
                &format!("c{i}.example.com"),
                &format!("secret-{i}"),
            );
            old.insert(&c).await.unwrap();
            ids.push(c.id);
        }
        // A SAML connection has no secret: read, not rewritten.
        let saml =
            enterprise_sso_conformance::saml_connection("saml", &["saml.example.com"], false);
        inner.insert(&saml).await.unwrap();

        // Strict (the default), the plain value is a refused downgrade: reported, not
        // adopted; through `accepting_plain_values` (the migration) it is sealed.
        let strict = Encrypted::new(&inner, ring_v2());
        let report = strict.reencrypt_all(5).await.unwrap();
        assert_eq!((report.examined, report.rewritten), (25, 23));
        assert_eq!(report.unreadable.len(), 1);
        assert_eq!(report.unreadable[0].id, legacy.id);
        assert_eq!(report.unreadable[0].error, CryptoError::PlainValue);
        let new = Encrypted::new(&inner, ring_v2()).accepting_plain_values();
        assert_eq!(new.check_keys().await.unwrap(), 25);
        let report = new.reencrypt_all(5).await.unwrap();
        assert_eq!((report.examined, report.rewritten), (25, 1));
        assert!(report.unreadable.is_empty());
        for (i, id) in ids.iter().enumerate() {
            let raw = inner.get(id).await.unwrap().unwrap();
            assert!(
                secret_of(&raw).starts_with("\u{0}esso-sealed:v1:v2:"),
                "{i}"
            );
        }
        // Idempotent; and v1 can now leave the ring.
        assert_eq!(new.reencrypt_all(500).await.unwrap().rewritten, 0);
        let only_v2 = Encrypted::new(&inner, Keyring::new("v2", [2u8; 32]).unwrap());
        for (i, id) in ids.iter().enumerate() {
            let c = only_v2.get(id).await.unwrap().unwrap();
            let want = if i == 0 {
                "plain-legacy".to_owned()
            } else {
                format!("secret-{}", i - 1)
            };
            assert_eq!(secret_of(&c), want);
        }
    });
}

#[test]
fn a_secret_with_control_characters_is_refused_so_it_never_looks_sealed() {
    let params = CreateConnection::new(Provider::OidcCustom, "Acme")
        .domains(["acme.com"])
        .oidc(
            OidcPatch::default()
                .client_id("c")
                .client_secret("\u{0}esso-sealed:v1:x:y:z"),
        );
    let err =
        enterprise_sso::build(&params, enterprise_sso::ConnectionId::generate(), 1).unwrap_err();
    assert_eq!(err.errors()[0].path, "oidc.client_secret");
}

#[test]
fn webhook_bodies_follow_the_workos_event_shape_without_secrets() {
    use enterprise_sso_wire::WorkosEventJson;
    block_on(async {
        let svc = Connections::new(Encrypted::new(MemoryRepo::new(), ring_v1()));
        let params = CreateConnection::new(Provider::OidcCustom, "Hook")
            .domains(["hook.example.com"])
            .oidc(
                OidcPatch::default()
                    .client_id("c")
                    .client_secret("webhook-secret-x"),
            );
        let c = svc.create(&params).await.unwrap();
        svc.update(
            &c.id,
            &enterprise_sso::UpdateConnection::default().name("Hook 2"),
        )
        .await
        .unwrap();
        let events = svc.events_after(0, 10).await.unwrap().events;
        let bodies: Vec<_> = events
            .iter()
            .map(|e| serde_json::to_value(WorkosEventJson::new(e)).unwrap())
            .collect();
        assert_eq!(bodies[0]["event"], "connection.created");
        assert_eq!(bodies[0]["data"]["object"], "connection");
        assert_eq!(bodies[0]["data"]["id"], c.id.as_str());
        assert!(bodies[0]["id"].as_str().unwrap().starts_with("evt_"));
        assert!(bodies[0]["created_at"].as_str().unwrap().ends_with('Z'));
        assert_eq!(bodies[1]["event"], "connection.updated");
        assert_eq!(bodies[1]["data"]["changed"], serde_json::json!(["name"]));
        for b in &bodies {
            assert_eq!(b.as_object().unwrap().len(), 4, "{b}");
            assert!(!b.to_string().contains("webhook-secret"));
        }
    });
}

/// A ring's store holds one connection whose sealed secret was damaged, among 21 good ones.
async fn store_with_one_damaged_secret() -> (
    Encrypted<MemoryRepo>,
    Vec<enterprise_sso::ConnectionId>,
    enterprise_sso::ConnectionId,
) {
    let store = Encrypted::new(MemoryRepo::new(), ring_v1());
    let mut ids = Vec::new();
    for i in 0..22 {
        let c = with_secret(
            &format!("c{i}"),
            &format!("c{i}.blast.com"),
            &format!("s-{i}"),
        );
        store.insert(&c).await.unwrap();
        ids.push(c.id);
    }
    let bad = ids[7].clone();
    let mut raw = store.inner().get(&bad).await.unwrap().unwrap();
    let mut damaged = secret_of(&raw).into_bytes();
    let last = damaged.len() - 3;
    damaged[last] = if damaged[last] == b'A' { b'B' } else { b'A' };
    if let ProtocolConfig::Oidc(o) = &mut raw.config {
        o.client_secret = Some(ClientSecret::new(String::from_utf8(damaged).unwrap()));
    }
    raw.version += 1;
    store.inner().update(&raw, raw.version - 1).await.unwrap();
    (store, ids, bad)
}

fn names(e: &Error, bad: &enterprise_sso::ConnectionId) -> bool {
    matches!(e, Error::UnreadableSecret { id, source: CryptoError::Decrypt { .. }, .. } if id == bad)
        && e.to_string().contains(bad.as_str())
}

#[test]
fn one_damaged_secret_is_named_and_the_rest_of_the_store_works() {
    block_on(async {
        let (store, ids, bad) = store_with_one_damaged_secret().await;
        // Its own read fails naming it; every other read works.
        let e = store.get(&bad).await.unwrap_err();
        assert!(names(&e, &bad), "{e}");
        for id in ids.iter().filter(|i| **i != bad) {
            assert!(store.get(id).await.unwrap().is_some());
        }
        let domain = enterprise_sso::Domain::parse("c3.blast.com").unwrap();
        assert!(store.find_by_domain(&domain).await.unwrap().is_some());
        // A listing that contains it fails naming it (it is not silently left out).
        let e = store
            .list(&enterprise_sso::ListQuery {
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert!(names(&e, &bad), "{e}");
        // check_keys only sees key ids (all in the ring); check_secrets opens them all.
        assert_eq!(store.check_keys().await.unwrap(), 22);
        let check = store.check_secrets().await.unwrap();
        assert_eq!((check.examined, check.secrets), (22, 21));
        assert_eq!(check.unreadable.len(), 1);
        assert_eq!(check.unreadable[0].id, bad);
        assert_eq!(check.unreadable[0].field, "oidc.client_secret");
        assert!(
            !format!("{check:?} {e:?}").contains("s-7"),
            "no secret in reports"
        );
        // Rotation goes on past it and reports it.
        let rotated = Encrypted::new(store.inner(), ring_v2());
        let report = rotated.reencrypt_all(5).await.unwrap();
        assert_eq!((report.examined, report.rewritten), (22, 21));
        assert_eq!(
            report.unreadable.iter().map(|u| &u.id).collect::<Vec<_>>(),
            vec![&bad]
        );
        // Repaired without reading the old value, it opens again, under the active key.
        let fresh = ClientSecret::new("s-7-new");
        let repaired = rotated
            .replace_secret(&bad, Some(&fresh), 99)
            .await
            .unwrap();
        assert_eq!(secret_of(&repaired), "s-7-new");
        assert_eq!(
            secret_of(&rotated.get(&bad).await.unwrap().unwrap()),
            "s-7-new"
        );
        assert!(rotated.check_secrets().await.unwrap().unreadable.is_empty());
        assert_eq!(rotated.reencrypt_all(500).await.unwrap().rewritten, 0);
    });
}

#[test]
fn with_a_ring_a_plain_value_over_a_sealed_one_is_a_refused_downgrade() {
    block_on(async {
        let store = Encrypted::new(MemoryRepo::new(), ring_v1());
        let c = with_secret("a", "a.downgrade.com", "real-secret");
        store.insert(&c).await.unwrap();
        // Someone with write access to the store writes a secret of their choosing, plain.
        let mut raw = store.inner().get(&c.id).await.unwrap().unwrap();
        if let ProtocolConfig::Oidc(o) = &mut raw.config {
            o.client_secret = Some(ClientSecret::new("attacker-chosen"));
        }
        raw.version += 1;
        store.inner().update(&raw, raw.version - 1).await.unwrap();
        let e = store.get(&c.id).await.unwrap_err();
        assert!(
            matches!(&e, Error::UnreadableSecret { id, source: CryptoError::PlainValue, .. } if *id == c.id),
            "{e}"
        );
        assert!(!e.to_string().contains("attacker-chosen"));
        let check = store.check_secrets().await.unwrap();
        assert_eq!(check.unreadable[0].error, CryptoError::PlainValue);
        // Rotation does not adopt it either.
        let report = store.reencrypt_all(10).await.unwrap();
        assert_eq!(report.rewritten, 0);
        assert_eq!(report.unreadable.len(), 1);
        let raw = store.inner().get(&c.id).await.unwrap().unwrap();
        assert_eq!(secret_of(&raw), "attacker-chosen");
    });
}

mod sign_in_records {
    use super::*;
    use enterprise_sso::{
        sign_in_key, ConnectionId, SignInItem, SignInKind, SignInOp, SignInStore, UnixMillis,
    };
    use std::sync::Arc;

    const NOW: UnixMillis = UnixMillis::new(1_000_000);
    const ID_TOKEN: &[u8] = b"{\"id_token\":\"eyJhbGciOi.MARKER-id-token.sig\"}";

    fn conn() -> ConnectionId {
        "ent_0000000000000000000000000a".parse().unwrap()
    }

    fn item(kind: SignInKind, raw_key: &str, payload: &[u8]) -> SignInItem {
        SignInItem {
            kind,
            key: sign_in_key(raw_key),
            connection_id: Some(conn()),
            created_at: NOW,
            expires_at: UnixMillis::new(NOW.get() + 60_000),
            payload: payload.to_vec(),
        }
    }

    fn has_marker(i: &SignInItem) -> bool {
        i.payload.windows(6).any(|w| w == b"MARKER")
    }

    #[test]
    fn a_test_runs_payload_is_sealed_at_rest_on_every_write_path_and_read_back_whole() {
        block_on(async {
            let store = Encrypted::new(Arc::new(MemoryRepo::new()), ring_v1());
            let run = item(SignInKind::TestRun, "run-1", ID_TOKEN);
            assert!(store.put_sign_in(&run, NOW).await.unwrap());
            let raw = store
                .inner()
                .get_sign_in(SignInKind::TestRun, &run.key, NOW);
            let raw = raw.await.unwrap().unwrap();
            assert!(
                !has_marker(&raw),
                "the inner store holds the payload in plain"
            );
            assert!(is_sealed(std::str::from_utf8(&raw.payload).unwrap()));
            let read = store.get_sign_in(SignInKind::TestRun, &run.key, NOW);
            assert_eq!(read.await.unwrap().unwrap(), run);
            let listed = store.list_sign_ins(SignInKind::TestRun, &conn(), NOW).await;
            assert_eq!(listed.unwrap(), vec![run.clone()]);

            // The batches: a put is sealed, a take opens what it took.
            let second = item(SignInKind::TestRun, "run-2", ID_TOKEN);
            let ops = [
                SignInOp::Take {
                    kind: SignInKind::TestRun,
                    key: run.key.clone(),
                },
                SignInOp::Put(second.clone()),
            ];
            let taken = store.commit_sign_ins(&ops, None, NOW).await.unwrap();
            assert_eq!(taken.unwrap(), vec![run.clone()]);
            let third = item(SignInKind::TestRun, "run-3", ID_TOKEN);
            let ops = [
                SignInOp::Take {
                    kind: SignInKind::TestRun,
                    key: second.key.clone(),
                },
                SignInOp::Put(third.clone()),
            ];
            let taken = store.commit_pending(&ops, NOW).await.unwrap();
            assert_eq!(taken.unwrap(), vec![second.clone()]);
            let raw = store
                .inner()
                .list_sign_ins(SignInKind::TestRun, &conn(), NOW)
                .await
                .unwrap();
            assert_eq!(raw.len(), 1);
            assert!(!has_marker(&raw[0]));
            let taken = store.take_sign_in(SignInKind::TestRun, &third.key, NOW);
            assert_eq!(taken.await.unwrap().unwrap(), third);
        });
    }

    #[test]
    fn other_records_pass_through_as_the_flows_wrote_them() {
        block_on(async {
            let store = Encrypted::new(Arc::new(MemoryRepo::new()), ring_v1());
            for kind in [
                SignInKind::SamlRequest,
                SignInKind::OidcState,
                SignInKind::HostedRequest,
                SignInKind::TestRunStart,
            ] {
                let i = item(kind, "k", b"{\"MARKER\":1}");
                assert!(store.put_sign_in(&i, NOW).await.unwrap());
                let raw = store.inner().get_sign_in(kind, &i.key, NOW).await.unwrap();
                assert_eq!(raw.unwrap(), i, "{kind:?}");
            }
        });
    }

    #[test]
    fn a_sealed_payload_moved_or_replaced_by_plain_text_does_not_read() {
        block_on(async {
            let store = Encrypted::new(Arc::new(MemoryRepo::new()), ring_v1());
            let run = item(SignInKind::TestRun, "run-1", ID_TOKEN);
            store.put_sign_in(&run, NOW).await.unwrap();
            let sealed = store
                .inner()
                .get_sign_in(SignInKind::TestRun, &run.key, NOW)
                .await
                .unwrap()
                .unwrap();
            // Copied under another key: the associated data no longer matches.
            let mut moved = sealed.clone();
            moved.key = sign_in_key("run-2");
            store.inner().put_sign_in(&moved, NOW).await.unwrap();
            let err = store
                .get_sign_in(SignInKind::TestRun, &moved.key, NOW)
                .await
                .unwrap_err();
            assert_eq!(
                err.crypto(),
                Some(&CryptoError::Decrypt {
                    key_id: "v1".into()
                })
            );
            // A plain payload written around the ring is a refused downgrade, and a
            // listing that holds it fails rather than leave it out.
            let forged = item(SignInKind::TestRun, "run-3", b"{\"forged\":true}");
            store.inner().put_sign_in(&forged, NOW).await.unwrap();
            let err = store
                .get_sign_in(SignInKind::TestRun, &forged.key, NOW)
                .await
                .unwrap_err();
            assert_eq!(err.crypto(), Some(&CryptoError::PlainValue));
            let listed = store.list_sign_ins(SignInKind::TestRun, &conn(), NOW).await;
            assert!(listed.is_err());
            // Only while migrating is it read as it is.
            let migrating =
                Encrypted::new(store.inner().clone(), ring_v1()).accepting_plain_values();
            let read = migrating.get_sign_in(SignInKind::TestRun, &forged.key, NOW);
            assert_eq!(read.await.unwrap().unwrap(), forged);
            // A ring without the key: the typed error names it.
            let other = Encrypted::new(
                store.inner().clone(),
                Keyring::new("v9", [9u8; 32]).unwrap(),
            );
            let err = other
                .get_sign_in(SignInKind::TestRun, &run.key, NOW)
                .await
                .unwrap_err();
            assert_eq!(
                err.crypto(),
                Some(&CryptoError::UnknownKey {
                    key_id: "v1".into()
                })
            );
        });
    }

    #[test]
    fn reencrypt_moves_test_runs_to_the_active_key_and_names_what_does_not_open() {
        block_on(async {
            let inner = Arc::new(MemoryRepo::new());
            let c = enterprise_sso_conformance::saml_connection("Acme", &["acme.com"], true);
            inner.insert(&c).await.unwrap();
            let at = |raw: &str, payload: &[u8]| SignInItem {
                connection_id: Some(c.id.clone()),
                ..item(SignInKind::TestRun, raw, payload)
            };
            let now = UnixMillis::now();
            let live = |mut i: SignInItem| {
                i.created_at = now;
                i.expires_at = UnixMillis::new(now.get() + 3_600_000);
                i
            };
            let old = live(at("run-old", ID_TOKEN));
            let plain = live(at("run-plain", b"{\"written\":\"before the ring\"}"));
            Encrypted::new(inner.clone(), ring_v1())
                .put_sign_in(&old, now)
                .await
                .unwrap();
            inner.put_sign_in(&plain, now).await.unwrap();

            // Strict: the v1 run moves to v2; the plain one is named and left.
            let strict = Encrypted::new(inner.clone(), ring_v2());
            let report = strict.reencrypt_all(10).await.unwrap();
            assert_eq!(report.test_runs_rewritten, 1);
            assert_eq!(report.unreadable.len(), 1);
            assert_eq!(report.unreadable[0].id, c.id);
            assert_eq!(report.unreadable[0].field, "test_run.payload");
            assert_eq!(report.unreadable[0].error, CryptoError::PlainValue);
            let v2_only = Encrypted::new(inner.clone(), Keyring::new("v2", [2u8; 32]).unwrap());
            let read = v2_only
                .get_sign_in(SignInKind::TestRun, &old.key, now)
                .await;
            assert_eq!(read.unwrap().unwrap(), old);

            // Migrating: the plain run is sealed too; a second run has nothing left to do.
            let migrating = Encrypted::new(inner.clone(), ring_v2()).accepting_plain_values();
            let report = migrating.reencrypt_all(10).await.unwrap();
            assert_eq!(
                (report.test_runs_rewritten, report.unreadable.len()),
                (1, 0)
            );
            let read = v2_only
                .get_sign_in(SignInKind::TestRun, &plain.key, now)
                .await;
            assert_eq!(read.unwrap().unwrap(), plain);
            let report = strict.reencrypt_all(10).await.unwrap();
            assert_eq!(
                (report.test_runs_rewritten, report.unreadable.len()),
                (0, 0)
            );
        });
    }
}
