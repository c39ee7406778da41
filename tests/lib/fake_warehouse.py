#!/usr/bin/python3
"""A stand-in warehouse stock API for the inventory_sync tests and bench.

GET /stock?limit=N[&updated_since=T][&cursor=C] answers
  {"items": [{"sku", "seller"?, "warehouse", "on_hand", "safety_stock"?, "updated_at"}...],
   "next_cursor": "C" | null}
with the records updated at or after T, oldest first; in "link" mode the
next page is a `Link: <...>; rel="next"` header instead. The first page
carries an ETag of the whole answer and honours If-None-Match with 304.

POST /control (JSON) steers it:
  {"records": [...]}            replace every record (dicts as served)
  {"upsert": [...]}             add or replace records by (sku, seller, warehouse)
  {"generate": {"skus": N, "warehouses": [..], "prefix": "B", "updated_at": T}}
  {"script": ["500", "429:2", "sleep:3", "truncate", "invalid", "ok", ...]}
      what the next GET /stock requests get, one entry each, then normal answers
  {"link": true|false}          paginate with Link headers instead of next_cursor
Every GET /stock is logged to LOGFILE as one JSON line: path, status,
If-None-Match and Authorization headers.
Usage: fake_warehouse.py PORT LOGFILE"""
import bisect
import datetime
import hashlib
import http.server
import json
import sys
import threading
import time
import urllib.parse

port, logfile = int(sys.argv[1]), sys.argv[2]
lock = threading.Lock()
state = {"records": [], "script": [], "link": False}


def when(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


def key(r):
    return (r.get("sku"), r.get("seller"), r.get("warehouse"))


def ordered():
    """The records oldest first (cached until the next change), with their times."""
    if state.get("sorted") is None:
        rows = [(when(r.get("updated_at", "1970-01-01T00:00:00Z")), str(key(r)), r) for r in state["records"]]
        rows.sort(key=lambda x: (x[0], x[1]))
        state["sorted"] = rows
        state["times"] = [x[0] for x in rows]
    return state["sorted"], state["times"]


class Warehouse(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def send(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_request_line(self, status):
        with open(logfile, "a") as f:
            f.write(json.dumps({"path": self.path, "status": status,
                                "inm": self.headers.get("If-None-Match"),
                                "auth": self.headers.get("Authorization")}) + "\n")

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        with lock:
            if "records" in body:
                state["records"] = list(body["records"])
            if "upsert" in body:
                new = {key(r): r for r in body["upsert"]}
                state["records"] = [r for r in state["records"] if key(r) not in new] + list(new.values())
            if "generate" in body:
                g = body["generate"]
                at = g.get("updated_at", "2026-03-05T01:00:00Z")
                state["records"] = [{"sku": "%s-%06d" % (g.get("prefix", "B"), i), "warehouse": w,
                                     "on_hand": (i * 7 + j * 13) % 500, "updated_at": at}
                                    for i in range(g["skus"]) for j, w in enumerate(g["warehouses"])]
            state["sorted"] = None
            state["version"] = state.get("version", 0) + 1
            if "script" in body:
                state["script"] = list(body["script"])
            if "link" in body:
                state["link"] = bool(body["link"])
        self.send(200, b"{}")

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if url.path != "/stock":
            self.send(404)
            return
        q = urllib.parse.parse_qs(url.query)
        with lock:
            step = state["script"].pop(0) if state["script"] else "ok"
            rows, times = ordered()
            link = state["link"]
            version = state.get("version", 0)
        if step == "500":
            self.log_request_line(500)
            self.send(500, b'{"error": "boom"}')
            return
        if step.startswith("429"):
            self.log_request_line(429)
            self.send(429, b'{"error": "slow down"}', [("Retry-After", step.split(":")[1])])
            return
        if step.startswith("sleep"):
            time.sleep(float(step.split(":")[1]))
        since = q.get("updated_since", [None])[0]
        lo = bisect.bisect_left(times, when(since)) if since else 0
        limit = int(q.get("limit", ["100"])[0])
        start = int(q.get("cursor", ["o:0"])[0].split(":")[1])
        headers = [("Content-Type", "application/json")]
        if start == 0:
            etag = '"%s"' % hashlib.sha1(("%d:%d:%d" % (version, lo, len(rows))).encode()).hexdigest()
            headers.append(("ETag", etag))
            if self.headers.get("If-None-Match") == etag:
                self.log_request_line(304)
                self.send(304, b"", [("ETag", etag)])
                return
        page = [x[2] for x in rows[lo + start:lo + start + limit]]
        nxt = "o:%d" % (start + limit) if lo + start + limit < len(rows) else None
        doc = {"items": page, "next_cursor": None if link else nxt}
        if link and nxt:
            params = {k: v[0] for k, v in q.items()}
            params["cursor"] = nxt
            headers.append(("Link", '</stock?%s>; rel="next"' % urllib.parse.urlencode(params)))
        body = json.dumps(doc, separators=(",", ":")).encode()
        if step == "truncate":
            body = body[:len(body) // 2]
        elif step == "invalid":
            body = b'{"items": [{"sku": "A-1", "warehouse": "W1", "on_hand": 1} oops]}'
        self.log_request_line(200)
        try:
            self.send(200, body, headers)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Warehouse)
server.daemon_threads = True
server.serve_forever()
