/* Report intake validation: each bad field gets the right status code;
 * plus the rate limiter's Retry-After. */
#include <criterion/criterion.h>
#include <string.h>
#include "../../services/report/intake.h"
#include "../../services/report/ratelimit.h"

static json_t *valid(void)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s}, s:s}", "report_type", "comment", "target_id",
                     "comment:9911", "target_owner_id", "u-42", "reporter_id", "u-7", "reason", "abuse", "description",
                     "rude", "evidence", "screenshot", "https://img/1", "callback_url", "https://forum.example/cb");
}

static int validate_with(const char *field, json_t *value)
{
    json_t *b = valid();
    rp_report_input in;
    char err[256] = "";
    if (value)
        json_object_set_new(b, field, value);
    else
        json_object_del(b, field);
    int rc = rp_intake_validate(b, &in, err, sizeof err);
    if (rc)
        cr_assert(err[0], "a refusal says why");
    json_decref(b);
    return rc;
}

static json_t *str_of(char c, size_t n)
{
    char *s = malloc(n + 1);
    memset(s, c, n);
    s[n] = '\0';
    json_t *j = json_string(s);
    free(s);
    return j;
}

Test(intake, valid_report)
{
    json_t *b = valid();
    rp_report_input in;
    char err[256];
    cr_assert_eq(rp_intake_validate(b, &in, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(in.reporter_id, "u-7");
    cr_assert_str_eq(in.callback_url, "https://forum.example/cb");
    cr_assert_not_null(in.evidence);
    json_decref(b);
}

Test(intake, optional_fields)
{
    cr_assert_eq(validate_with("description", NULL), 0);
    cr_assert_eq(validate_with("evidence", NULL), 0);
    cr_assert_eq(validate_with("callback_url", NULL), 0);
    cr_assert_eq(validate_with("callback_url", json_null()), 0);
}

Test(intake, required_fields)
{
    const char *req[] = {"report_type", "target_id", "target_owner_id", "reporter_id", "reason"};
    for (size_t i = 0; i < 5; i++)
        cr_assert_eq(validate_with(req[i], NULL), 400, "%s", req[i]);
}

Test(intake, report_type)
{
    cr_assert_eq(validate_with("report_type", json_string("Comment")), 400);
    cr_assert_eq(validate_with("report_type", json_string("forum-post")), 400);
    cr_assert_eq(validate_with("report_type", str_of('a', 33)), 400);
    cr_assert_eq(validate_with("report_type", json_integer(1)), 400);
    cr_assert_eq(validate_with("report_type", str_of('a', 32)), 0);
}

Test(intake, opaque_ids)
{
    const char *ids[] = {"target_id", "target_owner_id", "reporter_id"};
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(validate_with(ids[i], json_string("")), 400);
        cr_assert_eq(validate_with(ids[i], str_of('x', 129)), 400);
        cr_assert_eq(validate_with(ids[i], json_string("has space")), 400);
        cr_assert_eq(validate_with(ids[i], json_string("tab\there")), 400);
        cr_assert_eq(validate_with(ids[i], json_integer(42)), 400);
    }
    cr_assert_eq(validate_with("target_id", str_of('x', 128)), 0);
}

Test(intake, reason_and_description)
{
    cr_assert_eq(validate_with("reason", json_string("")), 400);
    cr_assert_eq(validate_with("reason", str_of('r', 65)), 400);
    cr_assert_eq(validate_with("reason", str_of('r', 64)), 0);
    cr_assert_eq(validate_with("reason", json_string("bad\nline")), 400);
    cr_assert_eq(validate_with("description", str_of('d', 2001)), 400);
    cr_assert_eq(validate_with("description", str_of('d', 2000)), 0);
    /* Code points, not bytes: 2000 × "é" is 4000 bytes but allowed. */
    json_t *b = valid();
    char *s = malloc(4001);
    for (int i = 0; i < 2000; i++)
        memcpy(s + 2 * i, "\xc3\xa9", 2);
    s[4000] = '\0';
    json_object_set_new(b, "description", json_string(s));
    rp_report_input in;
    char err[256];
    cr_assert_eq(rp_intake_validate(b, &in, err, sizeof err), 0, "%s", err);
    free(s);
    json_decref(b);
}

Test(intake, evidence_object_up_to_16k)
{
    cr_assert_eq(validate_with("evidence", json_string("x")), 400);
    cr_assert_eq(validate_with("evidence", json_pack("[s]", "x")), 400);
    json_t *big = json_object();
    json_object_set_new(big, "a", str_of('e', 16384));
    cr_assert_eq(validate_with("evidence", big), 400);
    json_t *ok = json_object();
    json_object_set_new(ok, "a", str_of('e', 16000));
    cr_assert_eq(validate_with("evidence", ok), 0);
}

Test(intake, callback_url)
{
    cr_assert_eq(validate_with("callback_url", json_string("ftp://x/y")), 400);
    cr_assert_eq(validate_with("callback_url", json_string("not a url")), 400);
    cr_assert_eq(validate_with("callback_url", json_string("http://")), 400);
    cr_assert_eq(validate_with("callback_url", json_integer(1)), 400);
    json_t *longurl = str_of('a', 520);
    char buf[600];
    snprintf(buf, sizeof buf, "https://%s", json_string_value(longurl));
    json_decref(longurl);
    cr_assert_eq(validate_with("callback_url", json_string(buf)), 400);
    cr_assert_eq(validate_with("callback_url", json_string("http://127.0.0.1:8080/cb?x=1")), 0);
}

Test(intake, unknown_field_and_non_object)
{
    rp_report_input in;
    char err[256];
    cr_assert_eq(validate_with("source", json_string("forum")), 400);
    json_t *arr = json_array();
    cr_assert_eq(rp_intake_validate(arr, &in, err, sizeof err), 400);
    json_decref(arr);
}

Test(intake, reporter_is_owner_is_422)
{
    cr_assert_eq(validate_with("reporter_id", json_string("u-42")), 422);
}

/* (v2) The keys of audit cases name no item. */
Test(intake, audit_key_prefix_is_reserved)
{
    cr_assert_eq(validate_with("target_id", json_string(RP_AUDIT_KEY_PREFIX "3f2b8c1e-9a4d-4e5f-8a6b-0c1d2e3f4a5b")),
                 422);
    cr_assert_eq(validate_with("target_id", json_string("sg:audit")), 0);
    cr_assert_eq(validate_with("target_id", json_string("listing:sg:audit:1")), 0);
}

/* (v2) An audit case: a report's fields without reporter and callback,
 * plus the expected verdict; the same checks and codes as a report. */
static json_t *valid_audit(void)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s}, s:s}", "report_type", "comment", "target_id",
                     "comment:9911", "target_owner_id", "u-42", "reason", "abuse", "description", "rude", "evidence",
                     "screenshot", "https://img/1", "expected_verdict", "violation");
}

static int audit_with(const char *field, json_t *value)
{
    json_t *b = valid_audit();
    rp_audit_input in;
    char err[256] = "";
    if (value)
        json_object_set_new(b, field, value);
    else
        json_object_del(b, field);
    int rc = rp_audit_validate(b, &in, err, sizeof err);
    if (rc)
        cr_assert(err[0], "a refusal says why");
    json_decref(b);
    return rc;
}

Test(audit, valid_audit_case)
{
    json_t *b = valid_audit();
    rp_audit_input in;
    char err[256];
    cr_assert_eq(rp_audit_validate(b, &in, err, sizeof err), 0, "%s", err);
    cr_assert_eq(in.expected, RP_VERDICT_VIOLATION);
    cr_assert_str_eq(in.report.reporter_id, RP_AUDIT_REPORTER);
    cr_assert_null(in.report.callback_url);
    cr_assert_str_eq(in.report.target_owner_id, "u-42");
    cr_assert_str_eq(in.report.reason, "abuse");
    cr_assert_not_null(in.report.evidence);
    json_decref(b);
    cr_assert_eq(audit_with("expected_verdict", json_string("no_violation")), 0);
    cr_assert_eq(audit_with("description", NULL), 0);
    cr_assert_eq(audit_with("evidence", NULL), 0);
}

Test(audit, refusals)
{
    const char *req[] = {"report_type", "target_id", "target_owner_id", "reason", "expected_verdict"};
    for (size_t i = 0; i < 5; i++)
        cr_assert_eq(audit_with(req[i], NULL), 400, "%s", req[i]);
    cr_assert_eq(audit_with("expected_verdict", json_string("maybe")), 400);
    cr_assert_eq(audit_with("expected_verdict", json_null()), 400);
    cr_assert_eq(audit_with("report_type", json_string("Comment")), 400);
    cr_assert_eq(audit_with("target_owner_id", json_string("has space")), 400);
    cr_assert_eq(audit_with("reason", str_of('r', 65)), 400);
    cr_assert_eq(audit_with("evidence", json_string("x")), 400);
    /* Nobody reports an audit case and it never calls back. */
    cr_assert_eq(audit_with("reporter_id", json_string("u-7")), 400);
    cr_assert_eq(audit_with("callback_url", json_string("https://forum.example/cb")), 400);
    cr_assert_eq(audit_with("target_owner_id", json_string(RP_AUDIT_REPORTER)), 422);
    cr_assert_eq(audit_with("target_id", json_string(RP_AUDIT_KEY_PREFIX "x")), 422);
}

Test(ratelimit, retry_after_is_the_rest_of_the_minute)
{
    cr_assert_eq(rp_ratelimit_retry_after(120), 60);
    cr_assert_eq(rp_ratelimit_retry_after(121), 59);
    cr_assert_eq(rp_ratelimit_retry_after(179), 1);
}
