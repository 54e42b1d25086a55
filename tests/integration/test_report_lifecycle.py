"""Report service: the life of a case against the real devstack. The test
plays the reviewer service: it reads sg.panel.requested and answers with
sg.panel.assigned on the service's topic prefix, then votes with the
reviewers' JWTs."""
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

import sgtest
from callback_receiver import CallbackReceiver, parse, signature_ok

TOPICS = ("sg.panel.requested", "sg.ballot.closed", "sg.case.decided", "sg.notification.requested")


@pytest.fixture(scope="module")
def svc():
    with sgtest.running("report", env={"SG_CALLBACK_MAX_BACKOFF_S": "2", "SG_CALLBACK_MAX_ATTEMPTS": "5",
                                       "SG_SHORTFALL_RETRY_BASE_S": "1"}) as s:
        yield s


@pytest.fixture(scope="module")
def bus(svc):
    with sgtest.reading(svc, TOPICS) as br:
        yield br


def uid(prefix="u"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class World:
    """The service, the bus and the test's reviewer-service role."""

    def __init__(self, svc, bus):
        self.svc = svc
        self.bus, self.reader = bus

    def rule(self, **over):
        report_type = "t_" + uuid.uuid4().hex[:10]
        body = {"panel_size": 3, "votes_to_decide": 2, "ballot_timeout_s": 3600, "reminder_before_s": 0,
                "max_substitute_rounds": 2, "case_deadline_s": 86400, "on_deadline": "decide_by_votes_cast",
                "reviewer_tags": [], "appeal_window_s": 3600, "appeal_panel_size": 5, "appeal_votes_to_decide": 3}
        body.update(over)
        r = self.svc.put(f"/v1/voting-rules/{report_type}", body, headers=sgtest.ops_auth())
        assert r.status_code == 200, r.text
        return report_type

    def report(self, report_type, target=None, owner=None, reporter=None, **extra):
        body = {"report_type": report_type, "target_id": target or uid("item"), "target_owner_id": owner or uid("own"),
                "reporter_id": reporter or uid("rep"), "reason": "abuse"}
        body.update(extra)
        r = self.svc.post("/v1/reports", body, headers=sgtest.client_auth())
        assert r.status_code == 201, r.text
        return dict(r.json(), **body)

    def events(self, topic, case_id=None, pred=lambda e: True):
        return [e for e in self.reader.of(topic) if (case_id is None or e.get("case_id") == case_id) and pred(e)]

    def wait_events(self, topic, case_id, n=1, pred=lambda e: True, timeout=30):
        self.reader.poll_until(lambda evs: len(self.events(topic, case_id, pred)) >= n, timeout=timeout)
        return self.events(topic, case_id, pred)

    def drain(self, seconds):
        end = time.time() + seconds
        self.reader.poll_until(lambda evs: time.time() > end, timeout=seconds + 5)

    def panel_request(self, case_id, rnd):
        return self.wait_events("sg.panel.requested", case_id, pred=lambda e: e["round"] == rnd)[0]

    def assign(self, case_id, rnd, reviewers, shortfall=0):
        self.bus.produce("sg.panel.assigned", case_id, {"case_id": case_id, "round": rnd,
                                                        "reviewer_ids": reviewers, "shortfall": shortfall})

    def case(self, case_id):
        r = self.svc.get(f"/v1/cases/{case_id}", headers=sgtest.ops_auth())
        assert r.status_code == 200, r.text
        return r.json()

    def wait_case(self, case_id, pred, timeout=20, what="case state"):
        return sgtest.wait_for(lambda: (lambda c: c if pred(c) else None)(self.case(case_id)), timeout=timeout,
                               what=what)

    def seated(self, case_id, reviewers):
        """Waits until every reviewer has a ballot on the case."""
        return self.wait_case(case_id, lambda c: set(reviewers) <= {b["reviewer_id"] for b in c["ballots"]},
                              what="ballots created")

    def open_panel(self, report_type, n, **report_kw):
        """Files a report, answers round 1 with n fresh reviewers; returns (report, reviewers)."""
        rep = self.report(report_type, **report_kw)
        req = self.panel_request(rep["case_id"], 1)
        reviewers = [uid("rev") for _ in range(n if n is not None else req["seats"])]
        self.assign(rep["case_id"], 1, reviewers)
        self.seated(rep["case_id"], reviewers)
        return rep, reviewers

    def vote(self, case_id, reviewer, decision, comment=None):
        body = {"decision": decision}
        if comment:
            body["comment"] = comment
        return self.svc.post(f"/v1/cases/{case_id}/votes", body, headers=sgtest.user_auth(reviewer))

    def audit(self, case_id):
        r = self.svc.get(f"/v1/cases/{case_id}/events?limit=200", headers=sgtest.ops_auth())
        assert r.status_code == 200, r.text
        return r.json()["items"]


@pytest.fixture
def w(svc, bus):
    return World(svc, bus)


def kinds(audit):
    """The case's own steps (notification entries are checked in test_report_push.py)."""
    return [e["kind"] for e in audit if not e["kind"].startswith("notification")]


# ---------------------------------------------------------------- decision

def test_five_seats_three_wins(w):
    rt = w.rule(panel_size=5, votes_to_decide=3)
    rep, revs = w.open_panel(rt, 5)
    cid = rep["case_id"]
    req = w.panel_request(cid, 1)
    assert req["seats"] == 5 and sorted(req["exclude_user_ids"]) == sorted([rep["reporter_id"],
                                                                           rep["target_owner_id"]])
    notes = w.wait_events("sg.notification.requested", cid, 5, lambda e: e["kind"] == "ballot_assigned")
    assert sorted(n["user_id"] for n in notes) == sorted(revs)
    assert all(n["_key"] == n["user_id"] and n["ballot_id"] for n in notes)
    case = w.case(cid)
    assert case["status"] == "voting" and case["tally"] is None
    assert {b["status"] for b in case["ballots"]} == {"open"} and all(b["round"] == 1 for b in case["ballots"])

    mine = w.svc.get("/v1/me/ballots?status=open", headers=sgtest.user_auth(revs[0])).json()["items"]
    assert [(b["case_id"], b["reason"], b["status"]) for b in mine] == [(cid, "abuse", "open")]

    sgtest.problem_ok(w.vote(cid, uid("stranger"), "violation"), 403)
    sgtest.problem_ok(w.svc.post(f"/v1/cases/{cid}/votes", {"decision": "maybe"},
                                 headers=sgtest.user_auth(revs[0])), 400)
    assert w.vote(cid, revs[0], "violation", "clearly abusive").status_code == 201
    assert w.vote(cid, revs[1], "no_violation").status_code == 201
    sgtest.problem_ok(w.vote(cid, revs[0], "no_violation"), 409)  # already voted
    assert w.vote(cid, revs[2], "violation").status_code == 201
    # Blind voting: states visible, decisions and tally not, to clients as to ops.
    for h in (sgtest.client_auth(), sgtest.ops_auth()):
        open_case = w.svc.get(f"/v1/cases/{cid}", headers=h).json()
        assert open_case["status"] == "voting" and open_case["tally"] is None
        assert sorted(b["status"] for b in open_case["ballots"]) == ["open", "open", "voted", "voted", "voted"]
        assert all(b.get("decision") is None for b in open_case["ballots"])

    third = w.vote(cid, revs[3], "violation")  # the third agreeing vote
    assert third.status_code == 201, third.text
    sgtest.problem_ok(w.vote(cid, revs[4], "violation"), 409)
    case = w.case(cid)
    assert (case["status"], case["verdict"], case["decided_by"]) == ("decided", "violation", "panel")
    assert case["tally"] == {"violation": 3, "no_violation": 1}
    by_rev = {b["reviewer_id"]: b for b in case["ballots"]}
    assert by_rev[revs[4]]["status"] == "cancelled" and by_rev[revs[1]]["decision"] == "no_violation"

    decided = w.wait_events("sg.case.decided", cid)
    w.wait_events("sg.ballot.closed", cid, 5)
    w.wait_events("sg.notification.requested", cid, 2, lambda e: e["kind"] in ("report_outcome", "content_outcome"))
    w.drain(1.0)
    decided = w.events("sg.case.decided", cid)
    assert len(decided) == 1
    d = decided[0]
    assert d["_key"] == cid and d["verdict"] == "violation" and d["decided_by"] == "panel"
    assert d["report_type"] == rt and d["target_id"] == rep["target_id"]
    assert d["target_owner_id"] == rep["target_owner_id"] and d["reporter_ids"] == [rep["reporter_id"]]
    ballots = {b["reviewer_id"]: b for b in d["ballots"]}
    assert ballots[revs[0]] == {"reviewer_id": revs[0], "outcome": "voted", "decision": "violation",
                                "with_majority": True}
    assert ballots[revs[1]]["with_majority"] is False
    assert ballots[revs[4]] == {"reviewer_id": revs[4], "outcome": "cancelled", "decision": None,
                                "with_majority": False}
    assert sorted((e["reviewer_id"], e["outcome"]) for e in w.events("sg.ballot.closed", cid)) == sorted(
        [(r, "voted") for r in revs[:4]] + [(revs[4], "cancelled")])
    told = {(e["user_id"], e["kind"]) for e in w.events("sg.notification.requested", cid)
            if e["kind"] in ("report_outcome", "content_outcome")}
    assert told == {(rep["reporter_id"], "report_outcome"), (rep["target_owner_id"], "content_outcome")}

    audit = kinds(w.audit(cid))
    assert audit[:3] == ["opened", "panel_requested", "panel_assigned"]
    assert audit.count("ballot_voted") == 4 and audit.count("ballot_cancelled") == 1
    assert audit[-1] == "decided"
    rep_view = w.svc.get(f"/v1/reports/{rep['report_id']}", headers=sgtest.client_auth()).json()
    assert (rep_view["status"], rep_view["verdict"]) == ("decided", "violation")


def test_traceparent_follows_the_case(w):
    trace = uuid.uuid4().hex
    tp = f"00-{trace}-{uuid.uuid4().hex[:16]}-01"
    rt = w.rule(panel_size=1, votes_to_decide=1)
    body = {"report_type": rt, "target_id": uid("item"), "target_owner_id": uid("own"), "reporter_id": uid("rep"),
            "reason": "abuse"}
    r = w.svc.post("/v1/reports", body, headers=dict(sgtest.client_auth(), traceparent=tp))
    assert r.status_code == 201, r.text
    cid = r.json()["case_id"]
    assert trace in w.panel_request(cid, 1)["_headers"]["traceparent"]
    rev = uid("rev")
    w.assign(cid, 1, [rev])  # the reviewer service's event carries no trace here
    w.seated(cid, [rev])
    assert w.vote(cid, rev, "violation").status_code == 201  # nor does the vote
    for topic in ("sg.case.decided", "sg.ballot.closed", "sg.notification.requested"):
        evs = w.wait_events(topic, cid)
        assert all(trace in e["_headers"].get("traceparent", "") for e in evs), (topic, evs)


def test_concurrent_votes_one_decision(w):
    n, need = 51, 26
    rt = w.rule(panel_size=n, votes_to_decide=need)
    rep, revs = w.open_panel(rt, n)
    cid = rep["case_id"]
    decisions = ["violation"] * 30 + ["no_violation"] * 21
    random.shuffle(decisions)
    barrier = threading.Barrier(n)

    def cast(i):
        barrier.wait(timeout=10)
        return w.vote(cid, revs[i], decisions[i])

    with ThreadPoolExecutor(n) as ex:
        rs = list(ex.map(cast, range(n)))
    codes = [r.status_code for r in rs]
    assert set(codes) <= {201, 409}, [r.text for r in rs if r.status_code not in (201, 409)][:3]
    case = w.case(cid)
    assert case["status"] == "decided" and case["verdict"] == "violation"
    assert case["tally"]["violation"] == need
    assert codes.count(201) == need + case["tally"]["no_violation"]
    w.wait_events("sg.case.decided", cid)
    w.drain(1.5)
    assert len(w.events("sg.case.decided", cid)) == 1
    with w.svc.db() as c:
        late = c.execute("SELECT count(*) FROM ballots b JOIN cases c ON c.id = b.case_id "
                         "WHERE b.case_id = %s AND b.status = 'voted' AND b.voted_at > c.decided_at",
                         (cid,)).fetchone()[0]
        voted = c.execute("SELECT count(*) FROM ballots WHERE case_id = %s AND status = 'voted'",
                          (cid,)).fetchone()[0]
    assert late == 0 and voted == codes.count(201)


def test_concurrent_repeats_of_one_vote_count_once(w):
    """A juror's vote sent many times at once: the case lock and the ballot are read in one statement, so the
    requests that waited for the lock read the ballot as it was before; each must still be refused as a
    repeat, and the vote counted once."""
    rt = w.rule(panel_size=3, votes_to_decide=2)
    rep, revs = w.open_panel(rt, 3)
    cid = rep["case_id"]
    n = 4
    # The case row is held here while the requests arrive, so each of them reads the ballot open and then
    # waits for the lock; the first to get it votes, the others find the ballot voted after all.
    with w.svc.db() as c, w.svc.db() as watch:
        c.execute("BEGIN")
        c.execute("SELECT 1 FROM cases WHERE id = %s FOR UPDATE", (cid,))
        with ThreadPoolExecutor(n) as ex:
            futures = [ex.submit(w.vote, cid, revs[0], "violation") for _ in range(n)]
            # Two waiting is enough for one to read the ballot stale; the lock is let go well inside
            # SG_PG_LOCK_TIMEOUT_MS (5 s) either way.
            deadline = time.time() + 3
            while time.time() < deadline:
                # (the statement text shown is cut at track_activity_query_size: match its start)
                waiting = watch.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                        "AND query LIKE 'SELECT c.id, coalesce(c.appeal_of%'").fetchone()[0]
                if waiting >= 2:
                    break
                time.sleep(0.05)
            c.execute("COMMIT")
            rs = [f.result() for f in futures]
    assert sorted(r.status_code for r in rs) == [201] + [409] * (n - 1), [r.text for r in rs]
    for r in rs:
        if r.status_code == 409:
            assert "already voted" in sgtest.problem_ok(r, 409)["detail"], r.text
    case = w.case(cid)
    assert case["status"] == "voting"
    assert sorted(b["status"] for b in case["ballots"]) == ["open", "open", "voted"]
    assert [e["reviewer_id"] for e in w.wait_events("sg.ballot.closed", cid)] == [revs[0]]
    w.drain(1.0)
    assert len(w.events("sg.ballot.closed", cid)) == 1
    assert kinds(w.audit(cid)).count("ballot_voted") == 1


# ---------------------------------------------------------------- timers

def test_ballot_expiry_requests_substitutes_excluding_earlier_panel(w):
    rt = w.rule(panel_size=3, votes_to_decide=2, ballot_timeout_s=2, reminder_before_s=1, case_deadline_s=60)
    rep, revs = w.open_panel(rt, 3)
    cid = rep["case_id"]
    assert w.vote(cid, revs[0], "violation").status_code == 201
    # Reminders for the two who have not voted, then expiry.
    rem = w.wait_events("sg.notification.requested", cid, 2, lambda e: e["kind"] == "ballot_reminder", timeout=10)
    assert {e["user_id"] for e in rem} == set(revs[1:])
    expired = w.wait_events("sg.ballot.closed", cid, 2, lambda e: e["outcome"] == "expired", timeout=10)
    assert {e["reviewer_id"] for e in expired} == set(revs[1:])
    sub = w.panel_request(cid, 2)
    assert sub["seats"] == 2
    assert set(sub["exclude_user_ids"]) == set(revs) | {rep["reporter_id"], rep["target_owner_id"]}
    subs = [uid("sub"), uid("sub")]
    w.assign(cid, 2, subs)
    w.seated(cid, subs)
    sgtest.problem_ok(w.vote(cid, revs[1], "violation"), 409)  # expired
    assert w.vote(cid, subs[0], "violation").status_code == 201
    case = w.case(cid)
    assert case["status"] == "decided" and case["tally"] == {"violation": 2, "no_violation": 0}
    assert sorted((b["round"], b["status"]) for b in case["ballots"]) == [
        (1, "expired"), (1, "expired"), (1, "voted"), (2, "cancelled"), (2, "voted")]
    audit = kinds(w.audit(cid))
    assert audit.count("ballot_expired") == 2 and audit.count("substitute_requested") == 1
    assert audit.count("reminder_sent") == 2


def test_decline_and_shortfall_request_substitutes(w):
    rt = w.rule(panel_size=3, votes_to_decide=2, max_substitute_rounds=3)
    rep = w.report(rt)
    cid = rep["case_id"]
    w.panel_request(cid, 1)
    revs = [uid("rev"), uid("rev")]
    w.assign(cid, 1, revs, shortfall=1)  # the reviewer service found only two
    w.seated(cid, revs)
    refill = w.panel_request(cid, 2)
    assert refill["seats"] == 1 and set(revs) <= set(refill["exclude_user_ids"])
    w.assign(cid, 2, [uid("rev")])
    ballot = [b for b in w.case(cid)["ballots"] if b["reviewer_id"] == revs[0]][0]
    bid = ballot["ballot_id"]
    sgtest.problem_ok(w.svc.post(f"/v1/ballots/{bid}/decline", {}, headers=sgtest.user_auth(revs[1])), 403)
    sgtest.problem_ok(w.svc.post(f"/v1/ballots/{uuid.uuid4()}/decline", {}, headers=sgtest.user_auth(revs[0])), 404)
    r = w.svc.post(f"/v1/ballots/{bid}/decline", None, headers=sgtest.user_auth(revs[0]))
    assert r.status_code == 200 and r.json()["status"] == "declined", r.text
    sgtest.problem_ok(w.svc.post(f"/v1/ballots/{bid}/decline", None, headers=sgtest.user_auth(revs[0])), 409)
    sgtest.problem_ok(w.vote(cid, revs[0], "violation"), 409)
    w.wait_events("sg.ballot.closed", cid, pred=lambda e: e["outcome"] == "declined" and e["reviewer_id"] == revs[0])
    sub = w.panel_request(cid, 3)
    assert sub["seats"] == 1 and revs[0] in sub["exclude_user_ids"]
    assert "ballot_declined" in kinds(w.audit(cid))


def test_reporter_who_sits_on_the_panel_loses_the_seat(w):
    rt = w.rule(panel_size=3, votes_to_decide=2)
    rep, revs = w.open_panel(rt, 3)
    cid = rep["case_id"]
    late_reporter = uid("rep")
    w.report(rt, target=rep["target_id"], owner=rep["target_owner_id"], reporter=late_reporter)
    w.report(rt, target=rep["target_id"], owner=rep["target_owner_id"], reporter=revs[2])  # a panelist reports
    w.wait_events("sg.ballot.closed", cid, pred=lambda e: e["reviewer_id"] == revs[2] and e["outcome"] == "cancelled")
    sub = w.panel_request(cid, 2)
    assert sub["seats"] == 1
    # Every reporter, including those who joined later, and everyone on the case is excluded.
    assert set(sub["exclude_user_ids"]) == set(revs) | {rep["reporter_id"], late_reporter, rep["target_owner_id"]}
    sgtest.problem_ok(w.vote(cid, revs[2], "violation"), 409)


def test_panelist_who_voted_cannot_report_the_case(w):
    rt = w.rule(panel_size=3, votes_to_decide=2)
    rep, revs = w.open_panel(rt, 3)
    cid = rep["case_id"]
    assert w.vote(cid, revs[0], "violation").status_code == 201
    before = w.case(cid)
    body = {"report_type": rt, "target_id": rep["target_id"], "target_owner_id": rep["target_owner_id"],
            "reporter_id": revs[0], "reason": "abuse"}
    r = w.svc.post("/v1/reports", body, headers=sgtest.client_auth())
    p = sgtest.problem_ok(r, 409)
    assert "already voted" in p["detail"], p
    after = w.case(cid)
    # Nothing written: no report joined, the vote stands, no ballot cancelled.
    assert after["report_ids"] == before["report_ids"]
    assert {b["reviewer_id"]: b["status"] for b in after["ballots"]} == \
        {revs[0]: "voted", revs[1]: "open", revs[2]: "open"}
    assert "report_joined" not in kinds(w.audit(cid))
    # The vote still counts towards the decision.
    assert w.vote(cid, revs[1], "violation").status_code == 201
    done = w.wait_case(cid, lambda c: c["status"] == "decided", what="decided")
    assert done["verdict"] == "violation" and done["tally"] == {"violation": 2, "no_violation": 0}


def test_assignment_for_unknown_case_is_ignored(w, svc):
    w.assign(str(uuid.uuid4()), 1, [uid("rev")])
    rt = w.rule(panel_size=1, votes_to_decide=1)
    rep, revs = w.open_panel(rt, 1)  # the consumer went on past it
    assert w.vote(rep["case_id"], revs[0], "no_violation").status_code == 201


def test_deadline_tie_escalates_then_ops_resolve(w):
    rt = w.rule(panel_size=3, votes_to_decide=2, ballot_timeout_s=3, case_deadline_s=3)
    rep, revs = w.open_panel(rt, 3)
    cid = rep["case_id"]
    assert w.vote(cid, revs[0], "violation").status_code == 201
    assert w.vote(cid, revs[1], "no_violation").status_code == 201
    case = w.wait_case(cid, lambda c: c["status"] == "escalated", timeout=10, what="escalated")
    assert case["verdict"] is None and case["decided_by"] is None and case["tally"] is None
    third = [b for b in case["ballots"] if b["reviewer_id"] == revs[2]][0]
    assert third["status"] in ("cancelled", "expired")
    sgtest.problem_ok(w.vote(cid, revs[2], "violation"), 409)
    sgtest.problem_ok(w.svc.post(f"/v1/cases/{cid}/resolve", {"verdict": "violation"},
                                 headers=sgtest.user_auth(revs[0])), 403)
    sgtest.problem_ok(w.svc.post(f"/v1/cases/{cid}/resolve", {"verdict": "guilty"}, headers=sgtest.ops_auth()), 400)
    r = w.svc.post(f"/v1/cases/{cid}/resolve", {"verdict": "no_violation", "note": "context matters"},
                   headers=sgtest.ops_auth("ops-7"))
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["verdict"], r.json()["decided_by"]) == ("decided", "no_violation", "ops")
    assert r.json()["tally"] == {"violation": 1, "no_violation": 1}
    sgtest.problem_ok(w.svc.post(f"/v1/cases/{cid}/resolve", {"verdict": "violation"}, headers=sgtest.ops_auth()),
                      409)
    d = w.wait_events("sg.case.decided", cid)[0]
    assert d["decided_by"] == "ops" and d["verdict"] == "no_violation"
    assert {b["reviewer_id"]: b["with_majority"] for b in d["ballots"]}[revs[1]] is True
    audit = w.audit(cid)
    assert kinds(audit)[-2:] == ["escalated", "resolved"] and audit[-1]["actor"] == "ops-7"


def test_deadline_decides_by_votes_cast(w):
    """(v2) The majority of the votes cast decides only with a quorum:
    min_votes_at_deadline, by default votes_to_decide (3 of 5)."""
    rt = w.rule(panel_size=5, votes_to_decide=3, ballot_timeout_s=2, case_deadline_s=2, max_substitute_rounds=0)
    assert w.svc.get(f"/v1/voting-rules/{rt}", headers=sgtest.ops_auth()).json()["min_votes_at_deadline"] == 3
    rep, revs = w.open_panel(rt, 5)
    cid = rep["case_id"]
    assert w.vote(cid, revs[0], "violation").status_code == 201
    assert w.vote(cid, revs[1], "violation").status_code == 201
    assert w.vote(cid, revs[2], "no_violation").status_code == 201
    case = w.wait_case(cid, lambda c: c["status"] == "decided", timeout=10, what="decided at deadline")
    assert (case["verdict"], case["decided_by"]) == ("violation", "deadline")
    assert case["tally"] == {"violation": 2, "no_violation": 1}
    d = w.wait_events("sg.case.decided", cid)[0]
    assert d["decided_by"] == "deadline" and d["opened_at"] == case["opened_at"]
    # One vote of five is too few: escalated, not decided.
    rep2, revs2 = w.open_panel(rt, 5)
    assert w.vote(rep2["case_id"], revs2[0], "violation").status_code == 201
    case2 = w.wait_case(rep2["case_id"], lambda c: c["status"] == "escalated", timeout=10, what="escalated")
    assert case2["verdict"] is None
    assert [e for e in w.audit(rep2["case_id"]) if e["kind"] == "escalated"][0]["data"]["reason"] == \
        "deadline: too few votes"
    # A rule that accepts one vote decides on it.
    rt1 = w.rule(panel_size=5, votes_to_decide=3, ballot_timeout_s=2, case_deadline_s=2, max_substitute_rounds=0,
                 min_votes_at_deadline=1)
    rep3, revs3 = w.open_panel(rt1, 5)
    assert w.vote(rep3["case_id"], revs3[0], "no_violation").status_code == 201
    case3 = w.wait_case(rep3["case_id"], lambda c: c["status"] == "decided", timeout=10, what="decided on one vote")
    assert (case3["verdict"], case3["decided_by"]) == ("no_violation", "deadline")


def test_panel_answer_screened_in_order(w):
    """The owner and a reporter offered by the reviewer service are refused,
    a reviewer offered twice gets one ballot, and offers past the seats are
    released; the seats go to the first eligible reviewers in offered order."""
    rt = w.rule(panel_size=3, votes_to_decide=2)
    rep = w.report(rt)
    cid = rep["case_id"]
    assert w.panel_request(cid, 1)["seats"] == 3
    a, b, c, extra = (uid("rev") for _ in range(4))
    w.assign(cid, 1, [rep["target_owner_id"], a, a, rep["reporter_id"], b, c, extra])
    w.seated(cid, [a, b, c])
    assert sorted(x["reviewer_id"] for x in w.case(cid)["ballots"]) == sorted([a, b, c])
    released = w.wait_events("sg.ballot.closed", cid, 3)
    assert sorted(e["reviewer_id"] for e in released) == sorted([rep["target_owner_id"], rep["reporter_id"], extra])
    assert {e["outcome"] for e in released} == {"cancelled"}
    told = w.wait_events("sg.notification.requested", cid, 3, lambda e: e["kind"] == "ballot_assigned")
    assert sorted(e["user_id"] for e in told) == sorted([a, b, c]) and all(e["ballot_id"] for e in told)


def test_deadline_without_votes_escalates_under_escalate_rule(w):
    rt = w.rule(on_deadline="escalate", ballot_timeout_s=1, case_deadline_s=1, max_substitute_rounds=0)
    rep = w.report(rt)
    case = w.wait_case(rep["case_id"], lambda c: c["status"] == "escalated", timeout=10, what="escalated")
    assert case["ballots"] == []
    # A panel answer arriving after the case closed gets no ballot, and its
    # reviewers are released.
    late = uid("late")
    w.assign(rep["case_id"], 1, [late])
    w.wait_events("sg.ballot.closed", rep["case_id"], pred=lambda e: e["reviewer_id"] == late)
    assert w.case(rep["case_id"])["ballots"] == []


# ---------------------------------------------------------------- cancel, appeal

def test_cancel(w):
    rt = w.rule(panel_size=3, votes_to_decide=2)
    rep, revs = w.open_panel(rt, 3)
    cid = rep["case_id"]
    assert w.vote(cid, revs[0], "violation").status_code == 201
    sgtest.problem_ok(w.svc.post(f"/v1/cases/{cid}/cancel", {}, headers=sgtest.client_auth()), 400)
    sgtest.problem_ok(w.svc.post(f"/v1/cases/{cid}/cancel", {"reason": "gone"}, headers=sgtest.user_auth(revs[0])),
                      403)
    r = w.svc.post(f"/v1/cases/{cid}/cancel", {"reason": "content deleted"}, headers=sgtest.client_auth())
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["verdict"], r.json()["cancel_reason"]) == (
        "cancelled", None, "content deleted")
    cancelled = w.wait_events("sg.ballot.closed", cid, 2, lambda e: e["outcome"] == "cancelled")
    assert {e["reviewer_id"] for e in cancelled} == set(revs[1:])
    sgtest.problem_ok(w.svc.post(f"/v1/cases/{cid}/cancel", {"reason": "again"}, headers=sgtest.client_auth()), 409)
    sgtest.problem_ok(w.vote(cid, revs[1], "violation"), 409)
    assert kinds(w.audit(cid))[-1] == "cancelled"
    # A new report of the same item opens a new case.
    again = w.report(rt, target=rep["target_id"], owner=rep["target_owner_id"])
    assert again["case_id"] != cid
    # A decided case cannot be cancelled.
    rt1 = w.rule(panel_size=1, votes_to_decide=1)
    rep1, revs1 = w.open_panel(rt1, 1)
    assert w.vote(rep1["case_id"], revs1[0], "violation").status_code == 201
    sgtest.problem_ok(w.svc.post(f"/v1/cases/{rep1['case_id']}/cancel", {"reason": "late"},
                                 headers=sgtest.client_auth()), 409)


def test_appeal(w):
    rt = w.rule(panel_size=3, votes_to_decide=2, appeal_panel_size=5, appeal_votes_to_decide=3)
    rep, revs = w.open_panel(rt, 3)
    cid = rep["case_id"]
    second_reporter = uid("rep")
    w.report(rt, target=rep["target_id"], owner=rep["target_owner_id"], reporter=second_reporter)
    sgtest.problem_ok(w.svc.post(f"/v1/cases/{cid}/appeals", {}, headers=sgtest.user_auth(rep["target_owner_id"])),
                      409)  # not decided yet
    assert w.vote(cid, revs[0], "violation").status_code == 201
    assert w.vote(cid, revs[1], "violation").status_code == 201
    sgtest.problem_ok(w.svc.post(f"/v1/cases/{cid}/appeals", {}, headers=sgtest.user_auth(uid("nobody"))), 403)
    sgtest.problem_ok(w.svc.post(f"/v1/cases/{cid}/appeals", {}, headers=sgtest.client_auth()), 403)
    r = w.svc.post(f"/v1/cases/{cid}/appeals", {"reason": "it was satire"},
                   headers=sgtest.user_auth(rep["target_owner_id"]))
    assert r.status_code == 201, r.text
    aid = r.json()["case_id"]
    assert aid != cid
    sgtest.problem_ok(w.svc.post(f"/v1/cases/{cid}/appeals", {}, headers=sgtest.user_auth(second_reporter)), 409)

    req = w.panel_request(aid, 1)
    assert req["seats"] == 5
    assert set(req["exclude_user_ids"]) == set(revs) | {rep["reporter_id"], second_reporter,
                                                         rep["target_owner_id"]}
    appeal = w.case(aid)
    assert appeal["appeal_of"] == cid and appeal["panel_size"] == 5 and appeal["votes_to_decide"] == 3
    assert w.case(cid)["appeal_case_id"] == aid
    panel = [uid("app") for _ in range(5)]
    w.assign(aid, 1, panel + [revs[2]])  # an earlier panelist slipped in: refused
    w.seated(aid, panel)
    assert revs[2] not in {b["reviewer_id"] for b in w.case(aid)["ballots"]}
    for p in panel[:3]:
        assert w.vote(aid, p, "no_violation").status_code == 201
    appeal = w.case(aid)
    assert (appeal["status"], appeal["verdict"], appeal["decided_by"]) == ("decided", "no_violation", "appeal")
    d = w.wait_events("sg.case.decided", aid)[0]
    assert d["decided_by"] == "appeal" and d["appeal_of"] == cid
    assert sorted(d["reporter_ids"]) == sorted([rep["reporter_id"], second_reporter])
    # Final: the appeal case cannot be appealed.
    sgtest.problem_ok(w.svc.post(f"/v1/cases/{aid}/appeals", {}, headers=sgtest.user_auth(rep["reporter_id"])), 409)
    view = w.svc.get(f"/v1/reports/{rep['report_id']}", headers=sgtest.user_auth(rep["reporter_id"])).json()
    assert view["appeal"]["case_id"] == aid and view["appeal"]["verdict"] == "no_violation"
    # The report shows the final verdict; its own case's stays visible.
    assert (view["verdict"], view["decided_by"], view["case_verdict"]) == ("no_violation", "appeal", "violation")


def test_appeal_window_closes(w):
    rt = w.rule(panel_size=1, votes_to_decide=1, appeal_window_s=1)
    rep, revs = w.open_panel(rt, 1)
    assert w.vote(rep["case_id"], revs[0], "violation").status_code == 201
    time.sleep(1.5)
    sgtest.problem_ok(w.svc.post(f"/v1/cases/{rep['case_id']}/appeals", {},
                                 headers=sgtest.user_auth(rep["reporter_id"])), 409)


# ---------------------------------------------------------------- callbacks

def test_callback_retried_until_delivered_and_signed(w):
    with CallbackReceiver(statuses=[500, 503]) as rx:
        rt = w.rule(panel_size=1, votes_to_decide=1)
        rep, revs = w.open_panel(rt, 1, callback_url=rx.url("/hook"))
        # A second report with the same URL: still one callback per URL.
        w.report(rt, target=rep["target_id"], owner=rep["target_owner_id"], callback_url=rx.url("/hook"))
        cid = rep["case_id"]
        assert w.vote(cid, revs[0], "no_violation").status_code == 201
        sgtest.wait_for(lambda: any(r["status"] == 200 for r in rx.received()), timeout=20, what="delivery")
        time.sleep(1.0)
        got = rx.received()
        assert [r["status"] for r in got] == [500, 503, 200]
        ok = got[-1]
        assert ok["path"] == "/hook" and ok["headers"]["Content-Type"] == "application/json"
        assert signature_ok(sgtest.CALLBACK_SECRET, ok["body"], ok["headers"].get("X-SG-Signature"))
        assert all(r["body"] == ok["body"] for r in got)
        body = parse(ok)
        assert body["case_id"] == cid and body["verdict"] == "no_violation" and body["decided_by"] == "panel"
        # The outcome (sg.case.outcome's payload): the tally, never a juror id.
        assert body["status"] == "decided" and body["kind"] == "decided" and len(body["report_ids"]) == 2
        assert body["tally"] == {"violation": 0, "no_violation": 1} and "ballots" not in body
        assert revs[0] not in ok["body"].decode()
        attempts = [e for e in w.audit(cid) if e["kind"] == "callback_attempt"]
        assert [(a["data"]["attempt"], a["data"]["http_status"], a["data"]["outcome"]) for a in attempts] == [
            (1, 500, "retry"), (2, 503, "retry"), (3, 200, "delivered")]


def test_callback_on_cancel_and_unreachable_url_is_recorded(w):
    with CallbackReceiver() as rx:
        rt = w.rule(panel_size=3, votes_to_decide=2)
        rep = w.report(rt, callback_url=rx.url("/cancelled"))
        r = w.svc.post(f"/v1/cases/{rep['case_id']}/cancel", {"reason": "listing removed"},
                       headers=sgtest.client_auth())
        assert r.status_code == 200
        sgtest.wait_for(lambda: rx.received("/cancelled"), timeout=10, what="cancel callback")
        body = parse(rx.received("/cancelled")[0])
        assert body["status"] == "cancelled" and body["verdict"] is None and body["case_id"] == rep["case_id"]
    # Nothing listens there: attempts fail with an error and are recorded.
    rt = w.rule(panel_size=1, votes_to_decide=1)
    dead = f"http://127.0.0.1:{sgtest.free_port()}/nobody"
    rep2, revs = w.open_panel(rt, 1, callback_url=dead)
    assert w.vote(rep2["case_id"], revs[0], "violation").status_code == 201
    # Backoff 1 s, 2 s, 2 s, 2 s (capped by SG_CALLBACK_MAX_BACKOFF_S), then given up after 5 attempts.
    attempts = sgtest.wait_for(lambda: (lambda a: a if len(a) >= 5 else None)(
        [e for e in w.audit(rep2["case_id"]) if e["kind"] == "callback_attempt"]), timeout=20, what="5 attempts")
    assert all(a["data"]["http_status"] is None and a["data"]["error"] for a in attempts)
    assert [a["data"]["outcome"] for a in attempts] == ["retry"] * 4 + ["failed"]
    time.sleep(2.5)
    assert len([e for e in w.audit(rep2["case_id"]) if e["kind"] == "callback_attempt"]) == 5
    with w.svc.db() as c:
        assert c.execute("SELECT status, attempts FROM callbacks WHERE case_id = %s",
                         (rep2["case_id"],)).fetchone() == ("failed", 5)
