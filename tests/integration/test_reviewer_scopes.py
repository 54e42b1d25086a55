"""Scoped API keys on the reviewer's upstream endpoints (API.md, Scopes):
POST /v1/profiles:batch needs scope `profiles`, POST /v1/activity:batch
scope `activity`; a key without scopes has all of them; out of scope is an
RFC 7807 403 and nothing is written."""
import pytest
import sgtest

KEYS = "crm:key-crm-0001:profiles|activity,forum:key-forum-1:report:forum_post,visits:key-visits-1:activity," \
       "product:key-product-1"
CRM, FORUM, VISITS, PRODUCT = (sgtest.auth(k) for k in ("key-crm-0001", "key-forum-1", "key-visits-1",
                                                          "key-product-1"))


@pytest.fixture(scope="module")
def svc():
    with sgtest.running("reviewer", env={"SG_POOL_ADJUST_INTERVAL_S": "3600", "SG_API_KEYS": KEYS}, redis_db=12) as s:
        yield s


def profile(uid):
    return [{"user_id": uid, "tags": ["t"], "credit_score": 700, "registered_at": "2024-01-01T00:00:00Z"}]


def visit(uid):
    return [{"user_id": uid, "at": "2026-01-05T10:00:00Z"}]


def rows(svc, sql, *args):
    with svc.db() as c:
        return c.execute(sql, args).fetchone()[0]


def test_out_of_scope_is_403_and_writes_nothing(svc):
    # A key scoped to reports only.
    p = sgtest.problem_ok(svc.post("/v1/profiles:batch", profile("s-forum"), headers=FORUM), 403)
    assert "profiles" in p["detail"], p
    p = sgtest.problem_ok(svc.post("/v1/activity:batch", visit("s-forum"), headers=FORUM), 403)
    assert "activity" in p["detail"], p
    # A key scoped to activity only may record visits but not profiles.
    sgtest.problem_ok(svc.post("/v1/profiles:batch", profile("s-visits"), headers=VISITS), 403)
    # The scope is checked before the body: an invalid body is still 403.
    sgtest.problem_ok(svc.post("/v1/profiles:batch", [{"bad": 1}], headers=FORUM), 403)
    assert rows(svc, "SELECT count(*) FROM users") == 0
    assert rows(svc, "SELECT count(*) FROM activity_weeks") == 0


def test_in_scope_and_unscoped_keys_write(svc):
    assert svc.post("/v1/profiles:batch", profile("s-crm"), headers=CRM).status_code == 200
    assert svc.post("/v1/activity:batch", visit("s-crm"), headers=CRM).status_code == 200
    assert svc.post("/v1/activity:batch", visit("s-visits"), headers=VISITS).status_code == 200
    # An entry without scopes has all of them.
    assert svc.post("/v1/profiles:batch", profile("s-product"), headers=PRODUCT).status_code == 200
    assert svc.post("/v1/activity:batch", visit("s-product"), headers=PRODUCT).status_code == 200
    assert rows(svc, "SELECT count(*) FROM users") == 2
    assert rows(svc, "SELECT count(*) FROM activity_weeks") == 3
    # People are governed by their role, not by scopes: still 403 here (client routes).
    sgtest.problem_ok(svc.post("/v1/profiles:batch", profile("s-ops"), headers=sgtest.ops_auth()), 403)
