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

Test(quality, decision_parse)
{
    rv_decision d;
    cr_assert_eq(rv_decision_parse("violation", &d), 0);
    cr_assert_eq(d, RV_DEC_VIOLATION);
    cr_assert_eq(rv_decision_parse("no_violation", &d), 0);
    cr_assert_eq(d, RV_DEC_NO_VIOLATION);
    cr_assert_eq(rv_decision_parse(NULL, &d), 0);
    cr_assert_eq(d, RV_DEC_NONE);
    cr_assert_neq(rv_decision_parse("Violation", &d), 0);
    cr_assert_str_eq(rv_decision_name(RV_DEC_NO_VIOLATION), "no_violation");
    cr_assert_null(rv_decision_name(RV_DEC_NONE));
}

/* Every combination of decided verdict, final verdict and decision. */
Test(quality, final_mark)
{
    const rv_decision V = RV_DEC_VIOLATION, N = RV_DEC_NO_VIOLATION, X = RV_DEC_NONE;
    /* Upheld (or not final yet): the reported mark stands. */
    cr_assert_eq(rv_final_mark(V, V, V, 1), 1);
    cr_assert_eq(rv_final_mark(N, V, V, 0), 0);
    cr_assert_eq(rv_final_mark(V, V, X, 1), 1);
    cr_assert_eq(rv_final_mark(N, V, X, -1), -1);
    /* Overturned: the mark is whether the juror decided the final verdict. */
    cr_assert_eq(rv_final_mark(V, V, N, 1), 0);
    cr_assert_eq(rv_final_mark(N, V, N, 0), 1);
    cr_assert_eq(rv_final_mark(N, N, V, 1), 0);
    cr_assert_eq(rv_final_mark(V, N, V, 0), 1);
    cr_assert_eq(rv_final_mark(V, N, V, -1), 1, "an unknown report is settled too");
    /* No decision known: nothing to measure. */
    cr_assert_eq(rv_final_mark(X, V, N, 1), 1);
}

/* sg.case.decided then an overturning sg.case.finalized: the corrected mark
 * moves the counters back and forth exactly once. */
Test(quality, overturned_mark_corrects_counters_once)
{
    rv_ballot_state s = {RV_OUT_NONE, -1, 1, RV_GOLD_NONE};
    rv_counter_delta d = step(&s, RV_OUT_VOTED, rv_final_mark(RV_DEC_VIOLATION, RV_DEC_VIOLATION, RV_DEC_NONE, 1));
    cr_assert_eq(d.decided, 1);
    cr_assert_eq(d.with_majority, 1);
    d = step(&s, RV_OUT_NONE, rv_final_mark(RV_DEC_VIOLATION, RV_DEC_VIOLATION, RV_DEC_NO_VIOLATION, -1));
    cr_assert_eq(d.decided, 0);
    cr_assert_eq(d.with_majority, -1, "the majority moved away");
    cr_assert_eq(s.outcome, RV_OUT_VOTED, "the outcome stays");
    d = step(&s, RV_OUT_NONE, rv_final_mark(RV_DEC_VIOLATION, RV_DEC_VIOLATION, RV_DEC_NO_VIOLATION, -1));
    cr_assert(!d.decided && !d.with_majority && !d.voted, "a redelivery changes nothing");
}

Test(quality, gold_marks_count_once_and_only_for_voted_ballots)
{
    rv_ballot_state s = {RV_OUT_VOTED, 1, 0, RV_GOLD_NONE}, n;
    rv_counter_delta d;
    cr_assert_eq(rv_gold_mark(RV_OUT_VOTED, RV_DEC_VIOLATION, RV_DEC_VIOLATION), RV_GOLD_HIT);
    cr_assert_eq(rv_gold_mark(RV_OUT_VOTED, RV_DEC_NO_VIOLATION, RV_DEC_VIOLATION), RV_GOLD_MISS);
    cr_assert_eq(rv_gold_mark(RV_OUT_EXPIRED, RV_DEC_NONE, RV_DEC_VIOLATION), RV_GOLD_NONE);
    cr_assert_eq(rv_gold_mark(RV_OUT_VOTED, RV_DEC_VIOLATION, RV_DEC_NONE), RV_GOLD_NONE);
    rv_ballot_merge(&s, RV_OUT_NONE, -1, &n);
    rv_ballot_set_gold(&n, RV_GOLD_MISS);
    rv_outcome_delta(&s, &n, &d);
    cr_assert_eq(d.gold_votes, 1);
    cr_assert_eq(d.gold_hits, 0);
    s = n;
    rv_ballot_merge(&s, RV_OUT_NONE, -1, &n);
    rv_ballot_set_gold(&n, RV_GOLD_MISS);
    rv_outcome_delta(&s, &n, &d);
    cr_assert(!d.gold_votes && !d.gold_hits, "counted once");
    rv_ballot_set_gold(&n, RV_GOLD_NONE);
    cr_assert_eq(n.gold, RV_GOLD_MISS, "unknown keeps the mark");
    s = (rv_ballot_state){RV_OUT_NONE, -1, 1, RV_GOLD_NONE};
    rv_ballot_merge(&s, RV_OUT_EXPIRED, -1, &n);
    rv_ballot_set_gold(&n, RV_GOLD_HIT);
    cr_assert_eq(n.gold, RV_GOLD_NONE, "no gold without a vote");
}

Test(quality, gold_accuracy_below_minimum_after_enough_gold_votes)
{
    rv_quality_policy p = policy();
    rv_quality_counts c = {10, 0, 10, 10, 5, 3}; /* 0.6 < 0.7 */
    p.min_gold_votes = 5;
    p.min_gold_accuracy = 0.7;
    cr_assert_eq(rv_quality_check(&p, &c), RV_Q_GOLD);
    c.gold_hits = 4; /* 0.8 */
    cr_assert_eq(rv_quality_check(&p, &c), RV_Q_OK);
    c = (rv_quality_counts){4, 0, 4, 4, 4, 0}; /* all wrong but too few */
    cr_assert_eq(rv_quality_check(&p, &c), RV_Q_OK);
}

Test(quality, pair_baseline_and_flag)
{
    cr_assert_float_eq(rv_majority_rate(0, 0), 0.5, 1e-12, "unknown: a coin");
    cr_assert_float_eq(rv_majority_rate(8, 4), 0.5, 1e-12);
    cr_assert_float_eq(rv_pair_baseline(1.0, 1.0), 1.0, 1e-12, "two always-right jurors always agree");
    cr_assert_float_eq(rv_pair_baseline(0.5, 0.5), 0.5, 1e-12);
    cr_assert_float_eq(rv_pair_baseline(0.9, 0.8), 0.9 * 0.8 + 0.1 * 0.2, 1e-12);
    cr_assert_float_eq(rv_pair_baseline(1.0, 0.0), 0.0, 1e-12);
    /* Always agreeing at a 0.5 baseline: flagged; at their baseline: not. */
    cr_assert_eq(rv_pair_flagged(8, 8, 0.5, 0.25), 1);
    cr_assert_eq(rv_pair_flagged(8, 4, 0.5, 0.25), 0);
    cr_assert_eq(rv_pair_flagged(8, 6, 0.5, 0.25), 1, "exactly at the margin");
    cr_assert_eq(rv_pair_flagged(4, 4, 0.0, 0.25), 0, "fewer than 5 cases");
    cr_assert_eq(rv_pair_flagged(20, 20, 1.0, 0.25), 0, "agreeing like their majority rates predict");
}
