"""Report service: voting rules, report intake, idempotency, rate limit,
one case per reported item, report lookup and authentication — against the
real devstack."""
import base64
import json
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

import sgtest

RATE = 10


@pytest.fixture(scope="module")
def svc():
    with sgtest.running("report", env={"SG_REPORT_RATE_PER_MIN": str(RATE)}) as s:
        yield s


@pytest.fixture(scope="module")
def bus(svc):
    with sgtest.reading(svc, ("sg.panel.requested",)) as br:
        yield br


RULE = {"panel_size": 5, "votes_to_decide": 3, "ballot_timeout_s": 3600, "reminder_before_s": 600,
        "max_substitute_rounds": 2, "case_deadline_s": 86400, "on_deadline": "decide_by_votes_cast",
        "reviewer_tags": ["trusted"], "appeal_window_s": 259200, "appeal_panel_size": 9,
        "appeal_votes_to_decide": 5}


def uid(prefix="u"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def drain(reader, seconds):
    """Keeps reading events for `seconds`."""
    end = time.time() + seconds
    reader.poll_until(lambda evs: time.time() > end, timeout=seconds + 5)


def put_rule(svc, report_type, **over):
    body = dict(RULE, **over)
    r = svc.put(f"/v1/voting-rules/{report_type}", body, headers=sgtest.ops_auth())
    assert r.status_code == 200, r.text
    return r.json()


def report_body(report_type="comment", **over):
    b = {"report_type": report_type, "target_id": uid("comment"), "target_owner_id": uid("owner"),
         "reporter_id": uid("rep"), "reason": "abuse", "description": "insulting",
         "evidence": {"screenshot": "https://img.example/1.png"}}
    b.update(over)
    return b


def file(svc, body, client="product", key=None):
    h = sgtest.client_auth(client)
    if key:
        h["Idempotency-Key"] = key
    return svc.post("/v1/reports", body, headers=h)


def counts(svc):
    """Rows per table; the outbox by the rows ever written to it (its id sequence): the relay deletes the
    rows it published."""
    with svc.db() as c:
        return tuple(c.execute("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM outbox_id_seq"
                               if t == "outbox" else f"SELECT count(*) FROM {t}").fetchone()[0]
                     for t in ("reports", "cases", "outbox", "case_events", "idempotency_keys"))


@pytest.fixture(scope="module")
def comment_rule(svc):
    return put_rule(svc, "comment")


# ---------------------------------------------------------------- rules

def test_rule_versions_and_validation(svc):
    v1 = put_rule(svc, "listing")
    assert v1["version"] == 1 and v1["panel_size"] == 5 and v1["reviewer_tags"] == ["trusted"]
    v2 = put_rule(svc, "listing", panel_size=3, votes_to_decide=2)
    assert v2["version"] == 2
    cur = svc.get("/v1/voting-rules/listing", headers=sgtest.ops_auth()).json()
    assert cur["version"] == 2 and cur["panel_size"] == 3
    vers = svc.get("/v1/voting-rules/listing/versions", headers=sgtest.ops_auth()).json()
    assert [v["version"] for v in vers["items"]] == [2, 1] and vers["next_cursor"] is None
    page = svc.get("/v1/voting-rules/listing/versions?limit=1", headers=sgtest.ops_auth()).json()
    assert [v["version"] for v in page["items"]] == [2] and page["next_cursor"]
    page2 = svc.get(f"/v1/voting-rules/listing/versions?limit=1&cursor={page['next_cursor']}",
                    headers=sgtest.ops_auth()).json()
    assert [v["version"] for v in page2["items"]] == [1] and page2["next_cursor"] is None
    allr = svc.get("/v1/voting-rules", headers=sgtest.ops_auth()).json()["items"]
    assert {"listing": 2}.items() <= {r["report_type"]: r["version"] for r in allr}.items()
    sgtest.problem_ok(svc.get("/v1/voting-rules/nothing_here", headers=sgtest.ops_auth()), 404)

    bad = [
        {"panel_size": 0}, {"panel_size": 102, "votes_to_decide": 60}, {"votes_to_decide": 2},
        {"votes_to_decide": 6}, {"ballot_timeout_s": 0}, {"ballot_timeout_s": 100000},
        {"reminder_before_s": 3600}, {"max_substitute_rounds": 11}, {"on_deadline": "coin_flip"},
        {"reviewer_tags": [1]}, {"appeal_panel_size": 9, "appeal_votes_to_decide": 4}, {"case_deadline_s": -5},
        {"panel_size": "5"}, {"extra": 1},
    ]
    before = svc.get("/v1/voting-rules/listing/versions", headers=sgtest.ops_auth()).json()["items"]
    for over in bad:
        r = svc.put("/v1/voting-rules/listing", dict(RULE, **over), headers=sgtest.ops_auth())
        sgtest.problem_ok(r, 400)
    missing = dict(RULE)
    del missing["case_deadline_s"]
    sgtest.problem_ok(svc.put("/v1/voting-rules/listing", missing, headers=sgtest.ops_auth()), 400)
    sgtest.problem_ok(svc.put("/v1/voting-rules/Bad-Type", RULE, headers=sgtest.ops_auth()), 400)
    after = svc.get("/v1/voting-rules/listing/versions", headers=sgtest.ops_auth()).json()["items"]
    assert before == after, "a refused rule writes nothing"


def test_rule_with_tag_outside_grammar_is_400_and_writes_nothing(svc):
    """reviewer_tags use the common tag grammar (sg_is_tag, [a-z0-9_:-]{1,64}):
    a tag such as "VIP Member" is refused with an RFC 7807 400 and no new
    version is stored."""
    v = put_rule(svc, "forum_post")["version"]
    before = svc.get("/v1/voting-rules/forum_post/versions", headers=sgtest.ops_auth()).json()["items"]
    for tags in (["VIP Member"], ["trusted", "VIP Member"], ["Trusted"], ["x" * 65]):
        r = svc.put("/v1/voting-rules/forum_post", dict(RULE, reviewer_tags=tags), headers=sgtest.ops_auth())
        body = sgtest.problem_ok(r, 400)
        assert "reviewer_tags" in body.get("detail", ""), body
    after = svc.get("/v1/voting-rules/forum_post/versions", headers=sgtest.ops_auth()).json()["items"]
    assert before == after and after[0]["version"] == v, "a refused rule writes nothing"
    cur = svc.get("/v1/voting-rules/forum_post", headers=sgtest.ops_auth()).json()
    assert cur["version"] == v and cur["reviewer_tags"] == RULE["reviewer_tags"]


def test_case_keeps_its_rule_version(svc):
    put_rule(svc, "im_message")
    first = file(svc, report_body("im_message"))
    assert first.status_code == 201, first.text
    put_rule(svc, "im_message", panel_size=3, votes_to_decide=2)
    second = file(svc, report_body("im_message"))
    c1 = svc.get(f"/v1/cases/{first.json()['case_id']}", headers=sgtest.client_auth()).json()
    c2 = svc.get(f"/v1/cases/{second.json()['case_id']}", headers=sgtest.client_auth()).json()
    assert (c1["rule_version"], c1["panel_size"]) == (1, 5)
    assert (c2["rule_version"], c2["panel_size"]) == (2, 3)


# ---------------------------------------------------------------- intake

def test_report_opens_case_and_requests_panel(svc, bus, comment_rule):
    _, reader = bus
    body = report_body()
    r = file(svc, body)
    assert r.status_code == 201, r.text
    out = r.json()
    assert set(out) == {"report_id", "case_id", "status"} and out["status"] == "assigning"
    evs = reader.poll_until(lambda evs: any(e["case_id"] == out["case_id"] for e in evs), timeout=30)
    req = [e for e in evs if e["case_id"] == out["case_id"]]
    assert len(req) == 1
    req = req[0]
    assert req["_key"] == out["case_id"] and req["round"] == 1 and req["seats"] == 5
    assert req["report_type"] == "comment" and req["reviewer_tags"] == ["trusted"]
    assert sorted(req["exclude_user_ids"]) == sorted([body["reporter_id"], body["target_owner_id"]])
    assert req["deadline"].endswith("Z") and req["event_id"]

    # The filing client and the reporter may read the report; others may not.
    rep = svc.get(f"/v1/reports/{out['report_id']}", headers=sgtest.client_auth()).json()
    assert rep["case_id"] == out["case_id"] and rep["status"] == "assigning" and rep["verdict"] is None
    assert rep["source"] == "product" and rep["evidence"] == body["evidence"]
    assert svc.get(f"/v1/reports/{out['report_id']}",
                   headers=sgtest.user_auth(body["reporter_id"])).status_code == 200
    # Another tenant's report does not exist for it (API.md "Tenancy").
    sgtest.problem_ok(svc.get(f"/v1/reports/{out['report_id']}", headers=sgtest.client_auth("forum")), 404)
    sgtest.problem_ok(svc.get(f"/v1/reports/{out['report_id']}", headers=sgtest.user_auth(uid())), 403)
    sgtest.problem_ok(svc.get(f"/v1/reports/{uuid.uuid4()}", headers=sgtest.client_auth()), 404)


def test_later_reports_join_and_same_reporter_conflicts(svc, comment_rule):
    body = report_body()
    first = file(svc, body).json()
    again = file(svc, dict(body, reason="spam"))
    sgtest.problem_ok(again, 409)
    other = file(svc, dict(body, reporter_id=uid("rep")), client="forum")
    assert other.status_code == 201 and other.json()["case_id"] == first["case_id"]
    # Each client sees its own report_ids only (API.md "Cases", upstream view).
    case = svc.get(f"/v1/cases/{first['case_id']}", headers=sgtest.client_auth()).json()
    assert case["report_ids"] == [first["report_id"]] and case["tally"] is None and case["ballots"] == []
    case = svc.get(f"/v1/cases/{first['case_id']}", headers=sgtest.client_auth("forum")).json()
    assert case["report_ids"] == [other.json()["report_id"]]
    case = svc.get(f"/v1/cases/{first['case_id']}", headers=sgtest.ops_auth()).json()
    assert len(case["report_ids"]) == 2


def test_bad_fields_are_refused_and_nothing_written(svc, comment_rule):
    long = "x" * 129
    cases = [
        ({"report_type": "Not-Valid"}, 400), ({"report_type": 7}, 400), ({"target_id": ""}, 400),
        ({"target_id": long}, 400), ({"target_id": "has space"}, 400), ({"target_owner_id": long}, 400),
        ({"reporter_id": ""}, 400), ({"reporter_id": "a\u0001b"}, 400), ({"reason": ""}, 400),
        ({"reason": "r" * 65}, 400), ({"description": "d" * 2001}, 400), ({"evidence": "text"}, 400),
        ({"evidence": {"blob": "e" * 17000}}, 400), ({"callback_url": "ftp://x.example/cb"}, 400),
        ({"callback_url": "https://x.example/" + "p" * 500}, 400), ({"source": "forum"}, 400),
        ({"report_type": "no_rule_type"}, 422),
    ]
    before = counts(svc)
    for over, status in cases:
        sgtest.problem_ok(file(svc, report_body(**over)), status)
    for field in ("report_type", "target_id", "target_owner_id", "reporter_id", "reason"):
        b = report_body()
        del b[field]
        sgtest.problem_ok(file(svc, b), 400)
    same = uid("u")
    sgtest.problem_ok(file(svc, report_body(reporter_id=same, target_owner_id=same)), 422)
    h = dict(sgtest.client_auth(), **{"Content-Type": "application/json"})
    sgtest.problem_ok(requests.post(svc.url + "/v1/reports", data=b"{not json", headers=h, timeout=10), 400)
    sgtest.problem_ok(requests.post(svc.url + "/v1/reports", data=b"[]", headers=h, timeout=10), 400)
    sgtest.problem_ok(requests.post(svc.url + "/v1/reports", headers=sgtest.client_auth(), timeout=10), 400)
    sgtest.problem_ok(file(svc, report_body(), key="k" * 129), 400)
    sgtest.problem_ok(file(svc, report_body(), key="has space"), 400)
    assert counts(svc) == before


def test_idempotency_key(svc, comment_rule):
    key = uid("key")
    body = report_body()
    first = file(svc, body, key=key)
    assert first.status_code == 201, first.text
    replay = file(svc, body, key=key)
    assert replay.status_code == 200 and replay.json() == first.json()
    sgtest.problem_ok(file(svc, dict(body, reason="spam"), key=key), 409)
    # Keys are per client: the same key from another client is a new request.
    other = file(svc, report_body(), client="forum", key=key)
    assert other.status_code == 201 and other.json()["report_id"] != first.json()["report_id"]
    with svc.db() as c:
        n = c.execute("SELECT count(*) FROM reports WHERE reporter_id = %s", (body["reporter_id"],)).fetchone()[0]
    assert n == 1


def test_idempotency_key_concurrent_twins(svc, comment_rule):
    key = uid("key")
    body = report_body()
    with ThreadPoolExecutor(8) as ex:
        rs = list(ex.map(lambda _: file(svc, body, key=key), range(8)))
    assert sorted(r.status_code for r in rs) == [200] * 7 + [201]
    assert len({r.json()["report_id"] for r in rs}) == 1


def test_rate_limit_429_with_retry_after(svc, comment_rule):
    # Stay inside one one-minute window.
    if time.time() % 60 > 55:
        time.sleep(61 - time.time() % 60)
    reporter = uid("busy")
    codes = [file(svc, report_body(reporter_id=reporter)).status_code for _ in range(RATE)]
    assert codes == [201] * RATE
    before = counts(svc)
    r = file(svc, report_body(reporter_id=reporter))
    sgtest.problem_ok(r, 429)
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    assert counts(svc) == before
    # Other reporters are not affected.
    assert file(svc, report_body()).status_code == 201
    # The reporter's counter expires (set with its first increment).
    url = sgtest.REDIS_URL.split("://", 1)[1]
    port, db = url.split(":", 1)[1].split("/")
    cli = ["redis-cli", "-p", port, "-n", db or "0"]
    keys = subprocess.run(cli + ["--scan", "--pattern", f"sg:{svc.schema}:rl:product:{reporter}:*"], check=True,
                          capture_output=True, text=True).stdout.split()
    assert len(keys) == 1, keys
    ttl = int(subprocess.run(cli + ["TTL", keys[0]], check=True, capture_output=True, text=True).stdout)
    assert 60 < ttl <= 120, ttl


def test_hundred_reporters_one_target_one_case(svc, bus, comment_rule):
    _, reader = bus
    target, owner = uid("listing"), uid("owner")
    reporters = [uid("r") for _ in range(100)]
    barrier = threading.Barrier(20)

    def one(rep):
        try:
            barrier.wait(timeout=5)
        except threading.BrokenBarrierError:
            pass
        return file(svc, report_body(target_id=target, target_owner_id=owner, reporter_id=rep))

    with ThreadPoolExecutor(20) as ex:
        rs = list(ex.map(one, reporters))
    assert [r.status_code for r in rs] == [201] * 100, [r.text for r in rs if r.status_code != 201][:3]
    case_ids = {r.json()["case_id"] for r in rs}
    assert len(case_ids) == 1
    case_id = case_ids.pop()
    case = svc.get(f"/v1/cases/{case_id}", headers=sgtest.client_auth()).json()
    assert len(case["report_ids"]) == 100
    reader.poll_until(lambda evs: any(e["case_id"] == case_id for e in evs), timeout=30)
    drain(reader, 1.5)  # a second request would have been published with the first
    assert len([e for e in reader.of("sg.panel.requested") if e["case_id"] == case_id]) == 1
    ev = svc.get(f"/v1/cases/{case_id}/events?limit=200", headers=sgtest.ops_auth()).json()["items"]
    kinds = [e["kind"] for e in ev]
    assert kinds.count("opened") == 1 and kinds.count("report_joined") == 99 and kinds.count("panel_requested") == 1


# ---------------------------------------------------------------- queries

def test_cases_list_filters_and_pages(svc, comment_rule):
    put_rule(svc, "seller_review")
    ids = [file(svc, report_body("seller_review")).json()["case_id"] for _ in range(3)]
    h = sgtest.ops_auth()
    got = svc.get("/v1/cases?report_type=seller_review&status=assigning&limit=2", headers=h).json()
    assert [c["case_id"] for c in got["items"]] == ids[::-1][:2] and got["next_cursor"]
    rest = svc.get(f"/v1/cases?report_type=seller_review&limit=2&cursor={got['next_cursor']}", headers=h).json()
    assert [c["case_id"] for c in rest["items"]] == ids[:1] and rest["next_cursor"] is None
    assert svc.get("/v1/cases?status=decided&report_type=seller_review", headers=h).json()["items"] == []
    sgtest.problem_ok(svc.get("/v1/cases?status=weird", headers=h), 400)
    sgtest.problem_ok(svc.get("/v1/cases?limit=0", headers=h), 400)
    sgtest.problem_ok(svc.get("/v1/cases?cursor=abc", headers=h), 400)
    sgtest.problem_ok(svc.get(f"/v1/cases/{uuid.uuid4()}", headers=h), 404)
    sgtest.problem_ok(svc.get("/v1/cases/not-a-uuid", headers=h), 404)


def test_metrics_cases_by_status(svc, comment_rule):
    file(svc, report_body())
    text = sgtest.metrics_when(svc, lambda t: any(l.startswith('sg_cases{status="assigning"}') and
                                                  int(float(l.split()[-1])) >= 1 for l in t.splitlines()))
    line = [l for l in text.splitlines() if l.startswith('sg_cases{status="assigning"}')]
    assert line and int(float(line[0].split()[-1])) >= 1
    assert 'sg_cases{status="decided"}' in text


# ---------------------------------------------------------------- auth

def _b64(d):
    return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()


def test_auth(svc, comment_rule):
    now = int(time.time())
    claims = {"sub": "ops-1", "role": "ops", "exp": now + 600}
    none_tok = _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(claims) + "."
    wrong = sgtest.token("ops-1", "ops", secret="another-secret-0123456789abcdef")
    expired = sgtest.token("ops-1", "ops", ttl=-10)
    sgtest.problem_ok(svc.get("/v1/cases"), 401)
    sgtest.problem_ok(svc.post("/v1/reports", report_body()), 401)
    for tok in (none_tok, wrong, expired, "garbage", "key-unknown"):
        sgtest.problem_ok(svc.get("/v1/cases", headers=sgtest.auth(tok)), 401)
    # Authenticated but not allowed.
    sgtest.problem_ok(svc.get("/v1/cases", headers=sgtest.user_auth("u-1")), 403)
    sgtest.problem_ok(svc.put("/v1/voting-rules/comment", RULE, headers=sgtest.user_auth("u-1")), 403)
    sgtest.problem_ok(svc.put("/v1/voting-rules/comment", RULE, headers=sgtest.client_auth()), 403)
    sgtest.problem_ok(svc.post("/v1/reports", report_body(), headers=sgtest.user_auth("u-1")), 403)
    sgtest.problem_ok(svc.post("/v1/reports", report_body(), headers=sgtest.ops_auth()), 403)
    sgtest.problem_ok(svc.get(f"/v1/cases/{uuid.uuid4()}", headers=sgtest.user_auth("u-1")), 403)
    sgtest.problem_ok(svc.get(f"/v1/cases/{uuid.uuid4()}/events", headers=sgtest.client_auth()), 403)
    sgtest.problem_ok(svc.post(f"/v1/cases/{uuid.uuid4()}/votes", {"decision": "violation"},
                               headers=sgtest.client_auth()), 403)
    assert requests.get(svc.url + "/healthz", timeout=5).status_code == 200


def test_rate_limit_fails_open_without_redis():
    """Redis is a counter store, not the truth: when it is down reports are
    accepted (and a warning logged), not refused."""
    s = sgtest.Service("report", sgtest.run_id(), env={
        "SG_REPORT_RATE_PER_MIN": "2", "SG_REDIS_URL": f"redis://127.0.0.1:{sgtest.free_port()}/0"})
    s.start(wait=False)
    try:
        sgtest.wait_for(lambda: _healthy(s), timeout=30, what="service up")
        put_rule(s, "comment")
        reporter = uid("rep")
        codes = [file(s, report_body(reporter_id=reporter)).status_code for _ in range(4)]
        assert codes == [201] * 4
        r = s.get("/readyz")                      # ready on PostgreSQL alone (API.md)
        assert r.status_code == 200 and r.json()["redis"] == "down", r.text
    finally:
        rc = s.stop()
        s.drop_schema()
    assert rc == 0
    with open(s.logpath) as f:
        assert "redis unavailable" in f.read()


def _healthy(s):
    try:
        return s.get("/healthz").status_code == 200
    except requests.RequestException:
        return False
