#!/usr/bin/env bash
# bench/sqlite.sh — the search and stats figures on SQLite, one connection.
#
#   bench/sqlite.sh                           # 100,000 events in one tenant, 3 runs of 10 s
#   BENCH_EVENTS=5000 BENCH_SECS1=2 BENCH_RUNS=1 bench/sqlite.sh    # smoke run
#
# 1. seeds $BENCH_SQLITE (default bench/results/sqlite-<events>.db) with
#    `auditgraph seed --backdate` when it has no tenant seed-1 yet: one tenant,
#    $BENCH_EVENTS events received evenly over 90 days
# 2. starts the server on it (127.0.0.1:$BENCH_PORT) with a read key for seed-1
# 3. the pages and stats of run.sh's `search` and `stats` sections (tools.py
#    search-queries), each with wrk at 1 connection for $BENCH_SECS1 s,
#    $BENCH_RUNS runs (median): req/s and p50/p90/p99
# Needs: cargo, wrk, curl, python3. Results in bench/results/sqlite-<time>/.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
TOOLS="python3 $HERE/tools.py"
EVENTS=${BENCH_EVENTS:-100000}
RUNS=${BENCH_RUNS:-3}
SECS1=${BENCH_SECS1:-10}
export WARMUP=${BENCH_WARMUP:-2}
PORT=${BENCH_PORT:-18095}
DB=${BENCH_SQLITE:-$HERE/results/sqlite-$EVENTS.db}
BIN=${BENCH_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/auditgraph}
if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then (cd "$ROOT" && cargo build --release); fi
[ -x "$BIN" ] || { echo "no $BIN" >&2; exit 1; }
OUT=$HERE/results/sqlite-$(date -u +%Y%m%dT%H%M%SZ)
RAW=$OUT/raw
mkdir -p "$RAW" "$OUT/queries"
say() { echo "[sqlite $(date +%H:%M:%S)] $*" >&2; }
URL_DB="sqlite://$DB?mode=rwc"

SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; fi
}
trap cleanup EXIT

if ! "$BIN" tenant list --database-url "$URL_DB" 2>/dev/null | grep -q 'seed-1'; then
  say "seeding $EVENTS events into $DB"
  "$BIN" seed --events "$EVENTS" --backdate --database-url "$URL_DB" 2>&1 | tr '\r' '\n' \
    | grep -E '^seeded|error' | tee "$OUT/seed.txt" >&2
fi
KEY=$("$BIN" key create --tenant seed-1 --scopes audit.read --name "bench $(date -u +%FT%TZ)" --database-url "$URL_DB" 2>/dev/null)
"$BIN" serve --database-url "$URL_DB" --listen "127.0.0.1:$PORT" >"$OUT/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 150); do curl -sf -m 2 "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
$TOOLS search-queries "$OUT/queries"
URL=http://127.0.0.1:$PORT/graphql
NAMES="s-word s-common s-meta-eq s-meta-range st-action-day st-outcome-hour st-actor-top"
for run in $(seq "$RUNS"); do
  for q in $NAMES; do
    say "$q, run $run of $RUNS"
    AUTH="Bearer $KEY" "$HERE/gql-load.sh" "$URL" "$OUT/queries/$q.graphql" 1 "$SECS1" >"$RAW/ours-$q-1c.run$run.txt" 2>&1 \
      || say "$q run $run FAILED: $(tail -2 "$RAW/ours-$q-1c.run$run.txt")"
  done
done
{
  echo "SQLite, $EVENTS events in seed-1 ($DB); $RUNS run(s) of $SECS1 s at 1 connection, median; $(nproc) cores."
  echo
  $TOOLS latency-table "$RAW" "SQLite, 50 events / stats" $NAMES
} | tee "$OUT/summary.md"
