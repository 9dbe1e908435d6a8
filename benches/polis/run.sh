#!/usr/bin/env bash
# Ory Polis beside enterprise-sso: installs @boxyhq/saml-jackson (Ory Polis) with npm, runs
# its create (from IdP metadata XML) / lookup / get-then-update on its SQLite engine
# in process (polis.mjs), the same operations on SqliteRepo (the polis_peer binary), and
# prints both with the ratios.
#
#   benches/polis/run.sh [connections=1000] [ops=2000] [tasks=16]
#
# Both run durable SQLite (Polis: better-sqlite3, rollback journal, synchronous FULL;
# ours: WAL, synchronous FULL) on the same machine, one after the other, with one IdP
# metadata document (the Okta fixture, its entity id made unique per connection because
# Polis refuses one entity id for two tenants).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
n="${1:-1000}"; ops="${2:-2000}"; tasks="${3:-16}"
meta="$root/crates/enterprise-sso/tests/fixtures/saml/okta.metadata.xml"
work="${SSO_BENCH_DATA:-$root/target/bench-data}/polis"
mkdir -p "$work"
if [ ! -d "$here/node_modules/@boxyhq/saml-jackson" ]; then
  (cd "$here" && npm ci --no-audit --no-fund >&2)
fi
(cd "$root" && cargo build --release -q -p enterprise-sso-benches --bin polis_peer)
ours="$("$root/target/release/polis_peer" "$n" "$ops" "$meta" "$work/ours.db" "$tasks")"
polis="$(cd "$here" && node polis.mjs "$n" "$ops" "$meta" "$work/polis.db" "$tasks" 2>/dev/null | tail -n 1)"
python3 - "$ours" "$polis" <<'PY'
import json, sys
ours, polis = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"{ours['connections']} connections, {ours['tasks']} concurrent tasks for the last two rows\n")
print("| operation | enterprise-sso | Ory Polis | ratio |")
print("|---|---|---|---|")
for key, label in [("create_us", "create from metadata XML (µs)"),
                   ("lookup_us", "lookup (µs)"),
                   ("update_us", "get then update (µs)")]:
    print(f"| {label} | {ours[key]:.0f} | {polis[key]:.0f} | {polis[key] / ours[key]:.1f}× |")
    if key == "lookup_us":
        c = ours["cached_lookup_us"]
        print(f"| lookup through `Cached` (µs) | {c:.1f} | {polis[key]:.0f} (no cache) | {polis[key] / c:.0f}× |")
for key, label in [("lookup_concurrent", "lookups/s"), ("update_concurrent", "updates/s")]:
    o, p = ours[key], polis[key]
    fails = f" ({p['failed']} failed)" if p["failed"] else ""
    print(f"| {label}, {ours['tasks']} tasks | {o['per_s']:.0f} | {p['per_s']:.0f}{fails} | {o['per_s'] / max(p['per_s'], 1e-9):.1f}× |")
PY
