#!/usr/bin/env python3
"""A loopback HTTP endpoint for the watch suite.

POST: appends the body (one JSON event) as a line to EVENTS and answers 204.
GET /slow: answers 200 after 0.3 s (a service gone slow, for latency rules).
GET anything else: answers 200.
Binds 127.0.0.1 on a free port and writes the port to PORTFILE.

usage: receiver.py EVENTS PORTFILE
"""
import http.server
import os
import sys
import time


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with open(sys.argv[1], "ab") as f:
            f.write(body.replace(b"\n", b" ") + b"\n")
        self.send_response(204)
        self.end_headers()

    def do_GET(self):
        if self.path == "/slow":
            time.sleep(0.3)
        self.send_response(200)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")

    def log_message(self, fmt, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
tmp = sys.argv[2] + ".tmp"
with open(tmp, "w") as f:
    f.write(str(server.server_address[1]))
os.rename(tmp, sys.argv[2])
server.serve_forever()
