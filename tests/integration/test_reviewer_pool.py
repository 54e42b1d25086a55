"""Reviewer service: profiles, activity, the pool rule and pool building,
self-service and ops endpoints, against the devstack."""
import datetime as dt
import random

import pytest
import sgtest

UTC = dt.timezone.utc


def iso(t):
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def monday(t):
    d = t.astimezone(UTC).date()
    return d - dt.timedelta(days=d.weekday())


@pytest.fixture(scope="module")
def svc():
    with sgtest.running("reviewer", env={"SG_POOL_ADJUST_INTERVAL_S": "3600"}, redis_db=13) as s:
        yield s


OPS = sgtest.ops_auth()
CLIENT = sgtest.client_auth()

RULE = {"include_tags_any": ["seller", "buyer"], "exclude_tags": ["banned"], "min_credit_score": 500,
        "min_account_age_days": 90, "active_weeks_required": 3}


def expected_eligible(p, weeks, now):
    """The pool rule as documented: any include tag, no exclude tag, credit,
    age, and activity in each of the N full ISO weeks before this one."""
    tags = set(p["tags"])
    if tags & set(RULE["exclude_tags"]):
        return False
    if RULE["include_tags_any"] and not tags & set(RULE["include_tags_any"]):
        return False
    if p["credit_score"] < RULE["min_credit_score"]:
        return False
    reg = dt.datetime.strptime(p["registered_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    if reg > now - dt.timedelta(days=RULE["min_account_age_days"]):
        return False
    this = monday(now)
    need = {this - dt.timedelta(weeks=k) for k in range(1, RULE["active_weeks_required"] + 1)}
    return need <= weeks


def active_ids(svc):
    ids, cursor = [], None
    while True:
        q = "/v1/reviewers?status=active&limit=200" + (f"&cursor={cursor}" if cursor else "")
        r = svc.get(q, headers=OPS)
        assert r.status_code == 200, r.text
        body = r.json()
        ids += [i["user_id"] for i in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            return ids


def test_auth_and_validation(svc):
    body = [{"user_id": "v1", "credit_score": 1, "registered_at": "2025-01-01T00:00:00Z"}]
    sgtest.problem_ok(svc.post("/v1/profiles:batch", body), 401)
    sgtest.problem_ok(svc.post("/v1/profiles:batch", body, headers=sgtest.user_auth("v1")), 403)
    sgtest.problem_ok(svc.put("/v1/pool-rule", RULE, headers=sgtest.user_auth("v1")), 403)
    sgtest.problem_ok(svc.get("/v1/reviewers", headers=CLIENT), 403)
    bad = body + [{"user_id": "v2", "credit_score": 1, "registered_at": "2025-01-01T00:00:00Z", "tags": ["Bad Tag"]}]
    p = sgtest.problem_ok(svc.post("/v1/profiles:batch", bad, headers=CLIENT), 400)
    assert "element 1" in p["detail"], p
    p = sgtest.problem_ok(svc.post("/v1/profiles:batch", body + body, headers=CLIENT), 400)
    assert "element 1" in p["detail"] and "duplicate" in p["detail"], p
    sgtest.problem_ok(svc.post("/v1/profiles:batch", [{"user_id": "v3"}], headers=CLIENT), 400)
    sgtest.problem_ok(svc.post("/v1/profiles:batch", {"user_id": "v1"}, headers=CLIENT), 400)
    # 1001 profiles never fit in the 64 KiB body limit (413 first); the
    # element limit is checked with activity, whose elements are smaller.
    many = [{"user_id": f"m{i}", "at": "2025-01-01T00:00:00Z"} for i in range(1001)]
    p = sgtest.problem_ok(svc.post("/v1/activity:batch", many, headers=CLIENT), 400)
    assert "1..1000" in p["detail"], p
    p = sgtest.problem_ok(svc.post("/v1/activity:batch", [{"user_id": "v1", "at": "2025-01-01T00:00:00Z"},
                                                          {"user_id": "v1", "at": "soon"}], headers=CLIENT), 400)
    assert "element 1" in p["detail"], p
    with svc.db() as c:
        assert c.execute("SELECT count(*) FROM users").fetchone()[0] == 0, "nothing written on refusal"
        assert c.execute("SELECT count(*) FROM activity_weeks").fetchone()[0] == 0
    sgtest.problem_ok(svc.put("/v1/pool-rule", dict(RULE, surprise=1), headers=OPS), 400)
    sgtest.problem_ok(svc.put("/v1/pool-rule", dict(RULE, active_weeks_required=-1), headers=OPS), 400)
    sgtest.problem_ok(svc.put("/v1/fatigue-policy", {"max_open_ballots": 3}, headers=OPS), 400)
    sgtest.problem_ok(svc.put("/v1/quality-policy", {"min_decided_votes": 20, "min_accuracy": 2,
                                                     "max_no_show_rate": 0.5, "suspend_days": 30}, headers=OPS), 400)


def test_policies_are_versioned(svc):
    r = svc.get("/v1/pool-rule", headers=OPS)
    assert r.status_code == 200 and r.json()["version"] == 1, r.text
    r = svc.put("/v1/pool-rule", RULE, headers=OPS)
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2 and r.json()["created_by"] == "ops-1"
    got = svc.get("/v1/pool-rule", headers=OPS).json()
    assert {k: got[k] for k in RULE} == RULE and got["version"] == 2
    fp = {"max_open_ballots": 4, "max_per_day": 10, "max_per_week": 50, "min_interval_s": 0,
          "cooldown_after_expiry_s": 600}
    r = svc.put("/v1/fatigue-policy", fp, headers=OPS)
    assert r.status_code == 200 and r.json()["version"] == 2, r.text
    assert {k: svc.get("/v1/fatigue-policy", headers=OPS).json()[k] for k in fp} == fp
    qp = {"min_decided_votes": 10, "min_accuracy": 0.55, "max_no_show_rate": 0.4, "suspend_days": 7}
    r = svc.put("/v1/quality-policy", qp, headers=OPS)
    assert r.status_code == 200 and r.json()["version"] == 2, r.text
    assert {k: svc.get("/v1/quality-policy", headers=OPS).json()[k] for k in qp} == qp


def test_thousand_profiles_rebuild_gives_exactly_the_eligible_pool(svc):
    rnd = random.Random(4)
    now = dt.datetime.now(UTC)
    this = monday(now)
    profiles, weeks, activity = [], {}, []
    for i in range(1000):
        uid = f"p{i:04d}"
        tags = rnd.sample(["seller", "buyer", "collector", "banned", "lang:zh"], rnd.randint(0, 3))
        p = {"user_id": uid, "tags": tags, "credit_score": rnd.randint(300, 1000),
             "registered_at": iso(now - dt.timedelta(days=rnd.randint(30, 400)))}
        profiles.append(p)
        # Mostly active users with occasional gaps, some in the current week only.
        ws = {this - dt.timedelta(weeks=k) for k in range(0, 6) if rnd.random() < 0.85}
        weeks[uid] = ws
        for w in ws:
            start = dt.datetime.combine(w, dt.time(), UTC)
            at = start + dt.timedelta(seconds=rnd.randint(0, 7 * 86400 - 1))
            at = min(at, now)
            for _ in range(rnd.randint(1, 2)):  # repeated visits are idempotent
                activity.append({"user_id": uid, "at": iso(at)})
    for i in range(0, 1000, 500):
        r = svc.post("/v1/profiles:batch", profiles[i:i + 500], headers=CLIENT)
        assert r.status_code == 200 and r.json()["upserted"] == 500, r.text
    for i in range(0, len(activity), 1000):
        r = svc.post("/v1/activity:batch", activity[i:i + 1000], headers=CLIENT)
        assert r.status_code == 200, r.text
    assert svc.put("/v1/pool-rule", RULE, headers=OPS).status_code == 200

    expected = {p["user_id"] for p in profiles if expected_eligible(p, weeks[p["user_id"]], now)}
    assert 100 < len(expected) < 900, len(expected)  # the data exercises both sides
    r = svc.post("/v1/pool:rebuild", headers=OPS)
    assert r.status_code == 200, r.text
    assert r.json() == {"added": len(expected), "retired": 0, "suspended": 0, "reinstated": 0}
    assert set(active_ids(svc)) == expected
    # Idempotent.
    assert svc.post("/v1/pool:rebuild", headers=OPS).json() == {"added": 0, "retired": 0, "suspended": 0,
                                                                "reinstated": 0}
    with svc.db() as c:
        n = c.execute("SELECT count(*) FROM reviewer_status_history WHERE to_status = 'active'").fetchone()[0]
        assert n == len(expected)
    m = sgtest.metrics_when(svc, lambda t: f'sg_reviewers{{status="active"}} {len(expected)}' in t)
    assert f'sg_reviewers{{status="active"}} {len(expected)}' in m

    # A reviewer who loses eligibility is retired with the reason, and joins
    # again when eligible.
    victim = sorted(expected)[0]
    p = next(p for p in profiles if p["user_id"] == victim)
    low = dict(p, credit_score=100)
    assert svc.post("/v1/profiles:batch", [low], headers=CLIENT).status_code == 200
    assert svc.post("/v1/pool:rebuild", headers=OPS).json()["retired"] == 1
    rv = svc.get(f"/v1/reviewers/{victim}", headers=OPS).json()
    assert rv["status"] == "retired" and "credit" in rv["reason"], rv
    assert svc.post("/v1/profiles:batch", [p], headers=CLIENT).status_code == 200
    assert svc.post("/v1/pool:rebuild", headers=OPS).json()["added"] == 1
    assert svc.get(f"/v1/reviewers/{victim}", headers=OPS).json()["status"] == "active"
    with svc.db() as c:
        rows = c.execute("SELECT from_status, to_status, actor FROM reviewer_status_history WHERE user_id = %s"
                         " ORDER BY id", (victim,)).fetchall()
    assert rows == [(None, "active", "pool-adjustment"), ("active", "retired", "pool-adjustment"),
                    ("retired", "active", "pool-adjustment")]


def test_activity_from_kafka(svc):
    bus = sgtest.Bus(svc.prefix)
    now = dt.datetime.now(UTC)
    bus.produce("sg.user.activity", "k1", {"user_id": "kafka-user", "at": iso(now)})
    bus.produce("sg.user.activity", "k1", {"user_id": "kafka-user", "at": "not a time"})  # dropped
    bus.produce("sg.user.activity", "k1", {"user_id": "kafka-user", "at": iso(now - dt.timedelta(weeks=1))})

    def weeks():
        with svc.db() as c:
            return c.execute("SELECT count(*) FROM activity_weeks WHERE user_id = 'kafka-user'").fetchone()[0] == 2
    sgtest.wait_for(weeks, timeout=30, what="activity from sg.user.activity")


def test_self_service_and_ops(svc):
    uid = active_ids(svc)[0]
    other = active_ids(svc)[1]
    me = sgtest.user_auth(uid)
    r = svc.get(f"/v1/reviewers/{uid}", headers=me)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "active" and body["counts"]["assigned"] == 0 and body["reliability"] == 0.5
    assert body["accuracy"] is None and body["open_ballots"] == 0 and body["last_assigned_at"] is None
    sgtest.problem_ok(svc.get(f"/v1/reviewers/{other}", headers=me), 403)
    sgtest.problem_ok(svc.get("/v1/reviewers/nobody", headers=OPS), 404)
    sgtest.problem_ok(svc.get("/v1/reviewers?status=sleeping", headers=OPS), 400)

    r = svc.put("/v1/me/availability", {"paused": True}, headers=me)
    assert r.status_code == 200 and r.json()["status"] == "paused", r.text
    assert svc.put("/v1/me/availability", {"paused": True}, headers=me).json()["status"] == "paused"
    assert uid not in active_ids(svc)
    paused = svc.get("/v1/reviewers?status=paused", headers=OPS).json()["items"]
    assert [i["user_id"] for i in paused] == [uid]
    r = svc.put("/v1/me/availability", {"paused": False}, headers=me)
    assert r.status_code == 200 and r.json()["status"] == "active", r.text
    sgtest.problem_ok(svc.put("/v1/me/availability", {"paused": "yes"}, headers=me), 400)
    sgtest.problem_ok(svc.put("/v1/me/availability", {"paused": False}, headers=sgtest.user_auth("stranger")), 404)

    # Ops suspend: the reviewer cannot unpause; ops can reactivate.
    r = svc.put(f"/v1/reviewers/{uid}/status", {"status": "suspended", "reason": "abuse report"}, headers=OPS)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "suspended" and r.json()["reason"] == "abuse report"
    sgtest.problem_ok(svc.put("/v1/me/availability", {"paused": False}, headers=me), 409)
    sgtest.problem_ok(svc.put(f"/v1/reviewers/{uid}/status", {"status": "paused", "reason": "x"}, headers=OPS), 400)
    sgtest.problem_ok(svc.put(f"/v1/reviewers/{uid}/status", {"status": "active"}, headers=OPS), 400)
    assert svc.post("/v1/pool:rebuild", headers=OPS).json()["reinstated"] == 0, "indefinite ops suspension"
    r = svc.put(f"/v1/reviewers/{uid}/status", {"status": "active", "reason": "appeal accepted"}, headers=OPS)
    assert r.status_code == 200 and r.json()["status"] == "active", r.text
    sgtest.problem_ok(svc.put("/v1/reviewers/nobody/status", {"status": "active", "reason": "x"}, headers=OPS), 404)

    # Activation is refused when the rule does not admit the user.
    retiree = sorted(active_ids(svc))[-1]
    with svc.db() as c:
        c.execute("UPDATE users SET credit_score = 1 WHERE user_id = %s", (retiree,))
    svc.post("/v1/pool:rebuild", headers=OPS)
    sgtest.problem_ok(svc.put("/v1/me/availability", {"paused": True}, headers=sgtest.user_auth(retiree)), 409)
    p = sgtest.problem_ok(svc.put(f"/v1/reviewers/{retiree}/status", {"status": "active", "reason": "x"},
                                  headers=OPS), 409)
    assert "credit" in p["detail"], p
    sgtest.problem_ok(svc.put(f"/v1/reviewers/{retiree}/status", {"status": "suspended", "reason": "x"},
                              headers=OPS), 409)
