#!/usr/bin/env bash
# Memory per idle, joined Socket.IO connection, Accolade against the Node socket.io 4.8 reference
# (../shared/bench/socketio_reference_server.js), both on this machine.
# Starts `accolade serve` (scratch SQLite database) and the reference; for each side and count,
# holds N idle connections (official socket.io-client, websocket transport, each joined to
# tv-display on /leaderboard: bench/memory_hold.js, which opens them 200 at a time), waits until
# ALL have joined, settles, and reads the server's resident memory (VmRSS) before and while held.
# Usage: bench/memory.sh [CONNECTIONS...]     (default: 3000 10000)
# Prints one JSON line per side and count, then a summary line per count.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
shared=${ACCOLADE_SHARED_BENCH:-$root/../shared/bench}
accolade=${ACCOLADE_BIN:-$root/.venv/bin/accolade}
counts=${*:-3000 10000}
settle_s=${SETTLE_S:-3}
# Every connection is a file descriptor in the server and in the client process.
ulimit -n "$(ulimit -Hn)"
cache=${ACCOLADE_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/accolade-fanout-bench}
mkdir -p "$cache"
if [ ! -d "$cache/node_modules/socket.io" ] || [ ! -d "$cache/node_modules/socket.io-client" ]; then
  (cd "$cache" && npm init -y >/dev/null 2>&1 && npm install --silent socket.io@4.8 socket.io-client@4.8 >/dev/null)
fi
export NODE_PATH=$cache/node_modules
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

work=$(mktemp -d)
acc_pid= ref_pid= hold_pid=
trap 'kill $acc_pid $ref_pid $hold_pid 2>/dev/null || true; rm -rf "$work"' EXIT
start_servers() { # fresh processes for each count: memory freed by a previous run is not reused
  acc_port=$(free_port) ref_port=$(free_port)
  rm -f "$work"/bench.db* "$work/serve.log"
  ACCOLADE_LOG_LEVEL=warning "$accolade" serve --port "$acc_port" --database-url "sqlite:///$work/bench.db" \
    >"$work/serve.log" 2>&1 &
  acc_pid=$!
  node "$shared/socketio_reference_server.js" "$ref_port" >/dev/null 2>&1 &
  ref_pid=$!
  for _ in $(seq 100); do grep -q '^eyJ' "$work/serve.log" 2>/dev/null && break; sleep 0.1; done
  wait_port "$acc_port"; wait_port "$ref_port"
  token=$(grep -m1 '^eyJ' "$work/serve.log")
  sleep 1
}
stop_servers() { kill "$acc_pid" "$ref_pid" 2>/dev/null || true; wait "$acc_pid" "$ref_pid" 2>/dev/null || true; acc_pid= ref_pid=; }

measure() { # side url pid n [token]
  local side=$1 url=$2 pid=$3 n=$4 token=${5:-} before after joined=no t0
  before=$(rss_kb "$pid")
  local log="$work/hold.$side.$n.log"
  : >"$log"  # created here, not by the background job: no stale line can be read
  node "$here/memory_hold.js" "$url" "$n" $token >>"$log" 2>&1 &
  hold_pid=$!
  t0=$(date +%s)
  for _ in $(seq 3000); do
    grep -q "^joined $n\$" "$log" 2>/dev/null && { joined=yes; break; }
    kill -0 "$hold_pid" 2>/dev/null || break
    sleep 0.1
  done
  local join_s=$(( $(date +%s) - t0 ))
  sleep "$settle_s"
  after=$(rss_kb "$pid")
  kill "$hold_pid" 2>/dev/null || true
  wait "$hold_pid" 2>/dev/null || true
  hold_pid=
  echo "{\"side\":\"$side\",\"connections\":$n,\"all_joined\":\"$joined\",\"join_s\":$join_s,\"rss_before_kb\":$before,\"rss_held_kb\":$after,\"bytes_per_conn\":$(( (after - before) * 1024 / n )),\"load_average\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}"
}

echo "{\"ulimit_n\":$(ulimit -n),\"load_average\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}"
for n in $counts; do
  start_servers
  ref=$(measure reference "http://127.0.0.1:$ref_port" "$ref_pid" "$n")
  echo "$ref"
  acc=$(measure accolade "http://127.0.0.1:$acc_port" "$acc_pid" "$n" "$token")
  echo "$acc"
  python3 - "$ref" "$acc" <<'PY'
import json, sys
ref, acc = (json.loads(a) for a in sys.argv[1:3])
r, a = ref["bytes_per_conn"], acc["bytes_per_conn"]
print(json.dumps({"connections": acc["connections"], "bytes_per_conn": {"reference": r, "accolade": a},
                  "ratio_accolade_over_reference": round(a / r, 3) if r > 0 else None}))
PY
  stop_servers
done
