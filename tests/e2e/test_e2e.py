"""End to end: report → panel → votes → decision → coins, with all three services
as separate processes sharing one run id (one Kafka topic prefix).

Black box: HTTP and Kafka as API.md defines them; read-only SQL on the
services' schemas only where the API has no view (grant rows, assignment
intervals for the fatigue check)."""
import collections
import concurrent.futures as cf
import random
import re
import time

import pytest

from e2elib import (FATIGUE, REWARD_DUE_SQL, REWARD_RULE, SUMMARY, FINAL, OPEN, JurorSim, call, expected_grants, ledger_by_case,
                    max_overlap, note, ok, paginate, per_case_user, poll, read_topic, stack_fixture, truth_voter,
                    voting_rule)
from sgtest import client_auth, problem_ok

RULES = {
    "e2e_full": voting_rule(),
    # Short timers: ballots expire after 3 s (reminder 1 s before), appeals close after 1 s.
    "e2e_expiry": voting_rule(ballot_timeout_s=3, reminder_before_s=1, case_deadline_s=30, appeal_window_s=1),
    "e2e_appeal": voting_rule(appeal_panel_size=7, appeal_votes_to_decide=4),
    # Escalates at a 4 s deadline, no substitutes.
    "e2e_escalate": voting_rule(panel_size=3, votes_to_decide=2, ballot_timeout_s=3, reminder_before_s=1,
                                max_substitute_rounds=0, case_deadline_s=4, on_deadline="escalate"),
    # No re-report cooldown: a target's later reports open new cases, as the
    # load's rule of coins (every reporter of a decided violation) expects; a
    # report joining a decided case is not part of its decision.
    "e2e_load": voting_rule(ballot_timeout_s=6, reminder_before_s=2, case_deadline_s=40, re_report_cooldown_s=0),
}
V = REWARD_RULE["vote_reward"]
M = REWARD_RULE["majority_bonus"]
RP = REWARD_RULE["reporter_reward"]


@pytest.fixture(scope="module")
def stack():
    yield from stack_fixture(RULES, n_jurors=300, redis_db=12, tag="e")


# ---------------------------------------------------------------- helpers

def open_jurors(case):
    return [b["reviewer_id"] for b in case["ballots"] if b["status"] == "open"]


def ballot_of(case, user):
    bs = [b for b in case["ballots"] if b["reviewer_id"] == user]
    assert len(bs) == 1, f"case {case.get('case_id')}: {len(bs)} ballots for {user}: {case['ballots']}"
    return bs[0]


def wait_my_ballot(stack, user, case_id, status="open", timeout=15):
    def find():
        return next((b for b in stack.my_ballots(user, status) if b.get("case_id") == case_id), None)
    return poll(find, timeout, what=f"GET /v1/me/ballots?status={status} of {user} shows case {case_id}")


def case_grants_sql(stack, case_id):
    """The case's grants, credited or pending (REWARD_DUE_SQL)."""
    rows = stack.sql("reward", f"SELECT user_id, kind, amount_paid FROM ({REWARD_DUE_SQL}) g WHERE case_id = %s",
                     case_id)
    return {(case_id, u, k): a for u, k, a in rows}


def credited_sql(stack, case_id):
    rows = stack.sql("reward", "SELECT user_id, kind, amount_paid FROM grants WHERE case_id = %s", case_id)
    return {(case_id, u, k): a for u, k, a in rows}


def case_coins(stack, user, case_id):
    """Coins of case_id for user: ledger entries plus what is held pending."""
    return ledger_by_case(stack.ledger(user)).get(case_id, 0) + stack.pending_by_case(user).get(case_id, 0)


def wait_case_coins(stack, case_id, want_by_user, timeout=20):
    """Waits until the ledger entries of case_id per user equal want_by_user
    (users absent from the dict must have none); returns the per-user sums."""
    users = set(want_by_user)

    def settled():
        got = {}
        for u in users:
            got[u] = case_coins(stack, u, case_id)
        return got if got == want_by_user else None
    try:
        return poll(settled, timeout, interval=0.3, what=f"ledger (+ pending) of case {case_id}")
    except AssertionError:
        got = {u: case_coins(stack, u, case_id) for u in users}
        raise AssertionError(f"reward: ledger entries + pending of case {case_id} per user {got}, "
                             f"want {want_by_user}")


def appeal(stack, case_id, user):
    """POST /v1/cases/{id}/appeals (API.md fixes no body; a reason is sent)."""
    r = call("POST", f"{stack.report.url}/v1/cases/{case_id}/appeals", {"reason": "e2e appeal"}, stack.tok(user))
    if r.status_code == 400:
        note(f"report: POST /v1/cases/{{id}}/appeals refuses a body with 'reason' (400: {r.text[:200]}); retried with {{}}")
        r = call("POST", f"{stack.report.url}/v1/cases/{case_id}/appeals", {}, stack.tok(user))
    return r


def decided_events(stack, case_id):
    return [e for e in stack.events.of("sg.case.decided", case_id=case_id) if e.get("verdict")]


# ---------------------------------------------------------------- (a) full case

def test_full_case_report_to_coins(stack):
    run, ev = stack.run, stack.events
    owner, rep1, rep2 = f"{run}-a-owner", f"{run}-a-rep1", f"{run}-a-rep2"
    target = f"comment:{run}-a"

    r = stack.post_report("e2e_full", target, owner, rep1, headers={"X-Request-Id": f"e2e-{run}-a"})
    first = ok(r, 201)
    assert r.headers.get("X-Request-Id") == f"e2e-{run}-a", "report: X-Request-Id not echoed"
    assert {"report_id", "case_id", "status"} <= set(first), f"report: POST /v1/reports 201 body {first}"
    cid = first["case_id"]
    second = ok(stack.post_report("e2e_full", target, owner, rep2), 201)
    assert second["case_id"] == cid, "report: a second report of the same open target opened another case"
    problem_ok(stack.post_report("e2e_full", target, owner, rep1), 409)

    req = ev.wait("sg.panel.requested", case_id=cid, what=f"sg.panel.requested of case {cid}")[0]
    assert req["_key"] == cid, f"sg.panel.requested key {req['_key']!r}, want the case id"
    assert req.get("round") is not None and req.get("seats") == 5 and req.get("report_type") == "e2e_full", req
    assert req.get("reviewer_tags") == [] and req.get("deadline"), req
    assert {owner, rep1} <= set(req.get("exclude_user_ids") or []), \
        f"sg.panel.requested exclude_user_ids {req.get('exclude_user_ids')} lacks the owner/reporter"
    for h in ("event_id", "event_type"):
        assert req["_headers"].get(h), f"sg.panel.requested without header {h}: {req['_headers']}"
    assert req["_headers"]["event_id"] == req.get("event_id"), "event_id header differs from the payload's"

    asg = ev.wait("sg.panel.assigned", case_id=cid, what=f"sg.panel.assigned of case {cid}")[0]
    jurors = asg["reviewer_ids"]
    assert asg["_key"] == cid and asg.get("round") == req.get("round"), asg
    assert len(jurors) == 5 == len(set(jurors)) and asg.get("shortfall") == 0, asg
    assert set(jurors) <= set(stack.jurors), f"panel has users outside the pool: {jurors}"

    for j in jurors:
        b = wait_my_ballot(stack, j, cid)
        for k in ("ballot_id", "case_id", "report_type", "reason", "evidence", "deadline", "status"):
            assert k in b, f"report: GET /v1/me/ballots item lacks {k}: {b}"
        assert b["status"] == "open" and b["report_type"] == "e2e_full" and b["reason"] == "abuse", b
    j1, j2, j3, j4, j5 = jurors

    c = stack.case(cid)
    assert c["status"] == "voting" and c.get("tally") is None, f"open case: status {c['status']}, tally {c.get('tally')}"
    ok(stack.vote(cid, j1, "violation", "clearly abusive"), 201)
    ok(stack.vote(cid, j2, "no_violation"), 201)
    problem_ok(stack.vote(cid, j2, "violation"), 409)                       # already voted
    outsider = next(u for u in stack.jurors if u not in jurors)
    problem_ok(stack.vote(cid, outsider, "violation"), 403)                  # not on the panel
    ok(stack.vote(cid, j3, "violation"), 201)
    assert stack.case(cid)["status"] == "voting", "decided before votes_to_decide"
    ok(stack.vote(cid, j4, "violation"), 201)                                 # third violation: decides
    problem_ok(stack.vote(cid, j5, "violation"), 409)                        # case closed

    c = stack.wait_case(cid, ("decided",), timeout=10)
    assert c["verdict"] == "violation" and c["decided_by"] == "panel", c
    assert c["tally"] == {"violation": 3, "no_violation": 1}, f"tally {c['tally']}"
    assert c["rule_version"] == stack.rule_versions["e2e_full"], c
    assert set(c["report_ids"]) == {first["report_id"], second["report_id"]}, c["report_ids"]
    want_status = {j1: "voted", j2: "voted", j3: "voted", j4: "voted", j5: "cancelled"}
    assert {b["reviewer_id"]: b["status"] for b in c["ballots"]} == want_status, c["ballots"]

    rep = ok(call("GET", f"{stack.report.url}/v1/reports/{first['report_id']}", headers=client_auth()), 200)
    assert rep["case_id"] == cid and rep["verdict"] == "violation", rep
    ok(call("GET", f"{stack.report.url}/v1/reports/{first['report_id']}", headers=stack.tok(rep1)), 200)
    problem_ok(call("GET", f"{stack.report.url}/v1/reports/{first['report_id']}", headers=stack.tok(j1)), 403)

    dec = ev.wait("sg.case.decided", case_id=cid, what=f"sg.case.decided of case {cid}")
    assert len({e["event_id"] for e in dec}) == 1, f"{len(dec)} decisions for one case"
    d = dec[0]
    assert d["_key"] == cid and d["verdict"] == "violation" and d["decided_by"] == "panel", d
    assert d["report_type"] == "e2e_full" and d["target_id"] == target and d["target_owner_id"] == owner, d
    assert set(d["reporter_ids"]) == {rep1, rep2}, d["reporter_ids"]
    wm = {b["reviewer_id"]: (b["outcome"], b.get("decision"), b.get("with_majority")) for b in d["ballots"]}
    for j in (j1, j3, j4):
        assert wm[j] == ("voted", "violation", True), (j, wm.get(j))
    assert wm[j2] == ("voted", "no_violation", False), wm.get(j2)
    assert wm.get(j5, ("cancelled",))[0] == "cancelled", wm.get(j5)

    closed = ev.wait("sg.ballot.closed", lambda es: len({e["reviewer_id"] for e in es}) >= 5, case_id=cid)
    outcomes = {e["reviewer_id"]: e["outcome"] for e in closed}
    assert outcomes == want_status, f"sg.ballot.closed outcomes {outcomes}"

    want = {j1: V + M, j2: V, j3: V + M, j4: V + M, j5: 0, rep1: RP, rep2: RP, owner: 0}
    wait_case_coins(stack, cid, want)
    for u, amt in want.items():                                      # fresh users: balance + pending = coins
        assert stack.owed(u, as_ops=False) == amt, f"reward: GET /v1/accounts/{u} balance + pending != {amt}"
    entries = stack.ledger(j1, as_ops=False)
    assert entries and all({"amount", "kind", "created_at"} <= set(e) for e in entries), entries
    assert {e["kind"] for e in entries} == {"grant"} and {e["case_id"] for e in entries} == {cid}, entries
    sqlg = case_grants_sql(stack, cid)
    exp = expected_grants(c, [rep1, rep2])
    assert sqlg == exp, f"reward grants rows {sqlg} != expected {exp}"
    credited = credited_sql(stack, cid)                   # announced when credited (pending: at finality)
    granted = ev.wait("sg.reward.granted", lambda es: len({e["entry_id"] for e in es}) >= len(credited),
                      case_id=cid)
    by_user = collections.Counter()
    for e in {e["entry_id"]: e for e in granted}.values():
        assert e["_key"] == e["user_id"] and e["amount"] > 0 and e.get("kind"), e
        by_user[e["user_id"]] += e["amount"]
    want_credited = collections.Counter()
    for (_, u, _), a in credited.items():
        want_credited[u] += a
    assert dict(by_user) == {u: a for u, a in want_credited.items() if a}, f"sg.reward.granted sums {dict(by_user)}"

    trail = call("GET", f"{stack.report.url}/v1/cases/{cid}/events", headers=stack.ops())
    body = ok(trail, 200)
    items = body["items"] if isinstance(body, dict) else body
    assert len(items) >= 6, f"audit trail too short: {items}"


# ---------------------------------------------------------------- (b) expiry and substitutes

def test_expired_jurors_replaced_by_substitutes(stack):
    run, ev = stack.run, stack.events
    owner, rep = f"{run}-b-owner", f"{run}-b-rep"
    cid = ok(stack.post_report("e2e_expiry", f"forum:{run}-b", owner, rep), 201)["case_id"]
    case = stack.wait_panel(cid, 5)
    a, b, c_, d, e = open_jurors(case)
    ok(stack.vote(cid, a, "violation"), 201)
    ok(stack.vote(cid, b, "violation"), 201)
    ok(stack.vote(cid, c_, "no_violation"), 201)

    def substituted():
        cs = stack.case(cid)
        expired = {x["reviewer_id"] for x in cs["ballots"] if x["status"] == "expired"}
        subs = [x["reviewer_id"] for x in cs["ballots"] if x["status"] == "open" and x["reviewer_id"] not in (a, b, c_, d, e)]
        return (cs, subs) if expired == {d, e} and len(subs) == 2 else None
    # expiry at 3 s (+2 s timer slack), then the substitutes' panel round trip
    cs, subs = poll(substituted, 15, interval=0.2, what=f"case {cid}: D,E expired and 2 substitutes")
    s1, s2 = subs
    assert not ({s1, s2} & {owner, rep}), subs
    problem_ok(stack.vote(cid, d, "violation"), 409)                          # expired ballot
    wait_my_ballot(stack, s1, cid)
    ok(stack.vote(cid, s1, "violation"), 201)                                 # the substitute decides
    problem_ok(stack.vote(cid, s2, "violation"), 409)

    c = stack.wait_case(cid, ("decided",), timeout=10)
    assert (c["verdict"], c["decided_by"], c["tally"]) == ("violation", "panel", {"violation": 3, "no_violation": 1}), c
    st = {x["reviewer_id"]: x["status"] for x in c["ballots"]}
    assert st == {a: "voted", b: "voted", c_: "voted", d: "expired", e: "expired", s1: "voted", s2: "cancelled"}, st
    exp_ballot = wait_my_ballot(stack, d, cid, status="closed")
    assert exp_ballot["status"] == "expired", exp_ballot

    reqs = ev.wait("sg.panel.requested", lambda es: len({x["round"] for x in es}) >= 2, case_id=cid,
                   what="a substitute round in sg.panel.requested")
    rounds = {x["round"] for x in reqs}
    sub_req = [x for x in reqs if x["round"] != min(rounds)]
    assert all({a, b, c_, d, e} <= set(x["exclude_user_ids"]) for x in sub_req), \
        f"substitute request does not exclude the earlier panel: {[x['exclude_user_ids'] for x in sub_req]}"
    ev.wait("sg.ballot.closed", lambda es: {x["reviewer_id"] for x in es if x["outcome"] == "expired"} >= {d, e},
            case_id=cid, what="sg.ballot.closed expired for D and E")
    ev.wait("sg.notification.requested",
            lambda es: {x["user_id"] for x in es if x.get("kind") == "ballot_reminder"} >= {d, e},
            case_id=cid, what="ballot_reminder notifications for the jurors who did not vote")

    want = {a: V + M, b: V + M, s1: V + M, c_: V, d: 0, e: 0, s2: 0, rep: RP, owner: 0}
    wait_case_coins(stack, cid, want)
    assert case_grants_sql(stack, cid) == expected_grants(c, [rep])

    # appeal_window_s is 1 on this rule: an appeal 2 s after the decision is out of the window
    time.sleep(2.2)
    problem_ok(appeal(stack, cid, owner), 409)


# ---------------------------------------------------------------- (c) appeal that overturns

def test_appeal_overturns(stack):
    run, ev = stack.run, stack.events
    owner, rep = f"{run}-c-owner", f"{run}-c-rep"
    first = ok(stack.post_report("e2e_appeal", f"review:{run}-c", owner, rep), 201)
    cid = first["case_id"]
    panel = open_jurors(stack.wait_panel(cid, 5))
    for j in panel[:3]:
        ok(stack.vote(cid, j, "no_violation"), 201)
    c = stack.wait_case(cid, ("decided",), timeout=10)
    assert (c["verdict"], c["decided_by"]) == ("no_violation", "panel"), c

    problem_ok(appeal(stack, cid, panel[3]), 403)                             # not a party
    r = appeal(stack, cid, owner)
    body = ok(r, 201)
    aid = body["case_id"]
    assert aid != cid
    problem_ok(appeal(stack, cid, rep), 409)                                   # a second appeal

    ac = stack.wait_panel(aid, 7, timeout=20)
    apanel = open_jurors(ac)
    assert len(apanel) == 7, apanel
    assert not set(apanel) & set(panel), f"appeal panel reuses earlier panelists: {set(apanel) & set(panel)}"
    assert not set(apanel) & {owner, rep}, apanel
    areq = ev.wait("sg.panel.requested", case_id=aid)[0]
    assert areq["seats"] == 7 and set(panel) <= set(areq["exclude_user_ids"]), areq
    for j in apanel[:3]:
        ok(stack.vote(aid, j, "violation"), 201)
    assert stack.case(aid)["status"] == "voting", "appeal decided before appeal_votes_to_decide (4)"
    ok(stack.vote(aid, apanel[3], "violation"), 201)
    a = stack.wait_case(aid, ("decided",), timeout=10)
    assert (a["verdict"], a["decided_by"]) == ("violation", "appeal"), a
    assert a["tally"] == {"violation": 4, "no_violation": 0}, a["tally"]

    orig = stack.case(cid)
    assert orig["status"] == "decided", orig
    if orig["verdict"] != "no_violation":
        note(f"report: the appealed case's own verdict changed to {orig['verdict']} after the appeal")
    rep_view = ok(call("GET", f"{stack.report.url}/v1/reports/{first['report_id']}", headers=client_auth()), 200)
    if rep_view.get("verdict") != "violation":
        note(f"report: GET /v1/reports/{{id}} of an overturned case shows verdict {rep_view.get('verdict')!r} "
             f"(case {rep_view.get('case_id') == cid and 'original' or 'appeal'}) — the final verdict is violation")

    d0 = ev.wait("sg.case.decided", lambda es: any(e.get("verdict") for e in es), case_id=cid)
    d1 = ev.wait("sg.case.decided", case_id=aid)
    assert len({x["event_id"] for x in d0}) == 1 and d0[0]["verdict"] == "no_violation", d0
    assert len({x["event_id"] for x in d1}) == 1, d1
    assert (d1[0]["verdict"], d1[0]["decided_by"]) == ("violation", "appeal"), d1[0]
    app_reporters = d1[0].get("reporter_ids") or []
    if rep not in app_reporters:
        note(f"report: sg.case.decided of the appeal case has reporter_ids={app_reporters}: the reporter of "
             "the overturned case gets no reporter_reward although the final verdict is violation")

    # Settlement follows the final verdict (API.md v2): the first panel's
    # three jurors keep their vote reward but none voted with the final
    # verdict, so no bonus; reporters are rewarded once per reported case,
    # under that case, because the final verdict is a violation.
    wait_case_coins(stack, cid, {**{j: V for j in panel[:3]}, panel[3]: 0, panel[4]: 0,
                                 **{u: RP for u in app_reporters}})
    want_a = {**{j: V + M for j in apanel[:4]}, **{j: 0 for j in apanel[4:]}, **{u: 0 for u in app_reporters}}
    wait_case_coins(stack, aid, want_a)
    assert case_grants_sql(stack, aid) == expected_grants(a, [])
    assert {k: v for k, v in case_grants_sql(stack, cid).items() if k[2] == "reporter"} == \
        {(cid, u, "reporter"): RP for u in app_reporters}


# ---------------------------------------------------------------- decline, cancel, escalate, resolve

def reviewer_view(stack, user):
    return ok(call("GET", f"{stack.reviewer.url}/v1/reviewers/{user}", headers=stack.ops()), 200)


def count_of(view, key):
    v = view.get(key, (view.get("counts") or {}).get(key))
    assert isinstance(v, int), f"reviewer: GET /v1/reviewers/{{id}} has no count {key!r}: {view}"
    return v


def test_decline_substitute_then_cancel(stack):
    run, ev = stack.run, stack.events
    owner, rep = f"{run}-e-owner", f"{run}-e-rep"
    cid = ok(stack.post_report("e2e_full", f"listing:{run}-e", owner, rep), 201)["case_id"]
    panel = open_jurors(stack.wait_panel(cid, 5))
    j1 = panel[0]
    mine = wait_my_ballot(stack, j1, cid)
    r = call("POST", f"{stack.report.url}/v1/ballots/{mine['ballot_id']}/decline", {}, stack.tok(j1))
    assert r.status_code in (200, 201, 204), f"report: POST /v1/ballots/{{id}}/decline -> {r.status_code} {r.text}"
    problem_ok(call("POST", f"{stack.report.url}/v1/ballots/{mine['ballot_id']}/decline", {}, stack.tok(panel[1])), 403)

    def replaced():
        c = stack.case(cid)
        st = {b["reviewer_id"]: b["status"] for b in c["ballots"]}
        subs = [u for u, x in st.items() if u not in panel and x == "open"]
        return subs if st.get(j1) == "declined" and len(subs) == 1 else None
    sub = poll(replaced, 15, what=f"case {cid}: declined ballot replaced by a substitute")[0]
    problem_ok(stack.vote(cid, j1, "violation"), 409)
    ev.wait("sg.ballot.closed", lambda es: any(e["reviewer_id"] == j1 and e["outcome"] == "declined" for e in es),
            case_id=cid, what="sg.ballot.closed declined")
    poll(lambda: count_of(reviewer_view(stack, j1), "declined") >= 1, 10, what="reviewer counts the decline")
    ok(stack.vote(cid, panel[1], "violation"), 201)

    r = call("POST", f"{stack.report.url}/v1/cases/{cid}/cancel", {"reason": "content deleted"}, client_auth())
    assert r.status_code == 200, f"report: POST /v1/cases/{{id}}/cancel -> {r.status_code} {r.text}"
    c = stack.case(cid)
    assert c["status"] == "cancelled" and c["verdict"] is None, c
    left = {b["reviewer_id"]: b["status"] for b in c["ballots"]}
    assert all(left[u] == "cancelled" for u in panel[2:] + [sub]), left
    assert left[panel[1]] == "voted" and left[j1] == "declined", left
    problem_ok(stack.vote(cid, panel[2], "violation"), 409)
    problem_ok(call("POST", f"{stack.report.url}/v1/cases/{cid}/cancel", {"reason": "again"}, client_auth()), 409)
    ev.wait("sg.ballot.closed", lambda es: {e["reviewer_id"] for e in es if e["outcome"] == "cancelled"}
            >= set(panel[2:] + [sub]), case_id=cid, what="sg.ballot.closed cancelled for the open ballots")
    assert not decided_events(stack, cid), "a cancelled case produced a decision"
    for u in panel + [sub]:
        assert not [b for b in stack.my_ballots(u, "open") if b["case_id"] == cid], f"{u} still has an open ballot"
    time.sleep(1.0)                                                             # nothing may be granted
    assert case_grants_sql(stack, cid) == {}, "reward granted coins for a cancelled case"
    poll(lambda: not stack.sql("reviewer", "SELECT reviewer_id FROM assignments WHERE case_id = %s AND open", cid),
         10, what="reviewer closed every assignment of the cancelled case")


def test_escalate_at_deadline_then_ops_resolve(stack):
    run, ev = stack.run, stack.events
    owner, rep = f"{run}-f-owner", f"{run}-f-rep"
    cid = ok(stack.post_report("e2e_escalate", f"im:{run}-f", owner, rep), 201)["case_id"]
    j1, j2, j3 = open_jurors(stack.wait_panel(cid, 3))
    problem_ok(call("POST", f"{stack.report.url}/v1/cases/{cid}/resolve", {"verdict": "violation", "note": "x"},
                    stack.ops()), 409)                                          # not escalated yet
    ok(stack.vote(cid, j1, "violation"), 201)
    ok(stack.vote(cid, j2, "no_violation"), 201)
    c = stack.wait_case(cid, ("escalated",), timeout=12)                       # deadline 4 s + 2 s slack
    assert c["verdict"] is None and c["decided_by"] is None and c.get("tally") is None, c
    assert {b["reviewer_id"]: b["status"] for b in c["ballots"]}[j3] in ("expired", "cancelled"), c["ballots"]
    problem_ok(call("POST", f"{stack.report.url}/v1/cases/{cid}/resolve", {"verdict": "violation", "note": "x"},
                    stack.tok(j1)), 403)
    r = call("POST", f"{stack.report.url}/v1/cases/{cid}/resolve", {"verdict": "violation", "note": "ops looked"},
             stack.ops())
    assert r.status_code == 200, f"report: POST /v1/cases/{{id}}/resolve -> {r.status_code} {r.text}"
    c = stack.wait_case(cid, ("decided",), timeout=5)
    assert (c["verdict"], c["decided_by"]) == ("violation", "ops"), c
    d = ev.wait("sg.case.decided", lambda es: any(e.get("verdict") for e in es), case_id=cid)
    assert [(e["verdict"], e["decided_by"]) for e in d if e.get("verdict")][0] == ("violation", "ops"), d
    wait_case_coins(stack, cid, {j1: V + M, j2: V, j3: 0, rep: RP, owner: 0})
    assert case_grants_sql(stack, cid) == expected_grants(c, [rep])


# ---------------------------------------------------------------- audit cases (issue 17)

def test_audit_case_pays_the_bonus_by_the_expected_verdict(stack):
    """An audit case is seated by the reviewer service like any case; every
    voter earns vote_reward at the decision, the majority bonus goes to the
    jurors who voted the expected verdict (here the minority), at once: the
    case is final at its decision. Its owner and reporter earn nothing."""
    run, ev = stack.run, stack.events
    owner = f"{run}-g-owner"
    body = {"report_type": "e2e_full", "target_id": f"listing:{run}-g", "target_owner_id": owner,
            "reason": "counterfeit", "evidence": {"photo": "https://img.example/g.png"},
            "expected_verdict": "no_violation"}
    aid = ok(call("POST", f"{stack.report.url}/v1/audit-cases", body, stack.ops()), 201)["case_id"]
    panel = open_jurors(stack.wait_panel(aid, 5))
    assert owner not in panel
    mine = wait_my_ballot(stack, panel[0], aid)
    assert (mine["reason"], mine["evidence"]) == ("counterfeit", body["evidence"]) and "audit" not in mine
    ok(stack.vote(aid, panel[0], "no_violation"), 201)
    for j in panel[1:4]:
        ok(stack.vote(aid, j, "violation"), 201)
    c = stack.wait_case(aid, ("decided",), timeout=10)
    assert (c["verdict"], c["decided_by"], c["final"]) == ("violation", "panel", True), c
    d = ev.wait("sg.case.decided", case_id=aid)[0]
    assert d["reporter_ids"] == [], d
    wait_case_coins(stack, aid, {panel[0]: V + M, **{j: V for j in panel[1:4]}, panel[4]: 0, owner: 0,
                                 "sg:audit": 0})
    # Final at its decision: the bonus is credited, not held pending.
    poll(lambda: ledger_by_case(stack.ledger(panel[0])).get(aid) == V + M, 15,
         what=f"the bonus of audit case {aid} credited")
    # The reviewer service counts gold votes from sg.case.finalized (ops only).
    poll(lambda: all(reviewer_view(stack, j).get("gold_votes") == 1 for j in panel[:4]), 15,
         what="gold votes of the audit case's voters")
    assert [reviewer_view(stack, j)["gold_accuracy"] for j in panel[:4]] == [1.0, 0.0, 0.0, 0.0]
    assert reviewer_view(stack, panel[4]).get("gold_votes") == 0
    listed = [i for i in paginate(f"{stack.report.url}/v1/audit-cases", stack.ops()) if i["case_id"] == aid]
    assert [(i["matched"], i["votes_matching"]) for i in listed] == [(False, 1)], listed


# ---------------------------------------------------------------- (d) load

def reporter_ballot_problems(stack, case_id, ballot):
    """A reporter of a case may hold a ballot on it only when they were seated
    before they reported, and then it must not be open or voted (reporting
    cancels an open ballot). Checked against the case's audit trail."""
    who = ballot["reviewer_id"]
    if ballot["status"] in ("open", "voted"):
        return [f"{case_id}: reporter {who} holds a {ballot['status']} ballot"]
    audit = paginate(f"{stack.report.url}/v1/cases/{case_id}/events", stack.ops())
    seated = [i for i, e in enumerate(audit)
              if e["kind"] == "panel_assigned" and who in (e.get("data") or {}).get("reviewer_ids", [])]
    reported = [i for i, e in enumerate(audit)
                if e["kind"] in ("opened", "report_joined") and (e.get("data") or {}).get("reporter_id") == who]
    if not seated or not reported or seated[0] > reported[0]:
        return [f"{case_id}: reporter {who} seated (events {seated}) after reporting (events {reported})"]
    return []


def test_load_500_reports_50_targets(stack):
    run, ev = stack.run, stack.events
    t_start = time.time()
    N, T, R = 500, 50, 300
    rng = random.Random(run)
    truth = {t: ("violation" if rng.random() < 0.6 else "no_violation") for t in range(T)}
    targets = {t: f"listing:{run}-L{t:02d}" for t in range(T)}
    # Some targets are owned by jurors and some reporters are jurors: selection must skip them.
    owners = {t: (stack.jurors[-1 - t] if t < 5 else f"{run}-own{t:02d}") for t in range(T)}
    reporters = [stack.jurors[-10 - i] if i < 30 else f"{run}-rep{i:03d}" for i in range(R)]
    never = set(stack.jurors[::10])                                             # 10 % never vote

    sim = JurorSim(stack, stack.jurors, truth_voter(never), threads=6, idle_s=2.0)
    ev.listeners.append(sim.on_event)
    sim.start()
    reports = {}                                                                # report_id -> (t, reporter)
    statuses = collections.Counter()
    case_ids = set()
    voted_refused = []                                                          # (case_id, reporter) refused 409
    retried = 0
    try:
        pace = 0.09
        t0 = time.time()
        for i in range(N):
            t, k = i % T, i // T
            reporter = reporters[(t * 6 + k) % R]
            delay = t0 + i * pace - time.time()
            if delay > 0:
                time.sleep(delay)
            r, attempts = stack.post_report_retry("e2e_load", targets[t], owners[t], reporter,
                                                  evidence={"truth": truth[t], "n": i}, reason="spam")
            retried += attempts > 1
            statuses[getattr(r, "status_code", r)] += 1
            if getattr(r, "status_code", None) in (200, 201):
                b = r.json()
                reports[b["report_id"]] = (t, reporter)
                case_ids.add(b["case_id"])
            elif getattr(r, "status_code", None) == 409 and "already voted" in r.json().get("detail", ""):
                # A juror who voted on the open case cannot report it as well ("reporter … has already
                # voted on case <id> as a panelist").
                m = re.search(r"on case (\S+)", r.json()["detail"])
                voted_refused.append((m.group(1) if m else r.json()["detail"], reporter))
        t_posted = time.time()
        assert statuses[201] + statuses[200] + len(voted_refused) == N and statuses[200] <= retried, \
            (f"report: POST /v1/reports final statuses {dict(statuses)} ({retried} retried with their "
             f"Idempotency-Key, {len(voted_refused)} refused: reporter voted on the case)")

        remaining = set(case_ids)

        def all_final():
            for c in list(remaining):
                if stack.case(c)["status"] in FINAL:
                    remaining.discard(c)
            return not remaining
        poll(all_final, 90, interval=1.0, what=f"every load case final ({len(remaining)} open)")
        t_final = time.time()
    finally:
        sim.stop()
        ev.listeners.remove(sim.on_event)

    listed = {}
    for st in FINAL + OPEN:
        for c in paginate(f"{stack.report.url}/v1/cases?status={st}&report_type=e2e_load", stack.ops()):
            listed[c.get("case_id") or c.get("id")] = st
    assert set(listed) == case_ids, f"GET /v1/cases lists {len(listed)} load cases, reports name {len(case_ids)}"
    cases = {}
    with cf.ThreadPoolExecutor(8) as ex:
        for c in ex.map(stack.case, sorted(case_ids)):
            cases[c.get("case_id") or c.get("id")] = c
    by_status = collections.Counter(c["status"] for c in cases.values())
    assert set(by_status) <= {"decided", "escalated"}, f"load cases not final: {dict(by_status)}"

    # Panels: right people, tallies consistent with ballots, every accepted vote counted.
    ineligible = set(stack.ineligible)
    votes_ok = [(cid, j, d) for _, j, cid, _, d, st in sim.votes if st == 201]
    problems = []
    for cid, c in cases.items():
        reps = {reports[r][1] for r in c["report_ids"]}
        owner = owners[reports[c["report_ids"][0]][0]]
        who = [b["reviewer_id"] for b in c["ballots"]]
        if len(who) != len(set(who)):
            problems.append(f"{cid}: a reviewer sits twice {who}")
        bad = set(who) & ({owner} | ineligible)
        if bad:
            problems.append(f"{cid}: ineligible panelists {bad}")
        for b in c["ballots"]:
            if b["reviewer_id"] in reps:
                problems += reporter_ballot_problems(stack, cid, b)
        voted = collections.Counter(b["decision"] for b in c["ballots"] if b["status"] == "voted")
        if c["status"] == "decided":
            if c["tally"] != {"violation": voted["violation"], "no_violation": voted["no_violation"]}:
                problems.append(f"{cid}: tally {c['tally']} vs ballots {dict(voted)}")
            if c["decided_by"] == "panel" and voted[c["verdict"]] != 3:
                problems.append(f"{cid}: decided by panel with {voted[c['verdict']]} votes for the verdict")
    dec_of = {(b_case, b["reviewer_id"]): b for b_case, c in cases.items() for b in c["ballots"]}
    for cid, j in voted_refused:
        if dec_of.get((cid, j), {}).get("status") != "voted":
            problems.append(f"report by {j} on {cid} refused (voted as a panelist), ballot {dec_of.get((cid, j))}")
    for cid, j, d in votes_ok:
        b = dec_of.get((cid, j))
        if not b or b["status"] != "voted" or b.get("decision") != d:
            problems.append(f"vote of {j} on {cid} ({d}, 201) shows as {b}")
    assert not problems, f"{len(problems)} panel/tally problems: {problems[:10]}"
    assert not [k for k in sim.errors if k.endswith(" 500")], f"juror errors {dict(sim.errors)}"

    # Coins: the reward rule applied exactly once to every decided case.
    expected = {}
    for cid, c in cases.items():
        expected.update(expected_grants(c, sorted({reports[r][1] for r in c["report_ids"]})))

    def grants_now():
        rows = stack.sql("reward", f"SELECT case_id, user_id, kind, amount_paid FROM ({REWARD_DUE_SQL}) g "
                         "WHERE case_id = ANY(%s)", list(case_ids))
        return {(c, u, k): a for c, u, k, a in rows}
    try:
        poll(lambda: grants_now() == expected, 60, interval=1.0, what="reward grants of the load cases")
    except AssertionError:
        got = grants_now()
        missing = {k: v for k, v in expected.items() if got.get(k) != v}
        extra = {k: v for k, v in got.items() if k not in expected}
        raise AssertionError(f"reward grants: {len(missing)} missing/wrong e.g. {list(missing.items())[:5]}, "
                             f"{len(extra)} unexpected e.g. {list(extra.items())[:5]}")
    want_cu = per_case_user(expected)
    users = sorted(set(stack.jurors) | set(reporters) | set(owners.values()))
    ledgers = {}
    with cf.ThreadPoolExecutor(8) as ex:
        for u, entries in zip(users, ex.map(stack.ledger, users)):
            ledgers[u] = entries
    pend = collections.Counter()
    for c, u, a in stack.sql("reward", "SELECT case_id, user_id, sum(amount) FROM pending_grants "
                                       "WHERE case_id = ANY(%s) GROUP BY 1, 2", list(case_ids)):
        pend[(c, u)] += int(a)
    mism = []
    for u in users:
        by_case = ledger_by_case(ledgers[u])
        for (c, uu), a in pend.items():
            if uu == u:
                by_case[c] += a
        for cid in case_ids:
            if by_case.get(cid, 0) != want_cu.get((cid, u), 0):
                mism.append((u, cid, by_case.get(cid, 0), want_cu.get((cid, u), 0)))
    assert not mism, f"reward ledger per (user, case) differs from the rule: {mism[:10]} ({len(mism)})"
    bal_mism = []
    with cf.ThreadPoolExecutor(8) as ex:
        for u, bal in zip(users, ex.map(stack.balance, users)):
            if bal != sum(e["amount"] for e in ledgers[u]):
                bal_mism.append((u, bal))
    assert not bal_mism, f"reward: balance != sum of ledger for {bal_mism[:10]}"

    decisions = collections.defaultdict(set)
    for e in read_topic(stack.prefix, "sg.case.decided"):
        if e.get("case_id") in cases and e.get("verdict"):
            decisions[e["case_id"]].add((e["event_id"], e["verdict"]))
    dec_bad = {}
    for cid, c in cases.items():
        got = decisions.get(cid, set())
        if c["status"] == "decided":
            if len({e for e, _ in got}) != 1 or {v for _, v in got} != {c["verdict"]}:
                dec_bad[cid] = got
        elif got:
            dec_bad[cid] = got
    assert not dec_bad, f"sg.case.decided: not exactly one decision per decided case: {list(dec_bad.items())[:5]}"

    # Fatigue: never over max_open_ballots at once, never over max_per_day assignments a day.
    over, peaks = [], {}
    for svc, q in (("reviewer", "SELECT reviewer_id, assigned_at, closed_at FROM assignments"),
                   ("report", "SELECT reviewer_id, assigned_at, closed_at FROM ballots")):
        per = collections.defaultdict(list)
        for rid, a, cl in stack.sql(svc, q):
            per[rid].append((a, cl))
        for rid, iv in per.items():
            peak = max_overlap(iv)
            if peak > FATIGUE["max_open_ballots"]:
                over.append(f"{svc}: {rid} had {peak} open ballots at once")
            days = collections.Counter(a.date() for a, _ in iv)
            pk = peaks.setdefault(svc, [0, 0])
            pk[0], pk[1] = max(pk[0], peak), max(pk[1], max(days.values()))
            if max(days.values()) > FATIGUE["max_per_day"]:
                over.append(f"{svc}: {rid} assigned {max(days.values())} times in a day")
    assert not over, f"fatigue limits exceeded: {over[:10]}"
    poll(lambda: not stack.sql("reviewer", "SELECT user_id, open_ballots FROM users WHERE open_ballots <> 0"), 20,
         interval=0.5, what="reviewer: open_ballots back to 0 once every case is final")

    t_end = time.time()
    SUMMARY.append(
        f"load: reports={N} refused(voted panelist)={len(voted_refused)} cases={len(cases)} "
        f"decided={by_status['decided']} escalated={by_status['escalated']} "
        f"votes={len(votes_ok)} grants={len(expected)} coins={sum(expected.values())} "
        f"retried posts={retried} posting={t_posted - t_start:.0f}s drain={t_final - t_posted:.0f}s checks={t_end - t_final:.0f}s "
        f"juror polls={sim.polls} errors={dict(sim.errors)} "
        f"peak open/day per juror={peaks} (limits {FATIGUE['max_open_ballots']}/{FATIGUE['max_per_day']})")
