#!/usr/bin/env bash
# The OIDC sign-in (authorization request + callback), enterprise-sso beside Ory Polis,
# engine kind against engine kind: the `oidc_callback` group of the criterion bench
# `oidc_verify` (ours: `oidc_start` + `oidc_finish` on MemoryRepo and SqliteRepo, provider
# answers canned in an `OidcHttp`, no network) and oidc.mjs (Polis in process: authorize →
# oidcAuthzResponse → token → userInfo on its memory and SQLite engines, the provider a
# loopback HTTP server), run one after the other `runs` times; prints the medians over the
# runs and the ratios (Polis / ours within each run, then the median).
#
#   benches/polis/oidc.sh [runs=1] [polis iterations=300]
#
# Ours makes no provider call per sign-in (the provider metadata is cached in
# `OidcSettings`, the JWKS in the connection's cache; the token response is canned), Polis
# makes four over loopback (discovery in authorize; discovery, token and userinfo in the
# callback), so the table gives Polis with and without its fetch time. Ours verifies the ID
# token's RS256 signature (one RSA-2048 verify, ~50 µs); Polis does not (openid-client
# without `enableNonRepudiationChecks`): see oidc.mjs's header.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
runs="${1:-1}"; iters="${2:-300}"
work="${SSO_BENCH_DATA:-$root/target/bench-data}/polis"
mkdir -p "$work"
if [ ! -d "$here/node_modules/@boxyhq/saml-jackson" ]; then
  (cd "$here" && npm ci --no-audit --no-fund >&2)
fi
criterion="${CARGO_TARGET_DIR:-$root/target}/criterion/oidc_callback"
results=()
for r in $(seq 1 "$runs"); do
  echo "run $r/$runs: enterprise-sso (cargo bench --bench oidc_verify -- oidc_callback)" >&2
  (cd "$root" && cargo bench -q -p enterprise-sso-benches --bench oidc_verify -- oidc_callback >&2)
  ours="$(python3 - "$criterion" <<'PY'
import json, os, sys
out = {}
for name in ("start_finish_memory", "start_finish_sqlite"):
    p = os.path.join(sys.argv[1], name, "new", "estimates.json")
    out[name] = json.load(open(p))["median"]["point_estimate"] / 1000.0  # ns -> µs
print(json.dumps(out))
PY
)"
  echo "run $r/$runs: Ory Polis (oidc.mjs, mem and sqlite)" >&2
  pm="$(cd "$here" && node oidc.mjs mem "$iters" | tail -n 1)"
  ps="$(cd "$here" && node oidc.mjs "sqlite:$work/oidc.db" "$iters" | tail -n 1)"
  echo "$ours" >&2; echo "$pm" >&2; echo "$ps" >&2
  results+=("{\"ours\": $ours, \"polis_mem\": $pm, \"polis_sqlite\": $ps}")
done
results_file="$(mktemp)"
trap 'rm -f "$results_file"' EXIT
printf '%s\n' "${results[@]}" > "$results_file"
python3 - "$results_file" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
med = statistics.median
pm0 = runs[0]["polis_mem"]
print(f"medians of {len(runs)} run(s); Ory Polis {pm0['polis']} (openid-client {pm0['openid_client']}) "
      f"on Node {pm0['node']}, {pm0['iterations']} sign-ins per engine; ours: criterion medians\n")
print("Authorization request + callback (ours `oidc_start` + `oidc_finish`; Polis `authorize` + "
      "`oidcAuthzResponse`), wall; ratio = Polis / ours within each run, median over runs\n")
print("| engine kind | ours | Ory Polis | ratio | Polis without its fetch time | ratio | Polis CPU |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
def us(x):
    return f"{x / 1000:.2f} ms" if x >= 1000 else f"{x:.0f} µs"
for kind, pk, ok in (("memory", "polis_mem", "start_finish_memory"), ("SQLite", "polis_sqlite", "start_finish_sqlite")):
    o = med([run["ours"][ok] for run in runs])
    p = med([run[pk]["steps_median_us"]["authorize_callback"] for run in runs])
    pn = med([run[pk]["authorize_callback_minus_fetch_median_us"] for run in runs])
    cpu = med([run[pk]["cpu_authorize_callback_median_us"] for run in runs])
    r = med([run[pk]["steps_median_us"]["authorize_callback"] / run["ours"][ok] for run in runs])
    rn = med([run[pk]["authorize_callback_minus_fetch_median_us"] / run["ours"][ok] for run in runs])
    print(f"| {kind} | {us(o)} | {us(p)} | {r:.0f}× | {us(pn)} | {rn:.0f}× | {us(cpu)} |")
for pk, name in (("polis_mem", "memory"), ("polis_sqlite", "SQLite")):
    steps = {k: med([run[pk]["steps_median_us"][k] for run in runs]) for k in runs[0][pk]["steps_median_us"]}
    fetch = {k: med([run[pk]["fetch_median_us"][k] for run in runs]) for k in runs[0][pk]["fetch_median_us"]}
    cmf = med([run[pk]["callback_minus_fetch_median_us"] for run in runs])
    total = med([run[pk]["median_us"] for run in runs])
    print(f"\nPolis {name} engine, median per step: " + ", ".join(f"{k} {us(v)}" for k, v in steps.items())
          + f"; whole sign-in {us(total)}; fetch time in authorize {us(fetch['authorize'])}, in the callback "
          + f"{us(fetch['callback'])}; callback without it {us(cmf)}; provider calls per sign-in "
          + ", ".join(f"{k} {v:g}" for k, v in runs[0][pk]["provider_calls_per_sign_in"].items()))
PY
