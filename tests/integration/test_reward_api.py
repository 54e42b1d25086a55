"""Reward service HTTP API: reward rules, catalog, accounts and ledger —
contract, validation and authorization (API.md "Reward service")."""
import uuid

import pytest
import requests

import sgtest

OPS = sgtest.ops_auth()
RULE = {"vote_reward": 10, "majority_bonus": 5, "reporter_reward": 20, "daily_cap_per_user": 200}


# ---- helpers (each reward test module carries its own copy) ---------------

def decided(case_id, verdict="violation", ballots=(), reporters=(), report_type="comment", decided_by="panel"):
    return {"case_id": case_id, "report_type": report_type, "target_id": "t:" + case_id,
            "target_owner_id": "owner-" + case_id[:8], "verdict": verdict, "decided_by": decided_by,
            "reporter_ids": list(reporters), "ballots": list(ballots)}


def voted(rid, decision="violation", with_majority=True):
    return {"reviewer_id": rid, "outcome": "voted", "decision": decision, "with_majority": with_majority}


def assert_ledger_consistent(svc):
    with svc.db() as c:
        q = lambda sql: c.execute(sql).fetchall()  # noqa: E731
        assert q("""SELECT a.user_id FROM accounts a
                    LEFT JOIN (SELECT account_id, sum(amount) AS total FROM ledger_entries GROUP BY account_id) e
                      ON e.account_id = a.user_id
                    WHERE a.balance <> coalesce(e.total, 0)""") == [], "balance != sum of ledger entries"
        assert q("SELECT coalesce(sum(amount), 0) FROM ledger_entries")[0][0] == 0, "journal does not sum to 0"
        assert q("""SELECT tx_id FROM ledger_entries GROUP BY tx_id
                    HAVING sum(amount) <> 0 OR count(*) <> 2""") == [], "unbalanced journal transaction"
        assert q("SELECT user_id FROM accounts WHERE kind = 'user' AND balance < 0") == [], "negative balance"


@pytest.fixture(scope="module")
def svc():
    with sgtest.running("reward") as s:
        yield s


@pytest.fixture(scope="module")
def bus(svc):
    return sgtest.Bus(svc.prefix)


@pytest.fixture(autouse=True)
def ledger_consistent(svc):
    yield
    assert_ledger_consistent(svc)


def uid(prefix="u"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def walk(svc, path, headers, limit):
    """Follows next_cursor to the end; returns all items."""
    items, cursor = [], None
    while True:
        sep = "&" if "?" in path else "?"
        url = f"{path}{sep}limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        r = svc.get(url, headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"items", "next_cursor"}
        assert len(body["items"]) <= limit
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


# ---- reward rules ---------------------------------------------------------

def test_default_rule_is_seeded(svc):
    r = svc.get("/v1/reward-rules/default", headers=OPS)
    assert r.status_code == 200, r.text
    body = r.json()
    assert {k: body[k] for k in RULE} == RULE and body["version"] == 1 and body["report_type"] == "default"
    sgtest.problem_ok(svc.get("/v1/reward-rules/listing", headers=OPS), 404)


def test_put_creates_versions(svc):
    r1 = svc.put("/v1/reward-rules/seller_review", RULE, headers=OPS)
    assert r1.status_code == 200, r1.text
    assert r1.json()["version"] == 1 and r1.json()["created_by"] == "ops-1"
    r2 = svc.put("/v1/reward-rules/seller_review", dict(RULE, vote_reward=12), headers=OPS)
    assert r2.json()["version"] == 2
    cur = svc.get("/v1/reward-rules/seller_review", headers=OPS).json()
    assert cur["version"] == 2 and cur["vote_reward"] == 12 and cur["created_at"].endswith("Z")
    versions = walk(svc, "/v1/reward-rules/seller_review/versions", OPS, 1)
    assert [v["version"] for v in versions] == [2, 1]
    listed = walk(svc, "/v1/reward-rules", OPS, 1)
    by_type = {x["report_type"]: x["version"] for x in listed}
    assert by_type["seller_review"] == 2 and by_type["default"] == 1
    sgtest.problem_ok(svc.get("/v1/reward-rules/nothing_here/versions", headers=OPS), 404)


def test_concurrent_puts_get_distinct_versions(svc):
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=10) as ex:
        rs = list(ex.map(lambda i: svc.put("/v1/reward-rules/race", dict(RULE, vote_reward=i), headers=OPS),
                         range(10)))
    assert sorted(r.json()["version"] for r in rs) == list(range(1, 11))


@pytest.mark.parametrize("body", [
    dict(RULE, vote_reward=-1), dict(RULE, majority_bonus=1000001), dict(RULE, daily_cap_per_user=1000000001),
    {k: v for k, v in RULE.items() if k != "reporter_reward"}, dict(RULE, extra=1), dict(RULE, vote_reward="10"),
    dict(RULE, vote_reward=1.5), [], None,
])
def test_rule_validation(svc, body):
    sgtest.problem_ok(svc.put("/v1/reward-rules/comment", body, headers=OPS), 400)


def test_rule_paths_and_auth(svc):
    sgtest.problem_ok(svc.put("/v1/reward-rules/Bad-Type", RULE, headers=OPS), 400)
    sgtest.problem_ok(svc.put("/v1/reward-rules/" + "a" * 33, RULE, headers=OPS), 400)
    sgtest.problem_ok(svc.put("/v1/reward-rules/comment", RULE, headers=sgtest.user_auth("u1")), 403)
    sgtest.problem_ok(svc.get("/v1/reward-rules/default", headers=sgtest.client_auth()), 403)
    sgtest.problem_ok(svc.get("/v1/reward-rules/default"), 401)
    sgtest.problem_ok(svc.get("/v1/reward-rules/default", headers=sgtest.auth(sgtest.token("o", "ops", ttl=-10))), 401)
    bad = sgtest.token("o", "ops", secret="another-secret-0123456789abcdef")
    sgtest.problem_ok(svc.get("/v1/reward-rules/default", headers=sgtest.auth(bad)), 401)
    assert svc.get("/v1/reward-rules/comment", headers=OPS).status_code == 404, "refused PUTs wrote nothing"


# ---- catalog --------------------------------------------------------------

def test_catalog_crud_and_pagination(svc):
    ids = []
    for i in range(5):
        r = svc.post("/v1/catalog/items", {"name": f"Item {i} ☕", "cost": 10 + i, "stock": i, "active": i != 2},
                     headers=OPS)
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["name"] == f"Item {i} ☕" and body["cost"] == 10 + i and body["stock"] == i
        assert body["active"] == (i != 2) and sgtest_uuid(body["item_id"])
        ids.append(body["item_id"])
    user = sgtest.user_auth(uid())
    listed = walk(svc, "/v1/catalog/items", user, 2)
    assert [x["item_id"] for x in listed if x["item_id"] in ids] == ids, "creation order"
    active = walk(svc, "/v1/catalog/items?active=true", user, 50)
    assert ids[2] not in [x["item_id"] for x in active]
    assert svc.get(f"/v1/catalog/items/{ids[0]}", headers=user).json()["name"] == "Item 0 ☕"
    r = svc.put(f"/v1/catalog/items/{ids[0]}", {"name": "Renamed", "cost": 3, "stock": 9, "active": False},
                headers=OPS)
    assert r.status_code == 200, r.text
    assert {k: r.json()[k] for k in ("name", "cost", "stock", "active")} == \
        {"name": "Renamed", "cost": 3, "stock": 9, "active": False}
    sgtest.problem_ok(svc.put(f"/v1/catalog/items/{uuid.uuid4()}", {"name": "x", "cost": 1, "stock": 1,
                                                                    "active": True}, headers=OPS), 404)
    sgtest.problem_ok(svc.get(f"/v1/catalog/items/{uuid.uuid4()}", headers=user), 404)
    sgtest.problem_ok(svc.get("/v1/catalog/items/not-a-uuid", headers=user), 404)
    sgtest.problem_ok(svc.get("/v1/catalog/items?active=maybe", headers=user), 400)
    sgtest.problem_ok(svc.get("/v1/catalog/items?cursor=abc", headers=user), 400)
    sgtest.problem_ok(svc.get("/v1/catalog/items?limit=0", headers=user), 400)
    sgtest.problem_ok(svc.get("/v1/catalog/items?limit=201", headers=user), 400)


def sgtest_uuid(s):
    return str(uuid.UUID(s)) == s


@pytest.mark.parametrize("body", [
    {"name": "", "cost": 1, "stock": 0, "active": True},
    {"name": "x" * 201, "cost": 1, "stock": 0, "active": True},
    {"name": "x", "cost": 0, "stock": 0, "active": True},
    {"name": "x", "cost": 1, "stock": -1, "active": True},
    {"name": "x", "cost": 1, "stock": 0, "active": "yes"},
    {"name": "x", "cost": 1, "stock": 0},
    {"name": "x", "cost": 1, "stock": 0, "active": True, "id": "y"},
    {"name": "a\u0007b", "cost": 1, "stock": 0, "active": True},
])
def test_item_validation(svc, body):
    before = len(walk(svc, "/v1/catalog/items", OPS, 200))
    sgtest.problem_ok(svc.post("/v1/catalog/items", body, headers=OPS), 400)
    assert len(walk(svc, "/v1/catalog/items", OPS, 200)) == before


def test_catalog_auth(svc):
    item = {"name": "x", "cost": 1, "stock": 1, "active": True}
    sgtest.problem_ok(svc.post("/v1/catalog/items", item, headers=sgtest.user_auth("u1")), 403)
    sgtest.problem_ok(svc.post("/v1/catalog/items", item, headers=sgtest.client_auth()), 403)
    sgtest.problem_ok(svc.post("/v1/catalog/items", item), 401)
    sgtest.problem_ok(svc.get("/v1/catalog/items"), 401)
    r = requests.post(svc.url + "/v1/catalog/items", data="{not json", timeout=10,
                      headers={**OPS, "Content-Type": "application/json"})
    sgtest.problem_ok(r, 400)
    r = requests.post(svc.url + "/v1/catalog/items", data=b"x" * (70 * 1024), timeout=10,
                      headers={**OPS, "Content-Type": "application/json"})
    sgtest.problem_ok(r, 413)


# ---- accounts and ledger ---------------------------------------------------

def test_accounts_self_or_ops(svc):
    me = uid("me")
    r = svc.get(f"/v1/accounts/{me}", headers=sgtest.user_auth(me))
    assert r.status_code == 200 and r.json() == {"user_id": me, "balance": 0, "pending": 0}, \
        "unknown user: balance 0, nothing pending"
    assert svc.get(f"/v1/accounts/{me}", headers=OPS).json()["balance"] == 0
    sgtest.problem_ok(svc.get(f"/v1/accounts/{me}", headers=sgtest.user_auth(uid())), 403)
    sgtest.problem_ok(svc.get(f"/v1/accounts/{me}/ledger", headers=sgtest.user_auth(uid())), 403)
    sgtest.problem_ok(svc.get(f"/v1/accounts/{me}", headers=sgtest.client_auth()), 403)
    sgtest.problem_ok(svc.get(f"/v1/accounts/{me}"), 401)
    # The platform's own account is no user's.
    sgtest.problem_ok(svc.get("/v1/accounts/platform%20treasury", headers=OPS), 400)
    assert svc.get(f"/v1/accounts/{me}/ledger", headers=sgtest.user_auth(me)).json() == \
        {"items": [], "next_cursor": None}


def test_ledger_newest_first_paginated(svc, bus):
    me = uid("led")
    cases = [str(uuid.uuid4()) for _ in range(5)]
    events = []
    for i, case in enumerate(cases):
        # Majority on even cases, minority on odd: entries of 10+5 or 10.
        events.append(bus.produce("sg.case.decided", case, decided(case, "violation", [
            voted(me, "violation" if i % 2 == 0 else "no_violation", i % 2 == 0)])))
        # Final as decided: the majority bonus is credited at finality.
        events.append(bus.produce("sg.case.finalized", case, {"case_id": case, "final_verdict": "violation",
                                                             "finalized_by": "window", "appeal_case_id": None}))

    def done():
        with svc.db() as c:
            return c.execute("SELECT count(*) FROM inbox WHERE event_id = ANY(%s::uuid[])",
                             (events,)).fetchone()[0] == len(events)
    sgtest.wait_for(done, timeout=60, what="events handled")
    entries = walk(svc, f"/v1/accounts/{me}/ledger", sgtest.user_auth(me), 2)
    assert len(entries) == 8  # 5 votes + 3 majority bonuses
    assert sum(e["amount"] for e in entries) == \
        svc.get(f"/v1/accounts/{me}", headers=sgtest.user_auth(me)).json()["balance"] == 65
    for e in entries:
        assert set(e) == {"entry_id", "amount", "kind", "grant_kind", "case_id", "redemption_id", "created_at"}
        assert e["kind"] == "grant" and e["case_id"] in cases and e["redemption_id"] is None
        assert e["grant_kind"] in ("vote", "majority_bonus") and e["created_at"].endswith("Z")
    assert len({e["entry_id"] for e in entries}) == 8
    with svc.db() as c:
        seqs = [c.execute("SELECT seq FROM ledger_entries WHERE id = %s", (e["entry_id"],)).fetchone()[0]
                for e in entries]
    assert seqs == sorted(seqs, reverse=True), "newest first"
    sgtest.problem_ok(svc.get(f"/v1/accounts/{me}/ledger?cursor=-5", headers=OPS), 400)
