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

# apt_get ARG...: `apt-get -y ARG...` without questions. A fresh machine has no package lists
# yet: they are fetched first. Lists gone stale (the mirror no longer has the version they
# name) make the command fail: they are fetched again and the command retried once, with its
# output shown this time. Returns apt-get's status.
apt_get() {
  if ! compgen -G "/var/lib/apt/lists/*_Packages*" >/dev/null; then
    apt-get update -qq || true
  fi
  if DEBIAN_FRONTEND=noninteractive apt-get -y -q "$@" >/dev/null 2>&1; then
    return 0
  fi
  apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get -y -q "$@"
}

# wait_until_ready NAME PID SECONDS LOG CHECK...
# Runs the command CHECK... (output discarded) every 0.2 s until it succeeds; fails (exit 1,
# with the server's log LOG) if the process PID exits or SECONDS pass first.
wait_until_ready() {
  local name=$1 pid=$2 limit=$3 log=$4
  shift 4
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$name exited while starting; its log:" >&2
      cat "$log" >&2
      exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "$name was not ready within $limit s (checked with: $*); its log:" >&2
      tail -n 50 "$log" >&2
      exit 1
    fi
    sleep 0.2
  done
}
