"""Report service, issue 12: clients are tenants (scopes, tenancy, the
upstream case view without juror ids), intake limits (max_reports_per_case,
the owner of a joined case, the rate limit per (client, reporter) counting
filed reports only), the callback URL policy at intake, and events bounded
whatever the number of reports — against the real devstack."""
import json
import time
import uuid

import pytest

import sgtest

RATE = 4
TOPICS = ("sg.panel.requested", "sg.panel.assigned", "sg.ballot.closed", "sg.case.decided", "sg.case.outcome")
# "im" may file im_message reports only; the others have every scope.
API_KEYS = "product:key-product-1,forum:key-forum-1,comment:key-comment-1,im:key-im-1:report:im_message|profiles"
IM = {"Authorization": "Bearer key-im-1"}
MAX_EVENT = 256 * 1024


@pytest.fixture(scope="module")
def svc():
    with sgtest.running("report", env={"SG_REPORT_RATE_PER_MIN": str(RATE), "SG_API_KEYS": API_KEYS},
                        topics=TOPICS) as s:
        yield s


@pytest.fixture(scope="module")
def bus(svc):
    with sgtest.reading(svc, TOPICS) as br:
        yield br


def uid(prefix="u"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def rule(svc, report_type=None, **over):
    report_type = report_type or "t_" + uuid.uuid4().hex[:10]
    body = {"panel_size": 1, "votes_to_decide": 1, "ballot_timeout_s": 3600, "reminder_before_s": 0,
            "max_substitute_rounds": 2, "case_deadline_s": 86400, "on_deadline": "decide_by_votes_cast",
            "reviewer_tags": [], "appeal_window_s": 3600, "appeal_panel_size": 3, "appeal_votes_to_decide": 2}
    body.update(over)
    r = svc.put(f"/v1/voting-rules/{report_type}", body, headers=sgtest.ops_auth())
    assert r.status_code == 200, r.text
    return report_type


def body_of(report_type, **over):
    b = {"report_type": report_type, "target_id": uid("item"), "target_owner_id": uid("own"),
         "reporter_id": uid("rep"), "reason": "abuse"}
    b.update(over)
    return b


def file(svc, body, headers=None):
    return svc.post("/v1/reports", body, headers=headers or sgtest.client_auth())


def counts(svc):
    """Rows per table; the outbox by the rows ever written to it (its id sequence): the relay deletes the
    rows it published."""
    with svc.db() as c:
        return tuple(c.execute("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM outbox_id_seq"
                               if t == "outbox" else f"SELECT count(*) FROM {t}").fetchone()[0]
                     for t in ("reports", "cases", "outbox", "case_events", "idempotency_keys", "callbacks"))


def events(reader, topic, case_id, n=1, timeout=30):
    reader.poll_until(lambda evs: len([e for e in reader.of(topic) if e.get("case_id") == case_id]) >= n,
                      timeout=timeout)
    return [e for e in reader.of(topic) if e.get("case_id") == case_id]


def ops_case(svc, cid):
    r = svc.get(f"/v1/cases/{cid}", headers=sgtest.ops_auth())
    assert r.status_code == 200, r.text
    return r.json()


def wire_size(ev):
    """The size of the event as the outbox serialised it (compact JSON)."""
    return len(json.dumps({k: v for k, v in ev.items() if not k.startswith("_")}, separators=(",", ":"),
                          ensure_ascii=False).encode())


# ---------------------------------------------------------------- tenancy

def test_another_tenant_gets_404_on_case_and_report(svc):
    rt = rule(svc)
    rep = file(svc, body_of(rt)).json()
    cid, rid = rep["case_id"], rep["report_id"]
    missing_case = sgtest.problem_ok(svc.get(f"/v1/cases/{uuid.uuid4()}", headers=sgtest.client_auth("forum")), 404)
    missing_report = sgtest.problem_ok(svc.get(f"/v1/reports/{uuid.uuid4()}", headers=sgtest.client_auth("forum")),
                                       404)
    # Exactly as if it did not exist: same status, same problem.
    got = sgtest.problem_ok(svc.get(f"/v1/cases/{cid}", headers=sgtest.client_auth("forum")), 404)
    assert got == missing_case
    got = sgtest.problem_ok(svc.get(f"/v1/reports/{rid}", headers=sgtest.client_auth("forum")), 404)
    assert got == missing_report
    before = counts(svc)
    got = sgtest.problem_ok(svc.post(f"/v1/cases/{cid}/cancel", {"reason": "not yours"},
                                     headers=sgtest.client_auth("forum")), 404)
    assert got["detail"] == sgtest.problem_ok(svc.post(f"/v1/cases/{uuid.uuid4()}/cancel", {"reason": "x"},
                                                       headers=sgtest.client_auth("forum")), 404)["detail"]
    assert counts(svc) == before and ops_case(svc, cid)["status"] == "assigning"
    # The filing client sees and cancels it.
    assert svc.get(f"/v1/cases/{cid}", headers=sgtest.client_auth()).status_code == 200
    assert svc.get(f"/v1/reports/{rid}", headers=sgtest.client_auth()).status_code == 200
    r = svc.post(f"/v1/cases/{cid}/cancel", {"reason": "content deleted"}, headers=sgtest.client_auth())
    assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text


def test_a_client_that_joined_the_case_sees_it_with_its_own_reports(svc):
    rt = rule(svc)
    first = file(svc, body_of(rt)).json()
    b = body_of(rt, target_id=ops_case(svc, first["case_id"])["target_id"],
                target_owner_id=ops_case(svc, first["case_id"])["target_owner_id"])
    joined = file(svc, b, headers=sgtest.client_auth("forum")).json()
    assert joined["case_id"] == first["case_id"]
    view = svc.get(f"/v1/cases/{first['case_id']}", headers=sgtest.client_auth("forum")).json()
    assert view["report_ids"] == [joined["report_id"]]
    # Another client's report on a shared case stays invisible.
    sgtest.problem_ok(svc.get(f"/v1/reports/{first['report_id']}", headers=sgtest.client_auth("forum")), 404)


def test_out_of_scope_key_gets_403_nothing_written_not_counted(svc):
    rt = rule(svc)
    rule(svc, "im_message")
    reporter = uid("rep")
    before = counts(svc)
    for _ in range(RATE + 2):
        body = sgtest.problem_ok(file(svc, body_of(rt, reporter_id=reporter), headers=IM), 403)
        assert f"report:{rt}" in body["detail"]
    assert counts(svc) == before
    # Not counted by the rate limit: the reporter still has the whole quota.
    codes = [file(svc, body_of("im_message", reporter_id=reporter), headers=IM).status_code for _ in range(RATE)]
    assert codes == [201] * RATE, codes


def test_upstream_case_view_has_no_juror_identity(svc, bus):
    b, reader = bus
    rt = rule(svc, panel_size=3, votes_to_decide=2)
    rep = file(svc, body_of(rt)).json()
    cid = rep["case_id"]
    events(reader, "sg.panel.requested", cid)
    revs = [uid("juror"), uid("juror"), uid("juror")]
    b.produce("sg.panel.assigned", cid, {"case_id": cid, "round": 1, "reviewer_ids": revs, "shortfall": 0})
    sgtest.wait_for(lambda: len(ops_case(svc, cid)["ballots"]) == 3, what="ballots")
    assert svc.post(f"/v1/cases/{cid}/votes", {"decision": "violation"},
                    headers=sgtest.user_auth(revs[0])).status_code == 201

    def check(view):
        text = json.dumps(view)
        assert not any(r in text for r in revs), text
        assert all(set(x) == {"round", "status", "deadline"} for x in view["ballots"]), view["ballots"]
        assert view["report_ids"] == [rep["report_id"]] and view["rule_version"] == 1
        for k in ("status", "verdict", "decided_by", "final", "tally"):
            assert k in view, k

    view = svc.get(f"/v1/cases/{cid}", headers=sgtest.client_auth()).json()
    check(view)
    assert view["tally"] is None and view["final"] is False and view["status"] == "voting"
    assert svc.post(f"/v1/cases/{cid}/votes", {"decision": "violation"},
                    headers=sgtest.user_auth(revs[1])).status_code == 201
    view = sgtest.wait_for(lambda: (lambda v: v if v["status"] == "decided" else None)(
        svc.get(f"/v1/cases/{cid}", headers=sgtest.client_auth()).json()), what="decided")
    check(view)
    assert view["tally"] == {"violation": 2, "no_violation": 0} and view["verdict"] == "violation"
    assert view["final"] is False and view["appeal_deadline"]
    # Ops still see everything.
    assert {x["reviewer_id"] for x in ops_case(svc, cid)["ballots"]} == set(revs)
    # sg.case.outcome carries the tally, never a juror id; sg.case.decided stays internal.
    out = events(reader, "sg.case.outcome", cid)[0]
    assert out["kind"] == "decided" and out["tally"] == {"violation": 2, "no_violation": 0}
    assert out["report_ids"] == [rep["report_id"]] and out["report_count"] == 1
    assert not any(r in json.dumps(out) for r in revs)


# ---------------------------------------------------------------- intake limits

def test_max_reports_per_case_plus_one_is_409(svc):
    rt = rule(svc, max_reports_per_case=3)
    assert svc.get(f"/v1/voting-rules/{rt}", headers=sgtest.ops_auth()).json()["max_reports_per_case"] == 3
    assert svc.get(f"/v1/voting-rules/{rule(svc)}", headers=sgtest.ops_auth()).json()["max_reports_per_case"] == 500
    first = body_of(rt)
    cid = file(svc, first).json()["case_id"]
    for _ in range(2):
        r = file(svc, dict(first, reporter_id=uid("rep")))
        assert r.status_code == 201 and r.json()["case_id"] == cid
    before = counts(svc)
    got = sgtest.problem_ok(file(svc, dict(first, reporter_id=uid("rep"))), 409)
    assert "max_reports_per_case" in got["detail"]
    assert counts(svc) == before
    for bad in (0, 10001, "5"):
        sgtest.problem_ok(svc.put(f"/v1/voting-rules/{rt}", {
            "panel_size": 1, "votes_to_decide": 1, "ballot_timeout_s": 60, "reminder_before_s": 0,
            "max_substitute_rounds": 0, "case_deadline_s": 60, "on_deadline": "escalate", "appeal_window_s": 60,
            "appeal_panel_size": 1, "appeal_votes_to_decide": 1, "max_reports_per_case": bad},
            headers=sgtest.ops_auth()), 400)


def test_join_with_another_owner_is_422(svc):
    rt = rule(svc)
    first = body_of(rt)
    cid = file(svc, first).json()["case_id"]
    before = counts(svc)
    got = sgtest.problem_ok(file(svc, dict(first, reporter_id=uid("rep"), target_owner_id=uid("own"))), 422)
    assert "target_owner_id" in got["detail"]
    assert counts(svc) == before and len(ops_case(svc, cid)["report_ids"]) == 1


def test_rate_limit_per_client_and_reporter_counts_only_filed_reports(svc):
    if time.time() % 60 > 50:
        time.sleep(61 - time.time() % 60)
    rt = rule(svc)
    reporter = uid("rep")
    first = body_of(rt, reporter_id=reporter)
    assert file(svc, first).status_code == 201
    # Refused reports (409 duplicate, 422 owner mismatch or own content, 400) do not count.
    for _ in range(RATE + 1):
        sgtest.problem_ok(file(svc, first), 409)
        sgtest.problem_ok(file(svc, dict(first, target_owner_id=uid("own"))), 422)
        sgtest.problem_ok(file(svc, body_of(rt, reporter_id=reporter, target_owner_id=reporter)), 422)
        sgtest.problem_ok(file(svc, dict(first, reason="")), 400)
    codes = [file(svc, body_of(rt, reporter_id=reporter)).status_code for _ in range(RATE - 1)]
    assert codes == [201] * (RATE - 1), codes
    sgtest.problem_ok(file(svc, body_of(rt, reporter_id=reporter)), 429)
    # Another client's quota for the same reporter is its own.
    assert file(svc, body_of(rt, reporter_id=reporter), headers=sgtest.client_auth("forum")).status_code == 201


# ---------------------------------------------------------------- callback URL policy at intake

BLOCKED = [
    ("http://169.254.169.254/latest/meta-data/", "link_local"),
    ("https://169.254.169.254/latest/meta-data/", "link_local"),
    ("https://[fe80::1]/cb", "link_local"),
    ("https://10.1.2.3/cb", "private"),
    ("https://172.16.0.1/cb", "private"),
    ("https://192.168.1.1/cb", "private"),
    ("https://[fc00::1]/cb", "private"),
    ("https://127.0.0.2/cb", "loopback"),
    ("https://[::1]/cb", "loopback"),
    ("https://100.64.0.1/cb", "cgnat"),
    ("https://224.0.0.1/cb", "multicast"),
    ("https://0.0.0.0/cb", "unspecified"),
    ("http://example.com/cb", "https://"),
]


@pytest.mark.parametrize("url,why", BLOCKED)
def test_blocked_callback_url_is_422_and_nothing_written(svc, url, why):
    rt = rule(svc, "policy_check")
    before = counts(svc)
    got = sgtest.problem_ok(file(svc, body_of(rt, callback_url=url)), 422)
    # A clear detail naming what is wrong, never the URL's query or userinfo.
    assert "callback_url" in got["detail"] and why in got["detail"], got
    assert counts(svc) == before


def test_allowed_callback_urls_are_accepted(svc):
    rt = rule(svc, "policy_check")
    for url in ("https://upstream.example.com/cb?token=abc", "http://127.0.0.1:9/cb", "http://localhost:9/cb"):
        r = file(svc, body_of(rt, callback_url=url))
        assert r.status_code == 201, (url, r.text)


# ---------------------------------------------------------------- bounded events

def test_case_with_max_reports_produces_events_under_256_kib(svc, bus):
    """10,000 reports (the largest max_reports_per_case) with 128-byte
    reporter ids: every event about the case stays under 256 KiB."""
    b, reader = bus
    rt = rule(svc, max_reports_per_case=10000, max_substitute_rounds=2)
    first = body_of(rt)
    rep = file(svc, first).json()
    cid = rep["case_id"]
    events(reader, "sg.panel.requested", cid)
    with svc.db() as c:
        c.execute("INSERT INTO reports (case_id, source, report_type, target_id, target_owner_id, reporter_id, "
                  "reason) SELECT %s, 'product', %s, %s, %s, rpad('r' || g, 128, 'x'), 'abuse' "
                  "FROM generate_series(2, 10000) g", (cid, rt, first["target_id"], first["target_owner_id"]))
        c.execute("UPDATE cases SET report_count = 10000 WHERE id = %s", (cid,))
    before = counts(svc)
    sgtest.problem_ok(file(svc, dict(first, reporter_id=uid("rep"))), 409)
    assert counts(svc) == before
    # A decline makes a substitute request: its exclusion list is bounded.
    a = uid("juror")
    b.produce("sg.panel.assigned", cid, {"case_id": cid, "round": 1, "reviewer_ids": [a], "shortfall": 0})
    ballot = sgtest.wait_for(lambda: ops_case(svc, cid)["ballots"], what="ballot")[0]
    assert svc.post(f"/v1/ballots/{ballot['ballot_id']}/decline", None,
                    headers=sgtest.user_auth(a)).status_code == 200
    req = [e for e in events(reader, "sg.panel.requested", cid, 2, timeout=60) if e["round"] == 2][0]
    assert wire_size(req) < MAX_EVENT and len(req["exclude_user_ids"]) <= 1000
    assert req["exclude_user_ids"][:2] == [first["target_owner_id"], a]
    assert first["reporter_id"] in req["exclude_user_ids"]
    # A reporter beyond the list offered a seat is screened out by the report service.
    beyond = "r9999".ljust(128, "x")
    assert beyond not in req["exclude_user_ids"]
    juror = uid("juror")
    b.produce("sg.panel.assigned", cid, {"case_id": cid, "round": 2, "reviewer_ids": [beyond, juror],
                                         "shortfall": 0})
    sgtest.wait_for(lambda: any(x["reviewer_id"] == juror for x in ops_case(svc, cid)["ballots"]), what="seat")
    assert beyond not in {x["reviewer_id"] for x in ops_case(svc, cid)["ballots"]}
    assert svc.post(f"/v1/cases/{cid}/votes", {"decision": "violation"},
                    headers=sgtest.user_auth(juror)).status_code == 201
    decided = events(reader, "sg.case.decided", cid, timeout=60)[0]
    outcome = events(reader, "sg.case.outcome", cid, timeout=60)[0]
    assert wire_size(decided) < MAX_EVENT and wire_size(outcome) < MAX_EVENT
    # reporter_ids: the first 100 by filing time, the reporters paid.
    assert len(decided["reporter_ids"]) == 100 and decided["reporter_ids"][0] == first["reporter_id"]
    assert len(outcome["report_ids"]) == 1000 and outcome["report_ids"][0] == rep["report_id"]
    assert outcome["report_count"] == 10000
