"""Accuracy against the final verdict (API.md v2, issue 13): sg.case.finalized
corrects the original jurors' with_majority marks when an appeal overturned
the decided verdict, whichever of sg.case.decided and sg.case.finalized
arrives first, once however often either is delivered; accuracy, the
reliability weight and the quality policy follow."""
import uuid

import pytest
import sgtest

OPS = sgtest.ops_auth()
CLIENT = sgtest.client_auth()
JURORS = [f"f-{i}" for i in range(1, 6)]  # f-1..f-3 vote violation, f-4 and f-5 no_violation


@pytest.fixture(scope="module")
def svc():
    with sgtest.running("reviewer", env={"SG_POOL_ADJUST_INTERVAL_S": "3600"}, redis_db=11) as s:
        yield s


def reviewer(svc, uid):
    r = svc.get(f"/v1/reviewers/{uid}", headers=OPS)
    assert r.status_code == 200, r.text
    return r.json()


def decided(case_id, verdict="violation"):
    ballots = []
    for u in JURORS:
        dec = "violation" if u in JURORS[:3] else "no_violation"
        ballots.append({"reviewer_id": u, "outcome": "voted", "decision": dec, "with_majority": dec == verdict})
    return {"case_id": case_id, "report_type": "comment", "target_id": "t-" + case_id, "target_owner_id": "o",
            "opened_at": "2026-01-01T00:00:00Z", "verdict": verdict, "decided_by": "panel", "appeal_of": None,
            "reporter_ids": ["rep"], "ballots": ballots}


def finalized(case_id, final, by="appeal"):
    return {"case_id": case_id, "final_verdict": final, "finalized_by": by,
            "appeal_case_id": "appeal-" + case_id if by == "appeal" else None}


def marks(svc, case_id):
    with svc.db() as c:
        return dict(c.execute("SELECT reviewer_id, with_majority FROM assignments WHERE case_id = %s",
                              (case_id,)).fetchall())


def test_overturned_cases_move_the_marks_in_any_order(svc):
    bus = sgtest.Bus(svc.prefix)
    reader = bus.consumer("sg.panel.assigned")
    assert svc.put("/v1/pool-rule", {"include_tags_any": ["f"], "exclude_tags": [], "min_credit_score": 0,
                                     "min_account_age_days": 0, "active_weeks_required": 0},
                   headers=OPS).status_code == 200
    assert svc.put("/v1/fatigue-policy", {"max_open_ballots": 10, "max_per_day": 100, "max_per_week": 100,
                                          "min_interval_s": 0, "cooldown_after_expiry_s": 0},
                   headers=OPS).status_code == 200
    assert svc.put("/v1/quality-policy", {"min_decided_votes": 3, "min_accuracy": 0.5, "max_no_show_rate": 0.5,
                                          "suspend_days": 3}, headers=OPS).status_code == 200
    profiles = [{"user_id": u, "tags": ["f"], "credit_score": 700, "registered_at": "2024-01-01T00:00:00Z"}
                for u in JURORS]
    assert svc.post("/v1/profiles:batch", profiles, headers=CLIENT).status_code == 200
    assert svc.post("/v1/pool:rebuild", headers=OPS).json()["added"] == 5
    run = uuid.uuid4().hex[:6]
    first_decided, first_finalized, upheld = f"fa-{run}", f"fb-{run}", f"fc-{run}"
    for c in (first_decided, first_finalized, upheld):
        bus.produce("sg.panel.requested", c, {"case_id": c, "round": 0, "seats": 5, "report_type": "comment",
                                              "reviewer_tags": ["f"], "exclude_user_ids": [],
                                              "deadline": "2030-01-01T00:00:00Z"})
    reader.poll_until(lambda seen: len({e["case_id"] for e in seen}) == 3, timeout=30)
    reader.close()

    # 1. Decided violation 3:2, then an appeal overturns it.
    bus.produce("sg.case.decided", first_decided, decided(first_decided))
    sgtest.wait_for(lambda: marks(svc, first_decided).get("f-1") is True, timeout=30, what="decision recorded")
    bus.produce("sg.case.finalized", first_decided, finalized(first_decided, "no_violation"))
    want = {u: u not in JURORS[:3] for u in JURORS}
    sgtest.wait_for(lambda: marks(svc, first_decided) == want, timeout=30, what="marks corrected")

    # 2. The finalization arrives before the decision.
    bus.produce("sg.case.finalized", first_finalized, finalized(first_finalized, "no_violation"))
    with svc.db() as c:
        sgtest.wait_for(lambda: c.execute("SELECT final_verdict FROM case_verdicts WHERE case_id = %s",
                                          (first_finalized,)).fetchone(), timeout=30, what="finality recorded")
    bus.produce("sg.case.decided", first_finalized, decided(first_finalized))
    sgtest.wait_for(lambda: marks(svc, first_finalized) == want, timeout=30, what="marked against the final verdict")

    # 3. Upheld: the marks stand.
    bus.produce("sg.case.decided", upheld, decided(upheld))
    bus.produce("sg.case.finalized", upheld, finalized(upheld, "violation", by="window"))
    with svc.db() as c:
        sgtest.wait_for(lambda: c.execute("SELECT 1 FROM case_verdicts WHERE case_id = %s AND finalized_at IS NOT NULL"
                                          " AND verdict IS NOT NULL", (upheld,)).fetchone(),
                        timeout=30, what="upheld case decided and final")

    # Redeliveries under new event ids change nothing.
    bus.produce("sg.case.finalized", first_decided, finalized(first_decided, "no_violation"))
    bus.produce("sg.case.decided", first_decided, decided(first_decided))
    bus.produce("sg.case.finalized", first_finalized, finalized(first_finalized, "no_violation"))
    sentinel = f"fd-{run}"
    bus.produce("sg.case.finalized", first_decided, finalized(sentinel, "violation", by="window"))
    with svc.db() as c:
        sgtest.wait_for(lambda: c.execute("SELECT 1 FROM case_verdicts WHERE case_id = %s", (sentinel,)).fetchone(),
                        timeout=30, what="redeliveries consumed")
    sgtest.wait_for(lambda: reviewer(svc, "f-1")["counts"]["decided"] == 3, timeout=30, what="all decided")

    for u in JURORS[:3]:
        r = reviewer(svc, u)
        assert r["counts"]["decided"] == 3 and r["counts"]["with_majority"] == 1, r
        assert abs(r["accuracy"] - 1 / 3) < 1e-9 and abs(r["reliability"] - 2 / 5) < 1e-9, r
    for u in JURORS[3:]:
        r = reviewer(svc, u)
        assert r["counts"]["decided"] == 3 and r["counts"]["with_majority"] == 2, r
        assert abs(r["accuracy"] - 2 / 3) < 1e-9, r
    assert marks(svc, first_decided) == want and marks(svc, first_finalized) == want
    assert all(marks(svc, upheld)[u] == (u in JURORS[:3]) for u in JURORS)

    # The quality policy judges the corrected marks: 1/3 < 0.5 suspends,
    # 2/3 does not.
    r = svc.post("/v1/pool:rebuild", headers=OPS).json()
    assert r["suspended"] == 3, r
    assert [reviewer(svc, u)["status"] for u in JURORS] == ["suspended"] * 3 + ["active"] * 2
