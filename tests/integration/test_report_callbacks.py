"""Report service, issue 12: upstream callbacks on a hostile network — the
outcome of every kind, each client's own report_ids, the t=/v1= signature
and X-SG-Event-Id, a blocked address at delivery failing for good, a hung
receiver delaying no other host, redacted URLs, the ops list and retry —
against the real devstack."""
import json
import time
import uuid

import pytest
import requests

import sgtest
from callback_receiver import CallbackReceiver, parse, verify_signature

TOPICS = ("sg.panel.requested", "sg.panel.assigned", "sg.ballot.closed", "sg.case.decided", "sg.case.outcome")
WORKERS = 4  # a host may hold 2 of them
TIMEOUT_MS = 6000


def running(env):
    return sgtest.running("report", env=dict({
        "SG_CALLBACK_MAX_BACKOFF_S": "1", "SG_CALLBACK_MAX_ATTEMPTS": "5", "SG_CALLBACK_WORKERS": str(WORKERS),
        "SG_CALLBACK_TIMEOUT_MS": str(TIMEOUT_MS)}, **env), topics=TOPICS)


@pytest.fixture(scope="module")
def svc():
    with running({}) as s:
        yield s


@pytest.fixture(scope="module")
def strict():
    """A report service whose allow-list does not hold this machine's names:
    localhost resolves into a blocked range."""
    with running({"SG_CALLBACK_ALLOW_HOSTS": "127.0.0.2"}) as s:
        yield s


@pytest.fixture(scope="module")
def bus(svc):
    with sgtest.reading(svc, TOPICS) as br:
        yield br


def uid(prefix="u"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def rule(svc, **over):
    report_type = "t_" + uuid.uuid4().hex[:10]
    body = {"panel_size": 1, "votes_to_decide": 1, "ballot_timeout_s": 3600, "reminder_before_s": 0,
            "max_substitute_rounds": 2, "case_deadline_s": 86400, "on_deadline": "decide_by_votes_cast",
            "reviewer_tags": [], "appeal_window_s": 3600, "appeal_panel_size": 3, "appeal_votes_to_decide": 2}
    body.update(over)
    r = svc.put(f"/v1/voting-rules/{report_type}", body, headers=sgtest.ops_auth())
    assert r.status_code == 200, r.text
    return report_type


def report(svc, rt, client="product", **over):
    b = {"report_type": rt, "target_id": uid("item"), "target_owner_id": uid("own"), "reporter_id": uid("rep"),
         "reason": "abuse"}
    b.update(over)
    r = svc.post("/v1/reports", b, headers=sgtest.client_auth(client))
    assert r.status_code == 201, r.text
    return dict(r.json(), **b)


def cancel(svc, rep, client="product"):
    r = svc.post(f"/v1/cases/{rep['case_id']}/cancel", {"reason": "content deleted"},
                 headers=sgtest.client_auth(client))
    assert r.status_code == 200, r.text


def audit(svc, cid):
    r = svc.get(f"/v1/cases/{cid}/events?limit=200", headers=sgtest.ops_auth())
    assert r.status_code == 200, r.text
    return r.json()["items"]


def attempts(svc, cid):
    return [e for e in audit(svc, cid) if e["kind"] == "callback_attempt"]


def callbacks(svc, **q):
    r = svc.get("/v1/callbacks", params=q, headers=sgtest.ops_auth())
    assert r.status_code == 200, r.text
    return r.json()


def seat_and_vote(svc, bus, cid, decision="violation"):
    b, reader = bus
    reader.poll_until(lambda evs: any(e.get("case_id") == cid for e in reader.of("sg.panel.requested")))
    juror = uid("juror")
    b.produce("sg.panel.assigned", cid, {"case_id": cid, "round": 1, "reviewer_ids": [juror], "shortfall": 0})
    sgtest.wait_for(lambda: svc.get(f"/v1/cases/{cid}", headers=sgtest.ops_auth()).json()["ballots"], what="seat")
    r = svc.post(f"/v1/cases/{cid}/votes", {"decision": decision}, headers=sgtest.user_auth(juror))
    assert r.status_code == 201, r.text
    return juror


# ---------------------------------------------------------------- the outcome, signed

def test_decided_callback_is_signed_has_event_id_and_no_juror(svc, bus):
    with CallbackReceiver(statuses=[500]) as rx, CallbackReceiver() as rx2:
        rt = rule(svc)
        rep = report(svc, rt, callback_url=rx.url("/a"))
        cid = rep["case_id"]
        # A second client on the same case, with its own URL: its own report_ids only.
        rep2 = report(svc, rt, client="forum", target_id=rep["target_id"], target_owner_id=rep["target_owner_id"],
                      callback_url=rx2.url("/b"))
        juror = seat_and_vote(svc, bus, cid)
        sgtest.wait_for(lambda: [r for r in rx.received("/a") if r["status"] == 200] and rx2.received("/b"),
                        timeout=20, what="deliveries")
        a = rx.received("/a")
        assert [r["status"] for r in a] == [500, 200]
        assert all(r["signature"] == "ok" for r in rx.received() + rx2.received())
        # One event id per delivery, the same on every attempt; distinct deliveries differ.
        assert a[0]["event_id"] == a[1]["event_id"] and uuid.UUID(a[0]["event_id"])
        assert rx2.received("/b")[0]["event_id"] != a[0]["event_id"]
        sig = a[1]["headers"]["X-SG-Signature"]
        t = int(sig.split(",")[0][2:])
        assert sig.startswith("t=") and ",v1=" in sig and abs(t - a[1]["at"]) < 5
        body = parse(a[1])
        assert body["kind"] == "decided" and body["case_id"] == cid and body["status"] == "decided"
        assert body["verdict"] == "violation" and body["decided_by"] == "panel" and body["final"] is False
        assert body["tally"] == {"violation": 1, "no_violation": 0} and body["appeal_deadline"]
        assert body["report_ids"] == [rep["report_id"]] and body["report_count"] == 1
        assert parse(rx2.received("/b")[0])["report_ids"] == [rep2["report_id"]]
        for r in rx.received() + rx2.received():
            assert juror.encode() not in r["body"] and b"reviewer_id" not in r["body"]
        # The same payload on sg.case.outcome, with every report id.
        _, reader = bus
        reader.poll_until(lambda evs: any(e.get("case_id") == cid for e in reader.of("sg.case.outcome")))
        ev = [e for e in reader.of("sg.case.outcome") if e["case_id"] == cid][0]
        assert sorted(ev["report_ids"]) == sorted([rep["report_id"], rep2["report_id"]])
        assert juror not in json.dumps(ev)


def test_receiver_rejects_a_stale_signature(svc):
    body = b'{"kind":"decided"}'
    import hashlib
    import hmac
    now = int(time.time())
    fresh = f"t={now},v1=" + hmac.new(sgtest.CALLBACK_SECRET.encode(), f"{now}.".encode() + body,
                                       hashlib.sha256).hexdigest()
    old = now - 301
    stale = f"t={old},v1=" + hmac.new(sgtest.CALLBACK_SECRET.encode(), f"{old}.".encode() + body,
                                       hashlib.sha256).hexdigest()
    assert verify_signature(sgtest.CALLBACK_SECRET, body, fresh) == "ok"
    assert verify_signature(sgtest.CALLBACK_SECRET, body, stale) == "stale"
    assert verify_signature(sgtest.CALLBACK_SECRET, body + b" ", fresh) == "mismatch"
    assert verify_signature(sgtest.CALLBACK_SECRET, body, "sha256=abc") == "malformed"
    # A captured callback replayed later is refused by the receiver.
    with CallbackReceiver() as rx:
        r = requests.post(rx.url("/replay"), data=body, headers={"X-SG-Signature": stale}, timeout=5)
        assert r.status_code == 401 and rx.received()[0]["signature"] == "stale"


def test_escalated_then_resolved_are_called_back(svc, bus):
    with CallbackReceiver() as rx:
        rt = rule(svc, panel_size=1, votes_to_decide=1, ballot_timeout_s=1, case_deadline_s=1,
                  on_deadline="escalate")
        rep = report(svc, rt, callback_url=rx.url("/esc"))
        cid = rep["case_id"]
        sgtest.wait_for(lambda: rx.received("/esc"), timeout=20, what="escalated callback")
        esc = parse(rx.received("/esc")[0])
        assert esc["kind"] == "escalated" and esc["status"] == "escalated" and esc["tally"] is None
        r = svc.post(f"/v1/cases/{cid}/resolve", {"verdict": "no_violation", "note": "ops"},
                     headers=sgtest.ops_auth())
        assert r.status_code == 200, r.text
        sgtest.wait_for(lambda: len(rx.received("/esc")) >= 2, timeout=20, what="resolved callback")
        res = parse(rx.received("/esc")[1])
        assert res["kind"] == "resolved" and res["status"] == "decided" and res["decided_by"] == "ops"
        assert res["verdict"] == "no_violation"
        assert rx.received("/esc")[0]["event_id"] != rx.received("/esc")[1]["event_id"]
        _, reader = bus
        reader.poll_until(lambda evs: len([e for e in reader.of("sg.case.outcome") if e["case_id"] == cid]) >= 2)
        assert [e["kind"] for e in reader.of("sg.case.outcome") if e["case_id"] == cid] == ["escalated", "resolved"]


# ---------------------------------------------------------------- hostile network

def test_a_name_resolving_to_loopback_fails_for_good_without_retries(strict):
    with CallbackReceiver() as rx:
        rt = rule(strict)
        # userinfo and query are secrets: never in the audit trail or the ops list.
        url = f"https://user:s3cret@localhost:{rx.port}/cb?token=t0ken"
        rep = report(strict, rt, callback_url=url)
        cancel(strict, rep)
        got = sgtest.wait_for(lambda: attempts(strict, rep["case_id"]), timeout=20, what="the attempt")
        time.sleep(3)  # backoff is 1 s: a retry would have happened
        got = attempts(strict, rep["case_id"])
        assert len(got) == 1, got
        a = got[0]["data"]
        assert a["outcome"] == "failed" and a["reason"] == "blocked_address" and "loopback" in a["error"]
        assert a["url"] == f"https://localhost:{rx.port}/cb"
        assert rx.received() == []
        text = json.dumps(audit(strict, rep["case_id"]))
        assert "s3cret" not in text and "t0ken" not in text
        listed = callbacks(strict, status="failed", case_id=rep["case_id"])
        assert listed["next_cursor"] is None and len(listed["items"]) == 1
        item = listed["items"][0]
        assert item["url"] == f"https://localhost:{rx.port}/cb" and item["attempts"] == 1
        assert item["status"] == "failed" and "blocked_address" in item["last_error"]
        assert item["next_attempt_at"] is None and item["kind"] == "cancelled"
        log = open(strict.logpath, errors="replace").read()
        assert "s3cret" not in log and "t0ken" not in log

        # Ops retry: pending again with a fresh budget, the same event id; it fails again for good.
        r = strict.post(f"/v1/callbacks/{item['callback_id']}/retry", None, headers=sgtest.ops_auth())
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "pending" and r.json()["attempts"] == 0
        assert r.json()["event_id"] == item["event_id"]
        sgtest.wait_for(lambda: len(attempts(strict, rep["case_id"])) == 2, timeout=20, what="second attempt")
        again = callbacks(strict, case_id=rep["case_id"])["items"][0]
        assert again["status"] == "failed" and again["attempts"] == 1 and again["event_id"] == item["event_id"]
        assert "callback_retry" in [e["kind"] for e in audit(strict, rep["case_id"])]


def test_ops_list_filters_paginates_and_retry_refuses_others(svc):
    with CallbackReceiver() as rx:
        rt = rule(svc)
        reps = [report(svc, rt, callback_url=rx.url(f"/p{i}?k=secret")) for i in range(3)]
        for rep in reps:
            cancel(svc, rep)
        sgtest.wait_for(lambda: len(rx.received()) == 3, timeout=20, what="deliveries")
        mine = {rep["case_id"] for rep in reps}
        sgtest.wait_for(lambda: mine <= {i["case_id"] for i in callbacks(svc, status="delivered", limit=200)["items"]},
                        what="delivered in the list")
        page = callbacks(svc, status="delivered", limit=1)
        assert len(page["items"]) == 1 and page["next_cursor"]
        page2 = callbacks(svc, status="delivered", limit=1, cursor=page["next_cursor"])
        assert page2["items"][0]["callback_id"] != page["items"][0]["callback_id"]
        item = callbacks(svc, case_id=reps[0]["case_id"])["items"][0]
        assert set(item) >= {"callback_id", "case_id", "url", "status", "attempts", "last_error", "next_attempt_at"}
        assert item["url"] == rx.url("/p0") and item["status"] == "delivered" and item["last_error"] is None
        assert rx.received()[0]["path"].endswith("?k=secret")  # the receiver got its token
        sgtest.problem_ok(svc.post(f"/v1/callbacks/{item['callback_id']}/retry", None, headers=sgtest.ops_auth()),
                          409)
        sgtest.problem_ok(svc.post(f"/v1/callbacks/{uuid.uuid4()}/retry", None, headers=sgtest.ops_auth()), 404)
        sgtest.problem_ok(svc.get("/v1/callbacks?status=lost", headers=sgtest.ops_auth()), 400)
        sgtest.problem_ok(svc.get("/v1/callbacks", headers=sgtest.client_auth()), 403)
        sgtest.problem_ok(svc.post(f"/v1/callbacks/{item['callback_id']}/retry", None,
                                   headers=sgtest.user_auth("someone")), 403)


def test_a_hung_receiver_delays_no_other_host(svc):
    """Deliveries to one host hold at most half of the workers: with a
    receiver on 127.0.0.1 that never answers in time, a callback to
    localhost is attempted within 2 s of its due time."""
    with CallbackReceiver(delay=60) as hung, CallbackReceiver() as fast:
        rt = rule(svc)
        stuck = [report(svc, rt, callback_url=hung.url(f"/h{i}")) for i in range(2 * WORKERS)]
        for rep in stuck:
            cancel(svc, rep)
        # Wait until the hung host holds its share of the workers.
        sgtest.wait_for(lambda: len(hung.received()) >= WORKERS // 2, timeout=10, what="hung deliveries")
        time.sleep(0.5)
        rep = report(svc, rt, callback_url=fast.url("/fast", host="localhost"))
        cancel(svc, rep)
        sgtest.wait_for(lambda: fast.received(), timeout=20, what="the other host's callback")
        with svc.db() as c:
            due = c.execute("SELECT extract(epoch FROM created_at) FROM callbacks WHERE case_id = %s",
                            (rep["case_id"],)).fetchone()[0]
        late = fast.received()[0]["at"] - float(due)
        assert late < 2.0, f"the callback to localhost waited {late:.2f} s past due"
        # The hung host never held more than its share at once.
        assert len([r for r in hung.received() if r["at"] < fast.received()[0]["at"]]) <= WORKERS // 2
        assert fast.received()[0]["signature"] == "ok"


# ---------------------------------------------------------------- expand-only (issue 15)

def test_the_previous_release_queue_statement_still_works_and_is_delivered_once(svc):
    """sql/report/002 is expand-only: the previous release's INSERT ... ON CONFLICT
    (case_id, url) still plans and runs on the new schema; callbacks_fill_legacy
    fills host, redacted URL and kind; this release's dispatcher delivers the row
    once, with an event id. This release's own rows key (case_id, url) by the URL
    with '#sg=<kind>.<client>' (never sent), so they never collide with it."""
    with CallbackReceiver() as rx:
        def got(path):  # the receiver sees the query, never the fragment
            return [r for r in rx.received() if r["path"].split("?")[0] == path and "#" not in r["path"]]
        rt = rule(svc)
        rep = report(svc, rt, callback_url=rx.url("/new") + "?token=s3cret")
        cid = rep["case_id"]
        cancel(svc, rep)
        sgtest.wait_for(lambda: got("/new"), timeout=20, what="this release's callback")
        legacy_url = rx.url("/legacy").replace("127.0.0.1", "user:pw@127.0.0.1") + "?token=s3cret"
        old = ("INSERT INTO callbacks (case_id, url, body) SELECT DISTINCT %s::uuid, %s, %s FROM reports p "
               "WHERE p.case_id = %s::uuid ON CONFLICT (case_id, url) DO NOTHING")
        body = json.dumps({"case_id": cid, "status": "cancelled"})
        with svc.db() as c:
            c.execute(old, (cid, legacy_url, body, cid))
            c.execute(old, (cid, legacy_url, body, cid))      # the same again: DO NOTHING
            rows = c.execute("SELECT url, kind, client, host, url_redacted, event_id IS NOT NULL FROM callbacks "
                             "WHERE case_id = %s ORDER BY seq", (cid,)).fetchall()
        assert len(rows) == 2, rows
        new, leg = rows
        assert new[0] == rx.url("/new") + "?token=s3cret#sg=cancelled.product", new
        assert new[1:] == ("cancelled", "product", "127.0.0.1", rx.url("/new"), True), new
        assert leg[1:] == ("cancelled", "", "127.0.0.1", rx.url("/legacy"), True), leg
        sgtest.wait_for(lambda: got("/legacy"), timeout=20, what="the previous release's row delivered")
        time.sleep(1.5)
        assert len(got("/legacy")) == 1 and len(got("/new")) == 1
        assert got("/legacy")[0]["event_id"] and got("/legacy")[0]["signature"] == "ok"
        listed = {x["url"] for x in callbacks(svc, case_id=cid)["items"]}
        assert listed == {rx.url("/new"), rx.url("/legacy")}, listed
