"""Helpers shared by the integration and end-to-end suites.

Services run as real processes (build/sg-<name>) against the devstack's
PostgreSQL, Redis and Kafka. Each test module gets its own PostgreSQL schemas
and its own Kafka topic prefix, so runs never see each other's data.
"""
import contextlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import time
import uuid

import jwt as pyjwt
import psycopg
import requests
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(ROOT, os.environ.get("SG_BUILD_DIR", "build"))
LOGDIR = os.path.join(ROOT, ".state", "test-logs")
JWT_SECRET = "test-secret-0123456789abcdef"
CALLBACK_SECRET = "callback-secret-0123456789"
API_KEYS = {"product": "key-product-1", "forum": "key-forum-1", "comment": "key-comment-1"}
PG_DSN = os.environ.get("SG_PG_DSN", "host=127.0.0.1 port=55432 user=sg dbname=sg")
BROKERS = os.environ.get("SG_KAFKA_BROKERS", "127.0.0.1:59092")
REDIS_URL = os.environ.get("SG_REDIS_URL", "redis://127.0.0.1:56379/0")
PORTS = {"report": 8081, "reviewer": 8082, "reward": 8083}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_id():
    return uuid.uuid4().hex[:8]


def token(sub, role="user", ttl=3600, secret=JWT_SECRET):
    now = int(time.time())
    return pyjwt.encode({"sub": sub, "role": role, "exp": now + ttl, "iat": now}, secret, algorithm="HS256")


def auth(tok):
    return {"Authorization": "Bearer " + tok}


def client_auth(name="product"):
    return auth(API_KEYS[name])


def ops_auth(sub="ops-1"):
    return auth(token(sub, "ops"))


def user_auth(sub):
    return auth(token(sub, "user"))


class Service:
    """One service process. env overrides are added to the common ones."""

    def __init__(self, name, run, port=None, env=None, redis_db=None):
        self.name = name
        self.run = run
        self.port = port or free_port()
        self.schema = f"{name}_{run}"
        self.prefix = f"t{run}."
        self.extra = dict(env or {})
        self.redis_db = redis_db
        self.proc = None
        self.url = f"http://127.0.0.1:{self.port}"
        os.makedirs(LOGDIR, exist_ok=True)
        self.logpath = os.path.join(LOGDIR, f"{name}-{run}.log")

    def env(self):
        e = {k: v for k, v in os.environ.items() if not k.startswith("SG_")}
        redis = REDIS_URL
        if self.redis_db is not None:
            redis = REDIS_URL.rsplit("/", 1)[0] + f"/{self.redis_db}"
        e.update({
            "SG_HTTP_PORT": str(self.port),
            "SG_PG_DSN": PG_DSN,
            "SG_PG_SCHEMA": self.schema,
            "SG_MIGRATIONS_DIR": os.path.join(ROOT, "sql", self.name),
            "SG_KAFKA_BROKERS": BROKERS,
            "SG_TOPIC_PREFIX": self.prefix,
            "SG_REDIS_URL": redis,
            "SG_JWT_SECRET": JWT_SECRET,
            "SG_API_KEYS": ",".join(f"{k}:{v}" for k, v in API_KEYS.items()),
            "SG_CALLBACK_SECRET": CALLBACK_SECRET,
            # The test receivers listen on this machine (make up does the same).
            "SG_CALLBACK_ALLOW_HOSTS": "127.0.0.1,localhost",
            "SG_LOG_LEVEL": "info",
            # /metrics figures read from the database refresh in the background;
            # every second here, so that metrics_when waits little.
            "SG_METRICS_REFRESH_S": "1",
            # No readiness drain at SIGTERM (5 s by default) unless a test
            # asks for one (tests/e2e/test_rolling.py): stops stay quick.
            "SG_SHUTDOWN_DRAIN_S": "0",
        })
        e.update(self.extra)
        return e

    def start(self, wait=True):
        log = open(self.logpath, "ab")
        # SG_TEST_WRAP: a command the service runs under (make valgrind).
        wrap = shlex.split(os.environ.get("SG_TEST_WRAP", ""))
        self.proc = subprocess.Popen(wrap + [os.path.join(BUILD, f"sg-{self.name}")], env=self.env(), cwd=ROOT,
                                     stdout=log, stderr=subprocess.STDOUT)
        log.close()
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; log {self.logpath}:\n"
                                   + self.tail())
            try:
                if requests.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready in {timeout}s; log:\n" + self.tail())

    def tail(self, n=40):
        try:
            with open(self.logpath, "rb") as f:
                return b"".join(f.readlines()[-n:]).decode(errors="replace")
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=None):
        # A wrapped service (valgrind) takes longer to stop: SG_TEST_STOP_TIMEOUT.
        if timeout is None:
            timeout = float(os.environ.get("SG_TEST_STOP_TIMEOUT", "30"))
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            stacks = self.stacks()
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError(f"{self.name} did not stop within {timeout}s; its threads:\n{stacks}")

    def stacks(self):
        """Every thread's backtrace (gdb), appended to the service log too: what a hung process was doing."""
        if not shutil.which("gdb"):
            return "(gdb not installed)"
        r = subprocess.run(["gdb", "-q", "-batch", "-p", str(self.proc.pid), "-ex", "thread apply all bt 12"],
                           capture_output=True, text=True, timeout=120)
        out = r.stdout[-20000:]
        with open(self.logpath, "a") as f:
            f.write("\n--- threads at the stop timeout ---\n" + out)
        return out

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def restart(self):
        rc = self.stop()
        # Wrapped (valgrind), the exit status is the tool's verdict: keep it.
        assert not os.environ.get("SG_TEST_WRAP") or rc in (0, None), \
            f"{self.name} exited with {rc} at a restart; log {self.logpath}"
        return self.start()

    # HTTP helpers: return requests.Response
    def get(self, path, headers=None, **kw):
        return requests.get(self.url + path, headers=headers, timeout=10, **kw)

    def post(self, path, body=None, headers=None, **kw):
        return requests.post(self.url + path, json=body, headers=headers, timeout=10, **kw)

    def put(self, path, body=None, headers=None, **kw):
        return requests.put(self.url + path, json=body, headers=headers, timeout=10, **kw)

    def db(self):
        """A psycopg connection (autocommit) with search_path = this schema."""
        c = psycopg.connect(PG_DSN, autocommit=True)
        c.execute(f'SET search_path TO "{self.schema}"')
        return c

    def drop_schema(self, topics=True):
        """Drops the schema and (unless told not to) the run's topics."""
        with psycopg.connect(PG_DSN, autocommit=True) as c:
            c.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
        if topics:
            delete_topics(self.prefix)


@contextlib.contextmanager
def running(name, env=None, topics=(), **kw):
    """A service of a test module's own: started on a fresh schema and topic
    prefix (topics: created under that prefix first, so that its consumers
    find them when they subscribe), yielded, then stopped with SIGTERM; its
    schema and topics are dropped however the module ended, and a shutdown
    that did not exit 0 fails the module. A service that never got ready
    is stopped too (the start's error is the one raised). kw: Service's
    (run, port, redis_db)."""
    s = Service(name, kw.pop("run", None) or run_id(), env=env, **kw)
    if topics:
        create_topics(s.prefix, topics)
    try:
        s.start()
        yield s
    finally:
        try:
            rc = s.stop()
        finally:
            s.drop_schema()
    assert rc == 0, f"{name} exited with {rc}; log {s.logpath}"


@contextlib.contextmanager
def reading(svc, topics):
    """(Bus, EventReader) on svc's topic prefix, the reader subscribed to
    topics, which are created first if they do not exist; the reader is
    closed on leaving."""
    create_topics(svc.prefix, topics)
    b = Bus(svc.prefix)
    r = b.consumer(*topics)
    try:
        yield b, r
    finally:
        r.close()


def problem_ok(resp, status):
    """Asserts an RFC 7807 error with the given status."""
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert resp.headers["Content-Type"].startswith("application/problem+json"), resp.headers
    body = resp.json()
    assert body["status"] == status and body["title"] and "type" in body, body
    return body


def create_topics(prefix, topics):
    """Creates the topics up front: a consumer subscribed to a topic that does
    not exist yet only notices it at its next metadata refresh (minutes)."""
    admin = AdminClient({"bootstrap.servers": BROKERS})
    futures = admin.create_topics([NewTopic(prefix + t, num_partitions=-1) for t in topics])
    for f in futures.values():
        try:
            f.result(15)
        except KafkaException as e:
            if e.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise


def delete_topics(prefix):
    """Deletes every topic under a run's prefix (runs would otherwise pile up
    topics in the shared broker and slow its restarts)."""
    admin = AdminClient({"bootstrap.servers": BROKERS})
    names = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix)]
    if names:
        for f in admin.delete_topics(names, operation_timeout=30).values():
            try:
                f.result(30)
            except KafkaException:
                pass


class Bus:
    """Kafka access under a topic prefix (the same one the services use)."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.producer = Producer({"bootstrap.servers": BROKERS, "enable.idempotence": True})

    def produce(self, topic, key, payload, event_type=None, event_id=None, flush=True):
        """Sends one event (flush=False: queued, sent by a later flush or
        produce, so that a burst reaches the broker at once)."""
        event_id = event_id or str(uuid.uuid4())
        body = dict(payload)
        body.setdefault("event_id", event_id)
        body.setdefault("occurred_at", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        headers = [("event_id", event_id.encode()), ("event_type", (event_type or topic).encode())]
        self.producer.produce(self.prefix + topic, key=key.encode(), value=json.dumps(body).encode(),
                              headers=headers)
        if flush:
            self.producer.flush(10)
        return event_id

    def consumer(self, *topics):
        """A fresh consumer group reading the topics from the beginning."""
        create_topics(self.prefix, topics)
        c = Consumer({"bootstrap.servers": BROKERS, "group.id": "test-" + uuid.uuid4().hex,
                      "auto.offset.reset": "earliest", "enable.auto.commit": False,
                      "allow.auto.create.topics": True})
        c.subscribe([self.prefix + t for t in topics])
        return EventReader(c, self.prefix)


class EventReader:
    def __init__(self, consumer, prefix):
        self.c = consumer
        self.prefix = prefix
        self.seen = []

    def poll_until(self, pred, timeout=20):
        """Reads events until pred(list_of_all_events) is true; returns the list.
        Each event is a dict with _topic, _key, _headers added."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if pred(self.seen):
                return self.seen
            m = self.c.poll(0.2)
            if m is None or m.error():
                continue
            ev = json.loads(m.value())
            ev["_topic"] = m.topic()[len(self.prefix):]
            ev["_key"] = m.key().decode() if m.key() else None
            ev["_headers"] = {k: v.decode() for k, v in (m.headers() or [])}
            self.seen.append(ev)
        if pred(self.seen):
            return self.seen
        raise AssertionError(f"condition not met in {timeout}s; {len(self.seen)} events seen: "
                             + json.dumps(self.seen[-10:], default=str)[:3000])

    def of(self, topic):
        return [e for e in self.seen if e["_topic"] == topic]

    def close(self):
        self.c.close()


def wait_for(fn, timeout=20, interval=0.1, what="condition"):
    """Polls fn() until it returns a truthy value, which is returned."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"{what} not met within {timeout}s (last: {last!r})")


def metrics_when(svc, pred, timeout=10):
    """The /metrics text once pred(text) holds, or the last one after timeout (the
    caller's assertions then say what is wrong). The figures read from the
    database are refreshed in the background (SG_METRICS_REFRESH_S), so a change
    shows up to one refresh later."""
    deadline = time.time() + timeout
    while True:
        text = requests.get(svc.url + "/metrics", timeout=10).text
        if pred(text) or time.time() >= deadline:
            return text
        time.sleep(0.2)


def group_commit_counters(svc, name):
    """(transactions, requests) of one of the report's group committers from /metrics:
    sg_<name>_groups_total and the other sg_<name>_*_total that is not alone (name
    "intake": reports; "vote": votes)."""
    text = metrics_when(svc, lambda t: f"sg_{name}_groups_total" in t)
    vals = {}
    for line in text.splitlines():
        if line.startswith(f"sg_{name}_"):
            key, v = line.split()
            vals[key] = int(float(v))
    groups = vals.pop(f"sg_{name}_groups_total")
    vals.pop(f"sg_{name}_alone_total", None)
    (items,) = vals.values()
    return groups, items


def devstack(*args):
    subprocess.run([os.path.join(ROOT, "scripts", "devstack"), *args], check=True, cwd=ROOT)
