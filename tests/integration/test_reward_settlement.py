"""Reward service: settlement at finality (API.md "Reward service", v2).

Events are produced to Kafka directly (the contract, not the report side):
sg.case.decided credits the vote rewards and holds the majority bonus and the
reporter rewards as pending; sg.case.finalized pays them by the final
verdict. Also: the rule in force when the case opened, either order of the
two events, duplicates, and the database constraint that keeps a reporter
from being paid twice for one reported case. After every test the ledger
must be consistent.
"""
import time
import uuid
from datetime import datetime, timezone

import psycopg
import pytest

import sgtest

OPS = sgtest.ops_auth()


# ---- helpers (each reward test module carries its own copy) ---------------

def decided(case_id, verdict="violation", ballots=(), reporters=(), report_type="settle", decided_by="panel",
            appeal_of=None, opened_at=None):
    p = {"case_id": case_id, "report_type": report_type, "target_id": "t:" + case_id,
         "target_owner_id": "owner-" + case_id[:8], "verdict": verdict, "decided_by": decided_by,
         "reporter_ids": list(reporters), "ballots": list(ballots), "appeal_of": appeal_of}
    if opened_at:
        p["opened_at"] = opened_at
    return p


def finalized(case_id, final_verdict, finalized_by="window", appeal_case_id=None, **extra):
    return dict({"case_id": case_id, "final_verdict": final_verdict, "finalized_by": finalized_by,
                 "appeal_case_id": appeal_case_id}, **extra)


def voted(rid, decision="violation", with_majority=True):
    return {"reviewer_id": rid, "outcome": "voted", "decision": decision, "with_majority": with_majority}


def not_voted(rid, outcome="expired"):
    return {"reviewer_id": rid, "outcome": outcome, "decision": None, "with_majority": None}


def wait_handled(svc, *event_ids, timeout=30):
    def done():
        with svc.db() as c:
            return c.execute("SELECT count(*) FROM inbox WHERE event_id = ANY(%s::uuid[])",
                             (list(event_ids),)).fetchone()[0] == len(set(event_ids))
    sgtest.wait_for(done, timeout=timeout, what=f"events {event_ids[:3]} handled")


def account(svc, user):
    r = svc.get(f"/v1/accounts/{user}", headers=OPS)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"user_id", "balance", "pending"} and body["user_id"] == user, body
    return body["balance"], body["pending"]


def grants_of(svc, case_id):
    with svc.db() as c:
        return {(u, k): paid for u, k, paid in c.execute(
            "SELECT user_id, kind, amount_paid FROM grants WHERE case_id = %s", (case_id,))}


def put_rule(svc, report_type, vote, bonus, reporter, cap=100000):
    r = svc.put(f"/v1/reward-rules/{report_type}", {"vote_reward": vote, "majority_bonus": bonus,
                                                      "reporter_reward": reporter, "daily_cap_per_user": cap},
                headers=OPS)
    assert r.status_code == 200, r.text
    return r.json()["version"]


def assert_ledger_consistent(svc):
    with svc.db() as c:
        q = lambda sql: c.execute(sql).fetchall()  # noqa: E731
        assert q("""SELECT a.user_id FROM accounts a
                    LEFT JOIN (SELECT account_id, sum(amount) AS total FROM ledger_entries GROUP BY account_id) e
                      ON e.account_id = a.user_id
                    WHERE a.balance <> coalesce(e.total, 0)""") == [], "balance != sum of ledger entries"
        assert q("SELECT coalesce(sum(amount), 0) FROM ledger_entries")[0][0] == 0, "journal does not sum to 0"
        assert q("SELECT user_id FROM accounts WHERE kind = 'user' AND balance < 0") == [], "negative balance"
        assert q("""SELECT g.id FROM grants g LEFT JOIN ledger_entries e ON e.tx_id = g.tx_id
                      AND e.account_id = g.user_id
                    WHERE g.amount_paid > 0 AND e.amount IS DISTINCT FROM g.amount_paid""") == [], "grant postings"
        assert q("""SELECT p.case_id FROM pending_grants p JOIN grants g USING (case_id, user_id, kind)""") == [], \
            "a grant both pending and paid"
        assert q("""SELECT reported_case_id, user_id FROM grants WHERE kind = 'reporter'
                    GROUP BY 1, 2 HAVING count(*) > 1""") == [], "a reporter paid twice for one reported case"


@pytest.fixture(scope="module")
def svc():
    with sgtest.running("reward") as s:
        yield s


@pytest.fixture(scope="module")
def bus(svc):
    return sgtest.Bus(svc.prefix)


@pytest.fixture(scope="module", autouse=True)
def rule(svc):
    put_rule(svc, "settle", 10, 5, 20)


@pytest.fixture(autouse=True)
def ledger_consistent(svc):
    yield
    assert_ledger_consistent(svc)


def new_case():
    return str(uuid.uuid4())


def uid(prefix="u"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- tests ----------------------------------------------------------------

def test_pending_until_finalized_then_credited(svc, bus):
    case = new_case()
    j1, j2, j3, rep = uid("j1"), uid("j2"), uid("j3"), uid("rep")
    wait_handled(svc, bus.produce("sg.case.decided", case, decided(
        case, "violation", [voted(j1), voted(j2), voted(j3, "no_violation", False)], [rep])))
    # The vote is credited; the bonus and the reporter reward are pending.
    assert account(svc, j1) == (10, 5) and account(svc, j2) == (10, 5)
    assert account(svc, j3) == (10, 0) and account(svc, rep) == (0, 20)
    assert grants_of(svc, case) == {(j1, "vote"): 10, (j2, "vote"): 10, (j3, "vote"): 10}
    with svc.db() as c:
        # Pending coins are no ledger entries.
        assert c.execute("SELECT count(*) FROM ledger_entries WHERE account_id = %s", (rep,)).fetchone()[0] == 0
    r = svc.get(f"/v1/accounts/{rep}/ledger", headers=OPS)
    assert r.status_code == 200 and r.json()["items"] == []
    wait_handled(svc, bus.produce("sg.case.finalized", case, finalized(case, "violation")))
    assert account(svc, j1) == (15, 0) and account(svc, j2) == (15, 0)
    assert account(svc, j3) == (10, 0) and account(svc, rep) == (20, 0)
    assert grants_of(svc, case) == {(j1, "vote"): 10, (j2, "vote"): 10, (j3, "vote"): 10,
                                    (j1, "majority_bonus"): 5, (j2, "majority_bonus"): 5, (rep, "reporter"): 20}


def test_pending_coins_are_not_spendable(svc, bus):
    case, j = new_case(), uid("j")
    wait_handled(svc, bus.produce("sg.case.decided", case, decided(case, "violation", [voted(j)])))
    assert account(svc, j) == (10, 5)
    r = svc.post("/v1/catalog/items", {"name": "Mug", "cost": 15, "stock": 5, "active": True}, headers=OPS)
    assert r.status_code == 201, r.text
    item = r.json()["item_id"]
    headers = dict(sgtest.user_auth(j), **{"Idempotency-Key": str(uuid.uuid4())})
    red = svc.post("/v1/redemptions", {"item_id": item, "quantity": 1}, headers=headers)
    assert red.status_code == 409, "10 credited + 5 pending do not buy a 15-coin item"
    wait_handled(svc, bus.produce("sg.case.finalized", case, finalized(case, "violation")))
    headers["Idempotency-Key"] = str(uuid.uuid4())
    red = svc.post("/v1/redemptions", {"item_id": item, "quantity": 1}, headers=headers)
    assert red.status_code == 201, red.text
    assert account(svc, j) == (0, 0)


def test_overturned_violation_pays_reporters_nothing_and_moves_the_bonus(svc, bus):
    # First verdict violation (j1, j2 for it, j3 against, j4 did not vote);
    # the appeal finds no violation: the bonus goes to j3, the original juror
    # who voted with the final verdict; reporters get nothing.
    case, appeal = new_case(), new_case()
    j1, j2, j3, j4, r1, r2 = (uid(p) for p in ("j1", "j2", "j3", "j4", "r1", "r2"))
    a1, a2, a3 = (uid(p) for p in ("a1", "a2", "a3"))
    wait_handled(svc, bus.produce("sg.case.decided", case, decided(
        case, "violation", [voted(j1), voted(j2), voted(j3, "no_violation", False), not_voted(j4)], [r1, r2])))
    assert account(svc, r1) == (0, 20) and account(svc, j3) == (10, 0)
    wait_handled(svc, bus.produce("sg.case.decided", appeal, decided(
        appeal, "no_violation", [voted(a1, "no_violation"), voted(a2, "no_violation"),
                                 voted(a3, "violation", False)], [r1, r2], decided_by="appeal", appeal_of=case)))
    wait_handled(svc, bus.produce("sg.case.finalized", case, finalized(case, "no_violation", "appeal", appeal)),
                 bus.produce("sg.case.finalized", appeal, finalized(appeal, "no_violation", "appeal")))
    assert grants_of(svc, case) == {(j1, "vote"): 10, (j2, "vote"): 10, (j3, "vote"): 10,
                                    (j3, "majority_bonus"): 5}
    assert grants_of(svc, appeal) == {(a1, "vote"): 10, (a2, "vote"): 10, (a3, "vote"): 10,
                                      (a1, "majority_bonus"): 5, (a2, "majority_bonus"): 5}
    assert [account(svc, u) for u in (j1, j2, j3, j4)] == [(10, 0), (10, 0), (15, 0), (0, 0)]
    assert [account(svc, u) for u in (r1, r2)] == [(0, 0), (0, 0)], "no reporter reward, nothing left pending"


def test_overturned_no_violation_pays_reporters_once_and_the_minority_bonus(svc, bus):
    case, appeal = new_case(), new_case()
    j1, j2, rep, a1 = uid("j1"), uid("j2"), uid("rep"), uid("a1")
    wait_handled(svc, bus.produce("sg.case.decided", case, decided(
        case, "no_violation", [voted(j1, "no_violation"), voted(j2, "violation", False)], [rep])))
    assert account(svc, rep) == (0, 0) and account(svc, j1) == (10, 5)
    wait_handled(svc, bus.produce("sg.case.decided", appeal, decided(
        appeal, "violation", [voted(a1)], [rep], decided_by="appeal", appeal_of=case)))
    wait_handled(svc, bus.produce("sg.case.finalized", appeal, finalized(appeal, "violation", "appeal")),
                 bus.produce("sg.case.finalized", case, finalized(case, "violation", "appeal", appeal)))
    assert grants_of(svc, case) == {(j1, "vote"): 10, (j2, "vote"): 10, (j2, "majority_bonus"): 5,
                                    (rep, "reporter"): 20}
    assert grants_of(svc, appeal) == {(a1, "vote"): 10, (a1, "majority_bonus"): 5}
    assert [account(svc, u) for u in (j1, j2, rep, a1)] == [(10, 0), (15, 0), (20, 0), (15, 0)]


def test_confirmed_violation_pays_reporters_once(svc, bus):
    case, appeal = new_case(), new_case()
    j1, r1, r2, a1 = uid("j1"), uid("r1"), uid("r2"), uid("a1")
    wait_handled(svc, bus.produce("sg.case.decided", case, decided(case, "violation", [voted(j1)], [r1, r2])))
    wait_handled(svc, bus.produce("sg.case.decided", appeal, decided(
        appeal, "violation", [voted(a1)], [r1, r2], decided_by="appeal", appeal_of=case)))
    assert account(svc, r1) == (0, 20), "pending once, not once per case"
    evs = [bus.produce("sg.case.finalized", appeal, finalized(appeal, "violation", "appeal")),
           bus.produce("sg.case.finalized", case, finalized(case, "violation", "appeal", appeal))]
    wait_handled(svc, *evs)
    assert account(svc, r1) == (20, 0) and account(svc, r2) == (20, 0)
    with svc.db() as c:
        rows = c.execute("SELECT case_id, reported_case_id FROM grants WHERE user_id = ANY(%s) AND kind = 'reporter'",
                         ([r1, r2],)).fetchall()
    assert rows == [(case, case), (case, case)]
    assert account(svc, j1) == (15, 0) and account(svc, a1) == (15, 0)


def test_finalized_before_decided(svc, bus):
    case, j1, j2, rep = new_case(), uid("j1"), uid("j2"), uid("rep")
    fin = bus.produce("sg.case.finalized", case, finalized(case, "violation"))
    wait_handled(svc, fin)
    assert grants_of(svc, case) == {}, "held until the decision is known"
    dec = bus.produce("sg.case.decided", case, decided(
        case, "violation", [voted(j1), voted(j2, "no_violation", False)], [rep]))
    wait_handled(svc, dec)
    assert grants_of(svc, case) == {(j1, "vote"): 10, (j1, "majority_bonus"): 5, (j2, "vote"): 10,
                                    (rep, "reporter"): 20}
    assert [account(svc, u) for u in (j1, j2, rep)] == [(15, 0), (10, 0), (20, 0)]
    # An appeal overturned, its finalization (with the original's) first.
    case, appeal = new_case(), new_case()
    k1, k2, rep2, a1 = uid("k1"), uid("k2"), uid("rep"), uid("a1")
    wait_handled(svc, bus.produce("sg.case.finalized", case, finalized(case, "no_violation", "appeal", appeal)),
                 bus.produce("sg.case.finalized", appeal, finalized(appeal, "no_violation", "appeal")))
    wait_handled(svc, bus.produce("sg.case.decided", case, decided(
        case, "violation", [voted(k1), voted(k2, "no_violation", False)], [rep2])))
    wait_handled(svc, bus.produce("sg.case.decided", appeal, decided(
        appeal, "no_violation", [voted(a1, "no_violation")], [rep2], decided_by="appeal", appeal_of=case)))
    assert grants_of(svc, case) == {(k1, "vote"): 10, (k2, "vote"): 10, (k2, "majority_bonus"): 5}
    assert grants_of(svc, appeal) == {(a1, "vote"): 10, (a1, "majority_bonus"): 5}
    assert [account(svc, u) for u in (k1, k2, rep2, a1)] == [(10, 0), (15, 0), (0, 0), (15, 0)]


def test_duplicate_events_pay_once(svc, bus):
    case, j1, j2, rep = new_case(), uid("j1"), uid("j2"), uid("rep")
    dec = decided(case, "violation", [voted(j1), voted(j2, "no_violation", False)], [rep])
    fin = finalized(case, "violation")
    same_dec, same_fin = str(uuid.uuid4()), str(uuid.uuid4())
    ids = []
    # Each event three times under one id and twice under new ids, interleaved.
    for i in range(5):
        ids.append(bus.produce("sg.case.finalized", case, fin, event_id=same_fin if i < 3 else None))
        ids.append(bus.produce("sg.case.decided", case, dec, event_id=same_dec if i < 3 else None))
    wait_handled(svc, *ids)
    want = {(j1, "vote"): 10, (j1, "majority_bonus"): 5, (j2, "vote"): 10, (rep, "reporter"): 20}
    assert grants_of(svc, case) == want
    assert [account(svc, u) for u in (j1, j2, rep)] == [(15, 0), (10, 0), (20, 0)]
    with svc.db() as c:
        assert c.execute("SELECT count(*) FROM journal_tx WHERE case_id = %s", (case,)).fetchone()[0] == 4
    # A later finalization with another verdict changes nothing: the first one wins.
    wait_handled(svc, bus.produce("sg.case.finalized", case, finalized(case, "no_violation", "ops")))
    assert grants_of(svc, case) == want


def test_rule_change_between_opening_and_decision_does_not_change_the_payout(svc, bus):
    rtype = "ruleopen" + uuid.uuid4().hex[:6]
    v1 = put_rule(svc, rtype, 10, 5, 20)
    time.sleep(1.1)
    opened = iso(datetime.now(timezone.utc))
    time.sleep(1.1)
    v2 = put_rule(svc, rtype, 100, 50, 200)
    assert (v1, v2) == (1, 2)
    case, j, rep = new_case(), uid("j"), uid("rep")
    wait_handled(svc, bus.produce("sg.case.decided", case, decided(case, "violation", [voted(j)], [rep],
                                                                   report_type=rtype, opened_at=opened)))
    assert account(svc, j) == (10, 5) and account(svc, rep) == (0, 20), "v1 was in force when the case opened"
    # A third version before finality changes nothing either: finality applies
    # the version recorded at decision.
    put_rule(svc, rtype, 1000, 500, 2000)
    wait_handled(svc, bus.produce("sg.case.finalized", case, finalized(case, "violation")))
    assert account(svc, j) == (15, 0) and account(svc, rep) == (20, 0)
    with svc.db() as c:
        assert set(c.execute("SELECT rule_type, rule_version FROM grants WHERE case_id = %s", (case,))) == \
            {(rtype, 1)}
    # Without opened_at (a v1 producer), the decision time picks the version.
    case2, j2 = new_case(), uid("j")
    wait_handled(svc, bus.produce("sg.case.decided", case2, decided(case2, "violation", [voted(j2)],
                                                                    report_type=rtype)))
    assert account(svc, j2) == (1000, 500)
    # A case opened before its type had a rule: the default rule in force then.
    rtype3 = "ruleopen" + uuid.uuid4().hex[:6]
    opened3 = iso(datetime.now(timezone.utc))
    time.sleep(1.1)
    put_rule(svc, rtype3, 7, 7, 7)
    case3, j3 = new_case(), uid("j")
    wait_handled(svc, bus.produce("sg.case.decided", case3, decided(
        case3, "violation", [voted(j3)], report_type=rtype3, opened_at=opened3)))
    with svc.db() as c:
        assert c.execute("SELECT rule_type FROM grants WHERE case_id = %s", (case3,)).fetchone()[0] == "default"


def test_audit_case_bonus_follows_the_expected_verdict(svc, bus):
    case, j1, j2 = new_case(), uid("j1"), uid("j2")
    wait_handled(svc, bus.produce("sg.case.decided", case, decided(
        case, "violation", [voted(j1), voted(j2, "no_violation", False)])))
    wait_handled(svc, bus.produce("sg.case.finalized", case, finalized(
        case, "violation", "window", audit=True, expected_verdict="no_violation")))
    assert grants_of(svc, case) == {(j1, "vote"): 10, (j2, "vote"): 10, (j2, "majority_bonus"): 5}


def test_invalid_finalization_is_dropped_and_does_not_block(svc, bus):
    case, j = new_case(), uid("j")
    wait_handled(svc, bus.produce("sg.case.decided", case, decided(case, "violation", [voted(j)])))
    bad = bus.produce("sg.case.finalized", case, {"case_id": case, "final_verdict": "guilty"})
    good = bus.produce("sg.case.finalized", case, finalized(case, "violation"))
    wait_handled(svc, bad, good)
    assert account(svc, j) == (15, 0)


# ---- the database constraint (issue 15 item 4) -----------------------------

def insert_reporter_grant(c, case_id, user):
    c.execute("INSERT INTO grants (case_id, user_id, kind, report_type, rule_type, rule_version, day, amount_due, "
              "amount_paid, status) VALUES (%s, %s, 'reporter', 'settle', 'settle', 1, current_date, 20, 0, "
              "'capped')", (case_id, user))


def test_database_refuses_a_second_reporter_grant_for_one_reported_case(svc, bus):
    # The reporter is paid under the reported case; then writers that bypass
    # the code's check try again under the appeal's id, as an old replica
    # keying an appeal's reporter grants by the appeal would.
    case, appeal, rep, a1 = new_case(), new_case(), uid("rep"), uid("a1")
    wait_handled(svc, bus.produce("sg.case.decided", case, decided(case, "violation", [], [rep])))
    wait_handled(svc, bus.produce("sg.case.decided", appeal, decided(
        appeal, "violation", [voted(a1)], [rep], decided_by="appeal", appeal_of=case)))
    wait_handled(svc, bus.produce("sg.case.finalized", case, finalized(case, "violation", "appeal", appeal)))
    assert grants_of(svc, case) == {(rep, "reporter"): 20}
    conn = psycopg.connect(sgtest.PG_DSN, autocommit=True)
    try:
        conn.execute(f'SET search_path TO "{svc.schema}"')
        # A plain INSERT under the appeal's id.
        with pytest.raises(psycopg.errors.UniqueViolation) as e:
            insert_reporter_grant(conn, appeal, rep)
        assert e.value.diag.constraint_name == "grants_reporter_once_per_reported_case"
        # A writer cannot dodge it by naming another reported case itself.
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute("INSERT INTO grants (case_id, user_id, kind, report_type, rule_type, rule_version, day, "
                         "amount_due, amount_paid, status, reported_case_id) VALUES (%s, %s, 'reporter', 'settle', "
                         "'settle', 1, current_date, 20, 0, 'capped', 'elsewhere')", (appeal, rep))
        # The previous release's call: grant_batch keyed by the appeal, paying 20.
        with pytest.raises(psycopg.errors.UniqueViolation) as e:
            conn.execute("SELECT grant_batch(%s, 'settle', 'settle', 1, current_date, %s, ARRAY[%s], "
                         "ARRAY['reporter'], ARRAY[20::bigint], ARRAY[20::bigint], 'sg.reward.granted', NULL, "
                         "'sg_outbox')", (appeal, str(uuid.uuid4()), rep))
        assert e.value.diag.constraint_name == "grants_reporter_once_per_reported_case"
        # Another reporter of the same appeal is not blocked, and the vote of
        # the same user under the appeal is another kind: both fine.
        other = uid("rep")
        insert_reporter_grant(conn, appeal, other)
        with pytest.raises(psycopg.errors.UniqueViolation):
            insert_reporter_grant(conn, case, other)
    finally:
        conn.close()
    assert account(svc, rep) == (20, 0)


def test_link_learnt_later_covers_a_grant_recorded_under_the_appeal_earlier(svc, bus):
    # An old replica paid a reporter under the appeal before this release
    # knew the appeal: once the appeal's decision is handled, the database
    # counts that grant for the reported case, and the reported case's
    # settlement pays nothing more.
    case, appeal, rep = new_case(), new_case(), uid("rep")
    with svc.db() as c:
        insert_reporter_grant(c, appeal, rep)
    wait_handled(svc, bus.produce("sg.case.decided", case, decided(case, "violation", [], [rep])))
    wait_handled(svc, bus.produce("sg.case.decided", appeal, decided(
        appeal, "violation", [], [rep], decided_by="appeal", appeal_of=case)))
    with svc.db() as c:
        assert c.execute("SELECT reported_case_id FROM grants WHERE case_id = %s AND user_id = %s",
                         (appeal, rep)).fetchone()[0] == case
        with pytest.raises(psycopg.errors.UniqueViolation):
            insert_reporter_grant(c, case, rep)
    wait_handled(svc, bus.produce("sg.case.finalized", case, finalized(case, "violation", "appeal", appeal)),
                 bus.produce("sg.case.finalized", appeal, finalized(appeal, "violation", "appeal")))
    assert grants_of(svc, case) == {}
    assert account(svc, rep) == (0, 0)
