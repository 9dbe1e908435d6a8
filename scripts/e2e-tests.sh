#!/usr/bin/env bash
# End-to-end browser tests (e2e/): a customer app on the official WorkOS Node SDK, headless
# Debian chromium driven by puppeteer-core (no browser download) and real IdPs from idp/
# (SimpleSAMLphp's login form, oidc-provider's login and consent pages) signing in through
# the server binary. Needs `bash idp/install.sh` first (chromium, SimpleSAMLphp, idp/node),
# Node.js >= 20 and npm. With CI=true a missing IdP or browser fails instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "e2e: Node.js (>= 20) and npm are required" >&2
  exit 1
fi
cargo build -p enterprise-sso-http --bin enterprise-sso-server
target_dir=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
export SSO_SERVER_BIN="$target_dir/debug/enterprise-sso-server"
cd e2e
# puppeteer-core never downloads a browser; these keep any puppeteer install script from trying.
export PUPPETEER_SKIP_DOWNLOAD=1 PUPPETEER_SKIP_CHROMIUM_DOWNLOAD=1 PUPPETEER_SKIP_CHROME_DOWNLOAD=1
npm ci --no-audit --no-fund --loglevel=error
# Each test has 90 s and each hook 120 s (e2e/lib/harness.mjs: a hang is reported with its
# test); this bounds the rest.
timeout -k 10 600 npm test
