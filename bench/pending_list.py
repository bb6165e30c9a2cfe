#!/usr/bin/env python3
"""pending_list.py DB_URL BIN QUERIES_DIR LIMIT BATCHES

What GIN's pending list costs searches: sets `gin_pending_list_limit` (kB, or
"default") on the current month's two search indexes, turns autovacuum off for
that month (so nothing merges the list but the inserts themselves), starts
BIN's server on 127.0.0.1:18090, measures three searches of a bench run's
QUERIES_DIR (s-word, s-common, s-meta-eq: 40 each after 5 warm-ups, p50 and
p90 ms), records BATCHES batches of that directory's record-1000.json into the
tenant bench-write from one client, reads the pending list's size
(`pgstatginindex`, extension pgstattuple) and measures the searches again.
Afterwards it puts the settings back and VACUUMs the month; the recorded
events stay until bench/run.sh's next cleanup. Needs psql and a database that
bench/run.sh has prepared (tenants seed-1 and bench-write).
"""

import json
import statistics
import subprocess
import sys
import time
import urllib.request

DB, BIN, QUERIES, LIMIT, BATCHES = sys.argv[1], sys.argv[2], sys.argv[3].rstrip("/") + "/", sys.argv[4], int(sys.argv[5])
BASE = "http://127.0.0.1:18090"
SEARCHES = ["s-word", "s-common", "s-meta-eq"]


def sql(text):
    return subprocess.run(["psql", DB, "-Atc", text], capture_output=True, text=True, check=True).stdout.strip()


def post(body, key):
    request = urllib.request.Request(BASE + "/graphql", body,
                                     {"Content-Type": "application/json", "Authorization": "Bearer " + key})
    return json.loads(urllib.request.urlopen(request, timeout=120).read())


def latency(key, name, n=40, warmup=5):
    body = json.dumps({"query": open(QUERIES + name + ".graphql").read(),
                       "variables": json.load(open(QUERIES + name + ".vars.json"))}).encode()
    times = []
    for i in range(n + warmup):
        started = time.perf_counter()
        answer = post(body, key)
        if "errors" in answer:
            raise SystemExit("%s failed: %s" % (name, answer["errors"]))
        if i >= warmup:
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"p50_ms": round(statistics.median(times), 1), "p90_ms": round(times[int(len(times) * 0.9)], 1)}


def key(tenant, scopes):
    return subprocess.run([BIN, "key", "create", "--tenant", tenant, "--scopes", scopes, "--name", "pending list",
                           "--database-url", DB], capture_output=True, text=True, check=True).stdout.strip()


month = "audit_event_p" + time.strftime("%Y_%m", time.gmtime())
indexes = {ix: sql("SELECT i.inhrelid::regclass FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                   "WHERE i.inhparent = '%s'::regclass AND c.relname LIKE '%s%%'" % (ix, month))
           for ix in ["ix_event_words", "ix_event_metadata"]}
sql("CREATE EXTENSION IF NOT EXISTS pgstattuple")
sql("ALTER TABLE %s SET (autovacuum_enabled = false)" % month)
sql("VACUUM %s" % month)
for index in indexes.values():
    setting = "RESET (gin_pending_list_limit)" if LIMIT == "default" else "SET (gin_pending_list_limit = %s)" % LIMIT
    sql('ALTER INDEX "%s" %s' % (index, setting))
server = subprocess.Popen([BIN, "serve", "--database-url", DB, "--listen", "127.0.0.1:18090"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    for _ in range(100):
        try:
            urllib.request.urlopen(BASE + "/healthz", timeout=1)
            break
        except OSError:
            time.sleep(0.3)
    reader, writer = key("seed-1", "audit.read"), key("bench-write", "audit.write")
    before = {name: latency(reader, name) for name in SEARCHES}
    batch = open(QUERIES + "record-1000.json", "rb").read()
    started = time.perf_counter()
    for _ in range(BATCHES):
        post(batch, writer)
    took = time.perf_counter() - started
    pending = {ix: sql("SELECT pending_pages || ' pages, ' || pending_tuples || ' entries' FROM pgstatginindex('%s')"
                       % index) for ix, index in indexes.items()}
    after = {name: latency(reader, name) for name in SEARCHES}
    print(json.dumps({"limit_kb": LIMIT, "events": BATCHES * 1000, "ingest_s": round(took, 1), "pending": pending,
                      "searches_before": before, "searches_with_the_list": after}, indent=1))
finally:
    server.terminate()
    server.wait()
    sql("ALTER TABLE %s RESET (autovacuum_enabled)" % month)
    for index in indexes.values():
        sql('ALTER INDEX "%s" RESET (gin_pending_list_limit)' % index)
    sql("VACUUM ANALYZE %s" % month)
