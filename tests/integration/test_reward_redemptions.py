"""Reward service: catalog redemptions and refunds under concurrency.

Users get their coins from sg.case.decided events (the real path), never from
SQL. After every test the ledger must be consistent: each balance equals the
sum of its entries, the journal sums to zero, no user balance is negative.
"""
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

import sgtest

OPS = sgtest.ops_auth()


# ---- helpers (each reward test module carries its own copy) ---------------

def decided(case_id, verdict="violation", ballots=(), reporters=(), report_type="comment", decided_by="panel"):
    return {"case_id": case_id, "report_type": report_type, "target_id": "t:" + case_id,
            "target_owner_id": "owner-" + case_id[:8], "verdict": verdict, "decided_by": decided_by,
            "reporter_ids": list(reporters), "ballots": list(ballots)}


def voted(rid, decision="violation", with_majority=True):
    return {"reviewer_id": rid, "outcome": "voted", "decision": decision, "with_majority": with_majority}


def balance(svc, user):
    r = svc.get(f"/v1/accounts/{user}", headers=OPS)
    assert r.status_code == 200, r.text
    return r.json()["balance"]


def assert_ledger_consistent(svc):
    with svc.db() as c:
        q = lambda sql: c.execute(sql).fetchall()  # noqa: E731
        assert q("""SELECT a.user_id, a.balance, coalesce(e.total, 0) FROM accounts a
                    LEFT JOIN (SELECT account_id, sum(amount) AS total FROM ledger_entries GROUP BY account_id) e
                      ON e.account_id = a.user_id
                    WHERE a.balance <> coalesce(e.total, 0)""") == [], "balance != sum of ledger entries"
        assert q("SELECT coalesce(sum(amount), 0) FROM ledger_entries")[0][0] == 0, "journal does not sum to 0"
        assert q("SELECT coalesce(sum(balance), 0) FROM accounts")[0][0] == 0, "balances do not sum to 0"
        assert q("""SELECT tx_id FROM ledger_entries GROUP BY tx_id
                    HAVING sum(amount) <> 0 OR count(*) <> 2""") == [], "unbalanced journal transaction"
        assert q("SELECT user_id FROM accounts WHERE kind = 'user' AND balance < 0") == [], "negative balance"
        assert q("""SELECT r.id FROM redemptions r WHERE
                    (SELECT coalesce(sum(e.amount), 0) FROM journal_tx t JOIN ledger_entries e ON e.tx_id = t.id
                      AND e.account_id = r.user_id WHERE t.redemption_id = r.id)
                    <> CASE WHEN r.status = 'refunded' THEN 0 ELSE -r.cost END""") == [], "redemption postings"
        assert q("""SELECT r.id FROM redemptions r WHERE
                    (SELECT count(*) FROM journal_tx t WHERE t.redemption_id = r.id)
                    <> CASE WHEN r.status = 'refunded' THEN 2 ELSE 1 END""") == [], "one posting per redemption"
        assert q("""SELECT g.id FROM grants g
                    LEFT JOIN ledger_entries e ON e.tx_id = g.tx_id AND e.account_id = g.user_id
                    WHERE g.amount_paid > 0 AND e.amount IS DISTINCT FROM g.amount_paid""") == [], "grant postings"


# ---- fixtures -------------------------------------------------------------

@pytest.fixture(scope="module")
def svc():
    with sgtest.running("reward") as s:
        yield s


@pytest.fixture(scope="module")
def bus(svc):
    return sgtest.Bus(svc.prefix)


@pytest.fixture(scope="module")
def fund(svc, bus):
    """fund({user: coins, ...}): grants each user exactly `coins` through one
    decided case per distinct amount (rule type fundN: vote_reward N)."""
    rules = {}  # rule type -> its created_at (whole seconds, UTC, the service's format)

    def give(amounts):
        events = []
        for amount in sorted(set(amounts.values())):
            rtype = f"fund{amount}"
            if rtype not in rules:
                r = svc.put(f"/v1/reward-rules/{rtype}", {"vote_reward": amount, "majority_bonus": 0,
                                                          "reporter_reward": 0, "daily_cap_per_user": 1000000000},
                            headers=OPS)
                assert r.status_code == 200, r.text
                rules[rtype] = r.json()["created_at"]
            case = str(uuid.uuid4())
            users = [u for u, a in amounts.items() if a == amount]
            # The service pays by the rule in force at the event's time, and
            # the rule's time is the database's clock: the event is dated no
            # earlier than its rule, whatever this process's clock says.
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            payload = dict(decided(case, "violation", [voted(u) for u in users], report_type=rtype),
                           occurred_at=max(now, rules[rtype]))
            events.append(bus.produce("sg.case.decided", case, payload))

        def done():
            with svc.db() as c:
                return c.execute("SELECT count(*) FROM inbox WHERE event_id = ANY(%s::uuid[])",
                                 (events,)).fetchone()[0] == len(events)
        sgtest.wait_for(done, timeout=60, what="funding events handled")
        for u, a in amounts.items():
            assert balance(svc, u) == a
    return give


@pytest.fixture(autouse=True)
def ledger_consistent(svc):
    yield
    assert_ledger_consistent(svc)


def uid(prefix="u"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def new_item(svc, cost, stock, active=True, name="Tote bag"):
    r = svc.post("/v1/catalog/items", {"name": name, "cost": cost, "stock": stock, "active": active}, headers=OPS)
    assert r.status_code == 201, r.text
    return r.json()["item_id"]


def redeem(svc, user, item_id, quantity=1, key=None):
    headers = dict(sgtest.user_auth(user))
    headers["Idempotency-Key"] = key or str(uuid.uuid4())
    return requests.post(svc.url + "/v1/redemptions", json={"item_id": item_id, "quantity": quantity},
                         headers=headers, timeout=30)


def stock(svc, item_id):
    r = svc.get(f"/v1/catalog/items/{item_id}", headers=OPS)
    assert r.status_code == 200, r.text
    return r.json()["stock"]


# ---- tests ----------------------------------------------------------------

def test_redeem_debits_and_returns_new_balance(svc, fund):
    u = uid()
    fund({u: 50})
    item = new_item(svc, cost=7, stock=5)
    r = redeem(svc, u, item, quantity=3)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["item_id"] == item and body["quantity"] == 3 and body["cost"] == 21
    assert body["status"] == "completed" and body["balance"] == 29 and body["user_id"] == u
    assert balance(svc, u) == 29
    assert stock(svc, item) == 2
    got = svc.get(f"/v1/redemptions/{body['redemption_id']}", headers=sgtest.user_auth(u))
    assert got.status_code == 200 and got.json()["status"] == "completed"
    # Someone else's redemption is invisible; ops see it.
    sgtest.problem_ok(svc.get(f"/v1/redemptions/{body['redemption_id']}", headers=sgtest.user_auth(uid())), 404)
    assert svc.get(f"/v1/redemptions/{body['redemption_id']}", headers=OPS).status_code == 200
    led = svc.get(f"/v1/accounts/{u}/ledger", headers=sgtest.user_auth(u)).json()["items"]
    assert [(e["kind"], e["amount"]) for e in led] == [("redeem", -21), ("grant", 50)]
    assert led[0]["redemption_id"] == body["redemption_id"] and led[0]["case_id"] is None


def test_refusals_write_nothing(svc, fund):
    u = uid()
    fund({u: 10})
    item = new_item(svc, cost=4, stock=2)
    inactive = new_item(svc, cost=1, stock=5, active=False)
    cases = [
        (redeem(svc, u, item, quantity=3), 409),                    # out of stock
        (redeem(svc, u, inactive), 409),                            # inactive
        (redeem(svc, u, str(uuid.uuid4())), 404),                   # unknown item
    ]
    for resp, status in cases:
        sgtest.problem_ok(resp, status)
    pricey = new_item(svc, cost=11, stock=5)
    sgtest.problem_ok(redeem(svc, u, pricey), 409)                  # insufficient balance
    assert balance(svc, u) == 10 and stock(svc, item) == 2 and stock(svc, pricey) == 5
    # Validation: Idempotency-Key required (1..128), strict body.
    h = dict(sgtest.user_auth(u))
    sgtest.problem_ok(requests.post(svc.url + "/v1/redemptions", json={"item_id": item, "quantity": 1},
                                    headers=h, timeout=10), 400)
    for key in ("", "k" * 129):
        sgtest.problem_ok(requests.post(svc.url + "/v1/redemptions", json={"item_id": item, "quantity": 1},
                                        headers={**h, "Idempotency-Key": key}, timeout=10), 400)
    for body in ({"item_id": item, "quantity": 0}, {"item_id": item, "quantity": 101}, {"item_id": "x", "quantity": 1},
                 {"item_id": item}, {"item_id": item, "quantity": 1, "user_id": "other"}, {"item_id": item,
                                                                                         "quantity": "1"}):
        sgtest.problem_ok(requests.post(svc.url + "/v1/redemptions", json=body,
                                        headers={**h, "Idempotency-Key": "v-" + uuid.uuid4().hex}, timeout=10), 400)
    sgtest.problem_ok(requests.post(svc.url + "/v1/redemptions", json={"item_id": item, "quantity": 1},
                                    headers={"Idempotency-Key": "k"}, timeout=10), 401)
    sgtest.problem_ok(requests.post(svc.url + "/v1/redemptions", json={"item_id": item, "quantity": 1},
                                    headers={**sgtest.client_auth(), "Idempotency-Key": "k"}, timeout=10), 403)
    assert balance(svc, u) == 10 and stock(svc, item) == 2
    with svc.db() as c:
        assert c.execute("SELECT count(*) FROM redemptions WHERE user_id = %s", (u,)).fetchone()[0] == 0


def test_hundred_users_race_for_ten_items(svc, fund):
    users = [uid("race") for _ in range(100)]
    fund({u: 20 for u in users})
    item = new_item(svc, cost=5, stock=10, name="Limited mug")
    with ThreadPoolExecutor(max_workers=100) as ex:
        results = list(ex.map(lambda u: redeem(svc, u, item), users))
    codes = [r.status_code for r in results]
    assert codes.count(201) == 10, codes
    assert codes.count(409) == 90, codes
    for r in results:
        if r.status_code == 409:
            sgtest.problem_ok(r, 409)
    assert stock(svc, item) == 0
    winners = {r.json()["user_id"] for r in results if r.status_code == 201}
    for u in users:
        assert balance(svc, u) == (15 if u in winners else 20)


def test_one_user_fifty_parallel_redemptions_with_coins_for_three(svc, fund):
    u = uid("solo")
    fund({u: 30})
    item = new_item(svc, cost=10, stock=100)
    with ThreadPoolExecutor(max_workers=50) as ex:
        results = list(ex.map(lambda i: redeem(svc, u, item, key=f"k-{i}"), range(50)))
    codes = [r.status_code for r in results]
    assert codes.count(201) == 3, codes
    assert codes.count(409) == 47, codes
    assert balance(svc, u) == 0
    assert stock(svc, item) == 97
    assert sorted(r.json()["balance"] for r in results if r.status_code == 201) == [0, 10, 20]


def test_same_idempotency_key_debits_once(svc, fund):
    u = uid("idem")
    fund({u: 100})
    item = new_item(svc, cost=10, stock=50)
    first = redeem(svc, u, item, quantity=2, key="order-1")
    assert first.status_code == 201, first.text
    again = redeem(svc, u, item, quantity=2, key="order-1")
    assert again.status_code == 200, again.text
    assert again.json() == first.json(), "a retry gets the first response"
    sgtest.problem_ok(redeem(svc, u, item, quantity=3, key="order-1"), 409)  # same key, other body
    # The same key from another user is another request.
    v = uid("idem")
    fund({v: 20})
    assert redeem(svc, v, item, quantity=2, key="order-1").status_code == 201
    # Concurrent retries of one new key: one debit, all see the same redemption.
    with ThreadPoolExecutor(max_workers=20) as ex:
        results = list(ex.map(lambda _: redeem(svc, u, item, quantity=1, key="order-2"), range(20)))
    assert sorted(r.status_code for r in results) == [200] * 19 + [201]
    assert len({r.json()["redemption_id"] for r in results}) == 1
    assert balance(svc, u) == 100 - 20 - 10
    assert stock(svc, item) == 50 - 2 - 2 - 1
    with svc.db() as c:
        assert c.execute("SELECT count(*) FROM redemptions WHERE user_id = %s", (u,)).fetchone()[0] == 2


def test_refund_once_then_conflict(svc, fund):
    u = uid("refund")
    fund({u: 40})
    item = new_item(svc, cost=15, stock=3)
    red = redeem(svc, u, item, quantity=2)
    assert red.status_code == 201, red.text
    rid = red.json()["redemption_id"]
    assert balance(svc, u) == 10 and stock(svc, item) == 1
    sgtest.problem_ok(svc.post(f"/v1/redemptions/{rid}/refund", headers=sgtest.user_auth(u)), 403)
    # Refund concurrently twice: exactly one wins.
    with ThreadPoolExecutor(max_workers=5) as ex:
        results = list(ex.map(lambda _: svc.post(f"/v1/redemptions/{rid}/refund", headers=OPS), range(5)))
    assert sorted(r.status_code for r in results) == [200, 409, 409, 409, 409], [r.text for r in results]
    ok = next(r for r in results if r.status_code == 200).json()
    assert ok["status"] == "refunded" and ok["balance"] == 40 and ok["refunded_at"]
    sgtest.problem_ok(svc.post(f"/v1/redemptions/{rid}/refund", headers=OPS), 409)
    sgtest.problem_ok(svc.post(f"/v1/redemptions/{uuid.uuid4()}/refund", headers=OPS), 404)
    assert balance(svc, u) == 40 and stock(svc, item) == 3
    led = svc.get(f"/v1/accounts/{u}/ledger", headers=OPS).json()["items"]
    assert [(e["kind"], e["amount"]) for e in led] == [("refund", 30), ("redeem", -30), ("grant", 40)]
    # The first response replays unchanged under its key; the redemption shows refunded.
    assert svc.get(f"/v1/redemptions/{rid}", headers=sgtest.user_auth(u)).json()["status"] == "refunded"


def test_stock_and_coins_survive_item_replacement(svc, fund):
    u = uid("put")
    fund({u: 10})
    item = new_item(svc, cost=5, stock=1)
    r = svc.put(f"/v1/catalog/items/{item}", {"name": "Tote bag v2", "cost": 2, "stock": 4, "active": True},
                headers=OPS)
    assert r.status_code == 200, r.text
    red = redeem(svc, u, item, quantity=4)
    assert red.status_code == 201 and red.json()["cost"] == 8
    r = svc.put(f"/v1/catalog/items/{item}", {"name": "Tote bag v2", "cost": 2, "stock": 0, "active": False},
                headers=OPS)
    assert r.status_code == 200
    # A refund returns stock even to an inactive item, and the coins paid at the time.
    ref = svc.post(f"/v1/redemptions/{red.json()['redemption_id']}/refund", headers=OPS)
    assert ref.status_code == 200 and ref.json()["balance"] == 10
    assert stock(svc, item) == 4


def stock_delta(svc, item_id, body, headers=OPS):
    return requests.post(f"{svc.url}/v1/catalog/items/{item_id}/stock", json=body, headers=headers, timeout=30)


def test_stock_delta_adds_and_never_goes_below_zero(svc):
    item = new_item(svc, cost=5, stock=3)
    r = stock_delta(svc, item, {"delta": 4})
    assert r.status_code == 200, r.text
    assert r.json()["item_id"] == item and r.json()["stock"] == 7 and r.json()["cost"] == 5
    r = stock_delta(svc, item, {"delta": 0})
    assert r.status_code == 200 and r.json()["stock"] == 7, "0 changes nothing and returns the item"
    r = stock_delta(svc, item, {"delta": -7})
    assert r.status_code == 200 and r.json()["stock"] == 0
    r = stock_delta(svc, item, {"delta": -1})
    assert r.status_code == 409 and r.headers["Content-Type"].startswith("application/problem+json"), r.text
    assert stock(svc, item) == 0, "a refused delta changes nothing"
    for bad in ({}, {"delta": 1.5}, {"delta": "3"}, {"delta": None}, {"delta": 1, "stock": 2},
                {"delta": 10 ** 12}):
        r = stock_delta(svc, item, bad)
        assert r.status_code == 400, (bad, r.text)
    assert stock_delta(svc, str(uuid.uuid4()), {"delta": 1}).status_code == 404
    assert stock_delta(svc, item, {"delta": 1}, headers=sgtest.user_auth(uid("nops"))).status_code == 403
    assert stock(svc, item) == 0


@pytest.mark.parametrize("initial,delta", [(20, 5), (25, -5), (10, 5)])
def test_twenty_concurrent_redemptions_with_a_stock_delta_in_the_middle(svc, fund, initial, delta):
    # The delta is one UPDATE stock = stock + delta under the row lock, so it
    # never undoes a redemption that committed meanwhile (a PUT of an absolute
    # stock would): the stock ends at initial + delta - units redeemed.
    users = [uid("sd") for _ in range(20)]
    fund({u: 5 for u in users})
    item = new_item(svc, cost=5, stock=initial)
    with ThreadPoolExecutor(max_workers=21) as ex:
        first = [ex.submit(redeem, svc, u, item) for u in users[:10]]
        mid = ex.submit(stock_delta, svc, item, {"delta": delta})
        rest = [ex.submit(redeem, svc, u, item) for u in users[10:]]
        results = [f.result() for f in first + rest]
        mid = mid.result()
    assert mid.status_code in (200, 409), mid.text
    ok = [r for r in results if r.status_code == 201]
    assert all(r.status_code in (201, 409) for r in results), [r.text for r in results if r.status_code >= 500]
    applied = delta if mid.status_code == 200 else 0
    assert stock(svc, item) == initial + applied - len(ok)
    if initial + min(delta, 0) >= 20:
        assert len(ok) == 20 and mid.status_code == 200, "enough stock whatever the order: every one succeeds"
        assert stock(svc, item) == initial + delta - 20
    with svc.db() as c:
        assert c.execute("SELECT coalesce(sum(quantity), 0) FROM redemptions WHERE item_id = %s AND "
                         "status = 'completed'", (item,)).fetchone()[0] == len(ok)
    for u, r in zip(users, results):
        assert balance(svc, u) == (0 if r.status_code == 201 else 5)


def test_metrics_count_redemptions(svc):
    with svc.db() as c:
        n = c.execute("SELECT count(*) FROM redemptions").fetchone()[0]
        refunded = c.execute("SELECT count(*) FROM redemptions WHERE status = 'refunded'").fetchone()[0]
    text = sgtest.metrics_when(svc, lambda t: f"sg_reward_redemptions_total {n}\n" in t and
                               f"sg_reward_refunds_total {refunded}\n" in t)
    values = {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines()
              if line.startswith("sg_reward_")}
    assert values["sg_reward_redemptions_total"] == n > 0
    assert values["sg_reward_refunds_total"] == refunded > 0
    assert values["sg_reward_coins_granted_total"] > 0
