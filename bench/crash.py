#!/usr/bin/env python3
"""bench/crash.py - kill -9 the server mid-ingestion, restart, verify (issue 4).

    bench/crash.py                          # PostgreSQL, then SQLite
    CRASH_BACKENDS=postgres bench/crash.py  # one of them

For each backend: a fresh database (PostgreSQL faults_crash_<pid>, or a SQLite
file in a temporary directory), a tenant and a read/write key made with the CLI,
the server started on a free loopback port; CRASH_WRITERS threads record
batches of 1,000 events (every event of batch B carries {"batch": B, "i": i} in
metadata, correlationId "crash-B", idempotency key "crash-B-i", a primary and a
related resource). After CRASH_KILL_AFTER seconds the server gets SIGKILL; the
writers stop at their first failed request. The server is restarted on the same
database, then:

  1. per batch number, the stored events are counted in SQL (grouping on
     metadata->>'batch') and through the API (totalCount, filter correlationId);
     and the event_resource links per batch (2 per event);
     every acknowledged batch must hold 1,000 events, every batch 0 or 1,000;
  2. every batch that was sent but not acknowledged (in flight at the kill) is
     sent again with the same idempotency keys: it must come back either all
     created (it had rolled back) or all duplicates (it had committed, its
     acknowledgement was lost), never a mix;
  3. after that every batch sent holds exactly 1,000 events;
  4. `auditgraph verify --tenant` passes after the restart and again after the
     retries: every stored event (version-2 leaves, node IDs and links included)
     matches its leaf, and the tree its checkpoints.

Prints the counts; RESULT line; exit status 1 on a violation.
Settings: CRASH_BACKENDS (postgres,sqlite), CRASH_WRITERS (4), CRASH_KILL_AFTER (3 s).
"""
import os
import sqlite3
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from faultkit import (Client, Server, binary, gql_errors, log, pg_database, psql,
                      sqlite_database)

BACKENDS = os.environ.get("CRASH_BACKENDS", "postgres,sqlite").split(",")
WRITERS = int(os.environ.get("CRASH_WRITERS", 4))
KILL_AFTER = min(float(os.environ.get("CRASH_KILL_AFTER", 3)), 60)
BATCH = 1000

RECORD = """mutation($e: [AuditEventInput!]!) {
  recordAuditEvents(events: $e) { createdCount duplicateCount events { id } } }"""


def batch_events(b):
    return [{
        "action": "crash.batch.store",
        "actor": {"type": "SERVICE_ACCOUNT", "externalId": f"writer-{b % WRITERS}"},
        "resource": {"type": "blob", "externalId": f"blob-{b}-{i}"},
        "relatedResources": [{"type": "bucket", "externalId": f"bucket-{i % 10}"}],
        "summary": f"batch {b} event {i}",
        "correlationId": f"crash-{b}",
        "metadata": {"batch": b, "i": i},
        "idempotencyKey": f"crash-{b}-{i}",
    } for i in range(BATCH)]


class Run:
    def __init__(self):
        self.lock = threading.Lock()
        self.next = 0
        self.sent = set()
        self.acked = set()
        self.in_flight = set()   # failed by the kill
        self.errors = []         # failures before the kill, or odd answers
        self.killed = threading.Event()

    def take(self):
        with self.lock:
            b = self.next
            self.next += 1
            self.sent.add(b)
            return b


def writer(port, key, run, deadline):
    client = Client(port, key, timeout=60)
    while time.time() < deadline:
        b = run.take()
        status, body, _ = client.post(RECORD, {"e": batch_events(b)})
        err = gql_errors(status, body)
        with run.lock:
            if err is None:
                p = body["data"]["recordAuditEvents"]
                if p["createdCount"] == BATCH and len(p["events"]) == BATCH:
                    run.acked.add(b)
                else:
                    run.errors.append(f"batch {b}: createdCount {p['createdCount']} duplicateCount {p['duplicateCount']}")
            elif run.killed.is_set():
                run.in_flight.add(b)
                break
            else:
                run.errors.append(f"batch {b} before the kill: {err}")
                break
    client.close()


def sql_counts(backend, url, path):
    """{batch: (events, links)} for tenant `crash`."""
    q_events = ("SELECT {b} AS batch, count(*) FROM audit_event e JOIN tenant t ON t.id = e.tenant_id "
                "WHERE t.slug = 'crash' AND e.action = 'crash.batch.store' GROUP BY 1")
    q_links = ("SELECT {b} AS batch, count(*) FROM audit_event e JOIN tenant t ON t.id = e.tenant_id "
               "JOIN event_resource l ON l.event_id = e.id "
               "WHERE t.slug = 'crash' AND e.action = 'crash.batch.store' GROUP BY 1")
    if backend == "postgres":
        db = url.rsplit("/", 1)[1]
        b = "(e.metadata->>'batch')::int"
        ev = dict(tuple(map(int, line.split("|"))) for line in psql(db, q_events.format(b=b)).splitlines() if line)
        ln = dict(tuple(map(int, line.split("|"))) for line in psql(db, q_links.format(b=b)).splitlines() if line)
    else:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        b = "CAST(json_extract(e.metadata, '$.batch') AS INTEGER)"
        ev = dict(con.execute(q_events.format(b=b)).fetchall())
        ln = dict(con.execute(q_links.format(b=b)).fetchall())
        con.close()
    return {k: (ev.get(k, 0), ln.get(k, 0)) for k in set(ev) | set(ln)}


def api_count(client, b):
    status, body, _ = client.post("query($c: String) { auditEvents(first: 0, filter: {correlationId: $c}) { totalCount } }",
                                  {"c": f"crash-{b}"})
    err = gql_errors(status, body)
    if err:
        raise RuntimeError(err)
    return body["data"]["auditEvents"]["totalCount"]


def verify_tenant(server, slug):
    """None when `auditgraph verify --tenant` passes, else why it failed."""
    try:
        server.cli("verify", "--tenant", slug)
        return None
    except RuntimeError as e:
        return str(e)


def crash_once(bin_path, backend):
    if backend == "postgres":
        url, path = pg_database(f"faults_crash_{os.getpid()}"), None
    else:
        url, path = sqlite_database("crash")
    server = Server(bin_path, url, name=f"crash-{backend}")
    (key,) = server.setup_tenant("crash")
    server.start()
    run = Run()
    deadline = time.time() + KILL_AFTER + 30
    threads = [threading.Thread(target=writer, args=(server.port, key, run, deadline)) for _ in range(WRITERS)]
    log(f"{backend}: {WRITERS} writers, batches of {BATCH}; kill -9 after {KILL_AFTER} s")
    for t in threads:
        t.start()
    time.sleep(KILL_AFTER)
    with run.lock:
        run.killed.set()
        acked_at_kill = len(run.acked)
    server.kill9()
    log(f"{backend}: killed pid {server.proc.pid} (status {server.proc.returncode})")
    for t in threads:
        t.join(90)
    with run.lock:  # a reply racing the kill
        late_acks = len(run.acked) - acked_at_kill

    server.start()
    log(f"{backend}: restarted, pid {server.proc.pid}")
    verified = [verify_tenant(server, "crash")]
    counts = sql_counts(backend, url, path)
    client = Client(server.port, key, timeout=60)
    api = {b: api_count(client, b) for b in sorted(run.sent)}

    full = {b for b, (n, _) in counts.items() if n == BATCH}
    partial = {b: c for b, c in counts.items() if c[0] not in (0, BATCH)}
    bad_links = {b: c for b, c in counts.items() if c[0] == BATCH and c[1] != 2 * BATCH}
    lost = sorted(run.acked - full)
    api_mismatch = {b: (api[b], counts.get(b, (0, 0))[0]) for b in api if api[b] != counts.get(b, (0, 0))[0]}
    unexpected = sorted(set(counts) - run.sent)
    unacked = sorted(run.sent - run.acked)
    stored_unacked = sorted(set(unacked) & full)

    # Retry what was not acknowledged: all created or all duplicates.
    retry = {"created": 0, "duplicates": 0, "mixed": [], "errors": []}
    for b in unacked:
        status, body, _ = client.post(RECORD, {"e": batch_events(b)})
        err = gql_errors(status, body)
        if err:
            retry["errors"].append(f"batch {b}: {err}")
            continue
        p = body["data"]["recordAuditEvents"]
        if (p["createdCount"], p["duplicateCount"]) == (BATCH, 0):
            retry["created"] += 1
            if b in full:
                retry["mixed"].append(f"batch {b} was stored yet recorded again")
        elif (p["createdCount"], p["duplicateCount"]) == (0, BATCH):
            retry["duplicates"] += 1
            if b not in full:
                retry["mixed"].append(f"batch {b} was not stored yet reported duplicate")
        else:
            retry["mixed"].append(f"batch {b}: created {p['createdCount']} duplicates {p['duplicateCount']}")
    after = sql_counts(backend, url, path)
    not_full_after = sorted(b for b in run.sent if after.get(b, (0, 0)) != (BATCH, 2 * BATCH))
    verified.append(verify_tenant(server, "crash"))
    client.close()
    server.stop()

    print(f"## {backend}: kill -9 after {KILL_AFTER:.0f} s, {WRITERS} writers, batches of {BATCH}")
    print(f"batches sent:                      {len(run.sent)} (the last {len(run.in_flight)} in flight at the kill)")
    print(f"batches acknowledged:              {len(run.acked)} ({acked_at_kill} before the kill signal, {late_acks} racing it)")
    print(f"stored after restart (SQL):        {len(full)} full (1,000 events, 2,000 links), {len(partial)} partial, "
          f"{len(run.sent) - len(set(counts) & run.sent)} empty; events {sum(c[0] for c in counts.values())}")
    print(f"acknowledged but not stored:       {len(lost)} {lost[:10] if lost else ''}")
    print(f"stored but not acknowledged:       {len(stored_unacked)} (committed, reply lost to the kill) {stored_unacked[:10]}")
    print(f"partial batches:                   {len(partial)} {dict(list(partial.items())[:10]) if partial else ''}")
    print(f"batches with wrong link counts:    {len(bad_links)} {dict(list(bad_links.items())[:10]) if bad_links else ''}")
    print(f"API totalCount = SQL count:        {'yes' if not api_mismatch else f'NO {api_mismatch}'} ({len(api)} batches checked)")
    print(f"retry of unacknowledged batches:   {retry['created']} created whole, {retry['duplicates']} all duplicates, "
          f"{len(retry['mixed'])} mixed, {len(retry['errors'])} errors")
    print(f"after retry, every batch 1,000:    {'yes' if not not_full_after else f'NO {not_full_after[:10]}'}")
    print(f"verify --tenant (restart, retry):  {', '.join('ok' if v is None else f'FAILED: {v}' for v in verified)}")
    for e in (run.errors + retry["mixed"] + retry["errors"] + [f"unexpected batch {b}" for b in unexpected])[:10]:
        print(f"  {e}")
    ok = not (lost or partial or bad_links or api_mismatch or unexpected or run.errors or retry["mixed"]
              or retry["errors"] or not_full_after or any(v is not None for v in verified)) and len(run.acked) > 0
    print(f"RESULT crash {backend} " + ("OK" if ok else "FAILED"))
    return ok


def main():
    print("# bench/crash.py")
    bin_path = binary()
    results = [crash_once(bin_path, b.strip()) for b in BACKENDS]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
