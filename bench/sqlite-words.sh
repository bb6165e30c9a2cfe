#!/usr/bin/env bash
# bench/sqlite-words.sh — SQLite's word index (issue 24): a one-word `search`
# page of 50 at one connection (p50/p99), and ingest of 1,000-event batches
# from one connection (events/s), on a seeded SQLite tenant.
#
#   BIN=target/release/auditgraph bench/sqlite-words.sh
#   BIN=target/release/auditgraph BENCH_NO_TRIGGERS=1 bench/sqlite-words.sh   # ingest without the index's triggers
#
# Steps: seeds $BENCH_DIR/seed-$BENCH_EVENTS.db once (`auditgraph seed`, one
# tenant, seed-1) and measures on a fresh copy of it: the server migrates the
# copy (a build with the index builds it there), keys are made, then
# gql-load.sh measures each search of $BENCH_WORDS in seed-1 and the
# recording of a body of 1,000 events (the seeded events' newest 1,000, as
# inputs, but the server's own records) into tenant bench-write.
#
# Settings (environment):
#   BIN                 the server binary                  default target/release/auditgraph
#   BENCH_SEED_BIN      the binary that seeds (a build before the index, so
#                       that both builds can open copies)  default $BIN
#   BENCH_DIR           databases and results              default /tmp/auditgraph-words-bench
#   BENCH_EVENTS        events to seed                     default 100000
#   BENCH_SECS          seconds per measurement            default 10
#   BENCH_WORDS         the one-word searches              default "duplicate enterprise"
#   BENCH_PORT          the server's port                  default 18180
#   BENCH_NO_TRIGGERS=1 drop the index's triggers from the copy before serving
#   BENCH_BACKFILL=1    blank the copy's words first (as a release before search
#                       stored them; the seed must be of a build before the
#                       index) and time the server's backfill of them
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${BIN:-target/release/auditgraph}
SEED_BIN=${BENCH_SEED_BIN:-$BIN}
DIR=${BENCH_DIR:-/tmp/auditgraph-words-bench}
EVENTS=${BENCH_EVENTS:-100000}
SECS=${BENCH_SECS:-10}
WORDS=${BENCH_WORDS:-duplicate enterprise}
PORT=${BENCH_PORT:-18180}
mkdir -p "$DIR"
SEED="$DIR/seed-$EVENTS.db"
RUN="$DIR/run-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$RUN"
DB="$RUN/bench.db"
URL="sqlite://$DB?mode=rwc"

if [ ! -f "$SEED" ]; then
  "$SEED_BIN" seed --events "$EVENTS" --tenants 1 --database-url "sqlite://$SEED?mode=rwc" 2>&1 | tail -1
  sqlite3 "$SEED" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
fi
cp "$SEED" "$DB"
if [ "${BENCH_BACKFILL:-}" = 1 ]; then
  guard=$(sqlite3 "$DB" "SELECT sql FROM sqlite_master WHERE name = 'audit_event_no_update'")
  sqlite3 "$DB" "DROP TRIGGER audit_event_no_update; UPDATE audit_event SET search_words = ''; $guard"
fi
started=$(date +%s.%N)
"$BIN" migrate --database-url "$URL" >/dev/null
echo "migrate: $(python3 -c "import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 2))" "$started" "$(date +%s.%N)") s"
if [ "${BENCH_NO_TRIGGERS:-}" = 1 ]; then
  sqlite3 "$DB" "DROP TRIGGER IF EXISTS audit_event_words_insert; DROP TRIGGER IF EXISTS audit_event_words_delete;
                 DROP TRIGGER IF EXISTS audit_event_words_update"
fi
"$BIN" tenant create bench-write --name "Benchmark writes" --database-url "$URL" >/dev/null
KEY=$("$BIN" key create --tenant seed-1 --scopes audit.read --name bench --database-url "$URL" 2>/dev/null)
WKEY=$("$BIN" key create --tenant bench-write --scopes audit.write --name bench --database-url "$URL" 2>/dev/null)

"$BIN" serve --database-url "$URL" --listen "127.0.0.1:$PORT" >"$RUN/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
GQL="http://127.0.0.1:$PORT/graphql"
if [ "${BENCH_BACKFILL:-}" = 1 ]; then
  started=$(date +%s.%N)
  while [ "$(sqlite3 "$DB" "SELECT count(*) FROM word_backfill")" != 0 ]; do sleep 0.5; done
  echo "backfill: $(python3 -c "import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 1))" "$started" "$(date +%s.%N)") s"
fi

# The write body: the seeded tenant's newest 1,000 events, as inputs.
python3 - "$GQL" "$KEY" "$RUN/write.json" <<'PY'
import json, sys, urllib.request
url, key, out = sys.argv[1:4]
PAGE = """query($after: String) { auditEvents(first: 500, after: $after) {
  pageInfo { endCursor } nodes { action outcome occurredAt summary reason errorMessage environment sourceService
  correlationId metadata changes { field before after } recordedActor { type externalId displayName email }
  resource { type externalId name } relatedResources { type externalId name } } } }"""
def ask(variables):
    req = urllib.request.Request(url, json.dumps({"query": PAGE, "variables": variables}).encode(),
                                 {"content-type": "application/json", "authorization": "Bearer " + key})
    return json.load(urllib.request.urlopen(req))["data"]["auditEvents"]
events, after = [], None
while len(events) < 1000:
    page = ask({"after": after})
    after = page["pageInfo"]["endCursor"]
    for n in page["nodes"]:
        if n["sourceService"] == "auditgraph":  # the server's own records
            continue
        e = {k: v for k, v in n.items() if v not in (None, [], {}) and k != "recordedActor"}
        e["actor"] = {k: v for k, v in n["recordedActor"].items() if v is not None}
        events.append(e)
record = "mutation($events: [AuditEventInput!]!) { recordAuditEvents(events: $events) { createdCount } }"
json.dump({"query": record, "variables": {"events": events[:1000]}}, open(out, "w"))
PY

for word in $WORDS; do
  echo "{ auditEvents(first: 50, filter: {search: \"$word\"}) { nodes { id action occurredAt summary } } }" \
    >"$RUN/search-$word.graphql"
  AUTH="Bearer $KEY" "$HERE/gql-load.sh" "$GQL" "$RUN/search-$word.graphql" 1 "$SECS" | tee "$RUN/search-$word.txt" \
    | grep -E "^RESULT|check request"
done
AUTH="Bearer $WKEY" "$HERE/gql-load.sh" "$GQL" "$RUN/write.json" 1 "$SECS" | tee "$RUN/write.txt" | grep -E "^RESULT"
echo "results in $RUN"
