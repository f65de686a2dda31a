#!/usr/bin/env bash
# Stalled readers: does a room's delivery rate hold when some members stop reading, and are they
# cut off with bounded server memory? Starts `accolade serve` (scratch SQLite database, write
# buffer limit ACCOLADE_WS_WRITE_BUFFER_BYTES, default here 65536 so that a short run reaches it),
# then alternates rounds of the shared fan-out driver (../shared/bench/fanout_driver.js: CLIENTS
# official socket.io-client members of tv-display, MESSAGES events in one broadcast) without and
# with STALLED extra members that never read (bench/stalled_clients.py). Before each run with
# them, a batch of large events fills their pipes (kernel socket buffers take up to 4 MB here;
# the fast path's limit applies to what the server itself holds), so they are cut during the run.
# Usage: bench/stalled.sh [CLIENTS] [MESSAGES] [STALLED] [ROUNDS]     (defaults 1000 100 20 3)
# Prints a JSON line per run and a summary: median rates, their ratio (with / without stalled
# members), how the stalled members ended (cut = closed by the server with 1013) and server RSS.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
shared=${ACCOLADE_SHARED_BENCH:-$root/../shared/bench}
accolade=${ACCOLADE_BIN:-$root/.venv/bin/accolade}
python=${ACCOLADE_PYTHON:-$root/.venv/bin/python}
clients=${1:-1000} messages=${2:-100} stalled=${3:-20} rounds=${4:-3}
primer=${PRIMER_EVENTS:-400}  # 12 KB events sent to the stalled members before each measured run
export ACCOLADE_WS_WRITE_BUFFER_BYTES=${ACCOLADE_WS_WRITE_BUFFER_BYTES:-65536}
ulimit -n "$(ulimit -Hn)"
cache=${ACCOLADE_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/accolade-fanout-bench}
mkdir -p "$cache"
if [ ! -d "$cache/node_modules/socket.io-client" ]; then
  (cd "$cache" && npm init -y >/dev/null 2>&1 && npm install --silent socket.io@4.8 socket.io-client@4.8 >/dev/null)
fi
export NODE_PATH=$cache/node_modules
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ACCOLADE_LOG_LEVEL=warning "$accolade" serve --port "$port" --database-url "sqlite:///$work/bench.db" \
  >"$work/serve.log" 2>&1 &
server=$!
holder=
trap 'kill $server $holder 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q '^eyJ' "$work/serve.log" 2>/dev/null && break; sleep 0.1; done
for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
token=$(grep -m1 '^eyJ' "$work/serve.log")
url="http://127.0.0.1:$port"
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$server/status"; }
run() { node "$shared/fanout_driver.js" --url "$url" --token "$token" --clients "$clients" --messages "$messages" --timeout 300; }
results=$work/results
echo "{\"limit_bytes\":$ACCOLADE_WS_WRITE_BUFFER_BYTES,\"load_average\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}"
for r in $(seq "$rounds"); do
  run | sed "s/^{/{\"side\":\"without\",\"rss_kb\":$(rss_kb),/" | tee -a "$results"
  "$python" "$here/stalled_clients.py" "$url" "$stalled" >"$work/stalled.log" 2>&1 &
  holder=$!
  for _ in $(seq 600); do grep -q '^ready' "$work/stalled.log" && break; sleep 0.1; done
  before=$(rss_kb)
  # Fill the stalled members' pipes: one relay batch of large events (the kernel takes up to its
  # socket buffer, the rest stays in the server's transport), so the next event cuts them off.
  curl -sf -o /dev/null -X POST "$url/api/admin/broadcast" -H "authorization: Bearer $token" \
    -H 'content-type: application/json' \
    -d "{\"namespace\":\"/leaderboard\",\"room\":\"tv-display\",\"event\":\"achievement:celebration\",\"repeat\":$primer,\"data\":{\"pad\":\"$(head -c 12000 /dev/zero | tr '\0' x)\"}}"
  sleep 2
  line=$(run)
  after=$(rss_kb)
  kill -TERM "$holder" 2>/dev/null || true
  wait "$holder" 2>/dev/null || true
  holder=
  outcome=$(tail -1 "$work/stalled.log")
  echo "$line" | sed "s/^{/{\"side\":\"with\",\"rss_before_kb\":$before,\"rss_after_kb\":$after,\"stalled_outcome\":$outcome,/" | tee -a "$results"
done
python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
med = lambda side: statistics.median(r.get("delivered_per_s", 0) for r in rows if r["side"] == side)
without, with_ = med("without"), med("with")
cut = sum(r["stalled_outcome"].get("cut", 0) for r in rows if r["side"] == "with")
total = sum(r["stalled_outcome"].get("stalled", 0) for r in rows if r["side"] == "with")
growth = max(r["rss_after_kb"] - r["rss_before_kb"] for r in rows if r["side"] == "with")
print(json.dumps({"median_per_s_without_stalled": without, "median_per_s_with_stalled": with_,
                  "ratio_with_over_without": round(with_ / without, 3) if without else None,
                  "stalled_cut_with_1013": f"{cut}/{total}", "max_rss_growth_during_run_kb": growth}))
PY
