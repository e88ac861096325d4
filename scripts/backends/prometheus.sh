# Prometheus (Debian's package): scrapes the metrics example for the end-to-end metrics suite
# (tests/e2e/metrics_prometheus_e2e.rs), which queries it with PromQL.
#
# Sourced by scripts/test (set -euo pipefail, GODTRACE_CACHE and the PIDS and DIRS arrays are set).
# Unpacks the package into $GODTRACE_CACHE/prometheus once (no system service is installed),
# starts it on 127.0.0.1 with a free port, exemplar storage on, a throwaway TSDB, and one
# scrape job (every second) for the address the test will serve metrics on; waits until it
# is ready, appends its PID to PIDS and exports for the tests:
#   GODTRACE_PROMETHEUS_URL            Prometheus's base URL (query API at /api/v1/...)
#   GODTRACE_PROMETHEUS_TARGET         the host:port it scrapes; the test serves /metrics there
#   GODTRACE_REQUIRE_E2E=1             so that a test missing the backend fails, not skips
# shellcheck source=../lib/backend.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/backend.sh"

prometheus_root="$GODTRACE_CACHE/prometheus"
prometheus_bin="$prometheus_root/usr/bin/prometheus"

if [ ! -x "$prometheus_bin" ]; then
  echo "unpacking Debian's prometheus package into $prometheus_root"
  prometheus_deb_dir="$(mktemp -d "${TMPDIR:-/tmp}/godtrace-prometheus-deb.XXXXXX")"
  if ! (cd "$prometheus_deb_dir" && apt_get download prometheus); then
    echo "prometheus.sh: 'apt-get download prometheus' failed; the end-to-end metrics suite" >&2
    echo "needs Debian's prometheus package (run as root with the Debian archive reachable)." >&2
    exit 1
  fi
  rm -rf "$prometheus_root"
  dpkg -x "$prometheus_deb_dir"/prometheus_*.deb "$prometheus_root"
  rm -rf "$prometheus_deb_dir"
  if [ ! -x "$prometheus_bin" ]; then
    echo "prometheus.sh: the package has no usr/bin/prometheus" >&2
    exit 1
  fi
fi

# Two distinct free loopback ports: Prometheus's own, and the scrape target's.
read -r prometheus_port prometheus_target_port < <(free_ports 2)

prometheus_dir="$(mktemp -d "${TMPDIR:-/tmp}/godtrace-prometheus.XXXXXX")"
DIRS+=("$prometheus_dir")
cat >"$prometheus_dir/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: godtrace-e2e
    static_configs:
      - targets: ["127.0.0.1:$prometheus_target_port"]
YAML
"$prometheus_bin" \
  --config.file="$prometheus_dir/prometheus.yml" \
  --web.listen-address="127.0.0.1:$prometheus_port" \
  --storage.tsdb.path="$prometheus_dir/data" \
  --enable-feature=exemplar-storage \
  >"$prometheus_dir/prometheus.log" 2>&1 &
prometheus_pid=$!
PIDS+=("$prometheus_pid")

wait_until_ready Prometheus "$prometheus_pid" 60 "$prometheus_dir/prometheus.log" \
  curl -sf "http://127.0.0.1:$prometheus_port/-/ready"

export GODTRACE_PROMETHEUS_URL="http://127.0.0.1:$prometheus_port"
export GODTRACE_PROMETHEUS_TARGET="127.0.0.1:$prometheus_target_port"
export GODTRACE_REQUIRE_E2E=1
echo "Prometheus up: $GODTRACE_PROMETHEUS_URL, scraping $GODTRACE_PROMETHEUS_TARGET (pid $prometheus_pid)"
