"""Traceparent: a report POSTed with a W3C `traceparent` header keeps its trace id
through the whole chain: the Kafka headers of sg.panel.requested (report),
sg.panel.assigned (reviewer), sg.case.decided (report, caused by a later vote that
carries no traceparent of its own) and sg.reward.granted (reward), and at least one
JSON log line of each service with that trace id in its "traceparent" field.

Last module of the directory on purpose: with `pytest -x` a failure here does
not hide the other end-to-end results."""
import json
import uuid

import pytest

from e2elib import REWARD_RULE, call, ok, stack_fixture, voting_rule

V = REWARD_RULE["vote_reward"]
M = REWARD_RULE["majority_bonus"]
RP = REWARD_RULE["reporter_reward"]


@pytest.fixture(scope="module")
def stack():
    yield from stack_fixture({"e2e_trace": voting_rule()}, n_jurors=30, redis_db=14, tag="t")


def open_jurors(case):
    return [b["reviewer_id"] for b in case["ballots"] if b["status"] == "open"]


def test_traceparent_propagates(stack):
    run, ev = stack.run, stack.events
    trace, span = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    tp = f"00-{trace}-{span}-01"
    owner, rep = f"{run}-t-owner", f"{run}-t-rep"
    cid = ok(stack.post_report("e2e_trace", f"im:{run}-t", owner, rep, headers={"traceparent": tp}), 201)["case_id"]
    panel = open_jurors(stack.wait_panel(cid, 5))
    for j in panel[:3]:
        ok(stack.vote(cid, j, "violation"), 201)                              # no traceparent on the votes
    ev.wait("sg.reward.granted", lambda es: sum(x["amount"] for x in {x["entry_id"]: x for x in es}.values())
            >= 3 * V, case_id=cid, what="the vote grants of the traced case (bonus, reporter: at finality)")
    missing = []
    for topic in ("sg.panel.requested", "sg.panel.assigned", "sg.case.decided", "sg.reward.granted"):
        evs = ev.wait(topic, case_id=cid, timeout=10, what=f"{topic} of the traced case")
        bad = [x["_headers"].get("traceparent") for x in evs if trace not in (x["_headers"].get("traceparent") or "")]
        if bad:
            missing.append(f"{topic}: traceparent headers {sorted(set(map(str, bad)))[:3]}")
    no_log = []
    for name, s in stack.svc.items():
        hits = 0
        with open(s.logpath, errors="replace") as f:
            for line in f:
                if trace not in line:
                    continue
                try:
                    if trace in (json.loads(line).get("traceparent") or ""):
                        hits += 1
                except ValueError:
                    pass
        if not hits:
            no_log.append(name)
    diag = ""
    if missing:
        # Tell "the decision does not carry the case's trace" apart from "nothing propagates":
        # a second case whose deciding vote itself carries a traceparent.
        t2 = uuid.uuid4().hex
        tp2 = f"00-{t2}-{uuid.uuid4().hex[:16]}-01"
        cid2 = ok(stack.post_report("e2e_trace", f"im:{run}-t2", owner, rep, headers={"traceparent": tp}), 201)["case_id"]
        p2 = open_jurors(stack.wait_panel(cid2, 5))
        for j in p2[:3]:
            ok(call("POST", f"{stack.report.url}/v1/cases/{cid2}/votes", {"decision": "violation"},
                    {**stack.tok(j), "traceparent": tp2}), 201)
        ev.wait("sg.reward.granted", lambda es: len(es) >= 3, case_id=cid2, timeout=15)
        dh = [x["_headers"].get("traceparent") for x in ev.of("sg.case.decided", case_id=cid2)]
        gh = {x["_headers"].get("traceparent") for x in ev.of("sg.reward.granted", case_id=cid2)}
        diag = (f" | diagnostic: when the deciding vote carries traceparent {tp2}, sg.case.decided carries {dh} "
                f"and sg.reward.granted carries {sorted(map(str, gh))}")
    assert not missing and not no_log, \
        f"trace id {trace} missing in Kafka headers: {missing}; in no log line of: {no_log}{diag}"
