#!/usr/bin/env bash
# The official Clerk and WorkOS Node SDKs against enterprise-sso-server: builds the server
# binary, installs the pinned npm packages from sdk-tests/package-lock.json (npm ci), and
# runs sdk-tests/test/*.test.mjs with Node's test runner. Needs Node.js >= 20 and npm.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "sdk-tests: Node.js (>= 20) and npm are required" >&2
  exit 1
fi
cargo build -p enterprise-sso-http --bin enterprise-sso-server
target_dir=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
export SSO_SERVER_BIN="$target_dir/debug/enterprise-sso-server"
cd sdk-tests
npm ci --no-audit --no-fund
timeout -k 10 600 npm test
