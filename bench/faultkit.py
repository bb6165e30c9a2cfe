"""Shared helpers of the load/fault scripts (soak.py, crash.py, pg_restart.py,
subscribers.py): a private copy of the binary, throw-away databases, the
server's lifecycle on a free loopback port, a keep-alive GraphQL client,
percentiles and cleanup. Python 3.11 stdlib only.

Environment:
  AUDITGRAPH_BIN     binary to run (default: target/release/auditgraph, built
                     first unless FAULTS_NO_BUILD=1; copied to a temporary
                     directory so a concurrent `cargo build` cannot swap it mid-run)
  FAULTS_PG_URL      PostgreSQL server, no database part
                     (default postgres://postgres@127.0.0.1:5432)
  FAULTS_KEEP_DB=1   keep the databases the scripts create (default: dropped)
  FAULTS_SERVER_LOG  AUDITGRAPH_LOG for the servers (default warn)
"""
import atexit
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PG_BASE = os.environ.get("FAULTS_PG_URL", "postgres://postgres@127.0.0.1:5432").rstrip("/")
WORKDIR = tempfile.mkdtemp(prefix="auditgraph-faults-")

_cleanups = []  # LIFO


def on_cleanup(fn):
    _cleanups.append(fn)
    return fn


def _run_cleanups():
    while _cleanups:
        fn = _cleanups.pop()
        try:
            fn()
        except Exception as e:  # keep cleaning up
            print(f"# cleanup: {e}", file=sys.stderr)
    shutil.rmtree(WORKDIR, ignore_errors=True)


atexit.register(_run_cleanups)


def _on_signal(signum, _frame):
    print(f"# signal {signum}: cleaning up", file=sys.stderr)
    sys.exit(128 + signum)  # runs atexit


for _s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(_s, _on_signal)


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------- binary

def binary():
    """A private copy of the server binary."""
    src = os.environ.get("AUDITGRAPH_BIN")
    if not src:
        src = os.path.join(ROOT, "target", "release", "auditgraph")
        if os.environ.get("FAULTS_NO_BUILD") != "1":
            log("cargo build --release")
            subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    dst = os.path.join(WORKDIR, "auditgraph")
    shutil.copy2(src, dst)
    print(f"# {describe_build(dst)}; {machine()}")
    return dst


def describe_build(bin_path=None):
    """The binary (mtime, hash prefix) and the tree it was presumably built from."""
    import hashlib
    desc = ""
    if bin_path:
        with open(bin_path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()[:12]
        built = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(os.path.getmtime(bin_path)))
        desc = f"binary sha256 {digest}, built {built}; "
    try:
        head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "src", "entity", "migration"],
                               capture_output=True, text=True).stdout.strip()
        return desc + "tree " + head + (" (+ uncommitted changes)" if dirty else "")
    except Exception:
        return desc + "tree ?"


def machine():
    load = os.getloadavg()
    return f"{os.cpu_count()} cores, load {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f} (shared machine: figures are indicative)"


# ---------------------------------------------------------------- databases

def psql(dbname, sql, check=True):
    out = subprocess.run(["psql", "-X", "-v", "ON_ERROR_STOP=1", "-At", "-d", f"{PG_BASE}/{dbname}", "-c", sql],
                         capture_output=True, text=True, timeout=120)
    if check and out.returncode != 0:
        raise RuntimeError(f"psql: {out.stderr.strip()}")
    return out.stdout.strip()


def pg_database(name):
    """Creates a fresh PostgreSQL database (dropped at exit); returns its URL."""
    psql("postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    psql("postgres", f'CREATE DATABASE "{name}"')
    if os.environ.get("FAULTS_KEEP_DB") != "1":
        on_cleanup(lambda: wait_pg_ready(60) and psql("postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', check=False))
    return f"{PG_BASE}/{name}"


def sqlite_database(name):
    path = os.path.join(WORKDIR, f"{name}.db")
    return f"sqlite://{path}?mode=rwc", path


def pg_isready():
    hostport = PG_BASE.split("@")[-1]
    host, _, port = hostport.partition(":")
    return subprocess.run(["pg_isready", "-q", "-h", host, "-p", port or "5432"], timeout=10).returncode == 0


def wait_pg_ready(secs):
    end = time.time() + secs
    while time.time() < end:
        if pg_isready():
            return True
        time.sleep(0.5)
    return False


# ------------------------------------------------------------------- server

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`auditgraph serve` on 127.0.0.1:<free port>, stopped at exit."""

    def __init__(self, bin_path, db_url, *args, name="server", port=None):
        self.bin = bin_path
        self.db_url = db_url
        self.args = list(args)
        self.name = name
        self.port = port or free_port()
        self.proc = None
        self.logfile = os.path.join(WORKDIR, f"{name}.log")
        on_cleanup(self.stop)

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args):
        out = subprocess.run([self.bin, *args, "--database-url", self.db_url],
                             capture_output=True, text=True, timeout=120,
                             env={**os.environ, "AUDITGRAPH_LOG": "warn"})
        if out.returncode != 0:
            raise RuntimeError(f"auditgraph {' '.join(args)}: {out.stderr.strip()}")
        return out.stdout.strip()

    def setup_tenant(self, slug, scopes="audit.read,audit.write", keys=1):
        self.cli("tenant", "create", slug)
        return [self.cli("key", "create", "--tenant", slug, "--scopes", scopes, "--name", f"{slug}-{i}")
                for i in range(keys)]

    def start(self, timeout=60):
        env = {**os.environ, "AUDITGRAPH_LOG": os.environ.get("FAULTS_SERVER_LOG", "warn")}
        logf = open(self.logfile, "ab")
        self.proc = subprocess.Popen([self.bin, "serve", "--database-url", self.db_url,
                                      "--listen", f"127.0.0.1:{self.port}", *self.args],
                                     stdout=logf, stderr=logf, env=env, start_new_session=True)
        logf.close()
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}: {self.log_tail()}")
            if http_status(self.base + "/healthz", 1) == 200:
                return self
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer /healthz within {timeout} s")

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def memory(self):
        """(VmRSS, VmHWM) in KiB."""
        vals = {}
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM", "Threads"):
                    vals[k] = int(v.split()[0])
        return vals.get("VmRSS"), vals.get("VmHWM")

    def cpu(self):
        """CPU seconds (user + system) used so far."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def fds(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def metric(self, name):
        with urllib.request.urlopen(self.base + "/metrics", timeout=10) as r:
            for line in r.read().decode().splitlines():
                if line.startswith(name + " ") or line.startswith(name + "{"):
                    return float(line.rsplit(" ", 1)[1])
        return None

    def log_tail(self, n=2000):
        try:
            with open(self.logfile, "rb") as f:
                return f.read()[-n:].decode(errors="replace")
        except OSError:
            return ""


def http_status(url, timeout=5):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except Exception:
        return None


# ------------------------------------------------------------------- client

class Client:
    """One keep-alive HTTP/1.1 connection posting GraphQL documents."""

    def __init__(self, port, key, timeout=30):
        self.port, self.key, self.timeout = port, key, timeout
        self.conn = None
        self.last_headers = {}

    def close(self):
        if self.conn:
            self.conn.close()
            self.conn = None

    def post(self, query, variables=None):
        """(HTTP status or None on a transport error, parsed body or error text, seconds)."""
        body = json.dumps({"query": query, "variables": variables or {}})
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.key}"}
        t0 = time.perf_counter()
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            self.conn.request("POST", "/graphql", body, headers)
            r = self.conn.getresponse()
            raw = r.read()
            self.last_headers = dict(r.getheaders())
            dt = time.perf_counter() - t0
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = raw.decode(errors="replace")
            if r.getheader("connection", "").lower() == "close":
                self.close()
            return r.status, parsed, dt
        except Exception as e:
            self.close()
            return None, f"{type(e).__name__}: {e}", time.perf_counter() - t0


def gql_errors(status, body):
    """A short description of what went wrong, or None for a clean answer."""
    if status is None:
        return f"transport: {body}"
    if status != 200:
        return f"HTTP {status}: {json.dumps(body)[:300] if not isinstance(body, str) else body[:300]}"
    if not isinstance(body, dict):
        return f"HTTP 200, not JSON: {str(body)[:300]}"
    if body.get("errors"):
        return "errors: " + json.dumps(body["errors"])[:300]
    return None


def error_codes(body):
    if isinstance(body, dict):
        return [((e.get("extensions") or {}).get("code")) for e in body.get("errors") or []]
    return []


# ---------------------------------------------------------------- figures

def pct(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))
    return s[k]


def ms(x):
    return f"{x * 1000:.1f} ms"


def mib(kib):
    return f"{kib / 1024:.1f} MiB"
