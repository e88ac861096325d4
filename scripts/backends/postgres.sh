# PostgreSQL (Debian's package): the server the database suites (tests/e2e/db_*.rs) query
# through `godtrace::db::sqlx`.
#
# Sourced by scripts/test (set -euo pipefail, GODTRACE_CACHE and the PIDS and DIRS arrays are set).
# Installs the package when no server binary is found (`apt-get install postgresql`; no system
# service is used), makes a throwaway cluster (initdb, trust authentication: it listens on
# 127.0.0.1 only), starts it on a free port, creates the test database, appends its PID to
# PIDS and exports for the tests:
#   GODTRACE_TEST_DATABASE_URL   postgres://godtrace@127.0.0.1:PORT/godtrace_test
#   GODTRACE_REQUIRE_E2E=1       so that a test missing the server fails instead of skipping
# PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres` user the
# package creates, and the server runs as that user (setpriv execs it, so the PID is the
# server's own).

# shellcheck source=../lib/backend.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/backend.sh"

# postgres_bin_dir: the newest installed server's bin directory, or nothing.
postgres_bin_dir() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    if [ -x "$dir/postgres" ] && [ -x "$dir/initdb" ]; then
      echo "$dir"
    fi
  done | sort -V | tail -n 1
}

postgres_bin="$(postgres_bin_dir)"
if [ -z "$postgres_bin" ]; then
  echo "installing Debian's postgresql package"
  if ! apt_get install --no-install-recommends postgresql; then
    echo "postgres.sh: 'apt-get install postgresql' failed; the database suites need a" >&2
    echo "PostgreSQL server (run as root with the Debian archive reachable)." >&2
    exit 1
  fi
  postgres_bin="$(postgres_bin_dir)"
  if [ -z "$postgres_bin" ]; then
    echo "postgres.sh: the postgresql package left no /usr/lib/postgresql/*/bin/postgres" >&2
    exit 1
  fi
fi

# The prefix that runs a command as the cluster's owner (postgres when we are root); setpriv
# execs the command, so a background job's $! is the server itself.
postgres_as_owner=()
if [ "$(id -u)" -eq 0 ]; then
  if ! id postgres >/dev/null 2>&1; then
    echo "postgres.sh: running as root, but there is no 'postgres' user to run the server as" >&2
    echo "(the postgresql-common package creates it; PostgreSQL refuses to run as root)." >&2
    exit 1
  fi
  postgres_as_owner=(setpriv --reuid=postgres --regid=postgres --init-groups --)
fi

read -r postgres_port < <(free_ports 1)
postgres_dir="$(mktemp -d "${TMPDIR:-/tmp}/godtrace-postgres.XXXXXX")"
DIRS+=("$postgres_dir")
if [ "$(id -u)" -eq 0 ]; then
  chown postgres:postgres "$postgres_dir"
fi
"${postgres_as_owner[@]}" "$postgres_bin/initdb" --pgdata="$postgres_dir/data" --username=godtrace \
  --auth=trust --encoding=UTF8 --no-instructions >"$postgres_dir/initdb.log" 2>&1 || {
  echo "postgres.sh: initdb failed; its log:" >&2
  cat "$postgres_dir/initdb.log" >&2
  exit 1
}
# The socket goes into the throwaway directory too (not /var/run/postgresql); fsync is off
# because the data is thrown away.
"${postgres_as_owner[@]}" "$postgres_bin/postgres" -D "$postgres_dir/data" -h 127.0.0.1 \
  -p "$postgres_port" -k "$postgres_dir" -c fsync=off -c synchronous_commit=off \
  -c full_page_writes=off >"$postgres_dir/postgres.log" 2>&1 &
postgres_pid=$!
PIDS+=("$postgres_pid")

wait_until_ready PostgreSQL "$postgres_pid" 60 "$postgres_dir/postgres.log" \
  "$postgres_bin/pg_isready" -q -h 127.0.0.1 -p "$postgres_port"
"$postgres_bin/createdb" -h 127.0.0.1 -p "$postgres_port" -U godtrace godtrace_test

export GODTRACE_TEST_DATABASE_URL="postgres://godtrace@127.0.0.1:$postgres_port/godtrace_test"
export GODTRACE_REQUIRE_E2E=1
echo "PostgreSQL up: $GODTRACE_TEST_DATABASE_URL (pid $postgres_pid)"
