# The `prometheus_client` Python package: its parsers of the Prometheus text format and of
# OpenMetrics are the reference the exposition tests (godtrace-runtime's
# metrics::prometheus::render tests) check godtrace's output against. Nothing is started.
#
# Sourced by scripts/test (set -euo pipefail, GODTRACE_CACHE is set). Installs the package into
# a venv under $GODTRACE_CACHE once and exports for the tests:
#   GODTRACE_PROMETHEUS_CLIENT_PYTHON   a python that can import prometheus_client
prometheus_client_version=0.26.0
prometheus_client_venv="$GODTRACE_CACHE/prometheus-client-venv"
prometheus_client_marker="$prometheus_client_venv/.godtrace-installed-$prometheus_client_version"

if [ ! -e "$prometheus_client_marker" ]; then
  echo "installing prometheus-client==$prometheus_client_version into $prometheus_client_venv"
  rm -rf "$prometheus_client_venv"
  python3 -m venv "$prometheus_client_venv"
  "$prometheus_client_venv/bin/pip" install --quiet --disable-pip-version-check \
    "prometheus-client==$prometheus_client_version"
  touch "$prometheus_client_marker"
fi

export GODTRACE_PROMETHEUS_CLIENT_PYTHON="$prometheus_client_venv/bin/python"
echo "prometheus_client $prometheus_client_version: $GODTRACE_PROMETHEUS_CLIENT_PYTHON"
