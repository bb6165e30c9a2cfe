#!/usr/bin/env bash
# bench/run.sh — the whole measured set, one command, a table at the end.
#
#   bench/run.sh                                   # full set: 1,000,000 events, 3 runs, 20 s / 10 s
#   BENCH_PEER=1 bench/run.sh                      # … and PostGraphile 5 back to back with ours
#   BENCH_EVENTS=50000 BENCH_TENANTS=2 BENCH_SECS=2 BENCH_RUNS=1 BENCH_WARMUP=1 bench/run.sh   # smoke run
#   BENCH_ONLY=proofs,sequence,export,streams bench/run.sh     # the ledger, export and stream figures
#
# What it does, in order:
#  1. cargo build --release
#  2. creates the PostgreSQL database if missing ($BENCH_DB_URL, default
#     postgres://postgres@127.0.0.1:5432/auditbench); seeds it with `auditgraph seed`
#     only when tenant seed-1 is missing (or BENCH_RESEED=1, which drops and recreates
#     the database); then VACUUM ANALYZE
#  3. creates API keys (read: seed-1; write: tenant bench-write, so that recorded
#     events never change the data the reads measure)
#  4. captures, on the wire, the SQL the server sends for each read (a logging proxy
#     in front of PostgreSQL, pgcapture.py, for one request), and turns it into
#     pgbench scripts: the raw SQL floor
#  5. starts our server (release) on 127.0.0.1:$BENCH_PORT and, with BENCH_PEER=1,
#     PostGraphile (peer.sh) over the same database
#  6. reads (a)–(d) and the console's everyday pages (last 24 hours; last 7 days +
#     the prefix; failures in the last 7 days; an actor's events; each range
#     moving with the clock, request by request, as the console's presets do)
#     with wrk at $BENCH_CONNS connections × $BENCH_SECS s and 1 connection ×
#     $BENCH_SECS1 s, ours then the peer's (for (a) and (b)), $BENCH_RUNS runs
#  7. the SQL floor: pgbench -M prepared -c 8 -j 2 -T $BENCH_FLOOR_SECS of the captured statements
#  8. writes (e): recordAuditEvents, then the same events through POST /v1/events,
#     batches of 100 and 1,000, from 1 and 4 clients, then the raw multi-row INSERT
#     floor; the bench-write tenant's events are
#     deleted (and the tables vacuumed) after each configuration
#  9. only when asked for in BENCH_ONLY (ledger.py does the measuring):
#     proofs:   inclusion (GraphQL and REST) and consistency proof latency, random
#               events / sizes of seed-1's tree, one connection: p50/p90/p99
#     sequence: newest 50 by SEQUENCE against newest 50 by OCCURRED_AT (wrk, as the reads)
#     export:   NDJSON export of seed-1 by one client: events/s, server RSS growth
#     streams:  a webhook stream (tenant bench-stream) to a Python receiver on loopback
#               while $BENCH_STREAM_RATE events/s are recorded: record → received p50/p99, max lag
#     ledger:   ingest (e) with the ledger against a build without it (cargo feature
#               bench-without-ledger), batches of 1,000 from 1 and 4 clients, the two
#               servers alternating run by run (tenants bench-write and bench-unledgered)
#     search:   a page of 50 for a one-word `search` (a rare and a common word), a
#               metadata equality and a metadata range, 1 connection: p50/p90/p99
#     stats:    auditEventStats ACTION by DAY over 30 days, OUTCOME by HOUR over 24 hours,
#               ACTOR top 20 over 7 days, 1 connection; then the console's first load
#               in headless Chromium (console_paint.py; all time and last 24 hours):
#               first contentful paint and the histogram on screen, $BENCH_CONSOLE_LOADS times
#     searchcost: ingest (e) with and without the two GIN indexes of search (metadata,
#               words), batches of 1,000 from 1 and 4 clients, $BENCH_RUNS runs each;
#               the indexes are dropped for the second half and built again afterwards
#               (also when the run is interrupted)
# 10. server RSS (VmHWM, VmRSS) after the reads and after the writes; stops every
#     process it started; prints the tables (also in bench/results/<time>/summary.md)
#
# Settings (environment):
#   BENCH_DB_URL        database URL (trust auth, loopback)      default postgres://postgres@127.0.0.1:5432/auditbench
#   BENCH_EVENTS        events to seed                          default 1000000
#   BENCH_TENANTS       tenants to seed                         default 10
#   BENCH_RESEED=1      drop and recreate the database, then seed
#   BENCH_BACKDATE=1    seed with --backdate: received over the 90 days, in monthly partitions
#   BENCH_RUNS          runs per figure (median reported)       default 3
#   BENCH_SECS          seconds per read at BENCH_CONNS conns   default 20 (max 30)
#   BENCH_SECS1         seconds per read at 1 connection        default BENCH_SECS/2
#   BENCH_WRITE_SECS    seconds per write configuration         default BENCH_SECS
#   BENCH_FLOOR_SECS    seconds per pgbench run                 default BENCH_SECS
#   BENCH_CONNS         connections for the main read figure    default 8
#   BENCH_WARMUP        wrk warm-up seconds before each run     default 3
#   BENCH_DEPTH         depth of the deep page (b)              default 300000, at most half the tenant
#   BENCH_PREFIX        action prefix of (c) and (d)            default workspace.
#   BENCH_POOL          server --db-pool-size                   default 8
#   BENCH_PORT          our server's port (+1 for capture)      default 18080
#   BENCH_PEER=1        also measure PostGraphile (see peer.sh)
#   BENCH_ONLY          sections, comma-separated: reads,floor,writes,proofs,sequence,export,streams,ledger,
#                       search,stats,searchcost
#                       default reads,floor,writes
#   BENCH_PROOF_EVENTS  random events (and size pairs) per proof kind      default 1000
#   BENCH_STREAM_RATE   events/s recorded while a stream delivers          default 1000
#   BENCH_STREAM_SECS   seconds of that                                    default 30
#   BENCH_STREAM_BATCH  events per recording request                       default 50
#   BENCH_STREAM_POLL   the server's --stream-poll                          default the server's (250ms)
#   BENCH_CONSOLE_LOADS console first loads measured per range (stats)   default 30
#   BENCH_NO_BUILD=1    skip cargo build
#   BENCH_BIN           the binary to run   default $CARGO_TARGET_DIR (or target)/release/auditgraph
#   BENCH_SERVER_LOG    AUDITGRAPH_LOG for our server           default: the server's own (info: one line a request)
# Each run creates two API keys (one `api_key.create` event in seed-1, one in bench-write);
# `streams` a third in tenant bench-stream, and its stream and events there.
# The proof and export figures are of seed-1's size: for 1,000,000 events in one
# tenant, seed a database of its own with BENCH_TENANTS=1 (BENCH_DB_URL=…/auditbench1).
# Needs: cargo, psql, pgbench, wrk, curl, python3 (apt-get install -y wrk postgresql-client).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
TOOLS="python3 $HERE/tools.py"

DB_URL=${BENCH_DB_URL:-postgres://postgres@127.0.0.1:5432/auditbench}
EVENTS=${BENCH_EVENTS:-1000000}
TENANTS=${BENCH_TENANTS:-10}
RUNS=${BENCH_RUNS:-3}
cap30() { if [ "$1" -gt 30 ]; then echo 30; elif [ "$1" -lt 1 ]; then echo 1; else echo "$1"; fi; }
SECS=$(cap30 "${BENCH_SECS:-20}")
SECS1=$(cap30 "${BENCH_SECS1:-$(( SECS / 2 ))}")
WRITE_SECS=$(cap30 "${BENCH_WRITE_SECS:-$SECS}")
FLOOR_SECS=$(cap30 "${BENCH_FLOOR_SECS:-$SECS}")
CONNS=${BENCH_CONNS:-8}
export WARMUP=${BENCH_WARMUP:-3}
DEPTH_MAX=${BENCH_DEPTH:-300000}
PREFIX=${BENCH_PREFIX:-workspace.}
POOL=${BENCH_POOL:-8}
PORT=${BENCH_PORT:-18080}
CAPTURE_PORT=$((PORT + 1))
PROXY_PORT=${BENCH_PROXY_PORT:-15439}
PEER=${BENCH_PEER:-0}
ONLY=${BENCH_ONLY:-reads,floor,writes}
want() { case ",$ONLY," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }
LEDGER="python3 $HERE/ledger.py"

for tool in psql pgbench wrk curl python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install -y wrk postgresql-client)" >&2; exit 1; }
done
case "$(python3 -c 'import sys,urllib.parse;print(urllib.parse.urlsplit(sys.argv[1]).hostname)' "$DB_URL")" in
  127.*|localhost|::1) ;;
  *) echo "refusing: BENCH_DB_URL must point at a loopback PostgreSQL" >&2; exit 2 ;;
esac

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=$HERE/results/$STAMP
RAW=$OUT/raw
QDIR=$OUT/queries
mkdir -p "$RAW" "$QDIR" "$OUT/floor"
ln -sfn "$STAMP" "$HERE/results/latest"
meta() { $TOOLS meta "$OUT" "$1" "$2"; }
say() { echo "[bench $(date +%H:%M:%S)] $*" >&2; }

# Every process started here is stopped on exit, by PID.
SERVER_PID= CAPTURE_PID= PROXY_PID= LEDGER_PID= PEER_STARTED= SEARCH_INDEXES_DROPPED=
cleanup() {
  if [ -n "$SEARCH_INDEXES_DROPPED" ]; then build_search_indexes || true; fi
  for pid in $SERVER_PID $CAPTURE_PID $PROXY_PID $LEDGER_PID; do
    if kill -0 "$pid" 2>/dev/null; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  done
  if [ -n "$PEER_STARTED" ]; then "$HERE/peer.sh" stop >&2 || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- 1. build
BIN=${BENCH_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/auditgraph}
UNLEDGERED_BIN=$BIN-without-ledger
if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
  if want ledger; then
    # Built first, so that release/auditgraph is the real build; cargo keeps
    # both compilations of the crate, so neither rebuilds the other.
    say "cargo build --release --features bench-without-ledger"
    (cd "$ROOT" && cargo build --release --features bench-without-ledger)
    cp "$BIN" "$UNLEDGERED_BIN"
  fi
  say "cargo build --release"
  (cd "$ROOT" && cargo build --release)
fi
[ -x "$BIN" ] || { echo "no $BIN" >&2; exit 1; }
if want ledger; then [ -x "$UNLEDGERED_BIN" ] || { echo "no $UNLEDGERED_BIN" >&2; exit 1; }; fi

meta started "\"$STAMP\""
meta cores "$(nproc)"
meta loadavg "\"$(cut -d' ' -f1-3 /proc/loadavg)\""
meta runs "$RUNS"; meta secs "$SECS"; meta secs1 "$SECS1"; meta write_secs "$WRITE_SECS"
meta floor_secs "$FLOOR_SECS"; meta conns "$CONNS"; meta pool "$POOL"; meta prefix "\"$PREFIX\""
meta command "$(python3 -c 'import json,os; print(json.dumps(" ".join("%s=%s" % (k, v) for k, v in sorted(os.environ.items()) if k.startswith("BENCH_")) + " bench/run.sh"))')"
if [ -n "${BENCH_SERVER_LOG:-}" ]; then export AUDITGRAPH_LOG=$BENCH_SERVER_LOG; fi
STREAM_ARGS=()
if [ -n "${BENCH_STREAM_POLL:-}" ]; then STREAM_ARGS=(--stream-poll "$BENCH_STREAM_POLL"); meta stream_poll "\"$BENCH_STREAM_POLL\""; fi
if [ "$EVENTS" -lt 1000000 ] || [ "$SECS" -lt 20 ] || [ "$RUNS" -lt 3 ]; then meta smoke true; fi

# ---------------------------------------------------------------- 2. database
ADMIN_URL=$($TOOLS url admin "$DB_URL")
DB_NAME=$($TOOLS url dbname "$DB_URL")
[[ "$DB_NAME" =~ ^[A-Za-z0-9_]+$ ]] || { echo "database name must be [A-Za-z0-9_]+: $DB_NAME" >&2; exit 2; }
sql() { psql -X -q -v ON_ERROR_STOP=1 -At -d "$DB_URL" -c "$1"; }
db_exists() { [ "$(psql -X -At -d "$ADMIN_URL" -c "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" = 1 ]; }
if [ "${BENCH_RESEED:-0}" = 1 ] && db_exists; then
  say "BENCH_RESEED=1: dropping database $DB_NAME"
  psql -X -q -d "$ADMIN_URL" -c "DROP DATABASE \"$DB_NAME\" WITH (FORCE)"
fi
if ! db_exists; then
  say "creating database $DB_NAME"
  psql -X -q -d "$ADMIN_URL" -c "CREATE DATABASE \"$DB_NAME\""
fi
# The search indexes as migration m20261207_000070_search makes them.
build_search_indexes() {
  sql "CREATE INDEX IF NOT EXISTS ix_event_metadata ON audit_event USING gin (metadata jsonb_path_ops)"
  sql "CREATE INDEX IF NOT EXISTS ix_event_words ON audit_event USING gin (to_tsvector('simple', search_words))"
  SEARCH_INDEXES_DROPPED=
}
has_tenant() { [ "$(sql "SELECT 1 FROM tenant WHERE slug = '$1'" 2>/dev/null)" = 1 ]; }
SEED_NOTE_FILE=$HERE/results/seed-$DB_NAME.txt
if ! has_tenant seed-1; then
  if [ "$(sql "SELECT count(*) FROM tenant WHERE slug LIKE 'seed-%'" 2>/dev/null || echo 0)" != 0 ]; then
    echo "database $DB_NAME has seed tenants but no seed-1; run with BENCH_RESEED=1" >&2; exit 1
  fi
  say "seeding $EVENTS events in $TENANTS tenants"
  BACKDATE=(); if [ "${BENCH_BACKDATE:-0}" = 1 ]; then BACKDATE=(--backdate); fi
  "$BIN" seed --events "$EVENTS" --tenants "$TENANTS" "${BACKDATE[@]}" --database-url "$DB_URL" 2>&1 \
    | tr '\r' '\n' | tee "$OUT/seed.log" | grep -E '^seeded|error' >&2
  LINE=$(grep '^seeded' "$OUT/seed.log" | tail -1)
  echo "$LINE (bench $STAMP, $(nproc) cores, load average before $(cut -d' ' -f1-3 /proc/loadavg))" >"$SEED_NOTE_FILE"
fi
[ -f "$SEED_NOTE_FILE" ] && meta seed "$(python3 -c 'import json,sys;print(json.dumps(open(sys.argv[1]).read().strip()))' "$SEED_NOTE_FILE")"
has_tenant bench-write || "$BIN" tenant create bench-write --name "Benchmark writes" --database-url "$DB_URL" >/dev/null
TID=$(sql "SELECT id FROM tenant WHERE slug = 'seed-1'")
WTID=$(sql "SELECT id FROM tenant WHERE slug = 'bench-write'")
# The tables are append-only (triggers refuse DELETE); the benchmark's own write
# tenant is emptied with triggers off for this session (session_replication_role).
# The tenant's counts per day go with its events (a database older than them has none).
forget_counts() {
  if [ "$(sql "SELECT to_regclass('audit_event_day_count') IS NOT NULL")" = t ]; then
    sql "DELETE FROM audit_event_day_count WHERE tenant_id = '$1'"
  fi
}
delete_writes() {
  sql "SET session_replication_role = replica; DELETE FROM event_resource WHERE tenant_id = '$WTID'; DELETE FROM audit_event WHERE tenant_id = '$WTID'"
  forget_counts "$WTID"
}
clean_writes() {
  delete_writes
  sql "VACUUM (ANALYZE) audit_event, event_resource, actor, resource"
}
say "removing leftovers of earlier write runs; VACUUM ANALYZE"
delete_writes
sql "VACUUM ANALYZE"
SIZE=$(sql "SELECT count(*) FROM audit_event WHERE tenant_id = '$TID'")
DEPTH=$(( SIZE / 2 < DEPTH_MAX ? SIZE / 2 : DEPTH_MAX ))
meta tenant_size "$SIZE"; meta depth "$DEPTH"
meta events_total "$(sql "SELECT count(*) FROM audit_event e JOIN tenant t ON t.id = e.tenant_id WHERE t.slug LIKE 'seed-%'")"
meta tenants "$(sql "SELECT count(*) FROM tenant WHERE slug LIKE 'seed-%'")"
say "seed-1 holds $SIZE events; deep page (b) at $DEPTH"

# ---------------------------------------------------------------- 3. keys, queries
KEY=$("$BIN" key create --tenant seed-1 --scopes audit.read,audit.write --name "bench $STAMP" --database-url "$DB_URL" 2>/dev/null)
WKEY=$("$BIN" key create --tenant bench-write --scopes audit.write --name "bench $STAMP" --database-url "$DB_URL" 2>/dev/null)
$TOOLS queries "$QDIR" "$DB_URL" "$TID" "$DEPTH" "$PREFIX" >/dev/null
$TOOLS search-queries "$QDIR"
CONSOLE_PAGES="day week fail actor"

wait_ready() { # URL PID
  for _ in $(seq 150); do
    curl -sf -m 2 "$1/readyz" >/dev/null 2>&1 && return 0
    kill -0 "$2" 2>/dev/null || { echo "server exited; see its log" >&2; return 1; }
    sleep 0.2
  done
  echo "server not ready after 30 s" >&2; return 1
}
gql_body() { $TOOLS body "$1"; }

# ---------------------------------------------------------------- 4. capture the SQL of each read
if want reads || want floor || want writes; then
  say "capturing the SQL of each read (server on :$CAPTURE_PORT behind pgcapture.py on :$PROXY_PORT)"
  CAPLOG=$OUT/floor/capture.jsonl
  : >"$CAPLOG"
  read -r PGHOST_ PGPORT_ < <($TOOLS url hostport "$DB_URL")
  python3 "$HERE/pgcapture.py" "$PROXY_PORT" "$PGHOST_" "$PGPORT_" "$CAPLOG" 2>"$OUT/floor/proxy.log" &
  PROXY_PID=$!
  sleep 0.3
  "$BIN" serve --database-url "$($TOOLS url proxy "$DB_URL" "$PROXY_PORT")" --listen "127.0.0.1:$CAPTURE_PORT" \
    --db-pool-size "$POOL" >"$OUT/floor/capture-server.log" 2>&1 &
  CAPTURE_PID=$!
  wait_ready "http://127.0.0.1:$CAPTURE_PORT" "$CAPTURE_PID"
  STMTS="{}"
  for q in a b c d1 d2; do
    body=$(gql_body "$QDIR/$q")
    # The first request fills the server's key cache; the second is the one captured.
    curl -sf -o /dev/null -H "Authorization: Bearer $KEY" -H 'content-type: application/json' -d "$body" "http://127.0.0.1:$CAPTURE_PORT/graphql"
    sleep 0.2
    mark=$(wc -l <"$CAPLOG")
    curl -sf -o /dev/null -H "Authorization: Bearer $KEY" -H 'content-type: application/json' -d "$body" "http://127.0.0.1:$CAPTURE_PORT/graphql"
    sleep 0.2
    line=$($TOOLS floor-script "$CAPLOG" "$mark" "$OUT/floor/$q")
    echo "  ($q) $line" >&2
    STMTS=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d[sys.argv[2]]=int(sys.argv[3].split()[0]); print(json.dumps(d))' "$STMTS" "$q" "$line")
  done
  meta statements "$STMTS"
  kill "$CAPTURE_PID" "$PROXY_PID"; wait "$CAPTURE_PID" "$PROXY_PID" 2>/dev/null || true
  CAPTURE_PID= PROXY_PID=
fi

# ---------------------------------------------------------------- 5. servers
URL=http://127.0.0.1:$PORT/graphql
say "starting our server on 127.0.0.1:$PORT (pool $POOL)"
"$BIN" serve --database-url "$DB_URL" --listen "127.0.0.1:$PORT" --db-pool-size "$POOL" "${STREAM_ARGS[@]}" >"$OUT/server.log" 2>&1 &
SERVER_PID=$!
wait_ready "http://127.0.0.1:$PORT" "$SERVER_PID"
$TOOLS check "$QDIR" "$URL" "Bearer $KEY" >&2

PEER_URL=
if [ "$PEER" = 1 ] && want reads; then
  say "starting the peer (PostGraphile) over $DB_NAME"
  # PostGraphile builds relations from foreign keys; the event tables have none
  # (ingest speed), so declare the two it needs as smart tags, which change
  # nothing in the database's behaviour.
  sql "COMMENT ON TABLE audit_event IS E'@foreignKey (actor_id) references actor (id)\\n@foreignKey (resource_id) references resource (id)'"
  PEER_STARTED=1
  "$HERE/peer.sh" start "$DB_URL" >&2
  PEER_URL=$("$HERE/peer.sh" url)
  $TOOLS peer-queries "$QDIR" "$PEER_URL" "$TID" "$DEPTH" "$QDIR/expected.json" >&2
fi

# One measurement: LABEL URL QUERYFILE CONNS SECS [AUTH [PID whose CPU time to count]]
load() {
  local label=$1 url=$2 qf=$3 conns=$4 secs=$5 auth=${6:-} pid=${7:-} file
  file=$RAW/$label.run$run.txt
  if CPU_PID=$pid AUTH=$auth "$HERE/gql-load.sh" "$url" "$qf" "$conns" "$secs" >"$file" 2>&1; then
    echo "  $label run $run: $(grep '^RESULT' "$file" | sed -E 's/.*req_per_s=([0-9.]+).*p50_ms=([0-9.]+).*p99_ms=([0-9.]+).*non2xx=([0-9]+) socket_errors=([0-9]+) timeouts=([0-9]+).*sampled_with_errors=([0-9]+).*/\1 req\/s, p50 \2 ms, p99 \3 ms, errors \4\/\5\/\6\/\7/')" >&2
  else
    echo "  $label run $run FAILED: $(tail -2 "$file")" >&2
  fi
}
rss() { $TOOLS rss "$1"; }

# ---------------------------------------------------------------- 6. reads
if want reads; then
  for run in $(seq "$RUNS"); do
    say "reads, run $run of $RUNS"
    for q in a b c d1 d2 $CONSOLE_PAGES; do
      load "ours-$q-${CONNS}c" "$URL" "$QDIR/$q.graphql" "$CONNS" "$SECS" "Bearer $KEY" "$SERVER_PID"
      [ -n "$PEER_URL" ] && [ -f "$QDIR/peer-$q.graphql" ] && load "peer-$q-${CONNS}c" "$PEER_URL" "$QDIR/peer-$q.graphql" "$CONNS" "$SECS" "" "$("$HERE/peer.sh" pid)"
      load "ours-$q-1c" "$URL" "$QDIR/$q.graphql" 1 "$SECS1" "Bearer $KEY"
      [ -n "$PEER_URL" ] && [ -f "$QDIR/peer-$q.graphql" ] && load "peer-$q-1c" "$PEER_URL" "$QDIR/peer-$q.graphql" 1 "$SECS1"
    done
  done
  meta rss.after_reads "$(rss "$SERVER_PID")"
  if [ -n "$PEER_URL" ]; then
    meta peer_rss "$(rss "$("$HERE/peer.sh" pid)")"
    "$HERE/peer.sh" stop >&2; PEER_STARTED=
  fi
fi

# ---------------------------------------------------------------- 7. SQL floor of the reads
pgb() { # LABEL SCRIPT ARGSFILE CLIENTS THREADS
  local label=$1 script=$2 args=$3 c=$4 j=$5 file D=()
  file=$RAW/$label.run$run.txt
  if [ -n "$args" ]; then mapfile -t D <"$args"; D=("${D[@]/#/-D}"); fi
  echo "# pgbench -n -M prepared -r -c $c -j $j -T $FLOOR_SECS -f $(basename "$script") (${#D[@]} -D variables)" >"$file"
  if pgbench -n -M prepared -r -c "$c" -j "$j" -T "$FLOOR_SECS" -f "$script" "${D[@]}" "$DB_URL" >>"$file" 2>&1; then
    echo "  $label run $run: $(grep -E '^tps' "$file" | awk '{print $3}') tps, $(grep -E '^latency average' "$file" | awk '{print $4}') ms mean" >&2
  else
    echo "  $label run $run FAILED: $(tail -3 "$file")" >&2
  fi
}
if want floor; then
  for run in $(seq "$RUNS"); do
    say "SQL floor of the reads, run $run of $RUNS"
    for q in a b c d1 d2; do
      pgb "floor-$q" "$OUT/floor/$q.sql" "$OUT/floor/$q.args" 8 2
    done
  done
fi

# ---------------------------------------------------------------- 8. writes and the INSERT floor
if want writes; then
  for batch in 100 1000; do
    $TOOLS write-body "$DB_URL" "$TID" "$batch" "$QDIR/record-$batch.json" >&2
    $TOOLS rest-body "$QDIR/record-$batch.json" "$QDIR/rest-record-$batch.json" >&2
    $TOOLS insert-floor "$DB_URL" "$TID" "$WTID" "$batch" "$OUT/floor/insert-$batch.sql" >&2
    for clients in 1 4; do
      for run in $(seq "$RUNS"); do
        say "writes: batch $batch, $clients client(s), run $run of $RUNS"
        load "ours-e-b$batch-${clients}c" "$URL" "$QDIR/record-$batch.json" "$clients" "$WRITE_SECS" "Bearer $WKEY"
      done
      clean_writes
      for run in $(seq "$RUNS"); do
        say "writes through REST: batch $batch, $clients client(s), run $run of $RUNS"
        load "ours-rest-b$batch-${clients}c" "${URL%/graphql}/v1/events" "$QDIR/rest-record-$batch.json" "$clients" "$WRITE_SECS" "Bearer $WKEY"
      done
      clean_writes
      if want floor; then
        for run in $(seq "$RUNS"); do
          pgb "floor-e-b$batch-${clients}c" "$OUT/floor/insert-$batch.sql" "" "$clients" "$(( clients < 2 ? clients : 2 ))"
        done
        clean_writes
      fi
    done
  done
  meta rss.after_writes "$(rss "$SERVER_PID")"
fi

# ---------------------------------------------------------------- 9. ledger, export, streams
BASE=http://127.0.0.1:$PORT
if want sequence; then
  $LEDGER page-queries "$QDIR"
  for run in $(seq "$RUNS"); do
    say "newest 50 by OCCURRED_AT and by SEQUENCE, run $run of $RUNS"
    for q in pocc pseq; do load "ours-$q-${CONNS}c" "$URL" "$QDIR/$q.graphql" "$CONNS" "$SECS" "Bearer $KEY"; done
    for q in pocc pseq; do load "ours-$q-1c" "$URL" "$QDIR/$q.graphql" 1 "$SECS1" "Bearer $KEY"; done
  done
fi
if want proofs; then
  say "proofs: ${BENCH_PROOF_EVENTS:-1000} random events of seed-1"
  $LEDGER proofs "$OUT" "$BASE" "$KEY" "$DB_URL" "$TID" "${BENCH_PROOF_EVENTS:-1000}" >/dev/null
fi
if want export; then
  say "export: NDJSON of seed-1, one client"
  $LEDGER export "$OUT" "$BASE" "$KEY" "$SERVER_PID" >/dev/null
  meta rss.after_export "$(rss "$SERVER_PID")"
fi
if want streams; then
  has_tenant bench-stream || "$BIN" tenant create bench-stream --name "Benchmark streams" --database-url "$DB_URL" >/dev/null
  SKEY=$("$BIN" key create --tenant bench-stream --scopes keys.manage,audit.read,audit.write --name "bench $STAMP" --database-url "$DB_URL" 2>/dev/null)
  say "streams: ${BENCH_STREAM_RATE:-1000} events/s for ${BENCH_STREAM_SECS:-30} s to a loopback webhook"
  $LEDGER streams "$OUT" "$BASE" "$SKEY" "${BENCH_STREAM_RATE:-1000}" "${BENCH_STREAM_SECS:-30}" "${BENCH_STREAM_BATCH:-50}" >/dev/null
fi

if want ledger; then
  # Both servers on a port of their own, one at a time; each writes to its own
  # tenant, since the one without the ledger leaves its tenant's tree unbuilt.
  has_tenant bench-unledgered || "$BIN" tenant create bench-unledgered --name "Benchmark writes without the ledger" --database-url "$DB_URL" >/dev/null
  UTID=$(sql "SELECT id FROM tenant WHERE slug = 'bench-unledgered'")
  UKEY=$("$BIN" key create --tenant bench-unledgered --scopes audit.write --name "bench $STAMP" --database-url "$DB_URL" 2>/dev/null)
  $TOOLS write-body "$DB_URL" "$TID" 1000 "$QDIR/record-1000.json" >&2
  LPORT=$((PORT + 2))
  for run in $(seq "$RUNS"); do
    for variant in with without; do
      if [ "$variant" = with ]; then vbin=$BIN vkey=$WKEY vtid=$WTID; else vbin=$UNLEDGERED_BIN vkey=$UKEY vtid=$UTID; fi
      say "ingest $variant the ledger, run $run of $RUNS"
      "$vbin" serve --database-url "$DB_URL" --listen "127.0.0.1:$LPORT" --db-pool-size "$POOL" >"$OUT/server-ledger-$variant.log" 2>&1 &
      LEDGER_PID=$!
      wait_ready "http://127.0.0.1:$LPORT" "$LEDGER_PID"
      for clients in 1 4; do
        load "ledger-$variant-${clients}c" "http://127.0.0.1:$LPORT/graphql" "$QDIR/record-1000.json" "$clients" "$WRITE_SECS" "Bearer $vkey"
      done
      kill "$LEDGER_PID"; wait "$LEDGER_PID" 2>/dev/null || true; LEDGER_PID=
      sql "SET session_replication_role = replica; DELETE FROM event_resource WHERE tenant_id = '$vtid'; DELETE FROM audit_event WHERE tenant_id = '$vtid'"
      forget_counts "$vtid"
      sql "VACUUM (ANALYZE) audit_event, event_resource, actor, resource, ledger_hash"
    done
  done
fi

if want search; then
  for run in $(seq "$RUNS"); do
    say "search pages, one connection, run $run of $RUNS"
    for q in s-word s-common s-meta-eq s-meta-range; do load "ours-$q-1c" "$URL" "$QDIR/$q.graphql" 1 "$SECS1" "Bearer $KEY"; done
  done
  $TOOLS latency-table "$RAW" "search, 50 events (PostgreSQL, \`seed-1\`)" s-word s-common s-meta-eq s-meta-range | tee -a "$OUT/summary.md"
fi
if want stats; then
  for run in $(seq "$RUNS"); do
    say "stats, one connection, run $run of $RUNS"
    for q in st-action-day st-outcome-hour st-actor-top; do load "ours-$q-1c" "$URL" "$QDIR/$q.graphql" 1 "$SECS1" "Bearer $KEY"; done
  done
  $TOOLS latency-table "$RAW" "auditEventStats (PostgreSQL, \`seed-1\`)" st-action-day st-outcome-hour st-actor-top | tee -a "$OUT/summary.md"
  for range in "" 24h; do
    say "the console's first load in Chromium (range: ${range:-all time}), ${BENCH_CONSOLE_LOADS:-30} times"
    python3 "$HERE/console_paint.py" "${URL%/graphql}" "$KEY" "$range" "${BENCH_CONSOLE_LOADS:-30}" \
      "$OUT/console-paint-${range:-all}.json" | tee -a "$OUT/summary.md"
  done
fi

if want searchcost; then
  # With, then without: building the indexes again over the whole table takes
  # minutes, so they are dropped once rather than run by run.
  $TOOLS write-body "$DB_URL" "$TID" 1000 "$QDIR/record-1000.json" >&2
  for variant in with without; do
    if [ "$variant" = without ]; then
      say "dropping the search indexes (ix_event_metadata, ix_event_words)"
      SEARCH_INDEXES_DROPPED=1
      sql "DROP INDEX ix_event_metadata; DROP INDEX ix_event_words"
    fi
    for run in $(seq "$RUNS"); do
      for clients in 1 4; do
        say "ingest $variant the search indexes, $clients client(s), run $run of $RUNS"
        load "searchcost-$variant-${clients}c" "$URL" "$QDIR/record-1000.json" "$clients" "$WRITE_SECS" "Bearer $WKEY"
        clean_writes
      done
    done
  done
  say "building the search indexes again"
  build_search_indexes
  $TOOLS searchcost-table "$RAW" | tee -a "$OUT/summary.md"
fi

# ---------------------------------------------------------------- 10. tables
grep -ciE 'error|panic' "$OUT/server.log" >/dev/null && say "server log has errors: $OUT/server.log"
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
if want reads || want floor || want writes || want ledger; then $TOOLS summarize "$OUT"; fi
if want proofs || want sequence || want export || want streams; then $LEDGER table "$OUT"; fi
