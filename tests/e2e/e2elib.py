"""End-to-end helpers on top of tests/lib/sgtest.py.

A Stack is the three services started as separate processes with one run id
(so one Kafka topic prefix), configured over HTTP only. Checks are black box:
HTTP, Kafka (an EventCollector reads every topic of the run in a background
thread) and read-only SQL on each service's schema where the API has no view.
"""
import collections
import concurrent.futures as cf
import datetime as dt
import json
import os
import random
import shlex
import shutil
import subprocess
import threading
import time
import uuid

import requests
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

import sgtest
from sgtest import BROKERS, Service, auth, client_auth, token

SERVICES = ("report", "reviewer", "reward")
TOPICS = ("sg.panel.requested", "sg.panel.assigned", "sg.ballot.closed", "sg.case.decided",
          "sg.notification.requested", "sg.reward.granted", "sg.user.activity", "sg.case.finalized",
          "sg.reviewer.status_changed")
FINAL = ("decided", "escalated", "cancelled")
OPEN = ("assigning", "voting")

REWARD_RULE = {"vote_reward": 10, "majority_bonus": 5, "reporter_reward": 20, "daily_cap_per_user": 100000000}
POOL_RULE = {"include_tags_any": [], "exclude_tags": ["banned"], "min_credit_score": 600,
             "min_account_age_days": 90, "active_weeks_required": 4}
FATIGUE = {"max_open_ballots": 3, "max_per_day": 40, "max_per_week": 1000, "min_interval_s": 0,
           "cooldown_after_expiry_s": 0}
# No suspensions during a run: never-voting jurors are part of the scenario.
QUALITY = {"min_decided_votes": 1000000, "min_accuracy": 0.0, "max_no_show_rate": 1.0, "suspend_days": 1}

# Observations that API.md leaves open (printed in the terminal summary) and
# summary lines that must reach the terminal whatever -s says.
NOTES = []
SUMMARY = []


def note(msg):
    NOTES.append(msg)


def voting_rule(**kw):
    r = {"panel_size": 5, "votes_to_decide": 3, "ballot_timeout_s": 600, "reminder_before_s": 60,
         "max_substitute_rounds": 2, "case_deadline_s": 3600, "on_deadline": "decide_by_votes_cast",
         "reviewer_tags": [], "appeal_window_s": 600, "appeal_panel_size": 7, "appeal_votes_to_decide": 4}
    r.update(kw)
    return r


def now_rfc3339(delta=dt.timedelta(0)):
    return (dt.datetime.now(dt.timezone.utc) + delta).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------- HTTP

_tl = threading.local()


def session():
    s = getattr(_tl, "s", None)
    if s is None:
        s = _tl.s = requests.Session()
    return s


def call(method, url, body=None, headers=None, timeout=10):
    """One request on this thread's keep-alive session; returns the Response."""
    return session().request(method, url, json=body, headers=headers, timeout=timeout)


def ok(resp, *statuses):
    assert resp.status_code in statuses, f"{resp.request.method} {resp.url} -> {resp.status_code} {resp.text[:800]}"
    return resp.json() if resp.content else None


def paginate(url, headers, limit=200, max_pages=10000):
    """All items of a paginated list (follows next_cursor)."""
    items, cursor, seen = [], None, set()
    sep = "&" if "?" in url else "?"
    for _ in range(max_pages):
        u = f"{url}{sep}limit={limit}" + (f"&cursor={requests.utils.quote(cursor)}" if cursor else "")
        body = ok(call("GET", u, headers=headers), 200)
        assert set(body) >= {"items", "next_cursor"}, f"GET {u}: list without items/next_cursor: {body}"
        items.extend(body["items"])
        cursor = body["next_cursor"]
        if not cursor:
            return items
        assert cursor not in seen, f"GET {url}: pagination repeats cursor {cursor}"
        seen.add(cursor)
    raise AssertionError(f"GET {url}: more than {max_pages} pages")


def poll(fn, timeout, interval=0.2, what="condition"):
    """sgtest.wait_for with exceptions inside fn treated as 'not yet'."""
    deadline = time.time() + timeout
    last = None
    while True:
        try:
            last = fn()
            if last:
                return last
        except (requests.RequestException, AssertionError, KeyError, ValueError) as e:
            last = e
        if time.time() >= deadline:
            raise AssertionError(f"{what} not met within {timeout}s (last: {last!r})"[:3000])
        time.sleep(interval)


# ---------------------------------------------------------------- Kafka

class EventCollector:
    """Reads every topic of a run from the beginning in a background thread.
    Each event is its JSON payload plus _topic, _key, _headers, _partition, _offset.

    Partitions are assigned, not subscribed: no consumer group, so a broker
    restart (the fault run) cannot leave the collector in a lost rebalance; it
    just reconnects and fetches on from its positions. Every message is kept
    once per (topic, partition, offset)."""

    def __init__(self, prefix, topics=TOPICS):
        self.prefix = prefix
        self.events = []
        self.seen = set()
        self.cond = threading.Condition()
        self.listeners = []
        self.errors = collections.Counter()
        self._stop = False
        self.c = Consumer({"bootstrap.servers": BROKERS, "group.id": "e2e-" + uuid.uuid4().hex,
                           "enable.auto.commit": False, "auto.offset.reset": "earliest"})
        md = self.c.list_topics(timeout=15)
        parts = []
        for t in topics:
            tm = md.topics.get(prefix + t)
            assert tm is not None and not tm.error and tm.partitions, f"topic {prefix + t} missing: create it first"
            parts += [TopicPartition(prefix + t, p, OFFSET_BEGINNING) for p in tm.partitions]
        self.c.assign(parts)
        self.t = threading.Thread(target=self._run, name="event-collector", daemon=True)
        self.t.start()

    def _run(self):
        while not self._stop:
            m = self.c.poll(0.2)
            if m is None:
                continue
            if m.error():
                self.errors[str(m.error().code())] += 1
                continue
            try:
                ev = json.loads(m.value())
                if not isinstance(ev, dict):
                    ev = {"_value": ev}
            except ValueError:
                ev = {"_raw": m.value().decode(errors="replace")}
            ev["_topic"] = m.topic()[len(self.prefix):]
            ev["_key"] = m.key().decode(errors="replace") if m.key() else None
            ev["_headers"] = {k: (v.decode(errors="replace") if v is not None else None) for k, v in (m.headers() or [])}
            ev["_partition"], ev["_offset"] = m.partition(), m.offset()
            pos = (m.topic(), m.partition(), m.offset())
            with self.cond:
                if pos in self.seen:
                    continue
                self.seen.add(pos)
                self.events.append(ev)
                self.cond.notify_all()
            for fn in list(self.listeners):
                try:
                    fn(ev)
                except Exception:  # a listener's bug must not stop collection
                    self.errors["listener"] += 1

    def of(self, topic, **match):
        with self.cond:
            evs = list(self.events)
        return [e for e in evs if e["_topic"] == topic and all(e.get(k) == v for k, v in match.items())]

    def wait(self, topic, pred=lambda evs: evs, timeout=20, what=None, **match):
        """Waits until pred(events of topic matching **match) is truthy; returns that list."""
        deadline = time.time() + timeout
        while True:
            evs = self.of(topic, **match)
            if pred(evs):
                return evs
            left = deadline - time.time()
            if left <= 0:
                raise AssertionError(f"{what or topic}: not seen within {timeout}s; matching events: "
                                     + json.dumps(evs[-5:], default=str)[:2000])
            with self.cond:
                self.cond.wait(min(left, 0.5))

    def close(self):
        self._stop = True
        self.t.join(5)
        self.c.close()


def read_topic(prefix, topic, timeout=30):
    """Every message of a topic, read to the end of each partition by a fresh consumer."""
    name = prefix + topic
    c = Consumer({"bootstrap.servers": BROKERS, "group.id": "e2e-read-" + uuid.uuid4().hex,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False, "enable.partition.eof": True})
    try:
        md = c.list_topics(name, timeout=10)
        parts = sorted(md.topics[name].partitions) if name in md.topics and not md.topics[name].error else []
        if not parts:
            return []
        c.assign([TopicPartition(name, p, 0) for p in parts])
        # Partitions that are empty report EOF at once as well.
        done, out, deadline = set(), [], time.time() + timeout
        while len(done) < len(parts):
            assert time.time() < deadline, f"reading {name}: EOF not reached on {set(parts) - done}"
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    done.add(m.partition())
                continue
            ev = json.loads(m.value())
            ev["_headers"] = {k: (v.decode() if v is not None else None) for k, v in (m.headers() or [])}
            ev["_key"] = m.key().decode() if m.key() else None
            ev["_partition"], ev["_offset"] = m.partition(), m.offset()
            out.append(ev)
        return out
    finally:
        c.close()


# ---------------------------------------------------------------- the stack

class Stack:
    """Three services with one run id; configured and populated over HTTP."""

    def __init__(self, rules, n_jurors=200, env=None, redis_db=None, tag="e2e"):
        self.run = sgtest.run_id()
        self.prefix = f"t{self.run}."
        env = {"SG_REPORT_RATE_PER_MIN": "1000", **(env or {})}
        self.svc = {n: Service(n, self.run, env=env, redis_db=redis_db) for n in SERVICES}
        self.report, self.reviewer, self.reward = (self.svc[n] for n in SERVICES)
        self.rules = rules                      # report_type -> voting rule
        self.rule_versions = {}
        self.jurors = [f"{tag}{self.run}-j{i:03d}" for i in range(n_jurors)]
        self.ineligible = {}                    # user_id -> why
        self.tokens = {}
        self.events = None
        self.pids = {}

    # -- lifecycle
    def create_topics(self, partitions=4):
        """Creates the run's topics before the services start, as a deployment does
        (scripts/devstack creates the unprefixed ones): consumers that subscribe to a
        topic that does not exist yet only see it at their next metadata refresh."""
        admin = AdminClient({"bootstrap.servers": BROKERS})
        futs = admin.create_topics([NewTopic(self.prefix + t, partitions, 1) for t in TOPICS])
        for t, f in futs.items():
            try:
                f.result(30)
            except KafkaException as e:
                if e.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise

    def start(self):
        self.create_topics()
        for s in self.svc.values():
            s.start(wait=False)
        for s in self.svc.values():
            s.wait_ready()
        self.pids = {n: s.proc.pid for n, s in self.svc.items()}
        self.events = EventCollector(self.prefix)

    def stop(self):
        """SIGTERM to every service; returns {name: exit code}."""
        codes = {}
        for n, s in self.svc.items():
            try:
                codes[n] = s.stop()
            except RuntimeError as e:
                codes[n] = str(e)
        if self.events:
            self.events.close()
        return codes

    def drop(self):
        """Drops the run's schemas and Kafka topics (kept with SG_E2E_KEEP=1)."""
        if os.environ.get("SG_E2E_KEEP"):
            return
        for s in self.svc.values():
            s.drop_schema(topics=False)
        sgtest.delete_topics(self.prefix)

    # -- auth
    def tok(self, user, role="user"):
        k = (user, role)
        if k not in self.tokens:
            self.tokens[k] = token(user, role, ttl=7200)
        return auth(self.tokens[k])

    def ops(self):
        return self.tok("ops-e2e", "ops")

    # -- configuration, all over HTTP
    def configure(self):
        ops = self.ops()
        for rt, rule in self.rules.items():
            body = ok(call("PUT", f"{self.report.url}/v1/voting-rules/{rt}", rule, ops), 200, 201)
            got = ok(call("GET", f"{self.report.url}/v1/voting-rules/{rt}", headers=ops), 200)
            assert isinstance(got.get("version"), int), f"GET voting rule {rt}: no integer version: {got}"
            for k, v in rule.items():
                assert got.get(k) == v, f"GET /v1/voting-rules/{rt}: {k}={got.get(k)!r}, PUT {v!r}"
            self.rule_versions[rt] = got["version"]
            if isinstance(body, dict) and "version" in body and body["version"] != got["version"]:
                note(f"report: PUT /v1/voting-rules/{rt} returned version {body['version']}, GET says {got['version']}")
            ok(call("PUT", f"{self.reward.url}/v1/reward-rules/{rt}", REWARD_RULE, ops), 200, 201)
            got = ok(call("GET", f"{self.reward.url}/v1/reward-rules/{rt}", headers=ops), 200)
            for k, v in REWARD_RULE.items():
                assert got.get(k) == v, f"reward: GET /v1/reward-rules/{rt}: {k}={got.get(k)!r}, PUT {v!r}"
        for path, body in (("/v1/pool-rule", POOL_RULE), ("/v1/fatigue-policy", FATIGUE),
                           ("/v1/quality-policy", QUALITY)):
            ok(call("PUT", self.reviewer.url + path, body, ops), 200, 201)
            got = ok(call("GET", self.reviewer.url + path, headers=ops), 200)
            for k, v in body.items():
                assert got.get(k) == v, f"reviewer: GET {path}: {k}={got.get(k)!r}, PUT {v!r}"

        old = "2024-01-01T00:00:00Z"
        young = now_rfc3339(-dt.timedelta(days=30))
        profiles = [{"user_id": u, "tags": ["buyer"], "credit_score": 700 + i % 300, "registered_at": old}
                    for i, u in enumerate(self.jurors)]
        extra = []
        for i in range(3):
            for why, p in (("low_credit", {"tags": ["buyer"], "credit_score": 599, "registered_at": old}),
                           ("banned", {"tags": ["buyer", "banned"], "credit_score": 900, "registered_at": old}),
                           ("young", {"tags": ["buyer"], "credit_score": 900, "registered_at": young}),
                           ("inactive", {"tags": ["buyer"], "credit_score": 900, "registered_at": old})):
                u = f"{self.jurors[0].rsplit('-', 1)[0]}-x{why}{i}"
                self.ineligible[u] = why
                extra.append({"user_id": u, **p})
        allp = profiles + extra
        for i in range(0, len(allp), 1000):
            ok(call("POST", f"{self.reviewer.url}/v1/profiles:batch", allp[i:i + 1000], client_auth()), 200, 201, 202)
        visits = []
        for p in allp:
            weeks = range(6) if self.ineligible.get(p["user_id"]) != "inactive" else (0, 2)
            visits += [{"user_id": p["user_id"], "at": now_rfc3339(-dt.timedelta(days=7 * w, minutes=1))} for w in weeks]
        for i in range(0, len(visits), 1000):
            ok(call("POST", f"{self.reviewer.url}/v1/activity:batch", visits[i:i + 1000], client_auth()), 200, 201, 202)
        counts = ok(call("POST", f"{self.reviewer.url}/v1/pool:rebuild", {}, ops), 200, 201, 202)
        assert counts.get("added") == len(self.jurors), \
            f"reviewer: POST /v1/pool:rebuild on a fresh pool: added={counts.get('added')!r}, want {len(self.jurors)} ({counts})"
        active = {r["user_id"] for r in paginate(f"{self.reviewer.url}/v1/reviewers?status=active", ops)}
        assert active == set(self.jurors), \
            ("reviewer: GET /v1/reviewers?status=active differs from the pool rule: "
             f"missing {sorted(set(self.jurors) - active)[:5]}, unexpected {sorted(active - set(self.jurors))[:5]}")
        return counts

    # -- reports and cases
    def post_report(self, report_type, target_id, owner, reporter, headers=None, **extra):
        body = {"report_type": report_type, "target_id": target_id, "target_owner_id": owner,
                "reporter_id": reporter, "reason": "abuse", "description": "e2e report",
                "evidence": {"note": "e2e"}}
        body.update(extra)
        h = dict(client_auth())
        h.update(headers or {})
        return call("POST", f"{self.report.url}/v1/reports", body, h)

    def post_report_retry(self, report_type, target_id, owner, reporter, budget_s=30, **extra):
        """POST /v1/reports as a careful upstream does: one Idempotency-Key, retried on 5xx
        and connection errors (the shared devstack may be restarted under us). Returns
        (final response or exception name, attempts)."""
        key = uuid.uuid4().hex
        deadline = time.time() + budget_s
        attempts = 0
        while True:
            attempts += 1
            try:
                r = self.post_report(report_type, target_id, owner, reporter, headers={"Idempotency-Key": key}, **extra)
                if r.status_code < 500 and r.status_code != 429:
                    return r, attempts
                last = r
            except requests.RequestException as e:
                last = type(e).__name__
            if time.time() > deadline:
                return last, attempts
            time.sleep(min(2.0, 0.2 * attempts))

    def case(self, case_id):
        return ok(call("GET", f"{self.report.url}/v1/cases/{case_id}", headers=self.ops()), 200)

    def wait_panel(self, case_id, seats, timeout=20, exclude=()):
        """Waits for `seats` open ballots on the case; returns the case."""
        def full():
            c = self.case(case_id)
            opn = [b for b in c["ballots"] if b["status"] == "open" and b["reviewer_id"] not in exclude]
            return c if c["status"] == "voting" and len(opn) >= seats else None
        return poll(full, timeout, what=f"case {case_id}: {seats} open ballots")

    def wait_case(self, case_id, statuses=FINAL, timeout=20):
        return poll(lambda: (lambda c: c if c["status"] in statuses else None)(self.case(case_id)), timeout,
                    what=f"case {case_id} in {statuses}")

    def vote(self, case_id, user, decision, comment=None):
        body = {"decision": decision}
        if comment is not None:
            body["comment"] = comment
        return call("POST", f"{self.report.url}/v1/cases/{case_id}/votes", body, self.tok(user))

    def my_ballots(self, user, status="open"):
        return paginate(f"{self.report.url}/v1/me/ballots?status={status}", self.tok(user))

    def all_cases(self):
        out = {}
        for st in FINAL + OPEN:
            for c in paginate(f"{self.report.url}/v1/cases?status={st}", self.ops()):
                cid = c.get("case_id") or c.get("id")
                assert cid, f"report: GET /v1/cases item without case_id/id: {c}"
                assert c.get("status") == st, f"report: GET /v1/cases?status={st} returned a {c.get('status')} case"
                out[cid] = c
        return out

    # -- rewards
    def balance(self, user, as_ops=True):
        h = self.ops() if as_ops else self.tok(user)
        body = ok(call("GET", f"{self.reward.url}/v1/accounts/{user}", headers=h), 200, 404)
        if body is None or "balance" not in body:
            return 0
        return body["balance"]

    def owed(self, user, as_ops=True):
        """balance + pending of GET /v1/accounts/{user}: the coins credited and
        those held until the user's cases are final (API.md v2 settlement)."""
        h = self.ops() if as_ops else self.tok(user)
        body = ok(call("GET", f"{self.reward.url}/v1/accounts/{user}", headers=h), 200, 404)
        if body is None or "balance" not in body:
            return 0
        return body["balance"] + body.get("pending", 0)

    def pending_by_case(self, user):
        """{case_id: coins} the reward service holds pending for user (its
        majority bonus and reporter grants until the case is final)."""
        rows = self.sql("reward", "SELECT case_id, sum(amount) FROM pending_grants WHERE user_id = %s GROUP BY 1",
                        user)
        return {c: int(a) for c, a in rows}

    def ledger(self, user, as_ops=True):
        h = self.ops() if as_ops else self.tok(user)
        r = call("GET", f"{self.reward.url}/v1/accounts/{user}/ledger?limit=200", headers=h)
        if r.status_code == 404:
            return []
        return paginate(f"{self.reward.url}/v1/accounts/{user}/ledger", h)

    # -- SQL (read only)
    def sql(self, service, q, *args):
        with self.svc[service].db() as c:
            return c.execute(q, args).fetchall()


# ---------------------------------------------------------------- expectations

# The reward grants of cases as rows (case_id, user_id, kind, amount): those
# credited (grants) and those held pending until the case is final
# (pending_grants, API.md v2 settlement: the majority bonus and reporter
# rewards of a case not final yet, by its first verdict). expected_grants
# describes a case whose first verdict stands, so it equals their union
# whether or not the report service has finalized the case yet.
REWARD_DUE_SQL = ("SELECT case_id, user_id, kind, amount_paid FROM grants UNION ALL "
                  "SELECT case_id, user_id, kind, amount FROM pending_grants")


def run_cases(stack, poster, rtype, workers=6):
    """What a load run left behind, for its nothing-lost checks: every case of
    report type rtype, read whole (case_id -> case), and the accepted reports
    (poster.accepted: report_id -> (case_id, _, reporter)) whose case is
    missing, or that are gone or name another case. Returns (full,
    accepted_cases, missing_cases, lost_reports)."""
    cases = {}
    for st in FINAL + OPEN:
        for c in paginate(f"{stack.report.url}/v1/cases?status={st}&report_type={rtype}", stack.ops()):
            cases[c.get("case_id") or c.get("id")] = c
    full = {}
    with cf.ThreadPoolExecutor(workers) as ex:
        for c in ex.map(stack.case, sorted(cases)):
            full[c.get("case_id") or c.get("id")] = c
    accepted_cases = {cid for cid, _, _ in poster.accepted.values()}
    missing_cases = accepted_cases - set(full)
    lost_reports = []

    def get_rep(rid):
        r = call("GET", f"{stack.report.url}/v1/reports/{rid}", headers=stack.ops())
        return rid, r.status_code, (r.json() if r.status_code == 200 else None)
    with cf.ThreadPoolExecutor(workers) as ex:
        for rid, st, body in ex.map(get_rep, list(poster.accepted)):
            if st != 200 or body.get("case_id") != poster.accepted[rid][0]:
                lost_reports.append((rid, st, body))
    return full, accepted_cases, missing_cases, lost_reports


def expected_grants(case, reporter_ids, rule=REWARD_RULE):
    """{(case_id, user_id, kind): amount} that API.md's reward rule gives for a case
    as GET /v1/cases/{id} shows it (kinds as in the reward schema)."""
    out = {}
    if case["status"] != "decided":
        return out
    cid = case.get("case_id") or case.get("id")
    verdict = case["verdict"]
    for b in case["ballots"]:
        if b["status"] != "voted":
            continue
        out[(cid, b["reviewer_id"], "vote")] = rule["vote_reward"]
        if b.get("decision") == verdict:
            out[(cid, b["reviewer_id"], "majority_bonus")] = rule["majority_bonus"]
    if verdict == "violation":
        for r in reporter_ids:
            out[(cid, r, "reporter")] = rule["reporter_reward"]
    return out


def per_user(grants):
    tot = collections.Counter()
    for (_, u, _), amt in grants.items():
        tot[u] += amt
    return tot


def per_case_user(grants):
    tot = collections.Counter()
    for (c, u, _), amt in grants.items():
        tot[(c, u)] += amt
    return tot


def ledger_by_case(entries):
    tot = collections.Counter()
    for e in entries:
        if e.get("kind") == "grant":
            tot[e.get("case_id")] += e["amount"]
    return tot


def max_overlap(intervals):
    """Largest number of simultaneously open [start, end) intervals (end None = still open)."""
    pts = []
    for s, e in intervals:
        pts.append((s, 1))
        if e is not None:
            pts.append((e, -1))
    pts.sort(key=lambda p: (p[0], p[1]))
    cur = best = 0
    for _, d in pts:
        cur += d
        best = max(best, cur)
    return best


# ---------------------------------------------------------------- simulated jurors

class JurorSim:
    """A thread pool that polls GET /v1/me/ballots?status=open for every juror and
    votes with decide(juror, ballot) -> "violation" | "no_violation" | None (never).
    Jurors are polled every idle_s, and at once when hint(juror) is called (from
    Kafka events: a ballot was probably just created for them)."""

    def __init__(self, stack, jurors, decide, threads=6, idle_s=2.0):
        self.stack = stack
        self.jurors = list(jurors)
        self.decide = decide
        self.idle_s = idle_s
        self.due = {j: 0.0 for j in self.jurors}
        self.retry = collections.Counter()
        self.handled = set()
        self.lock = threading.Lock()
        self.votes = []                      # (t, juror, case_id, ballot_id, decision, status)
        self.ballots = {}                    # ballot_id -> (juror, ballot)
        self.errors = collections.Counter()
        self.polls = 0
        self._stop = threading.Event()
        shards = [self.jurors[i::threads] for i in range(threads)]
        self.threads = [threading.Thread(target=self._work, args=(s,), daemon=True, name=f"juror-{i}")
                        for i, s in enumerate(shards)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def stop(self):
        self._stop.set()
        for t in self.threads:
            t.join(15)

    def hint(self, juror):
        if juror in self.due:
            self.due[juror] = 0.0
            self.retry[juror] = 4

    def on_event(self, ev):
        if ev["_topic"] == "sg.panel.assigned":
            for r in ev.get("reviewer_ids") or []:
                self.hint(r)
        elif ev["_topic"] == "sg.notification.requested" and ev.get("kind") == "ballot_assigned":
            self.hint(ev.get("user_id"))

    def _work(self, shard):
        while not self._stop.is_set():
            now = time.time()
            for j in shard:
                if self._stop.is_set():
                    return
                if self.due[j] <= now:
                    self._poll(j)
            self._stop.wait(0.05)

    def _poll(self, j):
        url = self.stack.report.url
        try:
            r = call("GET", f"{url}/v1/me/ballots?status=open&limit=200", headers=self.stack.tok(j), timeout=5)
            self.polls += 1
            if r.status_code != 200:
                self.errors[f"GET me/ballots {r.status_code}"] += 1
                self.due[j] = time.time() + 1.0
                return
            items = r.json()["items"]
        except (requests.RequestException, ValueError, KeyError) as e:
            self.errors[f"GET me/ballots {type(e).__name__}"] += 1
            self.due[j] = time.time() + 1.0
            return
        fresh = [b for b in items if b.get("status") == "open" and b["ballot_id"] not in self.handled]
        for b in fresh:
            self.ballots[b["ballot_id"]] = (j, b)
            d = self.decide(j, b)
            if d is None:
                self.handled.add(b["ballot_id"])
                continue
            try:
                v = call("POST", f"{url}/v1/cases/{b['case_id']}/votes", {"decision": d}, self.stack.tok(j), timeout=5)
                st = v.status_code
            except requests.RequestException as e:
                st = type(e).__name__
            with self.lock:
                self.votes.append((time.time(), j, b["case_id"], b["ballot_id"], d, st))
            if st in (201, 409, 403):
                self.handled.add(b["ballot_id"])
            else:
                self.errors[f"POST vote {st}"] += 1
        if fresh:
            self.due[j] = time.time() + 0.3
        elif self.retry[j] > 0:
            self.retry[j] -= 1
            self.due[j] = time.time() + 0.3
        else:
            self.due[j] = time.time() + self.idle_s


def truth_voter(never, p_truth=0.85):
    """decide() for JurorSim: the truth is in the report's evidence; a juror follows
    it with probability p_truth (deterministic per ballot); `never` never vote."""
    def decide(j, b):
        if j in never:
            return None
        truth = (b.get("evidence") or {}).get("truth")
        if truth not in ("violation", "no_violation"):
            truth = "violation"
        if random.Random(b["ballot_id"]).random() < p_truth:
            return truth
        return "no_violation" if truth == "violation" else "violation"
    return decide


def stack_fixture(rules, cls=None, what="e2e stack", **kw):
    """Generator body for a module fixture: start, configure, yield the stack
    (a Stack, or cls's); then SIGTERM every service, drop the schemas and
    assert graceful exits."""
    st = (cls or Stack)(rules, **kw)
    t0 = time.time()
    try:
        st.start()
        st.configure()
        SUMMARY.append(f"{what} {st.run}: started and configured in {time.time() - t0:.1f}s")
        yield st
    finally:
        codes = st.stop()
        st.drop()
    bad = {n: c for n, c in codes.items() if c != 0}
    assert not bad, f"services did not exit 0 on SIGTERM: {bad} (logs in {sgtest.LOGDIR}, run {st.run})"


# ---------------------------------------------------------------- several replicas, other binaries
# (test_replicas.py, test_version_skew.py)

class BinService(Service):
    """A Service run from another binary (a previous release's, scripts/build-previous),
    optionally with its own migrations directory and its own log file name. Same schema
    and topic prefix as any other Service of the run with the same name."""

    def __init__(self, name, run, binary=None, migrations=None, label=None, **kw):
        super().__init__(name, run, **kw)
        self.binary = binary or os.path.join(sgtest.BUILD, f"sg-{name}")
        if migrations:
            self.extra["SG_MIGRATIONS_DIR"] = migrations
        if label:
            self.label = label
            self.logpath = os.path.join(sgtest.LOGDIR, f"{name}-{run}-{label}.log")
        else:
            self.label = name

    def start(self, wait=True):
        log = open(self.logpath, "ab")
        wrap = shlex.split(os.environ.get("SG_TEST_WRAP", ""))
        # Should the test runner die without its teardown, the service gets SIGTERM
        # (parent-death signal, kept across exec) instead of running on unowned.
        if shutil.which("setpriv"):
            wrap = ["setpriv", "--pdeathsig", "TERM", "--"] + wrap
        self.proc = subprocess.Popen(wrap + [self.binary], env=self.env(), cwd=sgtest.ROOT,
                                     stdout=log, stderr=subprocess.STDOUT)
        log.close()
        if wait:
            self.wait_ready()
        return self


class RoundRobin:
    """Several replicas of one service (same schema, same topic prefix, own ports)
    behind the simplest client-side balancer: every read of .url names the next
    live replica. A replica is taken out (down()) before the test kills it, as a
    load balancer's health check would some time after; requests in flight to it
    fail and the callers retry (Idempotency-Key), which then reach a survivor."""

    def __init__(self, replicas):
        self.replicas = list(replicas)
        self.live = list(self.replicas)
        self._n = 0
        self._lock = threading.Lock()
        first = self.replicas[0]
        self.name, self.schema, self.prefix, self.run = first.name, first.schema, first.prefix, first.run

    @property
    def url(self):
        with self._lock:
            self._n += 1
            return self.live[self._n % len(self.live)].url

    def down(self, replica):
        with self._lock:
            self.live = [r for r in self.live if r is not replica]
            assert self.live, f"{self.name}: no replica left"

    def up(self, replica):
        """Puts a (re)started replica back into the rotation."""
        with self._lock:
            if replica not in self.live:
                self.live.append(replica)

    def db(self):
        return self.replicas[0].db()

    def drop_schema(self, topics=True):
        return self.replicas[0].drop_schema(topics)

    def start(self, wait=True):
        for r in self.replicas:
            r.start(wait=False)
        if wait:
            for r in self.replicas:
                r.wait_ready()
        return self

    def wait_ready(self, timeout=60):
        for r in self.live:
            r.wait_ready(timeout)

    def stop(self, sig=None):
        """SIGTERM to every replica still running; returns the live replicas' exit codes
        ({label: code}); killed ones are not asked again."""
        out = {}
        for r in self.replicas:
            if r.proc is not None and r.proc.poll() is None:
                out[r.label] = r.stop() if sig is None else r.stop(sig)
        return out

    def tail(self, n=40):
        return "\n".join(f"--- {r.label}\n{r.tail(n)}" for r in self.replicas)


def _socket_inode(local_port, remote_port):
    """inode of the TCP socket 127.0.0.1:local_port <-> :remote_port (from /proc/net/tcp*)."""
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    p = line.split()
                    lp = int(p[1].rsplit(":", 1)[1], 16)
                    rp = int(p[2].rsplit(":", 1)[1], 16)
                    if lp == local_port and rp == remote_port:
                        return p[9]
        except OSError:
            continue
    return None


def _owns_socket(pid, inode):
    want = f"socket:[{inode}]"
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == want:
                    return True
            except OSError:
                continue
    except OSError:
        pass
    return False


def advisory_holder(replicas, key):
    """The replica (of `replicas`) whose process holds the session advisory lock
    pg_try_advisory_lock(hashtext(key)) — e.g. key 'sg_outbox:<schema>', the outbox
    relay's leader lock (common/src/outbox.c) — found from pg_locks and the
    holder's client port, mapped to a process through /proc. None when nobody of
    `replicas` holds it."""
    with sgtest.psycopg.connect(sgtest.PG_DSN, autocommit=True) as c:
        rows = c.execute(
            """SELECT a.client_port, a.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
               WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
                 AND l.classid = ((hashtext(%s)::bigint >> 32) & 4294967295)::oid
                 AND l.objid = (hashtext(%s)::bigint & 4294967295)::oid""", (key, key)).fetchall()
    pg_port = int(dict(x.split("=", 1) for x in sgtest.PG_DSN.split() if "=" in x).get("port", 5432))
    for client_port, _ in rows:
        if client_port is None or client_port < 0:
            continue
        inode = _socket_inode(client_port, pg_port)
        for r in replicas:
            if inode and r.proc is not None and r.proc.poll() is None and _owns_socket(r.proc.pid, inode):
                return r
    return None


def process_of_connection(replicas, local_port, remote_port):
    """The replica (of `replicas`) whose process owns the TCP connection from
    127.0.0.1:local_port to remote_port (e.g. an HTTP client seen by a test server)."""
    inode = _socket_inode(local_port, remote_port)
    for r in replicas:
        if inode and r.proc is not None and r.proc.poll() is None and _owns_socket(r.proc.pid, inode):
            return r
    return None


def log_lines(svc, needle):
    """Lines of a service's log that contain needle."""
    try:
        with open(svc.logpath, "rb") as f:
            return [ln.decode(errors="replace") for ln in f if needle.encode() in ln]
    except OSError:
        return []


class CallbackReceiver:
    """An upstream's callback endpoint on 127.0.0.1: answers 200 to every POST and
    keeps each delivery (time, path, headers, parsed body, raw body). Counts per
    (case_id, path, outcome kind): outcome kind is the body's 'kind' (v2) or, failing
    that, its 'status'."""

    def __init__(self):
        import http.server
        recv = self
        self.deliveries = []
        self.arrivals = []                     # (time, path, client port), logged before any hold
        self.hold = {}                         # path -> seconds to wait before answering
        self.lock = threading.Lock()

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {"_raw": raw.decode(errors="replace")}
                with recv.lock:
                    recv.arrivals.append((time.time(), self.path, self.client_address[1]))
                hold = recv.hold.get(self.path)
                if hold:
                    time.sleep(hold)
                with recv.lock:
                    recv.deliveries.append((time.time(), self.path, dict(self.headers), body, raw))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.t = threading.Thread(target=self.server.serve_forever, daemon=True, name="callback-receiver")
        self.t.start()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    @staticmethod
    def kind(body):
        return body.get("kind") or body.get("status")

    def counts(self):
        """{(case_id, path, kind): [delivery, ...]}"""
        out = collections.defaultdict(list)
        with self.lock:
            ds = list(self.deliveries)
        for d in ds:
            body = d[3]
            out[(body.get("case_id") or d[2].get("X-SG-Case-Id"), d[1], self.kind(body))].append(d)
        return out

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def ledger_check(stack, full, reporters):
    """The fault run's ledger check (test_faults.py) as a function: the reward grants
    of every decided case of `full` ({case_id: GET /v1/cases/{id} as ops}) equal the
    rule's (expected_grants, with `reporters` {case_id: set of reporter ids}), once
    each. Waits up to 60 s for the grants to settle; returns a dict with expected,
    found, duplicates (grant rows twice, ledger entries twice, unexpected or wrong
    amounts), lost (expected grants missing or wrong) and examples."""
    expected = {}
    for cid, c in full.items():
        expected.update(expected_grants(c, sorted(reporters.get(cid, ()))))
    ids = list(full)

    def rows():
        return stack.sql("reward", "SELECT case_id, user_id, kind, amount_paid FROM grants WHERE case_id = ANY(%s)",
                         ids)
    try:
        poll(lambda: {(c, u, k): a for c, u, k, a in rows()} == expected, 60, interval=1.0,
             what="reward grants equal to the decided cases' rule")
    except AssertionError:
        pass                                                                  # counted below
    found, dup_rows = {}, 0
    for c, u, k, a in rows():
        dup_rows += (c, u, k) in found
        found[(c, u, k)] = a
    ledger_dups = stack.sql("reward", """
        SELECT t.case_id, e.account_id, t.grant_kind, count(*) FROM journal_tx t
        JOIN ledger_entries e ON e.tx_id = t.id
        WHERE t.kind = 'grant' AND t.case_id = ANY(%s) AND e.account_id NOT LIKE 'platform treasury%%'
        GROUP BY 1, 2, 3 HAVING count(*) > 1""", ids)
    extra = {k: v for k, v in found.items() if k not in expected or expected[k] != v}
    lost = {k: v for k, v in expected.items() if found.get(k) != v}
    coins_users = stack.sql("reward", "SELECT coalesce(sum(balance), 0) FROM accounts WHERE kind = 'user'")[0][0]
    coins_ledger = stack.sql("reward", "SELECT coalesce(sum(amount), 0) FROM ledger_entries "
                                       "WHERE account_id NOT LIKE 'platform treasury%%'")[0][0]
    return {"expected": len(expected), "found": len(found), "coins_expected": sum(expected.values()),
            "coins_users": coins_users, "coins_ledger": coins_ledger,
            "duplicates": dup_rows + len(ledger_dups) + len(extra), "lost": len(lost),
            "examples": {"ledger_dups": ledger_dups[:5], "extra": list(extra.items())[:5],
                         "lost": list(lost.items())[:5]}}
