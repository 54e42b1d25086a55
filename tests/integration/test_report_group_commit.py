"""Report intake's group commit (issue 16, SG_INTAKE_GROUP): concurrent
POST /v1/reports share transactions, each request keeps its own outcome
(a refused one does not take the others down), every 201 is answered after
its report is committed, and SG_INTAKE_GROUP=1 (one transaction per report)
still works — against the real devstack."""
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

import sgtest

RULE = {"panel_size": 5, "votes_to_decide": 3, "ballot_timeout_s": 3600, "reminder_before_s": 600,
        "max_substitute_rounds": 2, "case_deadline_s": 86400, "on_deadline": "decide_by_votes_cast",
        "reviewer_tags": ["trusted"], "appeal_window_s": 259200, "appeal_panel_size": 9,
        "appeal_votes_to_decide": 5}


@pytest.fixture(scope="module", params=["8", "1"], ids=["group8", "group1"])
def svc(request):
    # More HTTP threads than the default 8, so that requests queue for a group.
    with sgtest.running("report", env={"SG_INTAKE_GROUP": request.param, "SG_HTTP_THREADS": "16"}) as s:
        r = s.put("/v1/voting-rules/comment", RULE, headers=sgtest.ops_auth())
        assert r.status_code == 200, r.text
        yield s


def uid(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_concurrent_reports_each_with_its_own_outcome(svc):
    shared, owner = uid("comment"), uid("owner")
    twice = uid("rep")
    # 30 reports of their own targets, 10 joining one shared target, the same
    # reporter twice on that target (one 201, one 409) and a report type
    # without a rule (422).
    bodies = [{"report_type": "comment", "target_id": uid("comment"), "target_owner_id": uid("owner"),
               "reporter_id": uid("rep"), "reason": "abuse"} for _ in range(30)]
    bodies += [{"report_type": "comment", "target_id": shared, "target_owner_id": owner,
                "reporter_id": uid("rep"), "reason": "abuse"} for _ in range(10)]
    bodies += [{"report_type": "comment", "target_id": shared, "target_owner_id": owner,
                "reporter_id": twice, "reason": "abuse"}] * 2
    bodies += [{"report_type": "no_rule_type", "target_id": uid("comment"), "target_owner_id": uid("owner"),
                "reporter_id": uid("rep"), "reason": "abuse"}]
    groups0, items0 = sgtest.group_commit_counters(svc, "intake")
    barrier = threading.Barrier(len(bodies))

    def one(body):
        try:
            barrier.wait(timeout=10)
        except threading.BrokenBarrierError:
            pass
        r = svc.post("/v1/reports", body, headers=sgtest.client_auth())
        visible = None
        if r.status_code == 201:
            # Answered only after the COMMIT: the report is there already.
            with svc.db() as c:
                visible = c.execute("SELECT count(*) FROM reports WHERE id = %s",
                                    (r.json()["report_id"],)).fetchone()[0]
        return r, visible

    with ThreadPoolExecutor(len(bodies)) as ex:
        out = list(ex.map(one, bodies))
    codes = [r.status_code for r, _ in out]
    assert codes[:40] == [201] * 40, [r.text for r, _ in out[:40] if r.status_code != 201][:3]
    assert sorted(codes[40:42]) == [201, 409], [r.text for r, _ in out[40:42]]
    sgtest.problem_ok(out[42][0], 422)
    assert all(v == 1 for r, v in out if r.status_code == 201), "a 201 before its report was committed"

    filed = [r.json() for r, _ in out if r.status_code == 201]
    assert len({f["report_id"] for f in filed}) == 41
    assert len({f["case_id"] for f in filed[30:]}) == 1, "one case for the shared target"
    reporters = [b["reporter_id"] for b in bodies[:41]]
    with svc.db() as c:
        rows = c.execute("SELECT id::text, reporter_id FROM reports WHERE reporter_id = ANY(%s)",
                         (reporters,)).fetchall()
        assert sorted(r[0] for r in rows) == sorted(f["report_id"] for f in filed), "each report exactly once"
        cases = list({f["case_id"] for f in filed})
        assert len(cases) == 31
        per_case = dict(c.execute(
            "SELECT case_id::text, count(*) FILTER (WHERE kind = 'opened') FROM case_events "
            "WHERE case_id = ANY(%s::uuid[]) GROUP BY case_id", (cases,)).fetchall())
        assert per_case == {cid: 1 for cid in cases}, "each case opened once"
        joined = c.execute("SELECT count(*) FROM case_events WHERE case_id = %s::uuid AND kind = 'report_joined'",
                           (filed[30]["case_id"],)).fetchone()[0]
        assert joined == 10, "the refused twin's audit entry was rolled back with it"
        # Written with its sg.panel.requested event (rp_case_request_panel); the relay deletes what it published.
        panels = c.execute("SELECT case_id::text, count(*) FROM panel_requests WHERE case_id = ANY(%s::uuid[]) "
                           "GROUP BY 1", (cases,)).fetchall()
        assert dict(panels) == {cid: 1 for cid in cases}, "one panel request per case, none doubled"

    groups, items = sgtest.group_commit_counters(svc, "intake")
    print(f"SG_INTAKE_GROUP={svc.extra['SG_INTAKE_GROUP']}: {items - items0} reports in {groups - groups0} "
          "transactions")
    assert items - items0 >= 43, "every intake went through the group committer"
    if svc.extra["SG_INTAKE_GROUP"] == "1":
        assert groups - groups0 == items - items0, "SG_INTAKE_GROUP=1: one transaction per report"
    else:
        assert groups - groups0 < items - items0, "concurrent reports were not committed together"
