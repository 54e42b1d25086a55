/* Decoding of the events the reward service consumes; see payloads.h. */
#include "payloads.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sg/json.h"
#include "sg/timeutil.h"

static int parse_verdict(const json_t *v, rw_verdict *out)
{
    if (!v || json_is_null(v)) {
        *out = RW_VERDICT_NONE;
        return 0;
    }
    if (!json_is_string(v))
        return -1;
    if (strcmp(json_string_value(v), "violation") == 0)
        *out = RW_VERDICT_VIOLATION;
    else if (strcmp(json_string_value(v), "no_violation") == 0)
        *out = RW_VERDICT_NO_VIOLATION;
    else
        return -1;
    return 0;
}

/* One ballot; the decision, when given, must be a verdict value. */
static int parse_ballot(const json_t *b, rw_verdict verdict, rw_ballot *out, char *err, size_t errlen)
{
    const char *reviewer = sg_json_str(b, "reviewer_id");
    const json_t *outcome = json_object_get(b, "outcome");
    const json_t *decision = json_object_get(b, "decision");
    const json_t *with = json_object_get(b, "with_majority");
    rw_verdict d = RW_VERDICT_NONE;

    if (!json_is_object(b) || !sg_is_opaque_id(reviewer)) {
        snprintf(err, errlen, "ballot without a valid reviewer_id");
        return -1;
    }
    if (!json_is_string(outcome)) {
        snprintf(err, errlen, "ballot of %s: outcome must be a string", reviewer);
        return -1;
    }
    if (parse_verdict(decision, &d) != 0) {
        snprintf(err, errlen, "ballot of %s: decision must be violation, no_violation or null", reviewer);
        return -1;
    }
    if (with && !json_is_null(with) && !json_is_boolean(with)) {
        snprintf(err, errlen, "ballot of %s: with_majority must be a boolean or null", reviewer);
        return -1;
    }
    out->reviewer_id = reviewer;
    out->voted = strcmp(json_string_value(outcome), "voted") == 0;
    /* The report service states with_majority; older producers may not, and
     * then "with the majority" can only mean "agreed with the verdict". */
    if (json_is_boolean(with))
        out->with_majority = json_is_true(with);
    else
        out->with_majority = d != RW_VERDICT_NONE && d == verdict;
    /* Settlement pays by the vote cast; a voted ballot without its decision
     * can only be told apart by with_majority. */
    out->decision = RW_VERDICT_NONE;
    if (out->voted && d != RW_VERDICT_NONE)
        out->decision = d;
    else if (out->voted && verdict != RW_VERDICT_NONE)
        out->decision = out->with_majority ? verdict
                        : verdict == RW_VERDICT_VIOLATION ? RW_VERDICT_NO_VIOLATION : RW_VERDICT_VIOLATION;
    return 0;
}

int rw_decision_parse(const json_t *payload, rw_decision *out, char *err, size_t errlen)
{
    const json_t *reporters, *ballots;
    rw_decision d = {0};

    if (!json_is_object(payload)) {
        snprintf(err, errlen, "payload is not an object");
        return -1;
    }
    d.case_id = sg_json_str(payload, "case_id");
    d.report_type = sg_json_str(payload, "report_type");
    d.occurred_at = sg_json_str(payload, "occurred_at");
    d.opened_at = sg_json_str(payload, "opened_at");
    if (!sg_is_opaque_id(d.case_id)) {
        snprintf(err, errlen, "case_id missing or not an id");
        return -1;
    }
    const json_t *appeal_of = json_object_get(payload, "appeal_of");
    if (appeal_of && !json_is_null(appeal_of)) {
        d.appeal_of = json_string_value(appeal_of);
        if (!sg_is_opaque_id(d.appeal_of) || strcmp(d.appeal_of, d.case_id) == 0) {
            snprintf(err, errlen, "appeal_of must be null or the id of another case");
            return -1;
        }
    }
    if (!sg_is_report_type(d.report_type)) {
        snprintf(err, errlen, "report_type missing or not [a-z0-9_]{1,32}");
        return -1;
    }
    if (d.occurred_at && !sg_is_rfc3339(d.occurred_at))
        d.occurred_at = NULL;
    if (d.opened_at && !sg_is_rfc3339(d.opened_at))
        d.opened_at = NULL;
    if (parse_verdict(json_object_get(payload, "verdict"), &d.verdict) != 0) {
        snprintf(err, errlen, "verdict must be violation, no_violation or null");
        return -1;
    }
    reporters = json_object_get(payload, "reporter_ids");
    ballots = json_object_get(payload, "ballots");
    if (reporters && !json_is_null(reporters) &&
        (!json_is_array(reporters) || json_array_size(reporters) > RW_MAX_REPORTERS)) {
        snprintf(err, errlen, "reporter_ids must be an array of at most %d ids", RW_MAX_REPORTERS);
        return -1;
    }
    if (ballots && !json_is_null(ballots) &&
        (!json_is_array(ballots) || json_array_size(ballots) > RW_MAX_BALLOTS)) {
        snprintf(err, errlen, "ballots must be an array of at most %d ballots", RW_MAX_BALLOTS);
        return -1;
    }

    size_t nr = json_is_array(reporters) ? json_array_size(reporters) : 0;
    size_t nb = json_is_array(ballots) ? json_array_size(ballots) : 0;
    int rc = -1;
    if ((nr && !(d.reporter_ids = calloc(nr, sizeof *d.reporter_ids))) ||
        (nb && !(d.ballots = calloc(nb, sizeof *d.ballots)))) {
        snprintf(err, errlen, "out of memory");
        rc = -2;
        goto cleanup;
    }
    for (size_t i = 0; i < nr; i++) {
        const char *id = json_string_value(json_array_get(reporters, i));
        if (!sg_is_opaque_id(id)) {
            snprintf(err, errlen, "reporter_ids[%zu] is not an id", i);
            goto cleanup;
        }
        d.reporter_ids[d.nreporters++] = id;
    }
    for (size_t i = 0; i < nb; i++) {
        if (parse_ballot(json_array_get(ballots, i), d.verdict, &d.ballots[i], err, errlen) != 0)
            goto cleanup;
        d.nballots++;
    }
    *out = d;
    return 0;
cleanup:
    rw_decision_free(&d);
    return rc;
}

const char *rw_decision_reported_case(const rw_decision *d)
{
    return d->appeal_of ? d->appeal_of : d->case_id;
}

void rw_decision_free(rw_decision *d)
{
    free(d->reporter_ids);
    free(d->ballots);
    d->reporter_ids = NULL;
    d->ballots = NULL;
    d->nreporters = d->nballots = 0;
}

const char *rw_verdict_name(rw_verdict v)
{
    switch (v) {
    case RW_VERDICT_VIOLATION: return "violation";
    case RW_VERDICT_NO_VIOLATION: return "no_violation";
    case RW_VERDICT_NONE: break;
    }
    return NULL;
}

rw_verdict rw_verdict_from(const char *s)
{
    if (s && strcmp(s, "violation") == 0)
        return RW_VERDICT_VIOLATION;
    if (s && strcmp(s, "no_violation") == 0)
        return RW_VERDICT_NO_VIOLATION;
    return RW_VERDICT_NONE;
}

static int is_word(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 32)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_'))
            return 0;
    return 1;
}

int rw_finalization_parse(const json_t *payload, rw_finalization *out, char *err, size_t errlen)
{
    rw_finalization f = {0};

    if (!json_is_object(payload)) {
        snprintf(err, errlen, "payload is not an object");
        return -1;
    }
    f.case_id = sg_json_str(payload, "case_id");
    if (!sg_is_opaque_id(f.case_id)) {
        snprintf(err, errlen, "case_id missing or not an id");
        return -1;
    }
    if (parse_verdict(json_object_get(payload, "final_verdict"), &f.final_verdict) != 0 ||
        f.final_verdict == RW_VERDICT_NONE) {
        snprintf(err, errlen, "final_verdict must be violation or no_violation");
        return -1;
    }
    f.bonus_verdict = f.final_verdict;
    if (json_is_true(json_object_get(payload, "audit"))) {
        rw_verdict expected;
        if (parse_verdict(json_object_get(payload, "expected_verdict"), &expected) != 0) {
            snprintf(err, errlen, "expected_verdict must be violation, no_violation or null");
            return -1;
        }
        if (expected != RW_VERDICT_NONE)
            f.bonus_verdict = expected;
    }
    const json_t *by = json_object_get(payload, "finalized_by");
    if (by && !json_is_null(by)) {
        f.finalized_by = json_string_value(by);
        if (!is_word(f.finalized_by)) {
            snprintf(err, errlen, "finalized_by must be a word such as window, appeal or ops");
            return -1;
        }
    }
    const json_t *appeal = json_object_get(payload, "appeal_case_id");
    if (appeal && !json_is_null(appeal)) {
        f.appeal_case_id = json_string_value(appeal);
        if (!sg_is_opaque_id(f.appeal_case_id)) {
            snprintf(err, errlen, "appeal_case_id must be null or a case id");
            return -1;
        }
    }
    f.occurred_at = sg_json_str(payload, "occurred_at");
    if (f.occurred_at && !sg_is_rfc3339(f.occurred_at))
        f.occurred_at = NULL;
    *out = f;
    return 0;
}
