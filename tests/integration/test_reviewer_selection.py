"""Reviewer selection against real Kafka, Redis and PostgreSQL: the test plays
the report service (sg.panel.requested / sg.ballot.closed in, sg.panel.assigned
out) and checks fatigue limits, exclusions, tags, idempotency, and that a
Redis flush in the middle changes nothing about the limits."""
import collections
import datetime as dt
import random
import subprocess
import uuid

import pytest
import sgtest

REDIS_DB = 14
OPS = sgtest.ops_auth()
CLIENT = sgtest.client_auth()
POOL = [f"r{i:02d}" for i in range(40)]
TAGGED = set(POOL[::2])  # lang:zh


@pytest.fixture(scope="module")
def svc():
    with sgtest.running("reviewer", env={"SG_POOL_ADJUST_INTERVAL_S": "3600"}, redis_db=REDIS_DB) as s:
        rule = {"include_tags_any": [], "exclude_tags": [], "min_credit_score": 0, "min_account_age_days": 0,
                "active_weeks_required": 0}
        assert s.put("/v1/pool-rule", rule, headers=OPS).status_code == 200
        profiles = [{"user_id": u, "tags": ["lang:zh"] if u in TAGGED else [], "credit_score": 800,
                     "registered_at": "2024-01-01T00:00:00Z"} for u in POOL]
        assert s.post("/v1/profiles:batch", profiles, headers=CLIENT).status_code == 200
        assert s.post("/v1/pool:rebuild", headers=OPS).json()["added"] == len(POOL)
        yield s


@pytest.fixture(scope="module")
def bus(svc):
    return sgtest.Bus(svc.prefix)


@pytest.fixture(scope="module")
def assigned(bus):
    r = bus.consumer("sg.panel.assigned")
    yield r
    r.close()


def request(bus, case_id, round_=0, seats=5, tags=(), exclude=(), event_id=None):
    deadline = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return bus.produce("sg.panel.requested", case_id,
                       {"case_id": case_id, "round": round_, "seats": seats, "report_type": "comment",
                        "reviewer_tags": list(tags), "exclude_user_ids": list(exclude), "deadline": deadline},
                       event_id=event_id)


def answers(reader, case_id, round_=0):
    return [e for e in reader.of("sg.panel.assigned") if e["case_id"] == case_id and e["round"] == round_]


def test_redelivered_request_assigns_once(svc, bus, assigned):
    case = "case-redo-" + uuid.uuid4().hex[:6]
    eid = request(bus, case)
    assigned.poll_until(lambda _: answers(assigned, case), timeout=30)
    first = answers(assigned, case)[0]
    assert len(first["reviewer_ids"]) == 5 and first["shortfall"] == 0, first
    assert first["_key"] == case

    request(bus, case, event_id=eid)        # the same event again: the inbox stops it
    request(bus, case)                      # same (case, round), new event id: re-emits the answer
    request(bus, case, round_=1, seats=5)   # a substitute round: nobody from round 0
    # One key → one partition → handled in order: once round 1 is answered,
    # the two repeats before it have been handled too.
    assigned.poll_until(lambda _: answers(assigned, case, 1), timeout=30)
    round0 = answers(assigned, case)
    assert len(round0) == 2, round0
    assert round0[1]["reviewer_ids"] == first["reviewer_ids"] and round0[1]["shortfall"] == first["shortfall"]
    assert round0[1]["event_id"] != first["event_id"]
    round1 = answers(assigned, case, 1)[0]
    assert not set(round1["reviewer_ids"]) & set(first["reviewer_ids"]), "already on the case in round 0"
    with svc.db() as c:
        rows = c.execute("SELECT round, count(*) FROM assignments WHERE case_id = %s GROUP BY round ORDER BY round",
                         (case,)).fetchall()
        assert rows == [(0, 5), (1, len(round1["reviewer_ids"]))]
        assert c.execute("SELECT count(*) FROM panel_requests WHERE case_id = %s", (case,)).fetchone()[0] == 2
        total = c.execute("SELECT sum(assigned), sum(open_ballots) FROM users").fetchone()
        assert total == (5 + len(round1["reviewer_ids"]),) * 2
    # Close them so the next test starts from a clean slate.
    for r in first["reviewer_ids"]:
        bus.produce("sg.ballot.closed", case, {"case_id": case, "reviewer_id": r, "outcome": "voted"})
    for r in round1["reviewer_ids"]:
        bus.produce("sg.ballot.closed", case, {"case_id": case, "reviewer_id": r, "outcome": "cancelled"})
    # A repeated close (new event id) releases nothing more.
    bus.produce("sg.ballot.closed", case, {"case_id": case, "reviewer_id": first["reviewer_ids"][0],
                                          "outcome": "voted"})

    def closed():
        with svc.db() as c:
            return c.execute("SELECT sum(open_ballots) FROM users").fetchone()[0] == 0 and \
                c.execute("SELECT count(*) FROM assignments WHERE open").fetchone()[0] == 0
    sgtest.wait_for(closed, timeout=30, what="ballots released")
    r = svc.get(f"/v1/reviewers/{first['reviewer_ids'][0]}", headers=OPS).json()
    assert r["counts"]["voted"] == 1 and r["counts"]["assigned"] == 1 and r["open_ballots"] == 0, r


def redis_flush():
    subprocess.run(["redis-cli", "-p", sgtest.REDIS_URL.rsplit(":", 1)[1].split("/")[0], "-n", str(REDIS_DB),
                    "FLUSHDB"], check=True, capture_output=True)


def test_two_hundred_requests_respect_fatigue_exclusions_and_tags(svc, bus, assigned):
    policy = {"max_open_ballots": 2, "max_per_day": 14, "max_per_week": 1000, "min_interval_s": 0,
              "cooldown_after_expiry_s": 4}
    assert svc.put("/v1/fatigue-policy", policy, headers=OPS).status_code == 200
    # Two reviewers pause: nobody inactive may be picked.
    for u in POOL[-2:]:
        assert svc.put("/v1/me/availability", {"paused": True}, headers=sgtest.user_auth(u)).status_code == 200
    paused = set(POOL[-2:])
    # The day budget restarts for this test: only today's earlier ballots count.
    with svc.db() as c:
        before = dict(c.execute("SELECT user_id, day_count FROM users WHERE day_date = "
                                "(now() AT TIME ZONE 'UTC')::date").fetchall())

    rnd = random.Random(11)
    run = uuid.uuid4().hex[:6]
    requests = {}
    waves, per_wave = 10, 20
    for w in range(waves):
        if w == 5:
            redis_flush()
        cases = []
        for i in range(per_wave):
            case = f"case-{run}-{w:02d}-{i:02d}"
            exclude = rnd.sample(POOL, 4)
            tags = ["lang:zh"] if i % 4 == 0 else []
            request(bus, case, tags=tags, exclude=exclude)
            requests[case] = (set(exclude), tags)
            cases.append(case)
        assigned.poll_until(lambda _: all(answers(assigned, c) for c in cases), timeout=60)
        # Play the report service: every ballot closes; a few expire.
        for c in cases:
            for r in answers(assigned, c)[0]["reviewer_ids"]:
                x = rnd.random()
                outcome = "expired" if x < 0.07 else "declined" if x < 0.15 else "voted"
                bus.produce("sg.ballot.closed", c, {"case_id": c, "reviewer_id": r, "outcome": outcome})

        def all_closed():
            with svc.db() as conn:
                return conn.execute("SELECT count(*) FROM assignments WHERE open").fetchone()[0] == 0
        sgtest.wait_for(all_closed, timeout=30, what=f"wave {w} ballots closed")

    # 1. Every answer: right size, no excluded, paused or untagged reviewer.
    seats = 0
    for case, (exclude, tags) in requests.items():
        evs = answers(assigned, case)
        assert len(evs) == 1, (case, evs)
        ids = evs[0]["reviewer_ids"]
        assert len(ids) + evs[0]["shortfall"] == 5 and len(set(ids)) == len(ids), evs[0]
        assert not set(ids) & exclude, ("excluded user selected", case, ids, exclude)
        assert not set(ids) & paused, ("paused reviewer selected", case, ids)
        if tags:
            assert set(ids) <= TAGGED, ("required tag missing", case, ids)
        seats += len(ids)
    assert seats > 300, "the pool was used"
    assert any(answers(assigned, c)[0]["shortfall"] for c in requests), "limits were reached"

    # 2. Fatigue limits, from the assignment history in PostgreSQL.
    with svc.db() as c:
        rows = c.execute("SELECT reviewer_id, assigned_at, closed_at, outcome FROM assignments"
                         " WHERE case_id LIKE %s ORDER BY assigned_at", (f"case-{run}-%",)).fetchall()
        truth = c.execute("SELECT max(open_ballots), max(day_count) FROM users").fetchone()
    per_day = collections.Counter((r[0], r[1].astimezone(dt.timezone.utc).date()) for r in rows)
    for (rid, day), n in per_day.items():
        assert n + (before.get(rid, 0) if day == dt.datetime.now(dt.timezone.utc).date() else 0) \
            <= policy["max_per_day"], (rid, day, n)
    by_reviewer = collections.defaultdict(list)
    for r in rows:
        by_reviewer[r[0]].append(r)
    for rid, rs in by_reviewer.items():
        for a in rs:
            t = a[1]
            open_then = sum(1 for b in rs if b[1] <= t and (b[2] is None or b[2] > t))
            assert open_then <= policy["max_open_ballots"], (rid, t, open_then)
            for b in rs:
                if b[3] == "expired" and b[2] <= t < b[2] + dt.timedelta(seconds=policy["cooldown_after_expiry_s"]):
                    raise AssertionError(f"{rid} assigned at {t} during the cooldown after {b[2]}")
    assert truth[0] <= policy["max_open_ballots"] and truth[1] <= policy["max_per_day"], truth

    # 3. The flush was noticed and the cache refilled from PostgreSQL.
    def resets_of(text):
        return [l for l in text.splitlines() if l.startswith("sg_reviewer_fatigue_cache_resets_total")]
    m = sgtest.metrics_when(svc, lambda t: any(float(l.split()[-1]) >= 2 for l in resets_of(t)))
    resets = resets_of(m)
    assert resets and float(resets[0].split()[-1]) >= 2, resets
    port = sgtest.REDIS_URL.rsplit(":", 1)[1].split("/")[0]
    keys = subprocess.run(["redis-cli", "-p", port, "-n", str(REDIS_DB), "--scan", "--pattern",
                           f"sg:{svc.schema}:rvf:*"], check=True, capture_output=True, text=True).stdout.split()
    assert keys, "fatigue entries rebuilt after the flush"


def consumer_batches(text, topic):
    """(batches committed whole, batches handled one by one) of topic in a /metrics text."""
    def value(name):
        for line in text.splitlines():
            if line.startswith(name + "{") and f'topic="{topic}"' in line:
                return float(line.split()[-1])
        return 0.0
    return value("sg_consumer_batches_total"), value("sg_consumer_batch_fallbacks_total")


def forty_panels(svc, bus, assigned, tag):
    """40 new panels of five over the 40-reviewer pool (fatigue limits
    lifted, so that they share reviewers); returns their case ids."""
    policy = {"max_open_ballots": 1000, "max_per_day": 100000, "max_per_week": 100000, "min_interval_s": 0,
              "cooldown_after_expiry_s": 0}
    assert svc.put("/v1/fatigue-policy", policy, headers=OPS).status_code == 200
    run = uuid.uuid4().hex[:6]
    cases = [f"case-{tag}-{run}-{i:02d}" for i in range(40)]
    for c in cases:
        request(bus, c)
    assigned.poll_until(lambda _: all(answers(assigned, c) for c in cases), timeout=60)
    return cases


def test_burst_of_ballot_closures_applies_in_batches_exactly_once(svc, bus, assigned):
    # 40 panels over the 40-reviewer pool, then every ballot closed in one
    # burst, some closures twice (a new event id, as a retried producer
    # sends): the consumer applies them a batch at a time (one statement
    # for all the batch's assignments and reviewers), and each reviewer's
    # counters move once per ballot.
    cases = forty_panels(svc, bus, assigned, "burst")
    with svc.db() as c:
        before = {r[0]: r[1:] for r in c.execute("SELECT user_id, voted, expired, declined, open_ballots FROM users")}
    rnd = random.Random(5)
    want = collections.defaultdict(lambda: [0, 0, 0, 0])
    outcomes = {}
    m0 = consumer_batches(sgtest.metrics_when(svc, lambda t: True), "sg.ballot.closed")
    for case in cases:
        for r in answers(assigned, case)[0]["reviewer_ids"]:
            outcome = rnd.choice(["voted", "voted", "expired", "declined", "cancelled"])
            outcomes[(case, r)] = outcome
            k = {"voted": 0, "expired": 1, "declined": 2}.get(outcome)
            if k is not None:
                want[r][k] += 1
            want[r][3] -= 1
            closure = {"case_id": case, "reviewer_id": r, "outcome": outcome}
            bus.produce("sg.ballot.closed", case, closure, flush=False)
            if rnd.random() < 0.2:
                bus.produce("sg.ballot.closed", case, closure, flush=False)
    bus.producer.flush(30)

    def closed():
        with svc.db() as c:
            return c.execute("SELECT count(*) FROM assignments WHERE open AND case_id = ANY(%s)",
                             (cases,)).fetchone()[0] == 0
    sgtest.wait_for(closed, timeout=60, what="the burst's ballots closed")
    with svc.db() as c:
        after = {r[0]: r[1:] for r in c.execute("SELECT user_id, voted, expired, declined, open_ballots FROM users")}
        got = {(r[0], r[1]): r[2] for r in c.execute(
            "SELECT case_id, reviewer_id, outcome FROM assignments WHERE case_id = ANY(%s)", (cases,))}
    assert got == outcomes
    for u in before:
        moved = [a - b for a, b in zip(after[u], before[u])]
        assert moved == want.get(u, [0, 0, 0, 0]), (u, moved, want.get(u))
    m1 = consumer_batches(sgtest.metrics_when(svc, lambda t: True), "sg.ballot.closed")
    assert m1[0] > m0[0], "the burst was never applied as a batch"
    assert m1[1] == m0[1], "a batch fell back to one event per transaction"


def test_burst_of_decisions_counts_each_once(svc, bus, assigned):
    # 40 panels over the 40-reviewer pool, then their 40 decisions in one
    # burst, some twice (a new event id, as a retried producer sends). The
    # decisions are handled by SG_CONSUMER_THREADS consumers at once, whose
    # panels share reviewers: each reviewer's counters move once per ballot,
    # every assignment is closed with its mark, and each case's pairs are
    # recorded once.
    cases = forty_panels(svc, bus, assigned, "decided")
    cols = "voted, decided, with_majority, open_ballots"
    with svc.db() as c:
        before = {r[0]: r[1:] for r in c.execute(f"SELECT user_id, {cols} FROM users")}
    rnd = random.Random(7)
    want = collections.defaultdict(lambda: [0, 0, 0, 0])
    marks, events = {}, []
    for case in cases:
        panel = answers(assigned, case)[0]["reviewer_ids"]
        votes = {r: rnd.choice(["violation", "no_violation"]) for r in panel}
        verdict = max(("violation", "no_violation"), key=lambda v: list(votes.values()).count(v))
        ballots = [{"reviewer_id": r, "outcome": "voted", "decision": d, "with_majority": d == verdict}
                   for r, d in votes.items()]
        for r, d in votes.items():
            marks[(case, r)] = d == verdict
            w = want[r]
            w[0] += 1
            w[1] += 1
            w[2] += d == verdict
            w[3] -= 1
        event = {"case_id": case, "report_type": "comment", "target_id": "t-" + case, "target_owner_id": "o",
                 "opened_at": "2026-01-01T00:00:00Z", "verdict": verdict, "decided_by": "panel", "appeal_of": None,
                 "reporter_ids": ["rep"], "ballots": ballots}
        events.append(bus.produce("sg.case.decided", case, event, flush=False))
        if rnd.random() < 0.25:
            events.append(bus.produce("sg.case.decided", case, event, flush=False))
    bus.producer.flush(30)

    def handled():
        with svc.db() as c:
            return c.execute("SELECT count(*) FROM inbox WHERE event_id::text = ANY(%s)",
                             (events,)).fetchone()[0] == len(events)
    sgtest.wait_for(handled, timeout=60, what="every copy of the burst's decisions handled")
    with svc.db() as c:
        after = {r[0]: r[1:] for r in c.execute(f"SELECT user_id, {cols} FROM users")}
        got = {(r[0], r[1]): r[2] for r in c.execute(
            "SELECT case_id, reviewer_id, with_majority FROM assignments WHERE case_id = ANY(%s)", (cases,))}
        pairs = c.execute("SELECT count(*), count(DISTINCT (a, b, case_id)) FROM pair_cases WHERE case_id = ANY(%s)",
                          (cases,)).fetchone()
    assert got == marks
    for u in before:
        moved = [a - b for a, b in zip(after[u], before[u])]
        assert moved == want.get(u, [0, 0, 0, 0]), (u, moved, want.get(u))
    assert pairs == (len(cases) * 10, len(cases) * 10), pairs
