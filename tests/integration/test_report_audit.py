"""Report service, issue 17: audit cases (API.md "Audit cases (v2, ops)")
against the real devstack. An audit case runs like a case and its jurors
see nothing different (ballots and notifications compared key by key with a
real case's); it never leaves the platform (no callback, nothing on
sg.case.outcome, invisible to clients, owners and reporters, no appeal) and
is final at its decision, with audit and expected_verdict in
sg.case.finalized. As in test_report_lifecycle, the test plays the reviewer
service."""
import pytest

import sgtest
from callback_receiver import CallbackReceiver, parse
from test_report_lifecycle import World, kinds, uid

TOPICS = ("sg.panel.requested", "sg.ballot.closed", "sg.case.decided", "sg.case.finalized", "sg.case.outcome",
          "sg.notification.requested")
AUDIT_REPORTER = "sg:audit"  # intake.h RP_AUDIT_REPORTER
EVIDENCE = {"screenshot": "https://img.example/1.png", "text": "buy followers cheap"}


@pytest.fixture(scope="module")
def svc():
    with sgtest.running("report", env={"SG_CALLBACK_MAX_BACKOFF_S": "1", "SG_CALLBACK_MAX_ATTEMPTS": "5"},
                        topics=("sg.panel.assigned", "sg.reviewer.status_changed")) as s:
        yield s


@pytest.fixture(scope="module")
def bus(svc):
    with sgtest.reading(svc, TOPICS) as br:
        yield br


@pytest.fixture
def w(svc, bus):
    return World(svc, bus)


def audit_case(w, rt, expected="violation", **over):
    body = {"report_type": rt, "target_id": uid("item"), "target_owner_id": uid("own"), "reason": "spam",
            "description": "too good to be true", "evidence": EVIDENCE, "expected_verdict": expected}
    body.update(over)
    r = w.svc.post("/v1/audit-cases", body, headers=sgtest.ops_auth())
    assert r.status_code == 201, r.text
    assert list(r.json()) == ["case_id"]
    return dict(body, case_id=r.json()["case_id"])


def seat(w, case_id, jurors):
    w.panel_request(case_id, 1)
    w.assign(case_id, 1, jurors)
    w.seated(case_id, jurors)


def my_ballot(w, juror, case_id):
    items = w.svc.get("/v1/me/ballots", headers=sgtest.user_auth(juror)).json()["items"]
    return next(b for b in items if b["case_id"] == case_id)


def notes(w, case_id, user=None):
    return w.events("sg.notification.requested", case_id, lambda e: user is None or e["user_id"] == user)


def shape(event):
    """The keys of an event, without the test reader's own (_topic, ...)."""
    return sorted(k for k in event if not k.startswith("_"))


# ---------------------------------------------------------------- the juror's view and the decision

def test_audit_case_is_decided_by_its_panel_like_a_real_case_and_never_leaves(w):
    rt = w.rule(panel_size=3, votes_to_decide=2)
    with CallbackReceiver() as rx:
        real = w.report(rt, reason="spam", description="too good to be true", evidence=EVIDENCE,
                        callback_url=rx.url("/real"))
        # Ops may audit an item that upstream reported: the two cases run side by side.
        audit = audit_case(w, rt, "violation", target_id=real["target_id"])
        rid, aid = real["case_id"], audit["case_id"]
        # The same rule, the same panel request.
        preq, areq = w.panel_request(rid, 1), w.panel_request(aid, 1)
        assert (areq["seats"], areq["report_type"], areq["reviewer_tags"]) == (3, rt, [])
        assert shape(areq) == shape(preq)
        # The same three jurors sit on both.
        jurors = [uid("rev") for _ in range(3)]
        for cid in (rid, aid):
            seat(w, cid, jurors)

        # A juror's ballots: the same keys, the same report fields, nothing says audit.
        for j in jurors:
            rb, ab = my_ballot(w, j, rid), my_ballot(w, j, aid)
            assert sorted(ab) == sorted(rb)
            for k in ("report_type", "reason", "description", "evidence", "status", "round", "appeal"):
                assert ab[k] == rb[k], k
            assert "audit" not in str(ab).lower() and ab["target_id"] == rb["target_id"] == audit["target_id"]
        # Their notifications: the same keys, kinds and recipients.
        rn = w.wait_events("sg.notification.requested", rid, 3, lambda e: e["kind"] == "ballot_assigned")
        an = w.wait_events("sg.notification.requested", aid, 3, lambda e: e["kind"] == "ballot_assigned")
        assert {tuple(shape(e)) for e in an} == {tuple(shape(e)) for e in rn} and len({tuple(shape(e)) for e in an}) == 1
        assert sorted(e["user_id"] for e in an) == sorted(jurors)
        assert all(e["_key"] == e["user_id"] and e["ballot_id"] for e in an)

        # Two of three vote violation on each: decided by the panel.
        for cid in (rid, aid):
            for j in jurors[:2]:
                assert w.vote(cid, j, "violation").status_code == 201
        a = w.case(aid)
        assert (a["status"], a["verdict"], a["decided_by"]) == ("decided", "violation", "panel")
        assert a["tally"] == {"violation": 2, "no_violation": 0}
        # Final at its decision (no window), unlike the real case.
        assert (a["final"], a["finalized_by"], a["audit"], a["expected_verdict"]) == (True, "decision", True,
                                                                                      "violation")
        r = w.case(rid)
        assert (r["final"], r["audit"], r["expected_verdict"]) == (False, False, None)

        # sg.case.decided: the same shape (reward pays vote_reward as usual); no reporter to pay.
        rd, ad = w.wait_events("sg.case.decided", rid)[0], w.wait_events("sg.case.decided", aid)[0]
        assert shape(ad) == shape(rd)
        assert ad["reporter_ids"] == [] and rd["reporter_ids"] == [real["reporter_id"]]
        assert sorted(b["reviewer_id"] for b in ad["ballots"]) == sorted(jurors)
        # sg.case.finalized carries audit and the expected verdict.
        fin = w.wait_events("sg.case.finalized", aid)
        assert len(fin) == 1
        f = fin[0]
        assert (f["final_verdict"], f["finalized_by"], f["appeal_case_id"], f["audit"], f["expected_verdict"]) == (
            "violation", "decision", None, True, "violation")
        assert f["_key"] == aid

        # The real case calls back and reaches sg.case.outcome; the audit case does neither.
        sgtest.wait_for(lambda: rx.received("/real"), timeout=20, what="the real case's callback")
        assert parse(rx.received("/real")[0])["case_id"] == rid
        w.wait_events("sg.case.outcome", rid, pred=lambda e: e["kind"] == "decided")
        w.drain(2.0)
        assert not w.events("sg.case.outcome", aid)
        assert all(parse(q)["case_id"] != aid for q in rx.received())
        cbs = w.svc.get(f"/v1/callbacks?case_id={aid}", headers=sgtest.ops_auth()).json()["items"]
        assert cbs == []
        trail = kinds(w.audit(aid))
        assert trail[0] == "opened" and "decided" in trail and trail[-1] == "finalized"
        assert not [k for k in trail if k.startswith("callback")]

        # Nothing else told the jurors anything the real case's jurors were not told:
        # the same kinds on sg.notification.requested (with the same keys) and in the
        # inbox, whose rows have the same keys and the same data keys.
        for j in jurors[:2]:
            for cid in (rid, aid):
                w.wait_events("sg.notification.requested", cid,
                              pred=lambda e, j=j: e["user_id"] == j and e["kind"] == "case_outcome", timeout=10)
        for j in jurors:
            ra, aa = notes(w, rid, j), notes(w, aid, j)
            assert sorted(e["kind"] for e in aa) == sorted(e["kind"] for e in ra)
            assert {tuple(shape(e)) for e in aa} == {tuple(shape(e)) for e in ra}
            inbox = w.svc.get("/v1/me/notifications?limit=200", headers=sgtest.user_auth(j)).json()["items"]

            def rows(cid):
                return sorted((n["kind"], tuple(sorted(n)), tuple(sorted(n["data"] or {})))
                              for n in inbox if n["case_id"] == cid)
            assert rows(aid) == rows(rid)
            assert {k for k, _, _ in rows(aid)} >= ({"ballot_assigned", "case_outcome"} if j in jurors[:2]
                                                     else {"ballot_assigned"})
            assert "audit" not in str([n for n in inbox if n["case_id"] == aid]).lower()
        # Its owner and its reporter are nobody: not told.
        assert not notes(w, aid, audit["target_owner_id"]) and not notes(w, aid, AUDIT_REPORTER)
        assert notes(w, rid, real["target_owner_id"])

        # The ops listing: the outcome against the known answer.
        items = w.svc.get("/v1/audit-cases", headers=sgtest.ops_auth()).json()["items"]
        it = next(i for i in items if i["case_id"] == aid)
        assert (it["status"], it["verdict"], it["expected_verdict"], it["matched"], it["final"]) == (
            "decided", "violation", "violation", True, True)
        assert it["tally"] == {"violation": 2, "no_violation": 0} and it["votes_matching"] == 2
        assert it["decided_at"] == a["decided_at"] and it["decided_by"] == "panel"
        assert rid not in {i["case_id"] for i in items} and it["target_id"] == audit["target_id"]
        # The case's own key (ops view) is not the item's: it neither takes nor blocks its reports.
        assert a["target_id"] == f"sg:audit:{aid}" and r["target_id"] == real["target_id"]


def test_audit_case_decided_against_its_expected_verdict(w):
    rt = w.rule(panel_size=1, votes_to_decide=1)
    audit = audit_case(w, rt, "no_violation")
    aid = audit["case_id"]
    juror = uid("rev")
    seat(w, aid, [juror])
    item = next(i for i in w.svc.get("/v1/audit-cases?status=voting", headers=sgtest.ops_auth()).json()["items"]
                if i["case_id"] == aid)
    # Blind: nothing of the votes while it is open.
    assert (item["verdict"], item["matched"], item["tally"], item["votes_matching"]) == (None, None, None, None)
    assert w.vote(aid, juror, "violation").status_code == 201
    f = w.wait_events("sg.case.finalized", aid)[0]
    assert (f["final_verdict"], f["audit"], f["expected_verdict"]) == ("violation", True, "no_violation")
    item = next(i for i in w.svc.get("/v1/audit-cases?status=decided", headers=sgtest.ops_auth()).json()["items"]
                if i["case_id"] == aid)
    assert (item["matched"], item["votes_matching"]) == (False, 0)
    # Pagination: one per page, newest first.
    page = w.svc.get("/v1/audit-cases?limit=1", headers=sgtest.ops_auth()).json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    nxt = w.svc.get(f"/v1/audit-cases?limit=1&cursor={page['next_cursor']}", headers=sgtest.ops_auth()).json()
    assert nxt["items"] and nxt["items"][0]["case_id"] != page["items"][0]["case_id"]


def test_escalated_audit_case_resolved_by_ops_is_final_and_silent(w):
    rt = w.rule(panel_size=1, votes_to_decide=1, ballot_timeout_s=2, case_deadline_s=2, on_deadline="escalate",
                max_substitute_rounds=0)
    aid = audit_case(w, rt, "violation")["case_id"]
    w.wait_case(aid, lambda c: c["status"] == "escalated", timeout=15, what="audit case escalated")
    r = w.svc.post(f"/v1/cases/{aid}/resolve", {"verdict": "violation"}, headers=sgtest.ops_auth())
    assert r.status_code == 200, r.text
    assert r.json()["final"] is True and r.json()["finalized_by"] == "ops"
    f = w.wait_events("sg.case.finalized", aid)[0]
    assert (f["finalized_by"], f["audit"], f["expected_verdict"]) == ("ops", True, "violation")
    w.drain(1.0)
    assert not w.events("sg.case.outcome", aid)


# ---------------------------------------------------------------- invisible, unappealable

def test_audit_case_is_invisible_to_clients_owners_reporters_and_not_appealable(w):
    rt = w.rule(panel_size=1, votes_to_decide=1)
    audit = audit_case(w, rt, "violation")
    aid, owner = audit["case_id"], audit["target_owner_id"]
    real, (rj,) = w.open_panel(rt, 1)
    rid = real["case_id"]
    juror = uid("rev")
    seat(w, aid, [juror])

    # No client sees it or acts on it: 404 as for a case that does not exist.
    for client in ("product", "forum"):
        sgtest.problem_ok(w.svc.get(f"/v1/cases/{aid}", headers=sgtest.client_auth(client)), 404)
        sgtest.problem_ok(w.svc.post(f"/v1/cases/{aid}/cancel", {"reason": "gone"},
                                     headers=sgtest.client_auth(client)), 404)
    # Its report is the platform's own: not even its synthetic reporter reads it.
    report_id = w.case(aid)["report_ids"][0]
    sgtest.problem_ok(w.svc.get(f"/v1/reports/{report_id}", headers=sgtest.user_auth(AUDIT_REPORTER)), 404)
    sgtest.problem_ok(w.svc.get(f"/v1/reports/{report_id}", headers=sgtest.client_auth()), 404)
    assert w.svc.get(f"/v1/reports/{report_id}", headers=sgtest.ops_auth()).status_code == 200

    # A report of the same target from upstream opens a real case of its own.
    joined = w.report(rt, target=audit["target_id"], owner=owner)
    assert joined["case_id"] != aid and joined["status"] == "assigning"
    assert w.case(aid)["report_ids"] == [report_id]
    # Its key is no item: a report naming it is refused, whether the case exists or not.
    for key in (f"sg:audit:{aid}", f"sg:audit:{rid}"):
        r = w.svc.post("/v1/reports", {"report_type": rt, "target_id": key, "target_owner_id": owner,
                                       "reporter_id": uid("rep"), "reason": "abuse"}, headers=sgtest.client_auth())
        sgtest.problem_ok(r, 422)

    assert w.vote(aid, juror, "violation").status_code == 201
    assert w.vote(rid, rj, "violation").status_code == 201
    # Appeals: a juror gets what a real case's juror gets (403, not a party);
    # the named owner gets 409, as for any case that can no longer be appealed.
    ra = w.svc.post(f"/v1/cases/{rid}/appeals", {}, headers=sgtest.user_auth(rj))
    aa = w.svc.post(f"/v1/cases/{aid}/appeals", {}, headers=sgtest.user_auth(juror))
    assert ra.status_code == aa.status_code == 403
    assert ra.json()["detail"] == aa.json()["detail"]
    sgtest.problem_ok(w.svc.post(f"/v1/cases/{aid}/appeals", {}, headers=sgtest.user_auth(owner)), 409)
    sgtest.problem_ok(w.svc.post(f"/v1/cases/{aid}/appeals", {}, headers=sgtest.user_auth(AUDIT_REPORTER)), 409)
    assert w.case(aid)["appeal_case_id"] is None

    # In nobody's GET /v1/me/cases; the owner still sees their real case.
    mine = w.svc.get("/v1/me/cases?role=owner", headers=sgtest.user_auth(owner)).json()["items"]
    assert [c["case_id"] for c in mine] == [joined["case_id"]]
    theirs = w.svc.get("/v1/me/cases?role=reporter", headers=sgtest.user_auth(AUDIT_REPORTER)).json()["items"]
    assert theirs == []


# ---------------------------------------------------------------- intake

def test_audit_case_validation_and_access(w):
    rt = w.rule(panel_size=1, votes_to_decide=1)
    good = {"report_type": rt, "target_id": uid("item"), "target_owner_id": uid("own"), "reason": "spam",
            "expected_verdict": "violation"}
    ops = sgtest.ops_auth()

    def post(body, headers=ops):
        return w.svc.post("/v1/audit-cases", body, headers=headers)

    for bad in ({"expected_verdict": None}, {"expected_verdict": "maybe"}, {"reporter_id": uid("rep")},
                {"callback_url": "https://x.example/cb"}, {"report_type": "Bad-Type"}, {"reason": ""},
                {"evidence": "not an object"}, {"target_id": "has space"}):
        sgtest.problem_ok(post(dict(good, **bad)), 400)
    missing = dict(good)
    del missing["expected_verdict"]
    sgtest.problem_ok(post(missing), 400)
    sgtest.problem_ok(post(dict(good, report_type="t_no_rule_" + uid("x")[-6:])), 422)
    sgtest.problem_ok(post(dict(good, target_owner_id=AUDIT_REPORTER)), 422)
    # Ops only.
    sgtest.problem_ok(post(good, headers=sgtest.user_auth(uid("u"))), 403)
    sgtest.problem_ok(post(good, headers=sgtest.client_auth()), 403)
    sgtest.problem_ok(w.svc.get("/v1/audit-cases", headers=sgtest.user_auth(uid("u"))), 403)
    assert w.svc.post("/v1/audit-cases", good).status_code == 401
    sgtest.problem_ok(w.svc.get("/v1/audit-cases?status=open", headers=ops), 400)
    # Nothing was written by the refusals.
    assert all(i["target_id"] != good["target_id"]
               for i in w.svc.get("/v1/audit-cases?limit=200", headers=ops).json()["items"])
    assert post(good).status_code == 201
