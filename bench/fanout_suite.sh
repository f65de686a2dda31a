#!/usr/bin/env bash
# Every fan-out benchmark of BENCHMARKS.md's fan-out section, one after the other, with the load
# average before each (the machine is shared: compare ratios, and re-run when it is quiet).
#   bench/fanout.sh 1000 100 5      throughput and latency against the Node reference
#   bench/memory.sh 3000 10000      memory per idle joined connection
#   bench/stalled.sh 1000 100 20 3  members that stop reading
#   bench/two_nodes.sh 1000 100 3   two nodes over PostgreSQL + Redis (needs PostgreSQL)
# Usage: bench/fanout_suite.sh     (about five minutes); the last line of each part is its summary.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
for part in "fanout.sh 1000 100 5" "memory.sh 3000 10000" "stalled.sh 1000 100 20 3" "two_nodes.sh 1000 100 3"; do
  echo "== bench/$part  (load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ))"
  # shellcheck disable=SC2086
  bash "$here"/$part
done
