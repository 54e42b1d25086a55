/* Decoding of sg.case.decided payloads (payloads.c): what is accepted, what is dropped. */
#include <criterion/criterion.h>
#include <jansson.h>

#include "../../services/reward/payloads.h"

static int parse(const char *json, rw_decision *d, json_t **keep)
{
    char err[256];
    *keep = json_loads(json, 0, NULL);
    cr_assert_not_null(*keep, "bad test JSON");
    return rw_decision_parse(*keep, d, err, sizeof err);
}

Test(rw_decision, full_payload)
{
    rw_decision d;
    json_t *k;
    cr_assert_eq(parse("{\"case_id\":\"6a1c2d3e-0000-4000-8000-000000000001\",\"report_type\":\"listing\","
                       "\"target_id\":\"l:1\",\"target_owner_id\":\"u-1\",\"verdict\":\"violation\",\"decided_by\":\"panel\","
                       "\"reporter_ids\":[\"u-7\"],\"occurred_at\":\"2026-11-22T10:00:00Z\",\"event_id\":\"x\","
                       "\"ballots\":[{\"reviewer_id\":\"r\",\"outcome\":\"voted\",\"decision\":\"violation\",\"with_majority\":true}]}",
                       &d, &k),
                 0);
    cr_assert_eq(d.verdict, RW_VERDICT_VIOLATION);
    cr_assert_str_eq(d.report_type, "listing");
    cr_assert_str_eq(d.occurred_at, "2026-11-22T10:00:00Z");
    cr_assert_eq(d.nreporters, 1);
    cr_assert_eq(d.nballots, 1);
    cr_assert(d.ballots[0].voted && d.ballots[0].with_majority);
    rw_decision_free(&d);
    json_decref(k);
}

Test(rw_decision, null_verdict_and_missing_lists)
{
    rw_decision d;
    json_t *k;
    cr_assert_eq(parse("{\"case_id\":\"c\",\"report_type\":\"comment\",\"verdict\":null,\"occurred_at\":\"junk\"}", &d,
                       &k),
                 0);
    cr_assert_eq(d.verdict, RW_VERDICT_NONE);
    cr_assert_eq(d.nballots + d.nreporters, 0);
    cr_assert_null(d.occurred_at, "an unusable occurred_at means 'now'");
    rw_decision_free(&d);
    json_decref(k);
}

Test(rw_decision, appeal_of_names_the_reported_case)
{
    rw_decision d;
    json_t *k;
    cr_assert_eq(parse("{\"case_id\":\"a\",\"report_type\":\"comment\",\"verdict\":\"violation\","
                       "\"appeal_of\":\"c\"}", &d, &k),
                 0);
    cr_assert_str_eq(d.appeal_of, "c");
    cr_assert_str_eq(rw_decision_reported_case(&d), "c");
    rw_decision_free(&d);
    json_decref(k);
    cr_assert_eq(parse("{\"case_id\":\"a\",\"report_type\":\"comment\",\"verdict\":\"violation\","
                       "\"appeal_of\":null}", &d, &k),
                 0);
    cr_assert_null(d.appeal_of);
    cr_assert_str_eq(rw_decision_reported_case(&d), "a");
    rw_decision_free(&d);
    json_decref(k);
}

Test(rw_decision, invalid_events)
{
    const char *bad[] = {
        "[]",
        "{\"report_type\":\"comment\",\"verdict\":\"violation\"}",
        "{\"case_id\":\"c\",\"report_type\":\"Comment!\",\"verdict\":\"violation\"}",
        "{\"case_id\":\"c\",\"report_type\":\"comment\",\"verdict\":\"violation\",\"appeal_of\":\"c\"}",
        "{\"case_id\":\"c\",\"report_type\":\"comment\",\"verdict\":\"violation\",\"appeal_of\":7}",
        "{\"case_id\":\"c\",\"report_type\":\"comment\",\"verdict\":\"guilty\"}",
        "{\"case_id\":\"c\",\"report_type\":\"comment\",\"verdict\":\"violation\",\"reporter_ids\":\"u\"}",
        "{\"case_id\":\"c\",\"report_type\":\"comment\",\"verdict\":\"violation\",\"reporter_ids\":[\"has space\"]}",
        "{\"case_id\":\"c\",\"report_type\":\"comment\",\"verdict\":\"violation\",\"ballots\":[{\"outcome\":\"voted\"}]}",
        "{\"case_id\":\"c\",\"report_type\":\"comment\",\"verdict\":\"violation\",\"ballots\":[{\"reviewer_id\":\"r\"}]}",
        "{\"case_id\":\"c\",\"report_type\":\"comment\",\"verdict\":\"violation\","
        "\"ballots\":[{\"reviewer_id\":\"r\",\"outcome\":\"voted\",\"with_majority\":\"yes\"}]}",
        "{\"case_id\":\"c\",\"report_type\":\"comment\",\"verdict\":\"violation\","
        "\"ballots\":[{\"reviewer_id\":\"r\",\"outcome\":\"voted\",\"decision\":\"maybe\"}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rw_decision d;
        json_t *k;
        cr_assert_eq(parse(bad[i], &d, &k), -1, "accepted: %s", bad[i]);
        json_decref(k);
    }
}

Test(rw_decision, opened_at_is_optional)
{
    rw_decision d;
    json_t *k;
    cr_assert_eq(parse("{\"case_id\":\"c\",\"report_type\":\"comment\",\"verdict\":\"violation\","
                       "\"opened_at\":\"2026-11-20T08:00:00Z\"}", &d, &k), 0);
    cr_assert_str_eq(d.opened_at, "2026-11-20T08:00:00Z");
    rw_decision_free(&d);
    json_decref(k);
    cr_assert_eq(parse("{\"case_id\":\"c\",\"report_type\":\"comment\",\"verdict\":\"violation\"}", &d, &k), 0);
    cr_assert_null(d.opened_at, "v1 producers send none: the decision time applies");
    rw_decision_free(&d);
    json_decref(k);
    cr_assert_eq(parse("{\"case_id\":\"c\",\"report_type\":\"comment\",\"verdict\":\"violation\",\"opened_at\":7}",
                       &d, &k), 0);
    cr_assert_null(d.opened_at, "not a time: ignored like a missing one");
    rw_decision_free(&d);
    json_decref(k);
}

/* ---- sg.case.finalized ---- */

static int parse_final(const char *json, rw_finalization *f, json_t **keep)
{
    char err[256];
    *keep = json_loads(json, 0, NULL);
    cr_assert_not_null(*keep, "bad test JSON");
    return rw_finalization_parse(*keep, f, err, sizeof err);
}

Test(rw_finalization, full_payload)
{
    rw_finalization f;
    json_t *k;
    cr_assert_eq(parse_final("{\"case_id\":\"c-1\",\"final_verdict\":\"no_violation\",\"finalized_by\":\"appeal\","
                             "\"appeal_case_id\":\"c-2\",\"occurred_at\":\"2026-11-22T10:00:00Z\",\"event_id\":\"e\"}",
                             &f, &k), 0);
    cr_assert_str_eq(f.case_id, "c-1");
    cr_assert_eq(f.final_verdict, RW_VERDICT_NO_VIOLATION);
    cr_assert_eq(f.bonus_verdict, RW_VERDICT_NO_VIOLATION);
    cr_assert_str_eq(f.finalized_by, "appeal");
    cr_assert_str_eq(f.appeal_case_id, "c-2");
    cr_assert_str_eq(f.occurred_at, "2026-11-22T10:00:00Z");
    json_decref(k);
    cr_assert_eq(parse_final("{\"case_id\":\"c-1\",\"final_verdict\":\"violation\",\"finalized_by\":\"window\","
                             "\"appeal_case_id\":null}", &f, &k), 0);
    cr_assert_null(f.appeal_case_id);
    cr_assert_null(f.occurred_at);
    json_decref(k);
}

Test(rw_finalization, audit_bonus_follows_expected_verdict)
{
    rw_finalization f;
    json_t *k;
    cr_assert_eq(parse_final("{\"case_id\":\"c\",\"final_verdict\":\"violation\",\"finalized_by\":\"window\","
                             "\"audit\":true,\"expected_verdict\":\"no_violation\"}", &f, &k), 0);
    cr_assert_eq(f.final_verdict, RW_VERDICT_VIOLATION);
    cr_assert_eq(f.bonus_verdict, RW_VERDICT_NO_VIOLATION);
    json_decref(k);
}

Test(rw_finalization, invalid_events_are_refused)
{
    rw_finalization f;
    json_t *k;
    const char *bad[] = {
        "[]",
        "{\"final_verdict\":\"violation\"}",
        "{\"case_id\":\"c\"}",
        "{\"case_id\":\"c\",\"final_verdict\":null}",
        "{\"case_id\":\"c\",\"final_verdict\":\"guilty\"}",
        "{\"case_id\":\"c\",\"final_verdict\":\"violation\",\"finalized_by\":\"Window!\"}",
        "{\"case_id\":\"c\",\"final_verdict\":\"violation\",\"appeal_case_id\":\"has space\"}",
        "{\"case_id\":\"c\",\"final_verdict\":\"violation\",\"audit\":true,\"expected_verdict\":\"x\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(parse_final(bad[i], &f, &k), -1, "accepted: %s", bad[i]);
        json_decref(k);
    }
}
