"""Reward service: grants from sg.case.decided and sg.case.finalized (real
Kafka, PostgreSQL).

Coins only ever come from events here (the real path): the vote reward at
decision, the majority bonus and the reporter reward at finality (most tests
finalize a case with its first verdict right after its decision;
test_reward_settlement.py covers appeals, the order of the two events and
pending coins). After every
test the ledger must be consistent: each balance equals the sum of its
entries, the journal sums to zero, no user balance is negative.
"""
import json
import time
import uuid
from datetime import datetime, timedelta, timezone

import psycopg
import pytest
import requests

import sgtest

OPS = sgtest.ops_auth()


# ---- helpers (each reward test module carries its own copy) ---------------

def decided(case_id, verdict="violation", ballots=(), reporters=(), report_type="comment", decided_by="panel",
            appeal_of=None):
    return {"case_id": case_id, "report_type": report_type, "target_id": "t:" + case_id,
            "target_owner_id": "owner-" + case_id[:8], "verdict": verdict, "decided_by": decided_by,
            "reporter_ids": list(reporters), "ballots": list(ballots), "appeal_of": appeal_of}


def voted(rid, decision="violation", with_majority=True):
    return {"reviewer_id": rid, "outcome": "voted", "decision": decision, "with_majority": with_majority}


def not_voted(rid, outcome):
    return {"reviewer_id": rid, "outcome": outcome, "decision": None, "with_majority": None}


def finalized(case_id, final_verdict, finalized_by="window", appeal_case_id=None, **extra):
    return dict({"case_id": case_id, "final_verdict": final_verdict, "finalized_by": finalized_by,
                 "appeal_case_id": appeal_case_id}, **extra)


def fin_id(event_id):
    """The event id of the finalization produce_many sends after decision event_id."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "finalized:" + event_id))


def produce_many(bus, events, finalize=True):
    """Produces [(event_id, payload, occurred_at|None)] with one flush; with
    finalize, each decision with a verdict is followed by its case's
    sg.case.finalized with that verdict (event id fin_id(event_id)).
    Returns every event id produced."""
    ids = []
    for event_id, payload, occurred in events:
        at = occurred or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        out = [("sg.case.decided", event_id, payload)]
        if finalize and payload.get("verdict"):
            out.append(("sg.case.finalized", fin_id(event_id), finalized(payload["case_id"], payload["verdict"])))
        for topic, eid, body in out:
            bus.producer.produce(bus.prefix + topic, key=payload["case_id"].encode(),
                                 value=json.dumps(dict(body, event_id=eid, occurred_at=at)).encode(),
                                 headers=[("event_id", eid.encode()), ("event_type", topic.encode())])
            ids.append(eid)
    bus.producer.flush(30)
    return ids


def decide_final(bus, case_id, payload):
    """Produces a decision and, when it has a verdict, the case's finalization
    with that verdict (no appeal); returns their event ids."""
    ids = [bus.produce("sg.case.decided", case_id, payload)]
    if payload.get("verdict"):
        ids.append(bus.produce("sg.case.finalized", case_id, finalized(case_id, payload["verdict"])))
    return ids


def drain(reader, seconds):
    """Keeps reading events for `seconds`."""
    end = time.time() + seconds
    reader.poll_until(lambda evs: time.time() >= end, timeout=seconds + 5)


def flat(ids):
    out = []
    for i in ids:
        out.extend(flat(i) if isinstance(i, (list, tuple)) else [i])
    return out


def handled(svc, *event_ids):
    event_ids = flat(event_ids)
    with svc.db() as c:
        n = c.execute("SELECT count(*) FROM inbox WHERE event_id = ANY(%s::uuid[])", (list(event_ids),)).fetchone()[0]
    return n == len(set(event_ids))


def wait_handled(svc, *event_ids, timeout=30):
    event_ids = flat(event_ids)
    sgtest.wait_for(lambda: handled(svc, *event_ids), timeout=timeout, what=f"events {event_ids[:3]} handled")


def balance(svc, user):
    r = svc.get(f"/v1/accounts/{user}", headers=OPS)
    assert r.status_code == 200, r.text
    assert r.json()["user_id"] == user
    return r.json()["balance"]


def pending(svc, user):
    r = svc.get(f"/v1/accounts/{user}", headers=OPS)
    assert r.status_code == 200, r.text
    return r.json()["pending"]


def grants_of(svc, case_id):
    with svc.db() as c:
        return {(u, k): (due, paid, st) for u, k, due, paid, st in c.execute(
            "SELECT user_id, kind, amount_due, amount_paid, status FROM grants WHERE case_id = %s", (case_id,))}


def assert_ledger_consistent(svc):
    with svc.db() as c:
        q = lambda sql: c.execute(sql).fetchall()  # noqa: E731
        assert q("""SELECT a.user_id, a.balance, coalesce(e.total, 0) FROM accounts a
                    LEFT JOIN (SELECT account_id, sum(amount) AS total FROM ledger_entries GROUP BY account_id) e
                      ON e.account_id = a.user_id
                    WHERE a.balance <> coalesce(e.total, 0)""") == [], "balance != sum of ledger entries"
        assert q("SELECT coalesce(sum(amount), 0) FROM ledger_entries")[0][0] == 0, "journal does not sum to 0"
        assert q("SELECT coalesce(sum(balance), 0) FROM accounts")[0][0] == 0, "balances do not sum to 0"
        assert q("""SELECT tx_id FROM ledger_entries GROUP BY tx_id
                    HAVING sum(amount) <> 0 OR count(*) <> 2""") == [], "unbalanced journal transaction"
        assert q("SELECT user_id FROM accounts WHERE kind = 'user' AND balance < 0") == [], "negative balance"
        assert q("""SELECT g.id FROM grants g
                    LEFT JOIN journal_tx t ON t.id = g.tx_id
                    LEFT JOIN ledger_entries e ON e.tx_id = t.id AND e.account_id = g.user_id
                    WHERE (g.amount_paid > 0 AND (e.amount IS DISTINCT FROM g.amount_paid
                           OR t.kind <> 'grant' OR t.case_id <> g.case_id OR t.grant_kind <> g.kind))
                       OR (g.amount_paid = 0 AND g.tx_id IS NOT NULL)""") == [], "grant without matching posting"
        assert q("""SELECT t.id FROM journal_tx t LEFT JOIN grants g ON g.tx_id = t.id
                    WHERE t.kind = 'grant' AND g.id IS NULL""") == [], "grant posting without a grant"
        assert q("""SELECT d.user_id, d.day FROM daily_paid d
                    LEFT JOIN (SELECT user_id, day, sum(amount_paid) AS s FROM grants GROUP BY 1, 2) g
                      USING (user_id, day)
                    WHERE d.paid <> coalesce(g.s, 0)""") == [], "daily counter != grants paid that day"
        assert q("""SELECT r.id FROM redemptions r WHERE
                    (SELECT coalesce(sum(e.amount), 0) FROM journal_tx t JOIN ledger_entries e ON e.tx_id = t.id
                      AND e.account_id = r.user_id WHERE t.redemption_id = r.id)
                    <> CASE WHEN r.status = 'refunded' THEN 0 ELSE -r.cost END""") == [], "redemption postings"
        assert q("""SELECT lt.kind FROM (SELECT kind, sum(transactions) AS transactions, sum(coins) AS coins
                                         FROM ledger_totals GROUP BY kind) lt LEFT JOIN (
                      SELECT t.kind, count(*) AS n, sum(abs(e.amount)) AS coins FROM journal_tx t
                      JOIN ledger_entries e ON e.tx_id = t.id JOIN accounts a ON a.user_id = e.account_id
                      WHERE a.kind = 'user' GROUP BY t.kind) x USING (kind)
                    WHERE lt.transactions <> coalesce(x.n, 0) OR lt.coins <> coalesce(x.coins, 0)""") == []
        # Grants only here (no redemptions): each grant's counter-entry is on its
        # case's platform shard, and every shard's balance and grant totals are
        # exactly what its cases paid.
        assert q(f"""SELECT t.id FROM journal_tx t JOIN ledger_entries e ON e.tx_id = t.id
                     JOIN accounts a ON a.user_id = e.account_id AND a.kind = 'platform'
                     WHERE t.kind = 'grant' AND e.account_id <> {SHARD_ACCOUNT}""") == [], "posting on a wrong shard"
        assert q(f"""SELECT a.user_id FROM accounts a LEFT JOIN (
                       SELECT {SHARD_ACCOUNT} AS account, sum(amount_paid) AS paid,
                              count(*) FILTER (WHERE amount_paid > 0) AS n
                       FROM grants t GROUP BY 1) s ON s.account = a.user_id
                     LEFT JOIN ledger_totals lt ON lt.kind = 'grant'
                       AND lt.shard = coalesce(nullif(substring(a.user_id FROM '[0-9]+$'), '')::int, 0)
                     WHERE a.kind = 'platform' AND (a.balance <> -coalesce(s.paid, 0)
                       OR lt.transactions <> coalesce(s.n, 0) OR lt.coins <> coalesce(s.paid, 0))""") == [], \
            "platform shard balance or grant totals != its cases' payments"


# The platform shard account of a grant's case (t.case_id), as
# sql/reward/004 chooses it.
SHARD_ACCOUNT = ("('platform treasury' || CASE WHEN abs(hashtext(t.case_id)) % 16 = 0 THEN '' "
                 "ELSE ' ' || abs(hashtext(t.case_id)) % 16 END)")


# ---- fixtures -------------------------------------------------------------

@pytest.fixture(scope="module")
def svc():
    with sgtest.running("reward") as s:
        yield s


@pytest.fixture(scope="module")
def bus(svc):
    return sgtest.Bus(svc.prefix)


@pytest.fixture(scope="module")
def granted(bus):
    reader = bus.consumer("sg.reward.granted")
    yield reader
    reader.close()


@pytest.fixture(autouse=True)
def ledger_consistent(svc):
    yield
    assert_ledger_consistent(svc)


def new_case():
    return str(uuid.uuid4())


def uid(prefix="u"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# ---- tests ----------------------------------------------------------------

def test_default_rule_pays_voters_and_reporters_and_announces(svc, bus, granted):
    case = new_case()
    maj, mino, rep = uid("maj"), uid("min"), uid("rep")
    ev = decide_final(bus, case, decided(case, "violation", [
        voted(maj, "violation", True), voted(mino, "no_violation", False)], [rep], report_type="listing"))
    wait_handled(svc, ev)
    # "listing" has no rule: the seeded default rule (10 / 5 / 20 / cap 200) applies.
    assert grants_of(svc, case) == {(maj, "vote"): (10, 10, "paid"), (maj, "majority_bonus"): (5, 5, "paid"),
                                    (mino, "vote"): (10, 10, "paid"), (rep, "reporter"): (20, 20, "paid")}
    with svc.db() as c:
        assert {r[0] for r in c.execute("SELECT DISTINCT rule_type FROM grants WHERE case_id = %s", (case,))} \
            == {"default"}
    assert (balance(svc, maj), balance(svc, mino), balance(svc, rep)) == (15, 10, 20)

    mine = lambda evs: [e for e in evs if e["_topic"] == "sg.reward.granted" and e.get("case_id") == case]  # noqa
    evs = mine(granted.poll_until(lambda evs: len(mine(evs)) >= 4, timeout=40))
    assert sorted((e["user_id"], e["kind"], e["amount"]) for e in evs) == sorted(
        [(maj, "vote", 10), (maj, "majority_bonus", 5), (mino, "vote", 10), (rep, "reporter", 20)])
    with svc.db() as c:
        entries = {str(r[0]) for r in c.execute(
            "SELECT e.id FROM ledger_entries e JOIN journal_tx t ON t.id = e.tx_id "
            "WHERE t.case_id = %s AND e.account_id NOT LIKE 'platform treasury%%'", (case,))}
    for e in evs:
        assert set(e) - {"_topic", "_key", "_headers"} == {"user_id", "amount", "kind", "case_id", "entry_id",
                                                            "event_id", "occurred_at"}, e
        assert e["_key"] == e["user_id"], "sg.reward.granted is keyed by user_id"
        assert e["_headers"]["event_id"] == e["event_id"]
    assert {e["entry_id"] for e in evs} == entries


def test_rule_of_the_report_type_applies(svc, bus):
    r = svc.put("/v1/reward-rules/forum_post", {"vote_reward": 3, "majority_bonus": 2, "reporter_reward": 7,
                                                 "daily_cap_per_user": 1000}, headers=OPS)
    assert r.status_code == 200, r.text
    version = r.json()["version"]
    case = new_case()
    a, rep = uid("a"), uid("rep")
    ev = decide_final(bus, case, decided(case, "violation", [voted(a)], [rep], report_type="forum_post"))
    wait_handled(svc, ev)
    assert grants_of(svc, case) == {(a, "vote"): (3, 3, "paid"), (a, "majority_bonus"): (2, 2, "paid"),
                                    (rep, "reporter"): (7, 7, "paid")}
    with svc.db() as c:
        assert c.execute("SELECT DISTINCT rule_type, rule_version FROM grants WHERE case_id = %s",
                         (case,)).fetchall() == [("forum_post", version)]


def test_minority_expired_declined_and_no_violation(svc, bus):
    case = new_case()
    a, b, e, d, x, rep = (uid(p) for p in ("a", "b", "e", "d", "x", "rep"))
    ev = decide_final(bus, case, decided(case, "no_violation", [
        voted(a, "no_violation", True), voted(b, "violation", False), not_voted(e, "expired"),
        not_voted(d, "declined"), not_voted(x, "cancelled")], [rep], report_type="comment"))
    wait_handled(svc, ev)
    # Reporters earn only on a violation verdict; expired/declined/cancelled earn nothing.
    assert grants_of(svc, case) == {(a, "vote"): (10, 10, "paid"), (a, "majority_bonus"): (5, 5, "paid"),
                                    (b, "vote"): (10, 10, "paid")}
    assert [balance(svc, u) for u in (e, d, x, rep)] == [0, 0, 0, 0]


def test_null_verdict_grants_nothing(svc, bus):
    case = new_case()
    a, rep = uid("a"), uid("rep")
    ev1 = bus.produce("sg.case.decided", case, decided(case, None, [voted(a, "violation", False)], [rep],
                                                       decided_by="deadline"))
    wait_handled(svc, ev1)
    assert grants_of(svc, case) == {}
    # Ops resolve the escalated case later: now the verdict earns.
    ev2 = decide_final(bus, case, decided(case, "violation", [voted(a, "violation", True)], [rep],
                                                       decided_by="ops"))
    wait_handled(svc, ev2)
    assert set(grants_of(svc, case)) == {(a, "vote"), (a, "majority_bonus"), (rep, "reporter")}


def test_same_decision_five_times_same_and_new_event_ids(svc, bus, granted):
    case = new_case()
    users = [uid("r") for _ in range(3)]
    rep = uid("rep")
    payload = decided(case, "violation", [voted(users[0]), voted(users[1]), voted(users[2], "no_violation", False)],
                      [rep])
    first = str(uuid.uuid4())
    new_ids = [str(uuid.uuid4()) for _ in range(5)]
    # Same event_id five times, then the same decision under five new event ids.
    ids = produce_many(bus, [(first, payload, None)] * 5 + [(i, payload, None) for i in new_ids])
    wait_handled(svc, ids)
    expected = {(users[0], "vote"): (10, 10, "paid"), (users[0], "majority_bonus"): (5, 5, "paid"),
                (users[1], "vote"): (10, 10, "paid"), (users[1], "majority_bonus"): (5, 5, "paid"),
                (users[2], "vote"): (10, 10, "paid"), (rep, "reporter"): (20, 20, "paid")}
    assert grants_of(svc, case) == expected
    assert [balance(svc, u) for u in users + [rep]] == [15, 15, 10, 20]
    with svc.db() as c:
        assert c.execute("SELECT count(*) FROM journal_tx WHERE case_id = %s", (case,)).fetchone()[0] == 6
    mine = lambda evs: {e["entry_id"] for e in evs if e.get("case_id") == case}  # noqa: E731
    granted.poll_until(lambda evs: len(mine(evs)) >= 6, timeout=20)
    drain(granted, 1.5)  # a duplicate announcement would have been published with the others
    assert len([e for e in granted.seen if e.get("case_id") == case]) == 6, "one announcement per grant"


def test_daily_cap_partial_payment_and_day_buckets(svc, bus, granted):
    r = svc.put("/v1/reward-rules/im_message", {"vote_reward": 10, "majority_bonus": 5, "reporter_reward": 0,
                                                 "daily_cap_per_user": 32}, headers=OPS)
    assert r.status_code == 200, r.text
    u = uid("capped")
    cases = [new_case() for _ in range(3)]
    events = [(str(uuid.uuid4()), decided(c, "violation", [voted(u)], report_type="im_message"), None)
              for c in cases]
    for e in events:  # one case after the other: vote at decision, bonus at finality
        wait_handled(svc, produce_many(bus, [e]))
    rows = [g for c in cases for g in grants_of(svc, c).values()]
    # 10+5, 10+5, then 2 of the third vote (partial) and 0 of its bonus: 32 = the cap.
    assert sorted(p for _, p, _ in rows) == [0, 2, 5, 5, 10, 10]
    assert sorted(st for _, _, st in rows) == ["capped", "capped", "paid", "paid", "paid", "paid"]
    assert all(due > paid for due, paid, st in rows if st == "capped")
    assert balance(svc, u) == 32
    # Paid grants are announced (the partial with what was paid); the one paid 0 is not.
    mine = lambda evs: [e for e in evs if e.get("user_id") == u]  # noqa: E731
    evs = mine(granted.poll_until(lambda evs: len(mine(evs)) >= 5, timeout=20))
    assert sorted(e["amount"] for e in evs) == [2, 5, 5, 10, 10]
    # A decision of another UTC day counts against that day's cap.
    yesterday = (datetime.now(timezone.utc) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    case = new_case()
    ev = str(uuid.uuid4())
    # (its finalization too: the bonus counts against the day of the finalization)
    wait_handled(svc, produce_many(bus, [(ev, decided(case, "violation", [voted(u)], report_type="im_message"),
                                          yesterday)]))
    assert grants_of(svc, case) == {(u, "vote"): (10, 10, "paid"), (u, "majority_bonus"): (5, 5, "paid")}
    assert balance(svc, u) == 47


TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def produce_traced(bus, payload, traceparent=TRACEPARENT):
    """Produces one sg.case.decided and its sg.case.finalized (same verdict),
    each carrying a traceparent header; returns their event ids."""
    ids = []
    fin = finalized(payload["case_id"], payload["verdict"])
    for topic, body in (("sg.case.decided", payload), ("sg.case.finalized", fin)):
        event_id = str(uuid.uuid4())
        body = dict(body, event_id=event_id, occurred_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        bus.producer.produce(bus.prefix + topic, key=payload["case_id"].encode(),
                             value=json.dumps(body).encode(),
                             headers=[("event_id", event_id.encode()), ("event_type", topic.encode()),
                                      ("traceparent", traceparent.encode())])
        bus.producer.flush(30)
        ids.append(event_id)
    return ids


def put_rule(svc, report_type, vote, bonus, reporter, cap):
    r = svc.put(f"/v1/reward-rules/{report_type}", {"vote_reward": vote, "majority_bonus": bonus,
                                                      "reporter_reward": reporter, "daily_cap_per_user": cap},
                headers=OPS)
    assert r.status_code == 200, r.text
    # The tests date their events by this process's clock, and the service
    # pays by the rule in force at that time by the database's clock: wait
    # until this clock's second is no earlier than the rule's.
    sgtest.wait_for(lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) >= r.json()["created_at"],
                    timeout=10, what="this clock at the rule's second")


def test_one_case_several_grants_per_user_near_the_cap(svc, bus, granted):
    # All grants of a case are recorded together: a user's grants must still
    # consume the cap one after the other in the order vote, majority_bonus,
    # reporter, from what the user was paid earlier that day.
    put_rule(svc, "cap_batch", 10, 5, 20, 40)
    x, y, z = uid("x"), uid("y"), uid("z")
    before = [new_case(), new_case()]
    events = [(str(uuid.uuid4()), decided(before[0], "violation", [voted(x)], [z], report_type="cap_batch"), None),
              (str(uuid.uuid4()), decided(before[1], "violation", [], [z], report_type="cap_batch"), None)]
    wait_handled(svc, produce_many(bus, events))
    assert (balance(svc, x), balance(svc, z)) == (15, 40)

    case = new_case()
    ev = produce_traced(bus, decided(case, "violation", [voted(x), voted(z), voted(y, "no_violation", False)],
                                     [x, y], report_type="cap_batch"))
    wait_handled(svc, ev)
    # x: 15 paid today, cap 40 -> vote 10 (25) at decision, bonus 5 (30) and
    # reporter 10 of 20 (40) at finality.
    # y: fresh -> in full. z: at the cap -> recorded as capped, paid nothing.
    assert grants_of(svc, case) == {
        (x, "vote"): (10, 10, "paid"), (x, "majority_bonus"): (5, 5, "paid"), (x, "reporter"): (20, 10, "capped"),
        (y, "vote"): (10, 10, "paid"), (y, "reporter"): (20, 20, "paid"),
        (z, "vote"): (10, 0, "capped"), (z, "majority_bonus"): (5, 0, "capped")}
    assert (balance(svc, x), balance(svc, y), balance(svc, z)) == (40, 30, 40)
    with svc.db() as c:
        assert c.execute("SELECT count(*) FROM journal_tx WHERE case_id = %s", (case,)).fetchone()[0] == 5
        assert c.execute("SELECT count(*) FROM grants WHERE case_id = %s AND user_id = %s AND tx_id IS NULL",
                         (case, z)).fetchone()[0] == 2, "a grant paid 0 has no posting"
        # The user's entries are written in grant order (the ledger's history order).
        assert [r[0] for r in c.execute(
            "SELECT t.grant_kind FROM ledger_entries e JOIN journal_tx t ON t.id = e.tx_id "
            "WHERE t.case_id = %s AND e.account_id = %s ORDER BY e.seq", (case, x))] == \
            ["vote", "majority_bonus", "reporter"]
        want_entries = {(u, k): str(e) for u, k, e in c.execute(
            "SELECT g.user_id, g.kind, e.id FROM grants g JOIN ledger_entries e "
            "ON e.tx_id = g.tx_id AND e.account_id = g.user_id WHERE g.case_id = %s", (case,))}
        assert dict(c.execute("SELECT user_id, paid FROM daily_paid WHERE user_id = ANY(%s)",
                              ([x, y, z],)).fetchall()) == {x: 40, y: 30, z: 40}

    mine = lambda evs: [e for e in evs if e.get("case_id") == case]  # noqa: E731
    mine(granted.poll_until(lambda evs: len(mine(evs)) >= 5, timeout=30))
    drain(granted, 1.5)  # an announcement of z's unpaid grants would have come with the others
    evs = mine(granted.seen)
    assert sorted((e["user_id"], e["kind"], e["amount"]) for e in evs) == sorted(
        [(x, "vote", 10), (x, "majority_bonus", 5), (x, "reporter", 10), (y, "vote", 10), (y, "reporter", 20)])
    assert [e["kind"] for e in evs if e["user_id"] == x] == ["vote", "majority_bonus", "reporter"], \
        "one user's announcements in grant order"
    for e in evs:
        assert set(e) - {"_topic", "_key", "_headers"} == {"user_id", "amount", "kind", "case_id", "entry_id",
                                                            "event_id", "occurred_at"}, e
        assert e["_key"] == e["user_id"]
        assert e["_headers"]["event_type"] == "sg.reward.granted"
        assert e["_headers"].get("traceparent") == TRACEPARENT, "the decision's trace carries over"
        assert e["entry_id"] == want_entries[(e["user_id"], e["kind"])]


def test_redecided_case_grants_only_what_is_new(svc, bus, granted):
    # A case decided again before it is final (ops re-judge it) replaces what
    # is pending; vote grants that exist are skipped — no posting, no
    # announcement, and they do not use up the cap again — and finality pays
    # by the final verdict once.
    put_rule(svc, "redecide", 10, 5, 20, 12)
    a, b, r = uid("a"), uid("b"), uid("r")
    case = new_case()
    first = bus.produce("sg.case.decided", case, decided(
        case, "violation", [voted(a, "violation", True), voted(b, "no_violation", False)], [r],
        report_type="redecide"))
    wait_handled(svc, first)
    assert grants_of(svc, case) == {(a, "vote"): (10, 10, "paid"), (b, "vote"): (10, 10, "paid")}
    assert (pending(svc, a), pending(svc, b), pending(svc, r)) == (5, 0, 20)
    again = decided(case, "no_violation", [voted(a, "violation", False), voted(b, "no_violation", True)], [r],
                    report_type="redecide")
    second = bus.produce("sg.case.decided", case, again)
    wait_handled(svc, second)
    assert grants_of(svc, case) == {(a, "vote"): (10, 10, "paid"), (b, "vote"): (10, 10, "paid")}
    assert (pending(svc, a), pending(svc, b), pending(svc, r)) == (0, 5, 0), "pending follows the new decision"
    wait_handled(svc, bus.produce("sg.case.finalized", case, finalized(case, "no_violation")))
    # Cap 12: b's bonus gets the 2 coins b has left (b's vote is not counted twice).
    want = {(a, "vote"): (10, 10, "paid"), (b, "vote"): (10, 10, "paid"), (b, "majority_bonus"): (5, 2, "capped")}
    assert grants_of(svc, case) == want
    # The decision redelivered, under its event id and a new one, and the
    # finalization again: nothing more.
    third = str(uuid.uuid4())
    wait_handled(svc, produce_many(bus, [(second, again, None), (third, again, None)]))
    assert grants_of(svc, case) == want
    assert (balance(svc, a), balance(svc, b), balance(svc, r)) == (10, 12, 0)
    assert (pending(svc, a), pending(svc, b), pending(svc, r)) == (0, 0, 0)
    with svc.db() as c:
        assert c.execute("SELECT count(*) FROM journal_tx WHERE case_id = %s", (case,)).fetchone()[0] == 3
    mine = lambda evs: [e for e in evs if e.get("case_id") == case]  # noqa: E731
    granted.poll_until(lambda evs: len(mine(evs)) >= 3, timeout=30)
    drain(granted, 1.5)
    assert sorted((e["user_id"], e["kind"], e["amount"]) for e in mine(granted.seen)) == sorted(
        [(a, "vote", 10), (b, "vote", 10), (b, "majority_bonus", 2)])


def test_reporters_rewarded_once_per_reported_case_across_its_appeal(svc, bus, granted):
    # Confirmed on appeal: the appeal panel is paid, the reporters once.
    put_rule(svc, "appealed", 10, 5, 20, 1000)
    r1, r2, j1, j2, a1, a2 = (uid(p) for p in ("r1", "r2", "j1", "j2", "a1", "a2"))
    case, appeal = new_case(), new_case()
    wait_handled(svc, bus.produce("sg.case.decided", case, decided(
        case, "violation", [voted(j1), voted(j2)], [r1, r2], report_type="appealed")))
    wait_handled(svc, bus.produce("sg.case.decided", appeal, decided(
        appeal, "violation", [voted(a1), voted(a2, "no_violation", False)], [r1, r2], report_type="appealed",
        decided_by="appeal", appeal_of=case)))
    wait_handled(svc, bus.produce("sg.case.finalized", appeal, finalized(appeal, "violation", "appeal")),
                 bus.produce("sg.case.finalized", case, finalized(case, "violation", "appeal", appeal)))
    assert grants_of(svc, appeal) == {(a1, "vote"): (10, 10, "paid"), (a1, "majority_bonus"): (5, 5, "paid"),
                                      (a2, "vote"): (10, 10, "paid")}
    assert {k: v for k, v in grants_of(svc, case).items() if k[1] == "reporter"} == \
        {(r1, "reporter"): (20, 20, "paid"), (r2, "reporter"): (20, 20, "paid")}
    assert (balance(svc, r1), balance(svc, r2)) == (20, 20)

    # Found on appeal after a no_violation: the reporters are paid once, under
    # the reported case.
    case, appeal = new_case(), new_case()
    r3 = uid("r3")
    wait_handled(svc, bus.produce("sg.case.decided", case, decided(
        case, "no_violation", [voted(j1, "no_violation")], [r3], report_type="appealed")))
    assert balance(svc, r3) == 0 and pending(svc, r3) == 0
    again = decided(appeal, "violation", [voted(a1)], [r3], report_type="appealed", decided_by="appeal",
                    appeal_of=case)
    wait_handled(svc, bus.produce("sg.case.decided", appeal, again))
    assert pending(svc, r3) == 20, "held under the reported case until final"
    fin_case = finalized(case, "violation", "appeal", appeal)
    fin_appeal = finalized(appeal, "violation", "appeal")
    wait_handled(svc, bus.produce("sg.case.finalized", appeal, fin_appeal),
                 bus.produce("sg.case.finalized", case, fin_case))
    assert grants_of(svc, case)[(r3, "reporter")] == (20, 20, "paid")
    assert set(grants_of(svc, appeal)) == {(a1, "vote"), (a1, "majority_bonus")}
    # Redelivered under new event ids: nothing more.
    wait_handled(svc, bus.produce("sg.case.decided", appeal, again),
                 bus.produce("sg.case.finalized", appeal, fin_appeal),
                 bus.produce("sg.case.finalized", case, fin_case))
    assert balance(svc, r3) == 20 and pending(svc, r3) == 0
    mine = lambda evs: [e for e in evs if e.get("user_id") == r3]  # noqa: E731
    granted.poll_until(lambda evs: len(mine(evs)) >= 1, timeout=30)
    drain(granted, 1.0)
    assert [(e["case_id"], e["kind"], e["amount"]) for e in mine(granted.seen)] == [(case, "reporter", 20)]

    # A reporter grant that an earlier release keyed by the appeal is found
    # there: the appeal decision redelivered and the finalizations now pay
    # nothing more.
    case, appeal, r4 = new_case(), new_case(), uid("r4")
    with svc.db() as c:
        c.execute("INSERT INTO grants (case_id, user_id, kind, report_type, rule_type, rule_version, day, "
                  "amount_due, amount_paid, status) VALUES (%s, %s, 'reporter', 'appealed', 'appealed', 1, "
                  "current_date, 20, 0, 'capped')", (appeal, r4))
    wait_handled(svc, bus.produce("sg.case.decided", appeal, decided(
        appeal, "violation", [voted(a2)], [r4], report_type="appealed", decided_by="appeal", appeal_of=case)))
    wait_handled(svc, bus.produce("sg.case.finalized", appeal, finalized(appeal, "violation", "appeal")),
                 bus.produce("sg.case.finalized", case, finalized(case, "violation", "appeal", appeal)))
    assert (r4, "reporter") not in grants_of(svc, case) and balance(svc, r4) == 0


def test_grant_waits_out_a_concurrent_update_of_its_platform_shard(svc, bus):
    # Another transaction updates the case's platform shard row and commits
    # while the grant waits for it: the grant then posts against the new row
    # version at the first attempt (sql/reward/006), no failed attempt logged.
    case, a = new_case(), uid("a")
    with svc.db() as c:
        shard = c.execute("SELECT " + SHARD_ACCOUNT.replace("%", "%%").replace("t.case_id", "%s::text"),
                          (case, case)).fetchone()[0]
    with open(svc.logpath, "rb") as f:
        log_start = len(f.read())
    holder = psycopg.connect(sgtest.PG_DSN)
    try:
        holder.execute(f'SET search_path TO "{svc.schema}"')
        holder.execute("UPDATE accounts SET updated_at = now() WHERE user_id = %s", (shard,))
        ev = bus.produce("sg.case.decided", case, decided(case, "violation", [voted(a)]))

        def waiting():
            with svc.db() as c:
                return c.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                 "AND query LIKE 'SELECT grant_batch(%%'").fetchone()[0] > 0
        sgtest.wait_for(waiting, timeout=30, what="the grant waiting for the platform shard row")
        holder.commit()
    finally:
        holder.close()
    wait_handled(svc, ev)
    assert grants_of(svc, case) == {(a, "vote"): (10, 10, "paid")}
    with open(svc.logpath, "rb") as f:
        log = f.read()[log_start:].decode(errors="replace")
    assert "grant_batch:" not in log, "a grant attempt failed: " + log[-2000:]


def test_concurrent_cases_of_the_same_users_stop_exactly_at_the_cap(svc, bus):
    # 30 cases of the same five voters handled in parallel: per user, the
    # payments add up to the cap exactly, with at most one partial payment.
    put_rule(svc, "race", 10, 5, 0, 97)
    users = [uid("race") for _ in range(5)]
    events = []
    for _ in range(30):
        case = new_case()
        events.append((str(uuid.uuid4()), decided(case, "violation", [voted(u) for u in users],
                                                  report_type="race"), None))
    wait_handled(svc, produce_many(bus, events), timeout=60)
    cases = [e[1]["case_id"] for e in events]
    with svc.db() as c:
        rows = c.execute("SELECT user_id, amount_due, amount_paid FROM grants WHERE case_id = ANY(%s)",
                         (cases,)).fetchall()
    assert len(rows) == 30 * 5 * 2
    for u in users:
        mine = [(due, paid) for uu, due, paid in rows if uu == u]
        assert sum(p for _, p in mine) == 97, u
        assert len([1 for due, paid in mine if 0 < paid < due]) <= 1, f"{u}: more than one partial payment"
        assert balance(svc, u) == 97


def test_large_case_in_one_call(svc, bus, granted):
    # A big panel and many reporters, some both: every grant once, every
    # payment posted and announced.
    put_rule(svc, "large", 3, 2, 7, 1000000)
    voters = [uid("lv") for _ in range(120)]
    reporters = voters[:40] + [uid("lr") for _ in range(60)]
    ballots = [voted(v, "violation", True) if i % 3 else voted(v, "no_violation", False)
               for i, v in enumerate(voters)] + [not_voted(uid("lx"), "expired") for _ in range(10)]
    case = new_case()
    ev = decide_final(bus, case, decided(case, "violation", ballots, reporters, report_type="large"))
    wait_handled(svc, ev)
    want = {}
    for i, v in enumerate(voters):
        want[(v, "vote")] = (3, 3, "paid")
        if i % 3:
            want[(v, "majority_bonus")] = (2, 2, "paid")
    for rep in reporters:
        want[(rep, "reporter")] = (7, 7, "paid")
    assert grants_of(svc, case) == want
    with svc.db() as c:
        assert c.execute("SELECT count(*) FROM journal_tx WHERE case_id = %s", (case,)).fetchone()[0] == len(want)
    assert balance(svc, voters[1]) == 3 + 2 + 7 and balance(svc, voters[0]) == 3 + 7
    mine = lambda evs: [e for e in evs if e.get("case_id") == case]  # noqa: E731
    evs = mine(granted.poll_until(lambda evs: len(mine(evs)) >= len(want), timeout=60))
    assert sorted((e["user_id"], e["kind"]) for e in evs) == sorted(want)


def test_user_ids_with_quotes_and_commas(svc, bus):
    case = new_case()
    odd = ['we"ird-' + uuid.uuid4().hex[:6], 'back\\slash,{x}-' + uuid.uuid4().hex[:6], "NULL"]
    ev = decide_final(bus, case, decided(case, "violation", [voted(u) for u in odd]))
    wait_handled(svc, ev)
    assert set(grants_of(svc, case)) == {(u, k) for u in odd for k in ("vote", "majority_bonus")}
    for u in odd:
        r = svc.get("/v1/accounts/" + requests.utils.quote(u, safe=""), headers=OPS)
        assert r.status_code == 200 and r.json() == {"user_id": u, "balance": 15, "pending": 0}, r.text


def test_invalid_event_is_dropped_and_does_not_block(svc, bus):
    case = new_case()
    bad = bus.produce("sg.case.decided", case, {"case_id": case, "report_type": "comment", "verdict": "guilty"})
    good_case = new_case()
    a = uid("a")
    good = decide_final(bus, good_case, decided(good_case, "violation", [voted(a)]))
    wait_handled(svc, bad, good)
    assert grants_of(svc, case) == {}
    assert balance(svc, a) == 15


def bulk_decisions(svc, report_type, pool, n, stride, reporter):
    """n decisions under a rule of report_type (vote 3, bonus 2, reporter 7,
    no cap), each with five jurors of pool from position stride * i: three
    with the majority, one against, one expired, and reporter(i). Returns
    the events for produce_many and the grants they owe, {(case, user,
    kind): coins}."""
    r = svc.put(f"/v1/reward-rules/{report_type}", {"vote_reward": 3, "majority_bonus": 2, "reporter_reward": 7,
                                                    "daily_cap_per_user": 1000000000}, headers=OPS)
    assert r.status_code == 200, r.text
    events, expected = [], {}
    for i in range(n):
        case = new_case()
        panel = [pool[(stride * i + k) % len(pool)] for k in range(5)]
        rep = reporter(i)
        ballots = [voted(panel[0]), voted(panel[1]), voted(panel[2]), voted(panel[3], "no_violation", False),
                   not_voted(panel[4], "expired")]
        events.append((str(uuid.uuid4()), decided(case, "violation", ballots, [rep], report_type=report_type), None))
        for u in panel[:3]:
            expected[(case, u, "vote")] = 3
            expected[(case, u, "majority_bonus")] = 2
        expected[(case, panel[3], "vote")] = 3
        expected[(case, rep, "reporter")] = 7
    return events, expected


def assert_paid_once(svc, cases, pool, expected):
    """Every grant of cases is there once, paid, and the pool's balances are
    what the grants owe them."""
    with svc.db() as c:
        rows = c.execute("SELECT case_id, user_id, kind, amount_paid, status FROM grants WHERE case_id = ANY(%s)",
                         (cases,)).fetchall()
        per_user = dict(c.execute("SELECT user_id, balance FROM accounts WHERE user_id = ANY(%s)",
                                  (pool,)).fetchall())
    assert {(c, u, k): p for c, u, k, p, _ in rows} == expected
    assert all(st == "paid" for *_, st in rows)
    want = {u: 0 for u in pool}
    for (_, u, _), amount in expected.items():
        if u in want:
            want[u] += amount
    assert per_user == want


def test_sigkill_mid_batch_grants_exactly_once(svc, bus, granted):
    pool = [uid("bulk") for _ in range(25)]
    events, expected = bulk_decisions(svc, "bulk", pool, 300, 1, lambda i: f"bulkrep-{i}")
    cases = [e[1]["case_id"] for e in events]

    def grant_count():
        with svc.db() as c:
            return c.execute("SELECT count(*) FROM grants WHERE case_id = ANY(%s)", (cases,)).fetchone()[0]

    ids = produce_many(bus, events)
    sgtest.wait_for(lambda: grant_count() > 0, timeout=30, interval=0.02, what="consuming started")
    assert svc.kill9() == -9
    at_kill = grant_count()
    assert 0 < at_kill < len(expected), f"not killed mid-batch ({at_kill} of {len(expected)})"
    # Redeliver part of the batch under the same and under new event ids while it is down.
    again = [(str(uuid.uuid4()), p, None) for _, p, _ in events[:20]]
    ids += produce_many(bus, events[:20] + again)
    svc.start()
    wait_handled(svc, ids, timeout=90)
    sgtest.wait_for(lambda: grant_count() == len(expected), timeout=30, what="all grants")
    assert_paid_once(svc, cases, pool, expected)
    # Every paid grant is announced; a crash may re-send an announcement but never loses one.
    mine = lambda evs: {e["entry_id"] for e in evs if e.get("case_id") in case_set}  # noqa: E731
    case_set = set(cases)
    granted.poll_until(lambda evs: len(mine(evs)) >= len(expected), timeout=60)
    with svc.db() as c:
        entry_ids = {str(r[0]) for r in c.execute(
            "SELECT e.id FROM grants g JOIN ledger_entries e ON e.tx_id = g.tx_id AND e.account_id = g.user_id "
            "WHERE g.case_id = ANY(%s)", (cases,))}
    assert mine(granted.seen) == entry_ids


def test_burst_of_decisions_and_finalizations_pays_exactly_once(svc, bus, granted):
    # 200 decisions of 30 overlapping jurors, each followed by its
    # finalization (the other consumer, which locks the same accounts and
    # platform shards), handled by the parallel consumers of both topics:
    # every grant is paid once and every balance adds up (ledger_consistent).
    pool = [uid("burst") for _ in range(30)]
    events, expected = bulk_decisions(svc, "burst", pool, 200, 7,
                                      lambda i: pool[(7 * i + 11) % len(pool)] if i % 2 else f"burstrep-{i}")
    cases = [e[1]["case_id"] for e in events]
    wait_handled(svc, produce_many(bus, events), timeout=120)
    assert_paid_once(svc, cases, pool, expected)


def test_metrics_report_coins_granted(svc):
    with svc.db() as c:
        total = c.execute("SELECT coalesce(sum(amount_paid), 0) FROM grants").fetchone()[0]
        capped = c.execute("SELECT count(*) FROM grants WHERE status = 'capped'").fetchone()[0]
    text = sgtest.metrics_when(svc, lambda t: f"sg_reward_coins_granted_total {total}\n" in t)
    values = {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines()
              if line.startswith("sg_reward_")}
    assert values["sg_reward_coins_granted_total"] == total > 0
    assert values['sg_reward_grants_total{outcome="capped"}'] == capped
    assert values["sg_reward_coins_in_circulation"] == total
    assert values["sg_reward_redemptions_total"] == 0
