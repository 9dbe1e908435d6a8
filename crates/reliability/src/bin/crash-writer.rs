//! Writes every kind of operation in a loop and acknowledges each on stdout once it has
//! returned, until killed: creates with a domain, updates that move a connection to a new
//! domain, sign-ins that create and update accounts, deletes that unlink accounts.
//!
//! Usage: `crash-writer <sqlite|sled> <path> <seed>`. Lines (fields space-separated):
//! `OPEN`; `C <id> <version> <name> <domain>`; `U <id> <version> <name> <domain>`;
//! `S <connection> <connection version> <subject> <account id> <account version>`;
//! `D <id>`; `ERR <message>` for a write that failed (the harness treats it as a failure).

use std::collections::BTreeMap;
use std::io::Write;

use enterprise_sso::testing::saml_connection;
use enterprise_sso::{Assertion, ConnectionId, Connections, Patch, UpdateConnection};
use enterprise_sso_reliability::{all_connections, Kind, Rng};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(kind), Some(path), Some(seed)) = (
        args.get(1).and_then(|k| Kind::parse(k)),
        args.get(2),
        args.get(3).and_then(|s| s.parse::<u64>().ok()),
    ) else {
        eprintln!("usage: crash-writer <sqlite|sled> <path> <seed>");
        std::process::exit(2);
    };
    let store = match kind.open(std::path::Path::new(path)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("open failed: {e}");
            std::process::exit(3);
        }
    };
    let svc = Connections::new(&*store);
    let mut rng = Rng::new(seed);
    // id -> current domain
    let mut live: BTreeMap<ConnectionId, String> =
        futures_executor::block_on(all_connections(&*store))
            .unwrap_or_default()
            .into_iter()
            .filter_map(|c| Some((c.id, c.domains.first()?.to_string())))
            .collect();
    let stdout = std::io::stdout();
    let say = |line: String| {
        let mut out = stdout.lock();
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            std::process::exit(4);
        }
    };
    say("OPEN".into());
    for n in 0u64.. {
        let pick = |rng: &mut Rng, live: &BTreeMap<ConnectionId, String>| {
            let k = rng.below(live.len() as u64) as usize;
            live.iter().nth(k).map(|(id, d)| (id.clone(), d.clone()))
        };
        let line = match rng.below(20) {
            _ if live.len() < 4 => create(&*store, &mut live, seed, n),
            0..=4 => create(&*store, &mut live, seed, n),
            5..=11 => {
                let Some((id, _)) = pick(&mut rng, &live) else {
                    continue;
                };
                let (name, domain) = (
                    format!("u{seed}-{n}"),
                    format!("u{seed}-{n}.crash.example.com"),
                );
                let patch = UpdateConnection {
                    name: Patch::Value(name.clone()),
                    domains: Patch::Value(vec![domain.clone()]),
                    ..Default::default()
                };
                match futures_executor::block_on(svc.update(&id, &patch)) {
                    Ok(c) => {
                        live.insert(id.clone(), domain.clone());
                        format!("U {id} {} {name} {domain}", c.version)
                    }
                    Err(e) => format!("ERR update: {e}"),
                }
            }
            12..=16 => {
                let Some((id, domain)) = pick(&mut rng, &live) else {
                    continue;
                };
                let subject = format!("user{}", rng.below(3));
                let a = Assertion::new(&subject, [("firstName", "Crash")])
                    .with_email(&format!("{subject}@{domain}"));
                match futures_executor::block_on(svc.record_sign_in(&id, &a)) {
                    Ok(s) => format!(
                        "S {id} {} {subject} {} {}",
                        s.connection.version, s.account.id, s.account.version
                    ),
                    Err(e) => format!("ERR sign-in: {e}"),
                }
            }
            _ => {
                let Some((id, _)) = pick(&mut rng, &live) else {
                    continue;
                };
                match futures_executor::block_on(svc.delete(&id)) {
                    Ok(()) => {
                        live.remove(&id);
                        format!("D {id}")
                    }
                    Err(e) => format!("ERR delete: {e}"),
                }
            }
        };
        say(line);
    }
}

fn create(
    store: &dyn enterprise_sso::Store,
    live: &mut BTreeMap<ConnectionId, String>,
    seed: u64,
    n: u64,
) -> String {
    let domain = format!("c{seed}-{n}.crash.example.com");
    let c = saml_connection(&format!("c{seed}-{n}"), &[&domain], true);
    match futures_executor::block_on(store.insert(&c)) {
        Ok(()) => {
            live.insert(c.id.clone(), domain.clone());
            format!("C {} {} {} {domain}", c.id, c.version, c.name)
        }
        Err(e) => format!("ERR create: {e}"),
    }
}
