# Arize Phoenix: a real OTLP backend (gRPC and HTTP/protobuf) with a query API, for the
# end-to-end suites (tests/e2e_*.rs) and the fault tests that need a real backend.
#
# Sourced by scripts/test (set -euo pipefail, GODTRACE_CACHE and the PIDS array are set).
# Installs Phoenix into a venv under $GODTRACE_CACHE once, starts it on 127.0.0.1 with free
# ports and a throwaway data directory, waits until it answers, appends its PID to PIDS and
# exports for the tests:
#   GODTRACE_PHOENIX_HTTP   base URL (OTLP/HTTP at /v1/traces, query API at /v1/projects/...)
#   GODTRACE_PHOENIX_GRPC   OTLP/gRPC endpoint
#   GODTRACE_PHOENIX_VENV   the venv, for tests that start a Phoenix of their own
#   GODTRACE_REQUIRE_E2E=1  so that a test missing the backend fails instead of skipping
phoenix_version=20.26.1
phoenix_venv="$GODTRACE_CACHE/phoenix-venv"
phoenix_marker="$phoenix_venv/.godtrace-installed-$phoenix_version"

if [ ! -e "$phoenix_marker" ]; then
  echo "installing arize-phoenix==$phoenix_version into $phoenix_venv (about a minute)"
  rm -rf "$phoenix_venv"
  python3 -m venv "$phoenix_venv"
  "$phoenix_venv/bin/pip" install --quiet --disable-pip-version-check \
    "arize-phoenix==$phoenix_version"
  touch "$phoenix_marker"
fi

# Two distinct free loopback ports, chosen by the kernel.
# shellcheck source=../lib/backend.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/backend.sh"
read -r phoenix_http_port phoenix_grpc_port < <(free_ports 2)

phoenix_dir="$(mktemp -d "${TMPDIR:-/tmp}/godtrace-phoenix.XXXXXX")"
PHOENIX_WORKING_DIR="$phoenix_dir" PHOENIX_HOST=127.0.0.1 \
  PHOENIX_PORT="$phoenix_http_port" PHOENIX_GRPC_PORT="$phoenix_grpc_port" \
  PHOENIX_TELEMETRY_ENABLED=false PHOENIX_ALLOW_EXTERNAL_RESOURCES=false \
  "$phoenix_venv/bin/phoenix" serve >"$phoenix_dir/phoenix.log" 2>&1 &
phoenix_pid=$!
PIDS+=("$phoenix_pid")

wait_ready Phoenix "$phoenix_pid" "http://127.0.0.1:$phoenix_http_port/healthz" "$phoenix_dir/phoenix.log" 120

export GODTRACE_PHOENIX_HTTP="http://127.0.0.1:$phoenix_http_port"
export GODTRACE_PHOENIX_GRPC="http://127.0.0.1:$phoenix_grpc_port"
export GODTRACE_PHOENIX_VENV="$phoenix_venv"
export GODTRACE_REQUIRE_E2E=1
echo "Phoenix $phoenix_version up: http $GODTRACE_PHOENIX_HTTP, grpc $GODTRACE_PHOENIX_GRPC (pid $phoenix_pid)"
