/* Reviewers: pool rebuild, listing, one reviewer, ops status changes and
 * self-service availability. */
#include <stdlib.h>
#include <string.h>

#include "reviewer.h"
#include "routes.h"
#include "svc.h"
#include "sg/json.h"
#include "store.h"
#include "sg/timeutil.h"

#define NFIELDS(a) (sizeof(a) / sizeof((a)[0]))

void rv_h_pool_rebuild(sg_req *req, void *ctx)
{
    rv_svc *s = ctx;
    rv_adjust_counts n;
    int rc;

    if (sg_req_json(req) && !(json_is_object(sg_req_json(req)) && json_object_size(sg_req_json(req)) == 0)) {
        sg_reply_problem(req, 400, "Bad Request", "no request body is expected");
        return;
    }
    /* Waits for an adjustment in progress elsewhere, then runs its own. */
    rc = rv_store_pool_adjust(s->pg, 1, sg_time_now(), &n);
    if (rc != SG_OK) {
        sg_reply_store_error(req, rc);
        return;
    }
    sg_reply_json(req, 200, json_pack("{s:I, s:I, s:I, s:I}", "added", (json_int_t)n.added, "retired",
                                      (json_int_t)n.retired, "suspended", (json_int_t)n.suspended, "reinstated",
                                      (json_int_t)n.reinstated));
}

void rv_h_reviewers_list(sg_req *req, void *ctx)
{
    rv_svc *s = ctx;
    const char *status = sg_req_query(req, "status"), *cursor;
    rv_status st;
    rv_reviewer *items = NULL;
    int limit, n = 0, rc;
    json_t *arr;

    if (sg_req_page(req, &limit, &cursor))
        return;
    if (status && *status && rv_status_parse(status, &st)) {
        sg_reply_problem(req, 400, "Bad Request", "status must be active, paused, suspended or retired");
        return;
    }
    items = malloc((size_t)(limit + 1) * sizeof(*items));
    if (!items) {
        sg_reply_store_error(req, SG_ERR_DB);
        goto cleanup;
    }
    /* One more than asked tells whether another page follows. */
    rc = rv_store_reviewers_list(s->pg, status && *status ? &st : NULL, cursor, limit + 1, items, &n);
    if (rc != SG_OK) {
        sg_reply_store_error(req, rc);
        goto cleanup;
    }
    arr = json_array();
    for (int i = 0; i < n && i < limit; i++)
        json_array_append_new(arr, rv_reviewer_to_json_ops(&items[i]));
    sg_reply_json(req, 200, json_pack("{s:o, s:o}", "items", arr, "next_cursor",
                                      n > limit ? json_string(items[limit - 1].user_id) : json_null()));
cleanup:
    free(items);
}

void rv_h_reviewer_get(sg_req *req, void *ctx)
{
    rv_svc *s = ctx;
    const char *id = sg_req_param(req, "user_id");
    const sg_principal *who = sg_req_principal(req);
    rv_reviewer r;
    int rc;

    if (who->kind != SG_AUTH_OPS && strcmp(who->id, id) != 0) {
        sg_reply_problem(req, 403, "Forbidden", "only ops or the reviewer may read this reviewer");
        return;
    }
    rc = rv_store_reviewer_get(s->pg, id, &r);
    if (rc == RV_NOT_FOUND)
        sg_reply_problem(req, 404, "Not Found", "%s is not a reviewer", id);
    else if (rc != SG_OK)
        sg_reply_store_error(req, rc);
    else
        sg_reply_json(req, 200, who->kind == SG_AUTH_OPS ? rv_reviewer_to_json_ops(&r) : rv_reviewer_to_json(&r));
}

void rv_h_reviewer_pairs(sg_req *req, void *ctx)
{
    rv_svc *s = ctx;
    const char *id = sg_req_param(req, "user_id"), *cursor;
    rv_pair_stat *items = NULL;
    int limit, n = 0, rc;
    json_t *arr;

    if (sg_req_page(req, &limit, &cursor))
        return;
    if (cursor && *cursor) {
        sg_reply_problem(req, 400, "Bad Request", "this list has one page: use limit");
        return;
    }
    if (!(items = calloc((size_t)limit, sizeof(*items)))) {
        sg_reply_store_error(req, SG_ERR_DB);
        return;
    }
    rc = rv_store_reviewer_pairs(s->pg, id, limit, items, &n);
    if (rc == RV_NOT_FOUND) {
        sg_reply_problem(req, 404, "Not Found", "%s is not a reviewer", id);
        goto cleanup;
    }
    if (rc != SG_OK) {
        sg_reply_store_error(req, rc);
        goto cleanup;
    }
    arr = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(arr, rv_pair_stat_to_json(&items[i]));
    sg_reply_json(req, 200, json_pack("{s:s, s:o}", "user_id", id, "items", arr));
cleanup:
    free(items);
}

void rv_h_reviewer_pairs_list(sg_req *req, void *ctx)
{
    rv_svc *s = ctx;
    const char *flagged = sg_req_query(req, "flagged");
    rv_pair_stat *items = NULL;
    long long offset;
    double margin = 0;
    int limit, n = 0, rc, only_flagged;
    json_t *arr;

    if (sg_req_page_seq(req, &limit, &offset))
        return;
    if (flagged && *flagged && strcmp(flagged, "true") && strcmp(flagged, "false")) {
        sg_reply_problem(req, 400, "Bad Request", "flagged must be true or false");
        return;
    }
    only_flagged = flagged && !strcmp(flagged, "true");
    if (!(items = calloc((size_t)limit + 1, sizeof(*items)))) {
        sg_reply_store_error(req, SG_ERR_DB);
        return;
    }
    /* One more than asked tells whether another page follows; the cursor
     * is the offset of the next page. */
    rc = rv_store_pairs_list(s->pg, only_flagged, offset, limit + 1, items, &n, &margin);
    if (rc != SG_OK) {
        sg_reply_store_error(req, rc);
        goto cleanup;
    }
    arr = json_array();
    for (int i = 0; i < n && i < limit; i++)
        json_array_append_new(arr, rv_pair_listing_to_json(&items[i], margin));
    sg_reply_json(req, 200, json_pack("{s:o, s:o}", "items", arr, "next_cursor",
                                      n > limit ? json_sprintf("%lld", offset + limit) : json_null()));
cleanup:
    free(items);
}

void rv_h_reviewer_history(sg_req *req, void *ctx)
{
    rv_svc *s = ctx;
    const char *id = sg_req_param(req, "user_id");
    rv_status_change *items = NULL;
    long long after;
    int limit, n = 0, rc;
    json_t *arr;

    if (sg_req_page_seq(req, &limit, &after))
        return;
    if (!(items = calloc((size_t)limit + 1, sizeof(*items)))) {
        sg_reply_store_error(req, SG_ERR_DB);
        return;
    }
    rc = rv_store_history(s->pg, id, after, limit + 1, items, &n);
    if (rc == RV_NOT_FOUND) {
        sg_reply_problem(req, 404, "Not Found", "%s is not a reviewer", id);
        goto cleanup;
    }
    if (rc != SG_OK) {
        sg_reply_store_error(req, rc);
        goto cleanup;
    }
    arr = json_array();
    for (int i = 0; i < n && i < limit; i++)
        json_array_append_new(arr, rv_status_change_to_json(&items[i]));
    sg_reply_json(req, 200, json_pack("{s:o, s:o}", "items", arr, "next_cursor",
                                      n > limit ? json_sprintf("%lld", items[limit - 1].id) : json_null()));
cleanup:
    free(items);
}

void rv_h_reviewer_status(sg_req *req, void *ctx)
{
    static const sg_field f[] = {
        {"status", SG_JT_STRING, 1, 1, 16, 0, 1},
        {"reason", SG_JT_STRING, 1, 1, RV_REASON_MAX, 0, 1},
    };
    rv_svc *s = ctx;
    const char *id = sg_req_param(req, "user_id");
    json_t *body = sg_req_body_object(req, f, NFIELDS(f));
    rv_reviewer r;
    rv_status status;
    char why[256];
    int rc;

    if (!body)
        return;
    /* Ops set active or suspended; paused is the reviewer's own, retired the
     * pool's. */
    if (rv_status_parse(sg_json_str(body, "status"), &status) || (status != RV_ACTIVE && status != RV_SUSPENDED)) {
        sg_reply_problem(req, 400, "Bad Request", "status must be active or suspended");
        return;
    }
    rc = rv_store_set_status(s->pg, id, status, sg_json_str(body, "reason"), sg_req_principal(req)->id,
                             sg_time_now(), &r, why, sizeof(why));
    switch (rc) {
    case SG_OK:
        sg_reply_json(req, 200, rv_reviewer_to_json(&r));
        break;
    case RV_NOT_FOUND:
        sg_reply_problem(req, 404, "Not Found", "%s is not a reviewer", id);
        break;
    case RV_CONFLICT:
        sg_reply_problem(req, 409, "Conflict", "%s", why);
        break;
    case RV_INELIGIBLE:
        sg_reply_problem(req, 409, "Conflict", "the pool rule does not admit %s: %s", id, why);
        break;
    default:
        sg_reply_store_error(req, rc);
    }
}

void rv_h_availability(sg_req *req, void *ctx)
{
    static const sg_field f[] = {
        {"paused", SG_JT_BOOL, 1, 0, 0, 0, 0},
    };
    rv_svc *s = ctx;
    const char *id = sg_req_principal(req)->id;
    json_t *body = sg_req_body_object(req, f, NFIELDS(f));
    rv_reviewer r;
    int rc;

    if (!body)
        return;
    rc = rv_store_set_availability(s->pg, id, json_is_true(json_object_get(body, "paused")), sg_time_now(), &r);
    switch (rc) {
    case SG_OK:
        sg_reply_json(req, 200, rv_reviewer_to_json(&r));
        break;
    case RV_NOT_FOUND:
        sg_reply_problem(req, 404, "Not Found", "you are not a reviewer");
        break;
    case RV_CONFLICT:
        sg_reply_problem(req, 409, "Conflict", "a suspended or retired reviewer cannot change availability");
        break;
    default:
        sg_reply_store_error(req, rc);
    }
}
