#!/usr/bin/env bash
# The hosted SP-initiated sign-in, enterprise-sso beside Ory Polis, engine kind against
# engine kind: `hosted_load` (ours: in process and over loopback HTTP, 1 and 64 browsers,
# on MemoryRepo / SQLite / PostgreSQL when SSO_TEST_POSTGRES_URL or SSO_BENCH_POSTGRES_URL
# is set) and flow.mjs (Polis in process: authorize → samlResponse → token → userInfo on
# its memory and SQLite engines), run one after the other `runs` times; prints the
# medians over the runs and the ratios (Polis's time per sign-in / ours, one browser).
#
#   benches/polis/flow.sh [runs=3] [polis iterations=300]
#   scripts/with-postgres.sh benches/polis/flow.sh 3
#
# Env passed to hosted_load: SSO_FLOW_SIGNINS (default 3000 per row), SSO_FLOW_BATCH,
# SSO_FLOW_CONCURRENCY (default 1,64), SSO_FLOW_STORES (default memory,sqlite,postgres).
# What each side times: hosted_load's and flow.mjs's headers. Neither side times the IdP's
# signing of the response.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
runs="${1:-3}"; iters="${2:-300}"
work="${SSO_BENCH_DATA:-$root/target/bench-data}/polis"
mkdir -p "$work"
if [ ! -d "$here/node_modules/@boxyhq/saml-jackson" ]; then
  (cd "$here" && npm ci --no-audit --no-fund >&2)
fi
(cd "$root" && cargo build --release -q -p enterprise-sso-benches --bin hosted_load)
bin="${CARGO_TARGET_DIR:-$root/target}/release/hosted_load"
results=()
for r in $(seq 1 "$runs"); do
  echo "run $r/$runs: enterprise-sso (hosted_load)" >&2
  ours="$("$bin" | tee /dev/stderr | tail -n 1)"
  echo "run $r/$runs: Ory Polis (flow.mjs, mem and sqlite)" >&2
  pm="$(cd "$here" && node flow.mjs mem "$iters" 2>/dev/null | tail -n 1)"
  ps="$(cd "$here" && node flow.mjs "sqlite:$work/flow.db" "$iters" 2>/dev/null | tail -n 1)"
  echo "$pm" >&2; echo "$ps" >&2
  results+=("{\"ours\": $ours, \"polis_mem\": $pm, \"polis_sqlite\": $ps}")
done
results_file="$(mktemp)"
trap 'rm -f "$results_file"' EXIT
printf '%s\n' "${results[@]}" > "$results_file"
python3 - "$results_file" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
med = statistics.median
def ours(store, via, browsers, key):
    xs = [r[key] for run in runs for r in run["ours"]
          if r["store"] == store and r["via"] == via and r["browsers"] == browsers]
    return med(xs) if xs else None
pm0 = runs[0]["polis_mem"]
print(f"medians of {len(runs)} runs; Ory Polis {pm0['polis']} on Node {pm0['node']}\n")
print("| store | via | browsers | sign-ins/s | p50 | p99 |")
print("| --- | --- | ---: | ---: | ---: | ---: |")
seen = []
for r in runs[0]["ours"]:
    k = (r["store"], r["via"], r["browsers"])
    if k in seen:
        continue
    seen.append(k)
    s, v, b = k
    via = "HTTP" if v == "http" else "in process"
    print(f"| {s} | {via} | {b} | {ours(s, v, b, 'per_s'):.0f} | "
          f"{ours(s, v, b, 'p50_us') / 1000:.2f} ms | {ours(s, v, b, 'p99_us') / 1000:.2f} ms |")
print()
print("Engine kind against engine kind, one browser, p50 per sign-in; ratio = Polis / ours within each run, median over runs\n")
print("| engine kind | Ory Polis in process | ours in process | ratio | ours over HTTP | ratio |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
def one(run, store, via):
    xs = [r["p50_us"] for r in run["ours"] if r["store"] == store and r["via"] == via and r["browsers"] == 1]
    return xs[0] if xs else None
for kind, polis_key, store in (("memory", "polis_mem", "memory"), ("SQLite", "polis_sqlite", "sqlite")):
    p = med([run[polis_key]["median_us"] for run in runs])
    o = ours(store, "inproc", 1, "p50_us")
    if o is None:
        continue
    ratio = med([run[polis_key]["median_us"] / one(run, store, "inproc") for run in runs])
    oh = ours(store, "http", 1, "p50_us")
    if oh:
        ratio_h = med([run[polis_key]["median_us"] / one(run, store, "http") for run in runs])
        http = f"{oh / 1000:.2f} ms | {ratio_h:.1f}×"
    else:
        http = "– | –"
    print(f"| {kind} | {p / 1000:.2f} ms | {o / 1000:.3f} ms | {ratio:.1f}× | {http} |")
for key, name in (("polis_mem", "memory"), ("polis_sqlite", "SQLite")):
    steps = {k: med([run[key]["steps_median_us"][k] for run in runs]) for k in runs[0][key]["steps_median_us"]}
    print(f"\nPolis {name} engine, median per step: " + ", ".join(f"{k} {v / 1000:.2f} ms" for k, v in steps.items()))
PY
