#!/usr/bin/python3
"""A stand-in storefront for the inventory_sync tests and bench.

POST /inventory_levels/set.json  {"inventory_levels": [{"inventory_item_id", "location_id",
    "available", "idempotency_key", ...}]}: each item whose idempotency_key
    is new is applied (counted in `sets`, the level stored); a key seen
    before is a replay (counted, not applied again). Answers 200.
POST /alerts: the body is appended as one line to ALERTS_FILE.
POST /control {"script": ["500", "apply500", "ok", ...], "down": true|false}:
    the next batch requests fail with 500 before applying ("500"), or are
    applied and then answered 500 as if the answer were lost ("apply500");
    "down" answers 503 to every batch until turned off.
GET /stats: {"requests", "items", "sets": {key: n}, "replays", "levels": {"item/location": n}}
Usage: fake_storefront.py PORT ALERTS_FILE"""
import http.server
import json
import sys
import threading

port, alerts = int(sys.argv[1]), sys.argv[2]
lock = threading.Lock()
state = {"script": [], "down": False, "requests": 0, "items": 0, "sets": {}, "replays": 0,
         "levels": {}, "keys": set()}


class Storefront(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def send(self, status, body=b"{}"):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with lock:
            doc = {k: v for k, v in state.items() if k not in ("keys", "script")}
        self.send(200, json.dumps(doc).encode())

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/alerts":
            with lock, open(alerts, "ab") as f:
                f.write(raw.replace(b"\n", b" ") + b"\n")
            self.send(200)
            return
        body = json.loads(raw or b"{}")
        if self.path == "/control":
            with lock:
                if "script" in body:
                    state["script"] = list(body["script"])
                if "down" in body:
                    state["down"] = bool(body["down"])
            self.send(200)
            return
        with lock:
            state["requests"] += 1
            step = "503" if state["down"] else state["script"].pop(0) if state["script"] else "ok"
            if step in ("500", "503"):
                self.send(int(step), b'{"errors": "unavailable"}')
                return
            for it in body["inventory_levels"]:
                state["items"] += 1
                k = it["idempotency_key"]
                if k in state["keys"]:
                    state["replays"] += 1
                    continue
                state["keys"].add(k)
                state["sets"][k] = state["sets"].get(k, 0) + 1
                state["levels"]["%s/%s" % (it["inventory_item_id"], it["location_id"])] = it["available"]
        self.send(500 if step == "apply500" else 200,
                  b'{"errors": "lost"}' if step == "apply500" else b'{"ok": true}')

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Storefront)
server.daemon_threads = True
server.serve_forever()
