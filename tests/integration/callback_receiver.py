"""Helpers of the report service's integration tests: a tiny upstream module
for callback tests (an HTTP server on 127.0.0.1 in a thread that records every
POST and answers with scripted status codes), and topic creation."""
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


from sgtest import create_topics  # noqa: F401 (re-exported for the report tests)


class CallbackReceiver:
    """Answers the first len(statuses) POSTs with those codes, then 200.
    Every request is kept in .requests as dict(path, headers, body, status)."""

    def __init__(self, statuses=()):
        self.statuses = list(statuses)
        self.requests = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                with receiver.lock:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body,
                                              "status": status})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path="/cb"):
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def received(self, path=None):
        with self.lock:
            return [r for r in self.requests if path is None or r["path"] == path]


def signature_ok(secret, body, header):
    want = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, header or "")


def parse(req):
    return json.loads(req["body"])


