#!/usr/bin/env bash
# Runs the README's curl session against a fresh server, so README and server cannot diverge.
#
# The session is read from README.md itself, between `<!-- curl-session:start -->` and
# `<!-- curl-session:end -->`. Every `# → STATUS field=value …` line in it is a check of the
# answer to the curl call just before it: the status code, and each named field (a dotted
# path into the JSON body, `data.0.name`) present, and equal to the JSON value when one is
# given. Every curl call must be followed by such a line.
#
# The server is `enterprise-sso-server` on a free loopback port with a SQLite store in a
# temporary directory, stopped on exit. SERVER_BIN names a built binary; without it the
# script builds one with cargo (CARGO_TARGET_DIR is honoured). Needs bash, curl, python3.
# Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in curl python3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "readme-session: $tool is required" >&2; exit 1; }
done

work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# The session block, without its code fence.
awk '/<!-- curl-session:start -->/ {on = 1; next} /<!-- curl-session:end -->/ {on = 0} on' README.md |
  grep -v '^```' > "$work/block.sh" || true
if [ ! -s "$work/block.sh" ]; then
  echo "readme-session: no curl session between the curl-session markers in README.md" >&2
  exit 1
fi
key=$(grep -o 'Bearer [^"]*' "$work/block.sh" | head -n1 | cut -d' ' -f2)
readme_base=$(grep -o '^SSO=[^ ]*' "$work/block.sh" | head -n1 | cut -d= -f2-)
if [ -z "$key" ] || [ -z "$readme_base" ]; then
  echo "readme-session: the session must set SSO=<base URL> and send 'Authorization: Bearer <key>'" >&2
  exit 1
fi

if [ -z "${SERVER_BIN:-}" ]; then
  cargo build --quiet -p enterprise-sso-http --bin enterprise-sso-server
  target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
  SERVER_BIN="$target_dir/debug/enterprise-sso-server"
fi
[ -x "$SERVER_BIN" ] || { echo "readme-session: no server binary at $SERVER_BIN" >&2; exit 1; }

ENTERPRISE_SSO_API_KEYS="$key" ENTERPRISE_SSO_KEYRING="" RUST_LOG=warn \
  "$SERVER_BIN" --listen 127.0.0.1:0 --store "sqlite:$work/sso.db" \
  >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
base=""
for _ in $(seq 1 300); do
  base=$(grep -o 'http://[0-9.:]*' "$work/server.out" 2>/dev/null | head -n1 || true)
  [ -n "$base" ] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$base" ]; then
  echo "readme-session: the server did not start; its stderr:" >&2
  cat "$work/server.err" >&2
  exit 1
fi
echo "readme-session: server on $base (SQLite in $work)"

cat >"$work/check.py" <<'PY'
"""Checks one answer against a `# → STATUS field[=json] …` line of the README session."""
import json
import re
import sys

spec, status_file, body_file = sys.argv[1:4]
status = open(status_file).read().strip()
body_text = open(body_file).read()
want_status, _, rest = spec.strip().partition(" ")
problems = []
if status != want_status:
    problems.append(f"status {status}, expected {want_status}")
try:
    body = json.loads(body_text)
except ValueError:
    body = None
    problems.append("the body is not JSON")
token = re.compile(r'\s*([A-Za-z0-9_.]+)(?:=("(?:[^"\\]|\\.)*"|\[[^\]]*\]|\{[^}]*\}|\S+))?')
pos = 0
rest = rest.strip()
while body is not None and pos < len(rest):
    m = token.match(rest, pos)
    if not m or m.end() == pos:
        problems.append(f"cannot read the check at {rest[pos:]!r}")
        break
    pos = m.end()
    path, raw = m.group(1), m.group(2)
    value, found = body, True
    for part in path.split("."):
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            found = False
            break
    if not found:
        problems.append(f"{path}: missing")
    elif raw is not None and value != json.loads(raw):
        problems.append(f"{path}: {json.dumps(value)}, expected {raw}")
if problems:
    print(f"readme-session: FAILED `# → {spec}`", file=sys.stderr)
    for p in problems:
        print(f"  {p}", file=sys.stderr)
    print(f"  body: {body_text[:2000]}", file=sys.stderr)
    sys.exit(1)
print(f"readme-session: ok     # → {spec}", file=sys.stderr)
PY

# The README's commands, run with `curl` recording each answer and each `# →` line checking it.
{
  cat <<EOF
__work='$work'
: >"\$__work/calls"
: >"\$__work/checked"
curl() {
  command curl "\$@" -o "\$__work/body" -w '%{http_code}' >"\$__work/status" || return \$?
  echo call >>"\$__work/calls"
  cat "\$__work/body"
}
__expect() {
  if [ "\$(wc -l <"\$__work/calls")" -ne "\$(( \$(wc -l <"\$__work/checked") + 1 ))" ]; then
    echo "readme-session: \\\`# → \$1\\\` does not follow exactly one curl call" >&2
    exit 1
  fi
  echo checked >>"\$__work/checked"
  python3 "\$__work/check.py" "\$1" "\$__work/status" "\$__work/body"
}
EOF
  python3 - "$work/block.sh" "$readme_base" "$base" <<'PY'
import sys
path, readme_base, base = sys.argv[1:4]
for line in open(path):
    line = line.rstrip("\n").replace(readme_base, base)
    stripped = line.strip()
    if stripped.startswith("# →"):
        spec = stripped[len("# →"):].strip().replace("'", "'\\''")
        print(f"__expect '{spec}'")
    else:
        print(line)
PY
} >"$work/session.sh"

echo "readme-session: running the README's curl session"
if ! bash -eu "$work/session.sh" >"$work/session.out"; then
  echo "readme-session: the session failed; what it printed:" >&2
  cat "$work/session.out" >&2
  exit 1
fi
calls=$(wc -l <"$work/calls")
checked=$(wc -l <"$work/checked")
if [ "$calls" -eq 0 ] || [ "$calls" -ne "$checked" ]; then
  echo "readme-session: $calls curl calls, $checked checked: every call needs a \`# →\` line" >&2
  exit 1
fi
if ! kill -0 "$server_pid" 2>/dev/null; then
  echo "readme-session: the server exited during the session; its stderr:" >&2
  cat "$work/server.err" >&2
  exit 1
fi
echo "readme-session: $checked answers as the README says"
