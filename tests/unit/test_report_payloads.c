/* Events of the report service: the encoders' exact bytes (key order and
 * nulls as reviewer and reward decode them) and the decoder of
 * sg.panel.assigned. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "../../services/report/payloads.h"

#define CID "0b7e6a2c-1d2f-4a51-9c3e-5f6a7b8c9d0e"

/* Compact text of j (freed here) equals want. */
static void expect_text(json_t *j, const char *want)
{
    cr_assert_not_null(j);
    char *got = json_dumps(j, JSON_COMPACT);
    cr_expect_str_eq(got, want);
    free(got);
    json_decref(j);
}

Test(payloads, panel_requested)
{
    json_t *tags = json_pack("[s]", "vip"), *ex = json_pack("[s, s]", "u1", "u2");
    rp_panel_requested e = {CID, 2, 3, "listing", tags, ex, "2026-01-02T03:04:05Z"};
    expect_text(rp_panel_requested_encode(&e),
                "{\"case_id\":\"" CID "\",\"round\":2,\"seats\":3,\"report_type\":\"listing\","
                "\"reviewer_tags\":[\"vip\"],\"exclude_user_ids\":[\"u1\",\"u2\"],"
                "\"deadline\":\"2026-01-02T03:04:05Z\"}");
    json_decref(tags);
    json_decref(ex);
}

Test(payloads, ballot_closed_every_outcome)
{
    const char *names[] = {"voted", "expired", "declined", "cancelled"};
    rp_ballot_status st[] = {RP_BALLOT_VOTED, RP_BALLOT_EXPIRED, RP_BALLOT_DECLINED, RP_BALLOT_CANCELLED};
    for (int i = 0; i < 4; i++) {
        rp_ballot_closed e = {CID, "r1", st[i]};
        char want[200];
        snprintf(want, sizeof want, "{\"case_id\":\"" CID "\",\"reviewer_id\":\"r1\",\"outcome\":\"%s\"}", names[i]);
        expect_text(rp_ballot_closed_encode(&e), want);
    }
    rp_ballot_closed open = {CID, "r1", RP_BALLOT_OPEN};
    cr_expect_null(rp_ballot_closed_encode(&open), "an open ballot is not closed");
}

Test(payloads, notification)
{
    rp_notification a = {"u1", "ballot_assigned", CID, "b1", "n1", "T", "B"},
                    b = {"u2", "report_outcome", CID, NULL, "n2", "T2", "B2"};
    expect_text(rp_notification_encode(&a),
                "{\"notification_id\":\"n1\",\"user_id\":\"u1\",\"kind\":\"ballot_assigned\",\"case_id\":\"" CID
                "\",\"ballot_id\":\"b1\",\"title\":\"T\",\"body\":\"B\"}");
    expect_text(rp_notification_encode(&b),
                "{\"notification_id\":\"n2\",\"user_id\":\"u2\",\"kind\":\"report_outcome\",\"case_id\":\"" CID
                "\",\"ballot_id\":null,\"title\":\"T2\",\"body\":\"B2\"}");
}

Test(payloads, push_request)
{
    json_t *data = json_pack("{s:s}", "case_id", CID);
    rp_push_request a = {"n1", "u1", "case_outcome", "T", "B", data}, b = {"n2", "u2", "ballot_expired", "T", "B", NULL};
    expect_text(rp_push_request_encode(&a),
                "{\"notification_id\":\"n1\",\"user_id\":\"u1\",\"kind\":\"case_outcome\",\"title\":\"T\","
                "\"body\":\"B\",\"data\":{\"case_id\":\"" CID "\"}}");
    expect_text(rp_push_request_encode(&b),
                "{\"notification_id\":\"n2\",\"user_id\":\"u2\",\"kind\":\"ballot_expired\",\"title\":\"T\","
                "\"body\":\"B\",\"data\":{}}");
    json_decref(data);
}

Test(payloads, case_decided_with_majority)
{
    json_t *rep = json_pack("[s]", "rep1");
    rp_decided_ballot bs[] = {{"r1", "voted", RP_VERDICT_VIOLATION},
                              {"r2", "voted", RP_VERDICT_NO_VIOLATION},
                              {"r3", "expired", RP_VERDICT_NONE}};
    rp_case_decided e = {CID, "listing", "t1", "own", RP_VERDICT_VIOLATION, "panel", NULL, rep, bs, 3,
                         "2026-11-22T10:00:00Z"};
    expect_text(rp_case_decided_encode(&e),
                "{\"case_id\":\"" CID "\",\"report_type\":\"listing\",\"target_id\":\"t1\",\"target_owner_id\":\"own\","
                "\"opened_at\":\"2026-11-22T10:00:00Z\",\"verdict\":\"violation\",\"decided_by\":\"panel\",\"appeal_of\":null,\"reporter_ids\":[\"rep1\"],"
                "\"ballots\":[{\"reviewer_id\":\"r1\",\"outcome\":\"voted\",\"decision\":\"violation\",\"with_majority\":true},"
                "{\"reviewer_id\":\"r2\",\"outcome\":\"voted\",\"decision\":\"no_violation\",\"with_majority\":false},"
                "{\"reviewer_id\":\"r3\",\"outcome\":\"expired\",\"decision\":null,\"with_majority\":false}]}");
    json_decref(rep);
}

Test(payloads, case_cancelled_has_null_verdict)
{
    rp_case_decided e = {CID, "listing", "t1", "own", RP_VERDICT_NONE, NULL, "1b7e6a2c-1d2f-4a51-9c3e-5f6a7b8c9d0e",
                         NULL, NULL, 0, "2026-11-22T10:00:00Z"};
    expect_text(rp_case_decided_encode(&e),
                "{\"case_id\":\"" CID "\",\"report_type\":\"listing\",\"target_id\":\"t1\",\"target_owner_id\":\"own\","
                "\"opened_at\":\"2026-11-22T10:00:00Z\",\"verdict\":null,\"decided_by\":null,\"appeal_of\":\"1b7e6a2c-1d2f-4a51-9c3e-5f6a7b8c9d0e\","
                "\"reporter_ids\":[],\"ballots\":[]}");
}

static int decode(const char *text, rp_panel_assigned *out, json_t **keep)
{
    char err[160];
    *keep = json_loads(text, 0, NULL);
    cr_assert_not_null(*keep, "%s", text);
    return rp_panel_assigned_decode(*keep, out, err, sizeof err);
}

Test(payloads, panel_assigned_decodes)
{
    rp_panel_assigned ev;
    json_t *j;
    cr_assert_eq(decode("{\"case_id\":\"" CID "\",\"round\":2,\"reviewer_ids\":[\"a\",\"b\"],\"shortfall\":1}", &ev, &j), 0);
    cr_expect_str_eq(ev.case_id, CID);
    cr_expect_eq(ev.round, 2);
    cr_expect_eq(json_array_size(ev.reviewer_ids), 2);
    cr_expect_eq(ev.shortfall, 1);
    json_decref(j);
    cr_assert_eq(decode("{\"case_id\":\"" CID "\",\"round\":1,\"reviewer_ids\":[]}", &ev, &j), 0);
    cr_expect_eq(ev.shortfall, 0, "absent shortfall is 0");
    json_decref(j);
}

Test(payloads, panel_assigned_refuses_malformed)
{
    const char *bad[] = {
        "{\"round\":1,\"reviewer_ids\":[]}",
        "{\"case_id\":\"nope\",\"round\":1,\"reviewer_ids\":[]}",
        "{\"case_id\":\"" CID "\",\"reviewer_ids\":[]}",
        "{\"case_id\":\"" CID "\",\"round\":0,\"reviewer_ids\":[]}",
        "{\"case_id\":\"" CID "\",\"round\":1001,\"reviewer_ids\":[]}",
        "{\"case_id\":\"" CID "\",\"round\":\"1\",\"reviewer_ids\":[]}",
        "{\"case_id\":\"" CID "\",\"round\":1}",
        "{\"case_id\":\"" CID "\",\"round\":1,\"reviewer_ids\":\"a\"}",
        "{\"case_id\":\"" CID "\",\"round\":1,\"reviewer_ids\":[1]}",
        "{\"case_id\":\"" CID "\",\"round\":1,\"reviewer_ids\":[\"\"]}",
        "{\"case_id\":\"" CID "\",\"round\":1,\"reviewer_ids\":[],\"shortfall\":-1}",
        "{\"case_id\":\"" CID "\",\"round\":1,\"reviewer_ids\":[],\"shortfall\":1001}",
        "{\"case_id\":\"" CID "\",\"round\":1,\"reviewer_ids\":[],\"shortfall\":null}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rp_panel_assigned ev;
        json_t *j;
        cr_expect_eq(decode(bad[i], &ev, &j), -1, "%s", bad[i]);
        json_decref(j);
    }
}

/* sg.case.outcome and the callback body: fixed key order, the tally, no
 * juror id, nulls where the case has no value yet. */
Test(payloads, case_outcome_decided_and_escalated)
{
    json_t *ids = json_pack("[s]", "r-1");
    rp_case_outcome_ev e = {"decided", CID, "listing", "item-1", "own-1", "decided", RP_VERDICT_VIOLATION, "panel",
                            0, 1, 3, 1, "2026-01-02T03:04:05Z", "2026-01-05T03:04:05Z", NULL, ids, 1};
    expect_text(rp_case_outcome_encode(&e),
                "{\"kind\":\"decided\",\"case_id\":\"" CID "\",\"report_type\":\"listing\",\"target_id\":\"item-1\","
                "\"target_owner_id\":\"own-1\",\"status\":\"decided\",\"verdict\":\"violation\",\"decided_by\":\"panel\","
                "\"final\":false,\"tally\":{\"violation\":3,\"no_violation\":1},\"decided_at\":\"2026-01-02T03:04:05Z\","
                "\"appeal_deadline\":\"2026-01-05T03:04:05Z\",\"appeal_of\":null,\"report_ids\":[\"r-1\"],"
                "\"report_count\":1}");
    rp_case_outcome_ev x = {"escalated", CID, "listing", "item-1", "own-1", "escalated", RP_VERDICT_NONE, NULL,
                            0, 0, 2, 2, NULL, NULL, NULL, NULL, 1200};
    expect_text(rp_case_outcome_encode(&x),
                "{\"kind\":\"escalated\",\"case_id\":\"" CID "\",\"report_type\":\"listing\",\"target_id\":\"item-1\","
                "\"target_owner_id\":\"own-1\",\"status\":\"escalated\",\"verdict\":null,\"decided_by\":null,"
                "\"final\":false,\"tally\":null,\"decided_at\":null,\"appeal_deadline\":null,\"appeal_of\":null,"
                "\"report_ids\":[],\"report_count\":1200}");
    json_decref(ids);
}

/* (v2) sg.case.finalized: the final verdict, who made it final, the
 * appeal that did (null when the window closed), and whether it is an
 * audit case with its expected verdict (false and null otherwise). */
Test(payloads, case_finalized)
{
    rp_case_finalized w = {CID, RP_VERDICT_VIOLATION, "window", NULL};
    expect_text(rp_case_finalized_encode(&w), "{\"case_id\":\"" CID "\",\"final_verdict\":\"violation\","
                                              "\"finalized_by\":\"window\",\"appeal_case_id\":null,"
                                              "\"audit\":false,\"expected_verdict\":null}");
    rp_case_finalized a = {CID, RP_VERDICT_NO_VIOLATION, "appeal", "1b7e6a2c-1d2f-4a51-9c3e-5f6a7b8c9d0e"};
    expect_text(rp_case_finalized_encode(&a), "{\"case_id\":\"" CID "\",\"final_verdict\":\"no_violation\","
                                              "\"finalized_by\":\"appeal\","
                                              "\"appeal_case_id\":\"1b7e6a2c-1d2f-4a51-9c3e-5f6a7b8c9d0e\","
                                              "\"audit\":false,\"expected_verdict\":null}");
    rp_case_finalized none = {CID, RP_VERDICT_NONE, "window", NULL};
    cr_assert_null(rp_case_finalized_encode(&none), "a final case has a verdict");
    /* A case from upstream never names an expected verdict. */
    rp_case_finalized stray = {CID, RP_VERDICT_VIOLATION, "window", NULL, 0, RP_VERDICT_NO_VIOLATION};
    expect_text(rp_case_finalized_encode(&stray), "{\"case_id\":\"" CID "\",\"final_verdict\":\"violation\","
                                                  "\"finalized_by\":\"window\",\"appeal_case_id\":null,"
                                                  "\"audit\":false,\"expected_verdict\":null}");
}

/* (v2) An audit case is final at its decision: audit true and the expected
 * verdict, which need not be the final one; without one it is refused. */
Test(payloads, case_finalized_audit)
{
    rp_case_finalized d = {CID, RP_VERDICT_NO_VIOLATION, "decision", NULL, 1, RP_VERDICT_VIOLATION};
    expect_text(rp_case_finalized_encode(&d), "{\"case_id\":\"" CID "\",\"final_verdict\":\"no_violation\","
                                              "\"finalized_by\":\"decision\",\"appeal_case_id\":null,"
                                              "\"audit\":true,\"expected_verdict\":\"violation\"}");
    rp_case_finalized o = {CID, RP_VERDICT_VIOLATION, "ops", NULL, 1, RP_VERDICT_VIOLATION};
    expect_text(rp_case_finalized_encode(&o), "{\"case_id\":\"" CID "\",\"final_verdict\":\"violation\","
                                              "\"finalized_by\":\"ops\",\"appeal_case_id\":null,"
                                              "\"audit\":true,\"expected_verdict\":\"violation\"}");
    rp_case_finalized bad = {CID, RP_VERDICT_VIOLATION, "decision", NULL, 1, RP_VERDICT_NONE};
    cr_assert_null(rp_case_finalized_encode(&bad), "an audit case has an expected verdict");
}

static int decode_status(const char *text, rp_reviewer_status_changed *out, json_t **keep)
{
    char err[160];
    *keep = json_loads(text, 0, NULL);
    cr_assert_not_null(*keep, "%s", text);
    return rp_reviewer_status_decode(*keep, out, err, sizeof err);
}

/* (v2) sg.reviewer.status_changed: suspended and retired act, any other
 * status is well-formed and ignored. */
Test(payloads, reviewer_status_decodes)
{
    rp_reviewer_status_changed ev;
    json_t *j;
    cr_assert_eq(decode_status("{\"user_id\":\"u-1\",\"status\":\"suspended\",\"reason\":\"low accuracy\"}",
                               &ev, &j),
                 0);
    cr_expect_str_eq(ev.user_id, "u-1");
    cr_expect_eq(ev.kind, RP_REVIEWER_SUSPENDED);
    cr_expect_str_eq(ev.reason, "low accuracy");
    json_decref(j);
    cr_assert_eq(decode_status("{\"user_id\":\"u-1\",\"status\":\"retired\",\"reason\":null}", &ev, &j), 0);
    cr_expect_eq(ev.kind, RP_REVIEWER_RETIRED);
    cr_expect_null(ev.reason);
    json_decref(j);
    cr_assert_eq(decode_status("{\"user_id\":\"u-1\",\"status\":\"paused\"}", &ev, &j), 0);
    cr_expect_eq(ev.kind, RP_REVIEWER_OTHER);
    json_decref(j);
    const char *bad[] = {"{\"status\":\"suspended\"}", "{\"user_id\":\"\",\"status\":\"suspended\"}",
                         "{\"user_id\":\"u-1\"}", "{\"user_id\":\"u-1\",\"status\":1}",
                         "{\"user_id\":\"u-1\",\"status\":\"suspended\",\"reason\":5}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_expect_eq(decode_status(bad[i], &ev, &j), -1, "%s", bad[i]);
        json_decref(j);
    }
}
