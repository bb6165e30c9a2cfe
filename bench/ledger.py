#!/usr/bin/env python3
"""The ledger, export and stream figures of bench/run.sh (issues 11 and 12):

  proofs   inclusion proofs (GraphQL `auditEvent(id).inclusionProof` and REST
           `/v1/events/{id}/proof`) of random events and consistency proofs
           (`ledger.consistencyProof`) between random sizes, one keep-alive
           connection, one request at a time: p50/p90/p99/max
  export   `GET /export?format=ndjson` of the whole tenant by one client:
           events/s, MB/s, and the server's RSS before, at its highest during,
           and its peak (VmHWM) growth
  streams  a webhook stream to a receiver in this process (loopback,
           signatures checked) while events are recorded at a steady rate:
           record → received latency p50/p99/max (from the moment the
           recording request was sent), and the stream's largest `lag`
  table    the markdown of every figure above found in OUTDIR, and of the
           SEQUENCE-vs-OCCURRED_AT page runs (wrk, raw/ours-pseq-*, ours-pocc-*)

Every subcommand is called by run.sh (BENCH_ONLY=proofs,sequence,export,streams);
`page-queries` writes the query files of the SEQUENCE-vs-OCCURRED_AT runs;
`proofs`, `export` and `streams` write OUTDIR/ledger/<name>.json and print it.
Python 3.11, standard library only.
"""
import base64
import hashlib
import hmac
import http.client
import http.server
import json
import os
import random
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tools  # noqa: E402  (psql, parse_wrk, collect, fmt)


def log(msg):
    print("[ledger %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


def pct(values, p):
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))]


def summary_ms(seconds):
    """p50/p90/p99/max in ms of a list of durations in seconds."""
    ms = [x * 1000 for x in seconds]
    return {"n": len(ms), "p50_ms": pct(ms, 50), "p90_ms": pct(ms, 90), "p99_ms": pct(ms, 99),
            "max_ms": max(ms) if ms else None}


def save(outdir, name, result):
    os.makedirs(os.path.join(outdir, "ledger"), exist_ok=True)
    with open(os.path.join(outdir, "ledger", name + ".json"), "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result))


def memory(pid):
    """(VmRSS, VmHWM) of a process in KiB."""
    vals = {}
    with open("/proc/%s/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                vals[k] = int(v.split()[0])
    return vals["VmRSS"], vals["VmHWM"]


class Http:
    """One keep-alive HTTP/1.1 connection to the server."""

    def __init__(self, base, key, timeout=60):
        u = urllib.parse.urlsplit(base)
        self.host, self.port, self.key, self.timeout = u.hostname, u.port, key, timeout
        self.conn = None

    def request(self, method, path, body=None):
        """(status, parsed JSON body, seconds); raises on a transport error."""
        headers = {"Authorization": "Bearer " + self.key, "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
            body = json.dumps(body)
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        t0 = time.perf_counter()
        try:
            self.conn.request(method, path, body, headers)
            r = self.conn.getresponse()
            raw = r.read()
        except Exception:
            self.conn.close()
            self.conn = None
            raise
        return r.status, json.loads(raw) if raw else None, time.perf_counter() - t0

    def gql(self, query, variables=None):
        status, body, secs = self.request("POST", "/graphql", {"query": query, "variables": variables or {}})
        if status != 200 or body.get("errors"):
            raise SystemExit("GraphQL failed: HTTP %s %s" % (status, json.dumps(body)[:500]))
        return body["data"], secs


# ---------------------------------------------------------------- proofs

INCLUSION = "query($id: ID!) { auditEvent(id: $id) { inclusionProof { leafIndex treeSize hashes } } }"
CONSISTENCY = "query($f: BigInt!, $t: BigInt) { ledger { consistencyProof(fromSize: $f, toSize: $t) } }"


def cmd_proofs(args):
    """proofs OUTDIR BASE KEY DBURL TENANT_ID N: proof latency over N random events/sizes each."""
    outdir, base, key, db_url, tenant, n = args[0], args[1], args[2], args[3], args[4], int(args[5])
    client = Http(base, key)
    size = int(client.gql("{ ledger { size } }")[0]["ledger"]["size"])
    rng = random.Random(11)
    wanted = sorted({rng.randint(1, size) for _ in range(n)})
    rows = tools.psql(db_url, "SELECT replace(id::text, '-', '') FROM audit_event WHERE tenant_id = %s "
                              "AND sequence = ANY('{%s}'::bigint[])" % (tools.q(tenant), ",".join(map(str, wanted))))
    ids = ["evt_" + line for line in rows.split()]
    rng.shuffle(ids)
    if not ids:
        raise SystemExit("no events found in tenant %s" % tenant)
    log("%d random events of a tree of %d; %d requests per kind after a warm-up" % (len(ids), size, len(ids)))

    def graphql_inclusion(event_id):
        data, secs = client.gql(INCLUSION, {"id": event_id})
        assert data["auditEvent"]["inclusionProof"]["hashes"] is not None
        return secs

    def rest_inclusion(event_id):
        status, body, secs = client.request("GET", "/v1/events/%s/proof" % event_id)
        if status != 200:
            raise SystemExit("REST proof: HTTP %s %s" % (status, body))
        return secs

    pairs = [sorted(rng.sample(range(1, size + 1), 2)) if size > 1 else [1, 1] for _ in range(len(ids))]

    def consistency(pair):
        data, secs = client.gql(CONSISTENCY, {"f": str(pair[0]), "t": str(pair[1])})
        assert isinstance(data["ledger"]["consistencyProof"], list)
        return secs

    result = {"tree_size": size, "events": len(ids)}
    for name, fn, inputs in (("inclusion_graphql", graphql_inclusion, ids), ("inclusion_rest", rest_inclusion, ids),
                             ("consistency_graphql", consistency, pairs)):
        for x in inputs[:min(100, len(inputs))]:  # warm-up: connection, key cache, plans
            fn(x)
        t0 = time.perf_counter()
        times = [fn(x) for x in inputs]
        result[name] = dict(summary_ms(times), req_per_s=len(times) / (time.perf_counter() - t0))
        log("%s: p50 %.2f ms, p99 %.2f ms" % (name, result[name]["p50_ms"], result[name]["p99_ms"]))
    save(outdir, "proofs", result)


# ---------------------------------------------------------------- export

def cmd_export(args):
    """export OUTDIR BASE KEY PID: one NDJSON export of the whole tenant, timed, RSS sampled."""
    outdir, base, key, pid = args[0], args[1], args[2], int(args[3])
    u = urllib.parse.urlsplit(base)
    rss0, hwm0 = memory(pid)
    peak = [rss0]
    done = threading.Event()

    def sample():
        while not done.wait(0.1):
            peak[0] = max(peak[0], memory(pid)[0])

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    t0 = time.perf_counter()
    conn.request("GET", "/export?format=ndjson", headers={"Authorization": "Bearer " + key})
    r = conn.getresponse()
    if r.status != 200:
        raise SystemExit("export: HTTP %s %s" % (r.status, r.read()[:300]))
    size = int(r.getheader("audit-tree-size"))
    first_byte = time.perf_counter() - t0
    lines = nbytes = 0
    while True:
        chunk = r.read(1 << 20)
        if not chunk:
            break
        lines += chunk.count(b"\n")
        nbytes += len(chunk)
    secs = time.perf_counter() - t0
    done.set()
    sampler.join()
    rss1, hwm1 = memory(pid)
    if lines != size:
        raise SystemExit("export: %d lines for a tree of %d" % (lines, size))
    result = {"events": lines, "bytes": nbytes, "seconds": secs, "first_byte_ms": first_byte * 1000,
              "events_per_s": lines / secs, "mb_per_s": nbytes / secs / 1e6,
              "rss_before_mib": rss0 / 1024, "rss_peak_mib": peak[0] / 1024, "rss_after_mib": rss1 / 1024,
              "rss_growth_mib": (peak[0] - rss0) / 1024, "hwm_before_mib": hwm0 / 1024, "hwm_after_mib": hwm1 / 1024,
              "hwm_growth_mib": (hwm1 - hwm0) / 1024}
    log("%d events in %.1f s: %.0f events/s, RSS +%.1f MiB" % (lines, secs, result["events_per_s"],
                                                               result["rss_growth_mib"]))
    save(outdir, "export", result)


# ---------------------------------------------------------------- streams

class Receiver(http.server.ThreadingHTTPServer):
    """A loopback webhook receiver: checks each request's signature and
    records, per event, when it arrived after its recording began."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Hook)
        self.secret = None
        self.lock = threading.Lock()
        self.latencies = []
        self.sequences = []
        self.requests = 0
        self.bad = 0

    @property
    def url(self):
        return "http://127.0.0.1:%d/hook" % self.server_address[1]


class Hook(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        now = time.time()
        srv = self.server
        ok = False
        if srv.secret:
            key = base64.b64decode(srv.secret.removeprefix("whsec_"))
            signed = ("%s.%s." % (self.headers["webhook-id"], self.headers["webhook-timestamp"])).encode() + body
            expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
            ok = any(hmac.compare_digest(expected, s) for s in self.headers.get("webhook-signature", "").split())
        events = json.loads(body)["data"]["events"]
        with srv.lock:
            srv.requests += 1
            srv.bad += 0 if ok else 1
            for e in events:
                sent = (e.get("metadata") or {}).get("sentAt")
                if sent is not None:
                    srv.latencies.append(now - sent)
                    srv.sequences.append(int(e["sequence"]))
        self.send_response(204)
        self.send_header("content-length", "0")
        self.end_headers()


CREATE = ("mutation($i: CreateEventStreamInput!) { createEventStream(input: $i) { signingSecret stream { id } } }")
RECORD = "mutation($e: [AuditEventInput!]!) { recordAuditEvents(events: $e) { createdCount } }"


def cmd_streams(args):
    """streams OUTDIR BASE KEY RATE SECS BATCH: webhook delivery latency at RATE events/s for SECS."""
    outdir, base, key = args[0], args[1], args[2]
    rate, secs, batch = float(args[3]), float(args[4]), int(args[5])
    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    admin = Http(base, key)
    run = "%x" % int(time.time())
    prefix = "bench.stream.%s." % run
    data, _ = admin.gql(CREATE, {"i": {"name": "bench " + run, "webhook": {"url": receiver.url},
                                       "filter": {"action": {"prefix": prefix}}}})
    receiver.secret = data["createEventStream"]["signingSecret"]
    stream_id = data["createEventStream"]["stream"]["id"]
    log("stream %s to %s; %d events/s in batches of %d for %.0f s" % (stream_id, receiver.url, rate, batch, secs))
    max_lag = [0]
    stop = threading.Event()

    def watch_lag():
        c = Http(base, key)
        while not stop.wait(0.5):
            for s in c.gql("{ eventStreams { id lag } }")[0]["eventStreams"]:
                if s["id"] == stream_id:
                    max_lag[0] = max(max_lag[0], int(s["lag"]))

    watcher = threading.Thread(target=watch_lag, daemon=True)
    watcher.start()
    writer = Http(base, key)
    interval = batch / rate
    sent = 0
    acks = []
    behind = 0
    t_start = time.perf_counter()
    next_at = t_start
    while time.perf_counter() - t_start < secs:
        now = time.perf_counter()
        if now < next_at:
            time.sleep(next_at - now)
        elif now - next_at > interval:
            behind += 1
        next_at += interval
        sent_at = time.time()
        events = [{"action": prefix + "tick", "actor": {"type": "SERVICE_ACCOUNT", "externalId": "bench"},
                   "metadata": {"sentAt": sent_at, "n": sent + i}} for i in range(batch)]
        _, ack = writer.gql(RECORD, {"e": events})
        acks.append(ack)
        sent += batch
    elapsed = time.perf_counter() - t_start
    deadline = time.time() + 60
    while time.time() < deadline:
        with receiver.lock:
            if len(set(receiver.sequences)) >= sent:
                break
        time.sleep(0.1)
    stop.set()
    watcher.join()
    admin.gql("mutation($id: ID!) { deleteEventStream(id: $id) { stream { id } } }", {"id": stream_id})
    receiver.shutdown()
    with receiver.lock:
        distinct = len(set(receiver.sequences))
        result = dict(summary_ms(receiver.latencies), sent=sent, received=len(receiver.sequences),
                      distinct=distinct, missing=sent - distinct, requests=receiver.requests,
                      bad_signatures=receiver.bad, rate_offered=rate, rate_achieved=sent / elapsed,
                      seconds=elapsed, batch=batch, max_lag=max_lag[0], record_ack=summary_ms(acks),
                      late_batches=behind)
    log("%d events: p50 %.0f ms, p99 %.0f ms, max lag %d, missing %d" % (
        sent, result["p50_ms"] or 0, result["p99_ms"] or 0, max_lag[0], result["missing"]))
    save(outdir, "streams", result)


# ---------------------------------------------------------------- page queries

def cmd_page_queries(args):
    """page-queries QDIR: newest 50 by OCCURRED_AT (pocc) and by SEQUENCE (pseq), as query (a) selects."""
    qdir = args[0]
    for name, field in (("pocc", "OCCURRED_AT"), ("pseq", "SEQUENCE")):
        text = ("query Newest%s($first: Int!) {\n  auditEvents(first: $first, orderBy: {field: %s, direction: DESC}) {\n"
                "    %s\n  }\n}\n" % (name.title(), field, tools.PAGE_SELECTION))
        tools.write_query(qdir, name, text, {"first": 50})


# ---------------------------------------------------------------- table

def cmd_table(args):
    """table OUTDIR: the markdown of the ledger, export and stream figures (appended to summary.md)."""
    outdir = args[0]
    meta = json.load(open(os.path.join(outdir, "meta.json")))
    raw = os.path.join(outdir, "raw")

    def load(name):
        path = os.path.join(outdir, "ledger", name + ".json")
        return json.load(open(path)) if os.path.exists(path) else None

    f = tools.fmt
    L = ["### Ledger, export and streams — %s" % meta.get("started", ""), ""]
    if meta.get("smoke"):
        L += ["**Smoke run on small data — not the measured set; do not quote these figures.**", ""]
    L.append("Tenant `seed-1`: %s events; machine: %s cores, load average at start %s."
             % (f(meta.get("tenant_size")), meta.get("cores"), meta.get("loadavg")))
    L.append("")
    proofs = load("proofs")
    if proofs:
        L.append("Proofs at a tree of %s events, %s random events (or size pairs), one connection, one request "
                 "at a time:" % (f(proofs["tree_size"]), f(proofs["events"])))
        L.append("")
        L.append("| proof | p50 ms | p90 ms | p99 ms | max ms | req/s |")
        L.append("|---|---:|---:|---:|---:|---:|")
        for k, name in (("inclusion_graphql", "inclusion, GraphQL `auditEvent(id) { inclusionProof }`"),
                        ("inclusion_rest", "inclusion, REST `/v1/events/{id}/proof`"),
                        ("consistency_graphql", "consistency, GraphQL `ledger { consistencyProof }`")):
            p = proofs[k]
            L.append("| %s | %s | %s | %s | %s | %s |" % (name, f(p["p50_ms"], 2), f(p["p90_ms"], 2),
                                                          f(p["p99_ms"], 2), f(p["max_ms"], 2), f(p["req_per_s"])))
        L.append("")
    rows = []
    conns = meta.get("conns", 8)
    for label, name in (("pocc", "`OCCURRED_AT DESC`"), ("pseq", "`SEQUENCE DESC`")):
        o8 = tools.collect(raw, "ours-%s-%dc" % (label, conns), tools.parse_wrk)
        o1 = tools.collect(raw, "ours-%s-1c" % label, tools.parse_wrk)
        if o8 or o1:
            rows.append((name, o8, o1))
    if rows:
        L.append("Newest 50 events with actor, resource and pageInfo, by ordering (wrk, median of runs):")
        L.append("")
        L.append("| order | req/s (%dc) | p50 ms | p99 ms | req/s (1c) | p50 ms (1c) | p99 ms (1c) | errors |" % conns)
        L.append("|---|---:|---:|---:|---:|---:|---:|---:|")
        for name, o8, o1 in rows:
            errs = int(sum((x or {}).get("errors", 0) for x in (o8, o1)))
            L.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                name, f(o8 and o8["req_per_s"]), f(o8 and o8["p50_ms"], 2), f(o8 and o8["p99_ms"], 2),
                f(o1 and o1["req_per_s"]), f(o1 and o1["p50_ms"], 2), f(o1 and o1["p99_ms"], 2), errs))
        if len(rows) == 2 and rows[0][1] and rows[1][1]:
            L.append("")
            L.append("SEQUENCE / OCCURRED_AT throughput at %d connections: %s." % (
                conns, tools.ratio(rows[1][1]["req_per_s"], rows[0][1]["req_per_s"])))
        L.append("")
    export = load("export")
    if export:
        L.append("Export, NDJSON, one client: %s events (%s MB) in %s s: **%s events/s** (%s MB/s), first byte "
                 "after %s ms; server RSS %s MiB before, %s MiB at most during (+%s MiB), VmHWM +%s MiB." % (
                     f(export["events"]), f(export["bytes"] / 1e6), f(export["seconds"], 1),
                     f(export["events_per_s"]), f(export["mb_per_s"], 1), f(export["first_byte_ms"]),
                     f(export["rss_before_mib"], 1), f(export["rss_peak_mib"], 1), f(export["rss_growth_mib"], 1),
                     f(export["hwm_growth_mib"], 1)))
        L.append("")
    streams = load("streams")
    if streams:
        L.append("Stream delivery to a loopback webhook (Python receiver, signatures checked), %s events/s offered "
                 "(%s achieved) in batches of %s for %s s, server `--stream-poll` %s:" % (
                     f(streams["rate_offered"]), f(streams["rate_achieved"]), streams["batch"],
                     f(streams["seconds"]), meta.get("stream_poll") or "250ms (default)"))
        L.append("")
        L.append("| record → received | p50 ms | p90 ms | p99 ms | max ms | max lag (events) | delivered | missing |")
        L.append("|---|---:|---:|---:|---:|---:|---:|---:|")
        L.append("| webhook | %s | %s | %s | %s | %s | %s / %s | %s |" % (
            f(streams["p50_ms"]), f(streams["p90_ms"]), f(streams["p99_ms"]), f(streams["max_ms"]),
            f(streams["max_lag"]), f(streams["distinct"]), f(streams["sent"]), f(streams["missing"])))
        L.append("")
        L.append("(Recording a batch: p50 %s ms, p99 %s ms; %d requests, %d bad signatures.)" % (
            f(streams["record_ack"]["p50_ms"], 1), f(streams["record_ack"]["p99_ms"], 1), streams["requests"],
            streams["bad_signatures"]))
        L.append("")
    text = "\n".join(L) + "\n"
    with open(os.path.join(outdir, "summary.md"), "a") as out:
        out.write("\n" + text)
    print(text)


COMMANDS = {"proofs": cmd_proofs, "export": cmd_export, "streams": cmd_streams, "page-queries": cmd_page_queries,
            "table": cmd_table}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        for name, fn in COMMANDS.items():
            print("%-8s %s" % (name, (fn.__doc__ or "").strip().splitlines()[0]))
        sys.exit(2)
    COMMANDS[sys.argv[1]](sys.argv[2:])
