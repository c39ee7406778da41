#!/usr/bin/python3
"""A webhook receiver for tests: appends each POST body as one line to a
file and answers 200 (or 500 for the first N requests when asked).
Usage: webhook_sink.py PORT OUTFILE [FAIL_FIRST]"""
import http.server
import sys

port, out = int(sys.argv[1]), sys.argv[2]
fail_first = int(sys.argv[3]) if len(sys.argv) > 3 else 0
seen = 0


class Sink(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global seen
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        seen += 1
        if seen <= fail_first:
            self.send_response(500)
            self.end_headers()
            return
        with open(out, "ab") as f:
            f.write(body.replace(b"\n", b" ") + b"\n")
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


http.server.HTTPServer(("127.0.0.1", port), Sink).serve_forever()
