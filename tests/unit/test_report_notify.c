/* Push management's pure decisions: template check and rendering, quiet
 * hours (across midnight, UTC offsets), the hourly cap, the back-off, the
 * dispatcher's decision, kinds and the delivery lifecycle. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "../../services/report/lifecycle.h"
#include "../../services/report/notify.h"

Test(notify, template_check_accepts_the_seven_placeholders)
{
    char err[200];
    cr_expect_eq(rp_template_check("{{kind}} {{report_type}} {{case_id}} {{deadline}} {{verdict}} {{tally}} "
                                   "{{appeal_deadline}}",
                                   err, sizeof err),
                 0, "%s", err);
    cr_expect_eq(rp_template_check("no placeholder at all, } and { alone", err, sizeof err), 0);
    cr_expect_eq(rp_template_check("", err, sizeof err), 0);
}

Test(notify, template_check_refuses_unknown_and_unterminated)
{
    char err[200];
    cr_expect_eq(rp_template_check("Hello {{name}}", err, sizeof err), -1);
    cr_expect(strstr(err, "{{name}}") != NULL, "%s", err);
    cr_expect_eq(rp_template_check("{{ kind }}", err, sizeof err), -1, "spaces are not part of a name");
    cr_expect_eq(rp_template_check("{{KIND}}", err, sizeof err), -1, "names are case-sensitive");
    cr_expect_eq(rp_template_check("{{kind", err, sizeof err), -1);
    cr_expect(strstr(err, "unterminated") != NULL, "%s", err);
    cr_expect_eq(rp_template_check("{{}}", err, sizeof err), -1);
    cr_expect_eq(rp_template_check(NULL, err, sizeof err), -1);
}

Test(notify, render_replaces_every_occurrence_and_null_is_empty)
{
    rp_notify_vars v = {"case_outcome", "comment", "c-1", NULL, "violation", "3:1", NULL};
    char *out = rp_template_render("{{verdict}} ({{tally}}) on {{case_id}}/{{case_id}} by {{deadline}}|{{kind}}", &v);
    cr_assert_not_null(out);
    cr_expect_str_eq(out, "violation (3:1) on c-1/c-1 by |case_outcome");
    free(out);
    out = rp_template_render("您的{{report_type}}的裁决：{{verdict}}。", &v);
    cr_expect_str_eq(out, "您的comment的裁决：violation。");
    free(out);
    cr_expect_null(rp_template_render("{{nope}}", &v), "an unchecked template is not rendered");
}

Test(notify, render_does_not_expand_values)
{
    rp_notify_vars v = {"k", "{{case_id}}", "c-1", NULL, NULL, NULL, NULL};
    char *out = rp_template_render("{{report_type}}", &v);
    cr_expect_str_eq(out, "{{case_id}}", "a value is copied, never rendered again");
    free(out);
}

Test(notify, kinds)
{
    rp_notify_kind k;
    for (int i = 0; i < RP_NK_COUNT; i++) {
        cr_expect_eq(rp_notify_kind_parse(rp_notify_kind_name((rp_notify_kind)i), &k), 0);
        cr_expect_eq((int)k, i);
    }
    cr_expect_eq(rp_notify_kind_parse("case_decided", &k), -1);
    cr_expect_eq(rp_notify_kind_mutable(RP_NK_BALLOT_ASSIGNED), 0);
    cr_expect_eq(rp_notify_kind_mutable(RP_NK_BALLOT_REMINDER), 0);
    cr_expect_eq(rp_notify_kind_mutable(RP_NK_CASE_OUTCOME), 1);
    cr_expect_eq(rp_notify_kind_mutable(RP_NK_BALLOT_EXPIRED), 1);
}

Test(notify, locales)
{
    cr_expect(rp_locale_ok("en"));
    cr_expect(rp_locale_ok("zh-CN"));
    cr_expect(rp_locale_ok("zh-Hant-TW"));
    cr_expect(!rp_locale_ok("e"));
    cr_expect(!rp_locale_ok("en-"));
    cr_expect(!rp_locale_ok("en_US"));
    cr_expect(!rp_locale_ok("a-b-c-d"));
    cr_expect(!rp_locale_ok(""));
    cr_expect(!rp_locale_ok(NULL));
}

Test(notify, hhmm)
{
    int m;
    char out[6];
    cr_expect_eq(rp_hhmm_parse("22:00", &m), 0);
    cr_expect_eq(m, 1320);
    cr_expect_eq(rp_hhmm_parse("00:00", &m), 0);
    cr_expect_eq(m, 0);
    cr_expect_eq(rp_hhmm_parse("23:59", &m), 0);
    cr_expect_eq(m, 1439);
    cr_expect_eq(rp_hhmm_parse("24:00", &m), -1);
    cr_expect_eq(rp_hhmm_parse("7:00", &m), -1);
    cr_expect_eq(rp_hhmm_parse("07:60", &m), -1);
    rp_hhmm_format(480, out);
    cr_expect_str_eq(out, "08:00");
}

/* 2026-01-01T00:00:00Z */
#define DAY0 1767225600L
#define AT(h, m) (DAY0 + (h) * 3600L + (m) * 60L)

Test(notify, quiet_hours_within_a_day)
{
    rp_quiet_hours q = {13 * 60, 14 * 60, 0};
    cr_expect_eq(rp_quiet_wait_s(AT(12, 59), &q), 0);
    cr_expect_eq(rp_quiet_wait_s(AT(13, 0), &q), 3600);
    cr_expect_eq(rp_quiet_wait_s(AT(13, 30), &q), 1800);
    cr_expect_eq(rp_quiet_wait_s(AT(14, 0), &q), 0, "the end minute is outside");
    cr_expect_eq(rp_quiet_wait_s(AT(13, 59) + 59, &q), 1);
}

Test(notify, quiet_hours_across_midnight)
{
    rp_quiet_hours q = {22 * 60, 8 * 60, 0};
    cr_expect_eq(rp_quiet_wait_s(AT(21, 59), &q), 0);
    cr_expect_eq(rp_quiet_wait_s(AT(22, 0), &q), 10 * 3600);
    cr_expect_eq(rp_quiet_wait_s(AT(23, 30), &q), 8 * 3600 + 1800);
    cr_expect_eq(rp_quiet_wait_s(AT(0, 0), &q), 8 * 3600);
    cr_expect_eq(rp_quiet_wait_s(AT(7, 59), &q), 60);
    cr_expect_eq(rp_quiet_wait_s(AT(8, 0), &q), 0);
    cr_expect_eq(rp_quiet_wait_s(AT(12, 0), &q), 0);
}

Test(notify, quiet_hours_with_offsets)
{
    /* 22:00-08:00 in UTC+8 is 14:00-00:00 UTC. */
    rp_quiet_hours cn = {22 * 60, 8 * 60, 480};
    cr_expect_eq(rp_quiet_wait_s(AT(13, 59), &cn), 0);
    cr_expect_eq(rp_quiet_wait_s(AT(14, 0), &cn), 10 * 3600);
    cr_expect_eq(rp_quiet_wait_s(AT(23, 0), &cn), 3600);
    cr_expect_eq(rp_quiet_wait_s(AT(0, 0), &cn), 0);
    /* 22:00-06:00 in UTC-5 is 03:00-11:00 UTC; at 01:00 UTC it is 20:00 local. */
    rp_quiet_hours ny = {22 * 60, 6 * 60, -300};
    cr_expect_eq(rp_quiet_wait_s(AT(1, 0), &ny), 0);
    cr_expect_eq(rp_quiet_wait_s(AT(3, 0), &ny), 8 * 3600);
    cr_expect_eq(rp_quiet_wait_s(AT(10, 30), &ny), 1800);
    /* UTC+14 and a local day that is the next UTC day. */
    rp_quiet_hours kiri = {0, 60, 840};
    cr_expect_eq(rp_quiet_wait_s(AT(10, 0), &kiri), 3600); /* 00:00 local */
    cr_expect_eq(rp_quiet_wait_s(AT(9, 59), &kiri), 0);
}

Test(notify, no_quiet_hours)
{
    rp_quiet_hours same = {600, 600, 0};
    cr_expect_eq(rp_quiet_wait_s(AT(10, 0), NULL), 0);
    cr_expect_eq(rp_quiet_wait_s(AT(10, 0), &same), 0);
}

Test(notify, hourly_cap)
{
    cr_expect(!rp_push_over_cap(0, 20));
    cr_expect(!rp_push_over_cap(19, 20));
    cr_expect(rp_push_over_cap(20, 20));
    cr_expect(rp_push_over_cap(21, 20));
    cr_expect(rp_push_over_cap(1, 1));
}

Test(notify, backoff_doubles_up_to_the_cap)
{
    cr_expect_eq(rp_push_backoff_s(1, 300), 1);
    cr_expect_eq(rp_push_backoff_s(2, 300), 2);
    cr_expect_eq(rp_push_backoff_s(3, 300), 4);
    cr_expect_eq(rp_push_backoff_s(9, 300), 256);
    cr_expect_eq(rp_push_backoff_s(10, 300), 300);
    cr_expect_eq(rp_push_backoff_s(100, 300), 300, "no overflow");
    cr_expect_eq(rp_push_backoff_s(5, 2), 2);
}

Test(notify, decide_order_mute_quiet_cap)
{
    rp_quiet_hours q = {22 * 60, 8 * 60, 0};
    long wait;
    cr_expect_eq(rp_push_decide(AT(23, 0), 1, &q, 0, 100, 20, &wait), RP_PUSH_DO_MUTE);
    cr_expect_eq(rp_push_decide(AT(23, 0), 0, &q, 0, 100, 20, &wait), RP_PUSH_DO_DEFER);
    cr_expect_eq(wait, 9 * 3600);
    cr_expect_eq(rp_push_decide(AT(12, 0), 0, &q, 0, 20, 20, &wait), RP_PUSH_DO_CAP);
    cr_expect_eq(wait, 0);
    cr_expect_eq(rp_push_decide(AT(12, 0), 0, &q, 1, 20, 20, &wait), RP_PUSH_DO_SEND, "a retry is counted once");
    cr_expect_eq(rp_push_decide(AT(12, 0), 0, NULL, 0, 19, 20, &wait), RP_PUSH_DO_SEND);
}

Test(notify, delivery_lifecycle)
{
    rp_push_status s;
    cr_expect(rp_push_transition_ok(RP_PUSH_PENDING, RP_PUSH_SENT));
    cr_expect(rp_push_transition_ok(RP_PUSH_PENDING, RP_PUSH_DEFERRED));
    cr_expect(rp_push_transition_ok(RP_PUSH_DEFERRED, RP_PUSH_SENT));
    cr_expect(rp_push_transition_ok(RP_PUSH_DEFERRED, RP_PUSH_PENDING));
    cr_expect(!rp_push_transition_ok(RP_PUSH_PENDING, RP_PUSH_PENDING));
    cr_expect(!rp_push_transition_ok(RP_PUSH_SENT, RP_PUSH_FAILED));
    cr_expect(!rp_push_transition_ok(RP_PUSH_CAPPED, RP_PUSH_SENT));
    cr_expect(!rp_push_transition_ok(RP_PUSH_MUTED, RP_PUSH_SENT));
    cr_expect(!rp_push_transition_ok(RP_PUSH_FAILED, RP_PUSH_PENDING));
    cr_expect(!rp_push_transition_ok((rp_push_status)99, RP_PUSH_SENT));
    cr_expect_eq(rp_push_status_parse("deferred", &s), 0);
    cr_expect_eq(s, RP_PUSH_DEFERRED);
    cr_expect_str_eq(rp_push_status_name(RP_PUSH_CAPPED), "capped");
    cr_expect_eq(rp_push_status_parse("delivered", &s), -1);
}
