#!/usr/bin/env bash
# bench/replica.sh — read throughput with one streaming replica against the primary alone.
#
#   bench/replica.sh                      # 1,000,000 events, 3 runs of 10 s per figure
#   BENCH_EVENTS=100000 BENCH_RUNS=1 bench/replica.sh   # smoke run
#
# Makes a PostgreSQL pair of its own from the local installation, as the replica
# test does (the machine's server does not allow replication connections): a
# primary (initdb, on a free loopback port; fsync off, as a scratch cluster) seeded
# with `auditgraph seed --backdate` ($BENCH_EVENTS events in one tenant), then a hot
# standby (pg_basebackup -R -X stream) on another port. Then, run by run, reads (a)
# newest 50 and (c) prefix + 7-day range with wrk at $BENCH_CONNS connections against:
#   primary: the server on the primary alone
#   replica: the same server with --read-database-url on the standby
# The standby's own statistics show that the reads went there. Everything runs on
# the same machine: the standby competes with the primary for the same cores.
# Needs: cargo, psql, wrk, curl, python3, runuser. Results in bench/results/replica-<time>/.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
TOOLS="python3 $HERE/tools.py"
EVENTS=${BENCH_EVENTS:-1000000}
RUNS=${BENCH_RUNS:-3}
SECS=${BENCH_SECS:-10}
CONNS=${BENCH_CONNS:-8}
POOL=${BENCH_POOL:-8}
PORT=${BENCH_PORT:-18095}
export WARMUP=${BENCH_WARMUP:-2}
BIN=${BENCH_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/auditgraph}
if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then (cd "$ROOT" && cargo build --release); fi
[ -x "$BIN" ] || { echo "no $BIN" >&2; exit 1; }
PGBIN=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")
OUT=$HERE/results/replica-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT/raw" "$OUT/queries"
say() { echo "[replica $(date +%H:%M:%S)] $*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
as_pg() { runuser -u postgres -- "$@"; }

DIR=$(as_pg mktemp -d /tmp/auditgraph-bench-replica-XXXXXX)
PRIMARY_PORT=$(free_port)
REPLICA_PORT=$(free_port)
SERVER_PID=
pgctl() { as_pg "$PGBIN/pg_ctl" -D "$DIR/$1" -l "$DIR/$1.log" -o "-p $2 -k $DIR" -w "${@:3}"; }
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; fi
  as_pg "$PGBIN/pg_ctl" -D "$DIR/replica" -m immediate -w stop >/dev/null 2>&1 || true
  as_pg "$PGBIN/pg_ctl" -D "$DIR/primary" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$DIR"
}
trap cleanup EXIT

say "primary on :$PRIMARY_PORT"
as_pg "$PGBIN/initdb" -D "$DIR/primary" -U postgres -A trust -E UTF8 --no-sync >/dev/null
printf "listen_addresses = '127.0.0.1'\nshared_buffers = 128MB\nfsync = off\nmax_connections = 60\n" \
  | as_pg tee "$DIR/primary/postgresql.auto.conf" >/dev/null
pgctl primary "$PRIMARY_PORT" start >/dev/null
PRIMARY=postgres://postgres@127.0.0.1:$PRIMARY_PORT/audit
REPLICA=postgres://postgres@127.0.0.1:$REPLICA_PORT/audit
psql -X -q -d "postgres://postgres@127.0.0.1:$PRIMARY_PORT/postgres" -c "CREATE DATABASE audit"
say "seeding $EVENTS events"
"$BIN" seed --events "$EVENTS" --backdate --database-url "$PRIMARY" 2>&1 | tr '\r' '\n' | grep -E '^seeded|error' | tee "$OUT/seed.txt" >&2
psql -X -q -d "$PRIMARY" -c "VACUUM ANALYZE" -c "CHECKPOINT"
KEY=$("$BIN" key create --tenant seed-1 --scopes audit.read --name replica-bench --database-url "$PRIMARY" 2>/dev/null)
TID=$(psql -X -At -d "$PRIMARY" -c "SELECT id FROM tenant WHERE slug = 'seed-1'")
$TOOLS queries "$OUT/queries" "$PRIMARY" "$TID" "$(( EVENTS / 2 < 300000 ? EVENTS / 2 : 300000 ))" workspace. >/dev/null

say "standby on :$REPLICA_PORT"
as_pg "$PGBIN/pg_basebackup" -d "postgresql://postgres@127.0.0.1:$PRIMARY_PORT/" -D "$DIR/replica" -R -X stream -c fast
pgctl replica "$REPLICA_PORT" start >/dev/null
for _ in $(seq 300); do
  [ "$(psql -X -At -d "$REPLICA" -c "SELECT pg_last_wal_replay_lsn() >= '$(psql -X -At -d "$PRIMARY" -c 'SELECT pg_current_wal_lsn()')'" 2>/dev/null)" = t ] && break
  sleep 1
done
replica_reads() { psql -X -At -d "$REPLICA" -c "SELECT tup_returned FROM pg_stat_database WHERE datname = 'audit'"; }

serve() { # NAME [server args…]
  "$BIN" serve --database-url "$PRIMARY" --listen "127.0.0.1:$PORT" --db-pool-size "$POOL" "${@:2}" >"$OUT/server-$1.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 150); do curl -sf -m 2 "http://127.0.0.1:$PORT/readyz" >/dev/null && return 0; sleep 0.2; done
  echo "server $1 not ready" >&2; exit 1
}
for run in $(seq "$RUNS"); do
  for setup in primary replica; do
    if [ "$setup" = primary ]; then serve primary; else serve replica --read-database-url "$REPLICA"; fi
    for q in a c; do
      before=$(replica_reads)
      AUTH="Bearer $KEY" "$HERE/gql-load.sh" "http://127.0.0.1:$PORT/graphql" "$OUT/queries/$q.graphql" "$CONNS" "$SECS" \
        >"$OUT/raw/$setup-$q.run$run.txt" 2>&1
      echo "$(( $(replica_reads) - before ))" >"$OUT/raw/$setup-$q.run$run.replica-rows"
      say "$setup ($q) run $run: $(grep '^RESULT' "$OUT/raw/$setup-$q.run$run.txt" | cut -c1-120)"
    done
    kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
  done
done

python3 - "$OUT" "$RUNS" <<'PY' | tee "$OUT/summary.md"
import re, statistics, sys
out, runs = sys.argv[1], int(sys.argv[2])
def result(setup, q, run):
    text = open("%s/raw/%s-%s.run%d.txt" % (out, setup, q, run)).read()
    line = [l for l in text.splitlines() if l.startswith("RESULT")][0]
    return {k: float(v) for k, v in re.findall(r"(\w+)=([0-9.]+)", line)}
names = {"a": "(a) newest 50 + actor, resource", "c": "(c) prefix + 7-day range, 50"}
print("| read, %s runs, median | primary alone req/s | p50 / p99 ms | with the replica req/s | p50 / p99 ms | ratio | rows the standby returned |" % runs)
print("|---|---:|---:|---:|---:|---:|---:|")
for q in ("a", "c"):
    med = lambda setup, key: statistics.median(result(setup, q, r)[key] for r in range(1, runs + 1))
    rows = sum(int(open("%s/raw/replica-%s.run%d.replica-rows" % (out, q, r)).read()) for r in range(1, runs + 1))
    idle = sum(int(open("%s/raw/primary-%s.run%d.replica-rows" % (out, q, r)).read()) for r in range(1, runs + 1))
    p, s = med("primary", "req_per_s"), med("replica", "req_per_s")
    print("| %s | %.0f | %.2f / %.2f | %.0f | %.2f / %.2f | %.2f× | %d (primary alone: %d) |" % (
        names[q], p, med("primary", "p50_ms"), med("primary", "p99_ms"), s, med("replica", "p50_ms"),
        med("replica", "p99_ms"), s / p, rows, idle))
PY
