/* Fuzz target: payloads of consumed events. The input is parsed like
 * sg_inbox_process does (json_loadb, flags 0; anything but an object is
 * dropped before a handler sees it) and handed to every payload parser, freed
 * the way the consumers free:
 *   reviewer: rv_panel_req_parse (sg.panel.requested), rv_ballot_closed_parse
 *   (sg.ballot.closed), rv_case_decided_parse (sg.case.decided),
 *   rv_case_finalized_parse (sg.case.finalized),
 *   rv_activity_item_parse non-strict (sg.user.activity), and the
 *   sg.panel.assigned an accepted panel request would be answered with
 *   (rv_panel_assigned_encode, its exclusions standing in for the panel);
 *   reward: rw_decision_parse (sg.case.decided; the settlement computed from
 *   it at every stage), rw_finalization_parse (sg.case.finalized);
 *   report: rp_panel_assigned_decode (sg.panel.assigned),
 *   rp_reviewer_status_decode (sg.reviewer.status_changed).
 * Checked beyond memory safety and leaks: what a parser accepts satisfies its
 * header's contract (ids are opaque ids, counts match, enums in range).
 */
#include <string.h>

#include "fuzz_util.h"
#include "report/payloads.h"
#include "reviewer/payloads.h"
#include "sg/timeutil.h"
#include "reward/grant.h"
#include "reward/payloads.h"
#include "reward/rule.h"
#include "sg/json.h"

#define FUZZ_NOW 1748736000.0 /* 2025-06-01T00:00:00Z */

static void check_tags(const rv_tags *t)
{
    FZ_CHECK(t->n >= 0 && t->n <= RV_MAX_TAGS, "tag count %d", t->n);
    for (int i = 0; i < t->n; i++)
        FZ_CHECK(sg_is_tag(t->v[i]), "tag %d", i);
}

static int outcome_ok(rv_outcome o)
{
    return o == RV_OUT_VOTED || o == RV_OUT_EXPIRED || o == RV_OUT_DECLINED || o == RV_OUT_CANCELLED;
}

static void fuzz_reviewer(const json_t *p)
{
    char err[256] = "";
    rv_panel_req pr;
    if (rv_panel_req_parse(p, &pr, err, sizeof err) == 0) {
        FZ_CHECK(sg_is_opaque_id(pr.case_id), "case_id");
        FZ_CHECK(pr.round >= 0 && pr.seats >= 1 && pr.seats <= RV_SEATS_MAX, "round/seats");
        FZ_CHECK(pr.report_type && *pr.report_type, "report_type");
        FZ_CHECK(!pr.deadline || sg_is_rfc3339(pr.deadline), "deadline");
        check_tags(&pr.tags);
        FZ_CHECK(pr.nexclude <= RV_EXCLUDE_MAX && (pr.nexclude == 0) == (pr.exclude == NULL), "exclude");
        for (size_t i = 0; i < pr.nexclude; i++)
            FZ_CHECK(sg_is_opaque_id(pr.exclude[i]), "exclude[%zu]", i);
        size_t n = pr.nexclude < RV_SEATS_MAX ? pr.nexclude : RV_SEATS_MAX;
        json_t *out = rv_panel_assigned_encode(pr.case_id, pr.round, n, pr.exclude, pr.seats - (int)n);
        if (out) {
            json_t *ids = json_object_get(out, "reviewer_ids");
            FZ_CHECK(!strcmp(sg_json_str(out, "case_id"), pr.case_id), "assigned case_id");
            FZ_CHECK(sg_json_int(out, "round", -1) == pr.round, "assigned round");
            FZ_CHECK(json_array_size(ids) == n, "assigned reviewer_ids");
            for (size_t i = 0; i < n; i++)
                FZ_CHECK(!strcmp(json_string_value(json_array_get(ids, i)), pr.exclude[i]), "assigned id %zu", i);
            json_decref(out);
        }
        rv_panel_req_free(&pr);
    } else {
        FZ_CHECK(pr.exclude == NULL, "failed parse left an allocation");
    }

    rv_ballot_closed bc;
    if (rv_ballot_closed_parse(p, &bc, err, sizeof err) == 0)
        FZ_CHECK(sg_is_opaque_id(bc.case_id) && sg_is_opaque_id(bc.reviewer_id) && outcome_ok(bc.outcome),
                 "ballot.closed");

    rv_case_decided cd;
    if (rv_case_decided_parse(p, &cd, err, sizeof err) == 0) {
        const json_t *ballots = json_object_get(p, "ballots");
        FZ_CHECK(sg_is_opaque_id(cd.case_id), "case_id");
        FZ_CHECK(cd.n == (json_is_array(ballots) ? json_array_size(ballots) : 0), "n=%zu", cd.n);
        for (size_t i = 0; i < cd.n; i++) {
            FZ_CHECK(sg_is_opaque_id(cd.reviewer_ids[i]), "ballot %zu reviewer_id", i);
            FZ_CHECK(outcome_ok(cd.outcomes[i]), "ballot %zu outcome %d", i, (int)cd.outcomes[i]);
            FZ_CHECK(cd.with_majority[i] >= -1 && cd.with_majority[i] <= 1, "ballot %zu with_majority", i);
            FZ_CHECK(cd.with_majority[i] == -1 || cd.outcomes[i] == RV_OUT_VOTED, "unvoted ballot %zu counted", i);
            FZ_CHECK(cd.decisions[i] == RV_DEC_NONE || cd.outcomes[i] == RV_OUT_VOTED, "unvoted ballot %zu decided", i);
            FZ_CHECK(rv_decision_name(cd.decisions[i]) || cd.decisions[i] == RV_DEC_NONE, "ballot %zu decision", i);
        }
        rv_case_decided_free(&cd);
    }

    rv_case_finalized cf;
    if (rv_case_finalized_parse(p, &cf, err, sizeof err) == 0) {
        FZ_CHECK(sg_is_opaque_id(cf.case_id), "finalized case_id");
        FZ_CHECK(!cf.audit || cf.expected_verdict != RV_DEC_NONE, "audit without expected_verdict");
        FZ_CHECK(cf.audit || cf.expected_verdict == RV_DEC_NONE, "expected_verdict outside an audit");
        FZ_CHECK(!cf.appeal_case_id || sg_is_opaque_id(cf.appeal_case_id), "appeal_case_id");
    }

    const char *user_id;
    long week;
    if (rv_activity_item_parse(p, 0, FUZZ_NOW, &user_id, &week, err, sizeof err) == 0) {
        FZ_CHECK(sg_is_opaque_id(user_id), "user_id");
        FZ_CHECK(sg_week_of_day(week) == week, "week %ld is not a Monday", week);
    }
}

static void fuzz_reward(const json_t *p)
{
    char err[256] = "";
    rw_decision d;
    int rc = rw_decision_parse(p, &d, err, sizeof err);
    FZ_CHECK(rc == 0 || rc == -1 || rc == -2, "rc=%d", rc);
    if (rc)
        return;
    FZ_CHECK(sg_is_opaque_id(d.case_id), "case_id");
    FZ_CHECK(sg_is_report_type(d.report_type), "report_type");
    FZ_CHECK(!d.occurred_at || sg_is_rfc3339(d.occurred_at), "occurred_at");
    FZ_CHECK(d.verdict == RW_VERDICT_NONE || d.verdict == RW_VERDICT_VIOLATION ||
                 d.verdict == RW_VERDICT_NO_VIOLATION, "verdict");
    const json_t *r = json_object_get(p, "reporter_ids"), *b = json_object_get(p, "ballots");
    FZ_CHECK(d.nreporters == (json_is_array(r) ? json_array_size(r) : 0), "nreporters");
    FZ_CHECK(d.nballots == (json_is_array(b) ? json_array_size(b) : 0), "nballots");
    for (size_t i = 0; i < d.nreporters; i++)
        FZ_CHECK(sg_is_opaque_id(d.reporter_ids[i]), "reporter %zu", i);
    for (size_t i = 0; i < d.nballots; i++) {
        FZ_CHECK(sg_is_opaque_id(d.ballots[i].reviewer_id), "ballot %zu", i);
        FZ_CHECK(d.ballots[i].voted == 0 || d.ballots[i].voted == 1, "voted");
        FZ_CHECK(d.ballots[i].with_majority == 0 || d.ballots[i].with_majority == 1, "with_majority");
        FZ_CHECK(d.ballots[i].voted ? d.ballots[i].decision != RW_VERDICT_NONE || d.verdict == RW_VERDICT_NONE
                                    : d.ballots[i].decision == RW_VERDICT_NONE, "decision of ballot %zu", i);
    }
    FZ_CHECK(!d.opened_at || sg_is_rfc3339(d.opened_at), "opened_at");
    /* Settlement: every stage, both final verdicts; decision and finality
     * never pay the same (user, kind). */
    static const rw_rule rule = {.vote_reward = 10, .majority_bonus = 5, .reporter_reward = 20,
                                 .daily_cap_per_user = 100};
    for (int f = RW_VERDICT_VIOLATION; f <= RW_VERDICT_NO_VIOLATION; f++) {
        rw_final fin = {(rw_verdict)f, (rw_verdict)f};
        rw_grant *votes = NULL, *settle = NULL, *both = NULL;
        size_t nv = 0, ns = 0, nb = 0;
        if (rw_compute(&rule, &d, RW_DUE_VOTES, NULL, &votes, &nv) == 0 &&
            rw_compute(&rule, &d, RW_DUE_SETTLEMENT, &fin, &settle, &ns) == 0 &&
            rw_compute(&rule, &d, RW_DUE_VOTES | RW_DUE_SETTLEMENT, &fin, &both, &nb) == 0) {
            FZ_CHECK(nb == nv + ns, "stages overlap: %zu + %zu != %zu", nv, ns, nb);
            for (size_t i = 1; i < nb; i++) {
                int c = strcmp(both[i - 1].user_id, both[i].user_id);
                FZ_CHECK(c < 0 || (c == 0 && both[i - 1].kind < both[i].kind), "order or duplicate at %zu", i);
            }
        }
        free(votes);
        free(settle);
        free(both);
    }
    rw_decision_free(&d);
}

static void fuzz_report(const json_t *p)
{
    char err[256] = "";
    rp_panel_assigned ev;
    if (rp_panel_assigned_decode(p, &ev, err, sizeof err) != 0) {
        FZ_CHECK(err[0] != '\0', "no message");
        return;
    }
    FZ_CHECK(sg_is_uuid(ev.case_id), "case_id");
    FZ_CHECK(ev.round >= 1 && ev.round <= RP_PANEL_MAX_ROUND, "round %d", ev.round);
    FZ_CHECK(ev.shortfall >= 0 && ev.shortfall <= RP_PANEL_MAX_IDS, "shortfall %d", ev.shortfall);
    FZ_CHECK(json_is_array(ev.reviewer_ids) && json_array_size(ev.reviewer_ids) <= RP_PANEL_MAX_IDS, "ids");
    for (size_t i = 0; i < json_array_size(ev.reviewer_ids); i++)
        FZ_CHECK(sg_is_opaque_id(json_string_value(json_array_get(ev.reviewer_ids, i))), "reviewer_ids[%zu]", i);
}

static void fuzz_reward_finalized(const json_t *p)
{
    char err[256] = "";
    rw_finalization fz;
    if (rw_finalization_parse(p, &fz, err, sizeof err) == 0) {
        FZ_CHECK(sg_is_opaque_id(fz.case_id), "finalized case_id");
        FZ_CHECK(fz.final_verdict == RW_VERDICT_VIOLATION || fz.final_verdict == RW_VERDICT_NO_VIOLATION,
                 "final_verdict");
        FZ_CHECK(fz.bonus_verdict == RW_VERDICT_VIOLATION || fz.bonus_verdict == RW_VERDICT_NO_VIOLATION,
                 "bonus_verdict");
        FZ_CHECK(!fz.appeal_case_id || sg_is_opaque_id(fz.appeal_case_id), "appeal_case_id");
        FZ_CHECK(!fz.occurred_at || sg_is_rfc3339(fz.occurred_at), "finalized occurred_at");
    }
}

static void fuzz_report_status(const json_t *p)
{
    char err[160] = "";
    rp_reviewer_status_changed st;
    if (rp_reviewer_status_decode(p, &st, err, sizeof err) != 0) {
        FZ_CHECK(err[0] != '\0', "no message");
        return;
    }
    FZ_CHECK(sg_is_opaque_id(st.user_id), "user_id");
    FZ_CHECK(st.status && st.status[0] && strlen(st.status) <= 32, "status");
    FZ_CHECK(st.kind == RP_REVIEWER_OTHER || st.kind == RP_REVIEWER_SUSPENDED || st.kind == RP_REVIEWER_RETIRED,
             "kind %d", (int)st.kind);
    FZ_CHECK((st.kind == RP_REVIEWER_SUSPENDED) == !strcmp(st.status, "suspended"), "suspended");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t e;
    json_t *p = json_loadb((const char *)data, size, 0, &e);
    if (json_is_object(p)) {
        json_t *copy = json_deep_copy(p);
        FZ_CHECK(copy != NULL, "deep copy");
        fuzz_reviewer(p);
        fuzz_reward(p);
        fuzz_report(p);
        fuzz_reward_finalized(p);
        fuzz_report_status(p);
        FZ_CHECK(json_equal(p, copy), "a parser modified the payload");
        json_decref(copy);
    }
    json_decref(p);
    return 0;
}
