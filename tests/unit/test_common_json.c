#include <criterion/criterion.h>
#include <string.h>

#include "sg/json.h"
#include "sg/timeutil.h"

static const sg_field report_fields[] = {
    {"report_type", SG_JT_STRING, 1, 1, 32, 0, 1},
    {"target_id", SG_JT_STRING, 1, 1, 128, 0, 1},
    {"description", SG_JT_STRING, 0, 0, 5, 0, 0},
    {"count", SG_JT_INT, 0, 1, 101, 0, 0},
    {"ratio", SG_JT_NUMBER, 0, 0, 1, 0, 0},
    {"free_int", SG_JT_INT, 0, 0, 0, 0, 0},
    {"paused", SG_JT_BOOL, 0, 0, 0, 0, 0},
    {"evidence", SG_JT_OBJECT, 0, 0, 20, 0, 0},
    {"items", SG_JT_ARRAY, 0, 1, 2, 0, 0},
    {"tags", SG_JT_STRING_ARRAY, 0, 0, 3, 4, 1},
};
#define NF (sizeof report_fields / sizeof report_fields[0])

/* Validates `text`; returns the message (empty when valid). */
static const char *check(const char *text)
{
    static char err[256];
    json_error_t je;
    json_t *o = json_loads(text, 0, &je);
    cr_assert_not_null(o, "bad test JSON %s: %s", text, je.text);
    err[0] = '\0';
    int rc = sg_json_validate(o, report_fields, NF, err, sizeof err);
    json_decref(o);
    cr_assert_eq(rc == 0, err[0] == '\0', "rc %d but message '%s'", rc, err);
    return err;
}

#define ACCEPT(text) cr_assert_str_empty(check(text), "%s refused: %s", text, check(text))
#define REFUSE(text, needle)                                                                                  \
    do {                                                                                                      \
        const char *m_ = check(text);                                                                         \
        cr_assert(strstr(m_, needle), "%s: message '%s' lacks '%s'", text, m_, needle);                      \
    } while (0)

Test(json_validate, accepts_minimal_and_full)
{
    ACCEPT("{\"report_type\":\"comment\",\"target_id\":\"c:1\"}");
    ACCEPT("{\"report_type\":\"comment\",\"target_id\":\"c:1\",\"description\":\"abc\",\"count\":101,"
           "\"ratio\":0.5,\"free_int\":-99999999,\"paused\":false,\"evidence\":{\"a\":1},\"items\":[1,{}],"
           "\"tags\":[\"ab\",\"\\u00e9t\\u00e9\"]}");
}

Test(json_validate, null_is_absent)
{
    ACCEPT("{\"report_type\":\"comment\",\"target_id\":\"c:1\",\"description\":null}");
    REFUSE("{\"report_type\":null,\"target_id\":\"c:1\"}", "'report_type' is required");
}

Test(json_validate, not_an_object)
{
    char err[128];
    json_t *a = json_array();
    cr_assert_eq(sg_json_validate(a, report_fields, NF, err, sizeof err), -1);
    cr_assert(strstr(err, "object"));
    json_decref(a);
}

Test(json_validate, unknown_field)
{
    REFUSE("{\"report_type\":\"x\",\"target_id\":\"y\",\"source\":\"me\"}", "unknown field 'source'");
}

Test(json_validate, missing_required)
{
    REFUSE("{\"report_type\":\"x\"}", "'target_id' is required");
}

Test(json_validate, wrong_types)
{
    REFUSE("{\"report_type\":1,\"target_id\":\"y\"}", "'report_type' must be a string");
    REFUSE("{\"report_type\":\"x\",\"target_id\":\"y\",\"count\":\"3\"}", "'count' must be an integer");
    REFUSE("{\"report_type\":\"x\",\"target_id\":\"y\",\"count\":3.0}", "'count' must be an integer");
    REFUSE("{\"report_type\":\"x\",\"target_id\":\"y\",\"ratio\":\"0.5\"}", "'ratio' must be a number");
    REFUSE("{\"report_type\":\"x\",\"target_id\":\"y\",\"paused\":0}", "'paused' must be a boolean");
    REFUSE("{\"report_type\":\"x\",\"target_id\":\"y\",\"evidence\":[]}", "'evidence' must be an object");
    REFUSE("{\"report_type\":\"x\",\"target_id\":\"y\",\"items\":{}}", "'items' must be an array");
    REFUSE("{\"report_type\":\"x\",\"target_id\":\"y\",\"tags\":\"a\"}", "'tags' must be an array of strings");
    REFUSE("{\"report_type\":\"x\",\"target_id\":\"y\",\"tags\":[\"a\",1]}", "'tags' element 1 must be a string");
}

Test(json_validate, ranges)
{
    REFUSE("{\"report_type\":\"x\",\"target_id\":\"y\",\"count\":0}", "between 1 and 101");
    REFUSE("{\"report_type\":\"x\",\"target_id\":\"y\",\"count\":102}", "between 1 and 101");
    ACCEPT("{\"report_type\":\"x\",\"target_id\":\"y\",\"ratio\":1}");
    REFUSE("{\"report_type\":\"x\",\"target_id\":\"y\",\"ratio\":1.01}", "between 0 and 1");
    REFUSE("{\"report_type\":\"x\",\"target_id\":\"y\",\"ratio\":-0.1}", "between 0 and 1");
    REFUSE("{\"report_type\":\"x\",\"target_id\":\"y\",\"items\":[]}", "1..2 elements");
    REFUSE("{\"report_type\":\"x\",\"target_id\":\"y\",\"items\":[1,2,3]}", "1..2 elements");
    REFUSE("{\"report_type\":\"x\",\"target_id\":\"y\",\"tags\":[\"a\",\"b\",\"c\",\"d\"]}", "0..3 elements");
    REFUSE("{\"report_type\":\"x\",\"target_id\":\"y\",\"tags\":[\"abcde\"]}", "element 0 must be 0..4 characters");
    /* {"a":"123456789012345"} is 23 bytes serialized */
    REFUSE("{\"report_type\":\"x\",\"target_id\":\"y\",\"evidence\":{\"a\":\"123456789012345\"}}", "at most 20 bytes");
}

Test(json_validate, string_length_counts_code_points)
{
    /* five 3-byte characters: 15 bytes, 5 code points */
    ACCEPT("{\"report_type\":\"x\",\"target_id\":\"y\",\"description\":\"\xe4\xbd\xa0\xe5\xa5\xbd\xe4\xb8\x96"
           "\xe7\x95\x8c\xef\xbc\x81\"}");
    /* 4-byte characters (emoji) */
    ACCEPT("{\"report_type\":\"x\",\"target_id\":\"y\",\"description\":\"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\"}");
    REFUSE("{\"report_type\":\"x\",\"target_id\":\"y\",\"description\":\"\xe4\xbd\xa0\xe5\xa5\xbd\xe4\xb8\x96"
           "\xe7\x95\x8c\xef\xbc\x81!\"}", "0..5 characters");
    REFUSE("{\"report_type\":\"\",\"target_id\":\"y\"}", "1..32 characters");
    cr_assert_eq(sg_utf8_len("\xe4\xbd\xa0" "a" "\xf0\x9f\x98\x80"), 3);
    cr_assert_eq(sg_utf8_len(""), 0);
}

Test(json_validate, printable)
{
    REFUSE("{\"report_type\":\"a\\nb\",\"target_id\":\"y\"}", "control characters");
    REFUSE("{\"report_type\":\"a\\u007fb\",\"target_id\":\"y\"}", "control characters");
    REFUSE("{\"report_type\":\"a\\u0085b\",\"target_id\":\"y\"}", "control characters");
    REFUSE("{\"report_type\":\"x\",\"target_id\":\"y\",\"tags\":[\"a\\tb\"]}", "control characters");
    /* not printable-checked: newlines are fine in a description */
    ACCEPT("{\"report_type\":\"x\",\"target_id\":\"y\",\"description\":\"a\\nb\"}");
}

Test(json_validate, embedded_nul_refused)
{
    char err[128];
    json_t *o = json_pack("{s:s, s:s%}", "report_type", "x", "target_id", "a\0b", (size_t)3);
    cr_assert_not_null(o);
    cr_assert_eq(sg_json_validate(o, report_fields, NF, err, sizeof err), -1);
    cr_assert(strstr(err, "'target_id'"), "%s", err);
    json_decref(o);
}

Test(json_utf8, valid)
{
    cr_assert(sg_utf8_valid("", 0));
    cr_assert(sg_utf8_valid("abc", 3));
    cr_assert(sg_utf8_valid("\xc3\xa9", 2));
    cr_assert(sg_utf8_valid("\xf4\x8f\xbf\xbf", 4));   /* U+10FFFF */
    cr_assert_not(sg_utf8_valid("\xff", 1));
    cr_assert_not(sg_utf8_valid("\xc3", 1));            /* truncated */
    cr_assert_not(sg_utf8_valid("\xc0\xaf", 2));        /* overlong '/' */
    cr_assert_not(sg_utf8_valid("\xed\xa0\x80", 3));    /* surrogate */
    cr_assert_not(sg_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    cr_assert_not(sg_utf8_valid("\xe4\xbd", 2));
}

Test(json_checks, uuid)
{
    cr_assert(sg_is_uuid("123e4567-e89b-12d3-a456-426614174000"));
    cr_assert(sg_is_uuid("123E4567-E89B-12D3-A456-426614174000"));
    cr_assert_not(sg_is_uuid("123e4567e89b12d3a456426614174000"));
    cr_assert_not(sg_is_uuid("123e4567-e89b-12d3-a456-42661417400"));
    cr_assert_not(sg_is_uuid("123e4567-e89b-12d3-a456-4266141740000"));
    cr_assert_not(sg_is_uuid("123e4567-e89b-12d3-a456_426614174000"));
    cr_assert_not(sg_is_uuid("g23e4567-e89b-12d3-a456-426614174000"));
    cr_assert_not(sg_is_uuid(""));
    cr_assert_not(sg_is_uuid(NULL));
}

Test(json_checks, opaque_id)
{
    char s[200];
    cr_assert(sg_is_opaque_id("u-42"));
    cr_assert(sg_is_opaque_id("comment:9911"));
    cr_assert(sg_is_opaque_id("\xe7\x94\xa8\xe6\x88\xb7"));
    cr_assert_not(sg_is_opaque_id(""));
    cr_assert_not(sg_is_opaque_id(NULL));
    cr_assert_not(sg_is_opaque_id("a b"));
    cr_assert_not(sg_is_opaque_id("a\tb"));
    cr_assert_not(sg_is_opaque_id("a\x7f"));
    cr_assert_not(sg_is_opaque_id("\xff"));
    memset(s, 'x', 128);
    s[128] = '\0';
    cr_assert(sg_is_opaque_id(s));
    s[128] = 'x';
    s[129] = '\0';
    cr_assert_not(sg_is_opaque_id(s));
}

Test(json_checks, opaque_id_counts_characters)
{
    char s[300];
    /* 128 two-byte characters are 128 characters */
    for (int i = 0; i < 128; i++)
        memcpy(s + 2 * i, "\xc3\xa9", 2);
    s[256] = '\0';
    cr_assert(sg_is_opaque_id(s));
    memcpy(s + 256, "\xc3\xa9", 3);
    cr_assert_not(sg_is_opaque_id(s));
}

Test(json_checks, rfc3339)
{
    cr_assert(sg_is_rfc3339("2026-11-22T10:00:00Z"));
    cr_assert(sg_is_rfc3339("2026-11-22t10:00:00z"));
    cr_assert(sg_is_rfc3339("2026-11-22T10:00:00.123456Z"));
    cr_assert(sg_is_rfc3339("2026-11-22T10:00:00+08:00"));
    cr_assert(sg_is_rfc3339("2026-11-22T10:00:00.5-05:30"));
    cr_assert(sg_is_rfc3339("2024-02-29T23:59:59Z"));
    cr_assert_not(sg_is_rfc3339("2023-02-29T00:00:00Z"));
    cr_assert_not(sg_is_rfc3339("1900-02-29T00:00:00Z"));
    cr_assert(sg_is_rfc3339("2000-02-29T00:00:00Z"));
    cr_assert_not(sg_is_rfc3339("2026-11-22 10:00:00Z"));
    cr_assert_not(sg_is_rfc3339("2026-11-22T10:00:00"));
    cr_assert_not(sg_is_rfc3339("2026-11-22T10:00Z"));
    cr_assert_not(sg_is_rfc3339("2026-13-01T00:00:00Z"));
    cr_assert_not(sg_is_rfc3339("2026-04-31T00:00:00Z"));
    cr_assert_not(sg_is_rfc3339("2026-11-22T24:00:00Z"));
    cr_assert_not(sg_is_rfc3339("2026-11-22T10:60:00Z"));
    cr_assert_not(sg_is_rfc3339("2026-11-22T10:00:60Z"));
    cr_assert_not(sg_is_rfc3339("0000-01-01T00:00:00Z"));
    cr_assert_not(sg_is_rfc3339("2026-11-22T10:00:00.Z"));
    cr_assert_not(sg_is_rfc3339("2026-11-22T10:00:00+0800"));
    cr_assert_not(sg_is_rfc3339("2026-11-22T10:00:00Zjunk"));
    cr_assert_not(sg_is_rfc3339("26-11-22T10:00:00Z"));
    cr_assert_not(sg_is_rfc3339(""));
    cr_assert_not(sg_is_rfc3339(NULL));
}

Test(json_checks, http_url)
{
    cr_assert(sg_is_http_url("http://example.com"));
    cr_assert(sg_is_http_url("https://example.com/cb?x=1#f"));
    cr_assert(sg_is_http_url("HTTPS://example.com:8443/cb"));
    cr_assert(sg_is_http_url("http://127.0.0.1:9/x"));
    cr_assert(sg_is_http_url("http://user:pw@host/x"));
    cr_assert(sg_is_http_url("http://[::1]:8080/x"));
    cr_assert_not(sg_is_http_url("ftp://example.com"));
    cr_assert_not(sg_is_http_url("http://"));
    cr_assert_not(sg_is_http_url("http:///path"));
    cr_assert_not(sg_is_http_url("http://:80/x"));
    cr_assert_not(sg_is_http_url("http://host:0/"));
    cr_assert_not(sg_is_http_url("http://host:65536/"));
    cr_assert_not(sg_is_http_url("http://host:/"));
    cr_assert_not(sg_is_http_url("http://host:8a/"));
    cr_assert_not(sg_is_http_url("http://ho st/"));
    cr_assert_not(sg_is_http_url("http://host/\x01"));
    cr_assert_not(sg_is_http_url("http://h\xc3\xa9st/"));
    cr_assert_not(sg_is_http_url("example.com"));
    cr_assert_not(sg_is_http_url("http://[::1/x"));
    cr_assert_not(sg_is_http_url(NULL));
}

Test(json_accessors, str_and_int)
{
    json_t *o = json_pack("{s:s, s:i, s:f}", "a", "x", "n", 42, "f", 1.5);
    cr_assert_str_eq(sg_json_str(o, "a"), "x");
    cr_assert_null(sg_json_str(o, "n"));
    cr_assert_null(sg_json_str(o, "missing"));
    cr_assert_eq(sg_json_int(o, "n", -1), 42);
    cr_assert_eq(sg_json_int(o, "a", -1), -1);
    cr_assert_eq(sg_json_int(o, "f", -1), -1);
    cr_assert_eq(sg_json_int(o, "missing", 7), 7);
    json_decref(o);
}

Test(json_checks, idempotency_key)
{
    char k[130];
    cr_assert(sg_idempotency_key_ok("a"));
    cr_assert(sg_idempotency_key_ok("abc-123"));
    cr_assert(sg_idempotency_key_ok("order-42/retry~!"));
    cr_assert_not(sg_idempotency_key_ok(NULL));
    cr_assert_not(sg_idempotency_key_ok(""));
    cr_assert_not(sg_idempotency_key_ok("a b"), "spaces are refused");
    cr_assert_not(sg_idempotency_key_ok(" "));
    cr_assert_not(sg_idempotency_key_ok("a\tb"));
    cr_assert_not(sg_idempotency_key_ok("a\x7f"));
    cr_assert_not(sg_idempotency_key_ok("caf\xc3\xa9"));
    memset(k, 'k', SG_IDEMPOTENCY_KEY_MAX);
    k[SG_IDEMPOTENCY_KEY_MAX] = '\0';
    cr_assert(sg_idempotency_key_ok(k));
    k[SG_IDEMPOTENCY_KEY_MAX] = 'k';
    k[SG_IDEMPOTENCY_KEY_MAX + 1] = '\0';
    cr_assert_not(sg_idempotency_key_ok(k));
}

Test(json_checks, seq_cursor)
{
    long long v = 7;
    cr_assert_eq(sg_parse_seq("42", &v), 0);
    cr_assert_eq(v, 42);
    cr_assert_eq(sg_parse_seq("1", &v), 0);
    cr_assert_eq(v, 1);
    cr_assert_eq(sg_parse_seq("9223372036854775807", &v), 0);
    cr_assert_eq(v, 9223372036854775807LL);
    v = 7;
    cr_assert_eq(sg_parse_seq("9223372036854775808", &v), -1);
    cr_assert_eq(sg_parse_seq("99999999999999999999", &v), -1);
    cr_assert_eq(sg_parse_seq("0", &v), -1);
    cr_assert_eq(sg_parse_seq("007", &v), -1);
    cr_assert_eq(sg_parse_seq("-1", &v), -1);
    cr_assert_eq(sg_parse_seq("+1", &v), -1);
    cr_assert_eq(sg_parse_seq(" 1", &v), -1);
    cr_assert_eq(sg_parse_seq("12a", &v), -1);
    cr_assert_eq(sg_parse_seq("", &v), -1);
    cr_assert_eq(sg_parse_seq(NULL, &v), -1);
    cr_assert_eq(v, 7, "untouched on failure");
}

/* The grammars every service uses (report types, tags) are these functions:
 * one copy, one set of cases. */
Test(grammar, report_types)
{
    cr_assert(sg_is_report_type("comment"));
    cr_assert(sg_is_report_type("seller_review2"));
    cr_assert(sg_is_report_type("a1_b2"));
    cr_assert(sg_is_report_type("abcdefghijklmnopqrstuvwxyz012345"));
    cr_assert_not(sg_is_report_type("abcdefghijklmnopqrstuvwxyz0123456"));
    cr_assert_not(sg_is_report_type(""));
    cr_assert_not(sg_is_report_type("Comment"));
    cr_assert_not(sg_is_report_type("forum-post"));
    cr_assert_not(sg_is_report_type("a:b"));
    cr_assert_not(sg_is_report_type(NULL));
}

Test(grammar, tags)
{
    char tag65[66];
    memset(tag65, 'a', 65);
    tag65[65] = '\0';
    cr_assert(sg_is_tag("a"));
    cr_assert(sg_is_tag("lang:zh-cn_2"));
    cr_assert_not(sg_is_tag(""));
    cr_assert_not(sg_is_tag("A"));
    cr_assert_not(sg_is_tag("VIP Member"));
    cr_assert_not(sg_is_tag("a b"));
    cr_assert_not(sg_is_tag("a,b"));
    cr_assert_not(sg_is_tag("\xe4\xb8\xad"));
    cr_assert_not(sg_is_tag(tag65));
    cr_assert_not(sg_is_tag(NULL));
    tag65[64] = '\0';
    cr_assert(sg_is_tag(tag65));
}

Test(grammar, rfc3339_instants)
{
    double a, b, c;
    cr_assert_eq(sg_time_parse("2026-11-22T10:00:00Z", &a), 0);
    cr_assert_eq(sg_time_parse("2026-11-22T12:00:00+02:00", &b), 0);
    cr_assert_eq(sg_time_parse("2026-11-22T10:00:00.250Z", &c), 0);
    cr_assert_float_eq(a, 1795341600.0, 1e-6);
    cr_assert_float_eq(a, b, 1e-6);
    cr_assert_float_eq(c - a, 0.25, 1e-9);
    /* What one service refused, every service refuses. */
    cr_assert_neq(sg_time_parse("2026-11-22 10:00:00Z", &a), 0, "space separator");
    cr_assert_neq(sg_time_parse("2026-11-22T10:00:60Z", &a), 0, "leap second");
    cr_assert_neq(sg_time_parse("0000-01-01T00:00:00Z", &a), 0, "year 0");
    cr_assert_neq(sg_time_parse("2026-11-22T10:00:00.1234567890Z", &a), 0, "10 fraction digits");
    cr_assert_neq(sg_time_parse("2026-11-22T10:00:00.Z", &a), 0);
    cr_assert_eq(sg_is_rfc3339("2026-11-22T10:00:00.123456789Z"), 1);
}
