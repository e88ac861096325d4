# Helpers for the backend scripts (sourced by them).

# free_ports N: prints N distinct free loopback ports, chosen by the kernel.
free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
for s in socks:
    s.close()
PY
}

# wait_ready NAME PID URL LOG SECONDS [CURL_OPTION...]
# Polls URL until it answers (curl with the given options, e.g. --cacert for HTTPS); fails
# (exit 1, with the server's log) if the process PID exits or SECONDS pass first.
wait_ready() {
  local name=$1 pid=$2 url=$3 log=$4 limit=$5
  shift 5
  local deadline=$((SECONDS + limit))
  until curl -sf "$@" "$url" >/dev/null 2>&1; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$name exited while starting; its log:" >&2
      cat "$log" >&2
      exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "$name did not answer $url within $limit s; its log:" >&2
      tail -n 50 "$log" >&2
      exit 1
    fi
    sleep 0.2
  done
}
