#!/usr/bin/env bash
# bench/purge.sh — purging half of a log while it is being written to, one run.
#
#   bench/purge.sh                      # 2,000,000 events over 60 days, retention 30 days
#   BENCH_EVENTS=200000 bench/purge.sh  # smoke run
#   BENCH_TENANTS=2 BENCH_EVENTS=3000000 bench/purge.sh   # seed-1 holds 2,000,000; seed-2, kept
#                                       # forever, shares its months: every row is deleted, none dropped
#
# 1. (re)creates the database $BENCH_DB_URL (default …/auditpurge) and seeds it with
#    `auditgraph seed --backdate`: one tenant, seed-1, $BENCH_EVENTS events received
#    evenly over the $BENCH_DAYS days before now, so that a retention of half that
#    makes about half of them due (the oldest month whole, the next one in part)
# 2. starts the server and records batches of 1,000 events into another tenant
#    (bench-write), one request at a time, for the whole run (tools.py ingest)
# 3. after $BENCH_QUIET s of ingest alone, gives seed-1 a retention of
#    $BENCH_RETENTION days and runs `auditgraph purge`, timed; then $BENCH_QUIET s more
# 4. prints: the purge's time and what it removed, ingest events/s and latency
#    before, during and after it, and `auditgraph verify --tenant seed-1` afterwards
# BENCH_SEEDED=1 skips step 1 for a database seeded just so beforehand (the purge
# consumes it: seed again for the next run).
# Needs: cargo, psql, curl, python3. Results in bench/results/purge-<time>/.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
TOOLS="python3 $HERE/tools.py"
DB_URL=${BENCH_DB_URL:-postgres://postgres@127.0.0.1:5432/auditpurge}
EVENTS=${BENCH_EVENTS:-2000000}
DAYS=${BENCH_DAYS:-60}
RETENTION=${BENCH_RETENTION:-30}
QUIET=${BENCH_QUIET:-20}
TENANTS=${BENCH_TENANTS:-1}
PORT=${BENCH_PORT:-18090}
BIN=${BENCH_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/auditgraph}
if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then (cd "$ROOT" && cargo build --release); fi
[ -x "$BIN" ] || { echo "no $BIN" >&2; exit 1; }
OUT=$HERE/results/purge-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"
say() { echo "[purge $(date +%H:%M:%S)] $*" >&2; }
sql() { psql -X -q -v ON_ERROR_STOP=1 -At -d "$DB_URL" -c "$1"; }

SERVER_PID= INGEST_PID=
cleanup() {
  touch "$OUT/stop"
  for pid in $INGEST_PID $SERVER_PID; do
    if kill -0 "$pid" 2>/dev/null; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  done
}
trap cleanup EXIT

ADMIN_URL=$($TOOLS url admin "$DB_URL")
DB_NAME=$($TOOLS url dbname "$DB_URL")
[[ "$DB_NAME" =~ ^[A-Za-z0-9_]+$ ]] || { echo "database name must be [A-Za-z0-9_]+: $DB_NAME" >&2; exit 2; }
if [ "${BENCH_SEEDED:-0}" = 1 ]; then
  echo "seeded beforehand: $(sql "SELECT count(*) FROM audit_event") events" | tee "$OUT/seed.txt" >&2
else
  psql -X -q -d "$ADMIN_URL" -c "DROP DATABASE IF EXISTS \"$DB_NAME\" WITH (FORCE)" -c "CREATE DATABASE \"$DB_NAME\""
  say "seeding $EVENTS events received over $DAYS days"
  "$BIN" seed --events "$EVENTS" --tenants "$TENANTS" --days "$DAYS" --backdate --database-url "$DB_URL" 2>&1 | tr '\r' '\n' \
    | grep -E '^seeded|error' | tee "$OUT/seed.txt" >&2
fi
sql "VACUUM ANALYZE"
"$BIN" tenant create bench-write --name "Benchmark writes" --database-url "$DB_URL" >/dev/null
TID=$(sql "SELECT id FROM tenant WHERE slug = 'seed-1'")
WKEY=$("$BIN" key create --tenant bench-write --scopes audit.write --name purge-bench --database-url "$DB_URL" 2>/dev/null)
$TOOLS write-body "$DB_URL" "$TID" 1000 "$OUT/record-1000.json" >&2

"$BIN" serve --database-url "$DB_URL" --listen "127.0.0.1:$PORT" >"$OUT/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 150); do curl -sf -m 2 "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done
$TOOLS ingest "http://127.0.0.1:$PORT/graphql" "$OUT/record-1000.json" "Bearer $WKEY" "$OUT/stop" "$OUT/ingest.jsonl" &
INGEST_PID=$!
sleep "$QUIET"

"$BIN" tenant retention seed-1 --days "$RETENTION" --database-url "$DB_URL" 2>/dev/null
say "purging (retention $RETENTION days) while ingest goes on"
T0=$(date +%s.%N)
"$BIN" purge --database-url "$DB_URL" | tee "$OUT/purge.txt" >&2
T1=$(date +%s.%N)
sleep "$QUIET"
T2=$(date +%s.%N)
touch "$OUT/stop"; wait "$INGEST_PID"; INGEST_PID=

BEFORE=$($TOOLS window "$OUT/ingest.jsonl" "$(python3 -c "print($T0 - $QUIET)")" "$T0")
DURING=$($TOOLS window "$OUT/ingest.jsonl" "$T0" "$T1")
AFTER=$($TOOLS window "$OUT/ingest.jsonl" "$T1" "$T2")
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
say "verifying seed-1"
VSTART=$(date +%s.%N)
"$BIN" verify --tenant seed-1 --database-url "$DB_URL" | tee "$OUT/verify.txt" >&2
VEND=$(date +%s.%N)

python3 - "$OUT" "$T0" "$T1" "$VSTART" "$VEND" "$BEFORE" "$DURING" "$AFTER" <<'PY' | tee "$OUT/summary.md"
import json, sys
out, t0, t1, v0, v1 = sys.argv[1], *map(float, sys.argv[2:6])
before, during, after = (json.loads(a) for a in sys.argv[6:9])
print("Seed: " + open(out + "/seed.txt").read().strip())
print()
print("Purge: %.1f s" % (t1 - t0))
print("```\n" + open(out + "/purge.txt").read().strip() + "\n```")
print()
print("| ingest, batches of 1,000, one client (requests overlapping each window) | events/s | p50 ms | p99 ms | requests | errors |")
print("|---|---:|---:|---:|---:|---:|")
for name, w in (("before the purge", before), ("during the purge", during), ("after the purge", after)):
    print("| %s | %s | %s | %s | %s | %s |" % (name, w["events_per_s"], w["p50_ms"], w["p99_ms"], w["requests"], w["errors"]))
print()
print("Verify afterwards (%.1f s): %s" % (v1 - v0, open(out + "/verify.txt").read().strip()))
PY
