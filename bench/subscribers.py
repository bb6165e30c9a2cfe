#!/usr/bin/env python3
"""bench/subscribers.py - subscription delivery latency and capacity on PostgreSQL (issue 5).

    pip install websockets        # the only non-stdlib dependency
    bench/subscribers.py
    SUBS_CAP_LEVELS=100,1000 SUBS_LAT_LEVELS=1,10 bench/subscribers.py   # smaller

Starts its own server (release build) on a fresh database faults_subs_<pid>,
with tenant `subs` and SUBS_KEYS read/write keys made with the CLI, and
`--ws-max-connections-per-key` raised to fit. Every subscription is a
graphql-transport-ws connection to ws://127.0.0.1:PORT/graphql/ws (key in the
connection_init payload) running
    subscription($a: String!) { auditEventRecorded(filter: {action: {eq: $a}}) { id metadata } }
Events are recorded one batch (of one event) at a time with the client's wall
clock in metadata.sentAt; latency = receipt time - sentAt, taken when the
client's event loop reads the message (one Python process for all
subscriptions, so client overhead is included at high counts).

1. Latency: for each N in SUBS_LAT_LEVELS (1,10,100) open N subscriptions,
   wait until the server counts them (metric auditgraph_subscriptions_active),
   record SUBS_LAT_EVENTS (100) events SUBS_LAT_GAP (0.1) s apart, report p50/p99/max
   of record->receive over all deliveries, deliveries missing, and the
   record->acknowledge time of the mutation; then close them.
2. Capacity: on a fresh server, baseline RSS, then grow to each level of
   SUBS_CAP_LEVELS (100,1000,5000) idle subscriptions (cumulative); at each level:
   server VmRSS/VmHWM, open fds, time to open; record 3 events and check that
   every subscription receives all of them (fan-out time p50/p99/max, SQL
   statements per recorded batch from /metrics); per-subscription memory =
   (VmRSS - baseline) / N. Finally close all and report the subscriptions gauge
   and RSS after.

3. Churn (SUBS_CHURN=0 skips it): on a fresh server with --subscriber-buffer
   SUBS_CHURN_BUFFER (16), open SUBS_CHURN_IDLE (20) idle subscriptions, then
   SUBS_CHURN_MORE (200) more, record nothing, and count the subscriptions the
   server closed. Each subscription start sends a fence notice through the same
   bounded per-subscriber queue as event announcements, to every subscriber, so
   a burst of new subscriptions can close idle ones as "fell behind"; the
   default buffer (1,024) hides it until thousands of subscriptions start at
   once on a busy machine.

Settings: SUBS_LAT_LEVELS, SUBS_LAT_EVENTS, SUBS_LAT_GAP, SUBS_CAP_LEVELS (max 20000),
SUBS_KEYS (5), SUBS_OPEN_CONCURRENCY (100), SUBS_DELIVERY_TIMEOUT (60 s).
"""
import asyncio
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from faultkit import Client, Server, binary, gql_errors, log, mib, ms, pct, pg_database

try:
    from websockets.asyncio.client import connect
except ImportError:
    raise SystemExit("needs the websockets package: pip install websockets")

LAT_LEVELS = [int(x) for x in os.environ.get("SUBS_LAT_LEVELS", "1,10,100").split(",") if x]
LAT_EVENTS = min(int(os.environ.get("SUBS_LAT_EVENTS", 100)), 10000)
LAT_GAP = float(os.environ.get("SUBS_LAT_GAP", 0.1))
CAP_LEVELS = [min(int(x), 20000) for x in os.environ.get("SUBS_CAP_LEVELS", "100,1000,5000").split(",") if x]
KEYS = int(os.environ.get("SUBS_KEYS", 5))
OPEN_CONC = int(os.environ.get("SUBS_OPEN_CONCURRENCY", 100))
DELIVERY_TIMEOUT = min(float(os.environ.get("SUBS_DELIVERY_TIMEOUT", 60)), 300)
CAP_EVENTS = 3

SUB = "subscription($a: String!) { auditEventRecorded(filter: {action: {eq: $a}}) { id metadata } }"
RECORD = "mutation($e: [AuditEventInput!]!) { recordAuditEvents(events: $e) { createdCount } }"


class Sub:
    def __init__(self):
        self.got = {}      # seq -> latency (s)
        self.errors = []
        self.task = None
        self.subscribed = asyncio.Event()


async def run_sub(sub, port, key, action, gate):
    try:
        async with gate:
            ws = await connect(f"ws://127.0.0.1:{port}/graphql/ws", subprotocols=["graphql-transport-ws"],
                               ping_interval=None, open_timeout=60, close_timeout=2, max_size=2 ** 20)
            await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}}))
            ack = json.loads(await asyncio.wait_for(ws.recv(), 60))
            if ack.get("type") != "connection_ack":
                raise RuntimeError(f"no connection_ack: {json.dumps(ack)[:200]}")
            await ws.send(json.dumps({"id": "1", "type": "subscribe",
                                      "payload": {"query": SUB, "variables": {"a": action}}}))
            sub.subscribed.set()
        async with ws:
            async for raw in ws:
                now = time.time()
                msg = json.loads(raw)
                t = msg.get("type")
                if t == "next" and (msg.get("payload") or {}).get("data"):
                    md = msg["payload"]["data"]["auditEventRecorded"]["metadata"]
                    if md["seq"] in sub.got:
                        sub.errors.append(f"duplicate delivery of {md['seq']}")
                    sub.got[md["seq"]] = now - md["sentAt"]
                elif t == "ping":
                    await ws.send(json.dumps({"type": "pong"}))
                elif t != "pong":
                    sub.errors.append(json.dumps(msg)[:300])
                    if t in ("complete", "error"):
                        break
    except asyncio.CancelledError:
        raise
    except Exception as e:
        sub.errors.append(f"{type(e).__name__}: {e}")
        sub.subscribed.set()


async def open_subs(n, port, keys, action, gate, offset=0):
    subs = [Sub() for _ in range(n)]
    for i, s in enumerate(subs):
        s.task = asyncio.create_task(run_sub(s, port, keys[(offset + i) % len(keys)], action, gate))
    await asyncio.gather(*(s.subscribed.wait() for s in subs))
    return subs


async def close_subs(subs):
    for s in subs:
        s.task.cancel()
    await asyncio.wait_for(asyncio.gather(*(s.task for s in subs), return_exceptions=True), 60)


async def wait_active(server, n, timeout=120):
    """True once the server counts n running subscriptions; False (and the last count) on timeout."""
    end, v = time.time() + timeout, None
    while time.time() < end:
        v = await asyncio.to_thread(server.metric, "auditgraph_subscriptions_active")
        if v == n:
            return True
        await asyncio.sleep(0.1)
    log(f"the server counts {v} subscriptions, not {n}")
    return False


def record(client, action, seq):
    ev = [{"action": action, "actor": {"type": "SERVICE_ACCOUNT", "externalId": "subs-bench"},
           "metadata": {"seq": seq, "sentAt": time.time()}}]
    status, body, dt = client.post(RECORD, {"e": ev})
    err = gql_errors(status, body)
    if err:
        raise RuntimeError(f"record failed: {err}")
    return dt


async def wait_delivered(subs, seqs, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if all(all(q in s.got for q in seqs) for s in subs):
            return True
        await asyncio.sleep(0.05)
    return False


def lat_line(values):
    return f"p50 {ms(pct(values, 50))}  p99 {ms(pct(values, 99))}  max {ms(max(values, default=0))}"


async def latency_phase(server, keys):
    client = Client(server.port, keys[0])
    gate = asyncio.Semaphore(OPEN_CONC)
    print(f"## latency record -> receive, {LAT_EVENTS} events per level, one event per batch, {LAT_GAP} s apart")
    ok = True
    for n in LAT_LEVELS:
        action = f"subs.latency.n{n}"
        subs = await open_subs(n, server.port, keys, action, gate)
        if not await wait_active(server, n):
            print(f"N={n}: the server never counted {n} subscriptions")
        acks = []
        for seq in range(LAT_EVENTS):
            t = time.time()
            acks.append(await asyncio.to_thread(record, client, action, seq))
            await asyncio.sleep(max(0.0, LAT_GAP - (time.time() - t)))
        await wait_delivered(subs, range(LAT_EVENTS), 30)
        lats = [v for s in subs for v in s.got.values()]
        missing = n * LAT_EVENTS - len(lats)
        errors = [e for s in subs for e in s.errors]
        print(f"N={n:<5} deliveries {len(lats)}/{n * LAT_EVENTS} (missing {missing}), errors {len(errors)}; "
              f"record->receive {lat_line(lats)}; record->ack {lat_line(acks)}")
        for e in errors[:3]:
            print(f"  {e}")
        ok = ok and not missing and not errors
        await close_subs(subs)
        await wait_active(server, 0, 30)
    client.close()
    return ok


async def capacity_phase(server, keys):
    client = Client(server.port, keys[0])
    await asyncio.to_thread(record, client, "subs.warmup.once", -1)
    await asyncio.sleep(1)
    s0 = await asyncio.to_thread(server.metric, "auditgraph_db_statements_total")
    await asyncio.to_thread(record, client, "subs.warmup.once", -2)
    rec_stmts = await asyncio.to_thread(server.metric, "auditgraph_db_statements_total") - s0
    base_rss, base_hwm = server.memory()
    print(f"## capacity: idle subscriptions over {len(keys)} keys; baseline VmRSS {mib(base_rss)} (VmHWM {mib(base_hwm)}), "
          f"{server.fds()} fds")
    gate = asyncio.Semaphore(OPEN_CONC)
    subs, seq, ok = [], 0, True
    for level in CAP_LEVELS:
        t = time.time()
        subs += await open_subs(level - len(subs), server.port, keys, "subs.capacity", gate, offset=len(subs))
        sent = time.time() - t
        counted = await wait_active(server, level, timeout=60)
        opened = time.time() - t
        await asyncio.sleep(2)
        active = await asyncio.to_thread(server.metric, "auditgraph_subscriptions_active")
        dropped = [s for s in subs if s.errors]  # before any event of this level was recorded
        open_errors = [e for s in dropped for e in s.errors]
        rss, hwm = server.memory()
        fds = server.fds()
        stmts0 = await asyncio.to_thread(server.metric, "auditgraph_db_statements_total")
        seqs = []
        for _ in range(CAP_EVENTS):
            await asyncio.to_thread(record, client, "subs.capacity", seq)
            seqs.append(seq)
            seq += 1
            await asyncio.sleep(0.5)
        delivered = await wait_delivered([s for s in subs if not s.errors], seqs, DELIVERY_TIMEOUT)
        await asyncio.sleep(0.5)
        stmts1 = await asyncio.to_thread(server.metric, "auditgraph_db_statements_total")
        rss2, hwm2 = server.memory()
        gone = set(map(id, dropped))
        live = [s for s in subs if id(s) not in gone]
        got = sum(1 for s in live for q in seqs if q in s.got)
        lats = [s.got[q] for s in subs for q in seqs if q in s.got]
        errors = [e for s in live for e in s.errors]
        print(f"N={level:<5} subscribe sent for all in {sent:.1f} s; server counts {active:.0f} running "
              f"({'all, after ' + format(opened, '.1f') + ' s' if counted else 'NOT all'}); "
              f"closed by the server so far, no event of this level recorded yet: {len(dropped)}; "
              f"VmRSS {mib(rss)} (VmHWM {mib(hwm)}), {fds} fds; "
              f"per open subscription {(rss - base_rss) / max(1, level - len(dropped)):.1f} KiB")
        print(f"        {CAP_EVENTS} events: deliveries {got}/{len(live) * CAP_EVENTS} to the {len(live)} still open"
              f"{'' if delivered else ' (TIMED OUT)'}, errors {len(errors)}; fan-out record->receive {lat_line(lats)}; "
              f"~{(stmts1 - stmts0) / CAP_EVENTS - rec_stmts:.0f} SQL statements per batch for the fan-out "
              f"(+{rec_stmts:.0f} to record it); "
              f"after delivery VmRSS {mib(rss2)} (VmHWM {mib(hwm2)})")
        for e in (open_errors[:2] + errors[:2]):
            print(f"  {e}")
        ok = ok and delivered and not errors and counted and not dropped
    t = time.time()
    await close_subs(subs)
    zero = await wait_active(server, 0, 60)
    await asyncio.sleep(2)
    rss, hwm = server.memory()
    print(f"closed all {len(subs)} in {time.time() - t:.1f} s: subscriptions gauge back to 0: {'yes' if zero else 'NO'}; "
          f"VmRSS {mib(rss)} (VmHWM {mib(hwm)}), {server.fds()} fds")
    client.close()
    return ok and zero


async def churn_phase(bin_path, url, keys, args):
    buf = int(os.environ.get("SUBS_CHURN_BUFFER", 16))
    idle = int(os.environ.get("SUBS_CHURN_IDLE", 20))
    more = int(os.environ.get("SUBS_CHURN_MORE", 200))
    server = Server(bin_path, url, *args, "--subscriber-buffer", str(buf), name="subs-churn")
    server.start()
    gate = asyncio.Semaphore(OPEN_CONC)
    first = await open_subs(idle, server.port, keys, "subs.churn.none", asyncio.Semaphore(1))  # one at a time
    await wait_active(server, idle, 30)
    running_before = await asyncio.to_thread(server.metric, "auditgraph_subscriptions_active")
    second = await open_subs(more, server.port, keys, "subs.churn.none", gate, offset=idle)
    await asyncio.sleep(5)
    active = await asyncio.to_thread(server.metric, "auditgraph_subscriptions_active")
    closed_first = sum(1 for s in first if s.errors)
    closed_all = sum(1 for s in first + second if s.errors)
    sample = next((e for s in first + second for e in s.errors), "")
    print(f"## churn: --subscriber-buffer {buf}, {idle} idle subscriptions, then {more} more, no event recorded")
    print(f"running before the burst: {running_before:.0f} of {idle}; closed by the server after it: {closed_first} of the first {idle}, {closed_all} of all {idle + more}; "
          f"server counts {active:.0f} running")
    if sample:
        print(f"  {sample[:260]}")
    await close_subs(first + second)
    await asyncio.to_thread(server.stop)
    print("RESULT subscribers churn " + ("OK" if closed_all == 0 else "FAILED (idle subscriptions closed without any event)"))
    return closed_all == 0


async def amain():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 2 * max(CAP_LEVELS + LAT_LEVELS) + 1000
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
    print(f"# bench/subscribers.py; RLIMIT_NOFILE {resource.getrlimit(resource.RLIMIT_NOFILE)[0]}")
    bin_path = binary()
    url = pg_database(f"faults_subs_{os.getpid()}")
    per_key = max(CAP_LEVELS + LAT_LEVELS) // KEYS + 100
    args = ["--ws-max-connections-per-key", str(per_key)]
    server = Server(bin_path, url, *args, name="subs-latency")
    keys = server.setup_tenant("subs", keys=KEYS)
    print(f"# server: pool default (8), {' '.join(args)}, {KEYS} keys; client: one Python asyncio process (websockets)")
    server.start()
    ok1 = await latency_phase(server, keys)
    await asyncio.to_thread(server.stop)
    server2 = Server(bin_path, url, *args, name="subs-capacity")
    server2.start()
    ok2 = await capacity_phase(server2, keys)
    await asyncio.to_thread(server2.stop)
    print("RESULT subscribers " + ("OK" if ok1 and ok2 else "FAILED"))
    ok3 = True
    if os.environ.get("SUBS_CHURN", "1") != "0":
        ok3 = await churn_phase(bin_path, url, keys, args)
    return 0 if ok1 and ok2 and ok3 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(amain()))
