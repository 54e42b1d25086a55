"""Helpers of the report service's integration tests: a tiny upstream module
for callback tests (an HTTP server in a thread that records every POST,
checks its signature like a real receiver and answers with scripted status
codes), and topic creation."""
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sgtest import CALLBACK_SECRET, create_topics  # noqa: F401 (re-exported for the report tests)

# API.md "Upstream callback": receivers reject a t more than 5 minutes old.
TOLERANCE_S = 300


def verify_signature(secret, body, header, now=None, tolerance_s=TOLERANCE_S):
    """The receiver's check of X-SG-Signature "t=<unix>,v1=<hex>[,v1=...]"
    over "<t>.<body>". Returns "ok", "malformed", "stale" or "mismatch"."""
    if not header:
        return "malformed"
    t, v1 = None, []
    for part in header.split(","):
        k, sep, v = part.strip().partition("=")
        if not sep:
            return "malformed"
        if k == "t":
            if t is not None or not v.isdigit():
                return "malformed"
            t = int(v)
        elif k == "v1":
            v1.append(v)
    if t is None or not v1:
        return "malformed"
    now = time.time() if now is None else now
    if abs(now - t) > tolerance_s:
        return "stale"
    want = hmac.new(secret.encode(), str(t).encode() + b"." + body, hashlib.sha256).hexdigest()
    return "ok" if any(hmac.compare_digest(want, v) for v in v1) else "mismatch"


def signature_ok(secret, body, header, now=None):
    return verify_signature(secret, body, header, now) == "ok"


class CallbackReceiver:
    """Answers the first len(statuses) POSTs with those codes, then 200; a
    POST whose signature does not verify gets 401 (and is recorded).
    `delay` seconds of sleep before answering (a slow or hung receiver).
    Every request is kept in .requests as dict(path, headers, body, status,
    event_id, signature (the verdict), at (arrival time), host)."""

    def __init__(self, statuses=(), delay=0.0, secret=CALLBACK_SECRET, host="127.0.0.1"):
        self.statuses = list(statuses)
        self.delay = delay
        self.secret = secret
        self.requests = []
        self.lock = threading.Lock()
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                at = time.time()
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                verdict = verify_signature(receiver.secret, body, self.headers.get("X-SG-Signature"))
                with receiver.lock:
                    if verdict != "ok":
                        status = 401
                    else:
                        status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body,
                                              "status": status, "signature": verdict, "at": at,
                                              "event_id": self.headers.get("X-SG-Event-Id"),
                                              "host": self.headers.get("Host")})
                if receiver.delay:
                    receiver.release.wait(receiver.delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the caller gave up (its timeout)

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

        self.server = Server((host, 0), Handler)
        self.host = host
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path="/cb", host=None):
        return f"http://{host or self.host}:{self.port}{path}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def received(self, path=None):
        with self.lock:
            return [r for r in self.requests if path is None or r["path"] == path]


def parse(req):
    return json.loads(req["body"])
