/* Reward computation per rule (issue #5): majority, minority, expired,
 * declined, cancelled, reporters, verdict null, daily cap incl. partial. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../../services/reward/grant.h"

static const rw_rule rule = {.vote_reward = 10, .majority_bonus = 5, .reporter_reward = 20,
                                 .daily_cap_per_user = 200};

/* Parses `json` into a decision, computes every grant of the case when its
 * first verdict stands (decision and finality together); the payload is kept
 * in *keep because the decision borrows from it. */
static size_t compute(const char *json, const rw_rule *r, rw_grant **g, json_t **keep, rw_decision *d)
{
    char err[256];
    size_t n = 0;
    *keep = json_loads(json, 0, NULL);
    cr_assert_not_null(*keep, "bad test JSON: %s", json);
    cr_assert_eq(rw_decision_parse(*keep, d, err, sizeof err), 0, "%s", err);
    rw_final stands = {.final = d->verdict, .bonus = d->verdict};
    cr_assert_eq(rw_compute(r, d, RW_DUE_VOTES | RW_DUE_SETTLEMENT, &stands, g, &n), 0);
    return n;
}

static void release(rw_grant *g, json_t *keep, rw_decision *d)
{
    free(g);
    rw_decision_free(d);
    json_decref(keep);
}

/* Amount granted to user of kind, or -1 when none. */
static long long find(const rw_grant *g, size_t n, const char *user, rw_kind k)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(g[i].user_id, user) == 0 && g[i].kind == k)
            return g[i].amount;
    return -1;
}

#define CASE_HEAD "{\"case_id\":\"c-1\",\"report_type\":\"comment\","

Test(rw_compute, majority_and_minority_voters)
{
    rw_grant *g;
    json_t *keep;
    rw_decision d;
    size_t n = compute(CASE_HEAD "\"verdict\":\"violation\",\"decided_by\":\"panel\",\"reporter_ids\":[],"
                                 "\"ballots\":["
                                 "{\"reviewer_id\":\"r1\",\"outcome\":\"voted\",\"decision\":\"violation\",\"with_majority\":true},"
                                 "{\"reviewer_id\":\"r2\",\"outcome\":\"voted\",\"decision\":\"no_violation\",\"with_majority\":false}]}",
                       &rule, &g, &keep, &d);
    cr_assert_eq(n, 3);
    cr_assert_eq(find(g, n, "r1", RW_KIND_VOTE), 10);
    cr_assert_eq(find(g, n, "r1", RW_KIND_MAJORITY_BONUS), 5);
    cr_assert_eq(find(g, n, "r2", RW_KIND_VOTE), 10, "a minority vote still earns the vote reward");
    cr_assert_eq(find(g, n, "r2", RW_KIND_MAJORITY_BONUS), -1, "no bonus for the minority");
    release(g, keep, &d);
}

Test(rw_compute, expired_declined_cancelled_earn_nothing)
{
    rw_grant *g;
    json_t *keep;
    rw_decision d;
    size_t n = compute(CASE_HEAD "\"verdict\":\"no_violation\",\"reporter_ids\":[\"rep\"],\"ballots\":["
                                 "{\"reviewer_id\":\"e\",\"outcome\":\"expired\",\"decision\":null,\"with_majority\":null},"
                                 "{\"reviewer_id\":\"d\",\"outcome\":\"declined\",\"decision\":null,\"with_majority\":false},"
                                 "{\"reviewer_id\":\"x\",\"outcome\":\"cancelled\",\"decision\":null}]}",
                       &rule, &g, &keep, &d);
    cr_assert_eq(n, 0, "no vote, and no reporter reward for no_violation");
    cr_assert_null(g);
    release(g, keep, &d);
}

Test(rw_compute, reporters_rewarded_only_on_violation)
{
    rw_grant *g;
    json_t *keep;
    rw_decision d;
    size_t n = compute(CASE_HEAD "\"verdict\":\"violation\",\"reporter_ids\":[\"rep1\",\"rep2\"],\"ballots\":[]}", &rule,
                       &g, &keep, &d);
    cr_assert_eq(n, 2);
    cr_assert_eq(find(g, n, "rep1", RW_KIND_REPORTER), 20);
    cr_assert_eq(find(g, n, "rep2", RW_KIND_REPORTER), 20);
    release(g, keep, &d);

    n = compute(CASE_HEAD "\"verdict\":\"no_violation\",\"reporter_ids\":[\"rep1\"],\"ballots\":["
                          "{\"reviewer_id\":\"r1\",\"outcome\":\"voted\",\"decision\":\"no_violation\",\"with_majority\":true}]}",
                &rule, &g, &keep, &d);
    cr_assert_eq(n, 2);
    cr_assert_eq(find(g, n, "rep1", RW_KIND_REPORTER), -1);
    cr_assert_eq(find(g, n, "r1", RW_KIND_MAJORITY_BONUS), 5);
    release(g, keep, &d);
}

Test(rw_compute, null_verdict_grants_nothing)
{
    rw_grant *g;
    json_t *keep;
    rw_decision d;
    size_t n = compute(CASE_HEAD "\"verdict\":null,\"decided_by\":\"deadline\",\"reporter_ids\":[\"rep\"],\"ballots\":["
                                 "{\"reviewer_id\":\"r1\",\"outcome\":\"voted\",\"decision\":\"violation\",\"with_majority\":false}]}",
                       &rule, &g, &keep, &d);
    cr_assert_eq(n, 0, "escalated/cancelled: nothing until a verdict exists");
    release(g, keep, &d);
}

Test(rw_compute, with_majority_falls_back_to_decision_equals_verdict)
{
    rw_grant *g;
    json_t *keep;
    rw_decision d;
    size_t n = compute(CASE_HEAD "\"verdict\":\"violation\",\"ballots\":["
                                 "{\"reviewer_id\":\"a\",\"outcome\":\"voted\",\"decision\":\"violation\"},"
                                 "{\"reviewer_id\":\"b\",\"outcome\":\"voted\",\"decision\":\"no_violation\",\"with_majority\":null}]}",
                       &rule, &g, &keep, &d);
    cr_assert_eq(find(g, n, "a", RW_KIND_MAJORITY_BONUS), 5);
    cr_assert_eq(find(g, n, "b", RW_KIND_MAJORITY_BONUS), -1);
    release(g, keep, &d);
}

Test(rw_compute, zero_amounts_are_no_grant)
{
    rw_rule r = {.vote_reward = 0, .majority_bonus = 7, .reporter_reward = 0, .daily_cap_per_user = 100};
    rw_grant *g;
    json_t *keep;
    rw_decision d;
    size_t n = compute(CASE_HEAD "\"verdict\":\"violation\",\"reporter_ids\":[\"rep\"],\"ballots\":["
                                 "{\"reviewer_id\":\"a\",\"outcome\":\"voted\",\"decision\":\"violation\",\"with_majority\":true}]}",
                       &r, &g, &keep, &d);
    cr_assert_eq(n, 1);
    cr_assert_eq(g[0].kind, RW_KIND_MAJORITY_BONUS);
    cr_assert_eq(g[0].amount, 7);
    release(g, keep, &d);
}

Test(rw_compute, sorted_by_user_then_kind_and_deduplicated)
{
    rw_grant *g;
    json_t *keep;
    rw_decision d;
    size_t n = compute(CASE_HEAD "\"verdict\":\"violation\",\"reporter_ids\":[\"zed\",\"amy\",\"zed\"],\"ballots\":["
                                 "{\"reviewer_id\":\"mia\",\"outcome\":\"voted\",\"decision\":\"violation\",\"with_majority\":true},"
                                 "{\"reviewer_id\":\"bob\",\"outcome\":\"voted\",\"decision\":\"violation\",\"with_majority\":true},"
                                 "{\"reviewer_id\":\"mia\",\"outcome\":\"voted\",\"decision\":\"violation\",\"with_majority\":true}]}",
                       &rule, &g, &keep, &d);
    const char *users[] = {"amy", "bob", "bob", "mia", "mia", "zed"};
    rw_kind kinds[] = {RW_KIND_REPORTER, RW_KIND_VOTE, RW_KIND_MAJORITY_BONUS,
                           RW_KIND_VOTE, RW_KIND_MAJORITY_BONUS, RW_KIND_REPORTER};
    cr_assert_eq(n, 6);
    for (size_t i = 0; i < n; i++) {
        cr_assert_str_eq(g[i].user_id, users[i]);
        cr_assert_eq(g[i].kind, kinds[i]);
    }
    release(g, keep, &d);
}

Test(rw_compute, kind_names)
{
    cr_assert_str_eq(rw_kind_name(RW_KIND_VOTE), "vote");
    cr_assert_str_eq(rw_kind_name(RW_KIND_MAJORITY_BONUS), "majority_bonus");
    cr_assert_str_eq(rw_kind_name(RW_KIND_REPORTER), "reporter");
}

/* ---- daily cap ---- */

Test(rw_cap, under_the_cap_pays_in_full)
{
    cr_assert_eq(rw_cap_pay(200, 0, 10), 10);
    cr_assert_eq(rw_cap_pay(200, 190, 10), 10, "exactly reaching the cap is still full");
}

Test(rw_cap, crossing_the_cap_pays_partially)
{
    cr_assert_eq(rw_cap_pay(200, 195, 10), 5);
    cr_assert_eq(rw_cap_pay(25, 0, 30), 25);
}

Test(rw_cap, at_or_past_the_cap_pays_nothing)
{
    cr_assert_eq(rw_cap_pay(200, 200, 10), 0);
    cr_assert_eq(rw_cap_pay(200, 250, 10), 0, "a lowered cap pays nothing more, never negative");
    cr_assert_eq(rw_cap_pay(0, 0, 10), 0, "cap 0 pays nothing");
}

Test(rw_cap, nothing_due_nothing_paid)
{
    cr_assert_eq(rw_cap_pay(200, 0, 0), 0);
    cr_assert_eq(rw_cap_pay(200, 0, -5), 0);
}

Test(rw_cap, sequence_of_grants_in_one_day)
{
    /* vote 10 + bonus 5 per case under cap 32: 15, 15, then 2 of 10 and 0 of 5. */
    long long paid = 0, got[6];
    long long due[6] = {10, 5, 10, 5, 10, 5};
    for (int i = 0; i < 6; i++) {
        got[i] = rw_cap_pay(32, paid, due[i]);
        paid += got[i];
    }
    long long want[6] = {10, 5, 10, 5, 2, 0};
    for (int i = 0; i < 6; i++)
        cr_assert_eq(got[i], want[i], "grant %d: got %lld want %lld", i, got[i], want[i]);
    cr_assert_eq(paid, 32);
}

Test(rw_cap, one_case_consumes_the_cap_grant_by_grant_per_user)
{
    /* a: vote 10, majority_bonus 5, reporter 20 with 15 paid today under cap
     * 40: 10, 5, then 10 of 20. b: at the cap already. c: fresh, in full. */
    const char *users[] = {"a", "a", "a", "b", "b", "c"};
    long long due[] = {10, 5, 20, 10, 5, 10};
    long long today[] = {15, 40, 0}, paid[6];
    rw_cap_pay_all(40, users, due, 6, today, paid);
    long long want[] = {10, 5, 10, 0, 0, 10};
    for (int i = 0; i < 6; i++)
        cr_assert_eq(paid[i], want[i], "grant %d: got %lld want %lld", i, paid[i], want[i]);
    cr_assert_eq(today[0], 40);
    cr_assert_eq(today[1], 40, "nothing paid past the cap");
    cr_assert_eq(today[2], 10);
}

Test(rw_cap, batch_equals_one_grant_at_a_time)
{
    /* Same result as the sequence of rw_cap_pay calls it replaces, for
     * every cap and starting point over a user's three grants. */
    const char *users[] = {"u", "u", "u"};
    long long due[] = {7, 3, 11};
    for (long long cap = 0; cap <= 25; cap++)
        for (long long start = 0; start <= 30; start++) {
            long long today = start, paid[3], seq = start;
            rw_cap_pay_all(cap, users, due, 3, &today, paid);
            for (int i = 0; i < 3; i++) {
                long long one = rw_cap_pay(cap, seq, due[i]);
                cr_assert_eq(paid[i], one, "cap %lld start %lld grant %d", cap, start, i);
                seq += one;
            }
            cr_assert_eq(today, seq);
        }
}
