/* Request and event validation: batches, policies, event payloads. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "../../services/reviewer/payloads.h"
#include "sg/json.h"
#include "../../services/reviewer/policy.h"
#include "../../services/reviewer/reviewer.h"

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    cr_assert_not_null(j, "bad test JSON: %s", e.text);
    return j;
}

Test(payloads, profiles_batch_ok)
{
    json_t *j = parse("[{\"user_id\":\"u1\",\"tags\":[\"a\",\"lang:zh\"],\"credit_score\":700,"
                      "\"registered_at\":\"2025-01-01T00:00:00Z\"},"
                      "{\"user_id\":\"u2\",\"credit_score\":0,\"registered_at\":\"2025-01-01T08:00:00+08:00\"}]");
    rv_profile_batch b;
    char err[256];
    cr_assert_eq(rv_profiles_parse(j, &b, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(b.n, 2);
    cr_assert_str_eq(b.tags_csv[0], "a,lang:zh");
    cr_assert_str_eq(b.tags_csv[1], "");
    cr_assert_eq(b.credit_scores[0], 700);
    rv_profile_batch_free(&b);
    json_decref(j);
}

static void refused(const char *body, const char *needle)
{
    json_t *j = parse(body);
    rv_profile_batch b;
    char err[256] = "";
    cr_assert_neq(rv_profiles_parse(j, &b, err, sizeof(err)), 0, "accepted %s", body);
    cr_assert(strstr(err, needle), "error '%s' lacks '%s'", err, needle);
    json_decref(j);
}

#define P(uid, extra) "{\"user_id\":\"" uid "\",\"credit_score\":1,\"registered_at\":\"2025-01-01T00:00:00Z\"" extra "}"

Test(payloads, profiles_batch_refused_naming_the_index)
{
    refused("[" P("u1", "") "," P("u2", ",\"tags\":[\"UPPER\"]") "]", "element 1");
    refused("[" P("u1", "") "," P("u2", "") ",{\"user_id\":\"u3\",\"credit_score\":1001,"
            "\"registered_at\":\"2025-01-01T00:00:00Z\"}]", "element 2");
    refused("[" P("u1", ",\"extra\":1") "]", "element 0");
    refused("[{\"user_id\":\"u1\",\"credit_score\":1,\"registered_at\":\"yesterday\"}]", "element 0");
    refused("[" P("u1", "") "," P("u2", "") "," P("u1", "") "]", "element 2: duplicate user_id (also element 0)");
    refused("[\"u1\"]", "element 0");
    refused("[]", "1..1000");
    refused("{}", "array");
}

Test(payloads, profiles_batch_limits)
{
    json_t *arr = json_array();
    rv_profile_batch b;
    char err[256], id[16];
    for (int i = 0; i < 1001; i++) {
        snprintf(id, sizeof(id), "u%d", i);
        json_array_append_new(arr, json_pack("{s:s, s:i, s:s}", "user_id", id, "credit_score", 1, "registered_at",
                                             "2025-01-01T00:00:00Z"));
    }
    cr_assert_neq(rv_profiles_parse(arr, &b, err, sizeof(err)), 0, "1001 refused");
    json_array_remove(arr, 1000);
    cr_assert_eq(rv_profiles_parse(arr, &b, err, sizeof(err)), 0, "1000 accepted: %s", err);
    rv_profile_batch_free(&b);
    json_decref(arr);

    /* 33 tags are too many; 32 are fine. */
    json_t *tags = json_array();
    for (int i = 0; i < 33; i++) {
        snprintf(id, sizeof(id), "t%d", i);
        json_array_append_new(tags, json_string(id));
    }
    json_t *one = json_pack("[{s:s, s:i, s:s, s:O}]", "user_id", "u", "credit_score", 1, "registered_at",
                            "2025-01-01T00:00:00Z", "tags", tags);
    cr_assert_neq(rv_profiles_parse(one, &b, err, sizeof(err)), 0);
    json_array_remove(tags, 32);
    json_object_set(json_array_get(one, 0), "tags", tags);
    cr_assert_eq(rv_profiles_parse(one, &b, err, sizeof(err)), 0, "%s", err);
    rv_profile_batch_free(&b);
    json_decref(one);
    json_decref(tags);
}

Test(payloads, activity_batch)
{
    json_t *j = parse("[{\"user_id\":\"u1\",\"at\":\"2026-11-25T12:00:00Z\"},{\"user_id\":\"u1\",\"at\":\"2026-11-23T00:00:00Z\"}]");
    rv_activity_batch b;
    char err[256];
    double now = 1795700000; /* 2026-11-26 */
    cr_assert_eq(rv_activity_parse(j, now, &b, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(b.weeks[0], b.weeks[1], "same ISO week");
    rv_activity_batch_free(&b);
    json_decref(j);
    j = parse("[{\"user_id\":\"u1\",\"at\":\"2026-11-25T12:00:00Z\"},{\"user_id\":\"u1\",\"at\":\"2027-01-01T00:00:00Z\"}]");
    cr_assert_neq(rv_activity_parse(j, now, &b, err, sizeof(err)), 0);
    cr_assert(strstr(err, "element 1: at is in the future"), "%s", err);
    json_decref(j);
}

Test(payloads, pool_rule)
{
    rv_pool_rule r;
    char err[256];
    json_t *j = parse("{\"include_tags_any\":[\"a\"],\"exclude_tags\":[],\"min_credit_score\":600,"
                      "\"min_account_age_days\":90,\"active_weeks_required\":4}");
    cr_assert_eq(rv_pool_rule_from_json(j, &r, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(r.include_tags_any.n, 1);
    cr_assert_eq(r.active_weeks_required, 4);
    json_decref(j);
    j = parse("{\"min_credit_score\":600,\"min_account_age_days\":90,\"active_weeks_required\":53}");
    cr_assert_neq(rv_pool_rule_from_json(j, &r, err, sizeof(err)), 0);
    json_decref(j);
    j = parse("{\"include_tags_any\":[\"a\"],\"exclude_tags\":[\"a\"],\"min_credit_score\":0,"
              "\"min_account_age_days\":0,\"active_weeks_required\":0}");
    cr_assert_neq(rv_pool_rule_from_json(j, &r, err, sizeof(err)), 0, "a tag both included and excluded");
    json_decref(j);
}

Test(payloads, fatigue_and_quality_policies)
{
    rv_fatigue_policy f;
    rv_quality_policy q;
    char err[256];
    json_t *j = parse("{\"max_open_ballots\":3,\"max_per_day\":20,\"max_per_week\":100,\"min_interval_s\":60,"
                      "\"cooldown_after_expiry_s\":86400}");
    cr_assert_eq(rv_fatigue_policy_from_json(j, &f, err, sizeof(err)), 0, "%s", err);
    json_object_set_new(j, "max_per_week", json_integer(10));
    cr_assert_neq(rv_fatigue_policy_from_json(j, &f, err, sizeof(err)), 0, "week below day");
    json_object_set_new(j, "max_per_week", json_integer(100));
    json_object_set_new(j, "max_open_ballots", json_integer(0));
    cr_assert_neq(rv_fatigue_policy_from_json(j, &f, err, sizeof(err)), 0);
    json_decref(j);
    j = parse("{\"min_decided_votes\":20,\"min_accuracy\":0.6,\"max_no_show_rate\":0.5,\"suspend_days\":30}");
    cr_assert_eq(rv_quality_policy_from_json(j, &q, err, sizeof(err)), 0, "%s", err);
    cr_assert_float_eq(q.min_accuracy, 0.6, 1e-12);
    json_object_set_new(j, "min_accuracy", json_real(1.5));
    cr_assert_neq(rv_quality_policy_from_json(j, &q, err, sizeof(err)), 0);
    json_object_set_new(j, "min_accuracy", json_real(0.6));
    json_object_set_new(j, "suspend_days", json_real(1.5));
    cr_assert_neq(rv_quality_policy_from_json(j, &q, err, sizeof(err)), 0, "integer days only");
    json_decref(j);
}

/* v2: optional gold and pair fields with their defaults; suspend_days as a
 * list; the representation gives back the form that was put. */
Test(payloads, quality_policy_v2)
{
    rv_quality_policy q;
    rv_fatigue_policy f;
    char err[256], *text;
    json_t *j = parse("{\"min_decided_votes\":20,\"min_accuracy\":0.6,\"max_no_show_rate\":0.5,\"suspend_days\":30}");
    cr_assert_eq(rv_quality_policy_from_json(j, &q, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(q.min_gold_votes, 5);
    cr_assert_float_eq(q.min_gold_accuracy, 0.7, 1e-12);
    cr_assert_float_eq(q.pair_flag_margin, 0.25, 1e-12);
    cr_assert_eq(q.nsteps, 0);
    cr_assert_eq(rv_suspend_days(&q, 1), 30);
    cr_assert_eq(rv_suspend_days(&q, 5), 30);
    json_object_set_new(j, "suspend_days", json_pack("[i,i,i]", 2, 7, 30));
    json_object_set_new(j, "min_gold_votes", json_integer(3));
    json_object_set_new(j, "min_gold_accuracy", json_real(0.8));
    json_object_set_new(j, "pair_flag_margin", json_real(0.1));
    cr_assert_eq(rv_quality_policy_from_json(j, &q, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(q.nsteps, 3);
    cr_assert_eq(rv_suspend_days(&q, 1), 2);
    cr_assert_eq(rv_suspend_days(&q, 2), 7);
    cr_assert_eq(rv_suspend_days(&q, 3), 30);
    cr_assert_eq(rv_suspend_days(&q, 9), 30, "the last one repeats");
    cr_assert_eq(q.min_gold_votes, 3);
    json_t *out = rv_quality_policy_to_json(&q);
    text = json_dumps(json_object_get(out, "suspend_days"), JSON_COMPACT);
    cr_assert_str_eq(text, "[2,7,30]");
    free(text);
    json_decref(out);
    json_object_set_new(j, "suspend_days", json_pack("[]"));
    cr_assert_neq(rv_quality_policy_from_json(j, &q, err, sizeof(err)), 0, "an empty list");
    json_object_set_new(j, "suspend_days", json_pack("[i,i]", 2, 0));
    cr_assert_neq(rv_quality_policy_from_json(j, &q, err, sizeof(err)), 0, "a zero step");
    json_object_set_new(j, "suspend_days", json_pack("[i,s]", 2, "7"));
    cr_assert_neq(rv_quality_policy_from_json(j, &q, err, sizeof(err)), 0, "a string step");
    json_object_del(j, "suspend_days");
    cr_assert_neq(rv_quality_policy_from_json(j, &q, err, sizeof(err)), 0, "suspend_days is required");
    json_object_set_new(j, "suspend_days", json_integer(3));
    json_object_set_new(j, "min_gold_accuracy", json_real(1.2));
    cr_assert_neq(rv_quality_policy_from_json(j, &q, err, sizeof(err)), 0);
    json_object_set_new(j, "min_gold_accuracy", json_real(0.7));
    json_object_set_new(j, "bogus", json_integer(1));
    cr_assert_neq(rv_quality_policy_from_json(j, &q, err, sizeof(err)), 0, "unknown fields refused");
    json_decref(j);
    j = parse("{\"max_open_ballots\":3,\"max_per_day\":20,\"max_per_week\":100,\"min_interval_s\":60,"
              "\"cooldown_after_expiry_s\":86400}");
    cr_assert_eq(rv_fatigue_policy_from_json(j, &f, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(f.max_pair_cases_30d, 0, "no pair limit by default");
    json_object_set_new(j, "max_pair_cases_30d", json_integer(3));
    cr_assert_eq(rv_fatigue_policy_from_json(j, &f, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(f.max_pair_cases_30d, 3);
    json_object_set_new(j, "max_pair_cases_30d", json_integer(-1));
    cr_assert_neq(rv_fatigue_policy_from_json(j, &f, err, sizeof(err)), 0);
    json_decref(j);
}

Test(payloads, policy_version_representation)
{
    rv_quality_policy q = {.version = 3, .min_decided_votes = 20, .min_accuracy = 0.6, .max_no_show_rate = 0.5,
                           .suspend_days = 30};
    rv_version_meta m = {"2026-11-25T12:00:00Z", "ops-1"};
    json_t *j = rv_policy_versioned(rv_quality_policy_to_json(&q), &m);
    cr_assert_eq(sg_json_int(j, "version", -1), 3);
    cr_assert_str_eq(sg_json_str(j, "created_at"), "2026-11-25T12:00:00Z");
    cr_assert_str_eq(sg_json_str(j, "created_by"), "ops-1");
    json_decref(j);
    cr_assert_null(rv_policy_versioned(NULL, &m));
}

Test(payloads, panel_request)
{
    rv_panel_req r;
    char err[256];
    json_t *j = parse("{\"event_id\":\"e\",\"occurred_at\":\"x\",\"case_id\":\"c1\",\"round\":0,\"seats\":5,"
                      "\"report_type\":\"comment\",\"reviewer_tags\":[\"lang:zh\"],"
                      "\"exclude_user_ids\":[\"u1\",\"u2\"],\"deadline\":\"2026-11-25T12:00:00Z\"}");
    cr_assert_eq(rv_panel_req_parse(j, &r, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(r.seats, 5);
    cr_assert_eq(r.nexclude, 2);
    cr_assert_str_eq(r.exclude[1], "u2");
    cr_assert_eq(r.tags.n, 1);
    rv_panel_req_free(&r);
    json_object_set_new(j, "seats", json_integer(0));
    cr_assert_neq(rv_panel_req_parse(j, &r, err, sizeof(err)), 0);
    json_object_set_new(j, "seats", json_integer(5));
    json_object_set_new(j, "exclude_user_ids", json_pack("[i]", 1));
    cr_assert_neq(rv_panel_req_parse(j, &r, err, sizeof(err)), 0);
    json_decref(j);
}

Test(payloads, panel_assigned_encoded)
{
    const char *ids[] = {"u2", "u1"};
    json_t *j = rv_panel_assigned_encode("c1", 1, 2, ids, 3);
    char *text;
    cr_assert_not_null(j);
    text = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
    cr_assert_str_eq(text, "{\"case_id\":\"c1\",\"reviewer_ids\":[\"u2\",\"u1\"],\"round\":1,\"shortfall\":3}");
    free(text);
    json_decref(j);
    j = rv_panel_assigned_encode("c2", 0, 0, NULL, 5);
    cr_assert_eq(json_array_size(json_object_get(j, "reviewer_ids")), 0);
    json_decref(j);
}

Test(payloads, status_changed_encoded)
{
    json_t *j = rv_status_changed_encode("u-7", RV_SUSPENDED, "accuracy 0.4 below 0.6");
    char *text = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
    cr_assert_str_eq(text, "{\"reason\":\"accuracy 0.4 below 0.6\",\"status\":\"suspended\",\"user_id\":\"u-7\"}");
    free(text);
    json_decref(j);
    cr_assert_null(rv_status_changed_encode("u", (rv_status)RV_NSTATUS, "x"));
}

Test(payloads, case_finalized)
{
    rv_case_finalized f;
    char err[256];
    json_t *j = parse("{\"case_id\":\"c\",\"final_verdict\":\"no_violation\",\"finalized_by\":\"appeal\","
                      "\"appeal_case_id\":\"c2\"}");
    cr_assert_eq(rv_case_finalized_parse(j, &f, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(f.final_verdict, RV_DEC_NO_VIOLATION);
    cr_assert_str_eq(f.appeal_case_id, "c2");
    cr_assert_eq(f.audit, 0);
    cr_assert_eq(f.expected_verdict, RV_DEC_NONE);
    json_decref(j);
    j = parse("{\"case_id\":\"c\",\"final_verdict\":\"violation\",\"finalized_by\":\"window\","
              "\"appeal_case_id\":null,\"audit\":true,\"expected_verdict\":\"violation\"}");
    cr_assert_eq(rv_case_finalized_parse(j, &f, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(f.audit, 1);
    cr_assert_eq(f.expected_verdict, RV_DEC_VIOLATION);
    cr_assert_null(f.appeal_case_id);
    json_decref(j);
    j = parse("{\"case_id\":\"c\",\"final_verdict\":\"violation\",\"audit\":true}");
    cr_assert_neq(rv_case_finalized_parse(j, &f, err, sizeof(err)), 0, "audit needs expected_verdict");
    json_decref(j);
    j = parse("{\"case_id\":\"c\",\"final_verdict\":\"maybe\"}");
    cr_assert_neq(rv_case_finalized_parse(j, &f, err, sizeof(err)), 0);
    json_decref(j);
}

Test(payloads, case_decided_decisions)
{
    rv_case_decided d;
    char err[256];
    json_t *j = parse("{\"case_id\":\"c\",\"verdict\":\"no_violation\",\"ballots\":["
                      "{\"reviewer_id\":\"a\",\"outcome\":\"voted\",\"decision\":\"violation\",\"with_majority\":false},"
                      "{\"reviewer_id\":\"c\",\"outcome\":\"expired\",\"decision\":\"violation\"}]}");
    cr_assert_eq(rv_case_decided_parse(j, &d, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(d.verdict, RV_DEC_NO_VIOLATION);
    cr_assert_eq(d.decisions[0], RV_DEC_VIOLATION);
    cr_assert_eq(d.decisions[1], RV_DEC_NONE, "only a vote has a decision");
    rv_case_decided_free(&d);
    json_decref(j);
    j = parse("{\"case_id\":\"c\",\"verdict\":\"violation\",\"ballots\":["
              "{\"reviewer_id\":\"a\",\"outcome\":\"voted\",\"decision\":\"yes\"}]}");
    cr_assert_neq(rv_case_decided_parse(j, &d, err, sizeof(err)), 0);
    json_decref(j);
}

Test(payloads, case_decided)
{
    rv_case_decided d;
    char err[256];
    json_t *j = parse("{\"case_id\":\"c\",\"verdict\":\"violation\",\"ballots\":["
                      "{\"reviewer_id\":\"a\",\"outcome\":\"voted\",\"decision\":\"violation\",\"with_majority\":true},"
                      "{\"reviewer_id\":\"b\",\"outcome\":\"voted\",\"decision\":\"no_violation\",\"with_majority\":false},"
                      "{\"reviewer_id\":\"c\",\"outcome\":\"expired\",\"decision\":null,\"with_majority\":null}]}");
    cr_assert_eq(rv_case_decided_parse(j, &d, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(d.n, 3);
    cr_assert_eq(d.with_majority[0], 1);
    cr_assert_eq(d.with_majority[1], 0);
    cr_assert_eq(d.with_majority[2], -1);
    cr_assert_eq(d.outcomes[2], RV_OUT_EXPIRED);
    rv_case_decided_free(&d);
    /* Without a verdict nobody was with a majority. */
    json_object_set_new(j, "verdict", json_null());
    cr_assert_eq(rv_case_decided_parse(j, &d, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(d.with_majority[0], -1);
    rv_case_decided_free(&d);
    json_decref(j);
}
