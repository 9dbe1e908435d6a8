#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server (a new cluster in a temporary directory, owned by an
# unprivileged user, on a free loopback port), exports its URL as SSO_TEST_POSTGRES_URL,
# runs the given command, and stops and removes the server on exit.
#
#   scripts/with-postgres.sh cargo test --workspace
#   scripts/with-postgres.sh cargo test -p enterprise-sso-postgres
#
# Also exported: SSO_TEST_POSTGRES_RESTART, a shell command that restarts the server with
# `pg_ctl restart -m immediate` (used by the fault tests).
set -euo pipefail

bindir="$(pg_config --bindir 2>/dev/null || true)"
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
fi
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "with-postgres: installing the Debian package postgresql" >&2
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    bindir="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
  else
    echo "with-postgres: no PostgreSQL server binaries (install the Debian package postgresql)" >&2
    exit 1
  fi
fi

# PostgreSQL refuses to run as root: use an unprivileged user.
as_user=()
if [ "$(id -u)" = 0 ]; then
  user=postgres
  if ! id "$user" >/dev/null 2>&1; then
    user=ssotest
    id "$user" >/dev/null 2>&1 || useradd --system --no-create-home "$user"
  fi
  as_user=(runuser -u "$user" --)
fi

dir="$(mktemp -d /tmp/sso-pg.XXXXXX)"
chmod 755 "$dir"
[ ${#as_user[@]} -gt 0 ] && chown "$user" "$dir"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo $((20000 + RANDOM % 20000)))"

cleanup() {
  "${as_user[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

"${as_user[@]}" "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync -E UTF8 >/dev/null
cat >> "$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 300
fsync = on
CONF
# A password user for the wrong-password test; everything else is trust on loopback.
"${as_user[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null
"${as_user[@]}" "$bindir/psql" -h "$dir" -p "$port" -U postgres -qAt \
  -c "CREATE ROLE sso_pw LOGIN PASSWORD 'right-password'" -c "CREATE DATABASE sso_test" >/dev/null
cat > "$dir/data/pg_hba.conf" <<HBA
local all all trust
host all sso_pw 127.0.0.1/32 scram-sha-256
host all all 127.0.0.1/32 trust
HBA
"${as_user[@]}" "$bindir/pg_ctl" -D "$dir/data" reload >/dev/null

export SSO_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/sso_test"
restart="${as_user[*]} $bindir/pg_ctl -D $dir/data -l $dir/server.log -m immediate -w -t 60 restart"
export SSO_TEST_POSTGRES_RESTART="$restart"
echo "with-postgres: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (SSO_TEST_POSTGRES_URL)" >&2
"$@"
