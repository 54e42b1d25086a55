/* Events of the report service; see payloads.h. */
#include "payloads.h"

#include <stdio.h>
#include <string.h>
#include "sg/json.h"

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* A copy of an array of strings; an empty array for NULL. */
static json_t *strings(const json_t *a)
{
    return a ? json_deep_copy(a) : json_array();
}

json_t *rp_panel_requested_encode(const rp_panel_requested *e)
{
    return json_pack("{s:s, s:i, s:i, s:s, s:o, s:o, s:s}", "case_id", e->case_id, "round", e->round, "seats",
                     e->seats, "report_type", e->report_type, "reviewer_tags", strings(e->reviewer_tags),
                     "exclude_user_ids", strings(e->exclude_user_ids), "deadline", e->deadline);
}

json_t *rp_ballot_closed_encode(const rp_ballot_closed *e)
{
    const char *outcome = e->outcome == RP_BALLOT_OPEN ? NULL : rp_ballot_status_name(e->outcome);
    if (!outcome)
        return NULL;
    return json_pack("{s:s, s:s, s:s}", "case_id", e->case_id, "reviewer_id", e->reviewer_id, "outcome", outcome);
}

json_t *rp_notification_encode(const rp_notification *e)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o}", "notification_id", e->notification_id, "user_id",
                     e->user_id, "kind", e->kind, "case_id", e->case_id, "ballot_id", str_or_null(e->ballot_id),
                     "title", str_or_null(e->title), "body", str_or_null(e->body));
}

json_t *rp_push_request_encode(const rp_push_request *e)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "notification_id", e->notification_id, "user_id", e->user_id,
                     "kind", e->kind, "title", e->title, "body", e->body, "data",
                     e->data ? json_deep_copy(e->data) : json_object());
}

json_t *rp_case_decided_encode(const rp_case_decided *e)
{
    json_t *ballots = json_array(), *out;
    for (size_t i = 0; ballots && i < e->nballots; i++) {
        const rp_decided_ballot *b = &e->ballots[i];
        json_t *jb = json_pack("{s:s, s:s, s:o, s:b}", "reviewer_id", b->reviewer_id, "outcome", b->outcome,
                               "decision", str_or_null(rp_verdict_name(b->decision)), "with_majority",
                               rp_with_majority(b->decision, e->verdict));
        if (!jb || json_array_append_new(ballots, jb)) {
            json_decref(ballots);
            return NULL;
        }
    }
    if (!ballots)
        return NULL;
    out = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "case_id", e->case_id, "report_type",
                    e->report_type, "target_id", e->target_id, "target_owner_id", e->target_owner_id, "opened_at",
                    str_or_null(e->opened_at), "verdict", str_or_null(rp_verdict_name(e->verdict)), "decided_by",
                    str_or_null(e->decided_by), "appeal_of", str_or_null(e->appeal_of), "reporter_ids",
                    strings(e->reporter_ids), "ballots", ballots);
    return out;
}

json_t *rp_case_outcome_encode(const rp_case_outcome_ev *e)
{
    json_t *tally = e->has_tally ? json_pack("{s:i, s:i}", "violation", e->tally_violation, "no_violation",
                                             e->tally_no_violation)
                                 : json_null();
    if (!tally)
        return NULL;
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:b, s:o, s:o, s:o, s:o, s:o, s:I}", "kind",
                     e->kind, "case_id", e->case_id, "report_type", e->report_type, "target_id", e->target_id,
                     "target_owner_id", e->target_owner_id, "status", e->status, "verdict",
                     str_or_null(rp_verdict_name(e->verdict)), "decided_by", str_or_null(e->decided_by), "final",
                     e->final, "tally", tally, "decided_at", str_or_null(e->decided_at), "appeal_deadline",
                     str_or_null(e->appeal_deadline), "appeal_of", str_or_null(e->appeal_of), "report_ids",
                     strings(e->report_ids), "report_count", (json_int_t)e->report_count);
}

json_t *rp_case_finalized_encode(const rp_case_finalized *e)
{
    const char *v = rp_verdict_name(e->final_verdict);
    const char *expected = e->audit ? rp_verdict_name(e->expected_verdict) : NULL;
    if (!v || !e->finalized_by || (e->audit && !expected))
        return NULL;
    return json_pack("{s:s, s:s, s:s, s:o, s:b, s:o}", "case_id", e->case_id, "final_verdict", v, "finalized_by",
                     e->finalized_by, "appeal_case_id", str_or_null(e->appeal_case_id), "audit", e->audit ? 1 : 0,
                     "expected_verdict", str_or_null(expected));
}

int rp_reviewer_status_decode(const json_t *p, rp_reviewer_status_changed *out, char *err, size_t errlen)
{
    const char *user = sg_json_str(p, "user_id"), *status = sg_json_str(p, "status");
    const json_t *reason = json_object_get(p, "reason");

    if (!sg_is_opaque_id(user)) {
        snprintf(err, errlen, "user_id must be an id");
        return -1;
    }
    if (!status || !status[0] || strlen(status) > 32) {
        snprintf(err, errlen, "status must be a string of 1..32 characters");
        return -1;
    }
    if (reason && !json_is_string(reason) && !json_is_null(reason)) {
        snprintf(err, errlen, "reason must be a string or null");
        return -1;
    }
    out->user_id = user;
    out->status = status;
    out->kind = strcmp(status, "suspended") == 0 ? RP_REVIEWER_SUSPENDED
                : strcmp(status, "retired") == 0 ? RP_REVIEWER_RETIRED
                                                  : RP_REVIEWER_OTHER;
    out->reason = json_string_value(reason);
    return 0;
}

int rp_panel_assigned_decode(const json_t *p, rp_panel_assigned *out, char *err, size_t errlen)
{
    const json_t *ids = json_object_get(p, "reviewer_ids");
    const json_t *jround = json_object_get(p, "round"), *jshort = json_object_get(p, "shortfall");
    const char *case_id = sg_json_str(p, "case_id");
    size_t i;
    const json_t *id;

    if (!sg_is_uuid(case_id)) {
        snprintf(err, errlen, "case_id must be a UUID");
        return -1;
    }
    if (!json_is_integer(jround) || json_integer_value(jround) < 1 ||
        json_integer_value(jround) > RP_PANEL_MAX_ROUND) {
        snprintf(err, errlen, "round must be an integer 1..%d", RP_PANEL_MAX_ROUND);
        return -1;
    }
    if (!json_is_array(ids) || json_array_size(ids) > RP_PANEL_MAX_IDS) {
        snprintf(err, errlen, "reviewer_ids must be an array of at most %d ids", RP_PANEL_MAX_IDS);
        return -1;
    }
    if (jshort && (!json_is_integer(jshort) || json_integer_value(jshort) < 0 ||
                   json_integer_value(jshort) > RP_PANEL_MAX_IDS)) {
        snprintf(err, errlen, "shortfall must be an integer 0..%d", RP_PANEL_MAX_IDS);
        return -1;
    }
    json_array_foreach(ids, i, id) {
        if (!sg_is_opaque_id(json_string_value(id))) {
            snprintf(err, errlen, "reviewer_ids[%zu] is not an id", i);
            return -1;
        }
    }
    out->case_id = case_id;
    out->round = (int)json_integer_value(jround);
    out->reviewer_ids = ids;
    out->shortfall = jshort ? (int)json_integer_value(jshort) : 0;
    return 0;
}
