"""A test push gateway: an HTTP server on 127.0.0.1 in a thread that records
every POST (headers, parsed body, the status it answered, whether the
signature verified) and can fail the first N requests (all, or those for one
user) and answer slowly."""
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def signature_ok(secret, body, header, tolerance_s=300):
    """X-SG-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">."""
    try:
        parts = dict(p.split("=", 1) for p in (header or "").split(","))
        t = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs(time.time() - t) > tolerance_s:
        return False
    want = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, parts.get("v1", ""))


class PushGateway:
    def __init__(self, secret, delay=0.0):
        self.secret = secret
        self.delay = delay
        self.requests = []
        self.fail_rules = []  # [user_id or None, remaining, status]
        self.lock = threading.Lock()
        gw = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                if gw.delay:
                    time.sleep(gw.delay)
                with gw.lock:
                    status = 200
                    for rule in gw.fail_rules:
                        if rule[1] > 0 and (rule[0] is None or (body or {}).get("user_id") == rule[0]):
                            rule[1] -= 1
                            status = rule[2]
                            break
                    gw.requests.append({"headers": dict(self.headers), "body": body, "status": status,
                                        "signed": signature_ok(gw.secret, raw, self.headers.get("X-SG-Signature")),
                                        "at": time.time()})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/push"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def fail(self, n, user_id=None, status=503):
        """Answers the next n requests (for user_id, or any) with status."""
        with self.lock:
            self.fail_rules.append([user_id, n, status])

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def received(self, pred=lambda r: True):
        with self.lock:
            return [r for r in self.requests if r["body"] is not None and pred(r)]

    def delivered(self, pred=lambda r: True):
        """The requests answered 2xx."""
        return self.received(lambda r: 200 <= r["status"] < 300 and pred(r))
