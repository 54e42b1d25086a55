/* Settlement at finality (API.md "Reward service", v2; grant.h): every
 * combination of first verdict, final verdict (no appeal, appeal confirms,
 * appeal overturns) and how each of three jurors voted (violation,
 * no_violation, did not vote), with two reporters: who is paid what at
 * decision, what is held as pending, what finality pays, and that the
 * decision and the settlement together pay every (user, kind) at most once —
 * also when the finalization comes first and both stages are paid at once. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../../services/reward/grant.h"

static const rw_rule rule = {.vote_reward = 10, .majority_bonus = 5, .reporter_reward = 20,
                             .daily_cap_per_user = 1000};

enum { VOTE_V, VOTE_NV, NO_VOTE };
#define JURORS 3

static const char *jurors[JURORS] = {"j0", "j1", "j2"};
static const char *reporters[] = {"rep0", "rep1"};

static const char *verdict_str(rw_verdict v)
{
    return v == RW_VERDICT_VIOLATION ? "violation" : "no_violation";
}

/* The sg.case.decided payload of a case decided `first` with these votes. */
static json_t *payload(rw_verdict first, const int votes[JURORS])
{
    json_t *ballots = json_array();
    for (int i = 0; i < JURORS; i++) {
        if (votes[i] == NO_VOTE) {
            json_array_append_new(ballots, json_pack("{s:s, s:s, s:n, s:n}", "reviewer_id", jurors[i], "outcome",
                                                     "expired", "decision", "with_majority"));
            continue;
        }
        rw_verdict v = votes[i] == VOTE_V ? RW_VERDICT_VIOLATION : RW_VERDICT_NO_VIOLATION;
        json_array_append_new(ballots, json_pack("{s:s, s:s, s:s, s:b}", "reviewer_id", jurors[i], "outcome", "voted",
                                                 "decision", verdict_str(v), "with_majority", v == first));
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:[s,s], s:o}", "case_id", "c-1", "report_type", "comment", "verdict",
                     verdict_str(first), "opened_at", "2026-11-22T10:00:00Z", "reporter_ids", reporters[0],
                     reporters[1], "ballots", ballots);
}

/* Amount of (user, kind) in g[0..n): -1 when absent; fails on a duplicate. */
static long long amount_of(const rw_grant *g, size_t n, const char *user, rw_kind k)
{
    long long found = -1;
    for (size_t i = 0; i < n; i++)
        if (strcmp(g[i].user_id, user) == 0 && g[i].kind == k) {
            cr_assert_eq(found, -1, "%s %s granted twice in one stage", user, rw_kind_name(k));
            found = g[i].amount;
        }
    return found;
}

static size_t stage(const rw_decision *d, unsigned what, const rw_final *fin, rw_grant **g)
{
    size_t n = 0;
    cr_assert_eq(rw_compute(&rule, d, what, fin, g, &n), 0);
    for (size_t i = 1; i < n; i++) {
        int c = strcmp((*g)[i - 1].user_id, (*g)[i].user_id);
        cr_assert(c < 0 || (c == 0 && (*g)[i - 1].kind < (*g)[i].kind), "sorted by user then kind, no duplicate");
    }
    return n;
}

/* Checks one scenario completely. */
static void check(rw_verdict first, rw_verdict final, const int votes[JURORS], const char *what)
{
    char err[256];
    rw_decision d;
    json_t *p = payload(first, votes);
    cr_assert_eq(rw_decision_parse(p, &d, err, sizeof err), 0, "%s", err);
    rw_final stands = {first, first}, fin = {final, final};
    rw_grant *dec, *pend, *set, *set2, *both;
    size_t nd = stage(&d, RW_DUE_VOTES, NULL, &dec);
    size_t np = stage(&d, RW_DUE_SETTLEMENT, &stands, &pend);
    size_t ns = stage(&d, RW_DUE_SETTLEMENT, &fin, &set);
    size_t ns2 = stage(&d, RW_DUE_SETTLEMENT, &fin, &set2);
    size_t nb = stage(&d, RW_DUE_VOTES | RW_DUE_SETTLEMENT, &fin, &both);
    size_t want_d = 0, want_p = 0, want_s = 0;

    for (int i = 0; i < JURORS; i++) {
        const char *j = jurors[i];
        int voted = votes[i] != NO_VOTE;
        rw_verdict v = votes[i] == VOTE_V ? RW_VERDICT_VIOLATION : RW_VERDICT_NO_VIOLATION;
        /* Decision: the vote reward, to every juror who voted, whatever they voted. */
        cr_assert_eq(amount_of(dec, nd, j, RW_KIND_VOTE), voted ? 10 : -1, "%s: %s vote reward", what, j);
        cr_assert_eq(amount_of(dec, nd, j, RW_KIND_MAJORITY_BONUS), -1, "%s: no bonus at decision", what);
        /* Pending: the bonus by the first verdict. */
        cr_assert_eq(amount_of(pend, np, j, RW_KIND_MAJORITY_BONUS), voted && v == first ? 5 : -1,
                     "%s: %s pending bonus", what, j);
        cr_assert_eq(amount_of(pend, np, j, RW_KIND_VOTE), -1, "%s: the vote is never pending", what);
        /* Finality: the bonus by the final verdict, to this case's jurors. */
        cr_assert_eq(amount_of(set, ns, j, RW_KIND_MAJORITY_BONUS), voted && v == final ? 5 : -1,
                     "%s: %s bonus at finality", what, j);
        cr_assert_eq(amount_of(set, ns, j, RW_KIND_VOTE), -1, "%s: the vote is paid once, at decision", what);
        /* Both stages at once (finalization first): the same, once each. */
        cr_assert_eq(amount_of(both, nb, j, RW_KIND_VOTE), voted ? 10 : -1, "%s: %s vote, both stages", what, j);
        cr_assert_eq(amount_of(both, nb, j, RW_KIND_MAJORITY_BONUS), voted && v == final ? 5 : -1,
                     "%s: %s bonus, both stages", what, j);
        cr_assert_eq(amount_of(both, nb, j, RW_KIND_REPORTER), -1, "%s: a juror here is no reporter", what);
        want_d += voted;
        want_p += voted && v == first;
        want_s += voted && v == final;
    }
    for (size_t i = 0; i < 2; i++) {
        const char *r = reporters[i];
        cr_assert_eq(amount_of(dec, nd, r, RW_KIND_REPORTER), -1, "%s: reporters wait for finality", what);
        cr_assert_eq(amount_of(pend, np, r, RW_KIND_REPORTER), first == RW_VERDICT_VIOLATION ? 20 : -1,
                     "%s: %s pending", what, r);
        cr_assert_eq(amount_of(set, ns, r, RW_KIND_REPORTER), final == RW_VERDICT_VIOLATION ? 20 : -1,
                     "%s: %s paid only when the final verdict is violation", what, r);
        cr_assert_eq(amount_of(both, nb, r, RW_KIND_REPORTER), final == RW_VERDICT_VIOLATION ? 20 : -1,
                     "%s: %s, both stages", what, r);
    }
    want_p += first == RW_VERDICT_VIOLATION ? 2 : 0;
    want_s += final == RW_VERDICT_VIOLATION ? 2 : 0;
    cr_assert_eq(nd, want_d, "%s: grants at decision", what);
    cr_assert_eq(np, want_p, "%s: pending grants", what);
    cr_assert_eq(ns, want_s, "%s: grants at finality", what);
    cr_assert_eq(nb, nd + ns, "%s: decision and finality pay disjoint (user, kind)s", what);
    /* The settlement is a function of its inputs: computed again, the same. */
    cr_assert_eq(ns2, ns);
    for (size_t i = 0; i < ns; i++)
        cr_assert(strcmp(set[i].user_id, set2[i].user_id) == 0 && set[i].kind == set2[i].kind &&
                  set[i].amount == set2[i].amount);
    free(dec);
    free(pend);
    free(set);
    free(set2);
    free(both);
    rw_decision_free(&d);
    json_decref(p);
}

Test(rw_settle, every_first_and_final_verdict_and_every_vote)
{
    const rw_verdict verdicts[] = {RW_VERDICT_VIOLATION, RW_VERDICT_NO_VIOLATION};
    const char *how[2][2] = {{"no appeal or appeal confirms violation", "appeal overturns violation"},
                             {"appeal overturns no_violation", "no appeal or appeal confirms no_violation"}};
    int scenarios = 0;
    for (int f = 0; f < 2; f++)
        for (int g = 0; g < 2; g++)
            for (int code = 0; code < 27; code++) {
                int votes[JURORS] = {code % 3, code / 3 % 3, code / 9};
                char what[160];
                snprintf(what, sizeof what, "%s, votes %d%d%d", how[f][g], votes[0], votes[1], votes[2]);
                check(verdicts[f], verdicts[g], votes, what);
                scenarios++;
            }
    cr_assert_eq(scenarios, 108);
}

Test(rw_settle, overturned_violation_moves_the_bonus_and_pays_no_reporter)
{
    /* j0, j1 voted violation (the first verdict), j2 no_violation; the
     * appeal finds no violation: only j2 gets the bonus, reporters nothing. */
    int votes[JURORS] = {VOTE_V, VOTE_V, VOTE_NV};
    char err[256];
    rw_decision d;
    json_t *p = payload(RW_VERDICT_VIOLATION, votes);
    cr_assert_eq(rw_decision_parse(p, &d, err, sizeof err), 0, "%s", err);
    rw_final fin = {RW_VERDICT_NO_VIOLATION, RW_VERDICT_NO_VIOLATION};
    rw_grant *g;
    size_t n = stage(&d, RW_DUE_SETTLEMENT, &fin, &g);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(g[0].user_id, "j2");
    cr_assert_eq(g[0].kind, RW_KIND_MAJORITY_BONUS);
    cr_assert_eq(g[0].amount, 5);
    free(g);
    rw_decision_free(&d);
    json_decref(p);
}

Test(rw_settle, audit_case_bonus_follows_the_expected_verdict)
{
    int votes[JURORS] = {VOTE_V, VOTE_V, VOTE_NV};
    char err[256];
    rw_decision d;
    json_t *p = payload(RW_VERDICT_VIOLATION, votes);
    cr_assert_eq(rw_decision_parse(p, &d, err, sizeof err), 0, "%s", err);
    rw_final fin = {RW_VERDICT_VIOLATION, RW_VERDICT_NO_VIOLATION};
    rw_grant *g;
    size_t n = stage(&d, RW_DUE_SETTLEMENT, &fin, &g);
    cr_assert_eq(amount_of(g, n, "j2", RW_KIND_MAJORITY_BONUS), 5);
    cr_assert_eq(amount_of(g, n, "j0", RW_KIND_MAJORITY_BONUS), -1);
    cr_assert_eq(amount_of(g, n, "rep0", RW_KIND_REPORTER), 20, "reporters follow the final verdict");
    free(g);
    rw_decision_free(&d);
    json_decref(p);
}

Test(rw_settle, no_final_verdict_settles_nothing)
{
    int votes[JURORS] = {VOTE_V, VOTE_NV, NO_VOTE};
    char err[256];
    rw_decision d;
    json_t *p = payload(RW_VERDICT_VIOLATION, votes);
    cr_assert_eq(rw_decision_parse(p, &d, err, sizeof err), 0, "%s", err);
    rw_grant *g;
    cr_assert_eq(stage(&d, RW_DUE_SETTLEMENT, NULL, &g), 0);
    cr_assert_null(g);
    rw_final none = {RW_VERDICT_NONE, RW_VERDICT_NONE};
    cr_assert_eq(stage(&d, RW_DUE_VOTES | RW_DUE_SETTLEMENT, &none, &g), 2, "only the votes");
    free(g);
    rw_decision_free(&d);
    json_decref(p);
}

Test(rw_settle, vote_without_decision_is_read_from_with_majority)
{
    char err[256];
    rw_decision d;
    json_t *p = json_loads("{\"case_id\":\"c\",\"report_type\":\"comment\",\"verdict\":\"violation\",\"ballots\":["
                           "{\"reviewer_id\":\"a\",\"outcome\":\"voted\",\"with_majority\":true},"
                           "{\"reviewer_id\":\"b\",\"outcome\":\"voted\",\"with_majority\":false},"
                           "{\"reviewer_id\":\"c\",\"outcome\":\"expired\"}]}",
                           0, NULL);
    cr_assert_eq(rw_decision_parse(p, &d, err, sizeof err), 0, "%s", err);
    cr_assert_eq(d.ballots[0].decision, RW_VERDICT_VIOLATION);
    cr_assert_eq(d.ballots[1].decision, RW_VERDICT_NO_VIOLATION);
    cr_assert_eq(d.ballots[2].decision, RW_VERDICT_NONE);
    rw_decision_free(&d);
    json_decref(p);
}
