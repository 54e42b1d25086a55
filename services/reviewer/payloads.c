/* See payloads.h. */
#include "payloads.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sg/json.h"
#include "sg/timeutil.h"

#define NFIELDS(a) (sizeof(a) / sizeof((a)[0]))

static int check_batch_array(const json_t *arr, char *err, size_t errlen)
{
    if (!json_is_array(arr)) {
        snprintf(err, errlen, "body must be a JSON array");
        return -1;
    }
    if (json_array_size(arr) == 0 || json_array_size(arr) > RV_BATCH_MAX) {
        snprintf(err, errlen, "body must hold 1..%d elements", RV_BATCH_MAX);
        return -1;
    }
    return 0;
}

typedef struct id_at {
    const char *id;
    size_t at;
} id_at;

static int cmp_id_at(const void *a, const void *b)
{
    const id_at *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->at > y->at) - (x->at < y->at);
}

/* Finds a repeated id; returns 1 and the two indices. */
static int find_duplicate(const char **ids, size_t n, size_t *first, size_t *second)
{
    int found = 0;
    id_at *v = malloc(n * sizeof(*v));
    if (!v)
        return 0;
    for (size_t i = 0; i < n; i++)
        v[i] = (id_at){ids[i], i};
    qsort(v, n, sizeof(*v), cmp_id_at);
    *second = n;
    for (size_t i = 1; i < n; i++) {
        if (strcmp(v[i - 1].id, v[i].id) == 0 && v[i].at < *second) {
            *first = v[i - 1].at;
            *second = v[i].at;
            found = 1;
        }
    }
    free(v);
    return found;
}

void rv_profile_batch_free(rv_profile_batch *b)
{
    for (size_t i = 0; b->tags_csv && i < b->n; i++)
        free(b->tags_csv[i]);
    free(b->user_ids);
    free(b->tags_csv);
    free(b->credit_scores);
    free(b->registered_at);
    memset(b, 0, sizeof(*b));
}

int rv_profiles_parse(const json_t *arr, rv_profile_batch *out, char *err, size_t errlen)
{
    static const sg_field f[] = {
        {"user_id", SG_JT_STRING, 1, 1, 128, 0, 1},
        {"tags", SG_JT_ARRAY, 0, 0, RV_MAX_TAGS, 0, 0},
        {"credit_score", SG_JT_INT, 1, 0, 1000, 0, 0},
        {"registered_at", SG_JT_STRING, 1, 1, 64, 0, 1},
    };
    char msg[256];
    size_t n, i, d1, d2;
    json_t *e;

    memset(out, 0, sizeof(*out));
    if (check_batch_array(arr, err, errlen))
        return -1;
    n = json_array_size(arr);
    out->user_ids = calloc(n, sizeof(*out->user_ids));
    out->tags_csv = calloc(n, sizeof(*out->tags_csv));
    out->credit_scores = calloc(n, sizeof(*out->credit_scores));
    out->registered_at = calloc(n, sizeof(*out->registered_at));
    out->n = n;
    if (!out->user_ids || !out->tags_csv || !out->credit_scores || !out->registered_at) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    json_array_foreach(arr, i, e) {
        rv_tags tags;
        char csv[RV_TAGS_TEXT_MAX];
        double t;
        if (!json_is_object(e)) {
            snprintf(err, errlen, "element %zu: must be an object", i);
            goto fail;
        }
        if (sg_json_validate(e, f, NFIELDS(f), msg, sizeof(msg))) {
            snprintf(err, errlen, "element %zu: %s", i, msg);
            goto fail;
        }
        out->user_ids[i] = sg_json_str(e, "user_id");
        out->registered_at[i] = sg_json_str(e, "registered_at");
        out->credit_scores[i] = (int)sg_json_int(e, "credit_score", 0);
        if (!sg_is_opaque_id(out->user_ids[i])) {
            snprintf(err, errlen, "element %zu: user_id must be 1..128 printable characters", i);
            goto fail;
        }
        if (!sg_is_rfc3339(out->registered_at[i]) || sg_time_parse(out->registered_at[i], &t)) {
            snprintf(err, errlen, "element %zu: registered_at must be an RFC 3339 timestamp", i);
            goto fail;
        }
        if (rv_tags_from_json(json_object_get(e, "tags"), &tags, "tags", msg, sizeof(msg))) {
            snprintf(err, errlen, "element %zu: %s", i, msg);
            goto fail;
        }
        out->tags_csv[i] = strdup(rv_tags_csv(&tags, csv, sizeof(csv)));
        if (!out->tags_csv[i]) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    if (find_duplicate(out->user_ids, n, &d1, &d2)) {
        snprintf(err, errlen, "element %zu: duplicate user_id (also element %zu)", d2, d1);
        goto fail;
    }
    return 0;
fail:
    rv_profile_batch_free(out);
    return -1;
}

int rv_activity_item_parse(const json_t *obj, int strict, double now, const char **user_id, long *week, char *err,
                           size_t errlen)
{
    static const sg_field f[] = {
        {"user_id", SG_JT_STRING, 1, 1, 128, 0, 1},
        {"at", SG_JT_STRING, 1, 1, 64, 0, 1},
    };
    const char *at;
    double t;

    if (!json_is_object(obj)) {
        snprintf(err, errlen, "must be an object");
        return -1;
    }
    if (strict && sg_json_validate(obj, f, NFIELDS(f), err, errlen))
        return -1;
    *user_id = sg_json_str(obj, "user_id");
    at = sg_json_str(obj, "at");
    if (!*user_id || !sg_is_opaque_id(*user_id)) {
        snprintf(err, errlen, "user_id must be 1..128 printable characters");
        return -1;
    }
    if (!at || !sg_is_rfc3339(at) || sg_time_parse(at, &t)) {
        snprintf(err, errlen, "at must be an RFC 3339 timestamp");
        return -1;
    }
    if (t > now + RV_ACTIVITY_FUTURE_SLACK_S) {
        snprintf(err, errlen, "at is in the future");
        return -1;
    }
    *week = sg_week_of_day(sg_day_of(t));
    return 0;
}

void rv_activity_batch_free(rv_activity_batch *b)
{
    free(b->user_ids);
    free(b->weeks);
    memset(b, 0, sizeof(*b));
}

int rv_activity_parse(const json_t *arr, double now, rv_activity_batch *out, char *err, size_t errlen)
{
    char msg[256];
    size_t i;
    json_t *e;

    memset(out, 0, sizeof(*out));
    if (check_batch_array(arr, err, errlen))
        return -1;
    out->n = json_array_size(arr);
    out->user_ids = calloc(out->n, sizeof(*out->user_ids));
    out->weeks = calloc(out->n, sizeof(*out->weeks));
    if (!out->user_ids || !out->weeks) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    json_array_foreach(arr, i, e) {
        if (rv_activity_item_parse(e, 1, now, &out->user_ids[i], &out->weeks[i], msg, sizeof(msg))) {
            snprintf(err, errlen, "element %zu: %s", i, msg);
            goto fail;
        }
    }
    return 0;
fail:
    rv_activity_batch_free(out);
    return -1;
}

/* Reads an array of opaque ids into a new array of borrowed strings. */
static int id_array(const json_t *arr, const char *field, size_t max, const char ***out, size_t *n, char *err,
                    size_t errlen)
{
    size_t i;
    json_t *e;

    *out = NULL;
    *n = 0;
    if (!arr || json_is_null(arr))
        return 0;
    if (!json_is_array(arr) || json_array_size(arr) > max) {
        snprintf(err, errlen, "%s must be an array of at most %zu ids", field, max);
        return -1;
    }
    if (json_array_size(arr) == 0)
        return 0;
    *out = calloc(json_array_size(arr), sizeof(**out));
    if (!*out) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    json_array_foreach(arr, i, e) {
        const char *s = json_string_value(e);
        if (!s || !sg_is_opaque_id(s)) {
            snprintf(err, errlen, "%s[%zu] is not a valid id", field, i);
            free(*out);
            *out = NULL;
            return -1;
        }
        (*out)[i] = s;
    }
    *n = json_array_size(arr);
    return 0;
}

void rv_panel_req_free(rv_panel_req *r)
{
    free(r->exclude);
    r->exclude = NULL;
    r->nexclude = 0;
}

int rv_panel_req_parse(const json_t *p, rv_panel_req *out, char *err, size_t errlen)
{
    json_t *round = json_object_get(p, "round"), *seats = json_object_get(p, "seats");

    memset(out, 0, sizeof(*out));
    out->case_id = sg_json_str(p, "case_id");
    out->report_type = sg_json_str(p, "report_type");
    out->deadline = sg_json_str(p, "deadline");
    if (!out->case_id || !sg_is_opaque_id(out->case_id)) {
        snprintf(err, errlen, "case_id missing or invalid");
        return -1;
    }
    if (!json_is_integer(round) || json_integer_value(round) < 0 || json_integer_value(round) > 1000000) {
        snprintf(err, errlen, "round must be an integer >= 0");
        return -1;
    }
    if (!json_is_integer(seats) || json_integer_value(seats) < 1 || json_integer_value(seats) > RV_SEATS_MAX) {
        snprintf(err, errlen, "seats must be an integer in 1..%d", RV_SEATS_MAX);
        return -1;
    }
    if (!out->report_type || !*out->report_type || strlen(out->report_type) > 64) {
        snprintf(err, errlen, "report_type missing or invalid");
        return -1;
    }
    if (out->deadline && !sg_is_rfc3339(out->deadline)) {
        snprintf(err, errlen, "deadline must be an RFC 3339 timestamp");
        return -1;
    }
    out->round = (int)json_integer_value(round);
    out->seats = (int)json_integer_value(seats);
    if (rv_tags_from_json(json_object_get(p, "reviewer_tags"), &out->tags, "reviewer_tags", err, errlen))
        return -1;
    return id_array(json_object_get(p, "exclude_user_ids"), "exclude_user_ids", RV_EXCLUDE_MAX, &out->exclude,
                    &out->nexclude, err, errlen);
}

int rv_ballot_closed_parse(const json_t *p, rv_ballot_closed *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->case_id = sg_json_str(p, "case_id");
    out->reviewer_id = sg_json_str(p, "reviewer_id");
    if (!out->case_id || !sg_is_opaque_id(out->case_id) || !out->reviewer_id || !sg_is_opaque_id(out->reviewer_id)) {
        snprintf(err, errlen, "case_id or reviewer_id missing or invalid");
        return -1;
    }
    if (rv_outcome_parse(sg_json_str(p, "outcome"), &out->outcome)) {
        snprintf(err, errlen, "outcome must be voted, expired, declined or cancelled");
        return -1;
    }
    return 0;
}

void rv_case_decided_free(rv_case_decided *d)
{
    free(d->reviewer_ids);
    free(d->outcomes);
    free(d->with_majority);
    free(d->decisions);
    memset(d, 0, sizeof(*d));
}

int rv_case_decided_parse(const json_t *p, rv_case_decided *out, char *err, size_t errlen)
{
    json_t *ballots = json_object_get(p, "ballots"), *verdict = json_object_get(p, "verdict"), *b;
    int has_verdict = json_is_string(verdict);
    size_t i;

    memset(out, 0, sizeof(*out));
    out->case_id = sg_json_str(p, "case_id");
    if (!out->case_id || !sg_is_opaque_id(out->case_id)) {
        snprintf(err, errlen, "case_id missing or invalid");
        return -1;
    }
    if ((verdict && !json_is_null(verdict) && !has_verdict)
        || rv_decision_parse(json_string_value(verdict), &out->verdict)) {
        snprintf(err, errlen, "verdict must be violation, no_violation or null");
        return -1;
    }
    if (!ballots || json_is_null(ballots))
        return 0;
    if (!json_is_array(ballots) || json_array_size(ballots) > 10000) {
        snprintf(err, errlen, "ballots must be an array");
        return -1;
    }
    out->n = json_array_size(ballots);
    if (out->n == 0)
        return 0;
    out->reviewer_ids = calloc(out->n, sizeof(*out->reviewer_ids));
    out->outcomes = calloc(out->n, sizeof(*out->outcomes));
    out->with_majority = calloc(out->n, sizeof(*out->with_majority));
    out->decisions = calloc(out->n, sizeof(*out->decisions));
    if (!out->reviewer_ids || !out->outcomes || !out->with_majority || !out->decisions) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    json_array_foreach(ballots, i, b) {
        json_t *wm = json_object_get(b, "with_majority");
        out->reviewer_ids[i] = sg_json_str(b, "reviewer_id");
        if (!out->reviewer_ids[i] || !sg_is_opaque_id(out->reviewer_ids[i])) {
            snprintf(err, errlen, "ballots[%zu].reviewer_id missing or invalid", i);
            goto fail;
        }
        if (rv_outcome_parse(sg_json_str(b, "outcome"), &out->outcomes[i])) {
            /* Ballots still open at the decision are reported as open by some
             * producers; they are cancelled by the decision. */
            const char *o = sg_json_str(b, "outcome");
            if (!o || strcmp(o, "open") != 0) {
                snprintf(err, errlen, "ballots[%zu].outcome is not a ballot outcome", i);
                goto fail;
            }
            out->outcomes[i] = RV_OUT_CANCELLED;
        }
        if (wm && !json_is_null(wm) && !json_is_boolean(wm)) {
            snprintf(err, errlen, "ballots[%zu].with_majority must be a boolean or null", i);
            goto fail;
        }
        out->with_majority[i] = has_verdict && out->outcomes[i] == RV_OUT_VOTED && json_is_boolean(wm)
                                    ? json_is_true(wm) : -1;
        json_t *dec = json_object_get(b, "decision");
        if ((dec && !json_is_null(dec) && !json_is_string(dec))
            || rv_decision_parse(json_string_value(dec), &out->decisions[i])) {
            snprintf(err, errlen, "ballots[%zu].decision must be violation, no_violation or null", i);
            goto fail;
        }
        if (out->outcomes[i] != RV_OUT_VOTED)
            out->decisions[i] = RV_DEC_NONE;
    }
    return 0;
fail:
    rv_case_decided_free(out);
    return -1;
}

/* An optional opaque id field: absent or null → NULL; 0, or -1. */
static int optional_id(const json_t *p, const char *field, const char **out, char *err, size_t errlen)
{
    json_t *v = json_object_get(p, field);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v) || !sg_is_opaque_id(json_string_value(v))) {
        snprintf(err, errlen, "%s must be an id or null", field);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

int rv_case_finalized_parse(const json_t *p, rv_case_finalized *out, char *err, size_t errlen)
{
    json_t *fv = json_object_get(p, "final_verdict"), *audit = json_object_get(p, "audit"),
           *ev = json_object_get(p, "expected_verdict"), *by = json_object_get(p, "finalized_by");

    memset(out, 0, sizeof(*out));
    out->case_id = sg_json_str(p, "case_id");
    if (!out->case_id || !sg_is_opaque_id(out->case_id)) {
        snprintf(err, errlen, "case_id missing or invalid");
        return -1;
    }
    if ((fv && !json_is_null(fv) && !json_is_string(fv)) || rv_decision_parse(json_string_value(fv), &out->final_verdict)) {
        snprintf(err, errlen, "final_verdict must be violation, no_violation or null");
        return -1;
    }
    if (by && !json_is_null(by) && (!json_is_string(by) || strlen(json_string_value(by)) > 32)) {
        snprintf(err, errlen, "finalized_by must be a short string");
        return -1;
    }
    out->finalized_by = json_string_value(by);
    if (optional_id(p, "appeal_case_id", &out->appeal_case_id, err, errlen))
        return -1;
    if (audit && !json_is_null(audit) && !json_is_boolean(audit)) {
        snprintf(err, errlen, "audit must be a boolean");
        return -1;
    }
    out->audit = json_is_true(audit);
    if ((ev && !json_is_null(ev) && !json_is_string(ev)) || rv_decision_parse(json_string_value(ev), &out->expected_verdict)) {
        snprintf(err, errlen, "expected_verdict must be violation, no_violation or null");
        return -1;
    }
    if (out->audit && out->expected_verdict == RV_DEC_NONE) {
        snprintf(err, errlen, "an audit case's finalization needs expected_verdict");
        return -1;
    }
    if (!out->audit)
        out->expected_verdict = RV_DEC_NONE;
    return 0;
}

json_t *rv_panel_assigned_encode(const char *case_id, int round, size_t n, const char *const *ids, int shortfall)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++)
        if (json_array_append_new(arr, json_string(ids[i])))
            goto fail;
    if (!arr)
        return NULL;
    return json_pack("{s:s, s:i, s:o, s:i}", "case_id", case_id, "round", round, "reviewer_ids", arr, "shortfall",
                     shortfall);
fail:
    json_decref(arr);
    return NULL;
}

json_t *rv_status_changed_encode(const char *user_id, rv_status status, const char *reason)
{
    const char *name = rv_status_name(status);
    if (!name)
        return NULL;
    return json_pack("{s:s, s:s, s:s}", "user_id", user_id, "status", name, "reason", reason ? reason : "");
}

const char *rv_event_id(const json_t *payload)
{
    return json_string_value(json_object_get(payload, "event_id"));
}
