/* Push management over HTTP: the caller's inbox and preferences (JWT), the
 * templates and the delivery listing (ops). No SQL here. */
#include <stdio.h>
#include <string.h>
#include "notify.h"
#include "routes.h"
#include "svc.h"
#include "sg/json.h"

/* Most ids one mark-read request may name. */
#define MAX_READ_IDS 200

void rp_h_my_notifications(sg_req *req, void *ctx)
{
    rp_svc *s = ctx;
    const char *unread = sg_req_query(req, "unread");
    json_t *out = NULL;
    long long cursor;
    int limit, rc, only_unread = 0;
    if (unread && strcmp(unread, "true") == 0)
        only_unread = 1;
    else if (unread && strcmp(unread, "false") != 0) {
        sg_reply_problem(req, 400, "Bad Request", "unread must be true or false");
        return;
    }
    if (sg_req_page_seq(req, &limit, &cursor))
        return;
    rc = rp_store_inbox(s->app->pg, sg_req_principal(req)->id, only_unread, limit, cursor, &out);
    if (rc != SG_OK) {
        rp_reply_store_error(req, rc, NULL, "notifications");
        return;
    }
    sg_reply_json(req, 200, out);
}

void rp_h_my_notifications_read(sg_req *req, void *ctx)
{
    static const sg_field fields[] = {
        {"ids", SG_JT_STRING_ARRAY, 0, 1, MAX_READ_IDS, 36, 1},
        {"all", SG_JT_BOOL, 0, 0, 0, 0, 0},
    };
    rp_svc *s = ctx;
    const json_t *body = sg_req_body_object(req, fields, 2), *ids, *all, *id;
    long marked = 0;
    size_t i;
    int rc;
    if (!body)
        return;
    ids = json_object_get(body, "ids");
    all = json_object_get(body, "all");
    if (ids && json_is_null(ids))
        ids = NULL;
    if ((ids != NULL) == json_is_true(all)) {
        sg_reply_problem(req, 400, "Bad Request", "give either \"ids\" or \"all\": true");
        return;
    }
    json_array_foreach(ids, i, id) {
        if (!sg_is_uuid(json_string_value(id))) {
            sg_reply_problem(req, 400, "Bad Request", "ids[%zu] is not a notification id", i);
            return;
        }
    }
    rc = rp_store_inbox_mark_read(s->app->pg, sg_req_principal(req)->id, ids, &marked);
    if (rc != SG_OK) {
        rp_reply_store_error(req, rc, NULL, "notifications");
        return;
    }
    sg_reply_json(req, 200, json_pack("{s:I}", "marked", (json_int_t)marked));
}

void rp_h_my_prefs_get(sg_req *req, void *ctx)
{
    rp_svc *s = ctx;
    json_t *out = NULL;
    int rc = rp_store_prefs_get(s->app->pg, sg_req_principal(req)->id, &out);
    if (rc != SG_OK) {
        rp_reply_store_error(req, rc, NULL, "preferences");
        return;
    }
    sg_reply_json(req, 200, out);
}

/* Parses {"start": "HH:MM", "end": "HH:MM", "utc_offset_minutes": n}. 0 or
 * -1 with err. */
static int quiet_parse(const json_t *j, rp_quiet_hours *q, char *err, size_t errlen)
{
    static const sg_field fields[] = {
        {"start", SG_JT_STRING, 1, 5, 5, 0, 1},
        {"end", SG_JT_STRING, 1, 5, 5, 0, 1},
        {"utc_offset_minutes", SG_JT_INT, 1, -840, 840, 0, 0},
    };
    char inner[200];
    if (sg_json_validate(j, fields, 3, inner, sizeof inner)) {
        snprintf(err, errlen, "quiet_hours: %s", inner);
        return -1;
    }
    if (rp_hhmm_parse(sg_json_str(j, "start"), &q->start_min) || rp_hhmm_parse(sg_json_str(j, "end"), &q->end_min)) {
        snprintf(err, errlen, "quiet_hours: start and end must be \"HH:MM\" (00:00..23:59)");
        return -1;
    }
    if (q->start_min == q->end_min) {
        snprintf(err, errlen, "quiet_hours: start and end must differ (null for no quiet hours)");
        return -1;
    }
    q->utc_offset = (int)sg_json_int(j, "utc_offset_minutes", 0);
    return 0;
}

void rp_h_my_prefs_put(sg_req *req, void *ctx)
{
    static const sg_field fields[] = {
        {"locale", SG_JT_STRING, 0, 2, 35, 0, 1},
        {"muted_kinds", SG_JT_STRING_ARRAY, 0, 0, RP_NK_COUNT, 32, 1},
        {"quiet_hours", SG_JT_OBJECT, 0, 0, 1024, 0, 0},
    };
    rp_svc *s = ctx;
    const json_t *body = sg_req_body_object(req, fields, 3), *muted, *jq, *k;
    const char *locale;
    rp_quiet_hours q;
    json_t *out = NULL;
    char err[256];
    size_t i;
    int rc, clear_quiet = 0;
    if (!body)
        return;
    locale = sg_json_str(body, "locale");
    if (locale && !rp_locale_ok(locale)) {
        sg_reply_problem(req, 400, "Bad Request", "locale must be a language tag such as \"en\" or \"zh-CN\"");
        return;
    }
    muted = json_object_get(body, "muted_kinds");
    if (json_is_null(muted))
        muted = NULL;
    json_array_foreach(muted, i, k) {
        rp_notify_kind kind;
        if (rp_notify_kind_parse(json_string_value(k), &kind) != 0) {
            sg_reply_problem(req, 400, "Bad Request", "muted_kinds[%zu] is not a notification kind", i);
            return;
        }
        if (!rp_notify_kind_mutable(kind)) {
            sg_reply_problem(req, 400, "Bad Request",
                             "%s cannot be muted: a juror who wants no ballots pauses (/v1/me/availability)",
                             rp_notify_kind_name(kind));
            return;
        }
    }
    jq = json_object_get(body, "quiet_hours");
    if (jq && json_is_null(jq))
        clear_quiet = 1;
    else if (jq && quiet_parse(jq, &q, err, sizeof err)) {
        sg_reply_problem(req, 400, "Bad Request", "%s", err);
        return;
    }
    rc = rp_store_prefs_put(s->app->pg, sg_req_principal(req)->id, locale, muted, jq && !clear_quiet ? &q : NULL,
                            clear_quiet, &out);
    if (rc != SG_OK) {
        rp_reply_store_error(req, rc, NULL, "preferences");
        return;
    }
    sg_reply_json(req, 200, out);
}

void rp_h_templates_list(sg_req *req, void *ctx)
{
    rp_svc *s = ctx;
    json_t *out = NULL;
    long long cursor;
    int limit, rc;
    if (sg_req_page_seq(req, &limit, &cursor))
        return;
    if ((rc = rp_store_templates_list(s->app->pg, limit, cursor, &out)) != SG_OK) {
        rp_reply_store_error(req, rc, NULL, "templates");
        return;
    }
    sg_reply_json(req, 200, out);
}

void rp_h_template_put(sg_req *req, void *ctx)
{
    static const sg_field fields[] = {
        {"title", SG_JT_STRING, 1, 1, RP_TEMPLATE_TITLE_MAX, 0, 1},
        {"body", SG_JT_STRING, 1, 1, RP_TEMPLATE_BODY_MAX, 0, 0},
    };
    rp_svc *s = ctx;
    const char *kind = sg_req_param(req, "kind"), *locale = sg_req_param(req, "locale");
    const json_t *body;
    json_t *out = NULL;
    rp_notify_kind k;
    char err[256];
    int rc;
    if (rp_notify_kind_parse(kind, &k) != 0) {
        sg_reply_problem(req, 400, "Bad Request", "unknown notification kind");
        return;
    }
    if (!rp_locale_ok(locale)) {
        sg_reply_problem(req, 400, "Bad Request", "locale must be a language tag such as \"en\" or \"zh-CN\"");
        return;
    }
    if (!(body = sg_req_body_object(req, fields, 2)))
        return;
    if (rp_template_check(sg_json_str(body, "title"), err, sizeof err) ||
        rp_template_check(sg_json_str(body, "body"), err, sizeof err)) {
        sg_reply_problem(req, 400, "Bad Request", "%s", err);
        return;
    }
    rc = rp_store_template_put(s->app->pg, rp_notify_kind_name(k), locale, sg_json_str(body, "title"),
                               sg_json_str(body, "body"), sg_req_principal(req)->id, &out);
    if (rc != SG_OK) {
        rp_reply_store_error(req, rc, NULL, "template");
        return;
    }
    sg_reply_json(req, 200, out);
}

void rp_h_notifications_list(sg_req *req, void *ctx)
{
    rp_svc *s = ctx;
    const char *user = sg_req_query(req, "user_id"), *status = sg_req_query(req, "status");
    rp_push_status st;
    json_t *out = NULL;
    long long cursor;
    int limit, rc;
    if (user && !sg_is_opaque_id(user)) {
        sg_reply_problem(req, 400, "Bad Request", "user_id must be 1..128 printable characters");
        return;
    }
    if (status && rp_push_status_parse(status, &st) != 0) {
        sg_reply_problem(req, 400, "Bad Request",
                         "status must be pending, sent, failed, muted, capped or deferred");
        return;
    }
    if (sg_req_page_seq(req, &limit, &cursor))
        return;
    if ((rc = rp_store_notifications_list(s->app->pg, user, status, limit, cursor, &out)) != SG_OK) {
        rp_reply_store_error(req, rc, NULL, "notifications");
        return;
    }
    sg_reply_json(req, 200, out);
}
