#!/usr/bin/env python3
"""bench/soak.py - mixed read/write soak on PostgreSQL (issue 4).

    bench/soak.py                      # 60 s, 24 readers + 8 writers, pool default
    SOAK_SECS=10 bench/soak.py         # shorter

Starts its own server (release build, default pool) on a fresh database
faults_soak_<pid> on 127.0.0.1, creates a tenant and a read/write key with
the CLI, preloads SOAK_PRELOAD events, then for SOAK_SECS seconds runs
SOAK_READERS threads paging `auditEvents` with random filters, orderings,
page sizes and `after`/`before` cursors (a few pages deep; one request in ten
also selects totalCount) and SOAK_WRITERS threads recording batches of 1-100
events with unique idempotency keys. Every request is checked: HTTP 200 and no
`errors`; a write must also report createdCount = batch size, duplicateCount 0
and return one ID per event.

Afterwards every acknowledged ID is looked up with `nodes(ids:)` in chunks of
500 (each must resolve, with the idempotency key it was recorded with), and
totalCount of the tenant must equal the events present before the soak plus
those acknowledged during it. Exit status 1 on any error or mismatch.

Settings: SOAK_SECS (60, max 600), SOAK_READERS (24), SOAK_WRITERS (8),
SOAK_PRELOAD (5000), SOAK_SEED (random seed, 1). See faultkit.py for the rest.
"""
import json
import os
import random
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from faultkit import (Client, Server, binary, gql_errors, log, ms,
                      pg_database, pct)

SECS = min(float(os.environ.get("SOAK_SECS", 60)), 600)
READERS = int(os.environ.get("SOAK_READERS", 24))
WRITERS = int(os.environ.get("SOAK_WRITERS", 8))
PRELOAD = int(os.environ.get("SOAK_PRELOAD", 5000))
SEED = int(os.environ.get("SOAK_SEED", 1))

ACTIONS = ["workspace.create", "workspace.delete", "workspace.snapshot.create", "session.start",
           "session.terminate", "vm.boot", "vm.stop", "incident.open", "incident.resolve",
           "sandbox.exec", "login.success", "login.failure", "payment.capture", "api_key.rotate"]
ENVS = ["production", "staging", "sandbox"]
SERVICES = ["gateway", "scheduler", "billing", "auth", "vmm"]
ACTOR_TYPES = ["USER", "SERVICE_ACCOUNT", "API_KEY", "INTERNAL_SERVICE"]
RES_TYPES = ["workspace", "vm", "session", "incident", "sandbox"]

RECORD = """mutation($e: [AuditEventInput!]!) {
  recordAuditEvents(events: $e) { createdCount duplicateCount events { id } } }"""

READ = """query($f: AuditEventFilter, $o: AuditEventOrder, $first: Int, $after: String, $last: Int, $before: String) {
  auditEvents(filter: $f, orderBy: $o, first: $first, after: $after, last: $last, before: $before) {
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    nodes { id action outcome occurredAt summary environment
            actor { type externalId displayName } resource { type name } request { status ipAddress } } } }"""
READ_COUNT = READ.replace("pageInfo {", "totalCount pageInfo {")


def make_event(rng, key):
    now = datetime.now(timezone.utc)
    action = rng.choice(ACTIONS)
    failed = rng.random() < 0.15
    ev = {
        "action": action,
        "outcome": "FAILURE" if failed else "SUCCESS",
        "occurredAt": (now - timedelta(seconds=rng.randint(0, 7 * 86400))).isoformat(),
        "actor": {"type": rng.choice(ACTOR_TYPES), "externalId": f"u{rng.randint(1, 200)}",
                  "displayName": f"User {rng.randint(1, 200)}"},
        "resource": {"type": rng.choice(RES_TYPES), "externalId": f"r{rng.randint(1, 2000)}",
                     "name": f"thing {rng.randint(1, 2000)}"},
        "summary": f"{action} by soak",
        "environment": rng.choice(ENVS),
        "sourceService": rng.choice(SERVICES),
        "metadata": {"soak": True, "n": rng.randint(0, 10**6)},
        "idempotencyKey": key,
    }
    if rng.random() < 0.5:
        ev["request"] = {"method": "POST", "path": "/v1/x", "status": rng.choice([200, 201, 403, 404, 500]),
                         "ipAddress": f"10.0.{rng.randint(0, 255)}.{rng.randint(1, 254)}"}
    if rng.random() < 0.3:
        ev["relatedResources"] = [{"type": rng.choice(RES_TYPES), "externalId": f"r{rng.randint(1, 2000)}"}]
    if failed:
        ev["errorMessage"] = "denied"
    return ev


def random_filter(rng):
    now = datetime.now(timezone.utc)
    choices = [
        lambda: None,
        lambda: {"action": {"eq": rng.choice(ACTIONS)}},
        lambda: {"action": {"prefix": rng.choice(ACTIONS).split(".")[0] + "."}},
        lambda: {"category": {"in": rng.sample(["workspace", "session", "vm", "login"], 2)}},
        lambda: {"outcome": "FAILURE"},
        lambda: {"environment": {"eq": rng.choice(ENVS)}, "sourceService": {"notIn": [rng.choice(SERVICES)]}},
        lambda: {"occurredAt": {"gte": (now - timedelta(days=rng.randint(1, 6))).isoformat()}},
        lambda: {"actor": {"type": [rng.choice(ACTOR_TYPES)], "externalId": [f"u{rng.randint(1, 200)}"]}},
        lambda: {"resource": {"type": [rng.choice(RES_TYPES)]}, "outcome": "SUCCESS"},
        lambda: {"relatedTo": {"type": [rng.choice(RES_TYPES)], "externalId": [f"r{rng.randint(1, 2000)}"]}},
        lambda: {"httpStatus": {"gte": 400}},
        lambda: {"text": rng.choice(["snapshot", "LOGIN", "soak", "terminate"])},
        lambda: {"or": [{"outcome": "FAILURE"}, {"action": {"prefix": "vm."}}],
                 "not": {"environment": {"eq": "sandbox"}}},
    ]
    return rng.choice(choices)()


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.reads, self.writes = [], []
        self.errors = []
        self.acked = {}  # id -> idempotency key
        self.batches = 0

    def error(self, what):
        with self.lock:
            self.errors.append(what)


def reader(port, key, stop, stats, seed):
    rng = random.Random(seed)
    client = Client(port, key)
    lat = []
    while not stop.is_set():
        f = random_filter(rng)
        order = rng.choice([None, {"field": "OCCURRED_AT", "direction": "ASC"},
                            {"field": "RECEIVED_AT", "direction": "DESC"}, {"field": "OCCURRED_AT", "direction": "DESC"}])
        size = rng.choice([10, 25, 50, 100, 200])
        backward = rng.random() < 0.2
        cursor = None
        for _page in range(rng.randint(1, 5)):
            if stop.is_set():
                break
            v = {"f": f, "o": order}
            if backward:
                v.update({"last": size, "before": cursor})
            else:
                v.update({"first": size, "after": cursor})
            status, body, dt = client.post(READ_COUNT if rng.random() < 0.1 else READ, v)
            lat.append(dt)
            err = gql_errors(status, body)
            if err:
                stats.error(f"read {json.dumps(v)[:200]}: {err}")
                break
            page = body["data"]["auditEvents"]
            info = page["pageInfo"]
            more = info["hasPreviousPage"] if backward else info["hasNextPage"]
            if not more:
                break
            cursor = info["startCursor"] if backward else info["endCursor"]
    client.close()
    with stats.lock:
        stats.reads.extend(lat)


def writer(port, key, stop, stats, wid, seed):
    rng = random.Random(seed)
    client = Client(port, key)
    lat, acked, seq = [], {}, 0
    while not stop.is_set():
        n = rng.randint(1, 100)
        keys = [f"soak-w{wid}-b{seq}-{i}" for i in range(n)]
        seq += 1
        status, body, dt = client.post(RECORD, {"e": [make_event(rng, k) for k in keys]})
        lat.append(dt)
        err = gql_errors(status, body)
        if err:
            stats.error(f"write of {n}: {err}")
            continue
        p = body["data"]["recordAuditEvents"]
        ids = [e["id"] for e in p["events"]]
        if p["createdCount"] != n or p["duplicateCount"] != 0 or len(ids) != n:
            stats.error(f"write of {n}: createdCount {p['createdCount']} duplicateCount {p['duplicateCount']} ids {len(ids)}")
        acked.update(zip(ids, keys))
    client.close()
    with stats.lock:
        stats.writes.extend(lat)
        stats.acked.update(acked)
        stats.batches += seq


def total_count(client):
    status, body, _ = client.post("{ auditEvents(first: 0) { totalCount } }")
    err = gql_errors(status, body)
    if err:
        raise RuntimeError(err)
    return body["data"]["auditEvents"]["totalCount"]


def main():
    print("# bench/soak.py")
    bin_path = binary()
    url = pg_database(f"faults_soak_{os.getpid()}")
    server = Server(bin_path, url, name="soak")
    (key,) = server.setup_tenant("soak")
    server.start()
    client = Client(server.port, key)

    log(f"preloading {PRELOAD} events")
    rng = random.Random(SEED)
    preload_ids = {}
    for b in range(0, PRELOAD, 500):
        keys = [f"soak-pre-{b + i}" for i in range(min(500, PRELOAD - b))]
        status, body, _ = client.post(RECORD, {"e": [make_event(rng, k) for k in keys]})
        err = gql_errors(status, body)
        if err:
            raise SystemExit(f"preload failed: {err}")
        preload_ids.update(zip((e["id"] for e in body["data"]["recordAuditEvents"]["events"]), keys))
    before = total_count(client)

    stats = Stats()
    stop = threading.Event()
    threads = [threading.Thread(target=reader, args=(server.port, key, stop, stats, SEED * 1000 + i))
               for i in range(READERS)]
    threads += [threading.Thread(target=writer, args=(server.port, key, stop, stats, i, SEED * 2000 + i))
                for i in range(WRITERS)]
    log(f"soak: {READERS} readers + {WRITERS} writers for {SECS:.0f} s on {server.base}")
    rss0 = server.memory()
    cpu0, ccpu0 = server.cpu(), os.times()
    t0 = time.time()
    for t in threads:
        t.start()
    time.sleep(SECS)
    stop.set()
    for t in threads:
        t.join(60)
    elapsed = time.time() - t0
    rss1 = server.memory()
    cpu1, ccpu1 = server.cpu(), os.times()
    hung = sum(t.is_alive() for t in threads)
    if hung:
        stats.error(f"{hung} client threads still busy 60 s after the end")
    if not server.alive():
        stats.error("the server exited during the soak")

    log(f"verifying {len(stats.acked)} acknowledged events with nodes(ids:)")
    ids = list(stats.acked)
    verified, missing, wrong = 0, [], []
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        status, body, _ = client.post("query($ids: [ID!]!) { nodes(ids: $ids) { id ... on AuditEvent { idempotencyKey } } }",
                                      {"ids": chunk})
        err = gql_errors(status, body)
        if err:
            stats.error(f"verify: {err}")
            continue
        for want, got in zip(chunk, body["data"]["nodes"]):
            if got is None:
                missing.append(want)
            elif got["id"] != want or got.get("idempotencyKey") != stats.acked[want]:
                wrong.append((want, got))
            else:
                verified += 1
    after = total_count(client)
    expected = before + len(stats.acked)
    client.close()

    reqs = len(stats.reads) + len(stats.writes)
    print(f"# {server.base}, database {url}, pool default (8), {READERS} readers + {WRITERS} writers, {elapsed:.1f} s")
    print(f"requests:            {reqs} ({reqs / elapsed:.0f}/s): {len(stats.reads)} reads, {len(stats.writes)} writes ({stats.batches} batches)")
    print(f"errors:              {len(stats.errors)}")
    for e in stats.errors[:10]:
        print(f"  {e}")
    print(f"events acknowledged: {len(stats.acked)} ({len(stats.acked) / elapsed:.0f}/s; plus {len(preload_ids)} preloaded)")
    print(f"events verified:     {verified} (missing {len(missing)}, wrong {len(wrong)})")
    print(f"totalCount:          {after} = {before} before + {after - before} (expected +{len(stats.acked)}): {'OK' if after == expected else 'MISMATCH'}")
    print(f"read latency:        p50 {ms(pct(stats.reads, 50))}  p99 {ms(pct(stats.reads, 99))}  max {ms(max(stats.reads, default=0))}")
    print(f"write latency:       p50 {ms(pct(stats.writes, 50))}  p99 {ms(pct(stats.writes, 99))}  max {ms(max(stats.writes, default=0))}")
    print(f"server RSS:          {rss0[0] // 1024} MiB before, {rss1[0] // 1024} MiB after (VmHWM {rss1[1] // 1024} MiB)")
    print(f"CPU during the soak: server {cpu1 - cpu0:.0f} s, this client {ccpu1.user + ccpu1.system - ccpu0.user - ccpu0.system:.0f} s "
          f"of {2 * elapsed:.0f} core-seconds (the rest: PostgreSQL and other users of the machine)")
    for m in missing[:5]:
        print(f"  missing {m} ({stats.acked[m]})")
    for w in wrong[:5]:
        print(f"  wrong {w}")
    ok = not stats.errors and not missing and not wrong and after == expected
    print("RESULT soak " + ("OK" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
