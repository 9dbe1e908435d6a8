#!/usr/bin/env bash
# Runs every idp/ smoke test (after idp/install.sh): SAML IdPs, the OIDC provider, the browser
# (puppeteer-core + Debian chromium) and `generate.py --check` on the committed corpus.
# Usage: bash idp/smoke.sh            Prints "N passed, N failed"; exits 1 if any failed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
pass=0; fail=0
run() {
  local name=$1; shift
  if "$@"; then pass=$((pass + 1)); echo "idp smoke: $name ok"; else fail=$((fail + 1)); echo "idp smoke: $name FAILED"; fi
}
run saml-idps timeout 180 "$here/.venv/bin/python" "$here/saml-smoke.py"
run oidc-provider timeout 120 node "$here/node/op-smoke.mjs"
run browser timeout 180 node "$here/node/browser-smoke.mjs"
run corpus-check timeout 300 "$here/.venv/bin/python" "$here/corpus/generate.py" --check
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
