//! Writes connections in a loop and acknowledges each write on stdout, until killed.
//!
//! Usage: `crash-writer <sqlite|sled> <path> <seed>`. Each line is
//! `ACK <id> <version> <name>`, printed only after the write returned.

use std::io::Write;

use enterprise_sso::conformance::saml_connection;
use enterprise_sso::{Connections, Patch, UpdateConnection};
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
    let mut ids: Vec<_> = futures_executor::block_on(all_connections(&*store))
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.id)
        .collect();
    let stdout = std::io::stdout();
    for n in 0u64.. {
        let line = if ids.len() < 8 || rng.below(4) == 0 {
            let c = saml_connection(&format!("c{seed}-{n}"), &[], false);
            match futures_executor::block_on(store.insert(&c)) {
                Ok(()) => {
                    ids.push(c.id.clone());
                    format!("ACK {} {} {}", c.id, c.version, c.name)
                }
                Err(e) => format!("ERR {e}"),
            }
        } else {
            let id = &ids[rng.below(ids.len() as u64) as usize];
            let name = format!("u{seed}-{n}");
            let patch = UpdateConnection {
                name: Patch::Value(name.clone()),
                ..Default::default()
            };
            match futures_executor::block_on(svc.update(id, &patch)) {
                Ok(c) => format!("ACK {} {} {}", c.id, c.version, name),
                Err(e) => format!("ERR {e}"),
            }
        };
        let mut out = stdout.lock();
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            std::process::exit(4);
        }
    }
}
