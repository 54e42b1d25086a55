/* Voting rule validation (PUT /v1/voting-rules/{report_type} bodies). */
#include <criterion/criterion.h>
#include <string.h>
#include "../../services/report/rule.h"

static json_t *valid(void)
{
    return json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:s, s:[s], s:i, s:i, s:i}", "panel_size", 5, "votes_to_decide", 3,
                     "ballot_timeout_s", 3600, "reminder_before_s", 600, "max_substitute_rounds", 2, "case_deadline_s",
                     86400, "on_deadline", "decide_by_votes_cast", "reviewer_tags", "seller", "appeal_window_s", 259200,
                     "appeal_panel_size", 9, "appeal_votes_to_decide", 5);
}

/* Applies one change to a valid body and returns rp_rule_parse's result. */
static int parse_with(const char *field, json_t *value)
{
    json_t *b = valid();
    rp_rule r;
    char err[256] = "";
    if (value)
        json_object_set_new(b, field, value);
    else
        json_object_del(b, field);
    int rc = rp_rule_parse(b, &r, err, sizeof err);
    if (rc == 0)
        rp_rule_free(&r);
    else
        cr_assert(err[0], "a refusal says why");
    json_decref(b);
    return rc;
}

/* Every field of a valid body lands in the typed rule (the API's JSON is
 * built in SQL by the store, see store.h; the integration tests check it). */
Test(rule, valid_rule_parses_every_field)
{
    json_t *b = valid(), *tags = json_pack("[s]", "seller");
    rp_rule r;
    char err[256];
    cr_assert_eq(rp_rule_parse(b, &r, err, sizeof err), 0, "%s", err);
    cr_assert_eq(r.panel_size, 5);
    cr_assert_eq(r.votes_to_decide, 3);
    cr_assert_eq(r.ballot_timeout_s, 3600);
    cr_assert_eq(r.reminder_before_s, 600);
    cr_assert_eq(r.max_substitute_rounds, 2);
    cr_assert_eq(r.case_deadline_s, 86400);
    cr_assert_eq(r.on_deadline, RP_RULE_DECIDE_BY_VOTES_CAST);
    cr_assert(json_equal(r.reviewer_tags, tags));
    cr_assert_eq(r.appeal_window_s, 259200);
    cr_assert_eq(r.appeal_panel_size, 9);
    cr_assert_eq(r.appeal_votes_to_decide, 5);
    cr_assert_eq(rp_rule_check(&r, err, sizeof err), 0, "%s", err);
    rp_rule_free(&r);
    json_decref(tags);
    json_decref(b);
}

Test(rule, reviewer_tags_optional)
{
    cr_assert_eq(parse_with("reviewer_tags", NULL), 0);
    cr_assert_eq(parse_with("reviewer_tags", json_null()), 0);
}

Test(rule, panel_bounds)
{
    cr_assert_eq(parse_with("panel_size", json_integer(0)), -1);
    cr_assert_eq(parse_with("panel_size", json_integer(102)), -1);
    cr_assert_eq(parse_with("panel_size", json_integer(4)), 0);  /* 3 of 4 is a strict majority */
    cr_assert_eq(parse_with("panel_size", json_integer(6)), -1); /* 3 of 6 is not */
}

Test(rule, strict_majority_required)
{
    cr_assert(rp_rule_panel_ok(5, 3));
    cr_assert(rp_rule_panel_ok(3, 2));
    cr_assert(rp_rule_panel_ok(101, 51));
    cr_assert(rp_rule_panel_ok(1, 1));
    cr_assert(rp_rule_panel_ok(5, 5));
    cr_assert_not(rp_rule_panel_ok(4, 2));
    cr_assert_not(rp_rule_panel_ok(101, 50));
    cr_assert_not(rp_rule_panel_ok(5, 6));
    cr_assert_not(rp_rule_panel_ok(0, 0));
    cr_assert_not(rp_rule_panel_ok(102, 60));
    cr_assert_eq(parse_with("votes_to_decide", json_integer(2)), -1);
    cr_assert_eq(parse_with("votes_to_decide", json_integer(6)), -1);
}

Test(rule, appeal_panel_same_constraints)
{
    cr_assert_eq(parse_with("appeal_votes_to_decide", json_integer(4)), -1);
    cr_assert_eq(parse_with("appeal_votes_to_decide", json_integer(10)), -1);
    cr_assert_eq(parse_with("appeal_panel_size", json_integer(0)), -1);
    cr_assert_eq(parse_with("appeal_panel_size", json_integer(102)), -1);
}

Test(rule, timeouts_positive_and_ordered)
{
    cr_assert_eq(parse_with("ballot_timeout_s", json_integer(0)), -1);
    cr_assert_eq(parse_with("case_deadline_s", json_integer(-1)), -1);
    cr_assert_eq(parse_with("appeal_window_s", json_integer(0)), -1);
    cr_assert_eq(parse_with("ballot_timeout_s", json_integer(86401)), -1); /* > case_deadline_s */
    cr_assert_eq(parse_with("ballot_timeout_s", json_integer(86400)), 0);  /* equal is fine */
    cr_assert_eq(parse_with("reminder_before_s", json_integer(3600)), -1); /* not before the deadline */
    cr_assert_eq(parse_with("reminder_before_s", json_integer(-1)), -1);
    cr_assert_eq(parse_with("reminder_before_s", json_integer(0)), 0);     /* no reminder */
}

Test(rule, substitute_rounds_0_to_10)
{
    cr_assert_eq(parse_with("max_substitute_rounds", json_integer(0)), 0);
    cr_assert_eq(parse_with("max_substitute_rounds", json_integer(10)), 0);
    cr_assert_eq(parse_with("max_substitute_rounds", json_integer(11)), -1);
    cr_assert_eq(parse_with("max_substitute_rounds", json_integer(-1)), -1);
}

Test(rule, on_deadline_enum)
{
    cr_assert_eq(parse_with("on_deadline", json_string("escalate")), 0);
    cr_assert_eq(parse_with("on_deadline", json_string("decide")), -1);
    cr_assert_eq(parse_with("on_deadline", json_integer(1)), -1);
}

Test(rule, types_missing_and_unknown_fields)
{
    cr_assert_eq(parse_with("panel_size", json_string("5")), -1);
    cr_assert_eq(parse_with("panel_size", json_real(5.0)), -1);
    cr_assert_eq(parse_with("panel_size", NULL), -1);
    cr_assert_eq(parse_with("surprise", json_true()), -1);
    cr_assert_eq(parse_with("reviewer_tags", json_pack("[i]", 1)), -1);
    cr_assert_eq(parse_with("reviewer_tags", json_pack("[s]", "")), -1);
    cr_assert_eq(parse_with("reviewer_tags", json_pack("[s]", "VIP Member")), -1, "a tag outside the grammar");
    cr_assert_eq(parse_with("reviewer_tags", json_pack("[s]", "vip")), 0);
    cr_assert_eq(parse_with("reviewer_tags", json_string("seller")), -1);
}


/* max_reports_per_case: optional, 1..10000, default 500 (API.md). */
Test(rule, max_reports_per_case_optional_and_bounded)
{
    json_t *b = valid();
    rp_rule r;
    char err[256];
    cr_assert_eq(rp_rule_parse(b, &r, err, sizeof err), 0, "%s", err);
    cr_expect_eq(r.max_reports_per_case, RP_RULE_DEFAULT_MAX_REPORTS_PER_CASE);
    rp_rule_free(&r);
    json_object_set_new(b, "max_reports_per_case", json_integer(10000));
    cr_assert_eq(rp_rule_parse(b, &r, err, sizeof err), 0, "%s", err);
    cr_expect_eq(r.max_reports_per_case, 10000);
    rp_rule_free(&r);
    json_decref(b);
    cr_expect_eq(parse_with("max_reports_per_case", json_integer(1)), 0);
    cr_expect_neq(parse_with("max_reports_per_case", json_integer(0)), 0);
    cr_expect_neq(parse_with("max_reports_per_case", json_integer(10001)), 0);
    cr_expect_neq(parse_with("max_reports_per_case", json_string("500")), 0);
}

/* (v2) min_votes_at_deadline: 1..panel_size, default votes_to_decide;
 * re_report_cooldown_s: 0..30 days, default one day. */
Test(rule, quorum_and_cooldown_defaults_and_bounds)
{
    json_t *b = valid();
    rp_rule r;
    char err[256];
    cr_assert_eq(rp_rule_parse(b, &r, err, sizeof err), 0, "%s", err);
    cr_assert_eq(r.min_votes_at_deadline, 3);
    cr_assert_eq(r.re_report_cooldown_s, 86400);
    rp_rule_free(&r);
    json_decref(b);
    cr_assert_eq(parse_with("min_votes_at_deadline", json_integer(1)), 0);
    cr_assert_eq(parse_with("min_votes_at_deadline", json_integer(5)), 0);
    cr_assert_eq(parse_with("min_votes_at_deadline", json_integer(6)), -1);
    cr_assert_eq(parse_with("min_votes_at_deadline", json_integer(0)), -1);
    cr_assert_eq(parse_with("min_votes_at_deadline", json_string("3")), -1);
    cr_assert_eq(parse_with("re_report_cooldown_s", json_integer(0)), 0);
    cr_assert_eq(parse_with("re_report_cooldown_s", json_integer(2592000)), 0);
    cr_assert_eq(parse_with("re_report_cooldown_s", json_integer(2592001)), -1);
    cr_assert_eq(parse_with("re_report_cooldown_s", json_integer(-1)), -1);
}
