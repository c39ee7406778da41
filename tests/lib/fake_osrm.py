#!/usr/bin/python3
"""A stand-in OSRM server for tests: answers /table/v1/driving/COORDS with
every distance 1000 m and every duration 100 s between distinct points
(0 on the diagonal), and logs the number of coordinates of each request.
Usage: fake_osrm.py PORT LOGFILE"""
import http.server
import json
import sys

port, log = int(sys.argv[1]), sys.argv[2]


class Osrm(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        path = self.path.split("?")[0]
        prefix = "/table/v1/driving/"
        if not path.startswith(prefix):
            self.send_response(404)
            self.end_headers()
            return
        coords = path[len(prefix):].split(";")
        n = len(coords)
        with open(log, "a") as f:
            f.write("%d\n" % n)
        body = json.dumps({
            "code": "Ok",
            "distances": [[0 if i == j else 1000 for j in range(n)] for i in range(n)],
            "durations": [[0 if i == j else 100 for j in range(n)] for i in range(n)],
        }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


http.server.HTTPServer(("127.0.0.1", port), Osrm).serve_forever()
