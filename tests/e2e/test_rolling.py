"""Rolling restart without errors (issue 15, item 5).

Two replicas of the report service (one schema, one topic prefix, own ports)
behind a client-side round-robin that behaves like a load balancer or a
Kubernetes Service: a poller reads each replica's /readyz every POLL_S and
requests go only to replicas that answered 200. Under a steady load (reports
filed, cases read back) one replica gets SIGTERM: it must answer /readyz 503
at once while it keeps serving for its drain (SG_SHUTDOWN_DRAIN_S), then close
its listener, finish what is in flight and exit 0. It is started again, taken
back into rotation, and then the other replica gets SIGTERM.

Checks: no 5xx and no transport error (refused, reset, timeout) on the
readiness-aware client; every replica exits 0 within its drain plus a little;
every 201 report is in the database and the outbox drains (nothing lost). A
second, naive client that ignores readiness runs alongside: it may see
connections refused by a stopped replica (that is what readiness is for), but
never a 5xx. The summary line gives the counts.
"""
import collections
import itertools
import signal
import threading
import time
import uuid

import pytest
import requests

import e2elib
import sgtest

DRAIN_S = 2          # SG_SHUTDOWN_DRAIN_S of both replicas: > a few poll periods
POLL_S = 0.1         # the balancer's readiness poll (a probe's periodSeconds)
WORKERS = 4          # readiness-aware load threads
PACE_S = 0.02        # pause between one worker's requests (steady, not flat out)


class Balancer:
    """Round-robin over the replicas whose /readyz said 200 at the last poll."""

    def __init__(self, replicas):
        self.replicas = replicas
        self.ready = {r.url: False for r in replicas}
        self.lock = threading.Lock()
        self.rr = itertools.count()
        self.transitions = []        # (time, url, ready) whenever a replica changes state
        self._stop = threading.Event()
        self._poll_session = requests.Session()
        self.thread = threading.Thread(target=self._poll, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self._stop.set()
        self.thread.join(5)

    def _probe(self, url):
        try:
            return self._poll_session.get(url + "/readyz", timeout=POLL_S * 5).status_code == 200
        except requests.RequestException:
            return False

    def _poll(self):
        while not self._stop.is_set():
            for r in self.replicas:
                up = self._probe(r.url)
                with self.lock:
                    if up != self.ready[r.url]:
                        self.ready[r.url] = up
                        self.transitions.append((time.time(), r.url, up))
            self._stop.wait(POLL_S)

    def pick(self):
        with self.lock:
            urls = [u for u, up in self.ready.items() if up]
        if not urls:
            return None
        return urls[next(self.rr) % len(urls)]

    def wait_ready(self, url, timeout=30):
        e2elib.poll(lambda: self.ready[url], timeout, interval=0.05, what=f"{url} back in rotation")


class Load:
    """Worker threads filing reports and reading cases back. outcome counts
    are kept per (client, replica, kind); kind is the status class or the
    transport error."""

    def __init__(self, balancer, replicas):
        self.bal = balancer
        self.urls = [r.url for r in replicas]
        self.counts = collections.Counter()
        self.statuses = collections.Counter()
        self.lock = threading.Lock()
        self.cases = []
        self.created = 0
        self.errors = []                    # first few unexpected outcomes, for the message
        self.sigterm_at = {}                # url -> time of its SIGTERM
        self.after_sigterm = collections.Counter()  # (url, kind) of requests sent after that
        self.no_replica = 0
        self._stop = threading.Event()
        self.threads = []

    def start(self):
        for i in range(WORKERS):
            self.threads.append(threading.Thread(target=self._run, args=(i, False), daemon=True))
        self.threads.append(threading.Thread(target=self._run, args=(WORKERS, True), daemon=True))
        for t in self.threads:
            t.start()
        return self

    def stop(self):
        self._stop.set()
        for t in self.threads:
            t.join(30)

    def _request(self, n):
        """One request: even n files a report, odd n reads a case."""
        with self.lock:
            case = self.cases[n % len(self.cases)] if self.cases and n % 2 else None
        if case:
            return "GET", f"/v1/cases/{case}", None
        body = {"report_type": "comment", "target_id": f"c-{uuid.uuid4().hex[:12]}",
                "target_owner_id": f"o-{uuid.uuid4().hex[:8]}", "reporter_id": f"r-{uuid.uuid4().hex[:10]}",
                "reason": "abuse", "description": "rolling restart load"}
        return "POST", "/v1/reports", body

    def _run(self, idx, naive):
        session = requests.Session()
        client = "naive" if naive else "ready"
        rr = itertools.count(idx)
        n = 0
        while not self._stop.is_set():
            if naive:
                url = self.urls[next(rr) % len(self.urls)]
            else:
                url = self.bal.pick()
                if url is None:
                    with self.lock:
                        self.no_replica += 1
                    time.sleep(POLL_S)
                    continue
            method, path, body = self._request(n)
            n += 1
            sent = time.time()
            try:
                r = session.request(method, url + path, json=body, headers=sgtest.client_auth(), timeout=10)
                kind = f"{r.status_code // 100}xx"
                status = r.status_code
                if r.status_code == 201:
                    with self.lock:
                        self.cases.append(r.json()["case_id"])
                        self.created += 1
                elif r.status_code != 200 and len(self.errors) < 10:
                    self.errors.append(f"{client} {method} {url}{path} -> {r.status_code} {r.text[:200]}")
            except requests.ConnectionError as e:
                kind, status = ("refused" if "refused" in str(e).lower() else "conn_error"), None
                if not naive and len(self.errors) < 10:
                    self.errors.append(f"{client} {method} {url}{path} -> {e!r}"[:400])
            except requests.RequestException as e:
                kind, status = type(e).__name__, None
                if len(self.errors) < 10:
                    self.errors.append(f"{client} {method} {url}{path} -> {e!r}"[:400])
            with self.lock:
                self.counts[(client, url, kind)] += 1
                if status:
                    self.statuses[(client, method, status)] += 1
                t = self.sigterm_at.get(url)
                if t is not None and sent >= t:
                    self.after_sigterm[(client, url, kind)] += 1
            time.sleep(PACE_S)

    def total(self, client, kind=None):
        with self.lock:
            return sum(v for (c, _, k), v in self.counts.items() if c == client and (kind is None or k == kind))

    def served_by(self, url):
        with self.lock:
            return sum(v for (c, u, k), v in self.counts.items() if c == "ready" and u == url and k == "2xx")


@pytest.fixture(scope="module")
def replicas():
    run = sgtest.run_id()
    env = {"SG_SHUTDOWN_DRAIN_S": str(DRAIN_S), "SG_LOG_LEVEL": "warn"}
    a = sgtest.Service("report", run, env=env)
    b = sgtest.Service("report", run, env=env)
    assert a.schema == b.schema and a.prefix == b.prefix and a.port != b.port
    sgtest.create_topics(a.prefix, e2elib.TOPICS)
    a.start()
    b.start()
    yield a, b
    for s in (a, b):
        s.stop()
    a.drop_schema()


def sigterm_and_wait(svc, load, what):
    """SIGTERM one replica under load; returns (exit code, seconds to exit,
    seconds until its /readyz was 503)."""
    t0 = time.time()
    with load.lock:
        load.sigterm_at[svc.url] = t0
    svc.proc.send_signal(signal.SIGTERM)
    # /readyz must turn 503 at once (well within one poll period), and the
    # replica must still be alive (serving) meanwhile.
    unready_at = None
    while time.time() - t0 < DRAIN_S:
        try:
            r = requests.get(svc.url + "/readyz", timeout=1)
            if r.status_code == 503:
                assert "draining" in r.json().get("detail", ""), r.text
                unready_at = time.time() - t0
                break
        except requests.RequestException:
            pass
        time.sleep(0.01)
    assert unready_at is not None and unready_at < 0.5, f"{what}: /readyz not 503 within 0.5 s of SIGTERM"
    rc = svc.proc.wait(DRAIN_S + 30)
    took = time.time() - t0
    with load.lock:
        load.sigterm_at.pop(svc.url, None)
    return rc, took, unready_at


def test_rolling_restart_under_load(replicas):
    a, b = replicas
    r = a.put("/v1/voting-rules/comment", e2elib.voting_rule(), headers=sgtest.ops_auth())
    assert r.status_code == 200, r.text
    bal = Balancer([a, b]).start()
    bal.wait_ready(a.url)
    bal.wait_ready(b.url)
    load = Load(bal, [a, b]).start()
    steps = []
    try:
        time.sleep(2)
        for victim, other in ((a, b), (b, a)):
            before = load.served_by(other.url)
            rc, took, unready = sigterm_and_wait(victim, load, victim.url)
            assert rc == 0, f"{victim.url} exited with {rc}; log {victim.logpath}:\n{victim.tail()}"
            assert DRAIN_S <= took < DRAIN_S + 10, f"{victim.url}: exit {took:.1f} s after SIGTERM"
            assert load.served_by(other.url) > before, "the other replica took no load meanwhile"
            time.sleep(1)            # load on one replica only
            victim.start()           # the new pod: ready once PostgreSQL answers
            bal.wait_ready(victim.url)
            served = load.served_by(victim.url)
            e2elib.poll(lambda: load.served_by(victim.url) > served + 20, 20, what="the restarted replica serving")
            steps.append(f"{'A' if victim is a else 'B'}: readyz 503 after {unready * 1000:.0f} ms, "
                         f"exit 0 after {took:.1f} s")
        time.sleep(1)
    finally:
        load.stop()
        bal.stop()

    ready_total = load.total("ready")
    ready_bad = {k: v for (c, _, k), v in load.counts.items() if c == "ready" and k != "2xx"}
    # A connection refused (or reset from the listen backlog at the quiesce)
    # by a stopped replica is what readiness spares a client; a 5xx never is.
    naive_bad = {k: v for (c, _, k), v in load.counts.items()
                 if c == "naive" and k not in ("2xx", "refused", "conn_error")}
    drained = {k: v for k, v in load.after_sigterm.items()}
    served_draining = sum(v for (c, _, k), v in drained.items() if c == "ready" and k == "2xx")
    statuses = {f"{m} {s}": v for (c, m, s), v in sorted(load.statuses.items()) if c == "ready"}

    # Nothing lost: every 201 is a report row, and the outbox drains.
    with a.db() as c:
        reports = c.execute("SELECT count(*) FROM reports").fetchone()[0]
    assert reports == load.created, f"{load.created} reports answered 201, {reports} in the database"
    def outbox_empty():
        with a.db() as c:
            return c.execute("SELECT count(*) FROM outbox WHERE published_at IS NULL").fetchone()[0] == 0
    e2elib.poll(outbox_empty, 30, what="the outbox drained")

    line = (f"rolling restart: requests={ready_total} 2xx={load.total('ready', '2xx')} "
            f"5xx={load.total('ready', '5xx')} other_errors={sum(ready_bad.values()) - load.total('ready', '5xx')} "
            f"served_while_draining={served_draining} no_ready_replica_waits={load.no_replica} "
            f"reports={load.created} ({' ; '.join(steps)}); "
            f"naive client (no readiness): requests={load.total('naive')} 2xx={load.total('naive', '2xx')} "
            f"refused={load.total('naive', 'refused')} reset={load.total('naive', 'conn_error')} "
            f"5xx={load.total('naive', '5xx')} other={sum(naive_bad.values()) - load.total('naive', '5xx')}; "
            f"statuses {statuses}; outbox drained")
    e2elib.SUMMARY.append(line)
    print(line)
    t0 = bal.transitions[0][0] if bal.transitions else 0
    print("transitions:", [(round(t - t0, 2), u[-5:], up) for t, u, up in bal.transitions])

    assert not ready_bad, f"readiness-aware client saw {ready_bad}: {load.errors}"
    assert load.total("naive", "5xx") == 0, f"naive client saw 5xx: {load.errors}"
    assert not naive_bad, f"naive client saw {naive_bad} (only refused connections are acceptable): {load.errors}"
    assert load.total("ready", "2xx") > 200, "too little load to say anything"


def test_drain_serves_and_a_second_sigterm_cuts_it_short():
    """During a long drain the replica answers /readyz 503 and serves the rest
    (with Connection: close); a second SIGTERM ends the drain at once."""
    s = sgtest.Service("report", sgtest.run_id(), env={"SG_SHUTDOWN_DRAIN_S": "60", "SG_LOG_LEVEL": "warn"})
    try:
        s.start()
        metrics = requests.get(s.url + "/metrics", timeout=5).text
        assert 'sg_build_info{service="report",version="' in metrics and "\nsg_draining 0\n" in metrics
        s.proc.send_signal(signal.SIGTERM)
        body = e2elib.poll(lambda: (lambda r: r.status_code == 503 and r.json())(
            requests.get(s.url + "/readyz", timeout=2)), 5, interval=0.02, what="/readyz 503")
        assert body["draining"] is True and body["detail"].startswith("draining"), body
        assert requests.get(s.url + "/healthz", timeout=5).status_code == 200
        r = requests.get(s.url + "/v1/voting-rules", headers=sgtest.ops_auth(), timeout=5)
        assert r.status_code == 200 and r.headers.get("Connection", "").lower() == "close", (r.status_code, r.headers)
        assert "\nsg_draining 1\n" in requests.get(s.url + "/metrics", timeout=5).text
        time.sleep(1)
        assert s.proc.poll() is None, "the replica stopped before its 60 s drain"
        t0 = time.time()
        s.proc.send_signal(signal.SIGTERM)
        rc = s.proc.wait(30)
        assert rc == 0 and time.time() - t0 < 15, (rc, time.time() - t0)
    finally:
        s.stop()
        s.drop_schema()
