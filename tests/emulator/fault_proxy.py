"""An HTTP proxy in front of the emulator that injects faults and latency, on 127.0.0.1 only.

    fault_proxy.py PORT UPSTREAM_URL [PARENT_PID]

Every request is forwarded to UPSTREAM_URL unless a fault is set. The mode is changed at run
time with `POST /_proxy/mode` and a JSON body:

    {"mode": "pass"}                                  forward (the default)
    {"mode": "status", "status": 503, "body": ""}     answer with this status and body
    {"mode": "hang", "seconds": 120}                  read the request, never answer
    {"mode": "reset"}                                 close the connection (TCP reset)
    {"mode": "latency", "latency_ms": 200}            wait, then forward
    {"mode": "throttle", "burst": 300, "rate": 12}    RDS's account bucket: RDS requests take a
                                                      token or get RDS's Throttling error
    optional "latency_ms" with "throttle"             wait, then forward what has a token
    optional "count": N                               only the next N requests, then "pass"
    optional "content_type": "text/xml"               with "status"

`GET /_proxy/stats` answers {"requests": forwarded or faulted requests, "faults": faults
injected, "throttled": RDS requests refused by the bucket, "rds": RDS requests}.

The throttle models "By default, you can make up to 300 requests in a burst and a sustained 12
requests per second" per account and region (RDS User Guide, "Request throttling for the Amazon
RDS API"); a refused request gets RDS's error (HTTP 400, Query API XML, code `Throttling`, "Rate
exceeded"), which the SDK retries. RDS requests are told by their SigV4 credential scope
(`.../rds/aws4_request`). With PARENT_PID the proxy exits when that process does.
"""

import http.client
import json
import os
import socket
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-connection", "content-length"}
MODES = {"pass", "status", "hang", "reset", "latency", "throttle"}
THROTTLING = (b'<ErrorResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><Error><Type>Sender</Type>'
              b'<Code>Throttling</Code><Message>Rate exceeded</Message></Error>'
              b'<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>')


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.mode = {"mode": "pass"}
        self.remaining = None
        self.requests = 0
        self.faults = 0
        self.throttled = 0
        self.rds = 0
        self.tokens = None  # (tokens, last refill) while throttling

    def set(self, mode):
        if not isinstance(mode, dict) or mode.get("mode") not in MODES:
            raise ValueError(f"mode must be one of {sorted(MODES)}")
        count = mode.get("count")
        if count is not None and (not isinstance(count, int) or count < 0):
            raise ValueError("count must be a whole number")
        with self.lock:
            self.mode = mode
            self.remaining = count
            self.tokens = (float(mode.get("burst", 300)), time.monotonic()) if mode["mode"] == "throttle" else None

    def take(self):
        """An RDS request under "throttle": whether the account's bucket had a token for it."""
        with self.lock:
            self.rds += 1
            if self.tokens is None:
                return True
            tokens, last = self.tokens
            now = time.monotonic()
            tokens = min(float(self.mode.get("burst", 300)), tokens + (now - last) * float(self.mode.get("rate", 12)))
            allowed = tokens >= 1
            self.tokens = (tokens - 1 if allowed else tokens, now)
            if not allowed:
                self.throttled += 1
            return allowed

    def next(self):
        """The mode for the next request (counting it down)."""
        with self.lock:
            self.requests += 1
            mode = self.mode
            if self.remaining is not None:
                if self.remaining == 0:
                    mode = {"mode": "pass"}
                else:
                    self.remaining -= 1
            if mode["mode"] not in ("pass", "latency", "throttle"):
                self.faults += 1
            return mode


def handler_for(state, upstream):
    target = urllib.parse.urlsplit(upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def reply(self, status, body, content_type="application/json", headers=()):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            for key, value in headers:
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def control(self, body):
            if self.path == "/_proxy/stats":
                with state.lock:
                    stats = {"requests": state.requests, "faults": state.faults,
                             "throttled": state.throttled, "rds": state.rds}
                return self.reply(200, json.dumps(stats).encode())
            try:
                state.set(json.loads(body or b"null"))
            except ValueError as e:
                return self.reply(400, json.dumps({"error": str(e)}).encode())
            return self.reply(200, b"{}")

        def forward(self, body):
            connection = http.client.HTTPConnection(target.hostname, target.port, timeout=120)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP
                    and k.lower() != "content-type"]
            self.reply(response.status, data, response.getheader("Content-Type", "text/xml"), kept)
            connection.close()

        def handle_any(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.path.startswith("/_proxy/"):
                return self.control(body)
            mode = state.next()
            kind = mode["mode"]
            if kind == "status":
                return self.reply(int(mode.get("status", 503)), mode.get("body", "").encode(),
                                  mode.get("content_type", "text/xml"))
            if kind == "hang":
                time.sleep(float(mode.get("seconds", 120)))
                self.close_connection = True
                return None
            if kind == "reset":
                # SO_LINGER 0: close with a TCP reset, as a dropped load balancer connection.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                self.close_connection = True
                return None
            if kind == "throttle" and "/rds/aws4_request" in self.headers.get("Authorization", ""):
                if not state.take():
                    return self.reply(400, THROTTLING, "text/xml")
            if kind in ("latency", "throttle"):
                time.sleep(float(mode.get("latency_ms", 0)) / 1000)
            return self.forward(body)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = handle_any

    return Handler


def watch_parent(pid, server):
    while True:
        time.sleep(1)
        try:
            os.kill(pid, 0)
        except OSError:
            server.shutdown()
            return


def main():
    port, upstream = int(sys.argv[1]), sys.argv[2]
    server = ThreadingHTTPServer(("127.0.0.1", port), handler_for(State(), upstream))
    server.daemon_threads = True
    if len(sys.argv) > 3:
        threading.Thread(target=watch_parent, args=(int(sys.argv[3]), server),
                         daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
