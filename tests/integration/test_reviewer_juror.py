"""Juror quality beyond the majority (API.md v2, issue 17), against the
reviewer service alone (events produced to Kafka as report would): gold
accuracy from audit cases (ops only), the quality policy's gold bar, graded
suspensions and the reviewer history."""
import datetime as dt
import uuid

import pytest
import sgtest

OPS = sgtest.ops_auth()
CLIENT = sgtest.client_auth()
GOOD = [f"g-{i}" for i in range(1, 5)]
BAD = "g-bad"
POOL = GOOD + [BAD]


@pytest.fixture(scope="module")
def svc():
    with sgtest.running("reviewer", env={"SG_POOL_ADJUST_INTERVAL_S": "3600"}, redis_db=10) as s:
        yield s


def reviewer(svc, uid, headers=OPS):
    r = svc.get(f"/v1/reviewers/{uid}", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def parse(ts):
    return dt.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)


def audit_round(svc, bus, n, first_finalized=False):
    """n audit cases (expected: violation) seating the whole pool; BAD votes
    no_violation each time, the others the expected verdict."""
    reader = bus.consumer("sg.panel.assigned")
    cases = [f"au-{uuid.uuid4().hex[:8]}" for _ in range(n)]
    for c in cases:
        bus.produce("sg.panel.requested", c, {"case_id": c, "round": 0, "seats": len(POOL), "report_type": "comment",
                                              "reviewer_tags": ["g"], "exclude_user_ids": [],
                                              "deadline": "2030-01-01T00:00:00Z"})
    reader.poll_until(lambda seen: len({e["case_id"] for e in seen}) == n, timeout=30)
    for e in reader.seen:
        assert sorted(e["reviewer_ids"]) == sorted(POOL), e
    reader.close()
    for c in cases:
        dec = {"case_id": c, "report_type": "comment", "target_id": "t-" + c, "target_owner_id": "o",
               "verdict": "violation", "decided_by": "panel", "reporter_ids": ["rep"],
               "ballots": [{"reviewer_id": u, "outcome": "voted",
                            "decision": "no_violation" if u == BAD else "violation",
                            "with_majority": u != BAD} for u in POOL]}
        fin = {"case_id": c, "final_verdict": "violation", "finalized_by": "window", "appeal_case_id": None,
               "audit": True, "expected_verdict": "violation"}
        if first_finalized:
            bus.produce("sg.case.finalized", c, fin)
            bus.produce("sg.case.decided", c, dec)
        else:
            bus.produce("sg.case.decided", c, dec)
            bus.produce("sg.case.finalized", c, fin)
            bus.produce("sg.case.finalized", c, fin)  # a redelivery counts once
    return cases


def test_gold_bar_suspends_with_graded_lengths(svc):
    bus = sgtest.Bus(svc.prefix)
    assert svc.put("/v1/pool-rule", {"include_tags_any": ["g"], "exclude_tags": [], "min_credit_score": 0,
                                     "min_account_age_days": 0, "active_weeks_required": 0},
                   headers=OPS).status_code == 200
    assert svc.put("/v1/fatigue-policy", {"max_open_ballots": 20, "max_per_day": 100, "max_per_week": 100,
                                          "min_interval_s": 0, "cooldown_after_expiry_s": 0},
                   headers=OPS).status_code == 200
    r = svc.put("/v1/quality-policy", {"min_decided_votes": 1000, "min_accuracy": 0.5, "max_no_show_rate": 1,
                                       "suspend_days": [2, 7, 30], "min_gold_votes": 2, "min_gold_accuracy": 0.7},
                headers=OPS)
    assert r.status_code == 200, r.text
    q = svc.get("/v1/quality-policy", headers=OPS).json()
    assert q["suspend_days"] == [2, 7, 30] and q["min_gold_votes"] == 2 and q["pair_flag_margin"] == 0.25, q
    profiles = [{"user_id": u, "tags": ["g"], "credit_score": 700, "registered_at": "2024-01-01T00:00:00Z"}
                for u in POOL]
    assert svc.post("/v1/profiles:batch", profiles, headers=CLIENT).status_code == 200
    assert svc.post("/v1/pool:rebuild", headers=OPS).json()["added"] == len(POOL)

    # One audit case: below min_gold_votes, nobody is judged yet.
    audit_round(svc, bus, 1)
    sgtest.wait_for(lambda: reviewer(svc, BAD)["gold_votes"] == 1, timeout=30, what="gold vote recorded")
    assert svc.post("/v1/pool:rebuild", headers=OPS).json()["suspended"] == 0
    # A second one, finalized before it is decided.
    audit_round(svc, bus, 1, first_finalized=True)
    sgtest.wait_for(lambda: reviewer(svc, BAD)["gold_votes"] == 2 and reviewer(svc, GOOD[0])["gold_votes"] == 2,
                    timeout=30, what="gold votes recorded")
    bad, good = reviewer(svc, BAD), reviewer(svc, GOOD[0])
    assert bad["gold_accuracy"] == 0.0 and good["gold_accuracy"] == 1.0, (bad, good)
    # Never shown to the reviewer themselves.
    me = reviewer(svc, BAD, headers=sgtest.user_auth(BAD))
    assert "gold_votes" not in me and "gold_accuracy" not in me, me
    assert me["counts"] == bad["counts"]

    # The next adjustment suspends the reviewer below the gold bar: 1st length.
    t0 = dt.datetime.now(dt.timezone.utc)
    r = svc.post("/v1/pool:rebuild", headers=OPS).json()
    assert r["suspended"] == 1, r
    bad = reviewer(svc, BAD)
    assert bad["status"] == "suspended" and bad["reason"].startswith("gold accuracy"), bad
    days = (parse(bad["suspended_until"]) - t0).total_seconds() / 86400
    assert 1.99 < days < 2.01, bad
    assert all(reviewer(svc, u)["status"] == "active" for u in GOOD)

    # It ends; reinstated with a clean slate (no immediate second suspension).
    with svc.db() as c:
        c.execute("UPDATE users SET suspended_until = now() - interval '1 second' WHERE user_id = %s", (BAD,))
    r = svc.post("/v1/pool:rebuild", headers=OPS).json()
    assert r["reinstated"] == 1 and r["suspended"] == 0, r
    assert reviewer(svc, BAD)["gold_votes"] == 2, "lifetime counts stay"

    # Two more misses: the 2nd suspension lasts the 2nd length.
    audit_round(svc, bus, 2)
    sgtest.wait_for(lambda: reviewer(svc, BAD)["gold_votes"] == 4, timeout=30, what="gold votes recorded")
    t0 = dt.datetime.now(dt.timezone.utc)
    assert svc.post("/v1/pool:rebuild", headers=OPS).json()["suspended"] == 1
    bad = reviewer(svc, BAD)
    days = (parse(bad["suspended_until"]) - t0).total_seconds() / 86400
    assert 6.99 < days < 7.01, bad

    # The history lists every change, with each suspension's length; paginated.
    h = svc.get(f"/v1/reviewers/{BAD}/history?limit=2", headers=OPS)
    assert h.status_code == 200, h.text
    page = h.json()
    assert len(page["items"]) == 2 and page["next_cursor"], page
    rest = svc.get(f"/v1/reviewers/{BAD}/history?limit=50&cursor={page['next_cursor']}", headers=OPS).json()
    items = page["items"] + rest["items"]
    assert rest["next_cursor"] is None
    assert [(i["from_status"], i["to_status"]) for i in items] == [
        (None, "active"), ("active", "suspended"), ("suspended", "active"), ("active", "suspended")], items
    assert [i["suspend_days"] for i in items] == [None, 2, None, 7], items
    assert items[1]["reason"].startswith("gold accuracy") and items[1]["actor"] == "pool-adjustment"
    assert items[3]["suspended_until"] == bad["suspended_until"]
    sgtest.problem_ok(svc.get(f"/v1/reviewers/{BAD}/history", headers=sgtest.user_auth(BAD)), 403)
    sgtest.problem_ok(svc.get("/v1/reviewers/nobody/history", headers=OPS), 404)
    sgtest.problem_ok(svc.get(f"/v1/reviewers/{BAD}/history?cursor=x", headers=OPS), 400)
