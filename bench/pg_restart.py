#!/usr/bin/env python3
"""bench/pg_restart.py - PostgreSQL restarted under a running server (issue 4).

    bench/pg_restart.py                    # stop PostgreSQL, hold it down 2 s, start it
    PGR_DOWN_SECS=0 bench/pg_restart.py    # one `pg_ctlcluster ... restart` instead
    PGR_PRIVATE=1 PGR_DOWN_SECS=8 bench/pg_restart.py
        # a private throw-away cluster (initdb in /tmp, free port), not the shared one:
        # safe to hold down longer than the pool's 5 s acquire timeout

CAUTION: restarts the machine's PostgreSQL cluster ($PGR_VERSION/$PGR_CLUSTER,
default: the only directory in /etc/postgresql, cluster "main") with
`pg_ctlcluster --skip-systemctl-redirect`, once, in "fast" mode: every other
session on it is disconnected. Whatever happens, the script starts the cluster
again if it is down when it exits.

Starts its own server on a fresh database faults_pgrestart_<pid> (tenant and
read/write key made with the CLI), opens one graphql-transport-ws subscription
(auditEventRecorded, filtered on the tick action), and then, every PGR_TICK
seconds, records one event (metadata.seq = n, idempotency key tick-n) and reads
a page, while another thread polls /readyz every 0.1 s. After PGR_BEFORE
seconds PostgreSQL goes down; the loops go on for PGR_AFTER seconds after it
is back. The server is never restarted.

Prints: the /readyz timeline (runs of equal status), request outcomes before,
during and after the outage with HTTP status and error codes, any 5xx, any
response that leaks SQL or internals, time from PostgreSQL's return to the
first successful read and write, and which acknowledged events the
subscription received (before the outage / after it).
PGR_DRY=1 leaves PostgreSQL alone (checks the script itself; no outage).
Settings: PGR_DOWN_SECS (2, max 30; the shared cluster: max 10), PGR_BEFORE (5), PGR_AFTER (15, max 60), PGR_TICK (0.25).
"""
import json
import os
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import faultkit
from faultkit import (Client, Server, binary, error_codes, free_port, gql_errors, http_status,
                      log, on_cleanup, pg_database, pg_isready, wait_pg_ready)

PRIVATE = os.environ.get("PGR_PRIVATE") == "1"
DOWN = min(float(os.environ.get("PGR_DOWN_SECS", 2)), 30 if PRIVATE else 10)
BEFORE = min(float(os.environ.get("PGR_BEFORE", 5)), 60)
AFTER = min(float(os.environ.get("PGR_AFTER", 15)), 60)
TICK = max(float(os.environ.get("PGR_TICK", 0.25)), 0.05)
VERSION = os.environ.get("PGR_VERSION") or sorted(os.listdir("/etc/postgresql"))[-1]
CLUSTER = os.environ.get("PGR_CLUSTER", "main")
DRY = os.environ.get("PGR_DRY") == "1"

RECORD = """mutation($e: [AuditEventInput!]!) { recordAuditEvents(events: $e) { createdCount events { id } } }"""
READ = "{ auditEvents(first: 5) { nodes { id action actor { externalId } } } }"
SUB = """subscription { auditEventRecorded(filter: {action: {eq: "pgrestart.tick"}}) { id metadata } }"""
# What an internal detail would look like in a response body.
LEAK = re.compile(r"SELECT|INSERT|UPDATE |relation|sqlx|postgres|Postgres|database|connection refused|"
                  r"pool timed out|\.rs:|panicked|error returned|SqlxError|DbErr|Conn", re.I)


PRIVATE_DIR = None


def private_cluster():
    """initdb + start a throw-away cluster owned by postgres on a free port; removed at exit."""
    global PRIVATE_DIR
    import shutil
    import tempfile
    PRIVATE_DIR = tempfile.mkdtemp(prefix="auditgraph-pgr-")
    shutil.chown(PRIVATE_DIR, "postgres", "postgres")
    port = free_port()
    subprocess.run(["runuser", "-u", "postgres", "--", f"/usr/lib/postgresql/{VERSION}/bin/initdb", "-D",
                    f"{PRIVATE_DIR}/data", "-A", "trust", "-U", "postgres"], check=True, capture_output=True, timeout=120)
    with open(f"{PRIVATE_DIR}/data/postgresql.conf", "a") as f:
        f.write(f"port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{PRIVATE_DIR}'\n"
                "fsync = off\nshared_buffers = 32MB\n")

    def remove():
        subprocess.run(["runuser", "-u", "postgres", "--", f"/usr/lib/postgresql/{VERSION}/bin/pg_ctl", "-D",
                        f"{PRIVATE_DIR}/data", "-m", "immediate", "-w", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(PRIVATE_DIR, ignore_errors=True)
    on_cleanup(remove)
    faultkit.PG_BASE = f"postgres://postgres@127.0.0.1:{port}"
    pg_ctl("start")


def pg_ctl(action):
    if DRY:
        log(f"dry run: not running pg_ctlcluster {action}")
        return 0
    if PRIVATE_DIR:
        cmd = ["runuser", "-u", "postgres", "--", f"/usr/lib/postgresql/{VERSION}/bin/pg_ctl", "-D",
               f"{PRIVATE_DIR}/data", "-l", f"{PRIVATE_DIR}/log", "-m", "fast", "-w", action]
    else:
        cmd = ["pg_ctlcluster", "--skip-systemctl-redirect", "-m", "fast", VERSION, CLUSTER, action]
    t = time.time()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    log(f"{' '.join(cmd)}: exit {out.returncode} in {time.time() - t:.1f} s {out.stderr.strip()}")
    return out.returncode


def ensure_pg_running():
    if not pg_isready():
        log("PostgreSQL is down at exit: starting it")
        pg_ctl("start")
    if not wait_pg_ready(60):
        print("WARNING: PostgreSQL is not ready", file=sys.stderr)


class Timeline:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []  # (t, kind, status, codes, err, body, request_id)
        self.readyz = []    # (t, status)
        self.received = {}  # seq -> t
        self.sub_events = []  # non-data messages, errors


def loop(port, key, tl, stop, t0):
    client = Client(port, key, timeout=10)
    n = 0
    while not stop.is_set():
        tick = time.time()
        n += 1
        ev = [{"action": "pgrestart.tick", "actor": {"type": "SERVICE_ACCOUNT", "externalId": "ticker"},
               "metadata": {"seq": n}, "idempotencyKey": f"tick-{n}"}]
        for kind, q, v in (("write", RECORD, {"e": ev}), ("read", READ, None)):
            sent = time.time() - t0
            status, body, dt = client.post(q, v)
            err = gql_errors(status, body)
            with tl.lock:
                tl.requests.append((sent, kind, status, error_codes(body), err,
                                    body if err else None, client.last_headers.get("x-request-id"),
                                    n if kind == "write" else None, dt))
        stop.wait(max(0.0, TICK - (time.time() - tick)))
    client.close()


def poll_readyz(base, tl, stop, t0):
    while not stop.is_set():
        t = time.time()
        s = http_status(base + "/readyz", timeout=5)
        if time.time() - t > 0.5:
            s = f"{s} after {time.time() - t:.1f} s"
        with tl.lock:
            tl.readyz.append((time.time() - t0, s))
        stop.wait(0.1)


def subscriber(port, key, tl, stop, started, t0):
    from websockets.sync.client import connect
    try:
        with connect(f"ws://127.0.0.1:{port}/graphql/ws", subprotocols=["graphql-transport-ws"],
                     open_timeout=10, close_timeout=2) as ws:
            ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}}))
            ack = json.loads(ws.recv(10))
            if ack.get("type") != "connection_ack":
                raise RuntimeError(f"no connection_ack: {ack}")
            ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUB}}))
            started.set()
            while not stop.is_set():
                try:
                    raw = ws.recv(0.5)
                except TimeoutError:
                    continue
                msg = json.loads(raw)
                if msg.get("type") == "next" and (msg.get("payload") or {}).get("data"):
                    seq = msg["payload"]["data"]["auditEventRecorded"]["metadata"]["seq"]
                    with tl.lock:
                        tl.received[seq] = time.time() - t0
                elif msg.get("type") == "ping":
                    ws.send(json.dumps({"type": "pong"}))
                else:
                    with tl.lock:
                        tl.sub_events.append((time.time() - t0, json.dumps(msg)[:300]))
                    if msg.get("type") in ("complete", "error"):
                        break
    except Exception as e:
        with tl.lock:
            tl.sub_events.append((time.time() - t0, f"{type(e).__name__}: {e}"))
    finally:
        started.set()


def runs(samples):
    """[(value, t_from, t_to, count)] of consecutive equal values."""
    out = []
    for t, v in samples:
        if out and out[-1][0] == v:
            out[-1][2], out[-1][3] = t, out[-1][3] + 1
        else:
            out.append([v, t, t, 1])
    return out


def main():
    print("# bench/pg_restart.py")
    if PRIVATE:
        private_cluster()
    if not pg_isready():
        raise SystemExit("PostgreSQL is not running")
    bin_path = binary()
    url = pg_database(f"faults_pgrestart_{os.getpid()}")
    server = Server(bin_path, url, name="pgrestart")
    (key,) = server.setup_tenant("pgr")
    server.start()
    on_cleanup(ensure_pg_running)  # runs before the server stops and the database is dropped

    tl, stop, started = Timeline(), threading.Event(), threading.Event()
    t0 = time.time()
    sub = threading.Thread(target=subscriber, args=(server.port, key, tl, stop, started, t0))
    sub.start()
    started.wait(15)
    for _ in range(100):  # the subscription has started once the server counts it
        if server.metric("auditgraph_subscriptions_active") == 1:
            break
        time.sleep(0.1)
    threads = [threading.Thread(target=loop, args=(server.port, key, tl, stop, t0)),
               threading.Thread(target=poll_readyz, args=(server.base, tl, stop, t0))]
    for t in threads:
        t.start()
    time.sleep(BEFORE)
    try:
        if DOWN > 0:
            t_down = time.time() - t0
            pg_ctl("stop")
            t_stopped = time.time() - t0
            time.sleep(DOWN)
            pg_ctl("start")
        else:
            t_down = time.time() - t0
            pg_ctl("restart")
            t_stopped = t_down
    finally:
        ensure_pg_running()
    t_up = time.time() - t0
    log(f"PostgreSQL back at t={t_up:.1f} s; watching for {AFTER:.0f} s")
    time.sleep(AFTER)
    stop.set()
    for t in threads + [sub]:
        t.join(30)
    alive = server.alive()
    pid = server.proc.pid
    server.stop()
    log_text = server.log_tail(200000)

    # ---- analysis
    reqs = tl.requests
    ok = lambda r: r[4] is None
    # requests are stamped with their send time (r[0]) and latency (r[8])
    first_ok = {k: min((r[0] + r[8] for r in reqs if r[1] == k and r[0] + r[8] >= t_up and ok(r)), default=None)
                for k in ("read", "write")}
    recovered = max((v for v in first_ok.values() if v is not None), default=None)
    phases = {"before": [r for r in reqs if r[0] < t_down],
              "outage": [r for r in reqs if t_down <= r[0] < (recovered or 1e9)],
              "after": [r for r in reqs if recovered is not None and r[0] >= recovered]}
    fivexx = [r for r in reqs if r[2] is not None and r[2] >= 500]
    leaks = [r for r in reqs if r[4] and LEAK.search(json.dumps(r[5]) if not isinstance(r[5], str) else r[5])]
    uncoded = [r for r in reqs if r[4] and r[2] is not None and (not error_codes(r[5]) or None in error_codes(r[5]))]
    acked = {r[7]: r[0] for r in reqs if r[1] == "write" and ok(r)}
    acked_before = [s for s, t in acked.items() if t < t_down]
    acked_after = [s for s, t in acked.items() if recovered is not None and t >= recovered]
    missed_before = sorted(s for s in acked_before if s not in tl.received)
    missed_after = sorted(s for s in acked_after if s not in tl.received)
    missed_other = sorted(s for s in acked if s not in tl.received and s not in acked_before and s not in acked_after)

    print(f"# server {server.base} (pid {pid}, never restarted), PostgreSQL {VERSION}/"
          f"{'private cluster ' + faultkit.PG_BASE if PRIVATE else CLUSTER}, "
          f"tick {TICK} s (1 write + 1 read), /readyz every 0.1 s")
    if DOWN > 0:
        print(f"PostgreSQL: stop at t={t_down:.1f} s (down at {t_stopped:.1f} s), held down {DOWN:.0f} s, "
              f"start done at t={t_up:.1f} s")
    else:
        print(f"PostgreSQL: restart from t={t_down:.1f} s to t={t_up:.1f} s")
    print("/readyz:    " + ", ".join(f"{v if v else 'no answer'} x{n} (t={a:.1f}-{b:.1f})" for v, a, b, n in runs(tl.readyz)))
    for name, rs in phases.items():
        fails = [r for r in rs if not ok(r)]
        kinds = {}
        for r in fails:
            k = f"{r[1]} HTTP {r[2]} {','.join(c or '?' for c in error_codes(r[5])) or r[4][:60]}"
            kinds[k] = kinds.get(k, 0) + 1
        lat = max((r[8] for r in rs), default=0)
        print(f"{name + ':':11} {len(rs)} requests, {len(rs) - len(fails)} ok, {len(fails)} failed, slowest {lat:.2f} s "
              + (json.dumps(kinds) if kinds else ""))
    for k in ("read", "write"):
        v = first_ok[k]
        print(f"first {k} ok after PostgreSQL is back: " + (f"+{v - t_up:.2f} s" if v is not None else "NEVER"))
    print(f"5xx responses: {len(fivexx)}" + (f" e.g. HTTP {fivexx[0][2]} {json.dumps(fivexx[0][5])[:200]}" if fivexx else ""))
    print(f"responses leaking SQL/internals: {len(leaks)}" + (f" e.g. {json.dumps(leaks[0][5])[:300]}" if leaks else ""))
    print(f"failed responses without an error code: {len(uncoded)}" + (f" e.g. {json.dumps(uncoded[0][5])[:200]}" if uncoded else ""))
    samples = {}
    for r in reqs:
        if r[4]:
            samples.setdefault((r[1], r[2], tuple(error_codes(r[5]))), (r[0], r[5], r[6]))
    for (kind, status, codes), (t, body, rid) in samples.items():
        print(f"  sample {kind} HTTP {status} at t={t:.1f} (X-Request-Id {rid}): {json.dumps(body)[:260]}")
    print(f"subscription: {len(tl.received)} events received; acknowledged before the outage {len(acked_before)}, "
          f"missed {len(missed_before)}; after recovery {len(acked_after)}, missed {len(missed_after)} {missed_after[:20]}; "
          f"others acknowledged {len(acked) - len(acked_before) - len(acked_after)}, missed {len(missed_other)}")
    for t, m in tl.sub_events[:5]:
        print(f"  subscription message at t={t:.1f}: {m}")
    warn = [ln for ln in log_text.splitlines() if "listener" in ln]
    print(f"server log: {len(log_text.splitlines())} lines, {len(warn)} about the event listener"
          + (f", e.g. {warn[0][-160:]}" if warn else ""))
    print(f"server alive throughout: {'yes' if alive else 'NO'}; PostgreSQL ready at the end: {'yes' if pg_isready() else 'NO'}")
    good = (alive and recovered is not None and not fivexx and not leaks and not uncoded
            and all(ok(r) for r in phases["after"]) and all(ok(r) for r in phases["before"])
            and any(str(v).startswith("503") for _, v in tl.readyz) and tl.readyz[-1][1] == 200)
    print("RESULT pg_restart " + ("OK" if good else "FAILED") + ("" if not missed_after else " (subscription missed events after recovery)"))
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
