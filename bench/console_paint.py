#!/usr/bin/env python3
"""console_paint.py BASE_URL KEY RANGE N OUT.json

The console's first load in a real browser: Debian's headless Chromium opens
`BASE_URL/console?range=RANGE#token=…` (a viewer token of KEY's tenant; RANGE
"" is all time, the console's default, or a preset such as 24h) N times, each
in a new tab, after one warm-up load, and reads from the page:

- first contentful paint (the browser's own `paint` entry), and
- the histogram on screen: the console marks `auditgraph:histogram` in the
  animation frame after the chart with its bars has rendered.

Both are milliseconds from the navigation's start; p50, p99 and max go to
OUT.json and stdout. Needs `chromium` and the `websocket-client` package
(`pip install websocket-client`): the DevTools protocol over a WebSocket.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket  # websocket-client


def graphql(base, key, query):
    request = urllib.request.Request(
        base + "/graphql", json.dumps({"query": query}).encode(),
        {"Content-Type": "application/json", "Authorization": "Bearer " + key})
    answer = json.load(urllib.request.urlopen(request, timeout=30))
    if answer.get("errors"):
        raise SystemExit("request failed: %s" % json.dumps(answer["errors"])[:400])
    return answer["data"]


class Browser:
    """Headless Chromium and one DevTools connection, sessions flattened into it."""

    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="console-paint-")
        self.process = subprocess.Popen(
            [shutil.which("chromium") or "chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
             "--no-first-run", "--remote-debugging-port=0", "--user-data-dir=" + self.profile,
             "--window-size=1400,900", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for line in self.process.stderr:
            if line.startswith("DevTools listening on "):
                self.ws = websocket.create_connection(line.split(" on ", 1)[1].strip(), timeout=60)
                break
        else:
            raise SystemExit("chromium did not start")
        self.next_id = 0

    def call(self, method, params=None, session=None):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        while True:
            answer = json.loads(self.ws.recv())
            if answer.get("id") == self.next_id:
                if "error" in answer:
                    raise SystemExit("%s: %s" % (method, answer["error"]))
                return answer["result"]

    def close(self):
        self.ws.close()
        self.process.terminate()
        self.process.wait(10)
        shutil.rmtree(self.profile, ignore_errors=True)


MARKS = """(() => {
  const paint = performance.getEntriesByName("first-contentful-paint")[0];
  const chart = performance.getEntriesByName("auditgraph:histogram")[0];
  return chart ? JSON.stringify({ fcp: paint ? paint.startTime : null, histogram: chart.startTime }) : null;
})()"""


def load(browser, url):
    """One load in a fresh tab: the page's paint and histogram times (ms)."""
    target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    browser.call("Page.enable", session=session)
    browser.call("Page.navigate", {"url": url}, session)
    deadline = time.time() + 60
    try:
        while time.time() < deadline:
            value = browser.call("Runtime.evaluate", {"expression": MARKS, "returnByValue": True}, session)
            found = value.get("result", {}).get("value")
            if found:
                return json.loads(found)
            time.sleep(0.01)
        raise SystemExit("no histogram within 60 s: %s" % url)
    finally:
        browser.call("Target.closeTarget", {"targetId": target})


def main(argv):
    base, key, span, n, out = argv[1].rstrip("/"), argv[2], argv[3], int(argv[4]), argv[5]
    token = graphql(base, key, "mutation { createViewerToken(input: {ttlSeconds: 3600}) { token } }")
    url = "%s/console%s#token=%s" % (base, "?range=" + span if span else "", token["createViewerToken"]["token"])
    browser = Browser()
    try:
        load(browser, url)  # warm-up: the assets in the browser's cache, the server's statements prepared
        runs = [load(browser, url) for _ in range(n)]
    finally:
        browser.close()
    result = {"range": span or "all time", "runs": n}
    for name in ("fcp", "histogram"):
        xs = sorted(r[name] for r in runs if r[name] is not None)
        if xs:
            result[name] = {"p50_ms": round(xs[len(xs) // 2], 1),
                            "p99_ms": round(xs[min(len(xs) - 1, int(0.99 * len(xs)))], 1),
                            "max_ms": round(xs[-1], 1)}
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result))


if __name__ == "__main__":
    if len(sys.argv) != 6:
        raise SystemExit(__doc__)
    main(sys.argv)
