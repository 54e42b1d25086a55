"""Report service: push management against the real devstack and a test push
gateway. The test plays the reviewer service (answers sg.panel.requested
with sg.panel.assigned) and the people (JWTs); the gateway records every
call and fails the ones it is told to."""
import time
import uuid
from collections import Counter

import pytest

import sgtest
from callback_receiver import create_topics
from push_gateway import PushGateway

TOPICS = ("sg.panel.requested", "sg.ballot.closed", "sg.case.decided", "sg.notification.requested")
MAX_PER_HOUR = 3


def push_env(gw, **over):
    env = {"SG_PUSH_GATEWAY_URL": gw.url, "SG_PUSH_MAX_PER_HOUR": str(MAX_PER_HOUR), "SG_PUSH_MAX_BACKOFF_S": "1",
           "SG_PUSH_MAX_ATTEMPTS": "5", "SG_PUSH_TIMEOUT_MS": "2000", "SG_TIMER_INTERVAL_MS": "100"}
    env.update(over)
    return env


@pytest.fixture(scope="module")
def gw():
    with PushGateway(sgtest.CALLBACK_SECRET) as g:
        yield g


@pytest.fixture(scope="module")
def svc(gw):
    with sgtest.running("report", env=push_env(gw)) as s:
        yield s


@pytest.fixture(scope="module")
def bus(svc):
    with sgtest.reading(svc, TOPICS) as br:
        yield br


def uid(prefix="u"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class World:
    def __init__(self, svc, bus, gw):
        self.svc, self.gw = svc, gw
        self.bus, self.reader = bus

    def rule(self, **over):
        report_type = "t_" + uuid.uuid4().hex[:10]
        body = {"panel_size": 3, "votes_to_decide": 2, "ballot_timeout_s": 3600, "reminder_before_s": 0,
                "max_substitute_rounds": 0, "case_deadline_s": 86400, "on_deadline": "decide_by_votes_cast",
                "reviewer_tags": [], "appeal_window_s": 3600, "appeal_panel_size": 3, "appeal_votes_to_decide": 2}
        body.update(over)
        r = self.svc.put(f"/v1/voting-rules/{report_type}", body, headers=sgtest.ops_auth())
        assert r.status_code == 200, r.text
        return report_type

    def report(self, report_type, target=None, owner=None, reporter=None):
        body = {"report_type": report_type, "target_id": target or uid("item"),
                "target_owner_id": owner or uid("own"), "reporter_id": reporter or uid("rep"), "reason": "abuse"}
        r = self.svc.post("/v1/reports", body, headers=sgtest.client_auth())
        assert r.status_code == 201, r.text
        return dict(r.json(), **body)

    def panel(self, case_id, reviewers, rnd=1):
        self.reader.poll_until(lambda evs: any(e.get("case_id") == case_id and e.get("round") == rnd
                                               for e in self.reader.of("sg.panel.requested")), timeout=30)
        self.bus.produce("sg.panel.assigned", case_id, {"case_id": case_id, "round": rnd,
                                                        "reviewer_ids": reviewers, "shortfall": 0})
        sgtest.wait_for(lambda: set(reviewers) <= {b["reviewer_id"] for b in self.case(case_id)["ballots"]},
                        timeout=30, what="ballots created")

    def case(self, case_id):
        r = self.svc.get(f"/v1/cases/{case_id}", headers=sgtest.ops_auth())
        assert r.status_code == 200, r.text
        return r.json()

    def vote(self, case_id, reviewer, decision):
        r = self.svc.post(f"/v1/cases/{case_id}/votes", {"decision": decision}, headers=sgtest.user_auth(reviewer))
        assert r.status_code == 201, r.text

    def inbox(self, user, unread=None):
        q = "?limit=200" + ("&unread=true" if unread else "")
        r = self.svc.get("/v1/me/notifications" + q, headers=sgtest.user_auth(user))
        assert r.status_code == 200, r.text
        return r.json()["items"]

    def listing(self, **q):
        qs = "&".join(f"{k}={v}" for k, v in q.items())
        r = self.svc.get("/v1/notifications?limit=200&" + qs, headers=sgtest.ops_auth())
        assert r.status_code == 200, r.text
        return r.json()["items"]

    def rows(self, sql, *args):
        with self.svc.db() as c:
            return c.execute(sql, args).fetchall()

    def settled(self, case_ids, timeout=30):
        """Waits until no notification of the cases is pending or deferred."""
        sgtest.wait_for(lambda: not self.rows("SELECT 1 FROM notifications WHERE case_id = ANY(%s::uuid[]) "
                                              "AND status IN ('pending', 'deferred')", list(case_ids)),
                        timeout=timeout, what="notifications settled")

    def pushed(self, case_ids):
        """(user_id, kind) of each delivered gateway call about the cases."""
        return Counter((r["body"]["user_id"], r["body"]["kind"]) for r in self.gw.delivered(
            lambda r: r["body"]["data"].get("case_id") in case_ids))

    def prefs(self, user, body, status=200):
        r = self.svc.put("/v1/me/notification-preferences", body, headers=sgtest.user_auth(user))
        assert r.status_code == status, r.text
        return r.json()


@pytest.fixture
def w(svc, bus, gw):
    return World(svc, bus, gw)


# ------------------------------------------------------------ who is told what

def test_every_kind_reaches_the_right_people_and_only_them(w):
    rt = w.rule(panel_size=5, votes_to_decide=3)
    owner = uid("own")
    r1 = w.report(rt, owner=owner)
    r2 = w.report(rt, target=r1["target_id"], owner=owner)
    cid = r1["case_id"]
    assert r2["case_id"] == cid
    jurors = [uid("rev") for _ in range(5)]
    w.panel(cid, jurors)
    w.vote(cid, jurors[0], "violation")
    w.vote(cid, jurors[1], "no_violation")
    w.vote(cid, jurors[2], "violation")
    w.vote(cid, jurors[3], "violation")  # decided; jurors[4]'s ballot is cancelled
    reporters = [r1["reporter_id"], r2["reporter_id"]]
    # Expiry and reminder on a second case: reminder after 1 s, expiry after 3 s.
    rt2 = w.rule(panel_size=1, votes_to_decide=1, ballot_timeout_s=3, reminder_before_s=2)
    r3 = w.report(rt2)
    cid2 = r3["case_id"]
    late = uid("rev")
    w.panel(cid2, [late])
    # The owner appeals the first case.
    r = w.svc.post(f"/v1/cases/{cid}/appeals", {}, headers=sgtest.user_auth(owner))
    assert r.status_code == 201, r.text
    appeal = r.json()["case_id"]

    want = Counter({(j, "ballot_assigned"): 1 for j in jurors})
    want.update({(j, "case_outcome"): 1 for j in jurors[:4]})
    want[(jurors[4], "ballot_cancelled")] += 1
    want.update({(u, "report_outcome"): 1 for u in reporters})
    want[(owner, "content_outcome")] += 1
    want.update({(u, "appeal_opened"): 1 for u in [owner] + reporters})
    want.update({(late, "ballot_assigned"): 1, (late, "ballot_reminder"): 1, (late, "ballot_expired"): 1})
    cases = {cid, cid2, appeal}
    sgtest.wait_for(lambda: sum(w.pushed(cases).values()) >= sum(want.values()) and
                    w.rows("SELECT 1 FROM ballots WHERE case_id = %s AND status = 'expired'", cid2),
                    timeout=40, what="every notification pushed")
    w.settled(cases)
    time.sleep(0.5)
    assert w.pushed(cases) == want

    # Each gateway call: signed, X-SG-Event-Id = notification_id, the contract's fields.
    for req in w.gw.delivered(lambda r: r["body"]["data"].get("case_id") in cases):
        assert req["signed"], req["headers"]
        assert req["headers"]["X-SG-Event-Id"] == req["body"]["notification_id"]
        assert set(req["body"]) == {"notification_id", "user_id", "kind", "title", "body", "data"}
        assert req["body"]["title"] and "{{" not in req["body"]["body"], req["body"]

    # The inbox of each person holds exactly their notifications, newest first.
    for user in set(u for u, _ in want):
        items = w.inbox(user)
        got = Counter((user, n["kind"]) for n in items if n["case_id"] in cases)
        assert got == Counter({k: v for k, v in want.items() if k[0] == user}), (user, items)
        seqs = [n["created_at"] for n in items]
        assert seqs == sorted(seqs, reverse=True)

    # What the outcome notices say.
    outcome = {n["kind"]: n for n in w.inbox(jurors[1])}["case_outcome"]
    assert outcome["data"]["verdict"] == "violation" and outcome["data"]["with_majority"] is False
    assert outcome["data"]["tally"] == {"violation": 3, "no_violation": 1}
    assert "3:1" in outcome["body"] and cid in outcome["body"]
    assert {n["kind"]: n for n in w.inbox(jurors[0])}["case_outcome"]["data"]["with_majority"] is True
    content = {n["kind"]: n for n in w.inbox(owner)}["content_outcome"]
    assert content["data"]["appeal_deadline"] and content["data"]["appeal_deadline"] in content["body"]
    assigned = {n["kind"]: n for n in w.inbox(late)}["ballot_assigned"]
    assert assigned["ballot_id"] and assigned["data"]["deadline"] in assigned["body"]

    # sg.notification.requested carries every notification with its id, title and body (key user_id).
    ids = {n["notification_id"] for u in set(u for u, _ in want) for n in w.inbox(u) if n["case_id"] in cases}
    w.reader.poll_until(lambda evs: ids <= {e.get("notification_id") for e in w.reader.of("sg.notification.requested")},
                        timeout=30)
    for e in w.reader.of("sg.notification.requested"):
        if e["notification_id"] in ids:
            assert e["_key"] == e["user_id"] and e["title"] and e["body"], e

    # The audit trail shows each notification of the case.
    r = w.svc.get(f"/v1/cases/{cid}/events?limit=200", headers=sgtest.ops_auth())
    audited = Counter((e["data"]["user_id"], e["data"]["kind"]) for e in r.json()["items"]
                      if e["kind"] == "notification")
    assert audited == Counter({k: v for k, v in want.items() if k[1] != "appeal_opened" and k[0] != late})
    assert any(e["kind"] == "notification_sent" for e in r.json()["items"])


def test_mark_read(w):
    rt = w.rule(panel_size=1, votes_to_decide=1)
    juror, other = uid("rev"), uid("rev")
    rep = w.report(rt)
    w.panel(rep["case_id"], [juror])
    rep2 = w.report(rt)
    w.panel(rep2["case_id"], [other])
    w.vote(rep["case_id"], juror, "violation")
    sgtest.wait_for(lambda: len(w.inbox(juror)) == 2, what="two notifications")
    items = w.inbox(juror, unread=True)
    assert len(items) == 2 and all(n["read_at"] is None for n in items)
    theirs = w.inbox(other)[0]["notification_id"]
    r = w.svc.post("/v1/me/notifications/read", {"ids": [items[0]["notification_id"], theirs]},
                   headers=sgtest.user_auth(juror))
    assert r.status_code == 200 and r.json() == {"marked": 1}, r.text
    assert [n["notification_id"] for n in w.inbox(juror, unread=True)] == [items[1]["notification_id"]]
    assert w.inbox(other, unread=True), "another user's notification is left alone"
    r = w.svc.post("/v1/me/notifications/read", {"all": True}, headers=sgtest.user_auth(juror))
    assert r.json() == {"marked": 1}
    assert w.inbox(juror, unread=True) == [] and len(w.inbox(juror)) == 2
    for bad in ({}, {"all": False}, {"ids": ["nope"]}, {"ids": [], "all": True}, {"x": 1}):
        sgtest.problem_ok(w.svc.post("/v1/me/notifications/read", bad, headers=sgtest.user_auth(juror)), 400)
    sgtest.problem_ok(w.svc.get("/v1/me/notifications"), 401)


# ------------------------------------------------------------ preferences

def test_muted_kind_reaches_the_inbox_not_the_gateway(w):
    rt = w.rule(panel_size=1, votes_to_decide=1)
    reporter = uid("rep")
    p = w.prefs(reporter, {"muted_kinds": ["report_outcome"], "locale": "zh-CN"})
    assert p["muted_kinds"] == ["report_outcome"] and p["locale"] == "zh-CN" and p["quiet_hours"] is None
    rep = w.report(rt, reporter=reporter)
    juror = uid("rev")
    w.panel(rep["case_id"], [juror])
    w.vote(rep["case_id"], juror, "violation")
    w.settled([rep["case_id"]])
    time.sleep(0.5)
    mine = w.inbox(reporter)
    assert [n["kind"] for n in mine] == ["report_outcome"]
    assert "裁决" in mine[0]["body"], mine[0]  # rendered from the zh-CN template
    assert w.listing(user_id=reporter)[0]["status"] == "muted"
    assert not w.gw.received(lambda r: r["body"]["user_id"] == reporter)
    # The owner, who muted nothing, got theirs pushed.
    assert w.gw.delivered(lambda r: r["body"]["user_id"] == rep["target_owner_id"])


def test_ballot_assigned_and_reminder_cannot_be_muted(w):
    user = uid("rev")
    for kind in ("ballot_assigned", "ballot_reminder"):
        b = sgtest.problem_ok(w.svc.put("/v1/me/notification-preferences", {"muted_kinds": [kind]},
                                        headers=sgtest.user_auth(user)), 400)
        assert kind in b["detail"]
    for bad in ({"muted_kinds": ["nope"]}, {"locale": "english!"}, {"quiet_hours": {"start": "25:00", "end": "08:00",
                                                                                    "utc_offset_minutes": 0}},
                {"quiet_hours": {"start": "22:00", "end": "08:00", "utc_offset_minutes": 900}},
                {"quiet_hours": {"start": "22:00", "end": "22:00", "utc_offset_minutes": 0}}, {"colour": "red"}):
        sgtest.problem_ok(w.svc.put("/v1/me/notification-preferences", bad, headers=sgtest.user_auth(user)), 400)
    r = w.svc.get("/v1/me/notification-preferences", headers=sgtest.user_auth(user))
    assert r.json() == {"user_id": user, "locale": "en", "muted_kinds": [], "quiet_hours": None}
    p = w.prefs(user, {"quiet_hours": {"start": "22:00", "end": "08:00", "utc_offset_minutes": 480}})
    assert p["quiet_hours"] == {"start": "22:00", "end": "08:00", "utc_offset_minutes": 480}
    assert w.prefs(user, {"quiet_hours": None})["quiet_hours"] is None


def test_quiet_hours_defer_then_deliver(w):
    rt = w.rule(panel_size=1, votes_to_decide=1)
    juror = uid("rev")
    # Quiet hours = the current local minute in UTC+8; they end at the next minute.
    now = time.time()
    if now % 60 > 40:
        time.sleep(61 - now % 60)
        now = time.time()
    local = (int(now // 60) + 480) % 1440
    hhmm = lambda m: f"{m // 60 % 24:02d}:{m % 60:02d}"  # noqa: E731
    w.prefs(juror, {"quiet_hours": {"start": hhmm(local), "end": hhmm(local + 1), "utc_offset_minutes": 480}})
    rep = w.report(rt)
    w.panel(rep["case_id"], [juror])
    sgtest.wait_for(lambda: [n for n in w.listing(user_id=juror) if n["status"] == "deferred"], timeout=10,
                    what="deferred")
    assert not w.gw.received(lambda r: r["body"]["user_id"] == juror)
    end = (now // 60 + 1) * 60
    n = sgtest.wait_for(lambda: [n for n in w.listing(user_id=juror) if n["status"] == "sent"],
                        timeout=end - time.time() + 15, what="sent after the quiet hours")[0]
    got = w.gw.delivered(lambda r: r["body"]["user_id"] == juror)
    assert len(got) == 1 and got[0]["at"] >= end - 0.5, (got[0]["at"], end)
    assert got[0]["body"]["notification_id"] == n["notification_id"]


def test_hourly_cap(w):
    rt = w.rule(panel_size=1, votes_to_decide=1)
    juror = uid("rev")
    cases = []
    for _ in range(MAX_PER_HOUR + 2):
        rep = w.report(rt)
        w.panel(rep["case_id"], [juror])
        cases.append(rep["case_id"])
    w.settled(cases)
    statuses = Counter(n["status"] for n in w.listing(user_id=juror))
    assert statuses == Counter({"sent": MAX_PER_HOUR, "capped": 2}), statuses
    assert len(w.gw.delivered(lambda r: r["body"]["user_id"] == juror)) == MAX_PER_HOUR
    assert len(w.inbox(juror)) == MAX_PER_HOUR + 2, "capped notifications stay in the inbox"
    capped = w.listing(user_id=juror, status="capped")
    assert len(capped) == 2 and all(n["user_id"] == juror for n in capped)


# ------------------------------------------------------------ delivery

def test_gateway_fails_twice_then_succeeds(w):
    rt = w.rule(panel_size=1, votes_to_decide=1)
    juror = uid("rev")
    w.gw.fail(2, user_id=juror)
    rep = w.report(rt)
    w.panel(rep["case_id"], [juror])
    w.settled([rep["case_id"]])
    calls = w.gw.received(lambda r: r["body"]["user_id"] == juror)
    assert [c["status"] for c in calls] == [503, 503, 200], calls
    assert len({c["headers"]["X-SG-Event-Id"] for c in calls}) == 1
    assert calls[0]["headers"]["X-SG-Event-Id"] == calls[0]["body"]["notification_id"]
    assert all(c["signed"] for c in calls)
    assert calls[2]["at"] - calls[1]["at"] >= 0.9, "back-off between attempts"
    n = w.listing(user_id=juror)[0]
    assert n["status"] == "sent" and n["attempts"] == 3, n


def test_gateway_down_fails_after_the_attempts(w):
    rt = w.rule(panel_size=1, votes_to_decide=1)
    juror = uid("rev")
    w.gw.fail(100, user_id=juror, status=500)
    rep = w.report(rt)
    w.panel(rep["case_id"], [juror])
    w.settled([rep["case_id"]], timeout=40)
    n = w.listing(user_id=juror)[0]
    assert n["status"] == "failed" and n["attempts"] == 5 and n["last_result"] == "HTTP 500", n
    assert len(w.gw.received(lambda r: r["body"]["user_id"] == juror)) == 5


# ------------------------------------------------------------ templates, listing, metrics

def test_templates(w):
    r = w.svc.get("/v1/notification-templates?limit=200", headers=sgtest.ops_auth())
    assert r.status_code == 200, r.text
    have = {(t["kind"], t["locale"]) for t in r.json()["items"]}
    kinds = ("ballot_assigned", "ballot_reminder", "ballot_cancelled", "ballot_expired", "case_outcome",
             "report_outcome", "content_outcome", "appeal_opened")
    assert {(k, loc) for k in kinds for loc in ("en", "zh-CN")} <= have
    bad = w.svc.put("/v1/notification-templates/case_outcome/en", {"title": "Hi {{name}}", "body": "x"},
                    headers=sgtest.ops_auth())
    assert "{{name}}" in sgtest.problem_ok(bad, 400)["detail"]
    for path, body in (("nope/en", {"title": "t", "body": "b"}), ("case_outcome/e_n", {"title": "t", "body": "b"}),
                       ("case_outcome/en", {"title": "t"}), ("case_outcome/en", {"title": "t", "body": "{{tally"})):
        sgtest.problem_ok(w.svc.put("/v1/notification-templates/" + path, body, headers=sgtest.ops_auth()), 400)
    sgtest.problem_ok(w.svc.put("/v1/notification-templates/case_outcome/fr", {"title": "t", "body": "b"},
                                headers=sgtest.user_auth("u-1")), 403)
    # A new locale: French users get it; versions count up.
    t1 = w.svc.put("/v1/notification-templates/ballot_assigned/fr", {"title": "Nouveau dossier {{case_id}}",
                   "body": "Votez avant {{deadline}}"}, headers=sgtest.ops_auth())
    assert t1.status_code == 200 and t1.json()["version"] == 1, t1.text
    t2 = w.svc.put("/v1/notification-templates/ballot_assigned/fr", {"title": "Dossier {{case_id}} ({{report_type}})",
                   "body": "Votez avant {{deadline}}"}, headers=sgtest.ops_auth())
    assert t2.json()["version"] == 2
    juror = uid("rev")
    w.prefs(juror, {"locale": "fr"})
    rt = w.rule(panel_size=1, votes_to_decide=1)
    rep = w.report(rt)
    w.panel(rep["case_id"], [juror])
    n = sgtest.wait_for(lambda: w.inbox(juror), what="notification")[0]
    assert n["title"] == f"Dossier {rep['case_id']} ({rt})", n
    assert w.listing(user_id=juror)[0]["template_version"] == 2
    # A locale without a template of the kind falls back to en.
    w.vote(rep["case_id"], juror, "violation")
    out = sgtest.wait_for(lambda: [x for x in w.inbox(juror) if x["kind"] == "case_outcome"], what="outcome")[0]
    assert out["title"] == "A case you judged was decided"


def test_ops_listing_and_metrics(w):
    sgtest.problem_ok(w.svc.get("/v1/notifications", headers=sgtest.user_auth("u-1")), 403)
    sgtest.problem_ok(w.svc.get("/v1/notifications?status=delivered", headers=sgtest.ops_auth()), 400)
    sent = w.listing(status="sent")
    assert sent and all(n["status"] == "sent" for n in sent)
    page = w.svc.get("/v1/notifications?limit=2", headers=sgtest.ops_auth()).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    nxt = w.svc.get(f"/v1/notifications?limit=2&cursor={page['next_cursor']}", headers=sgtest.ops_auth()).json()
    assert not {n["notification_id"] for n in nxt["items"]} & {n["notification_id"] for n in page["items"]}
    text = w.svc.get("/metrics").text
    assert 'sg_notifications{kind="ballot_assigned",status="sent"}' in text
    assert "sg_push_delivery_seconds_bucket" in text and "sg_push_delivery_seconds_count" in text
    count = [l for l in text.splitlines() if l.startswith("sg_push_delivery_seconds_count")][0]
    assert int(count.split()[1]) > 0


# ------------------------------------------------------------ crash

def test_kill9_mid_delivery_loses_nothing(bus):
    """A slow gateway; the report service is killed with SIGKILL while it
    delivers, then restarted: every notification is eventually sent and the
    gateway saw each id at least once (duplicates counted and reported)."""
    with PushGateway(sgtest.CALLBACK_SECRET, delay=0.25) as gw:
        s = sgtest.Service("report", sgtest.run_id(), env=push_env(gw, SG_PUSH_MAX_PER_HOUR="100", SG_PUSH_BATCH="4",
                                                                    SG_PUSH_TIMEOUT_MS="1000"))
        s.start()
        try:
            create_topics(s.prefix, TOPICS)
            b = sgtest.Bus(s.prefix)
            r = b.consumer(*TOPICS)
            w = World(s, (b, r), gw)
            rt = w.rule(panel_size=5, votes_to_decide=3)
            cases = []
            for _ in range(6):
                rep = w.report(rt)
                w.panel(rep["case_id"], [uid("rev") for _ in range(5)])
                cases.append(rep["case_id"])
            r.close()
            total = len(w.rows("SELECT id FROM notifications"))
            assert total == 30
            sgtest.wait_for(lambda: len(gw.received()) >= 5, timeout=20, what="deliveries under way")
            s.kill9()
            before = len(gw.received())
            s.start()
            sgtest.wait_for(lambda: not w.rows("SELECT 1 FROM notifications WHERE status <> 'sent'"), timeout=90,
                            what="every notification sent")
            ids = [x[0] for x in w.rows("SELECT id::text FROM notifications")]
            seen = Counter(x["body"]["notification_id"] for x in gw.delivered())
            assert set(ids) <= set(seen), "a notification was never delivered"
            dups = sum(seen.values()) - len(seen)
            print(f"\nkill -9 push run: notifications={total} delivered_calls={sum(seen.values())} "
                  f"unique={len(seen)} duplicates={dups} calls_before_kill={before}")
            assert all(x["headers"]["X-SG-Event-Id"] == x["body"]["notification_id"] for x in gw.received())
        finally:
            rc = s.stop()
            s.drop_schema(topics=False)
            try:
                sgtest.delete_topics(s.prefix)
            except Exception as e:  # a broker restarted by another suite: the topics stay, the result stands
                print(f"topics of {s.prefix} not deleted: {e}")
        assert rc == 0, f"report exited with {rc}; log {s.logpath}"
