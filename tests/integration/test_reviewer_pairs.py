"""Pairs of jurors (API.md v2, issue 17): the fatigue policy's
max_pair_cases_30d limit in selection, and pair agreement for ops."""
import itertools
import uuid

import pytest
import sgtest

OPS = sgtest.ops_auth()
CLIENT = sgtest.client_auth()


@pytest.fixture(scope="module")
def svc():
    with sgtest.running("reviewer", env={"SG_POOL_ADJUST_INTERVAL_S": "3600"}, redis_db=9) as s:
        yield s


def setup_pool(svc, tag, ids):
    assert svc.put("/v1/pool-rule", {"include_tags_any": ["p", "a"], "exclude_tags": [], "min_credit_score": 0,
                                     "min_account_age_days": 0, "active_weeks_required": 0},
                   headers=OPS).status_code == 200
    profiles = [{"user_id": u, "tags": [tag], "credit_score": 700, "registered_at": "2024-01-01T00:00:00Z"}
                for u in ids]
    assert svc.post("/v1/profiles:batch", profiles, headers=CLIENT).status_code == 200
    svc.post("/v1/pool:rebuild", headers=OPS)  # (the start-up adjustment may have added them already)
    for u in ids:
        assert svc.get(f"/v1/reviewers/{u}", headers=OPS).json()["status"] == "active"


def test_pair_limit_never_seats_a_pair_twice(svc):
    pool = [f"p-{i:02d}" for i in range(30)]
    setup_pool(svc, "p", pool)
    r = svc.put("/v1/fatigue-policy", {"max_open_ballots": 50, "max_per_day": 100, "max_per_week": 100,
                                       "min_interval_s": 0, "cooldown_after_expiry_s": 0, "max_pair_cases_30d": 1},
                headers=OPS)
    assert r.status_code == 200 and r.json()["max_pair_cases_30d"] == 1, r.text
    bus = sgtest.Bus(svc.prefix)
    reader = bus.consumer("sg.panel.assigned")
    cases = [f"pc-{uuid.uuid4().hex[:8]}" for _ in range(50)]
    for c in cases:
        bus.produce("sg.panel.requested", c, {"case_id": c, "round": 0, "seats": 3, "report_type": "comment",
                                              "reviewer_tags": ["p"], "exclude_user_ids": [],
                                              "deadline": "2030-01-01T00:00:00Z"})
    seen = reader.poll_until(lambda s: len({e["case_id"] for e in s}) == 50, timeout=60)
    # A substitute round of the first case: the newcomer must not have sat
    # with either remaining juror before.
    first = next(e for e in seen if e["case_id"] == cases[0])
    bus.produce("sg.panel.requested", cases[0], {"case_id": cases[0], "round": 1, "seats": 1, "report_type": "comment",
                                                 "reviewer_tags": ["p"], "exclude_user_ids": [],
                                                 "deadline": "2030-01-01T00:00:00Z"})
    seen = reader.poll_until(lambda s: len({(e["case_id"], e["round"]) for e in s}) == 51, timeout=60)
    reader.close()
    # (A replayed answer, e.g. after a database restart, repeats the first.)
    answers = {(e["case_id"], e["round"]): e for e in seen}
    panels = {}
    for e in answers.values():
        panels.setdefault(e["case_id"], []).extend(e["reviewer_ids"])
    # The pair limit alone leaves no seat empty here (150 of 435 pairs
    # used). Four selections run in parallel, though, and a later pass
    # skips a reviewer another selection holds at that moment: on a slow
    # machine (a fresh container) that has left one seat of the 151 short.
    # A few, never more: the limit must not starve selection.
    short = sum(e["shortfall"] for e in answers.values())
    if short:
        text = sgtest.metrics_when(svc, lambda t: True)
        assert short <= 3, ([e for e in seen if e["shortfall"]],
                            [ln for ln in text.splitlines() if ln.startswith("sg_reviewer_")])
    together = {}
    for c, ids in panels.items():
        assert len(ids) == len(set(ids)), ids
        for a, b in itertools.combinations(sorted(ids), 2):
            together[(a, b)] = together.get((a, b), 0) + 1
    assert max(together.values()) == 1, [p for p, n in together.items() if n > 1]
    assert len(panels[cases[0]]) == 4 - answers[(cases[0], 1)]["shortfall"] - first["shortfall"]
    assert set(first["reviewer_ids"]) <= set(panels[cases[0]])
    # pair_days holds exactly those pairs, once each.
    with svc.db() as c:
        rows = c.execute("SELECT a, b, sum(n) FROM pair_days GROUP BY a, b").fetchall()
    assert {(a, b): n for a, b, n in rows} == together


def test_pair_agreement_flags_pairs_above_their_baseline(svc):
    """Seven jurors on eight decided cases: a-A and a-B always vote alike
    though each is with the majority only half the time (agreement 1,
    baseline 0.5: flagged); a-C is always with the majority and a-D half the
    time, so they agree exactly as often as their rates predict (0.5 and
    0.5: not flagged)."""
    jurors = ["a-A", "a-B", "a-C", "a-D", "a-E", "a-F", "a-G"]
    setup_pool(svc, "a", jurors)
    assert svc.put("/v1/fatigue-policy", {"max_open_ballots": 50, "max_per_day": 100, "max_per_week": 100,
                                          "min_interval_s": 0, "cooldown_after_expiry_s": 0},
                   headers=OPS).status_code == 200
    bus = sgtest.Bus(svc.prefix)
    reader = bus.consumer("sg.panel.assigned")
    cases = [f"ag-{uuid.uuid4().hex[:8]}" for _ in range(8)]
    for c in cases:
        bus.produce("sg.panel.requested", c, {"case_id": c, "round": 0, "seats": 7, "report_type": "comment",
                                              "reviewer_tags": ["a"], "exclude_user_ids": [],
                                              "deadline": "2030-01-01T00:00:00Z"})
    seen = reader.poll_until(lambda s: len({e["case_id"] for e in s if e["case_id"] in cases}) == 8, timeout=60)
    reader.close()
    seen = [e for e in seen if e["case_id"] in cases]
    assert all(sorted(e["reviewer_ids"]) == sorted(jurors) for e in seen), seen
    for k, c in enumerate(cases):
        minority = {"a-A", "a-B", "a-D"} if k >= 4 else set()
        ev = {"case_id": c, "report_type": "comment", "target_id": "t-" + c, "target_owner_id": "o",
              "verdict": "violation", "decided_by": "panel", "reporter_ids": ["rep"],
              "ballots": [{"reviewer_id": u, "outcome": "voted",
                           "decision": "no_violation" if u in minority else "violation",
                           "with_majority": u not in minority} for u in jurors]}
        bus.produce("sg.case.decided", c, ev)
        bus.produce("sg.case.decided", c, ev)  # a redelivery adds nothing
    sgtest.wait_for(lambda: all(svc.get(f"/v1/reviewers/{u}", headers=OPS).json()["counts"]["decided"] == 8
                                for u in jurors), timeout=30, what="decisions recorded")

    r = svc.get("/v1/reviewers/a-A/pairs", headers=OPS)
    assert r.status_code == 200, r.text
    pairs = {p["user_id"]: p for p in r.json()["items"]}
    assert set(pairs) == set(jurors) - {"a-A"}
    assert pairs["a-B"] == {"user_id": "a-B", "cases": 8, "agreed": 8, "agreement": 1.0, "baseline": 0.5}
    assert pairs["a-C"]["agreed"] == 4 and pairs["a-C"]["baseline"] == 0.5
    cd = {p["user_id"]: p for p in svc.get("/v1/reviewers/a-C/pairs", headers=OPS).json()["items"]}["a-D"]
    assert cd == {"user_id": "a-D", "cases": 8, "agreed": 4, "agreement": 0.5, "baseline": 0.5}, cd
    assert len(svc.get("/v1/reviewers/a-A/pairs?limit=2", headers=OPS).json()["items"]) == 2

    flagged, cursor = [], None
    while True:
        r = svc.get("/v1/reviewer-pairs?flagged=true&limit=1" + (f"&cursor={cursor}" if cursor else ""), headers=OPS)
        assert r.status_code == 200, r.text
        flagged += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if not cursor:
            break
    names = {tuple(p["user_ids"]) for p in flagged}
    # The ring a-A, a-B, a-D always agreed at a 0.5 baseline.
    assert names == {("a-A", "a-B"), ("a-A", "a-D"), ("a-B", "a-D")}, flagged
    assert all(p["flagged"] and p["cases"] == 8 for p in flagged)
    every = svc.get("/v1/reviewer-pairs?limit=200", headers=OPS).json()["items"]
    cdrow = next(p for p in every if p["user_ids"] == ["a-C", "a-D"])
    assert cdrow["flagged"] is False and cdrow["agreement"] == cdrow["baseline"] == 0.5
    assert len([p for p in every if p["user_ids"][0].startswith("a-")]) == 21
    sgtest.problem_ok(svc.get("/v1/reviewer-pairs?flagged=maybe", headers=OPS), 400)
    sgtest.problem_ok(svc.get("/v1/reviewer-pairs", headers=sgtest.user_auth("a-A")), 403)
    sgtest.problem_ok(svc.get("/v1/reviewers/a-A/pairs", headers=sgtest.user_auth("a-A")), 403)
    sgtest.problem_ok(svc.get("/v1/reviewers/nobody/pairs", headers=OPS), 404)

    # Past 90 days a case no longer counts: the adjustment drops it from the sums.
    with svc.db() as c:
        c.execute("UPDATE pair_cases SET decided_at = now() - interval '91 days' WHERE case_id = %s", (cases[0],))
    svc.post("/v1/pool:rebuild", headers=OPS)
    pairs = {p["user_id"]: p for p in svc.get("/v1/reviewers/a-A/pairs", headers=OPS).json()["items"]}
    assert pairs["a-B"]["cases"] == 7 and pairs["a-B"]["agreed"] == 7, pairs["a-B"]
    with svc.db() as c:
        assert c.execute("SELECT count(*) FROM pair_cases WHERE case_id = %s", (cases[0],)).fetchone()[0] == 0
