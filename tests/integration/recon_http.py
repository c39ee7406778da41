"""A misbehaving report server for the reconciliation's fetch tests.

    recon_http.py DIR PORTFILE

Serves the files of DIR on 127.0.0.1 (a free port, written to PORTFILE) at
/MODE/NAME, where MODE says how:
  ok       the file
  missing  404
  flaky    500 on the first request for the path, then the file
  busy     429 on the first request for the path, then the file
  slow     waits 5 s before answering (longer than the test's timeout)
  cut      announces the whole length, sends half, closes (a cut transfer)
  auth     the file with "Authorization: Bearer $RECON_TEST_TOKEN", else 401
Each request is logged to stdout as "MODE NAME STATUS", flushed, so that a
test can count attempts.
"""
import http.server
import os
import sys
import time

ROOT = sys.argv[1]
SEEN = set()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def note(self, mode, name, status):
        print("%s %s %d" % (mode, name, status), flush=True)

    def plain(self, status, text):
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        parts = self.path.strip("/").split("/", 1)
        mode, name = (parts + [""])[:2]
        path = os.path.join(ROOT, os.path.basename(name))
        first = (mode, name) not in SEEN
        SEEN.add((mode, name))
        if mode == "missing" or not os.path.isfile(path):
            self.note(mode, name, 404)
            return self.plain(404, "not found\n")
        if mode == "flaky" and first:
            self.note(mode, name, 500)
            return self.plain(500, "internal error\n")
        if mode == "busy" and first:
            self.note(mode, name, 429)
            return self.plain(429, "slow down\n")
        if mode == "auth" and self.headers.get("Authorization") != \
                "Bearer " + os.environ.get("RECON_TEST_TOKEN", "?"):
            self.note(mode, name, 401)
            return self.plain(401, "unauthorised\n")
        if mode == "slow":
            self.note(mode, name, 0)
            time.sleep(5)
            return self.plain(503, "too late\n")
        with open(path, "rb") as f:
            data = f.read()
        self.send_response(200)
        self.send_header("Content-Type", "text/csv")
        self.send_header("Content-Length", str(len(data)))
        if mode == "cut":
            self.send_header("Connection", "close")
        self.end_headers()
        if mode == "cut":
            self.note(mode, name, 200)
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.note(mode, name, 200)
        self.wfile.write(data)


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with open(sys.argv[2] + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(sys.argv[2] + ".tmp", sys.argv[2])
    server.serve_forever()


if __name__ == "__main__":
    main()
