"""Results intake and the quality policy: accuracy and no-shows from
sg.case.decided / sg.ballot.closed, suspension at the next adjustment,
reinstatement once the suspension has ended."""
import uuid

import pytest
import sgtest

OPS = sgtest.ops_auth()
CLIENT = sgtest.client_auth()
GOOD, WRONG, ABSENT = "q-good", "q-wrong", "q-absent"


@pytest.fixture(scope="module")
def svc():
    with sgtest.running("reviewer", env={"SG_POOL_ADJUST_INTERVAL_S": "3600"}, redis_db=15) as s:
        yield s


def reviewer(svc, uid):
    r = svc.get(f"/v1/reviewers/{uid}", headers=OPS)
    assert r.status_code == 200, r.text
    return r.json()


def test_accuracy_and_no_shows_suspend_then_reinstate(svc):
    bus = sgtest.Bus(svc.prefix)
    reader = bus.consumer("sg.panel.assigned")
    status_reader = bus.consumer("sg.reviewer.status_changed")
    assert svc.put("/v1/pool-rule", {"include_tags_any": ["q"], "exclude_tags": [], "min_credit_score": 0,
                                     "min_account_age_days": 0, "active_weeks_required": 0},
                   headers=OPS).status_code == 200
    assert svc.put("/v1/fatigue-policy", {"max_open_ballots": 10, "max_per_day": 100, "max_per_week": 100,
                                          "min_interval_s": 0, "cooldown_after_expiry_s": 120},
                   headers=OPS).status_code == 200
    assert svc.put("/v1/quality-policy", {"min_decided_votes": 4, "min_accuracy": 0.5, "max_no_show_rate": 0.5,
                                          "suspend_days": 3}, headers=OPS).status_code == 200
    profiles = [{"user_id": u, "tags": ["q"], "credit_score": 700, "registered_at": "2024-01-01T00:00:00Z"}
                for u in (GOOD, WRONG, ABSENT)]
    assert svc.post("/v1/profiles:batch", profiles, headers=CLIENT).status_code == 200
    assert svc.post("/v1/pool:rebuild", headers=OPS).json()["added"] == 3

    # Four cases, each with the whole pool on the panel.
    cases = [f"qc-{uuid.uuid4().hex[:8]}" for _ in range(4)]
    for c in cases:
        bus.produce("sg.panel.requested", c, {"case_id": c, "round": 0, "seats": 3, "report_type": "comment",
                                              "reviewer_tags": ["q"], "exclude_user_ids": [],
                                              "deadline": "2030-01-01T00:00:00Z"})
    reader.poll_until(lambda seen: len({e["case_id"] for e in seen}) == 4, timeout=30)
    for e in reader.seen:
        assert sorted(e["reviewer_ids"]) == sorted([GOOD, WRONG, ABSENT]), e
    assert reviewer(svc, GOOD)["open_ballots"] == 4

    # The absent reviewer's ballots expire (reported twice: counted once).
    for c in cases:
        for _ in range(2):
            bus.produce("sg.ballot.closed", c, {"case_id": c, "reviewer_id": ABSENT, "outcome": "expired"})
    # The cases are decided: GOOD with the majority, WRONG against it.
    for c in cases:
        ev = {"case_id": c, "report_type": "comment", "target_id": "t-" + c, "target_owner_id": "o",
              "verdict": "violation", "decided_by": "panel", "reporter_ids": ["rep"],
              "ballots": [{"reviewer_id": GOOD, "outcome": "voted", "decision": "violation", "with_majority": True},
                          {"reviewer_id": WRONG, "outcome": "voted", "decision": "no_violation",
                           "with_majority": False},
                          {"reviewer_id": ABSENT, "outcome": "expired", "decision": None, "with_majority": None}]}
        bus.produce("sg.case.decided", c, ev)
        bus.produce("sg.case.decided", c, ev)  # a second delivery under a new event id changes nothing

    sgtest.wait_for(lambda: reviewer(svc, WRONG)["counts"]["decided"] == 4 and
                    reviewer(svc, ABSENT)["counts"]["expired"] == 4, timeout=30, what="results recorded")
    g, w, a = reviewer(svc, GOOD), reviewer(svc, WRONG), reviewer(svc, ABSENT)
    assert g["counts"] == {"assigned": 4, "voted": 4, "expired": 0, "declined": 0, "decided": 4, "with_majority": 4}
    assert g["accuracy"] == 1.0 and abs(g["reliability"] - 5 / 6) < 1e-9
    assert w["accuracy"] == 0.0 and abs(w["reliability"] - 1 / 6) < 1e-9
    assert a["counts"]["expired"] == 4 and a["no_show_rate"] == 1.0
    assert g["open_ballots"] == w["open_ballots"] == a["open_ballots"] == 0
    assert a["cooldown_until"] is not None

    r = svc.post("/v1/pool:rebuild", headers=OPS).json()
    assert r == {"added": 0, "retired": 0, "suspended": 2, "reinstated": 0}, r
    w, a = reviewer(svc, WRONG), reviewer(svc, ABSENT)
    assert w["status"] == "suspended" and "accuracy" in w["reason"], w
    assert a["status"] == "suspended" and "no-show" in a["reason"], a
    assert w["suspended_until"] is not None
    assert reviewer(svc, GOOD)["status"] == "active"
    sgtest.problem_ok(svc.put("/v1/me/availability", {"paused": False}, headers=sgtest.user_auth(WRONG)), 409)
    # Not before the suspension ends.
    assert svc.post("/v1/pool:rebuild", headers=OPS).json()["reinstated"] == 0

    # suspend_days later (moved into the past rather than waited for).
    with svc.db() as c:
        c.execute("UPDATE users SET suspended_until = now() - interval '1 second' WHERE user_id = %s", (WRONG,))
    r = svc.post("/v1/pool:rebuild", headers=OPS).json()
    assert r == {"added": 0, "retired": 0, "suspended": 0, "reinstated": 1}, r
    w = reviewer(svc, WRONG)
    assert w["status"] == "active" and w["reason"] == "suspension ended", w
    # The lifetime counts stay; the quality slate is clean, so the next
    # adjustment does not suspend again.
    assert w["counts"]["decided"] == 4 and w["accuracy"] == 0.0
    assert svc.post("/v1/pool:rebuild", headers=OPS).json()["suspended"] == 0
    with svc.db() as c:
        hist = c.execute("SELECT from_status, to_status FROM reviewer_status_history WHERE user_id = %s ORDER BY id",
                         (WRONG,)).fetchall()
    assert hist == [(None, "active"), ("active", "suspended"), ("suspended", "active")]
    reader.close()

    # Each suspension and the reinstatement reached the report service, keyed
    # by user id; the first admissions did not.
    seen = status_reader.poll_until(lambda s: len(s) >= 3, timeout=30)
    got = sorted((e["_key"], e["user_id"], e["status"]) for e in seen)
    assert got == sorted([(WRONG, WRONG, "suspended"), (ABSENT, ABSENT, "suspended"), (WRONG, WRONG, "active")]), got
    assert [e["status"] for e in seen if e["user_id"] == WRONG] == ["suspended", "active"]
    assert next(e for e in seen if e["user_id"] == WRONG and e["status"] == "suspended")["reason"].startswith("accuracy")
    assert all(e["_headers"]["event_type"] == "sg.reviewer.status_changed" for e in seen)
    status_reader.close()


def test_status_changes_by_ops_and_the_rule_are_announced(svc):
    """Ops suspension and reinstatement, and retirement by the pool rule,
    write sg.reviewer.status_changed; pausing does not."""
    bus = sgtest.Bus(svc.prefix)
    reader = bus.consumer("sg.reviewer.status_changed")
    reader.poll_until(lambda s: len(s) >= 3, timeout=30)  # the first test's events
    start = len(reader.seen)
    uid = "q-ops"
    assert svc.post("/v1/profiles:batch", [{"user_id": uid, "tags": ["q"], "credit_score": 700,
                                            "registered_at": "2024-01-01T00:00:00Z"}],
                    headers=CLIENT).status_code == 200
    assert svc.post("/v1/pool:rebuild", headers=OPS).json()["added"] == 1
    assert svc.put("/v1/me/availability", {"paused": True}, headers=sgtest.user_auth(uid)).status_code == 200
    assert svc.put("/v1/me/availability", {"paused": False}, headers=sgtest.user_auth(uid)).status_code == 200
    r = svc.put(f"/v1/reviewers/{uid}/status", {"status": "suspended", "reason": "abusive comments"}, headers=OPS)
    assert r.status_code == 200, r.text
    r = svc.put(f"/v1/reviewers/{uid}/status", {"status": "active", "reason": "appeal granted"}, headers=OPS)
    assert r.status_code == 200, r.text
    # The rule stops admitting the user: retired at the next adjustment.
    assert svc.post("/v1/profiles:batch", [{"user_id": uid, "tags": ["other"], "credit_score": 700,
                                            "registered_at": "2024-01-01T00:00:00Z"}],
                    headers=CLIENT).status_code == 200
    assert svc.post("/v1/pool:rebuild", headers=OPS).json()["retired"] == 1
    seen = reader.poll_until(lambda s: len([e for e in s[start:] if e["user_id"] == uid]) >= 3, timeout=30)
    mine = [(e["_key"], e["status"], e["reason"]) for e in seen[start:] if e["user_id"] == uid]
    assert mine == [(uid, "suspended", "abusive comments"), (uid, "active", "appeal granted"),
                    (uid, "retired", mine[2][2])], mine
    assert mine[2][2], mine
    reader.close()
