#!/usr/bin/env bash
# Fan-out benchmark: starts `accolade serve` on a scratch SQLite database and runs the shared
# side-by-side driver (../shared/bench/run_fanout.sh) against it and the Node reference server.
# Usage: bench/fanout.sh [CLIENTS] [MESSAGES] [ROUNDS]     (defaults 1000 100 3)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
shared=${ACCOLADE_SHARED_BENCH:-$root/../shared/bench}
accolade=${ACCOLADE_BIN:-$root/.venv/bin/accolade}
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ACCOLADE_LOG_LEVEL=warning "$accolade" serve --port "$port" --database-url "sqlite:///$work/bench.db" \
  >"$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q '^eyJ' "$work/serve.log" 2>/dev/null && break; sleep 0.1; done
for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
token=$(grep -m1 '^eyJ' "$work/serve.log")
bash "$shared/run_fanout.sh" "http://127.0.0.1:$port" "$token" "${1:-1000}" "${2:-100}" "${3:-3}"
