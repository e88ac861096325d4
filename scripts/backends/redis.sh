# Redis (Debian's redis-server package): the server the cache suites (tests/e2e/db_*.rs) talk
# to through `godtrace::db::redis`.
#
# Sourced by scripts/test (set -euo pipefail, GODTRACE_CACHE and the PIDS and DIRS arrays are set).
# Installs the package when redis-server is missing (`apt-get install redis-server`; no
# system service is used), starts one server on 127.0.0.1 with a free port and no
# persistence, appends its PID to PIDS and exports for the tests:
#   GODTRACE_TEST_REDIS_URL   redis://127.0.0.1:PORT/
#   GODTRACE_REDIS_SERVER     the redis-server binary, for a test that starts (and stops) a
#                             server of its own
#   GODTRACE_REQUIRE_E2E=1    so that a test missing the server fails instead of skipping
# shellcheck source=../lib/backend.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/backend.sh"

if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  echo "installing Debian's redis-server package"
  if ! apt_get install --no-install-recommends redis-server; then
    echo "redis.sh: 'apt-get install redis-server' failed; the cache suites need a Redis" >&2
    echo "server (run as root with the Debian archive reachable)." >&2
    exit 1
  fi
fi

read -r redis_port < <(free_ports 1)
redis_dir="$(mktemp -d "${TMPDIR:-/tmp}/godtrace-redis.XXXXXX")"
DIRS+=("$redis_dir")
# No RDB snapshots, no append-only file: nothing outlives the run.
redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$redis_dir" --save "" \
  --appendonly no --daemonize no --logfile "$redis_dir/redis.log" >/dev/null 2>&1 &
redis_pid=$!
PIDS+=("$redis_pid")

# redis_answers_ping PORT: whether the server on PORT is up (PONG, not an error such as LOADING).
redis_answers_ping() {
  [ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = "PONG" ]
}
wait_until_ready Redis "$redis_pid" 30 "$redis_dir/redis.log" redis_answers_ping "$redis_port"

export GODTRACE_TEST_REDIS_URL="redis://127.0.0.1:$redis_port/"
GODTRACE_REDIS_SERVER="$(command -v redis-server)"
export GODTRACE_REDIS_SERVER
export GODTRACE_REQUIRE_E2E=1
echo "Redis up: $GODTRACE_TEST_REDIS_URL (pid $redis_pid)"
