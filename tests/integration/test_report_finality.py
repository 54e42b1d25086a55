"""Report service, issue 13: the lifecycle to finality against the real
devstack — shortfall retries that spend no substitute round, one case per
target across escalation, appeal and the re-report cooldown, reviewers who
are suspended, finality (window, appeal, ops) with sg.case.finalized, the
decline reason and the cases of the people involved. As in
test_report_lifecycle, the test plays the reviewer service."""
import time

import pytest

import sgtest
from test_report_lifecycle import World, kinds, uid

TOPICS = ("sg.panel.requested", "sg.ballot.closed", "sg.case.decided", "sg.case.finalized",
          "sg.notification.requested")


@pytest.fixture(scope="module")
def svc():
    # The consumed topics exist before the service subscribes.
    with sgtest.running("report", env={"SG_SHORTFALL_RETRY_BASE_S": "1"},
                        topics=("sg.panel.assigned", "sg.reviewer.status_changed")) as s:
        yield s


@pytest.fixture(scope="module")
def bus(svc):
    with sgtest.reading(svc, TOPICS) as br:
        yield br


@pytest.fixture
def w(svc, bus):
    return World(svc, bus)


def audit_of(w, case_id, kind):
    return [e for e in w.audit(case_id) if e["kind"] == kind]


def cases_of_target(w, rt, target):
    with w.svc.db() as c:
        return c.execute("SELECT id::text, status FROM cases WHERE report_type = %s AND target_id = %s ORDER BY seq",
                         (rt, target)).fetchall()


# ---------------------------------------------------------------- finality

def test_window_closes_unappealed_and_the_case_is_final(w):
    rt = w.rule(panel_size=1, votes_to_decide=1, appeal_window_s=2)
    rep, revs = w.open_panel(rt, 1)
    cid = rep["case_id"]
    assert w.vote(cid, revs[0], "violation").status_code == 201
    case = w.case(cid)
    assert case["status"] == "decided" and case["final"] is False and case["finalized_by"] is None
    fin = w.wait_events("sg.case.finalized", cid, timeout=15)
    assert len(fin) == 1
    f = fin[0]
    assert (f["final_verdict"], f["finalized_by"], f["appeal_case_id"]) == ("violation", "window", None)
    assert f["_key"] == cid and f["_headers"]["event_type"] == "sg.case.finalized" and f["event_id"]
    case = w.case(cid)
    assert case["final"] is True and case["finalized_by"] == "window" and case["finalized_at"]
    assert case["status"] == "decided" and case["verdict"] == "violation"
    assert kinds(w.audit(cid))[-1] == "finalized"
    # No appeal can change it any more; nothing is finalized twice.
    sgtest.problem_ok(w.svc.post(f"/v1/cases/{cid}/appeals", {}, headers=sgtest.user_auth(rep["reporter_id"])), 409)
    w.drain(1.0)
    assert len(w.events("sg.case.finalized", cid)) == 1
    # The decision carried the opening time (the reward rule in force then applies).
    assert w.wait_events("sg.case.decided", cid)[0]["opened_at"] == case["opened_at"]


def test_appeal_decision_finalizes_the_appeal_and_the_appealed_case(w):
    rt = w.rule(panel_size=1, votes_to_decide=1, appeal_panel_size=1, appeal_votes_to_decide=1, appeal_window_s=3)
    rep, revs = w.open_panel(rt, 1)
    cid = rep["case_id"]
    assert w.vote(cid, revs[0], "violation").status_code == 201
    r = w.svc.post(f"/v1/cases/{cid}/appeals", {"reason": "satire"}, headers=sgtest.user_auth(rep["target_owner_id"]))
    assert r.status_code == 201, r.text
    aid = r.json()["case_id"]
    w.panel_request(aid, 1)
    judge = uid("app")
    w.assign(aid, 1, [judge])
    w.seated(aid, [judge])
    # The appealed case waits for its appeal, past its own window.
    time.sleep(3.5)
    assert w.case(cid)["final"] is False and not w.events("sg.case.finalized", cid)
    assert w.vote(aid, judge, "no_violation").status_code == 201
    root = w.wait_events("sg.case.finalized", cid)[0]
    assert (root["final_verdict"], root["finalized_by"], root["appeal_case_id"]) == ("no_violation", "appeal", aid)
    appeal = w.wait_events("sg.case.finalized", aid)[0]
    assert (appeal["final_verdict"], appeal["finalized_by"], appeal["appeal_case_id"]) == (
        "no_violation", "appeal", aid)
    assert w.case(cid)["final"] is True and w.case(aid)["final"] is True
    view = w.svc.get(f"/v1/reports/{rep['report_id']}", headers=sgtest.user_auth(rep["reporter_id"])).json()
    assert (view["final"], view["verdict"], view["case_verdict"]) == (True, "no_violation", "violation")
    assert w.case(cid)["verdict"] == "violation"  # its own verdict stays; the final one is the appeal's
    w.drain(1.5)
    assert len(w.events("sg.case.finalized", cid)) == 1 and len(w.events("sg.case.finalized", aid)) == 1


def test_ops_resolution_of_an_escalated_appeal_finalizes_both(w):
    rt = w.rule(panel_size=1, votes_to_decide=1, appeal_panel_size=1, appeal_votes_to_decide=1,
                ballot_timeout_s=4, case_deadline_s=4, on_deadline="escalate", max_substitute_rounds=0)
    rep, revs = w.open_panel(rt, 1)
    cid = rep["case_id"]
    assert w.vote(cid, revs[0], "no_violation").status_code == 201
    r = w.svc.post(f"/v1/cases/{cid}/appeals", {}, headers=sgtest.user_auth(rep["reporter_id"]))
    assert r.status_code == 201, r.text
    aid = r.json()["case_id"]
    w.wait_case(aid, lambda c: c["status"] == "escalated", timeout=10, what="appeal escalated")
    assert w.case(aid)["final"] is False
    r = w.svc.post(f"/v1/cases/{aid}/resolve", {"verdict": "violation"}, headers=sgtest.ops_auth())
    assert r.status_code == 200, r.text
    assert r.json()["final"] is True
    for case_id in (cid, aid):
        f = w.wait_events("sg.case.finalized", case_id)[0]
        assert (f["final_verdict"], f["finalized_by"], f["appeal_case_id"]) == ("violation", "ops", aid)


def test_cancelled_appeal_leaves_the_appealed_verdict_final(w):
    rt = w.rule(panel_size=1, votes_to_decide=1, appeal_panel_size=1, appeal_votes_to_decide=1)
    rep, revs = w.open_panel(rt, 1)
    cid = rep["case_id"]
    assert w.vote(cid, revs[0], "violation").status_code == 201
    aid = w.svc.post(f"/v1/cases/{cid}/appeals", {}, headers=sgtest.user_auth(rep["target_owner_id"])).json()["case_id"]
    r = w.svc.post(f"/v1/cases/{aid}/cancel", {"reason": "content deleted"}, headers=sgtest.client_auth())
    assert r.status_code == 200 and r.json()["final"] is False, r.text  # a cancelled case is never final
    f = w.wait_events("sg.case.finalized", cid)[0]
    assert (f["final_verdict"], f["finalized_by"], f["appeal_case_id"]) == ("violation", "appeal", aid)
    assert w.case(cid)["final"] is True
    assert not w.events("sg.case.finalized", aid)


def test_ops_resolution_of_a_first_case_is_a_decision_with_an_appeal_window(w):
    rt = w.rule(panel_size=1, votes_to_decide=1, ballot_timeout_s=1, case_deadline_s=1, on_deadline="escalate",
                max_substitute_rounds=0, appeal_window_s=2)
    rep = w.report(rt)
    cid = rep["case_id"]
    w.wait_case(cid, lambda c: c["status"] == "escalated", timeout=10, what="escalated")
    r = w.svc.post(f"/v1/cases/{cid}/resolve", {"verdict": "violation"}, headers=sgtest.ops_auth())
    assert r.status_code == 200 and r.json()["final"] is False, r.text
    f = w.wait_events("sg.case.finalized", cid, timeout=15)[0]
    assert (f["final_verdict"], f["finalized_by"], f["appeal_case_id"]) == ("violation", "window", None)


# ---------------------------------------------------------------- one case per target

def test_report_during_escalation_joins_the_escalated_case(w):
    rt = w.rule(panel_size=1, votes_to_decide=1, ballot_timeout_s=1, case_deadline_s=1, on_deadline="escalate",
                max_substitute_rounds=0)
    rep = w.report(rt)
    cid = rep["case_id"]
    w.wait_case(cid, lambda c: c["status"] == "escalated", timeout=10, what="escalated")
    late = w.report(rt, target=rep["target_id"], owner=rep["target_owner_id"])
    assert (late["case_id"], late["status"]) == (cid, "escalated")
    assert cases_of_target(w, rt, rep["target_id"]) == [(cid, "escalated")]
    assert len(w.case(cid)["report_ids"]) == 2
    joined = audit_of(w, cid, "report_joined")
    assert joined and joined[-1]["data"]["report_id"] == late["report_id"]
    # The same reporter again: 409, nothing written.
    body = {"report_type": rt, "target_id": rep["target_id"], "target_owner_id": rep["target_owner_id"],
            "reporter_id": late["reporter_id"], "reason": "abuse"}
    sgtest.problem_ok(w.svc.post("/v1/reports", body, headers=sgtest.client_auth()), 409)
    # The database holds one live case per target whatever the code does.
    with w.svc.db() as c:
        with pytest.raises(Exception) as e:
            c.execute("INSERT INTO cases (report_type, target_id, target_owner_id, rule_version, panel_size, "
                      "votes_to_decide, deadline) VALUES (%s, %s, 'x', 1, 1, 1, now())", (rt, rep["target_id"]))
        assert "cases_one_open_per_target" in str(e.value)


def test_report_within_the_cooldown_joins_the_decided_case(w):
    rt = w.rule(panel_size=1, votes_to_decide=1, re_report_cooldown_s=3600)
    assert w.svc.get(f"/v1/voting-rules/{rt}", headers=sgtest.ops_auth()).json()["re_report_cooldown_s"] == 3600
    rep, revs = w.open_panel(rt, 1)
    cid = rep["case_id"]
    assert w.vote(cid, revs[0], "no_violation").status_code == 201
    again = w.report(rt, target=rep["target_id"], owner=rep["target_owner_id"])
    assert (again["case_id"], again["status"]) == (cid, "decided")
    assert cases_of_target(w, rt, rep["target_id"]) == [(cid, "decided")]
    w.drain(1.0)
    assert [e["round"] for e in w.events("sg.panel.requested", cid)] == [1]  # no new panel
    view = w.svc.get(f"/v1/reports/{again['report_id']}", headers=sgtest.client_auth()).json()
    assert (view["case_id"], view["status"], view["verdict"]) == (cid, "decided", "no_violation")
    # Without a cooldown a decided target is judged again by a new case.
    rt0 = w.rule(panel_size=1, votes_to_decide=1, re_report_cooldown_s=0)
    rep0, revs0 = w.open_panel(rt0, 1)
    assert w.vote(rep0["case_id"], revs0[0], "violation").status_code == 201
    time.sleep(1.1)
    new = w.report(rt0, target=rep0["target_id"], owner=rep0["target_owner_id"])
    assert new["case_id"] != rep0["case_id"] and new["status"] == "assigning"
    # ... and the old case can no longer be appealed while the new one runs.
    p = sgtest.problem_ok(w.svc.post(f"/v1/cases/{rep0['case_id']}/appeals", {},
                                     headers=sgtest.user_auth(rep0["target_owner_id"])), 409)
    assert "newer case" in p["detail"]


def test_report_during_an_appeal_joins_the_appeal_case(w):
    rt = w.rule(panel_size=1, votes_to_decide=1, appeal_panel_size=1, appeal_votes_to_decide=1, re_report_cooldown_s=0)
    rep, revs = w.open_panel(rt, 1)
    cid = rep["case_id"]
    assert w.vote(cid, revs[0], "violation").status_code == 201
    r = w.svc.post(f"/v1/cases/{cid}/appeals", {}, headers=sgtest.user_auth(rep["target_owner_id"]))
    aid = r.json()["case_id"]
    late = w.report(rt, target=rep["target_id"], owner=rep["target_owner_id"])
    assert late["case_id"] == aid and late["status"] in ("assigning", "voting")
    assert {x[0] for x in cases_of_target(w, rt, rep["target_id"])} == {cid, aid}
    # A juror who voted on the appealed case cannot join as a reporter.
    body = {"report_type": rt, "target_id": rep["target_id"], "target_owner_id": rep["target_owner_id"],
            "reporter_id": revs[0], "reason": "abuse"}
    assert "already voted" in sgtest.problem_ok(w.svc.post("/v1/reports", body, headers=sgtest.client_auth()),
                                                409)["detail"]
    # The appeal judges the reports of the case it appeals: the late reporter
    # is one of them, and excluded from the appeal panel.
    assert late["report_id"] in w.case(aid)["report_ids"]
    w.panel_request(aid, 1)
    judge = uid("app")
    w.assign(aid, 1, [late["reporter_id"], judge])
    w.seated(aid, [judge])
    assert late["reporter_id"] not in {b["reviewer_id"] for b in w.case(aid)["ballots"]}
    assert w.vote(aid, judge, "violation").status_code == 201
    d = w.wait_events("sg.case.decided", aid)[0]
    assert late["reporter_id"] in d["reporter_ids"]


# ---------------------------------------------------------------- shortfall

def test_short_panel_is_filled_by_retries_without_substitute_rounds(w):
    """2 eligible for 3 seats and max_substitute_rounds 0: the missing seat is
    asked for again after 1 s, 2 s, ... (SG_SHORTFALL_RETRY_BASE_S=1) until a
    third reviewer becomes eligible."""
    rt = w.rule(panel_size=3, votes_to_decide=2, max_substitute_rounds=0)
    rep = w.report(rt)
    cid = rep["case_id"]
    w.panel_request(cid, 1)
    revs = [uid("rev"), uid("rev")]
    t0 = time.time()
    w.assign(cid, 1, revs, shortfall=1)
    w.seated(cid, revs)
    r2 = w.panel_request(cid, 2)
    assert r2["seats"] == 1 and set(revs) <= set(r2["exclude_user_ids"])
    t1 = time.time()
    w.assign(cid, 2, [], shortfall=1)  # still nobody
    r3 = w.panel_request(cid, 3)
    t2 = time.time()
    assert r3["seats"] == 1
    assert t2 - t1 >= 1.5, "the second retry waits twice as long as the first"
    assert t1 - t0 >= 0.5
    third = uid("rev")  # became eligible
    w.assign(cid, 3, [third])
    w.seated(cid, revs + [third])
    audit = w.audit(cid)
    retries = [e for e in audit if e["kind"] == "shortfall_retry"]
    assert [(e["data"]["round"], e["data"]["seats"], e["data"]["retry"]) for e in retries] == [(2, 1, 1), (3, 1, 2)]
    assert "substitutes_exhausted" not in kinds(audit) and "substitute_requested" not in kinds(audit)
    short = [e for e in audit if e["kind"] == "panel_assigned" and e["data"]["round"] in (1, 2)]
    assert all(e["data"]["retry_in_s"] >= 1 for e in short)
    w.drain(2.5)
    assert not w.events("sg.panel.requested", cid, lambda e: e["round"] == 4)  # full: no more retries
    # max_substitute_rounds still bounds substitutes for declines.
    bid = [b for b in w.case(cid)["ballots"] if b["reviewer_id"] == third][0]["ballot_id"]
    assert w.svc.post(f"/v1/ballots/{bid}/decline", None, headers=sgtest.user_auth(third)).status_code == 200
    assert "substitutes_exhausted" in kinds(w.audit(cid))
    w.drain(1.5)
    assert not w.events("sg.panel.requested", cid, lambda e: e["round"] == 4)


# ---------------------------------------------------------------- reviewer status

def test_suspended_reviewer_loses_open_ballots_and_gets_a_substitute(w):
    rt = w.rule(panel_size=3, votes_to_decide=3, max_substitute_rounds=0)
    rep, revs = w.open_panel(rt, 3)
    cid = rep["case_id"]
    assert w.vote(cid, revs[0], "violation").status_code == 201
    ev = {"user_id": revs[1], "status": "suspended", "reason": "low accuracy"}
    event_id = w.bus.produce("sg.reviewer.status_changed", revs[1], ev)
    w.bus.produce("sg.reviewer.status_changed", revs[0], {"user_id": revs[0], "status": "retired", "reason": "gone"})
    w.bus.produce("sg.reviewer.status_changed", revs[2], {"user_id": revs[2], "status": "paused", "reason": None})
    closed = w.wait_events("sg.ballot.closed", cid, pred=lambda e: e["reviewer_id"] == revs[1] and
                           e["outcome"] == "cancelled")
    assert len(closed) == 1
    sub = w.panel_request(cid, 2)
    assert sub["seats"] == 1 and revs[1] in sub["exclude_user_ids"]
    case = w.case(cid)
    states = {b["reviewer_id"]: b["status"] for b in case["ballots"]}
    assert states == {revs[0]: "voted", revs[1]: "cancelled", revs[2]: "open"}  # votes cast stand; paused keeps
    p = sgtest.problem_ok(w.vote(cid, revs[1], "violation"), 409)
    assert "cancelled" in p["detail"]
    cancelled = audit_of(w, cid, "ballot_cancelled")
    assert [(e["data"]["reviewer_id"], e["data"]["reason"]) for e in cancelled] == [(revs[1], "reviewer_suspended")]
    subs = audit_of(w, cid, "substitute_requested")
    assert len(subs) == 1 and subs[0]["data"]["reason"] == "reviewer_suspended"
    assert subs[0]["data"]["substitute_round"] is False
    assert "substitutes_exhausted" not in kinds(w.audit(cid))
    # The same event again (same event_id) changes nothing.
    w.bus.produce("sg.reviewer.status_changed", revs[1], ev, event_id=event_id)
    w.drain(2.0)
    assert len(w.events("sg.panel.requested", cid)) == 2
    assert len(audit_of(w, cid, "ballot_cancelled")) == 1
    # The substitute's vote counts.
    new = uid("sub")
    w.assign(cid, 2, [new])
    w.seated(cid, [new])
    assert w.vote(cid, revs[2], "violation").status_code == 201
    assert w.vote(cid, new, "violation").status_code == 201
    assert w.case(cid)["tally"] == {"violation": 3, "no_violation": 0}


# ---------------------------------------------------------------- decline reason

def test_decline_reason_is_kept_in_the_audit_trail(w):
    rt = w.rule(panel_size=3, votes_to_decide=2)
    rep, revs = w.open_panel(rt, 3)
    cid = rep["case_id"]
    ballots = {b["reviewer_id"]: b["ballot_id"] for b in w.case(cid)["ballots"]}
    url = f"/v1/ballots/{ballots[revs[0]]}/decline"
    sgtest.problem_ok(w.svc.post(url, {"reason": "x" * 201}, headers=sgtest.user_auth(revs[0])), 400)
    sgtest.problem_ok(w.svc.post(url, {"reason": "ok", "why": "x"}, headers=sgtest.user_auth(revs[0])), 400)
    sgtest.problem_ok(w.svc.post(url, {"reason": 5}, headers=sgtest.user_auth(revs[0])), 400)
    assert w.case(cid)["ballots"][0]["status"] == "open"  # nothing written
    reason = "我认识发帖人" + "é" * 194  # 200 code points, more bytes
    r = w.svc.post(url, {"reason": reason}, headers=sgtest.user_auth(revs[0]))
    assert r.status_code == 200 and r.json()["status"] == "declined", r.text
    declined = audit_of(w, cid, "ballot_declined")
    assert declined[-1]["data"]["reason"] == reason and declined[-1]["actor"] == revs[0]
    r = w.svc.post(f"/v1/ballots/{ballots[revs[1]]}/decline", None, headers=sgtest.user_auth(revs[1]))
    assert r.status_code == 200
    assert "reason" not in audit_of(w, cid, "ballot_declined")[-1]["data"]


# ---------------------------------------------------------------- the people involved

def test_owner_and_reporter_see_their_cases_without_jurors(w):
    rt = w.rule(panel_size=1, votes_to_decide=1, appeal_window_s=3600)
    owner = uid("own")
    rep, revs = w.open_panel(rt, 1, owner=owner)
    cid = rep["case_id"]
    other = w.report(rt, owner=owner)  # a second target of the same owner, still open
    second_reporter = uid("rep")
    w.report(rt, target=rep["target_id"], owner=owner, reporter=second_reporter)
    sgtest.problem_ok(w.svc.get("/v1/me/cases", headers=sgtest.user_auth(owner)), 400)
    sgtest.problem_ok(w.svc.get("/v1/me/cases?role=judge", headers=sgtest.user_auth(owner)), 400)
    sgtest.problem_ok(w.svc.get("/v1/me/cases?role=owner"), 401)
    mine = w.svc.get("/v1/me/cases?role=owner", headers=sgtest.user_auth(owner)).json()
    assert [c["case_id"] for c in mine["items"]] == [other["case_id"], cid] and mine["next_cursor"] is None
    open_item = mine["items"][0]
    assert (open_item["status"], open_item["verdict"], open_item["tally"], open_item["final"],
            open_item["appeal_deadline"], open_item["can_appeal"]) == ("assigning", None, None, False, None, False)
    assert w.vote(cid, revs[0], "violation").status_code == 201
    page = w.svc.get("/v1/me/cases?role=owner&limit=1", headers=sgtest.user_auth(owner)).json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    page2 = w.svc.get(f"/v1/me/cases?role=owner&limit=1&cursor={page['next_cursor']}",
                      headers=sgtest.user_auth(owner)).json()
    item = page2["items"][0]
    assert item["case_id"] == cid
    assert (item["status"], item["verdict"], item["tally"], item["final"], item["can_appeal"]) == (
        "decided", "violation", {"violation": 1, "no_violation": 0}, False, True)
    assert item["appeal_deadline"] and item["decided_at"] and item["report_type"] == rt
    assert item["target_id"] == rep["target_id"]
    text = str(mine) + str(page2)
    assert revs[0] not in text and "ballots" not in text and "reviewer_id" not in text
    # A reporter sees the case, and its appeal once opened; no one else does.
    rs = w.svc.get("/v1/me/cases?role=reporter", headers=sgtest.user_auth(second_reporter)).json()["items"]
    assert [c["case_id"] for c in rs] == [cid] and rs[0]["can_appeal"] is True
    assert w.svc.get("/v1/me/cases?role=reporter", headers=sgtest.user_auth(owner)).json()["items"] == []
    assert w.svc.get("/v1/me/cases?role=owner", headers=sgtest.user_auth(uid("x"))).json()["items"] == []
    r = w.svc.post(f"/v1/cases/{cid}/appeals", {}, headers=sgtest.user_auth(second_reporter))
    aid = r.json()["case_id"]
    rs = w.svc.get("/v1/me/cases?role=reporter", headers=sgtest.user_auth(second_reporter)).json()["items"]
    assert [c["case_id"] for c in rs] == [aid, cid]
    assert rs[1]["can_appeal"] is False and rs[1]["appeal_deadline"] is None and rs[1]["appeal_case_id"] == aid
    assert rs[0]["appeal_of"] == cid and rs[0]["can_appeal"] is False
