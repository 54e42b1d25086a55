"""Two versions side by side (issue 15, item 4): the previous release's binaries
against the schemas the new release migrated.

scripts/build-previous builds the previous release (SG_PREV_RELEASE, default
9773189, the last landed release) once into .cache/prev-<commit>/ (bin/ and that
release's sql/). Then, on one run's schemas and topics:

1. the NEW services start once, so the new migrations apply, and stop;
2. the OLD binaries, each with its own release's migrations directory (what its
   image carries), start on those schemas — a binary that refused a schema with
   newer migrations would fail here — and carry the main path: report (with a
   callback URL) → panel → votes → decision → signed callback → coins →
   redemption, and a cancel (the cancelled callback delivered once); the report
   migrations are expand-only, so an old report decides and cancels on them;
3. mixed: new report + reviewer with an old reward, then old report + reviewer
   with a new reward, each over the main path;
4. an appeal across versions: the appealed case's grants made by one reward
   version, the appeal's by the other; the reporter is paid once (a reporter
   grant is keyed by the reported case, not by the appeal);
5. all new again, on data the old binaries wrote.

Coins are counted credited or pending: the new reward holds the majority bonus
and the reporter reward until the case is final, the previous one credits them
at the decision; the redemption is a juror's (the vote reward is credited at
the decision by both).

Set SG_PREV_DIR to use binaries built elsewhere (a directory with bin/ and sql/).
"""
import collections
import hashlib
import hmac
import os
import subprocess
import time
import uuid

import pytest

from e2elib import (REWARD_DUE_SQL, REWARD_RULE, SERVICES, SUMMARY, BinService, CallbackReceiver, EventCollector,
                    RoundRobin, Stack, advisory_holder, call, expected_grants, note, ok, poll, voting_rule)
from sgtest import CALLBACK_SECRET, LOGDIR, ROOT, problem_ok

PREV = os.environ.get("SG_PREV_RELEASE", "9773189ffcd5705523c3ce15c4b299dbd29b78b5")
RTYPE = "e2e_skew"
RULES = {RTYPE: voting_rule(appeal_window_s=600, appeal_panel_size=5, appeal_votes_to_decide=3)}
V, M, RP = REWARD_RULE["vote_reward"], REWARD_RULE["majority_bonus"], REWARD_RULE["reporter_reward"]
# Redeemed by a juror of the case: the vote reward is credited at the decision by
# either reward release (the new one holds the bonus and the reporter reward
# pending until finality; the previous one credits everything at once).
ITEM_COST = V


def build_previous():
    if os.environ.get("SG_PREV_DIR"):
        return os.environ["SG_PREV_DIR"]
    t0 = time.time()
    r = subprocess.run([os.path.join(ROOT, "scripts", "build-previous"), PREV], capture_output=True, text=True,
                       cwd=ROOT)
    assert r.returncode == 0, f"scripts/build-previous {PREV} failed:\n{r.stderr[-3000:]}"
    SUMMARY.append(f"version skew: previous release {PREV} binaries ready in {time.time() - t0:.1f}s "
                   f"({r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ''})")
    return r.stdout.strip().splitlines()[-1]


class Skew:
    """One run's schemas and topics; each service runs in the version asked for."""

    def __init__(self, prev):
        self.prev = prev
        self.stack = Stack(RULES, n_jurors=40, redis_db=9, tag="s",
                           env={"SG_CALLBACK_ALLOW_HOSTS": "127.0.0.1,localhost"})
        self.env = dict(self.stack.svc["report"].extra)
        self.version = {n: None for n in SERVICES}
        self.started = collections.Counter()
        self.receiver = CallbackReceiver()
        self.item = None
        self.decide_failures = []

    def service(self, name, version):
        self.started[(name, version)] += 1
        label = f"{version}{self.started[(name, version)]}"
        if version == "old":
            return BinService(name, self.stack.run, binary=os.path.join(self.prev, "bin", f"sg-{name}"),
                              migrations=os.path.join(self.prev, "sql", name), label=label, env=self.env,
                              redis_db=9)
        return BinService(name, self.stack.run, label=label, env=self.env, redis_db=9)

    def use(self, **versions):
        """Runs each named service in the given version ('old' | 'new'), restarting
        only those whose version changes; returns {name: version} in force."""
        starting = []
        for n, v in versions.items():
            if self.version[n] == v:
                continue
            self._stop(n)
            s = RoundRobin([self.service(n, "old"), self.service(n, "new")]) if v == "rolling" else self.service(n, v)
            s.start(wait=False)
            starting.append(s)
            self.stack.svc[n] = s
            self.version[n] = v
        for s in starting:
            s.wait_ready()
        self.stack.report, self.stack.reviewer, self.stack.reward = (self.stack.svc[n] for n in SERVICES)
        return dict(self.version)

    def _stop(self, n):
        """SIGTERM to what runs of service n; each process must exit 0."""
        cur = self.stack.svc[n]
        if isinstance(cur, RoundRobin):
            codes = cur.stop()
            assert set(codes.values()) <= {0}, f"{n} ({self.version[n]}) exit codes on SIGTERM {codes}"
        elif cur.proc is not None and cur.proc.poll() is None:
            rc = cur.stop()
            assert rc == 0, f"{n} ({self.version[n]}) exited with {rc} on SIGTERM; log {cur.logpath}"

    def stop(self):
        codes = {}
        for n, s in self.stack.svc.items():
            if isinstance(s, RoundRobin):
                codes.update({f"{n}-{k}": v for k, v in s.stop().items()})
            elif s.proc is not None and s.proc.poll() is None:
                codes[n] = s.stop()
        return codes


@pytest.fixture(scope="module")
def prev():
    return build_previous()


@pytest.fixture(scope="module")
def skew(prev):
    yield from skew_run(prev)


@pytest.fixture(scope="module")
def upgrade(prev):
    yield from skew_run(prev)


def skew_run(prev):
    sk = Skew(prev)
    st = sk.stack
    codes = {}
    try:
        st.create_topics()
        st.events = EventCollector(st.prefix)
        yield sk
    finally:
        codes = sk.stop()
        if st.events:
            st.events.close()
        sk.receiver.close()
        st.drop()
    bad = {n: c for n, c in codes.items() if c != 0}
    assert not bad, f"services did not exit 0 on SIGTERM: {bad} (logs in {LOGDIR}, run {st.run})"


def migrations(st):
    out = {}
    for n in SERVICES:
        out[n] = [v for (v,) in st.sql(n, "SELECT version FROM schema_migrations ORDER BY version")]
    return out


def has_pending(st):
    """Whether the reward schema has the new release's pending_grants yet (not
    while only the previous release has run on it: the upgrade test)."""
    return st.sql("reward", "SELECT to_regclass('pending_grants') IS NOT NULL")[0][0]


def pending_by_case(st, user):
    return st.pending_by_case(user) if has_pending(st) else {}


def due_sql(st):
    """Grants credited or pending (REWARD_DUE_SQL), or credited only before the
    new reward migrated."""
    return REWARD_DUE_SQL if has_pending(st) else "SELECT case_id, user_id, kind, amount_paid FROM grants"


def ledger_of_case(st, user, case_id):
    """Coins of case_id for user: ledger grants plus what the reward holds pending
    until the case is final (the new release's settlement; the previous release
    has no pending coins)."""
    return (sum(e["amount"] for e in st.ledger(user) if e.get("kind") == "grant" and e.get("case_id") == case_id)
            + pending_by_case(st, user).get(case_id, 0))


def coins_due(st, user):
    """All grant coins of user: ledger grants plus pending."""
    return (sum(e["amount"] for e in st.ledger(user) if e.get("kind") == "grant")
            + sum(pending_by_case(st, user).values()))


def signature_ok(header, raw, body):
    """X-SG-Signature in either of the formats the releases use: 'sha256=<hex HMAC of
    the body>' (v1) or 't=<unix>,v1=<hex HMAC of "<t>.<body>">' (v2)."""
    if not header:
        return False
    raw = raw if raw is not None else None
    key = CALLBACK_SECRET.encode()
    if header.startswith("sha256="):
        return raw is not None and hmac.compare_digest(header[7:], hmac.new(key, raw, hashlib.sha256).hexdigest())
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    if "t" in parts and "v1" in parts and raw is not None:
        return hmac.compare_digest(parts["v1"], hmac.new(key, parts["t"].encode() + b"." + raw,
                                                        hashlib.sha256).hexdigest())
    return False


class DecideRefused(AssertionError):
    """The vote that decides a case was refused (the case stays open)."""


def main_path(sk, label, callback=True, retry_decide=False):
    """report → panel → votes → decision → callback → coins → redemption on the
    services as they run now. Returns (case, reporter, owner, panel, seconds).
    callback=False files the report without a callback URL (and checks no
    callback). A deciding vote refused is recorded in sk.decide_failures and
    raises DecideRefused, or with retry_decide is sent again (a careful client;
    the round-robin takes it to the next replica) up to 6 times."""
    st, run = sk.stack, sk.stack.run
    t0 = time.time()
    owner, rep = f"{run}-{label}-owner", f"{run}-{label}-rep"
    cb_path = f"/cb/{label}"
    extra = {"callback_url": sk.receiver.url(cb_path)} if callback else {}
    r = st.post_report(RTYPE, f"listing:{run}-{label}", owner, rep, evidence={"truth": "violation"}, **extra)
    first = ok(r, 201)
    cid = first["case_id"]
    case = st.wait_panel(cid, RULES[RTYPE]["panel_size"], timeout=30)
    panel = [b["reviewer_id"] for b in case["ballots"] if b["status"] == "open"]
    ok(st.vote(cid, panel[0], "violation"), 201)
    ok(st.vote(cid, panel[1], "no_violation"), 201)
    ok(st.vote(cid, panel[2], "violation"), 201)
    for attempt in range(6):
        d = st.vote(cid, panel[3], "violation")                          # decides
        if d.status_code == 201:
            break
        sk.decide_failures.append((label, cid, d.status_code, d.text[:160], dict(sk.version)))
        if not retry_decide:
            raise DecideRefused(f"{label}: the deciding vote on case {cid} -> {d.status_code} {d.text[:300]} "
                                f"(versions {sk.version})")
        time.sleep(0.2)
    ok(d, 201)
    problem_ok(st.vote(cid, panel[4], "violation"), 409)
    c = st.wait_case(cid, ("decided",), timeout=15)
    assert (c["verdict"], c["decided_by"]) == ("violation", "panel"), c

    dec = st.events.wait("sg.case.decided", case_id=cid, timeout=20, what=f"{label}: sg.case.decided")
    assert len({e["event_id"] for e in dec}) == 1, dec

    def delivered():
        return [d for d in sk.receiver.deliveries if d[1] == cb_path and d[3].get("case_id") == cid]
    if callback:
        cbs = poll(delivered, 20, what=f"{label}: callback of case {cid}")
        assert len(cbs) == 1, f"{label}: callback delivered {len(cbs)} times"
        body, headers = cbs[0][3], cbs[0][2]
        assert CallbackReceiver.kind(body) == "decided" and body.get("verdict") == "violation", body
        assert signature_ok(headers.get("X-SG-Signature"), cbs[0][4], body), \
            f"{label}: callback signature {headers.get('X-SG-Signature')!r} does not verify"

    want = {panel[0]: V + M, panel[1]: V, panel[2]: V + M, panel[3]: V + M, panel[4]: 0, rep: RP, owner: 0}
    exp = collections.Counter(expected_grants(c, [rep]).items())
    # Credited or pending (REWARD_DUE_SQL), each once.
    poll(lambda: collections.Counter(((cid, u, k), a) for u, k, a in st.sql(
        "reward", f"SELECT user_id, kind, amount_paid FROM ({due_sql(st)}) g WHERE case_id = %s", cid)) == exp,
         20, what=f"{label}: grants (credited or pending) of case {cid}")
    got = {u: ledger_of_case(st, u, cid) for u in want}
    assert got == want, f"{label}: ledger of case {cid} {got}, want {want}"

    if sk.item is None or not sk.item.get("_ok"):
        ops = st.ops()
        item = ok(call("POST", f"{st.reward.url}/v1/catalog/items",
                       {"name": f"skew mug {run}", "cost": ITEM_COST, "stock": 100, "active": True}, ops), 200, 201)
        sk.item = dict(item, _ok=True)
    buyer = panel[0]
    before = st.balance(buyer)
    red = ok(call("POST", f"{st.reward.url}/v1/redemptions", {"item_id": sk.item["item_id"], "quantity": 1},
                  {**st.tok(buyer), "Idempotency-Key": uuid.uuid4().hex}), 201)
    assert red.get("balance") == before - ITEM_COST, f"{label}: redemption {red}, balance before {before}"
    assert st.balance(buyer) == before - ITEM_COST
    return c, rep, owner, panel, time.time() - t0


def test_new_release_migrates_then_previous_starts_on_it(skew):
    st = skew.stack
    t0 = time.time()
    skew.use(report="new", reviewer="new", reward="new")
    new_m = migrations(st)
    old_files = {n: sorted(int(f.split("_", 1)[0]) for f in os.listdir(os.path.join(skew.prev, "sql", n))
                           if f.endswith(".sql")) for n in SERVICES}
    newer = {n: [v for v in new_m[n] if v and v not in old_files[n]] for n in SERVICES}
    skew.use(report="old", reviewer="old", reward="old")
    after = migrations(st)
    assert after == new_m, f"the previous release changed schema_migrations: {new_m} -> {after}"
    for n in SERVICES:
        applied = [ln for ln in open(st.svc[n].logpath, errors="replace") if "migrations: applied" in ln]
        assert not applied, f"{n} (previous release) applied migrations on the new schema: {applied}"
    SUMMARY.append(f"version skew: previous release started on the new schemas, which hold migrations it does not "
                   f"know {newer} (it applies the files it has that are missing and ignores the rest: "
                   f"common/src/migrate.c compares version numbers only); {time.time() - t0:.1f}s")


def old_report_main_path(skew, label, what):
    """main_path with a previous-release report: it decides the case and queues
    the callback with its own `INSERT INTO callbacks (case_id, url, body) ...
    ON CONFLICT (case_id, url) DO NOTHING`, which the new schema keeps working
    (sql/report/002 is expand-only: callbacks_case_id_url_key stays, the new
    columns are defaulted or filled by callbacks_fill_legacy)."""
    *_, took = main_path(skew, label)
    SUMMARY.append(f"version skew: {what}: main path ok ({took:.1f}s)")


def cancel_path(sk, label):
    """A report with a callback URL, its case cancelled: 200, and the cancelled
    callback delivered once (the previous release queues it with its own INSERT
    ... ON CONFLICT (case_id, url))."""
    st, run = sk.stack, sk.stack.run
    cb_path = f"/cb/{label}"
    r = st.post_report(RTYPE, f"listing:{run}-{label}", f"{run}-{label}-owner", f"{run}-{label}-rep",
                       evidence={"truth": "violation"}, callback_url=sk.receiver.url(cb_path))
    cid = ok(r, 201)["case_id"]
    st.wait_panel(cid, RULES[RTYPE]["panel_size"], timeout=30)
    ok(call("POST", f"{st.report.url}/v1/cases/{cid}/cancel", {"reason": "skew"}, st.ops()), 200)
    st.wait_case(cid, ("cancelled",), timeout=15)
    cbs = poll(lambda: [d for d in sk.receiver.deliveries if d[1] == cb_path and d[3].get("case_id") == cid], 20,
               what=f"{label}: cancelled callback of case {cid}")
    time.sleep(1.0)
    cbs = [d for d in sk.receiver.deliveries if d[1] == cb_path and d[3].get("case_id") == cid]
    assert len(cbs) == 1 and CallbackReceiver.kind(cbs[0][3]) == "cancelled", \
        f"{label}: cancelled callback delivered {[(d[3].get('kind'), d[3].get('status')) for d in cbs]}"
    return st.sql("report", "SELECT kind, host, url_redacted FROM callbacks WHERE case_id = %s", cid)


def test_previous_release_main_path(skew):
    assert set(skew.version.values()) == {"old"}
    skew.stack.configure()
    old_report_main_path(skew, "old", "previous release x3 on the new schemas (report -> panel -> votes -> "
                                      "decision -> callback -> coins -> redemption)")
    rows = cancel_path(skew, "oldcancel")
    host = "127.0.0.1"
    assert [(k, h) for k, h, _ in rows] == [("cancelled", host)] and rows[0][2].startswith(f"http://{host}:"), \
        f"the previous release's cancelled callback row {rows} (callbacks_fill_legacy sets kind, host, url_redacted)"
    SUMMARY.append(f"version skew: previous report cancels a case with a callback URL: 200, callback delivered once, "
                   f"row {rows[0]}")


def test_mixed_old_reward(skew):
    skew.use(report="new", reviewer="new", reward="old")
    *_, took = main_path(skew, "mixA")
    SUMMARY.append(f"version skew: new report+reviewer, previous reward: main path ok ({took:.1f}s)")


def test_mixed_old_reviewer(skew):
    skew.use(report="new", reviewer="old", reward="new")
    *_, took = main_path(skew, "mixR")
    SUMMARY.append(f"version skew: previous reviewer, new report+reward: main path ok ({took:.1f}s)")


def test_mixed_new_reward(skew):
    skew.use(report="old", reviewer="old", reward="new")
    old_report_main_path(skew, "mixB", "previous report+reviewer, new reward")


@pytest.mark.parametrize("first,second", [("new", "old"), ("old", "new")])
def test_appeal_reporter_paid_once_across_versions(skew, first, second):
    """The appealed case's grants by one reward version, the appeal's by the other:
    the reporter's reward for the reported case is paid once."""
    st = skew.stack
    skew.use(report="new", reviewer="new", reward=first)
    c, rep, owner, panel, _ = main_path(skew, f"ap{first}")
    cid = c["case_id"] if "case_id" in c else c["id"]
    paid_before = coins_due(st, rep)
    skew.use(reward=second)
    r = call("POST", f"{st.report.url}/v1/cases/{cid}/appeals", {"reason": "skew"}, st.tok(owner))
    if r.status_code == 400:
        r = call("POST", f"{st.report.url}/v1/cases/{cid}/appeals", {}, st.tok(owner))
    aid = ok(r, 201)["case_id"]
    ac = st.wait_panel(aid, RULES[RTYPE]["appeal_panel_size"], timeout=30)
    apanel = [b["reviewer_id"] for b in ac["ballots"] if b["status"] == "open"]
    for j in apanel[:RULES[RTYPE]["appeal_votes_to_decide"]]:
        ok(st.vote(aid, j, "violation"), 201)
    a = st.wait_case(aid, ("decided",), timeout=15)
    assert a["verdict"] == "violation", a
    poll(lambda: all(ledger_of_case(st, j, aid) == V + M for j in apanel[:3]), 20,
         what=f"appeal {aid}: jurors paid by the {second} reward")
    # A previous-release reward knows no case links nor finality: it may record
    # the reporter's grant under the appeal while the new one holds it pending
    # under the appealed case; the new reward, once it runs again, links the
    # two at the appealed case's finalization and drops the pending one.
    skew.use(reward="new")

    def settled():
        rows = st.sql("reward", f"SELECT case_id, kind, amount_paid FROM ({REWARD_DUE_SQL}) g WHERE user_id = %s",
                      rep)
        rg = [x for x in rows if x[1] == "reporter"]
        return (rg, coins_due(st, rep)) if len(rg) == 1 and coins_due(st, rep) == RP else None
    try:
        reporter_grants, paid_after = poll(settled, 20, what=f"appeal {aid}: the reporter paid once")
    except AssertionError:
        reporter_grants = [x for x in st.sql("reward", f"SELECT case_id, kind, amount_paid FROM ({REWARD_DUE_SQL}) g "
                                                       "WHERE user_id = %s", rep) if x[1] == "reporter"]
        paid_after = coins_due(st, rep)
    assert len(reporter_grants) == 1 and paid_after == paid_before == RP, \
        (f"reward: reporter {rep} paid {paid_after} (before the appeal {paid_before}), reporter grants "
         f"{reporter_grants}: paid again for the appeal {aid} of case {cid} (first reward {first}, appeal's {second})")
    SUMMARY.append(f"version skew: appeal with the appealed case's grants by the {first} reward and the appeal's by "
                   f"the {second}: reporter paid once ({reporter_grants})")


def test_rolling_deploy_old_and_new_replicas_together(skew):
    """A rolling deploy's middle: one previous-release and one new replica of every
    service at once (one schema, one consumer group, one relay leader among them,
    requests round-robin), then the old ones stop (SIGTERM) and the new carry on."""
    st = skew.stack
    skew.use(report="rolling", reviewer="rolling", reward="rolling")
    leaders = {n: getattr(advisory_holder(st.svc[n].replicas, f"sg_outbox:{st.svc[n].schema}"), "label", None)
               for n in SERVICES}
    t0 = time.time()
    before = len(skew.decide_failures)
    for i in range(4):
        main_path(skew, f"roll{i}", retry_decide=True)
    refused = skew.decide_failures[before:]
    for n in SERVICES:
        rr = st.svc[n]
        old = rr.replicas[0]
        rr.down(old)
        assert old.stop() == 0, f"{n}: previous-release replica exit code on SIGTERM; log {old.logpath}"
    main_path(skew, "rolled")
    SUMMARY.append(f"version skew: rolling deploy, old + new replica of every service together (relay leaders "
                   f"{leaders}): 4 cases over the main path ({len(refused)} deciding votes refused and retried: "
                   f"{[(x[0], x[2]) for x in refused]}), then the old replicas stopped and one more: ok "
                   f"({time.time() - t0:.1f}s)")
    assert not refused, f"deciding votes refused during the rolling deploy: {refused}"


def test_new_again_on_data_the_previous_wrote(skew):
    skew.use(report="new", reviewer="new", reward="new")
    *_, took = main_path(skew, "new")
    rows = cancel_path(skew, "newcancel")
    assert [(k, h) for k, h, _ in rows] == [("cancelled", "127.0.0.1")], rows
    SUMMARY.append(f"version skew: new x3 after the previous release wrote to its schemas: main path and a cancel "
                   f"ok ({took:.1f}s)")
    note(f"version skew: processes run {dict(skew.started)}")


def test_upgrade_from_the_previous_release_schema(upgrade):
    """The order of a real deploy: the previous release created the schemas and wrote
    to them; the new release migrates them (on top of its data) and carries the
    main path; a previous-release reward then runs again (a rollback, or the old
    half of a rolling deploy) on the upgraded schema."""
    st = upgrade.stack
    t0 = time.time()
    upgrade.use(report="old", reviewer="old", reward="old")
    before = migrations(st)
    st.configure()
    main_path(upgrade, "up-old")
    upgrade.use(report="new", reviewer="new", reward="new")
    after = migrations(st)
    added = {n: sorted(set(after[n]) - set(before[n])) for n in SERVICES}
    main_path(upgrade, "up-new")
    upgrade.use(reward="old")
    main_path(upgrade, "up-rollback")
    SUMMARY.append(f"version skew: upgrade — previous release created the schemas, the new one migrated them "
                   f"(applied {added}), main path ok on each side and again with a previous-release reward "
                   f"({time.time() - t0:.1f}s)")
