#!/usr/bin/env bash
# Ory Polis beside enterprise-sso on one SAML Response (benches/polis/saml-response.xml):
# runs saml.mjs (Polis's in-process `samlResponse` on its memory engine, and
# `@boxyhq/saml20` validate alone) and prints it beside the criterion figures of
# `cargo bench -p enterprise-sso-benches --bench saml_verify` (run that first; this script
# reads its estimates from target/criterion), with the ratios.
#
#   benches/polis/saml.sh [iterations=300]
#   benches/polis/saml.sh --mint      # re-mint saml-response.xml with samlify (bash idp/install.sh first)
#
# The response: samlify 2.13.1 (idp/node/samlify-response.js), Response and Assertion signed
# (rsa-sha256, exclusive c14n, RSA-2048 idp/keys/idp-key.pem), minted for Polis's SP as
# saml.mjs configures it (audience https://saml.example.com, ACS
# https://sso.example.com/api/oauth/saml), clock and IDs pinned so it is reproducible.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
if [ "${1:-}" = "--mint" ]; then
  node "$root/idp/node/samlify-response.js" --xml \
    --sp-entity-id https://saml.example.com --acs https://sso.example.com/api/oauth/saml \
    --idp-entity-id http://127.0.0.1:7000/idp --request-id _polis_bench_request_0001 \
    --now 2026-06-01T12:00:00Z --seed polis-bench --lifetime-seconds 300 > "$here/saml-response.xml"
  exit 0
fi
iters="${1:-300}"
if [ ! -d "$here/node_modules/@boxyhq/saml-jackson" ]; then
  (cd "$here" && npm ci --no-audit --no-fund >&2)
fi
polis="$(cd "$here" && node saml.mjs "$iters" | tail -n 1)"
criterion="${CARGO_TARGET_DIR:-$root/target}/criterion"
python3 - "$polis" "$criterion" <<'PY'
import json, os, sys
polis, criterion = json.loads(sys.argv[1]), sys.argv[2]
def ours(name):
    p = os.path.join(criterion, "saml_verify", name, "new", "estimates.json")
    if not os.path.exists(p):
        return None
    return json.load(open(p))["median"]["point_estimate"] / 1000.0  # ns -> µs
print(f"Ory Polis {polis['polis']} (@boxyhq/saml20 {polis['saml20']}, Node {polis['node']}), "
      f"response {polis['response_bytes']} bytes, {polis['saml_response']['iterations']} iterations")
full, val = polis["saml_response"]["median_us"], polis["saml20_validate"]["median_us"]
for key, label in (("saml_response", "samlResponse (memory engine)"), ("saml20_validate", "saml20.validate alone       ")):
    s = polis[key]
    print(f"  {label} wall median {s['median_us']:.0f} µs (mean {s['mean_us']:.0f}), CPU median {s['cpu_median_us']:.0f} µs (mean {s['cpu_mean_us']:.0f})")
o = ours("ours_verify_post")
if o is None:
    print("no criterion figures: run `cargo bench -p enterprise-sso-benches --bench saml_verify` first")
    sys.exit(0)
print(f"enterprise-sso verify_post, criterion median {o:.1f} µs")
print(f"  Polis samlResponse / ours: {full / o:.0f}×;  saml20.validate / ours: {val / o:.0f}×")
for floor in ("floor_rsa_0_10", "floor_aws_lc_rs", "floor_ring"):
    f = ours(floor)
    if f is not None:
        print(f"  ours / {floor} ({f:.1f} µs): {o / f:.2f}×")
cpu_path = os.path.join(criterion, "saml_verify", "cpu.json")
if os.path.exists(cpu_path):
    cpu = json.load(open(cpu_path))
    oc = cpu["ours_verify_post"]["cpu_us"]
    print(f"CPU time per call (the bench's interleaved CPU pass; Polis: process CPU, medians): ours {oc:.1f} µs")
    print(f"  Polis samlResponse / ours: {polis['saml_response']['cpu_median_us'] / oc:.0f}×;  "
          f"saml20.validate / ours: {polis['saml20_validate']['cpu_median_us'] / oc:.0f}×")
    for floor in ("floor_rsa_0_10", "floor_aws_lc_rs", "floor_ring"):
        f = cpu[floor]["cpu_us"]
        ratio = cpu[floor].get("ours_over_op", oc / f)
        print(f"  ours / {floor} ({f:.1f} µs): {ratio:.2f}× (median of the rounds' ratios)")
PY
