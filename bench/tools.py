#!/usr/bin/env python3
"""Helpers for bench/run.sh: database URLs, query and body generation, cursors,
pgbench scripts (the raw SQL floor) and the results table.

Every subcommand is called by run.sh; run `tools.py` without arguments for the list.
PostgreSQL is reached with `psql` (no Python driver needed).
"""
import base64
import glob
import json
import os
import re
import statistics
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid


# --------------------------------------------------------------------------- SQL

def psql(url, sql):
    """Runs one statement, returns stdout (unaligned, tuples only)."""
    out = subprocess.run(["psql", "-X", "-v", "ON_ERROR_STOP=1", "-At", "-d", url, "-c", sql],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


def psql_json(url, sql):
    """Runs a statement whose single value is JSON."""
    text = psql(url, sql)
    return json.loads(text) if text else None


def q(s):
    return "'" + s.replace("'", "''") + "'"


# --------------------------------------------------------------------------- URLs

def url_with(url, host=None, port=None, path=None, query_add=None):
    u = urllib.parse.urlsplit(url)
    netloc = u.netloc
    if host is not None or port is not None:
        userinfo, _, hostport = netloc.rpartition("@")
        h = host if host is not None else (u.hostname or "127.0.0.1")
        p = port if port is not None else (u.port or 5432)
        netloc = (userinfo + "@" if userinfo else "") + "%s:%s" % (h, p)
    qs = urllib.parse.parse_qsl(u.query)
    if query_add:
        qs = [(k, v) for k, v in qs if k not in query_add] + list(query_add.items())
    return urllib.parse.urlunsplit((u.scheme, netloc, path if path is not None else u.path,
                                    urllib.parse.urlencode(qs), u.fragment))


def cmd_url(args):
    """url proxy URL PORT | url admin URL | url dbname URL | url hostport URL"""
    what, url = args[0], args[1]
    u = urllib.parse.urlsplit(url)
    if what == "proxy":
        print(url_with(url, host="127.0.0.1", port=int(args[2]), query_add={"sslmode": "disable"}))
    elif what == "admin":
        print(url_with(url, path="/postgres"))
    elif what == "dbname":
        print(u.path.lstrip("/"))
    elif what == "hostport":
        print(u.hostname or "127.0.0.1", u.port or 5432)
    else:
        raise SystemExit("url: unknown " + what)


# --------------------------------------------------------------------------- cursors

def our_cursor(micros, event_id):
    """src/domain/cursor.rs: version 1, tag 1 (event), field 0 (occurredAt),
    direction 1 (desc), i64 micros big-endian, 16-byte UUID; base64url, no padding."""
    raw = bytes([1, 1, 0, 1]) + struct.pack(">q", micros) + uuid.UUID(event_id).bytes
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def event_at_offset(url, tenant_id, offset):
    row = psql(url, "SELECT (extract(epoch FROM occurred_at) * 1000000)::bigint || ' ' || id FROM audit_event "
                    "WHERE tenant_id = %s ORDER BY occurred_at DESC, id DESC OFFSET %d LIMIT 1" % (q(tenant_id), offset))
    micros, eid = row.split()
    return int(micros), eid


# --------------------------------------------------------------------------- GraphQL

def post(url, body, auth=None, timeout=120):
    headers = {"content-type": "application/json", "accept": "application/json"}
    if auth:
        headers["authorization"] = auth
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        raise SystemExit("HTTP %s from %s: %s" % (e.code, url, e.read()[:800]))


PAGE_SELECTION = """edges {
      cursor
      node { id action occurredAt actor { displayName } resource { name } }
    }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"""

QUERIES = {
    "a": "query NewestPage($first: Int!) {\n  auditEvents(first: $first) {\n    %s\n  }\n}\n" % PAGE_SELECTION,
    "b": "query DeepPage($first: Int!, $after: String!) {\n  auditEvents(first: $first, after: $after) {\n    %s\n  }\n}\n"
         % PAGE_SELECTION,
    "c": "query PrefixWeekPage($first: Int!, $filter: AuditEventFilter!) {\n"
         "  auditEvents(first: $first, filter: $filter) {\n    %s\n  }\n}\n" % PAGE_SELECTION,
    "d1": "query PrefixWeekCount($filter: AuditEventFilter!) {\n"
          "  auditEvents(first: 0, filter: $filter) { totalCount }\n}\n",
    "d2": "query TenantCount {\n  auditEvents(first: 0) { totalCount }\n}\n",
}

# The console's everyday pages (console/src/console/filter.ts): a preset range
# is `occurredAt: {gte: now - span}`, measured from the moment of the request,
# so its bound moves with the clock. In query files it is written `@AGO:SECONDS@`;
# wrk-graphql.lua and `fill_now` put an instant there, a new one each request.
CONSOLE = {
    "day": ("last 24 hours", "query Last24Hours($filter: AuditEventFilter!) {\n"
            "  auditEvents(first: 50, filter: $filter) {\n    %s\n  }\n}\n" % PAGE_SELECTION),
    "week": ("last 7 days + prefix `{prefix}`", "query Last7DaysPrefix($filter: AuditEventFilter!) {\n"
             "  auditEvents(first: 50, filter: $filter) {\n    %s\n  }\n}\n" % PAGE_SELECTION),
    "fail": ("failures in the last 7 days", "query Last7DaysFailures($filter: AuditEventFilter!) {\n"
             "  auditEvents(first: 50, filter: $filter) {\n    %s\n  }\n}\n" % PAGE_SELECTION),
    "actor": ("an actor's events", "query ActorEvents($filter: AuditEventFilter!) {\n"
              "  auditEvents(first: 50, filter: $filter) {\n    %s\n  }\n}\n" % PAGE_SELECTION),
}
DAY_SECS = 24 * 3600


def ago(secs):
    return "@AGO:%d@" % secs


def fill_now(text):
    """`@AGO:N@` → the instant N seconds ago, ISO 8601 in UTC with microseconds."""
    now = time.time()
    def instant(m):
        t = now - int(m.group(1))
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06dZ" % int((t % 1) * 1e6)
    return re.sub(r"@AGO:(\d+)@", instant, text)


def console_variables(url, tenant, prefix):
    """The console shapes' variables; the actor is the one of the tenant's newest seeded event."""
    actor = psql(url, "SELECT actor_id FROM audit_event WHERE tenant_id = %s AND action NOT IN ('tenant.create', "
                      "'api_key.create', 'api_key.revoke') ORDER BY occurred_at DESC, id DESC LIMIT 1" % q(tenant))
    return {
        "day": {"filter": {"occurredAt": {"gte": ago(DAY_SECS)}}},
        "week": {"filter": {"occurredAt": {"gte": ago(7 * DAY_SECS)}, "action": {"prefix": prefix}}},
        "fail": {"filter": {"occurredAt": {"gte": ago(7 * DAY_SECS)}, "outcome": "FAILURE"}},
        "actor": {"filter": {"actor": {"id": ["act_" + actor.replace("-", "")]}}},
    }


# Search (issue 24) and stats (issue 25), measured one connection at a time.
# The seed's metadata (src/demo.rs): `currency` and `amount_cents` (a number)
# on accounts and ledger events, 4 of its 38 kinds (about 10 %); "timeout" is
# a word of one failure message in six (about 1.3 % of events), "memory" one
# of the operators' comment (about 21 %).
SEARCH = {
    "s-word": ("`search: \"timeout\"` (≈1.3 %), 50", {"search": "timeout"}),
    "s-common": ("`search: \"memory\"` (≈21 %), 50", {"search": "memory"}),
    "s-meta-eq": ("metadata `currency` = `EUR` (key in ≈10 %), 50", {"metadata": [{"path": "currency", "eq": "EUR"}]}),
    "s-meta-range": ("metadata `amount_cents` ≥ 400,000 (≈2 %), 50",
                     {"metadata": [{"path": "amount_cents", "gte": 400000}]}),
}
STATS = {
    "st-action-day": ("`ACTION` by `DAY`, 30 days", "groupBy: [ACTION], interval: DAY", 30 * DAY_SECS),
    "st-outcome-hour": ("`OUTCOME` by `HOUR`, 24 hours", "groupBy: [OUTCOME], interval: HOUR", DAY_SECS),
    "st-actor-top": ("`ACTOR` top 20, 7 days", "groupBy: [ACTOR], limit: 20", 7 * DAY_SECS),
}
STATS_SELECTION = "total otherCount buckets { start key count }"


def cmd_search_queries(args):
    """search-queries OUTDIR: query files of the search and stats sections (any backend)."""
    outdir = args[0]
    os.makedirs(outdir, exist_ok=True)
    for name, (_, filt) in SEARCH.items():
        write_query(outdir, name, "query Search($filter: AuditEventFilter!) {\n"
                    "  auditEvents(first: 50, filter: $filter) {\n    %s\n  }\n}\n" % PAGE_SELECTION,
                    {"filter": filt})
    for name, (_, args_text, span) in STATS.items():
        write_query(outdir, name, "query Stats($filter: AuditEventFilter!) {\n"
                    "  auditEventStats(filter: $filter, %s) { %s }\n}\n" % (args_text, STATS_SELECTION),
                    {"filter": {"occurredAt": {"gte": ago(span)}}})


def cmd_latency_table(args):
    """latency-table RAWDIR TITLE NAME...: p50/p99 at one connection of the named measurements."""
    raw, title, names = args[0], args[1], args[2:]
    labels = dict((k, v[0]) for k, v in list(SEARCH.items()) + list(STATS.items()))
    L = ["| %s | req/s (1c) | p50 ms | p90 ms | p99 ms | errors |" % title, "|---|---:|---:|---:|---:|---:|"]
    for name in names:
        o = collect(raw, "ours-%s-1c" % name, parse_wrk)
        L.append("| %s | %s | %s | %s | %s | %s |" % (
            labels.get(name, name), fmt(o and o["req_per_s"], 1), fmt(o and o["p50_ms"], 2),
            fmt(o and o["p90_ms"], 2), fmt(o and o["p99_ms"], 2), int(o["errors"]) if o else "–"))
    print("\n".join(L) + "\n")


RECORD = ("mutation Record($events: [AuditEventInput!]!) {\n"
          "  recordAuditEvents(events: $events) { createdCount duplicateCount }\n}\n")


def write_query(outdir, name, text, variables):
    with open(os.path.join(outdir, name + ".graphql"), "w") as f:
        f.write(text)
    with open(os.path.join(outdir, name + ".vars.json"), "w") as f:
        json.dump(variables, f)


def cmd_queries(args):
    """queries OUTDIR DBURL TENANT_ID DEPTH PREFIX: our query files for (a)..(d)."""
    outdir, url, tenant, depth, prefix = args[0], args[1], args[2], int(args[3]), args[4]
    os.makedirs(outdir, exist_ok=True)
    micros, eid = event_at_offset(url, tenant, depth - 1)
    _, first_deep = event_at_offset(url, tenant, depth)
    # (c): a 7-day window ending 30 days before the tenant's newest event (inside the
    # 90 days the seed spans; shorter tenants still get a window that has events).
    span = psql(url, "SELECT to_char((max(occurred_at) - interval '30 days') AT TIME ZONE 'UTC', "
                     "'YYYY-MM-DD\"T\"00:00:00\"Z\"') FROM audit_event WHERE tenant_id = %s" % q(tenant))
    lt = span
    gte = psql(url, "SELECT to_char((%s::timestamptz - interval '7 days') AT TIME ZONE 'UTC', "
                    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')" % q(lt))
    filt = {"action": {"prefix": prefix}, "occurredAt": {"gte": gte, "lt": lt}}
    write_query(outdir, "a", QUERIES["a"], {"first": 50})
    write_query(outdir, "b", QUERIES["b"], {"first": 50, "after": our_cursor(micros, eid)})
    write_query(outdir, "c", QUERIES["c"], {"first": 50, "filter": filt})
    write_query(outdir, "d1", QUERIES["d1"], {"filter": filt})
    write_query(outdir, "d2", QUERIES["d2"], {})
    for name, variables in console_variables(url, tenant, prefix).items():
        write_query(outdir, name, CONSOLE[name][1], variables)
    expected = {"b_first_id": first_deep, "c_filter": filt,
                "c_count_sql": int(psql(url, "SELECT count(*) FROM audit_event WHERE tenant_id = %s AND action LIKE %s "
                                             "AND occurred_at >= %s AND occurred_at < %s"
                                        % (q(tenant), q(prefix.replace("_", "\\_") + "%"), q(gte), q(lt))))}
    with open(os.path.join(outdir, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
    print(json.dumps(expected))


def evt_uuid(gid):
    return str(uuid.UUID(gid.split("_", 1)[1]))


def cmd_check(args):
    """check QUERYDIR GRAPHQL_URL AUTH: each query answers without errors; (b) starts where SQL says."""
    qdir, url, auth = args
    exp = json.load(open(os.path.join(qdir, "expected.json")))
    for name in ("a", "b", "c", "d1", "d2") + tuple(CONSOLE):
        body = {"query": open(os.path.join(qdir, name + ".graphql")).read(),
                "variables": json.loads(fill_now(open(os.path.join(qdir, name + ".vars.json")).read()))}
        r = post(url, body, auth)
        if r.get("errors"):
            raise SystemExit("query %s failed: %s" % (name, json.dumps(r["errors"])[:600]))
        conn = r["data"]["auditEvents"]
        if name == "b":
            got = evt_uuid(conn["edges"][0]["node"]["id"])
            if got != exp["b_first_id"]:
                raise SystemExit("(b) starts at %s, SQL says %s" % (got, exp["b_first_id"]))
        if name == "d1" and conn["totalCount"] != exp["c_count_sql"]:
            raise SystemExit("(d) totalCount %s, SQL count %s" % (conn["totalCount"], exp["c_count_sql"]))
        if name not in ("d1", "d2"):
            print("%s: %d edges, hasNextPage=%s" % (name, len(conn["edges"]), conn["pageInfo"]["hasNextPage"]))
        else:
            print("%s: totalCount=%d" % (name, conn["totalCount"]))


# --------------------------------------------------------------------------- peer

def cmd_peer_queries(args):
    """peer-queries OUTDIR PEER_URL TENANT_ID DEPTH EXPECTED_JSON: PostGraphile's (a) and (b),
    names discovered by introspection, its own cursor at the same depth."""
    outdir, url, tenant, depth, expected = args[0], args[1], args[2], int(args[3]), args[4]
    os.makedirs(outdir, exist_ok=True)

    def type_info(name):
        r = post(url, {"query": "query($n: String!) { __type(name: $n) { name fields { name } inputFields { name } "
                                "enumValues { name } } }", "variables": {"n": name}})
        return r["data"]["__type"]

    query_type = type_info("Query")
    conn_field = next(f["name"] for f in query_type["fields"] if f["name"] in ("allAuditEvents", "auditEvents"))
    event = type_info("AuditEvent")
    fields = {f["name"] for f in event["fields"]}
    actor_f = next(f for f in ("actorByActorId", "actor") if f in fields)
    resource_f = next(f for f in ("resourceByResourceId", "resource") if f in fields)
    order_enum = next(t for t in ("AuditEventOrderBy", "AuditEventsOrderBy") if type_info(t))
    orders = {v["name"] for v in type_info(order_enum)["enumValues"]}
    id_desc = next(o for o in ("ROW_ID_DESC", "ID_DESC", "PRIMARY_KEY_DESC") if o in orders)
    order = ["OCCURRED_AT_DESC", id_desc]
    cond = {f["name"] for f in type_info("AuditEventCondition")["inputFields"]}
    if "tenantId" not in cond:
        raise SystemExit("peer has no condition on tenantId: %s" % sorted(cond))
    sel = ("edges {\n      cursor\n      node { id action occurredAt %s { displayName } %s { name } }\n    }\n"
           "    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }" % (actor_f, resource_f))
    pa = ("query NewestPage($tenant: UUID!, $first: Int!) {\n  %s(condition: {tenantId: $tenant}, orderBy: [%s], "
          "first: $first) {\n    %s\n  }\n}\n" % (conn_field, ", ".join(order), sel))
    pb = ("query DeepPage($tenant: UUID!, $first: Int!, $after: Cursor!) {\n  %s(condition: {tenantId: $tenant}, "
          "orderBy: [%s], first: $first, after: $after) {\n    %s\n  }\n}\n" % (conn_field, ", ".join(order), sel))
    # Its cursor of the event at depth-1 (by OFFSET, once), so `after` starts at depth.
    r = post(url, {"query": "query($t: UUID!, $o: Int!) { %s(condition: {tenantId: $t}, orderBy: [%s], first: 1, "
                            "offset: $o) { edges { cursor } } }" % (conn_field, ", ".join(order)),
                   "variables": {"t": tenant, "o": depth - 1}})
    cursor = r["data"][conn_field]["edges"][0]["cursor"]
    write_query(outdir, "peer-a", pa, {"tenant": tenant, "first": 50})
    write_query(outdir, "peer-b", pb, {"tenant": tenant, "first": 50, "after": cursor})
    # Same page as ours?
    exp = json.load(open(expected))
    r = post(url, {"query": pb.replace("node { id", "node { rowId id"),
                   "variables": {"tenant": tenant, "first": 50, "after": cursor}})
    if r.get("errors"):
        raise SystemExit("peer (b) failed: %s" % json.dumps(r["errors"])[:600])
    got = r["data"][conn_field]["edges"][0]["node"]["rowId"]
    if got != exp["b_first_id"]:
        raise SystemExit("peer (b) starts at %s, ours at %s" % (got, exp["b_first_id"]))
    print("peer: %s(condition: {tenantId}, orderBy: %s), %s, %s; cursor at depth %d: %s"
          % (conn_field, order, actor_f, resource_f, depth, base64.b64decode(cursor).decode(errors="replace")))


# --------------------------------------------------------------------------- writes

SOURCE_ROWS = """
SELECT json_agg(x) FROM (
  SELECT e.*, a.type AS actor_type, a.external_id AS actor_external_id, a.display_name AS actor_display_name,
         a.email AS actor_email, a.roles AS actor_roles,
         (SELECT json_agg(json_build_object('position', er.position, 'resource_id', r.id, 'type', r.type,
                                            'external_id', r.external_id, 'name', r.name) ORDER BY er.position)
            FROM event_resource er JOIN resource r ON r.id = er.resource_id WHERE er.event_id = e.id) AS links
  FROM audit_event e JOIN actor a ON a.id = e.actor_id
  WHERE e.tenant_id = %s AND e.action NOT IN ('tenant.create', 'api_key.create', 'api_key.revoke')
  ORDER BY e.occurred_at DESC, e.id DESC OFFSET 1000 LIMIT %d) x
"""


def source_rows(url, tenant, n):
    rows = psql_json(url, SOURCE_ROWS % (q(tenant), n)) or []
    if len(rows) < n:
        raise SystemExit("only %d source events in tenant %s, need %d" % (len(rows), tenant, n))
    return rows


def iso(ts):
    # PostgreSQL's JSON timestamps: 2026-08-25T02:48:33.299094+00:00
    return ts.replace("+00:00", "Z")


def cmd_write_body(args):
    """write-body DBURL SRC_TENANT_ID N OUT.json: a recordAuditEvents body of N events, copied
    from seeded events (same actions, actors, resources, request contexts, metadata)."""
    url, tenant, n, out = args[0], args[1], int(args[2]), args[3]
    events = []
    for r in source_rows(url, tenant, n):
        links = r["links"] or []
        ev = {"action": r["action"], "outcome": r["outcome"], "occurredAt": iso(r["occurred_at"]),
              "actor": {"type": r["actor_type"], "externalId": r["actor_external_id"]}}
        for k, src in (("displayName", "actor_display_name"), ("email", "actor_email"), ("roles", "actor_roles")):
            if r[src] is not None:
                ev["actor"][k] = r[src]
        prim = [lk for lk in links if lk["position"] == 0]
        if prim:
            ev["resource"] = {"type": prim[0]["type"], "externalId": prim[0]["external_id"], "name": prim[0]["name"]}
        rel = [lk for lk in links if lk["position"] > 0]
        if rel:
            ev["relatedResources"] = [{"type": lk["type"], "externalId": lk["external_id"], "name": lk["name"]}
                                      for lk in rel]
        for k, src in (("summary", "summary"), ("reason", "reason"), ("errorMessage", "error_message"),
                       ("environment", "environment"), ("sourceService", "source_service"),
                       ("correlationId", "correlation_id")):
            if r[src] is not None:
                ev[k] = r[src]
        if r["has_request"]:
            req = {}
            for k, src in (("id", "request_id"), ("method", "request_method"), ("path", "request_path"),
                           ("status", "request_status"), ("latencyMs", "request_latency_ms"),
                           ("ipAddress", "request_ip"), ("userAgent", "request_user_agent")):
                if r[src] is not None:
                    req[k] = r[src]
            ev["request"] = req
        if r["metadata"]:
            ev["metadata"] = r["metadata"]
        if r["changes"]:
            ev["changes"] = r["changes"]
        events.append(ev)
    with open(out, "w") as f:
        json.dump({"query": RECORD, "variables": {"events": events}}, f)
    print("%s: %d events, %d bytes" % (out, len(events), os.path.getsize(out)))


def cmd_rest_body(args):
    """rest-body IN.json OUT.json: the events of a recordAuditEvents body (write-body's) as the
    JSON array that POST /v1/events takes, so both doors record the same events."""
    events = json.load(open(args[0]))["variables"]["events"]
    with open(args[1], "w") as f:
        json.dump(events, f)
    print("%s: %d events, %d bytes" % (args[1], len(events), os.path.getsize(args[1])))


def lit(v, cast):
    """A SQL literal safe for pgbench scripts: every ':' is written as \\x3a inside E'' strings,
    so pgbench never mistakes text for a :variable."""
    if v is None:
        return "NULL::" + cast
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)) and cast in ("int4", "int8", "float8", "int2"):
        return "%r::%s" % (v, cast)
    if not isinstance(v, str):
        v = json.dumps(v)
    s = v.replace("\\", "\\\\").replace("'", "\\'").replace(":", "\\x3a").replace("\n", "\\n")
    return "E'%s'::%s" % (s, cast)


EVENT_COLS = [("action", "text"), ("category", "text"), ("outcome", "text"), ("occurred_at", "timestamptz"),
              ("actor_id", "uuid"), ("resource_id", "uuid"), ("summary", "text"), ("reason", "text"),
              ("error_message", "text"), ("environment", "text"), ("source_service", "text"),
              ("correlation_id", "text"), ("has_request", "bool"), ("request_id", "text"),
              ("request_method", "text"), ("request_path", "text"), ("request_status", "int4"),
              ("request_latency_ms", "float8"), ("request_ip", "text"), ("request_user_agent", "text"),
              ("metadata", "jsonb"), ("changes", "jsonb"), ("idempotency_key", "text"), ("search_text", "text"),
              ("sequence", "int8"), ("recorded", "jsonb")]


def cmd_insert_floor(args):
    """insert-floor DBURL SRC_TENANT_ID DST_TENANT_ID N OUT.sql: a pgbench script that stores N
    events (copies of seeded ones) and their event_resource links in one statement, one
    transaction, with time-ordered IDs like the server's UUIDv7, into the month partitions
    as the server writes them (no ON CONFLICT: on the partitioned tables the server checks
    idempotency keys under the tenant's head lock instead; links carry received_at)."""
    url, src, dst, n, out = args[0], args[1], args[2], int(args[3]), args[4]
    rows = source_rows(url, src, n)
    vals, links = [], []
    for k, r in enumerate(rows, 1):
        vals.append("(%d, %s)" % (k, ", ".join(lit(r[c], t) for c, t in EVENT_COLS)))
        for lk in r["links"] or []:
            links.append("(%d, %d::int2, %s::uuid)" % (k, lk["position"], q(lk["resource_id"])))
    cols = ", ".join(c for c, _ in EVENT_COLS)
    src_cols = ", ".join("src." + c for c, _ in EVENT_COLS)
    sql = ["-- raw SQL floor for recordAuditEvents: %d events per transaction (generated by bench/tools.py)" % n,
           "\\set r random(1, 1000000000000)",
           "WITH b AS (SELECT lpad(to_hex((extract(epoch FROM statement_timestamp()) * 1000000)::bigint), 16, '0') AS hi,",
           "                  :r::bigint * 10000 AS lo),",
           "src (k, %s) AS (VALUES" % cols,
           ",\n".join(vals) + "),",
           "ins AS (INSERT INTO audit_event (id, tenant_id, received_at, %s)" % cols,
           "        SELECT (b.hi || lpad(to_hex(b.lo + src.k), 16, '0'))::uuid, %s::uuid, statement_timestamp(), %s"
           % (q(dst), src_cols),
           "        FROM src, b RETURNING id)",
           "INSERT INTO event_resource (event_id, position, tenant_id, resource_id, received_at)",
           "SELECT (b.hi || lpad(to_hex(b.lo + l.k), 16, '0'))::uuid, l.pos, %s::uuid, l.rid, statement_timestamp()"
           % q(dst),
           "FROM b, (VALUES", ",\n".join(links), ") AS l (k, pos, rid);"]
    with open(out, "w") as f:
        f.write("\n".join(sql) + "\n")
    print("%s: %d events, %d links, %d bytes" % (out, n, len(links), os.path.getsize(out)))


# --------------------------------------------------------------------------- captured SQL -> pgbench

def cmd_floor_script(args):
    """floor-script CAPTURE.jsonl FROM_LINE OUT_PREFIX: the statements one request sent (lines
    after FROM_LINE; API-key lookups and simple-protocol traffic left out) as a pgbench script
    OUT_PREFIX.sql with :variables, and OUT_PREFIX.args holding -D name=value, one a line."""
    log, start, prefix = args[0], int(args[1]), args[2]
    recs = [json.loads(x) for x in open(log).read().splitlines()[start:]]
    stmts = [r for r in recs if "sql" in r and not r.get("simple") and "api_key" not in r["sql"]]
    if not stmts:
        raise SystemExit("no statements captured after line %d of %s" % (start, log))
    script, defs, shown = [], [], []
    for si, r in enumerate(stmts, 1):
        def sub(m, si=si):
            return ":s%d_%s" % (si, m.group(1))
        script.append(re.sub(r"\$(\d+)", sub, r["sql"]) + ";")
        for pi, v in enumerate(r["params"], 1):
            if v is None:
                raise SystemExit("NULL parameter in captured statement; pgbench -D cannot express it")
            defs.append("s%d_%d=%s" % (si, pi, v))
        shown.append({"sql": r["sql"], "params": r["params"]})
    with open(prefix + ".sql", "w") as f:
        f.write("\n".join(script) + "\n")
    with open(prefix + ".args", "w") as f:
        f.write("\n".join(defs) + "\n")
    with open(prefix + ".captured.json", "w") as f:
        json.dump(shown, f, indent=1)
    print("%d statements: %s" % (len(stmts), "; ".join(re.sub(r"\s+", " ", s["sql"])[:90] + "…" for s in shown)))


# --------------------------------------------------------------------------- results

RESULT_RE = re.compile(r"^RESULT (.*)$", re.M)


CPU_RE = re.compile(r"^CPU (.*)$", re.M)


def parse_wrk(path):
    text = open(path).read()
    m = RESULT_RE.search(text)
    if not m:
        return None
    d = {}
    for kv in m.group(1).split() + (CPU_RE.search(text).group(1).split() if CPU_RE.search(text) else []):
        k, v = kv.split("=")
        d[k] = float(v)
    return d


def parse_pgbench(path):
    text = open(path).read()
    m = re.search(r"^tps = ([\d.]+) \(without initial connection time\)", text, re.M)
    lat = re.search(r"^latency average = ([\d.]+) ms", text, re.M)
    failed = re.search(r"^number of failed transactions: (\d+)", text, re.M)
    if not m:
        return None
    return {"tps": float(m.group(1)), "lat_ms": float(lat.group(1)) if lat else None,
            "failed": int(failed.group(1)) if failed else 0}


def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def collect(raw, label, parser):
    runs = [parser(p) for p in sorted(glob.glob(os.path.join(raw, label + ".run*.txt")))]
    runs = [r for r in runs if r]
    if not runs:
        return None
    out = {k: med([r.get(k) for r in runs]) for k in runs[0]}
    out["n"] = len(runs)
    if "non2xx" in out:
        out["errors"] = sum(r["non2xx"] + r["socket_errors"] + r["timeouts"] + r["sampled_with_errors"] for r in runs)
    return out


def fmt(v, digits=0):
    if v is None:
        return "–"
    if digits == 0:
        return "{:,.0f}".format(v)
    return "{:,.{d}f}".format(v, d=digits)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "–"
    return "%.2f×" % (a / b)


def cmd_summarize(args):
    """summarize OUTDIR: the markdown table (also written to OUTDIR/summary.md)."""
    outdir = args[0]
    raw = os.path.join(outdir, "raw")
    meta = json.load(open(os.path.join(outdir, "meta.json")))
    L = []
    L.append("## auditgraph benchmark — %s" % meta.get("started", ""))
    L.append("")
    L.append("Data: %s events in %s tenants (largest `seed-1`: %s events); deep page at %s; "
             "%s run(s) per figure, median; reads %s s at %d connections and %s s at 1 connection; "
             "writes %s s; server pool %s; machine: %s cores, load average at start %s."
             % (fmt(meta.get("events_total")), meta.get("tenants"), fmt(meta.get("tenant_size")),
                fmt(meta.get("depth")), meta.get("runs"), meta.get("secs"), meta.get("conns", 8),
                meta.get("secs1"), meta.get("write_secs"), meta.get("pool"), meta.get("cores"), meta.get("loadavg")))
    if meta.get("command"):
        L.append("")
        L.append("Command: `%s`" % meta["command"])
    if meta.get("smoke"):
        L.append("")
        L.append("**Smoke run on small data — not the measured set; do not quote these figures.**")
    L.append("")
    L.append("| measurement | ours req/s (%dc) | p50 ms | p99 ms | CPU ms/req | ours req/s (1c) | p50 ms (1c) "
             "| peer req/s (%dc) | peer p50/p99 ms | peer CPU ms/req | peer req/s (1c) | peer p50 ms (1c) | ours/peer "
             "| SQL floor pages/s | ours/floor | errors |"
             % (meta.get("conns", 8), meta.get("conns", 8)))
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    names = {"a": "(a) newest 50 + actor, resource, pageInfo",
             "b": "(b) same, %s deep (after cursor)" % fmt(meta.get("depth")),
             "c": "(c) prefix `%s` + 7-day range, 50" % meta.get("prefix", ""),
             "d1": "(d) totalCount of (c)",
             "d2": "(d) totalCount of the whole tenant"}
    for k, (label, _) in CONSOLE.items():
        names[k] = "console: %s, 50" % label.format(prefix=meta.get("prefix", ""))
    for k in names:
        o8 = collect(raw, "ours-%s-8c" % k, parse_wrk)
        o1 = collect(raw, "ours-%s-1c" % k, parse_wrk)
        p8 = collect(raw, "peer-%s-8c" % k, parse_wrk)
        p1 = collect(raw, "peer-%s-1c" % k, parse_wrk)
        fl = collect(raw, "floor-%s" % k, parse_pgbench)
        errs = int(sum((x or {}).get("errors", 0) for x in (o8, o1, p8, p1)))
        L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            names[k], fmt(o8 and o8["req_per_s"]), fmt(o8 and o8["p50_ms"], 2), fmt(o8 and o8["p99_ms"], 2),
            fmt(o8 and o8.get("ms_per_request"), 3),
            fmt(o1 and o1["req_per_s"]), fmt(o1 and o1["p50_ms"], 2),
            fmt(p8 and p8["req_per_s"]),
            ("%s / %s" % (fmt(p8["p50_ms"], 2), fmt(p8["p99_ms"], 2))) if p8 else "–",
            fmt(p8 and p8.get("ms_per_request"), 3),
            fmt(p1 and p1["req_per_s"]), fmt(p1 and p1["p50_ms"], 2),
            ratio(o8 and o8["req_per_s"], p8 and p8["req_per_s"]),
            fmt(fl and fl["tps"]), ratio(o8 and o8["req_per_s"], fl and fl["tps"]), errs))
    L.append("")
    L.append("| (e) recording, door | clients | ours req/s | ours events/s | p50 ms | p99 ms "
             "| INSERT floor events/s | ours/floor | errors |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for door, prefix in (("`recordAuditEvents`", "ours-e"), ("`POST /v1/events`", "ours-rest")):
        for batch in (100, 1000):
            for clients in (1, 4):
                o = collect(raw, "%s-b%d-%dc" % (prefix, batch, clients), parse_wrk)
                if not o and prefix != "ours-e":
                    continue
                fl = collect(raw, "floor-e-b%d-%dc" % (batch, clients), parse_pgbench)
                ev = o and o["req_per_s"] * batch
                fev = fl and fl["tps"] * batch
                L.append("| %s, batch %s | %d | %s | %s | %s | %s | %s | %s | %s |" % (
                    door, fmt(batch), clients, fmt(o and o["req_per_s"], 1), fmt(ev), fmt(o and o["p50_ms"], 1),
                    fmt(o and o["p99_ms"], 1), fmt(fev), ratio(ev, fev), int(o["errors"]) if o else "–"))
    L.append("")
    if any(f.startswith("ledger-") for f in os.listdir(raw)):
        L.append("| (e) batch 1,000, ledger on against off | clients | with: events/s | p50 ms | p99 ms "
                 "| without: events/s | p50 ms | p99 ms | with/without |")
        L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for clients in (1, 4):
            w = collect(raw, "ledger-with-%dc" % clients, parse_wrk)
            wo = collect(raw, "ledger-without-%dc" % clients, parse_wrk)
            L.append("| batch 1,000 | %d | %s | %s | %s | %s | %s | %s | %s |" % (
                clients, fmt(w and w["req_per_s"] * 1000), fmt(w and w["p50_ms"], 1), fmt(w and w["p99_ms"], 1),
                fmt(wo and wo["req_per_s"] * 1000), fmt(wo and wo["p50_ms"], 1), fmt(wo and wo["p99_ms"], 1),
                ratio(w and w["req_per_s"], wo and wo["req_per_s"])))
        L.append("")
    rss = meta.get("rss", {})
    extra = []
    for when, v in rss.items():
        extra.append("server RSS %s: VmHWM %s MiB, VmRSS %s MiB" % (when, v.get("VmHWM"), v.get("VmRSS")))
    if meta.get("peer_rss"):
        extra.append("peer RSS after its runs: VmHWM %s MiB, VmRSS %s MiB"
                     % (meta["peer_rss"].get("VmHWM"), meta["peer_rss"].get("VmRSS")))
    if meta.get("statements"):
        extra.append("SQL statements per page (captured on the wire): " + ", ".join(
            "%s: %s" % (k, v) for k, v in meta["statements"].items()))
    if meta.get("seed"):
        extra.append("seed: " + meta["seed"])
    for e in extra:
        L.append("- " + e)
    L.append("")
    L.append("Floors: `pgbench -M prepared -c 8 -j 2` running the statements captured from the server for one "
             "page (same text, same parameters); INSERT floor: one multi-row `INSERT … VALUES` of the same events "
             "+ their `event_resource` rows per transaction, same table and indexes, `-c` = clients. "
             "Raw outputs: %s" % raw)
    text = "\n".join(L) + "\n"
    open(os.path.join(outdir, "summary.md"), "w").write(text)
    print(text)


def cmd_meta(args):
    """meta OUTDIR KEY JSONVALUE: sets a key of OUTDIR/meta.json (KEY may be a.b for nesting)."""
    path = os.path.join(args[0], "meta.json")
    meta = json.load(open(path)) if os.path.exists(path) else {}
    keys = args[1].split(".")
    d = meta
    for k in keys[:-1]:
        d = d.setdefault(k, {})
    d[keys[-1]] = json.loads(args[2])
    json.dump(meta, open(path, "w"), indent=1)


def cmd_rss(args):
    """rss PID: VmHWM and VmRSS in MiB as JSON."""
    out = {}
    for line in open("/proc/%s/status" % args[0]):
        k, _, v = line.partition(":")
        if k in ("VmHWM", "VmRSS"):
            out[k] = round(int(v.split()[0]) / 1024, 1)
    print(json.dumps(out))


def cmd_ingest(args):
    """ingest URL BODY.json AUTH STOPFILE OUT.jsonl: posts BODY again and again, one request at a
    time, until STOPFILE exists; one line per request: start and end (Unix seconds), HTTP status,
    events created."""
    url, body, auth, stop, out = args[0], open(args[1], "rb").read(), args[2], args[3], args[4]
    headers = {"content-type": "application/json", "authorization": auth}
    with open(out, "w") as f:
        while not os.path.exists(stop):
            start = time.time()
            try:
                req = urllib.request.Request(url, data=body, headers=headers)
                with urllib.request.urlopen(req, timeout=120) as r:
                    status, answer = r.status, json.load(r)
            except urllib.error.HTTPError as e:
                status, answer = e.code, {}
            created = ((answer.get("data") or {}).get("recordAuditEvents") or {}).get("createdCount", 0)
            f.write(json.dumps({"start": start, "end": time.time(), "status": status, "created": created}) + "\n")
            f.flush()


def cmd_window(args):
    """window OUT.jsonl FROM TO: the requests that overlap [FROM, TO): events/s (each request's events
    counted by the share of its time inside), p50 and p99 latency (ms)."""
    rows = [json.loads(line) for line in open(args[0])]
    lo, hi = float(args[1]), float(args[2])
    inside = [r for r in rows if r["start"] < hi and r["end"] > lo]
    share = lambda r: (min(r["end"], hi) - max(r["start"], lo)) / max(r["end"] - r["start"], 1e-9)
    lat = sorted((r["end"] - r["start"]) * 1000 for r in inside)
    pick = lambda p: round(lat[min(len(lat) - 1, int(p * len(lat)))], 1) if lat else None
    print(json.dumps({"requests": len(inside), "errors": sum(r["status"] != 200 for r in inside),
                      "events_per_s": round(sum(r["created"] * share(r) for r in inside) / max(hi - lo, 1e-9)),
                      "p50_ms": pick(0.5), "p99_ms": pick(0.99)}))


def cmd_searchcost_table(args):
    """searchcost-table RAWDIR: ingest with and without the search indexes (batches of 1,000)."""
    raw = args[0]
    L = ["| (e) batch 1,000, search indexes on against off | clients | with: events/s | p50 ms | p99 ms "
         "| without: events/s | p50 ms | p99 ms | with/without |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for clients in (1, 4):
        w = collect(raw, "searchcost-with-%dc" % clients, parse_wrk)
        wo = collect(raw, "searchcost-without-%dc" % clients, parse_wrk)
        L.append("| batch 1,000 | %d | %s | %s | %s | %s | %s | %s | %s |" % (
            clients, fmt(w and w["req_per_s"] * 1000), fmt(w and w["p50_ms"], 1), fmt(w and w["p99_ms"], 1),
            fmt(wo and wo["req_per_s"] * 1000), fmt(wo and wo["p50_ms"], 1), fmt(wo and wo["p99_ms"], 1),
            ratio(w and w["req_per_s"], wo and wo["req_per_s"])))
    print("\n".join(L) + "\n")


def cmd_body(args):
    """body QUERYBASE: the JSON body of QUERYBASE.graphql with QUERYBASE.vars.json, instants filled in."""
    print(json.dumps({"query": open(args[0] + ".graphql").read(),
                      "variables": json.loads(fill_now(open(args[0] + ".vars.json").read()))}))


COMMANDS = {"url": cmd_url, "body": cmd_body, "search-queries": cmd_search_queries,
            "latency-table": cmd_latency_table,
            "searchcost-table": cmd_searchcost_table, "ingest": cmd_ingest, "window": cmd_window, "queries": cmd_queries, "check": cmd_check, "peer-queries": cmd_peer_queries,
            "write-body": cmd_write_body, "rest-body": cmd_rest_body, "insert-floor": cmd_insert_floor, "floor-script": cmd_floor_script,
            "summarize": cmd_summarize, "meta": cmd_meta, "rss": cmd_rss}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        for name, fn in COMMANDS.items():
            print("%-14s %s" % (name, (fn.__doc__ or "").strip().splitlines()[0]))
        sys.exit(2)
    COMMANDS[sys.argv[1]](sys.argv[2:])
