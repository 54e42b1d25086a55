"""Small HTTP helpers shared by scripts/demo-data and scripts/demo (stdlib only)."""
import json
import os
import subprocess
import urllib.error
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.environ.get("SG_BUILD_DIR", os.path.join(ROOT, "build"))
# The defaults of scripts/services, which also applies them to variables set
# but empty (`${VAR:=…}`).
JWT_SECRET = os.environ.get("SG_JWT_SECRET") or "demo-jwt-secret-change-me-0123456789"
API_KEYS = os.environ.get("SG_API_KEYS") or (
    "product:demo-key-product,forum:demo-key-forum,im:demo-key-im,comment:demo-key-comment,"
    "review:demo-key-review")
# Where the services are: `make up`'s by default; tests/compose points these at
# the containers' published ports.
REPORT = os.environ.get("SG_DEMO_REPORT_URL", "http://127.0.0.1:8081")
REVIEWER = os.environ.get("SG_DEMO_REVIEWER_URL", "http://127.0.0.1:8082")
REWARD = os.environ.get("SG_DEMO_REWARD_URL", "http://127.0.0.1:8083")


def api_key(client):
    for pair in API_KEYS.split(","):
        name, _, key = pair.partition(":")
        if name == client:
            return key
    raise SystemExit(f"no API key for client {client!r} in SG_API_KEYS")


def first_client():
    """(name, key) of the first client in SG_API_KEYS: the demo acts as that
    upstream module, whatever it is called. Exits naming the variable when
    there is none (the services check the rest of the format at start)."""
    for pair in API_KEYS.split(","):
        name, sep, key = pair.strip().partition(":")
        if name and sep and key:
            return name, key
        break
    raise SystemExit(
        f"SG_API_KEYS={API_KEYS!r}: the demo data is loaded as the first upstream client, so it needs "
        "at least one 'name:key' pair first (e.g. SG_API_KEYS=product:demo-key-product,...), "
        "or leave SG_API_KEYS unset for the demo keys")


def token(sub, role="user"):
    """A JWT signed by libjwt through build/tools/sg-token."""
    out = subprocess.run([os.path.join(BUILD, "tools", "sg-token"), sub, role, "86400"], check=True,
                         capture_output=True, text=True, env={**os.environ, "SG_JWT_SECRET": JWT_SECRET})
    return out.stdout.strip()


def call(method, url, body=None, bearer=None, headers=None, ok=(200, 201)):
    """Returns (status, parsed JSON body). Raises on a status outside ok."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if bearer:
        req.add_header("Authorization", "Bearer " + bearer)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    parsed = json.loads(raw) if raw else None
    if ok and status not in ok:
        raise SystemExit(f"{method} {url} → {status}: {raw.decode(errors='replace')}")
    return status, parsed
