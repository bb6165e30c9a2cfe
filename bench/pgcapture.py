#!/usr/bin/env python3
"""A logging proxy for the PostgreSQL wire protocol, used to capture the exact
statements (and bound parameters) the server sends for one GraphQL request.

    pgcapture.py LISTEN_PORT UPSTREAM_HOST UPSTREAM_PORT LOGFILE

Listens on 127.0.0.1:LISTEN_PORT and forwards every connection to the upstream
PostgreSQL unchanged, except that SSL/GSS encryption requests are declined (so
the traffic can be read: point the client at it with sslmode=disable or prefer).
Every extended-protocol Bind is appended to LOGFILE as one JSON line:
  {"t": unix time, "conn": n, "sql": statement text,
   "types": [parameter type OIDs], "params": [decoded values as text]}
Simple-protocol queries ('Q') are logged with "simple": true.
Binary parameters of the common types (uuid, int2/4/8, float4/8, bool, text,
timestamptz, timestamp, jsonb, json) are decoded to PostgreSQL text input form;
anything else is logged as hex with its OID.
"""
import datetime
import json
import socket
import struct
import sys
import threading
import time
import uuid

LISTEN_PORT, UP_HOST, UP_PORT, LOGFILE = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
LOCK = threading.Lock()
PG_EPOCH = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
COUNTER = [0]


def log(rec):
    with LOCK:
        with open(LOGFILE, "a") as f:
            f.write(json.dumps(rec) + "\n")


def decode(oid, fmt, raw):
    if raw is None:
        return None
    if fmt == 0:
        return raw.decode("utf-8", "replace")
    try:
        if oid == 2950:
            return str(uuid.UUID(bytes=raw))
        if oid == 20:
            return str(struct.unpack(">q", raw)[0])
        if oid == 23:
            return str(struct.unpack(">i", raw)[0])
        if oid == 21:
            return str(struct.unpack(">h", raw)[0])
        if oid == 700:
            return repr(struct.unpack(">f", raw)[0])
        if oid == 701:
            return repr(struct.unpack(">d", raw)[0])
        if oid == 16:
            return "true" if raw[0] else "false"
        if oid in (25, 1043, 19, 114, 0):
            return raw.decode("utf-8")
        if oid == 3802:  # jsonb: version byte 1, then text
            return raw[1:].decode("utf-8")
        if oid in (2951, 1009, 1015):  # uuid[], text[], varchar[]: binary array to text
            ndim, _nulls, elem = struct.unpack(">iiI", raw[:12])
            if ndim == 0:
                return "{}"
            count = struct.unpack(">i", raw[12:16])[0]
            i, items = 20, []
            for _ in range(count):
                n = struct.unpack(">i", raw[i:i + 4])[0]
                item = raw[i + 4:i + 4 + n]
                i += 4 + n
                items.append(str(uuid.UUID(bytes=item)) if elem == 2950 else '"%s"' % item.decode("utf-8").replace('"', '\\"'))
            return "{" + ",".join(items) + "}"
        if oid in (1184, 1114):
            micros = struct.unpack(">q", raw)[0]
            ts = PG_EPOCH + datetime.timedelta(microseconds=micros)
            return ts.strftime("%Y-%m-%d %H:%M:%S.%f") + ("+00" if oid == 1184 else "")
    except Exception:  # noqa: BLE001 - fall back to hex
        pass
    return "\\x" + raw.hex()


def cstr(buf, i):
    j = buf.index(b"\0", i)
    return buf[i:j].decode("utf-8", "replace"), j + 1


def recv_exact(sock, n):
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise EOFError
        out += chunk
    return out


def pump_up(client, server, conn_no):
    """Client -> server: parse messages, log Binds, forward everything."""
    statements = {}  # prepared statement name -> (sql, type oids)
    try:
        # Startup phase: messages without a type byte.
        while True:
            length = struct.unpack(">i", recv_exact(client, 4))[0]
            body = recv_exact(client, length - 4)
            code = struct.unpack(">i", body[:4])[0]
            if code in (80877103, 80877104):  # SSLRequest / GSSENCRequest: decline
                client.sendall(b"N")
                continue
            server.sendall(struct.pack(">i", length) + body)
            if code == 80877102:  # CancelRequest: nothing follows
                return
            break
        while True:
            head = recv_exact(client, 5)
            kind, length = head[:1], struct.unpack(">i", head[1:])[0]
            body = recv_exact(client, length - 4)
            try:
                if kind == b"P":
                    name, i = cstr(body, 0)
                    sql, i = cstr(body, i)
                    n = struct.unpack(">h", body[i:i + 2])[0]
                    oids = list(struct.unpack(">%dI" % n, body[i + 2:i + 2 + 4 * n])) if n else []
                    statements[name] = (sql, oids)
                elif kind == b"B":
                    _portal, i = cstr(body, 0)
                    name, i = cstr(body, i)
                    nf = struct.unpack(">h", body[i:i + 2])[0]
                    i += 2
                    fmts = list(struct.unpack(">%dh" % nf, body[i:i + 2 * nf])) if nf else []
                    i += 2 * nf
                    n = struct.unpack(">h", body[i:i + 2])[0]
                    i += 2
                    sql, oids = statements.get(name, ("<unknown statement %s>" % name, []))
                    params = []
                    for k in range(n):
                        ln = struct.unpack(">i", body[i:i + 4])[0]
                        i += 4
                        raw = None if ln < 0 else body[i:i + ln]
                        i += max(ln, 0)
                        fmt = fmts[k] if len(fmts) > 1 else (fmts[0] if fmts else 0)
                        params.append(decode(oids[k] if k < len(oids) else 0, fmt, raw))
                    log({"t": time.time(), "conn": conn_no, "sql": sql, "types": oids, "params": params})
                elif kind == b"Q":
                    sql, _ = cstr(body, 0)
                    log({"t": time.time(), "conn": conn_no, "sql": sql, "simple": True})
            except Exception as e:  # noqa: BLE001 - never break the connection
                log({"t": time.time(), "conn": conn_no, "error": repr(e)})
            server.sendall(head + body)
    except (EOFError, OSError):
        pass
    finally:
        for s in (client, server):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def pump_down(server, client):
    try:
        while True:
            data = server.recv(65536)
            if not data:
                break
            client.sendall(data)
    except OSError:
        pass
    finally:
        for s in (client, server):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def main():
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", LISTEN_PORT))
    lsock.listen(64)
    while True:
        client, _ = lsock.accept()
        server = socket.create_connection((UP_HOST, UP_PORT))
        for s in (client, server):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        COUNTER[0] += 1
        threading.Thread(target=pump_up, args=(client, server, COUNTER[0]), daemon=True).start()
        threading.Thread(target=pump_down, args=(server, client), daemon=True).start()


if __name__ == "__main__":
    main()
