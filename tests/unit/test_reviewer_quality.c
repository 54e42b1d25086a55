/* Accuracy smoothing, the quality policy, and outcome bookkeeping. */
#include <criterion/criterion.h>

#include "../../services/reviewer/quality.h"

Test(quality, reliability_is_laplace_smoothed_accuracy)
{
    double a;
    cr_assert_float_eq(rv_reliability(0, 0), 0.5, 1e-12, "a newcomer weighs 1/2");
    cr_assert_float_eq(rv_reliability(1, 0), 1.0 / 3, 1e-12);
    cr_assert_float_eq(rv_reliability(1, 1), 2.0 / 3, 1e-12);
    cr_assert_float_eq(rv_reliability(10, 0), 1.0 / 12, 1e-12, "never zero");
    cr_assert_float_eq(rv_reliability(10, 10), 11.0 / 12, 1e-12, "never one");
    cr_assert_float_eq(rv_reliability(98, 49), 0.5, 1e-12);
    cr_assert_eq(rv_accuracy(0, 0, &a), -1, "raw accuracy undefined without decided votes");
    cr_assert_eq(rv_accuracy(4, 3, &a), 0);
    cr_assert_float_eq(a, 0.75, 1e-12);
}

static rv_quality_policy policy(void)
{
    return (rv_quality_policy){1, 20, 0.6, 0.5, 30};
}

Test(quality, accuracy_below_minimum_after_enough_votes)
{
    rv_quality_policy p = policy();
    rv_quality_counts c = {20, 0, 20, 11}; /* 0.55 */
    cr_assert_eq(rv_quality_check(&p, &c), RV_Q_ACCURACY);
    c.with_majority = 12; /* 0.60: not below */
    cr_assert_eq(rv_quality_check(&p, &c), RV_Q_OK);
    c = (rv_quality_counts){19, 0, 19, 0}; /* all wrong but too few */
    cr_assert_eq(rv_quality_check(&p, &c), RV_Q_OK);
}

Test(quality, no_show_rate_above_maximum_after_enough_ballots)
{
    rv_quality_policy p = policy();
    rv_quality_counts c = {9, 11, 9, 9}; /* 11/20 = 0.55 > 0.5 */
    cr_assert_eq(rv_quality_check(&p, &c), RV_Q_NO_SHOW);
    c = (rv_quality_counts){10, 10, 10, 10}; /* 0.5: not above */
    cr_assert_eq(rv_quality_check(&p, &c), RV_Q_OK);
    c = (rv_quality_counts){0, 19, 0, 0}; /* 19 no-shows but only 19 ballots */
    cr_assert_eq(rv_quality_check(&p, &c), RV_Q_OK);
}

Test(quality, outcome_parse)
{
    rv_outcome o;
    cr_assert_eq(rv_outcome_parse("voted", &o), 0);
    cr_assert_eq(o, RV_OUT_VOTED);
    cr_assert_eq(rv_outcome_parse("cancelled", &o), 0);
    cr_assert_eq(o, RV_OUT_CANCELLED);
    cr_assert_neq(rv_outcome_parse("open", &o), 0);
    cr_assert_neq(rv_outcome_parse(NULL, &o), 0);
    cr_assert_str_eq(rv_outcome_name(RV_OUT_EXPIRED), "expired");
    cr_assert_null(rv_outcome_name(RV_OUT_NONE));
}

static rv_counter_delta step(rv_ballot_state *s, rv_outcome o, int wm)
{
    rv_ballot_state n;
    rv_counter_delta d;
    rv_ballot_merge(s, o, wm, &n);
    rv_outcome_delta(s, &n, &d);
    *s = n;
    return d;
}

Test(quality, ballot_closed_then_case_decided_counts_once)
{
    rv_ballot_state s = {RV_OUT_NONE, -1, 1};
    rv_counter_delta d = step(&s, RV_OUT_VOTED, -1); /* sg.ballot.closed voted */
    cr_assert_eq(d.voted, 1);
    cr_assert_eq(d.release, 1);
    cr_assert_eq(d.decided, 0);
    d = step(&s, RV_OUT_VOTED, 1); /* sg.case.decided: with the majority */
    cr_assert_eq(d.voted, 0, "not counted twice");
    cr_assert_eq(d.release, 0, "released once");
    cr_assert_eq(d.decided, 1);
    cr_assert_eq(d.with_majority, 1);
    d = step(&s, RV_OUT_VOTED, 1); /* the same decision again */
    cr_assert(!d.voted && !d.decided && !d.with_majority && !d.release);
}

Test(quality, expiry_counts_a_no_show_and_starts_cooldown_once)
{
    rv_ballot_state s = {RV_OUT_NONE, -1, 1};
    rv_counter_delta d = step(&s, RV_OUT_EXPIRED, -1);
    cr_assert_eq(d.expired, 1);
    cr_assert_eq(d.newly_expired, 1);
    cr_assert_eq(d.release, 1);
    d = step(&s, RV_OUT_EXPIRED, -1);
    cr_assert_eq(d.expired, 0);
    cr_assert_eq(d.newly_expired, 0);
    cr_assert_eq(d.release, 0);
}

Test(quality, with_majority_only_counts_for_voted_ballots)
{
    rv_ballot_state s = {RV_OUT_NONE, -1, 1};
    rv_counter_delta d = step(&s, RV_OUT_DECLINED, 1);
    cr_assert_eq(d.declined, 1);
    cr_assert_eq(d.decided, 0);
    cr_assert_eq(d.with_majority, 0);
    cr_assert_eq(s.with_majority, -1);
}

Test(quality, cancelled_only_releases)
{
    rv_ballot_state s = {RV_OUT_NONE, -1, 1};
    rv_counter_delta d = step(&s, RV_OUT_CANCELLED, -1);
    cr_assert_eq(d.release, 1);
    cr_assert(!d.voted && !d.expired && !d.declined && !d.decided && !d.with_majority && !d.newly_expired);
}

Test(quality, corrected_majority_moves_counts_back)
{
    rv_ballot_state s = {RV_OUT_VOTED, 1, 0};
    rv_counter_delta d = step(&s, RV_OUT_VOTED, 0);
    cr_assert_eq(d.decided, 0);
    cr_assert_eq(d.with_majority, -1);
}
