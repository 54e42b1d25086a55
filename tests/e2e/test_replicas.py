"""Two replicas of every service, one kill -9 each (issue 15, item 3).

Two processes per service share the service's schema and topic prefix (own
ports, own logs); the test client spreads its requests over the live replicas
of a service round-robin (e2elib.RoundRobin). Under a steady flow of reports
(with callback URLs) and votes, one replica of each service is killed with
SIGKILL — for each service the one that holds the outbox relay's leader lock
(found in pg_locks and mapped to the process) — and the flow goes on against
the survivors, which must take over the relay, the timers and the consumer
partitions by themselves. Afterwards:

- nothing lost or doubled: every accepted report and 201 vote is stored, every
  decided case has one decision on sg.case.decided and exactly the rule's
  grants, once each (e2elib.ledger_check, the fault run's check);
- every timer fired once: one reminder per ballot (reminder_sent audit entries
  per ballot; every expired ballot was reminded exactly once), one expiry per
  expired ballot, one substitute request per expiry (each substitute_requested
  follows an expiry in the case's audit trail, never two for one, and no case
  ever had more seats taken than its panel), one panel answer per round, one
  decision per case and one finalization per case where the build has
  finality (audit kind 'finalized');
- each callback delivered once per URL per outcome (a receiver counts POSTs
  per (case, URL, outcome kind)).
"""
import collections
import threading
import time
import uuid

import pytest
import requests

import e2elib
from e2elib import (FINAL, SERVICES, SUMMARY, BinService, CallbackReceiver, JurorSim, RoundRobin, Stack,
                    advisory_holder, ledger_check, log_lines, max_overlap, note, ok, paginate, poll,
                    process_of_connection, read_topic, run_cases, stack_fixture, truth_voter, voting_rule)
from sgtest import client_auth

RTYPE = "e2e_replicas"
# Short timers so that reminders (3 s after the seat is taken), expiries (6 s),
# substitutes and deadlines (30 s) all happen within the run; a 5 s appeal window
# makes a build with finality finalize within it too.
# No re-report cooldown: a report after the decision opens a new case, so every
# reporter of a case is one its decision pays (a report that joins a decided
# case in the cooldown is not in that decision's reporter_ids; the load and
# fault runs do the same).
RULE = voting_rule(ballot_timeout_s=6, reminder_before_s=3, case_deadline_s=30, max_substitute_rounds=2,
                   appeal_window_s=5, re_report_cooldown_s=0)
# The in-flight callback test watches one outcome of one case: its rule keeps
# the appeal window open past the test, so no 'finalized' callback joins it.
RTYPE_CB = "e2e_replicas_cb"
RULES = {RTYPE: RULE, RTYPE_CB: {**RULE, "appeal_window_s": 600}}
LOAD_S = 42            # seconds of reports
PACE_S = 0.2           # one report every 0.2 s: 5 reports/s
KILL_AT = (12, 16, 20)  # seconds into the load: report, reviewer, reward leader


class ReplicaStack(Stack):
    """e2elib.Stack with two replicas per service behind a RoundRobin."""

    def __init__(self, rules, replicas=2, **kw):
        redis_db = kw.get("redis_db")
        super().__init__(rules, **kw)
        env = dict(self.svc["report"].extra)
        self.svc = {n: RoundRobin([BinService(n, self.run, env=env, redis_db=redis_db, label=f"r{i + 1}")
                                   for i in range(replicas)]) for n in SERVICES}
        self.report, self.reviewer, self.reward = (self.svc[n] for n in SERVICES)

    def start(self):
        self.create_topics()
        for s in self.svc.values():
            s.start(wait=False)
        for s in self.svc.values():
            s.wait_ready()
        self.events = e2elib.EventCollector(self.prefix)

    def stop(self):
        codes = {}
        for n, s in self.svc.items():
            try:
                codes.update({f"{n}-{k}": v for k, v in s.stop().items()})
            except RuntimeError as e:
                codes[n] = str(e)
        if self.events:
            self.events.close()
        return codes

    def post_report_retry(self, report_type, target_id, owner, reporter, budget_s=30, headers=None, **extra):
        """Stack.post_report_retry with a client of choice (headers): one Idempotency-Key,
        retried on 5xx and refused connections, each try to the next live replica."""
        key = uuid.uuid4().hex
        deadline = time.time() + budget_s
        attempts = 0
        while True:
            attempts += 1
            try:
                r = self.post_report(report_type, target_id, owner, reporter,
                                     headers={**(headers or {}), "Idempotency-Key": key}, **extra)
                if r.status_code < 500 and r.status_code != 429:
                    return r, attempts
                last = r
            except requests.RequestException as e:
                last = type(e).__name__
            if time.time() > deadline:
                return last, attempts
            time.sleep(min(2.0, 0.2 * attempts))


@pytest.fixture(scope="module")
def receiver():
    r = CallbackReceiver()
    yield r
    r.close()


@pytest.fixture(scope="module")
def stack():
    yield from stack_fixture(RULES, cls=ReplicaStack, what="replica stack (2 x 3 services)", n_jurors=150,
                             redis_db=10, tag="r",
                             env={"SG_CALLBACK_ALLOW_HOSTS": "127.0.0.1,localhost", "SG_CALLBACK_TIMEOUT_MS": "2000"})


class Poster(threading.Thread):
    """Reports at a steady pace, half from client 'product' and half from 'forum',
    each with its client's callback URL (so a case has up to two URLs)."""

    def __init__(self, stack, receiver, targets=10, reporters=200):
        super().__init__(daemon=True, name="poster")
        self.stack, self.receiver = stack, receiver
        self.T, self.R = targets, reporters
        self.stop_evt = threading.Event()
        self.accepted = {}                     # report_id -> (case_id, target, reporter)
        self.statuses = collections.Counter()
        self.per_target = collections.Counter()
        self.retried = 0

    def run(self):
        run = self.stack.run
        t0 = time.time()
        for i in range(int(LOAD_S / PACE_S)):
            if self.stop_evt.is_set():
                return
            t = i % self.T
            k = self.per_target[t]
            reporter = f"{run}-rrep{(t * 7 + k) % self.R:03d}"
            truth = "violation" if t % 3 else "no_violation"
            client = ("product", "forum")[(i // self.T) % 2]
            r, attempts = self.stack.post_report_retry(
                RTYPE, f"post:{run}-R{t:02d}", f"{run}-rown{t:02d}", reporter, budget_s=15,
                headers=client_auth(client), callback_url=self.receiver.url(f"/cb/{client}"),
                evidence={"truth": truth, "n": i})
            st = getattr(r, "status_code", r)
            if st in (200, 201):
                b = r.json()
                self.accepted[b["report_id"]] = (b["case_id"], t, reporter)
                self.per_target[t] += 1
            elif st == 409:
                self.per_target[t] += 1
            self.retried += attempts > 1
            self.statuses[st] += 1
            self.stop_evt.wait(max(0.0, t0 + (i + 1) * PACE_S - time.time()))


def kill_leader(stack, name, mark):
    """Kills (SIGKILL) the replica of `name` that holds the outbox relay lock; returns
    (killed replica, survivor, seconds until the survivor held the lock)."""
    rr = stack.svc[name]
    key = f"sg_outbox:{rr.schema}"
    leader = poll(lambda: advisory_holder(rr.live, key), 10, what=f"{name}: a relay leader among the replicas")
    logged = [r.label for r in rr.replicas if log_lines(r, f"outbox relay: leader for schema {rr.schema}")]
    assert leader.label in logged, f"{name}: {leader.label} holds the relay lock but logs say {logged}"
    survivor = next(r for r in rr.live if r is not leader)
    leader.kill9()
    t0 = time.time()
    mark(f"kill -9 {name} {leader.label} (relay leader, pid {leader.proc.pid})")
    poll(lambda: advisory_holder([survivor], key) is survivor, 40, interval=0.1,
         what=f"{name}: the surviving replica takes the relay lock")
    took = time.time() - t0
    mark(f"{name} {survivor.label} relay leader after {took:.1f}s")
    # The balancer notices a second later (a health check's period): requests sent
    # to the dead replica meanwhile are refused and retried by the clients.
    time.sleep(max(0.0, t0 + 1.0 - time.time()))
    rr.down(leader)
    poll(lambda: log_lines(survivor, f"outbox relay: leader for schema {rr.schema}"), 5,
         what=f"{name} {survivor.label} logs its leadership")
    return leader, survivor, took


def audit_checks(stack, full):
    """Timers fired once, from the report's audit trail (case_events, read only) and
    its ballots: returns (counts, problems)."""
    ids = list(full)
    ev = stack.sql("report", "SELECT case_id::text, kind, data FROM case_events WHERE case_id = ANY(%s::uuid[]) "
                             "ORDER BY case_id, id", ids)
    ballots = stack.sql("report", "SELECT id::text, case_id::text, status, reminder_at, reminded_at, assigned_at, "
                                  "closed_at FROM ballots WHERE case_id = ANY(%s::uuid[])", ids)
    # Lateness of the timers that fired (API.md: within 2 s of the due time).
    late = stack.sql("report", """
        SELECT coalesce(max(extract(epoch FROM reminded_at - reminder_at)), 0)::float,
               coalesce(max(extract(epoch FROM closed_at - deadline)) FILTER (WHERE status = 'expired'), 0)::float
        FROM ballots WHERE case_id = ANY(%s::uuid[])""", ids)[0]
    trail = collections.defaultdict(list)
    for cid, kind, data in ev:
        trail[cid].append((kind, data or {}))
    problems = []
    reminders = collections.Counter()
    expiries = collections.Counter()
    for cid, t in trail.items():
        for kind, data in t:
            if kind == "reminder_sent":
                reminders[data.get("ballot_id")] += 1
            elif kind == "ballot_expired":
                expiries[data.get("ballot_id")] += 1
    counts = collections.Counter()
    for bid, cid, status, reminder_at, reminded_at, _, _ in ballots:
        n = reminders.get(bid, 0)
        if n > 1:
            problems.append(f"ballot {bid} of {cid}: {n} reminders")
        if (reminded_at is not None) != (n == 1):
            problems.append(f"ballot {bid} of {cid}: reminded_at {reminded_at} but {n} reminder_sent entries")
        if status == "expired":
            counts["expired ballots"] += 1
            counts["expired ballots reminded once"] += (n == 1) if reminder_at is not None else 1
            if reminder_at is not None and n != 1:
                problems.append(f"ballot {bid} of {cid}: expired with {n} reminders")
            if expiries.get(bid, 0) != 1:
                problems.append(f"ballot {bid} of {cid}: expired, {expiries.get(bid, 0)} ballot_expired entries")
            else:
                counts["expiries once"] += 1
        elif expiries.get(bid):
            problems.append(f"ballot {bid} of {cid}: {status}, yet {expiries[bid]} ballot_expired entries")
        counts["reminders"] += n
        counts["ballots reminded"] += n >= 1
        counts["ballots reminded once"] += n == 1
    # Reminders on the wire: one ballot_reminder notification (event id) per reminded ballot.
    wire = collections.defaultdict(set)
    for e in stack.events.of("sg.notification.requested", kind="ballot_reminder"):
        if e.get("case_id") in full:
            wire[e.get("ballot_id")].add(e.get("event_id"))
    for bid, evs in wire.items():
        if len(evs) != 1:
            problems.append(f"ballot {bid}: {len(evs)} ballot_reminder notifications")
    if set(wire) != {b for b, n in reminders.items() if n}:
        problems.append(f"ballot_reminder notifications for {len(wire)} ballots, reminder_sent for "
                        f"{sum(1 for n in reminders.values() if n)}")
    # Substitutes: each substitute_requested follows an expiry (or a decline / cancel) of
    # the same case and no expiry is followed by two; one panel answer per round; no
    # case ever had more seats taken than its panel.
    closing = {"ballot_expired", "ballot_declined", "ballot_cancelled"}
    finalized = 0
    by_case = collections.defaultdict(list)
    for bid, cid, status, _, _, assigned_at, closed_at in ballots:
        by_case[cid].append((assigned_at, None if status in ("voted", "cancelled") else closed_at))
    for cid, t in trail.items():
        kinds = [k for k, _ in t]
        prev = None
        subs_rounds = []
        for kind, data in t:
            if kind == "substitute_requested":
                subs_rounds.append(data.get("round"))
                counts["substitute requests"] += 1
                if prev == "substitute_requested":
                    problems.append(f"case {cid}: two substitute requests in a row (rounds {subs_rounds[-2:]})")
                elif prev in closing:
                    counts["substitute requests after one expiry"] += 1
                else:
                    counts[f"substitute requests after {prev}"] += 1
            prev = kind
        if len(subs_rounds) != len(set(subs_rounds)):
            problems.append(f"case {cid}: substitute rounds requested twice {subs_rounds}")
        if len(subs_rounds) > RULE["max_substitute_rounds"]:
            problems.append(f"case {cid}: {len(subs_rounds)} substitute rounds, rule allows "
                            f"{RULE['max_substitute_rounds']}")
        answered = collections.Counter(d.get("round") for k, d in t if k == "panel_assigned")
        if any(n != 1 for n in answered.values()):
            problems.append(f"case {cid}: panel answers per round {dict(answered)}")
        ignored = [d for k, d in t if k == "assignment_ignored"]
        if ignored:
            counts["assignments ignored"] += len(ignored)
        peak, panel = max_overlap(by_case.get(cid, [])), full[cid].get("panel_size") or RULE["panel_size"]
        if peak > panel:
            problems.append(f"case {cid}: {peak} seats taken at once, panel of {panel}")
        for once in ("opened", "decided", "escalated", "cancelled", "resolved", "finalized"):
            if kinds.count(once) > 1:
                problems.append(f"case {cid}: {kinds.count(once)} '{once}' entries")
        status = full[cid]["status"]
        if status in FINAL and kinds.count(status) != 1:
            problems.append(f"case {cid} is {status} with {kinds.count(status)} '{status}' entries")
        finalized += kinds.count("finalized")
        if full[cid].get("final") and status == "decided" and "finalized" not in kinds:
            problems.append(f"case {cid}: final without a 'finalized' entry")
    counts["finalized"] = finalized
    counts["max reminder lateness ms"] = int(late[0] * 1000)
    counts["max expiry lateness ms"] = int(late[1] * 1000)
    return counts, problems


def callback_checks(stack, receiver, full, kills):
    """Each callback delivered once per (case, URL, outcome kind). Returns (counts,
    problems, explained): duplicates whose first copy arrived while the replica that
    sent it was being killed are listed apart (the lease's at-least-once)."""
    urls = collections.defaultdict(set)
    for cid, url in stack.sql("report", "SELECT DISTINCT case_id::text, callback_url FROM reports "
                                        "WHERE callback_url IS NOT NULL"):
        urls[cid].add(url.split(str(receiver.port), 1)[1])
    # Outcomes called back: decided and cancelled (v1); escalated and finalized (v2)
    # once the build sends them at all (then each such case must have its own).
    sent = {k for _, _, k in receiver.counts()}
    expected = set()
    for cid, c in full.items():
        kinds = set()
        if c["status"] in ("decided", "cancelled") or (c["status"] == "escalated" and "escalated" in sent):
            kinds.add(c["status"])
        if c.get("final") and c["status"] == "decided" and "finalized" in sent:
            kinds.add("finalized")
        for path in urls.get(cid, ()):
            expected |= {(cid, path, k) for k in kinds}

    def pending():
        return stack.sql("report", "SELECT count(*) FROM callbacks WHERE status = 'pending'")[0][0]
    try:
        poll(lambda: pending() == 0 and expected <= set(receiver.counts()), 60, interval=1.0,
             what="every callback delivered")
    except AssertionError:
        pass
    got = receiver.counts()
    problems, explained = [], []
    missing = expected - set(got)
    if missing:
        problems.append(f"{len(missing)} callbacks never delivered, e.g. {sorted(missing)[:3]}")
    for k, ds in got.items():
        if k[0] not in full:
            continue
        if len(ds) > 1:
            ids = {d[2].get("X-SG-Event-Id") for d in ds}
            near_kill = any(abs(ds[0][0] - t) < 2.0 for t in kills)
            (explained if near_kill else problems).append(
                f"{k}: delivered {len(ds)} times (event ids {ids}, first at {ds[0][0]:.1f})")
    failed = stack.sql("report", "SELECT count(*) FROM callbacks WHERE status = 'failed'")[0][0]
    if failed:
        problems.append(f"{failed} callbacks failed")
    return ({"expected": len(expected), "delivered": sum(1 for k in expected if k in got),
             "once": sum(1 for k in expected if len(got.get(k, ())) == 1),
             "posts": sum(len(v) for v in got.values())}, problems, explained)


def test_two_replicas_each_kill9_one(stack, receiver):
    t_start = time.time()
    timeline = []

    def mark(what):
        timeline.append(f"{time.time() - t_start:5.1f}s {what}")

    never = set(stack.jurors[::5])                                            # 20 % never vote
    # Jurors look at their ballots every 3 s (no hints from Kafka): a case stays open
    # a few seconds, so later reports join it (several callback URLs per case) and
    # reminders (3 s after a seat is taken) reach ballots that are voted afterwards.
    sim = JurorSim(stack, stack.jurors, truth_voter(never), threads=5, idle_s=3.0)
    poster = Poster(stack, receiver)
    kills, failover = [], {}
    sim.start()
    poster.start()
    try:
        t0 = time.time()
        for name, at in zip(SERVICES, KILL_AT):
            time.sleep(max(0.0, t0 + at - time.time()))
            killed, survivor, took = kill_leader(stack, name, mark)
            kills.append(time.time())
            failover[name] = (killed.label, survivor.label, round(took, 1))
        time.sleep(max(0.0, t0 + LOAD_S - time.time()))
    finally:
        poster.stop_evt.set()
        poster.join(20)
        mark(f"reports stopped: {dict(poster.statuses)}, {poster.retried} retried")

    try:
        deadline = time.time() + RULE["case_deadline_s"] + 20
        while True:
            open_rows = stack.sql("report", "SELECT id::text, deadline < now() - interval '5 seconds' FROM cases "
                                            "WHERE status IN ('assigning', 'voting')")
            if not open_rows or time.time() > deadline:
                break
            time.sleep(1.0)
        mark(f"quiescent: {len(open_rows)} open")
        # A build with finality (API.md v2: 'final' on a case) finalizes every decided
        # case once its appeal window closed: wait for that too.
        def not_final():
            listed = paginate(f"{stack.report.url}/v1/cases?status=decided&report_type={RTYPE}", stack.ops())
            return [c for c in listed if not c.get("final")]
        if any("final" in c for c in paginate(f"{stack.report.url}/v1/cases?status=decided&report_type={RTYPE}",
                                              stack.ops())):
            fin_deadline = time.time() + RULE["appeal_window_s"] + 15
            while not_final() and time.time() < fin_deadline:
                time.sleep(1.0)
            mark("decided cases final")
    finally:
        sim.stop()
    stuck = [c for c, overdue in open_rows if overdue]

    for name, rr in stack.svc.items():
        for r in rr.live:
            assert r.proc.poll() is None, f"{name} {r.label} (survivor) died: {r.proc.returncode}\n{r.tail()}"

    # ---- nothing lost, nothing doubled (the fault run's checks)
    full, accepted_cases, missing_cases, lost_reports = run_cases(stack, poster, RTYPE)
    reporters = collections.defaultdict(set)
    for rid, cid, reporter in stack.sql("report", "SELECT id::text, case_id::text, reporter_id FROM reports"):
        reporters[cid].add(reporter)
    led = ledger_check(stack, full, reporters)

    decided = {cid: c for cid, c in full.items() if c["status"] == "decided"}
    dec = collections.defaultdict(set)
    for e in read_topic(stack.prefix, "sg.case.decided"):
        if e.get("verdict"):
            dec[e["case_id"]].add((e["event_id"], e["verdict"]))
    dec_dups = {cid: v for cid, v in dec.items() if len({x for x, _ in v}) > 1}
    dec_lost = [cid for cid in decided if cid not in dec]
    ballots = {(cid, b["reviewer_id"]): b for cid, c in full.items() for b in c["ballots"]}
    lost_votes = [(cid, j, d) for _, j, cid, _, d, st in sim.votes
                  if st == 201 and (ballots.get((cid, j)) or {}).get("decision") != d]
    duplicates = led["duplicates"] + len(dec_dups)
    lost = led["lost"] + len(dec_lost) + len(lost_votes) + len(lost_reports) + len(missing_cases) + len(stuck)

    # ---- timers and callbacks
    tcounts, tproblems = audit_checks(stack, full)
    ccounts, cproblems, cexplained = callback_checks(stack, receiver, full, kills)
    timers_once = not tproblems
    final_n = sum(1 for c in full.values() if c["status"] in FINAL)
    fin = (f"finalizations={tcounts['finalized']}" if tcounts["finalized"] else "finalizations=n/a (no finality in this build)")
    line = (f"replica run: reports accepted={len(poster.accepted)} cases={len(full)} final={final_n} "
            f"decided={len(decided)} grants expected={led['expected']} found={led['found']} "
            f"duplicates={duplicates} lost={lost} timers fired once={'yes' if timers_once else 'NO'} "
            f"(reminders {tcounts['ballots reminded once']}/{tcounts['ballots reminded']} ballots, "
            f"expiries {tcounts['expiries once']}/{tcounts['expired ballots']}, substitute requests "
            f"{tcounts['substitute requests after one expiry']}/{tcounts['substitute requests']}, {fin}) "
            f"callbacks once={ccounts['once']}/{ccounts['expected']} (posts {ccounts['posts']})")
    SUMMARY.append(line)
    SUMMARY.append("replica run detail: " + "; ".join(timeline) + f"; relay failover {failover}; "
                   f"took {time.time() - t_start:.0f}s; cases {dict(collections.Counter(c['status'] for c in full.values()))}; "
                   f"votes 201={sum(1 for v in sim.votes if v[5] == 201)}; juror errors={dict(sim.errors)}; "
                   f"coins expected={led['coins_expected']} users={led['coins_users']} ledger={led['coins_ledger']}; "
                   f"assignments ignored={tcounts['assignments ignored']}; timer lateness max reminder "
                   f"{tcounts['max reminder lateness ms']} ms, expiry {tcounts['max expiry lateness ms']} ms")
    if max(tcounts["max reminder lateness ms"], tcounts["max expiry lateness ms"]) > 2000:
        note(f"replicas: a timer fired more than 2 s late (API.md promises 2 s): {dict(tcounts)}")
    for x in cexplained:
        note(f"replicas: callback re-sent after a kill (lease expired, at least once): {x}")

    assert set(poster.statuses) <= {200, 201, 409}, f"report: final answers to reports {dict(poster.statuses)}"
    assert not [k for k in sim.errors if " 5" in k], f"juror errors {dict(sim.errors)}"
    assert not stuck, f"report: cases past their deadline still open: {stuck[:10]}"
    assert not missing_cases and not lost_reports, \
        f"report: accepted reports lost: cases missing {list(missing_cases)[:5]}, reports {lost_reports[:5]}"
    assert not lost_votes, f"report: votes answered 201 but not recorded: {lost_votes[:10]}"
    assert not dec_lost and not dec_dups, \
        f"report: sg.case.decided lost {dec_lost[:5]} or with several event ids {list(dec_dups.items())[:3]}"
    assert led["duplicates"] == 0 and led["lost"] == 0, f"reward: ledger check {led}"
    assert led["coins_users"] == led["coins_ledger"] == led["coins_expected"], f"reward: coins {led}"
    assert not tproblems, f"timers: {len(tproblems)} problems: {tproblems[:10]}"
    assert not cproblems, f"callbacks: {cproblems[:10]}"
    assert duplicates == 0 and lost == 0, line
    assert decided and tcounts["reminders"] and tcounts["expired ballots"] and tcounts["substitute requests"], \
        f"the run did not exercise every timer: {dict(tcounts)}, decided {len(decided)}"


def test_callback_in_flight_when_its_replica_is_killed(stack, receiver):
    """A report replica dies (kill -9) while its callback POST is in flight (the
    receiver holds the request 1.5 s, under SG_CALLBACK_TIMEOUT_MS): the callback
    stays leased to the dead replica until the lease ends (callback timeout + 30 s,
    services/report/callbacks.c), then the survivor delivers it again. The receiver
    has then seen it twice: at least once by design; what lets an upstream apply it
    once is an X-SG-Event-Id that is the same on both attempts (API.md v2)."""
    rr = stack.svc["report"]
    for r in rr.replicas:                       # the replica killed above comes back first
        if r.proc is None or r.proc.poll() is not None:
            r.start()
            rr.up(r)
    run = stack.run
    path = f"/cb/inflight-{run}"
    receiver.hold[path] = 1.5
    owner, rep = f"{run}-inflight-owner", f"{run}-inflight-rep"
    cid = ok(stack.post_report(RTYPE_CB, f"post:{run}-inflight", owner, rep, callback_url=receiver.url(path),
                               evidence={"truth": "violation"}), 201)["case_id"]
    panel = [b["reviewer_id"] for b in stack.wait_panel(cid, RULE["panel_size"], timeout=20)["ballots"]
             if b["status"] == "open"]
    for j in panel[:RULE["votes_to_decide"]]:
        ok(stack.vote(cid, j, "violation"), 201)
    first = poll(lambda: [a for a in receiver.arrivals if a[1] == path], 15, interval=0.02,
                 what=f"the callback of case {cid} arriving")[0]
    sender = process_of_connection(rr.live, first[2], receiver.port)
    assert sender is not None, f"no report replica owns the callback connection from port {first[2]}"
    sender.kill9()
    t_kill = time.time()
    rr.down(sender)
    receiver.hold.pop(path, None)
    survivor = rr.live[0]

    def delivered():
        rows = stack.sql("report", "SELECT status, attempts FROM callbacks WHERE case_id = %s", cid)
        return rows if rows and rows[0][0] == "delivered" else None
    row = poll(delivered, 75, interval=0.5, what=f"the callback of case {cid} delivered by {survivor.label}")
    arrivals = [a for a in receiver.arrivals if a[1] == path]
    deliveries = [d for d in receiver.deliveries if d[1] == path]
    again = arrivals[1][0] - first[0] if len(arrivals) > 1 else None
    ids = [d[2].get("X-SG-Event-Id") for d in deliveries]
    SUMMARY.append(f"replica callback in flight: {sender.label} killed {t_kill - first[0]:.2f}s into its POST; "
                   f"{survivor.label} sent it again {again:.1f}s after the first attempt (lease); the receiver got "
                   f"{len(arrivals)} POSTs for one outcome; callbacks row {row[0]}; X-SG-Event-Id {ids}"
                   if again is not None else
                   f"replica callback in flight: {sender.label} killed; arrivals {len(arrivals)}; row {row[0]}")
    assert len(arrivals) == 2, f"callback of case {cid}: {len(arrivals)} POSTs, want the first and one re-send"
    assert again < RULE["case_deadline_s"] + 60
    if None in ids:
        pytest.xfail("report: a callback re-sent after its sender died carries no X-SG-Event-Id, so the "
                     "upstream cannot tell it from a new outcome (API.md v2 header not implemented yet)")
    assert len(set(ids)) == 1, f"callback of case {cid}: X-SG-Event-Id differs between attempts {ids}"
