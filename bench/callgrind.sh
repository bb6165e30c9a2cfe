#!/usr/bin/env bash
# bench/callgrind.sh — server instructions per request, repeatable on a busy machine.
#
#   bench/callgrind.sh read  DB_URL KEY [N]     # request (a): newest 50 + actor + resource + pageInfo
#   bench/callgrind.sh write DB_URL KEY [N]     # recordAuditEvents, one body of 1,000 events per request
#
# Runs the release binary ($AUDITGRAPH_BIN, default target/release/auditgraph)
# under `valgrind --tool=callgrind`, sends 10 warm-up requests over one
# keep-alive connection, zeroes the counters, sends N more (default 200 reads,
# 5 writes), dumps, and prints instructions per request. Every response is
# checked for `errors`. The profile stays in $CG_OUT (default
# /tmp/callgrind.<mode>.out) for `callgrind_annotate --inclusive=no`.
# The database must be seeded (`auditgraph seed --events 100000`); KEY reads
# seed-1 (and, for writes, may write to its tenant: write runs add events).
# Wall-clock figures are meaningless under valgrind: only Ir counts.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
MODE=$1 DB_URL=$2 KEY=$3
N=${4:-$([ "$MODE" = read ] && echo 200 || echo 5)}
BIN=${AUDITGRAPH_BIN:-${CARGO_TARGET_DIR:-$HERE/../target}/release/auditgraph}
PORT=${CG_PORT:-18190}
OUT=${CG_OUT:-/tmp/callgrind.$MODE.out}
rm -f "$OUT" "$OUT".*

valgrind --tool=callgrind --callgrind-out-file="$OUT" --dump-instr=no \
  "$BIN" serve --database-url "$DB_URL" --listen "127.0.0.1:$PORT" --db-pool-size 8 \
  >"/tmp/callgrind.$MODE.log" 2>&1 &
VG=$!
trap 'kill $VG 2>/dev/null || true' EXIT
for _ in $(seq 600); do
  curl -sf -m 2 "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
  sleep 0.5
done

python3 - "$MODE" "$PORT" "$KEY" "$N" "$VG" "$OUT" <<'PY'
import http.client, json, subprocess, sys, uuid
mode, port, key, n, pid, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6]
SEL = """edges {
      cursor
      node { id action occurredAt actor { displayName } resource { name } }
    }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"""
READ = "query NewestPage($first: Int!) {\n  auditEvents(first: $first) {\n    %s\n  }\n}\n" % SEL
RECORD = ("mutation Record($events: [AuditEventInput!]!) {\n"
          "  recordAuditEvents(events: $events) { createdCount duplicateCount }\n}\n")
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
def post(body):
    conn.request("POST", "/graphql", json.dumps(body),
                 {"content-type": "application/json", "authorization": "Bearer " + key})
    r = json.loads(conn.getresponse().read())
    if r.get("errors"):
        sys.exit("errors: %s" % json.dumps(r["errors"])[:500])
    return r
def body():
    if mode == "read":
        return {"query": READ, "variables": {"first": 50}}
    run = uuid.uuid4().hex[:8]
    events = [{
        "action": "workspace.snapshot.create",
        "occurredAt": "2026-01-01T00:00:00Z",
        "actor": {"type": "USER", "externalId": "u-%d" % (i % 50), "displayName": "User %d" % (i % 50)},
        "resource": {"type": "snapshot", "externalId": "snap-%s-%d" % (run, i)},
        "relatedResources": [{"type": "workspace", "externalId": "ws-%d" % (i % 20)}],
        "request": {"method": "POST", "path": "/v1/snapshots", "status": 201, "ipAddress": "10.0.0.%d" % (i % 250)},
        "metadata": {"size_gb": i, "region": "eu-west-1"},
        "idempotencyKey": "cg-%s-%d" % (run, i),
    } for i in range(1000)]
    return {"query": RECORD, "variables": {"events": events}}
for _ in range(10):
    post(body())
bodies = [body() for _ in range(n)]
subprocess.run(["callgrind_control", "-z", pid], check=True, capture_output=True)
for b in bodies:
    post(b)
subprocess.run(["callgrind_control", "-d", pid], check=True, capture_output=True)
import glob, os
dump = max(glob.glob(out + ".*") or [out], key=os.path.getmtime)
total = 0
for line in open(dump):
    if line.startswith(("summary:", "totals:")):
        total = int(line.split()[1])
        break
print("%s: %d requests, %d instructions, %.0f instructions/request (profile %s)" % (mode, n, total, total / n, dump))
PY
