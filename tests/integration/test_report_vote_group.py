"""Votes' group commit (issue 16, SG_VOTE_GROUP): concurrent votes share
transactions, each keeps its own outcome (a refused one does not take the
others down, a deciding one decides its case once), and every 201 is answered
after its vote is committed — against the real devstack. The test plays the
reviewer service as test_report_lifecycle.py does. SG_VOTE_GROUP=1 is the
path of the other report suites' votes when they run with it; the default (8)
is theirs otherwise."""
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

import sgtest
from test_report_lifecycle import TOPICS, World, uid


@pytest.fixture(scope="module", params=["8", "1"], ids=["group8", "group1"])
def svc(request):
    # More HTTP threads than the default 8, so that votes queue for a group.
    with sgtest.running("report", env={"SG_VOTE_GROUP": request.param, "SG_HTTP_THREADS": "16"}) as s:
        yield s


@pytest.fixture(scope="module")
def w(svc):
    with sgtest.reading(svc, TOPICS) as br:
        yield World(svc, br)


def test_concurrent_votes_each_with_its_own_outcome(w):
    svc = w.svc
    rt = w.rule(panel_size=3, votes_to_decide=2)
    panels = [w.open_panel(rt, 3) for _ in range(8)]
    # Every juror of 8 cases votes violation at once: per case two 201s decide it and the third is refused
    # (the case is decided by then); one juror of the first case also sends a repeat, and a stranger votes on
    # the second case (403).
    stranger = uid("stranger")
    jobs = [(rep["case_id"], rev) for rep, revs in panels for rev in revs]
    jobs += [(panels[0][0]["case_id"], panels[0][1][0]), (panels[1][0]["case_id"], stranger)]
    groups0, items0 = sgtest.group_commit_counters(svc, "vote")
    barrier = threading.Barrier(len(jobs))

    def one(job):
        cid, rev = job
        try:
            barrier.wait(timeout=10)
        except threading.BrokenBarrierError:
            pass
        r = w.vote(cid, rev, "violation")
        visible = None
        if r.status_code == 201:
            # Answered only after the COMMIT: the vote is there already.
            with svc.db() as c:
                visible = c.execute("SELECT count(*) FROM ballots WHERE case_id = %s AND reviewer_id = %s "
                                    "AND status = 'voted'", (cid, rev)).fetchone()[0]
        return cid, rev, r, visible

    with ThreadPoolExecutor(len(jobs)) as ex:
        out = list(ex.map(one, jobs))
    assert all(v == 1 for _, _, r, v in out if r.status_code == 201), "a 201 before its vote was committed"
    stranger_r = [r for _, rev, r, _ in out if rev == stranger]
    assert len(stranger_r) == 1 and sgtest.problem_ok(stranger_r[0], 403)
    for rep, revs in panels:
        cid = rep["case_id"]
        codes = sorted(r.status_code for c, rev, r, _ in out if c == cid and rev != stranger)
        extra = 1 if cid == panels[0][0]["case_id"] else 0
        assert codes == [201, 201] + [409] * (1 + extra), (cid, codes)
        case = w.case(cid)
        assert case["status"] == "decided" and case["verdict"] == "violation", case
        assert sorted(b["status"] for b in case["ballots"]) == ["cancelled", "voted", "voted"], case["ballots"]
    cases = [rep["case_id"] for rep, _ in panels]
    decided = w.wait_events("sg.case.decided", None, len(cases), lambda e: e["case_id"] in cases)
    w.drain(1.0)
    decided = w.events("sg.case.decided", None, lambda e: e["case_id"] in cases)
    assert sorted(e["case_id"] for e in decided) == sorted(cases), "each case decided once"
    voted = w.events("sg.ballot.closed", None, lambda e: e["case_id"] in cases and e["outcome"] == "voted")
    assert len(voted) == 2 * len(cases), "each counted vote closed its ballot once"
    with svc.db() as c:
        audit = dict(c.execute("SELECT case_id::text, count(*) FILTER (WHERE kind = 'ballot_voted') FROM case_events "
                               "WHERE case_id = ANY(%s::uuid[]) GROUP BY 1", (cases,)).fetchall())
    assert audit == {cid: 2 for cid in cases}, "the refused votes' audit entries were rolled back with them"

    groups, items = sgtest.group_commit_counters(svc, "vote")
    print(f"SG_VOTE_GROUP={svc.extra['SG_VOTE_GROUP']}: {items - items0} votes in {groups - groups0} transactions")
    assert items - items0 >= len(jobs), "every vote went through the group committer"
    if svc.extra["SG_VOTE_GROUP"] == "1":
        assert groups - groups0 == items - items0, "SG_VOTE_GROUP=1: one transaction per vote"
    else:
        assert groups - groups0 < items - items0, "concurrent votes were not committed together"
