#!/usr/bin/env bash
# Installs the test identity providers and tools under idp/ (see idp/README.md). TEST ONLY.
# Idempotent, non-interactive, quick when everything is already there. Run as root on Debian
# bookworm (CI's `.ci/run` calls it on a fresh machine): `bash idp/install.sh`.
#   1. Debian: xmlsec1 simplesamlphp php-cli php-xml php-mbstring python3-venv python3-lxml chromium
#   2. idp/.venv: pinned idp/requirements.txt (pysaml2, signxml, lxml and their dependencies)
#   3. idp/node: `npm ci` from the committed lock file (samlify, oidc-provider, puppeteer-core,
#      jose); PUPPETEER_SKIP_DOWNLOAD=1: puppeteer-core uses Debian's /usr/bin/chromium.
# Env: IDP_INSTALL_SKIP_APT=1 skips step 1 (when a caller has installed the packages itself).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export DEBIAN_FRONTEND=noninteractive
export PUPPETEER_SKIP_DOWNLOAD=1 PUPPETEER_SKIP_CHROMIUM_DOWNLOAD=1 PUPPETEER_SKIP_CHROME_DOWNLOAD=1
t0=$(date +%s)
say() { echo "idp/install.sh: $*"; }

# 1. Debian packages (simplesamlphp does not declare php-xml/php-mbstring, which it needs).
pkgs=(xmlsec1 simplesamlphp php-cli php-xml php-mbstring python3-venv python3-lxml chromium)
missing=()
for p in "${pkgs[@]}"; do
  if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then missing+=("$p"); fi
done
if [ "${IDP_INSTALL_SKIP_APT:-0}" != 1 ] && [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  say "apt-get install ${missing[*]}"
  $sudo apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null
  $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
for b in xmlsec1 php chromium; do
  command -v "$b" >/dev/null || { say "missing $b after install"; exit 1; }
done

# 2. Python venv (Debian's python3, so python3-venv provides ensurepip).
req_hash=$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)
if [ ! -x "$here/.venv/bin/python" ] || [ "$(cat "$here/.venv/.installed" 2>/dev/null)" != "$req_hash" ]; then
  say "python venv idp/.venv"
  py=/usr/bin/python3; [ -x "$py" ] || py=python3
  [ -x "$here/.venv/bin/python" ] || "$py" -m venv "$here/.venv"
  "$here/.venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"
  echo "$req_hash" > "$here/.venv/.installed"
fi

# 3. Node packages from the lock file.
lock_hash=$(sha256sum "$here/node/package-lock.json" | cut -d' ' -f1)
if [ ! -d "$here/node/node_modules" ] || [ "$(cat "$here/node/node_modules/.installed" 2>/dev/null)" != "$lock_hash" ]; then
  say "npm ci in idp/node"
  (cd "$here/node" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$lock_hash" > "$here/node/node_modules/.installed"
fi

say "ready in $(( $(date +%s) - t0 ))s (xmlsec1 $(xmlsec1 --version | cut -d' ' -f2), $(php -r 'echo PHP_VERSION;' 2>/dev/null | sed 's/^/php /'), $(chromium --version 2>/dev/null | cut -d' ' -f1-2))"
