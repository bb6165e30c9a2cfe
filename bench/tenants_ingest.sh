#!/usr/bin/env bash
# Usage: bench/tenants_ingest.sh DB_URL BIN BODY.json [SECONDS]
#
# Ingest from four clients, with the two search indexes (ix_event_metadata,
# ix_event_words) and without them: first all four into one tenant, whose
# ledger head lets one recording at a time in (so whatever the indexes cost is
# paid while the others wait), then each into a tenant of its own. BODY.json is
# a recordAuditEvents body of 1,000 events (bench/run.sh writes one:
# bench/results/<time>/queries/record-1000.json). Uses tenants bench-t1 …
# bench-t4 (made when missing) and a server of BIN on 127.0.0.1:18096; their
# events are deleted after each configuration, and the indexes are built
# again at the end (also when interrupted: building them takes minutes).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
DB=$1 BIN=$2 BODY=$3 SECS=${4:-30}
URL=http://127.0.0.1:18096/graphql
OUT=$(mktemp -d)
sql() { psql -X -q -v ON_ERROR_STOP=1 -At -d "$DB" -c "$1"; }

declare -a KEYS TIDS
for t in 1 2 3 4; do
  [ "$(sql "SELECT 1 FROM tenant WHERE slug = 'bench-t$t'")" = 1 ] \
    || "$BIN" tenant create "bench-t$t" --name "Benchmark tenant $t" --database-url "$DB" >/dev/null
  TIDS[$t]=$(sql "SELECT id FROM tenant WHERE slug = 'bench-t$t'")
  KEYS[$t]=$("$BIN" key create --tenant "bench-t$t" --scopes audit.write --name "tenants ingest" --database-url "$DB" 2>/dev/null)
done
"$BIN" serve --database-url "$DB" --listen 127.0.0.1:18096 >"$OUT/server.log" 2>&1 &
SERVER=$!
restore() {
  kill "$SERVER" 2>/dev/null || true
  sql "CREATE INDEX IF NOT EXISTS ix_event_metadata ON audit_event USING gin (metadata jsonb_path_ops)"
  sql "CREATE INDEX IF NOT EXISTS ix_event_words ON audit_event USING gin (to_tsvector('simple', search_words))"
}
trap restore EXIT
until curl -sf http://127.0.0.1:18096/healthz >/dev/null; do sleep 0.3; done

clean() {
  for t in 1 2 3 4; do
    sql "SET session_replication_role = replica; DELETE FROM event_resource WHERE tenant_id = '${TIDS[$t]}';
         DELETE FROM audit_event WHERE tenant_id = '${TIDS[$t]}'; DELETE FROM audit_event_day_count WHERE tenant_id = '${TIDS[$t]}'"
  done
  sql "VACUUM (ANALYZE) audit_event, event_resource"
}
rate() { sed -nE 's/^RESULT .*req_per_s=([0-9.]+).*/\1/p' "$1"; }
# Events/s of four clients: into tenant 1 alone ("one"), or one tenant each ("four").
measure() {
  local label=$1 mode=$2 total=0
  if [ "$mode" = one ]; then
    WARMUP=2 AUTH="Bearer ${KEYS[1]}" "$HERE/gql-load.sh" "$URL" "$BODY" 4 "$SECS" >"$OUT/$label.txt" 2>&1
    total=$(rate "$OUT/$label.txt")
  else
    for t in 1 2 3 4; do
      WARMUP=2 AUTH="Bearer ${KEYS[$t]}" "$HERE/gql-load.sh" "$URL" "$BODY" 1 "$SECS" >"$OUT/$label.$t.txt" 2>&1 &
    done
    wait $(jobs -p | grep -v "^$SERVER$")
    for t in 1 2 3 4; do total=$(python3 -c "print($total + $(rate "$OUT/$label.$t.txt"))"); done
  fi
  python3 -c "print(round($total * 1000))" >"$OUT/$label.events"
  echo "$label: $(cat "$OUT/$label.events") events/s" >&2
  clean
}

clean
measure with-one one
measure with-four four
sql "DROP INDEX ix_event_metadata; DROP INDEX ix_event_words"
measure without-one one
measure without-four four
echo "| four clients, batch 1,000 | with the indexes: events/s | without: events/s | with/without |"
echo "|---|---:|---:|---:|"
for mode in one four; do
  w=$(cat "$OUT/with-$mode.events") wo=$(cat "$OUT/without-$mode.events")
  name=$([ "$mode" = one ] && echo "into one tenant" || echo "each into its own tenant")
  echo "| $name | $w | $wo | $(python3 -c "print('%.2f×' % ($w / $wo))") |"
done
echo "(raw outputs: $OUT)"
