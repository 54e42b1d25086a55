/* Voting rule validation; see rule.h. */
#include "rule.h"

#include <stdio.h>
#include <string.h>
#include "sg/json.h"

int rp_rule_panel_ok(int panel_size, int votes_to_decide)
{
    return panel_size >= 1 && panel_size <= RP_RULE_MAX_PANEL && votes_to_decide >= 1 &&
           votes_to_decide <= panel_size && 2 * votes_to_decide > panel_size;
}

const char *rp_rule_on_deadline_name(rp_rule_on_deadline d)
{
    return d == RP_RULE_ESCALATE ? "escalate" : "decide_by_votes_cast";
}

int rp_rule_on_deadline_parse(const char *s, rp_rule_on_deadline *out)
{
    if (s && strcmp(s, "decide_by_votes_cast") == 0) {
        *out = RP_RULE_DECIDE_BY_VOTES_CAST;
        return 0;
    }
    if (s && strcmp(s, "escalate") == 0) {
        *out = RP_RULE_ESCALATE;
        return 0;
    }
    return -1;
}

int rp_rule_check(const rp_rule *r, char *err, size_t errlen)
{
    if (!rp_rule_panel_ok(r->panel_size, r->votes_to_decide)) {
        snprintf(err, errlen,
                 "votes_to_decide (%d) must be a strict majority of panel_size (%d) and at most panel_size; "
                 "panel_size must be 1..%d",
                 r->votes_to_decide, r->panel_size, RP_RULE_MAX_PANEL);
        return -1;
    }
    if (!rp_rule_panel_ok(r->appeal_panel_size, r->appeal_votes_to_decide)) {
        snprintf(err, errlen,
                 "appeal_votes_to_decide (%d) must be a strict majority of appeal_panel_size (%d) and at most "
                 "appeal_panel_size; appeal_panel_size must be 1..%d",
                 r->appeal_votes_to_decide, r->appeal_panel_size, RP_RULE_MAX_PANEL);
        return -1;
    }
    if (r->ballot_timeout_s <= 0 || r->case_deadline_s <= 0 || r->appeal_window_s <= 0) {
        snprintf(err, errlen, "ballot_timeout_s, case_deadline_s and appeal_window_s must be > 0");
        return -1;
    }
    if (r->ballot_timeout_s > r->case_deadline_s) {
        snprintf(err, errlen, "ballot_timeout_s (%ld) must not exceed case_deadline_s (%ld)", r->ballot_timeout_s,
                 r->case_deadline_s);
        return -1;
    }
    if (r->reminder_before_s < 0 || r->reminder_before_s >= r->ballot_timeout_s) {
        snprintf(err, errlen, "reminder_before_s (%ld) must be >= 0 and < ballot_timeout_s (%ld)",
                 r->reminder_before_s, r->ballot_timeout_s);
        return -1;
    }
    if (r->min_votes_at_deadline < 1 || r->min_votes_at_deadline > r->panel_size) {
        snprintf(err, errlen, "min_votes_at_deadline (%d) must be 1..panel_size (%d)", r->min_votes_at_deadline,
                 r->panel_size);
        return -1;
    }
    if (r->re_report_cooldown_s < 0 || r->re_report_cooldown_s > RP_RULE_MAX_COOLDOWN_S) {
        snprintf(err, errlen, "re_report_cooldown_s must be 0..%ld", RP_RULE_MAX_COOLDOWN_S);
        return -1;
    }
    if (r->max_substitute_rounds < 0 || r->max_substitute_rounds > RP_RULE_MAX_SUBSTITUTE_ROUNDS) {
        snprintf(err, errlen, "max_substitute_rounds must be 0..%d", RP_RULE_MAX_SUBSTITUTE_ROUNDS);
        return -1;
    }
    return 0;
}

int rp_rule_parse(const json_t *body, rp_rule *out, char *err, size_t errlen)
{
    static const sg_field fields[] = {
        {"panel_size", SG_JT_INT, 1, 1, RP_RULE_MAX_PANEL},
        {"votes_to_decide", SG_JT_INT, 1, 1, RP_RULE_MAX_PANEL},
        {"ballot_timeout_s", SG_JT_INT, 1, 1, RP_RULE_MAX_DURATION_S},
        {"reminder_before_s", SG_JT_INT, 1, 0, RP_RULE_MAX_DURATION_S},
        {"max_substitute_rounds", SG_JT_INT, 1, 0, RP_RULE_MAX_SUBSTITUTE_ROUNDS},
        {"case_deadline_s", SG_JT_INT, 1, 1, RP_RULE_MAX_DURATION_S},
        {"on_deadline", SG_JT_STRING, 1, 1, 32, 0, 1},
        {"reviewer_tags", SG_JT_STRING_ARRAY, 0, 0, RP_RULE_MAX_TAGS, SG_TAG_MAX, 1},
        {"appeal_window_s", SG_JT_INT, 1, 1, RP_RULE_MAX_DURATION_S},
        {"appeal_panel_size", SG_JT_INT, 1, 1, RP_RULE_MAX_PANEL},
        {"appeal_votes_to_decide", SG_JT_INT, 1, 1, RP_RULE_MAX_PANEL},
        {"max_reports_per_case", SG_JT_INT, 0, 1, RP_RULE_MAX_REPORTS_PER_CASE},
        {"min_votes_at_deadline", SG_JT_INT, 0, 1, RP_RULE_MAX_PANEL},
        {"re_report_cooldown_s", SG_JT_INT, 0, 0, RP_RULE_MAX_COOLDOWN_S},
    };
    rp_rule r;
    memset(&r, 0, sizeof r);
    memset(out, 0, sizeof *out);

    if (sg_json_validate(body, fields, sizeof fields / sizeof fields[0], err, errlen))
        return -1;
    if (rp_rule_on_deadline_parse(sg_json_str(body, "on_deadline"), &r.on_deadline)) {
        snprintf(err, errlen, "field 'on_deadline' must be \"decide_by_votes_cast\" or \"escalate\"");
        return -1;
    }
    r.panel_size = (int)sg_json_int(body, "panel_size", 0);
    r.votes_to_decide = (int)sg_json_int(body, "votes_to_decide", 0);
    r.ballot_timeout_s = (long)sg_json_int(body, "ballot_timeout_s", 0);
    r.reminder_before_s = (long)sg_json_int(body, "reminder_before_s", 0);
    r.max_substitute_rounds = (int)sg_json_int(body, "max_substitute_rounds", 0);
    r.case_deadline_s = (long)sg_json_int(body, "case_deadline_s", 0);
    r.appeal_window_s = (long)sg_json_int(body, "appeal_window_s", 0);
    r.appeal_panel_size = (int)sg_json_int(body, "appeal_panel_size", 0);
    r.appeal_votes_to_decide = (int)sg_json_int(body, "appeal_votes_to_decide", 0);
    r.max_reports_per_case =
        (int)sg_json_int(body, "max_reports_per_case", RP_RULE_DEFAULT_MAX_REPORTS_PER_CASE);
    r.min_votes_at_deadline = (int)sg_json_int(body, "min_votes_at_deadline", r.votes_to_decide);
    r.re_report_cooldown_s = (long)sg_json_int(body, "re_report_cooldown_s", RP_RULE_DEFAULT_COOLDOWN_S);
    if (rp_rule_check(&r, err, errlen))
        return -1;

    const json_t *tags = json_object_get(body, "reviewer_tags");
    size_t i;
    const json_t *t;
    json_array_foreach(tags, i, t) {
        if (!sg_is_tag(json_string_value(t))) {
            snprintf(err, errlen, "field 'reviewer_tags' element %zu must be a tag matching [a-z0-9_:-]{1,64}", i);
            return -1;
        }
    }
    r.reviewer_tags = json_is_array(tags) ? json_deep_copy(tags) : json_array();
    if (!r.reviewer_tags) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *out = r;
    return 0;
}

void rp_rule_free(rp_rule *r)
{
    if (!r)
        return;
    json_decref(r->reviewer_tags);
    r->reviewer_tags = NULL;
}
