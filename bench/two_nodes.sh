#!/usr/bin/env bash
# Two-node fan-out: two `accolade serve` nodes on one PostgreSQL database, fanning out through a
# private Redis (a redis-server started here on a free port, so that the machine's shared Redis
# and its other users stay out of the measurement; REDIS_URL to use another). CLIENTS official
# socket.io-client members are split evenly over the two nodes; the broadcast is posted to node A
# (bench/two_nodes_driver.js), so node B's members get every event from Redis.
# Needs PostgreSQL: ACCOLADE_BENCH_DATABASE_SERVER (default postgresql://postgres@127.0.0.1:5432/postgres);
# a scratch database is created and dropped.
# Usage: bench/two_nodes.sh [CLIENTS] [MESSAGES] [ROUNDS]     (defaults 1000 100 3)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
accolade=${ACCOLADE_BIN:-$root/.venv/bin/accolade}
clients=${1:-1000} messages=${2:-100} rounds=${3:-3}
pg_server=${ACCOLADE_BENCH_DATABASE_SERVER:-postgresql://postgres@127.0.0.1:5432/postgres}
ulimit -n "$(ulimit -Hn)"
cache=${ACCOLADE_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/accolade-fanout-bench}
mkdir -p "$cache"
if [ ! -d "$cache/node_modules/socket.io-client" ]; then
  (cd "$cache" && npm init -y >/dev/null 2>&1 && npm install --silent socket.io@4.8 socket.io-client@4.8 >/dev/null)
fi
export NODE_PATH=$cache/node_modules
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 300); do (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done; echo "port $1 did not open" >&2; exit 1; }

work=$(mktemp -d)
pids=()
db="accolade_bench_$$"
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  psql "$pg_server" -q -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
if [ -z "${REDIS_URL:-}" ]; then
  redis_port=$(free_port)
  redis-server --port "$redis_port" --save '' --appendonly no --dir "$work" >"$work/redis.log" 2>&1 &
  pids+=($!)
  wait_port "$redis_port"
  REDIS_URL="redis://127.0.0.1:$redis_port/0"
fi
psql "$pg_server" -q -c "CREATE DATABASE $db" >/dev/null
database_url="${pg_server%/*}/$db"
secret="two-nodes-bench-secret-$(date +%s%N)"
port_a=$(free_port) port_b=$(free_port)
"$accolade" migrate --database-url "$database_url" >/dev/null
for node in a b; do
  port=$([ "$node" = a ] && echo "$port_a" || echo "$port_b")
  ACCOLADE_LOG_LEVEL=warning ACCOLADE_JWT_SECRET=$secret "$accolade" serve --port "$port" \
    --database-url "$database_url" --redis-url "$REDIS_URL" >"$work/node-$node.log" 2>&1 &
  pids+=($!)
done
wait_port "$port_a"; wait_port "$port_b"
token=$(ACCOLADE_JWT_SECRET=$secret "$accolade" token --sub bench --role admin --database-url "$database_url")
echo "{\"clients\":$clients,\"messages\":$messages,\"load_average\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}"
results=$work/results
for r in $(seq "$rounds"); do
  node "$here/two_nodes_driver.js" --urls "http://127.0.0.1:$port_a,http://127.0.0.1:$port_b" \
    --token "$token" --clients "$clients" --messages "$messages" | tee -a "$results"
done
python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(json.dumps({"median_delivered_per_s": statistics.median(r.get("delivered_per_s", 0) for r in rows),
                  "median_p50_ms": statistics.median(r["latency_ms"]["p50"] or 0 for r in rows),
                  "median_p99_ms": statistics.median(r["latency_ms"]["p99"] or 0 for r in rows),
                  "load_average_after": open("/proc/loadavg").read().split()[:3]}))
PY
