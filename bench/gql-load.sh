#!/usr/bin/env bash
# Usage: bench/gql-load.sh URL QUERYFILE [CONNS] [SECONDS]     (defaults 8 connections, 10 s)
#
# Loads a GraphQL endpoint on this machine with wrk: every request POSTs the
# same JSON body {"query": ..., "variables": ...} (or, for a *.json file, that
# file: a REST body such as POST /v1/events takes).
#   QUERYFILE  *.json     sent as the body verbatim
#              otherwise  GraphQL text; variables from the sibling file
#                         <QUERYFILE without .graphql>.vars.json if present,
#                         else from $VARS (a JSON object), else none
#            `@AGO:N@` in the body becomes the instant N seconds before each
#            request (a console preset range, which moves with the clock)
# AUTH, when set, is sent as the Authorization header (e.g. "Bearer agk_...").
# CPU_PID, when set, is the server's PID: its CPU time (user + system, every
# thread) over the measured run is printed as a "CPU cpu_s=... ms_per_request=..." line.
# Loopback only (127.0.0.0/8, localhost, [::1]); SECONDS is capped at 30.
# Before the measured run: one request checked with curl (HTTP 2xx, no
# "errors", prints the response size) and a WARMUP-second wrk run (default 3,
# not reported; WARMUP=0 skips it). wrk uses WRK_THREADS threads (default 1:
# the machine has 2 cores, shared by wrk, the server and PostgreSQL).
# Output: wrk's own report, then one "RESULT ..." line (requests/s, mean and
# p50/p90/p99/p99.9/max latency in ms, errors).
set -euo pipefail
if [ $# -lt 2 ]; then sed -n '2,18p' "$0" >&2; exit 2; fi
URL=$1
QUERYFILE=$2
CONNS=${3:-8}
SECS=${4:-10}
WARMUP=${WARMUP:-3}
WRK_THREADS=${WRK_THREADS:-1}
HERE=$(cd "$(dirname "$0")" && pwd)

HOSTPART=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.urlsplit(sys.argv[1]).hostname or "")' "$URL")
case "$HOSTPART" in
  localhost|::1|127.*) ;;
  *) echo "refusing: $URL is not a loopback address" >&2; exit 2 ;;
esac
if [ "$SECS" -gt 30 ]; then echo "capping duration at 30 s" >&2; SECS=30; fi
[ "$WARMUP" -le 30 ] || WARMUP=30
[ "$WRK_THREADS" -le "$CONNS" ] || WRK_THREADS=$CONNS
command -v wrk >/dev/null || { echo "wrk not installed: apt-get install -y wrk" >&2; exit 1; }

BODY=$(mktemp --suffix=.json)
trap 'rm -f "$BODY" "$BODY.check" "$BODY.resp" "$BODY.wrk"' EXIT
python3 - "$QUERYFILE" "$BODY" "$HERE" <<'PY'
import json, os, sys
qf, out = sys.argv[1], sys.argv[2]
sys.path.insert(0, sys.argv[3])
from tools import fill_now
text = open(qf).read()
if qf.endswith(".json"):
    json.loads(text)  # validate
    body = text
else:
    base = qf[:-len(".graphql")] if qf.endswith(".graphql") else qf
    vf = base + ".vars.json"
    if os.path.exists(vf):
        variables = json.load(open(vf))
    elif os.environ.get("VARS"):
        variables = json.loads(os.environ["VARS"])
    else:
        variables = {}
    body = json.dumps({"query": text, "variables": variables})
open(out, "w").write(body)
open(out + ".check", "w").write(fill_now(body))
PY

AUTH_ARGS=()
if [ -n "${AUTH:-}" ]; then AUTH_ARGS=(-H "Authorization: $AUTH"); fi
code=$(curl -sS -m 30 -o "$BODY.resp" -w '%{http_code}' -H 'content-type: application/json' \
        "${AUTH_ARGS[@]}" --data-binary @"$BODY.check" "$URL")
if [ "${code:0:1}" != 2 ] || grep -q '"errors"' "$BODY.resp"; then
  echo "check request failed: HTTP $code: $(head -c 600 "$BODY.resp")" >&2; exit 1
fi
echo "# $(date -u +%FT%TZ) $URL $(basename "$QUERYFILE"): check request OK, $(wc -c <"$BODY.resp") bytes: $(head -c 160 "$BODY.resp")..."

export GQL_BODY_FILE=$BODY
export GQL_AUTH=${AUTH:-}
if [ "$WARMUP" -gt 0 ]; then
  wrk -t "$WRK_THREADS" -c "$CONNS" -d "${WARMUP}s" --timeout 10s -s "$HERE/wrk-graphql.lua" "$URL" >/dev/null
fi
# utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat).
cpu_ticks() { [ -n "${CPU_PID:-}" ] && awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$CPU_PID/stat" || echo 0; }
echo "# wrk -t $WRK_THREADS -c $CONNS -d ${SECS}s --timeout 10s --latency -s wrk-graphql.lua $URL"
before=$(cpu_ticks)
wrk -t "$WRK_THREADS" -c "$CONNS" -d "${SECS}s" --timeout 10s --latency -s "$HERE/wrk-graphql.lua" "$URL" | tee "$BODY.wrk"
after=$(cpu_ticks)
if [ -n "${CPU_PID:-}" ]; then
  python3 - "$BODY.wrk" "$before" "$after" "$(getconf CLK_TCK)" <<'PY'
import re, sys
requests = int(re.search(r"^RESULT requests=(\d+)", open(sys.argv[1]).read(), re.M).group(1))
cpu = (int(sys.argv[3]) - int(sys.argv[2])) / int(sys.argv[4])
print("CPU cpu_s=%.2f ms_per_request=%.3f" % (cpu, cpu * 1000 / max(requests, 1)))
PY
fi
