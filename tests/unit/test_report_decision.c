/* The decision rule of a case: early decision, deadline outcome, panel
 * seats after declines and expiries, substitute rounds, majority flags and
 * callback backoff. */
#include <criterion/criterion.h>
#include "../../services/report/decision.h"

Test(decision, three_of_five_decides_on_the_third_agreeing_vote)
{
    cr_assert_eq(rp_decide_by_panel(0, 0, 3), RP_VERDICT_NONE);
    cr_assert_eq(rp_decide_by_panel(2, 0, 3), RP_VERDICT_NONE);
    cr_assert_eq(rp_decide_by_panel(2, 2, 3), RP_VERDICT_NONE);
    cr_assert_eq(rp_decide_by_panel(3, 0, 3), RP_VERDICT_VIOLATION);
    cr_assert_eq(rp_decide_by_panel(3, 2, 3), RP_VERDICT_VIOLATION);
    cr_assert_eq(rp_decide_by_panel(1, 3, 3), RP_VERDICT_NO_VIOLATION);
}

Test(decision, two_of_three)
{
    cr_assert_eq(rp_decide_by_panel(1, 1, 2), RP_VERDICT_NONE);
    cr_assert_eq(rp_decide_by_panel(2, 1, 2), RP_VERDICT_VIOLATION);
    cr_assert_eq(rp_decide_by_panel(0, 2, 2), RP_VERDICT_NO_VIOLATION);
}

Test(decision, fifty_one_of_hundred_and_one)
{
    cr_assert_eq(rp_decide_by_panel(50, 50, 51), RP_VERDICT_NONE);
    cr_assert_eq(rp_decide_by_panel(51, 50, 51), RP_VERDICT_VIOLATION);
    cr_assert_eq(rp_decide_by_panel(50, 51, 51), RP_VERDICT_NO_VIOLATION);
    cr_assert_eq(rp_decide_by_panel(0, 51, 51), RP_VERDICT_NO_VIOLATION);
}

Test(decision, one_of_one)
{
    cr_assert_eq(rp_decide_by_panel(0, 0, 1), RP_VERDICT_NONE);
    cr_assert_eq(rp_decide_by_panel(1, 0, 1), RP_VERDICT_VIOLATION);
}

Test(decision, inconsistent_counts_never_decide)
{
    /* Both sides at the threshold cannot happen with a strict majority. */
    cr_assert_eq(rp_decide_by_panel(3, 3, 3), RP_VERDICT_NONE);
    cr_assert_eq(rp_decide_by_panel(5, 5, 0), RP_VERDICT_NONE);
}

Test(decision, deadline_majority_of_votes_cast_with_quorum)
{
    rp_verdict v;
    cr_assert_eq(rp_decide_at_deadline(0, 3, 2, 1, &v), RP_DEADLINE_DECIDED);
    cr_assert_eq(v, RP_VERDICT_VIOLATION);
    cr_assert_eq(rp_decide_at_deadline(0, 1, 0, 1, &v), RP_DEADLINE_DECIDED);
    cr_assert_eq(v, RP_VERDICT_NO_VIOLATION);
}

/* 1, 2 and 3 votes of a 5-seat panel at the deadline, with
 * min_votes_at_deadline 1 and 3. */
Test(decision, deadline_quorum_one_two_three_votes_of_five)
{
    rp_verdict v;
    /* min 1: any majority of what was cast decides. */
    cr_assert_eq(rp_decide_at_deadline(0, 1, 1, 0, &v), RP_DEADLINE_DECIDED);
    cr_assert_eq(v, RP_VERDICT_VIOLATION);
    cr_assert_eq(rp_decide_at_deadline(0, 1, 2, 0, &v), RP_DEADLINE_DECIDED);
    cr_assert_eq(v, RP_VERDICT_VIOLATION);
    cr_assert_eq(rp_decide_at_deadline(0, 1, 1, 1, &v), RP_DEADLINE_ESCALATED); /* tie */
    cr_assert_eq(v, RP_VERDICT_NONE);
    cr_assert_eq(rp_decide_at_deadline(0, 1, 1, 2, &v), RP_DEADLINE_DECIDED);
    cr_assert_eq(v, RP_VERDICT_NO_VIOLATION);
    /* min 3 (the default for 3 of 5): one or two votes are too few. */
    v = RP_VERDICT_VIOLATION;
    cr_assert_eq(rp_decide_at_deadline(0, 3, 1, 0, &v), RP_DEADLINE_ESCALATED);
    cr_assert_eq(v, RP_VERDICT_NONE);
    cr_assert_eq(rp_decide_at_deadline(0, 3, 0, 1, &v), RP_DEADLINE_ESCALATED);
    cr_assert_eq(rp_decide_at_deadline(0, 3, 2, 0, &v), RP_DEADLINE_ESCALATED);
    cr_assert_eq(rp_decide_at_deadline(0, 3, 1, 1, &v), RP_DEADLINE_ESCALATED);
    cr_assert_eq(rp_decide_at_deadline(0, 3, 2, 1, &v), RP_DEADLINE_DECIDED);
    cr_assert_eq(v, RP_VERDICT_VIOLATION);
    cr_assert_eq(rp_decide_at_deadline(0, 3, 0, 3, &v), RP_DEADLINE_DECIDED);
    cr_assert_eq(v, RP_VERDICT_NO_VIOLATION);
}

/* A supermajority rule, 4 of 5, with its default quorum of 4: 2:1 at the
 * deadline no longer decides; 3:1 does; 2:2 is a tie. */
Test(decision, deadline_quorum_four_of_five)
{
    rp_verdict v;
    cr_assert_eq(rp_decide_at_deadline(0, 4, 2, 1, &v), RP_DEADLINE_ESCALATED);
    cr_assert_eq(rp_decide_at_deadline(0, 4, 3, 0, &v), RP_DEADLINE_ESCALATED);
    cr_assert_eq(rp_decide_at_deadline(0, 4, 3, 1, &v), RP_DEADLINE_DECIDED);
    cr_assert_eq(v, RP_VERDICT_VIOLATION);
    cr_assert_eq(rp_decide_at_deadline(0, 4, 1, 3, &v), RP_DEADLINE_DECIDED);
    cr_assert_eq(v, RP_VERDICT_NO_VIOLATION);
    cr_assert_eq(rp_decide_at_deadline(0, 4, 2, 2, &v), RP_DEADLINE_ESCALATED);
    cr_assert_eq(v, RP_VERDICT_NONE);
}

Test(decision, deadline_tie_or_no_votes_escalates)
{
    rp_verdict v = RP_VERDICT_VIOLATION;
    cr_assert_eq(rp_decide_at_deadline(0, 1, 1, 1, &v), RP_DEADLINE_ESCALATED);
    cr_assert_eq(v, RP_VERDICT_NONE);
    cr_assert_eq(rp_decide_at_deadline(0, 1, 0, 0, &v), RP_DEADLINE_ESCALATED);
    cr_assert_eq(rp_decide_at_deadline(0, 0, 0, 0, &v), RP_DEADLINE_ESCALATED);
    cr_assert_eq(rp_decide_at_deadline(0, 1, 2, 2, &v), RP_DEADLINE_ESCALATED);
}

Test(decision, deadline_escalate_rule_always_escalates)
{
    rp_verdict v;
    cr_assert_eq(rp_decide_at_deadline(1, 1, 4, 0, &v), RP_DEADLINE_ESCALATED);
    cr_assert_eq(v, RP_VERDICT_NONE);
}

Test(decision, declines_free_seats_and_do_not_count_as_votes)
{
    /* 5 seats: 2 voted, 1 declined, 2 open → one seat to refill. */
    cr_assert_eq(rp_seats_needed(5, 4, 0), 1);
    /* ... unless it is already requested. */
    cr_assert_eq(rp_seats_needed(5, 4, 1), 0);
    /* Two declines, one pending request for one seat. */
    cr_assert_eq(rp_seats_needed(5, 3, 1), 1);
    /* Never negative when the reviewer service over-delivers. */
    cr_assert_eq(rp_seats_needed(5, 6, 0), 0);
    /* A decline is no vote: 2 violation votes and a decline do not decide 3 of 5. */
    cr_assert_eq(rp_decide_by_panel(2, 0, 3), RP_VERDICT_NONE);
}

Test(decision, substitute_rounds_are_bounded)
{
    cr_assert_not(rp_substitute_allowed(0, 0));
    cr_assert(rp_substitute_allowed(0, 2));
    cr_assert(rp_substitute_allowed(1, 2));
    cr_assert_not(rp_substitute_allowed(2, 2));
    cr_assert(rp_substitute_allowed(9, 10));
    cr_assert_not(rp_substitute_allowed(10, 10));
    cr_assert_not(rp_substitute_allowed(-1, 10));
}

/* Shortfall retries: 30 s, 1 min, 2 min, 4 min, 8 min, then every 10 min. */
Test(decision, shortfall_backoff_doubles_up_to_ten_minutes)
{
    cr_assert_eq(rp_shortfall_backoff_s(0, 30), 30);
    cr_assert_eq(rp_shortfall_backoff_s(1, 30), 60);
    cr_assert_eq(rp_shortfall_backoff_s(2, 30), 120);
    cr_assert_eq(rp_shortfall_backoff_s(3, 30), 240);
    cr_assert_eq(rp_shortfall_backoff_s(4, 30), 480);
    cr_assert_eq(rp_shortfall_backoff_s(5, 30), 600);
    cr_assert_eq(rp_shortfall_backoff_s(6, 30), 600);
    cr_assert_eq(rp_shortfall_backoff_s(1000, 30), 600);
    /* A short base (tests) doubles the same way; nonsense bases count as 1 s. */
    cr_assert_eq(rp_shortfall_backoff_s(0, 1), 1);
    cr_assert_eq(rp_shortfall_backoff_s(3, 1), 8);
    cr_assert_eq(rp_shortfall_backoff_s(0, 0), 1);
    cr_assert_eq(rp_shortfall_backoff_s(0, -5), 1);
    cr_assert_eq(rp_shortfall_backoff_s(0, 900), 600);
}

Test(decision, with_majority_only_for_votes_matching_the_verdict)
{
    cr_assert(rp_with_majority(RP_VERDICT_VIOLATION, RP_VERDICT_VIOLATION));
    cr_assert_not(rp_with_majority(RP_VERDICT_NO_VIOLATION, RP_VERDICT_VIOLATION));
    cr_assert_not(rp_with_majority(RP_VERDICT_NONE, RP_VERDICT_VIOLATION));
    cr_assert_not(rp_with_majority(RP_VERDICT_NONE, RP_VERDICT_NONE));
    cr_assert_not(rp_with_majority(RP_VERDICT_VIOLATION, RP_VERDICT_NONE));
}

Test(decision, verdict_names_round_trip)
{
    cr_assert_str_eq(rp_verdict_name(RP_VERDICT_VIOLATION), "violation");
    cr_assert_str_eq(rp_verdict_name(RP_VERDICT_NO_VIOLATION), "no_violation");
    cr_assert_null(rp_verdict_name(RP_VERDICT_NONE));
    cr_assert_eq(rp_verdict_parse("violation"), RP_VERDICT_VIOLATION);
    cr_assert_eq(rp_verdict_parse("no_violation"), RP_VERDICT_NO_VIOLATION);
    cr_assert_eq(rp_verdict_parse("Violation"), RP_VERDICT_NONE);
    cr_assert_eq(rp_verdict_parse(NULL), RP_VERDICT_NONE);
}

Test(decision, callback_backoff_doubles_up_to_the_cap)
{
    cr_assert_eq(rp_callback_backoff_s(1, 300), 1);
    cr_assert_eq(rp_callback_backoff_s(2, 300), 2);
    cr_assert_eq(rp_callback_backoff_s(3, 300), 4);
    cr_assert_eq(rp_callback_backoff_s(8, 300), 128);
    cr_assert_eq(rp_callback_backoff_s(9, 300), 256);
    cr_assert_eq(rp_callback_backoff_s(10, 300), 300);
    cr_assert_eq(rp_callback_backoff_s(60, 300), 300);
}
