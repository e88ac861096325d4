# Arize Phoenix: a real OTLP backend (gRPC and HTTP/protobuf) with a query API, for the
# end-to-end suites (tests/e2e_*.rs) and the fault tests that need a real backend.
#
# Sourced by scripts/test (set -euo pipefail, GODTRACE_CACHE and the PIDS and DIRS arrays are set).
# Installs Phoenix into a venv under $GODTRACE_CACHE once, then starts three of them at once on
# 127.0.0.1 with free ports and throwaway data directories: plaintext, TLS, and TLS requiring
# a client certificate (mTLS), with a PKI made now by openssl (scripts/lib/tls.sh). Waits until
# all three answer, appends their PIDs to PIDS and exports for the tests:
#   GODTRACE_PHOENIX_HTTP   base URL (OTLP/HTTP at /v1/traces, query API at /v1/projects/...)
#   GODTRACE_PHOENIX_GRPC   OTLP/gRPC endpoint
#   GODTRACE_PHOENIX_TLS_HTTP / _TLS_GRPC    the TLS Phoenix (https://127.0.0.1:PORT)
#   GODTRACE_PHOENIX_MTLS_HTTP / _MTLS_GRPC  the mTLS Phoenix (https://localhost:PORT; its
#                           certificate names localhost only)
#   GODTRACE_TLS_DIR        the PKI (ca.crt, client.crt, client.key, other-ca.crt, ...)
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

# shellcheck source=../lib/backend.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/backend.sh"
# shellcheck source=../lib/tls.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/tls.sh"

# phoenix_start NAME HTTP_PORT GRPC_PORT [VAR=VALUE...]: starts one Phoenix in the background
# with the extra environment given; sets phoenix_pid and phoenix_log.
phoenix_start() {
  local name=$1 http_port=$2 grpc_port=$3
  shift 3
  local dir
  dir="$(mktemp -d "${TMPDIR:-/tmp}/godtrace-phoenix-$name.XXXXXX")"
  DIRS+=("$dir")
  phoenix_log="$dir/phoenix.log"
  env PHOENIX_WORKING_DIR="$dir" PHOENIX_HOST=127.0.0.1 \
    PHOENIX_PORT="$http_port" PHOENIX_GRPC_PORT="$grpc_port" \
    PHOENIX_TELEMETRY_ENABLED=false PHOENIX_ALLOW_EXTERNAL_RESOURCES=false "$@" \
    "$phoenix_venv/bin/phoenix" serve >"$phoenix_log" 2>&1 &
  phoenix_pid=$!
  PIDS+=("$phoenix_pid")
}

read -r phoenix_http_port phoenix_grpc_port tls_http_port tls_grpc_port \
  mtls_http_port mtls_grpc_port < <(free_ports 6)
tls_dir="$(mktemp -d "${TMPDIR:-/tmp}/godtrace-pki.XXXXXX")"
DIRS+=("$tls_dir")
make_test_pki "$tls_dir"

phoenix_start plain "$phoenix_http_port" "$phoenix_grpc_port"
plain_pid=$phoenix_pid plain_log=$phoenix_log
phoenix_start tls "$tls_http_port" "$tls_grpc_port" PHOENIX_TLS_ENABLED=true \
  PHOENIX_TLS_CERT_FILE="$tls_dir/server.crt" PHOENIX_TLS_KEY_FILE="$tls_dir/server.key"
tls_pid=$phoenix_pid tls_log=$phoenix_log
phoenix_start mtls "$mtls_http_port" "$mtls_grpc_port" PHOENIX_TLS_ENABLED=true \
  PHOENIX_TLS_CERT_FILE="$tls_dir/local.crt" PHOENIX_TLS_KEY_FILE="$tls_dir/local.key" \
  PHOENIX_TLS_CA_FILE="$tls_dir/ca.crt" PHOENIX_TLS_VERIFY_CLIENT=true
mtls_pid=$phoenix_pid mtls_log=$phoenix_log

# A TLS Phoenix takes 25-35 s to answer on two CPUs: the three start together.
wait_until_ready Phoenix "$plain_pid" 120 "$plain_log" \
  curl -sf "http://127.0.0.1:$phoenix_http_port/healthz"
wait_until_ready "Phoenix (TLS)" "$tls_pid" 180 "$tls_log" \
  curl -sf --cacert "$tls_dir/ca.crt" "https://127.0.0.1:$tls_http_port/healthz"
wait_until_ready "Phoenix (mTLS)" "$mtls_pid" 180 "$mtls_log" \
  curl -sf --cacert "$tls_dir/ca.crt" --cert "$tls_dir/client.crt" --key "$tls_dir/client.key" \
  "https://localhost:$mtls_http_port/healthz"

export GODTRACE_PHOENIX_HTTP="http://127.0.0.1:$phoenix_http_port"
export GODTRACE_PHOENIX_GRPC="http://127.0.0.1:$phoenix_grpc_port"
export GODTRACE_PHOENIX_TLS_HTTP="https://127.0.0.1:$tls_http_port"
export GODTRACE_PHOENIX_TLS_GRPC="https://127.0.0.1:$tls_grpc_port"
export GODTRACE_PHOENIX_MTLS_HTTP="https://localhost:$mtls_http_port"
export GODTRACE_PHOENIX_MTLS_GRPC="https://localhost:$mtls_grpc_port"
export GODTRACE_TLS_DIR="$tls_dir"
export GODTRACE_PHOENIX_VENV="$phoenix_venv"
export GODTRACE_REQUIRE_E2E=1
echo "Phoenix $phoenix_version up: http $GODTRACE_PHOENIX_HTTP, grpc $GODTRACE_PHOENIX_GRPC" \
  "(pid $plain_pid); TLS $GODTRACE_PHOENIX_TLS_HTTP, $GODTRACE_PHOENIX_TLS_GRPC (pid $tls_pid);" \
  "mTLS $GODTRACE_PHOENIX_MTLS_HTTP, $GODTRACE_PHOENIX_MTLS_GRPC (pid $mtls_pid)"
