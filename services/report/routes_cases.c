/* Case endpoints: queries (clients, ops), cancel (clients), resolve (ops),
 * appeals (parties). */
#include <string.h>
#include "decision.h"
#include "svc.h"
#include "routes.h"
#include "rule.h"
#include "sg/json.h"

void rp_h_cases_list(sg_req *req, void *ctx)
{
    rp_svc *s = ctx;
    const char *status = sg_req_query(req, "status"), *type = sg_req_query(req, "report_type");
    json_t *out = NULL;
    long long cursor;
    int limit, rc, known = 0;

    if (status) {
        rp_case_status st;
        known = rp_case_status_parse(status, &st) == 0;
        if (!known) {
            sg_reply_problem(req, 400, "Bad Request",
                             "status must be assigning, voting, decided, escalated or cancelled");
            return;
        }
    }
    if (type && !sg_is_report_type(type)) {
        sg_reply_problem(req, 400, "Bad Request", "report_type must match [a-z0-9_]{1,32}");
        return;
    }
    if (sg_req_page_seq(req, &limit, &cursor))
        return;
    if ((rc = rp_store_cases_list(s->app->pg, status, type, limit, cursor, &out)) != SG_OK) {
        rp_reply_store_error(req, rc, NULL, "cases");
        return;
    }
    sg_reply_json(req, 200, out);
}

void rp_h_case_get(sg_req *req, void *ctx)
{
    rp_svc *s = ctx;
    const char *id = sg_req_uuid_param(req, "id", "case");
    if (id)
        rp_reply_case(req, s->app->pg, id, 200);
}

void rp_h_case_events(sg_req *req, void *ctx)
{
    rp_svc *s = ctx;
    const char *id = sg_req_uuid_param(req, "id", "case");
    json_t *out = NULL;
    long long cursor;
    int limit, rc;
    if (!id || sg_req_page_seq(req, &limit, &cursor))
        return;
    if ((rc = rp_store_case_events(s->app->pg, id, limit, cursor, &out)) != SG_OK) {
        rp_reply_store_error(req, rc, NULL, "case");
        return;
    }
    sg_reply_json(req, 200, out);
}

void rp_h_case_cancel(sg_req *req, void *ctx)
{
    static const sg_field fields[] = {{"reason", SG_JT_STRING, 1, 1, 500, 0, 1}};
    rp_svc *s = ctx;
    const char *id = sg_req_uuid_param(req, "id", "case");
    const json_t *body;
    rp_detail d = {{0}};
    int rc;
    if (!id || !(body = sg_req_body_object(req, fields, 1)))
        return;
    const sg_principal *who = sg_req_principal(req);
    rc = rp_store_case_cancel(s->app->pg, id, who->kind == SG_AUTH_CLIENT ? who->id : NULL,
                              sg_json_str(body, "reason"), who->id, sg_req_traceparent(req), &d);
    if (rc != SG_OK) {
        rp_reply_store_error(req, rc, &d, "case");
        return;
    }
    rp_reply_case(req, s->app->pg, id, 200);
}

void rp_h_case_resolve(sg_req *req, void *ctx)
{
    static const sg_field fields[] = {
        {"verdict", SG_JT_STRING, 1, 1, 32, 0, 1},
        {"note", SG_JT_STRING, 0, 0, 2000, 0, 0},
    };
    rp_svc *s = ctx;
    const char *id = sg_req_uuid_param(req, "id", "case");
    const json_t *body;
    rp_detail d = {{0}};
    rp_verdict v;
    int rc;
    if (!id || !(body = sg_req_body_object(req, fields, 2)))
        return;
    if ((v = rp_verdict_parse(sg_json_str(body, "verdict"))) == RP_VERDICT_NONE) {
        sg_reply_problem(req, 400, "Bad Request", "verdict must be \"violation\" or \"no_violation\"");
        return;
    }
    rc = rp_store_case_resolve(s->app->pg, id, v, sg_json_str(body, "note"), sg_req_principal(req)->id,
                            sg_req_traceparent(req), &d);
    if (rc != SG_OK) {
        rp_reply_store_error(req, rc, &d, "case");
        return;
    }
    rp_reply_case(req, s->app->pg, id, 200);
}

void rp_h_case_appeal(sg_req *req, void *ctx)
{
    static const sg_field fields[] = {{"reason", SG_JT_STRING, 0, 0, 2000, 0, 0}};
    rp_svc *s = ctx;
    const char *id = sg_req_uuid_param(req, "id", "case");
    const json_t *body = sg_req_json(req);
    char err[256], new_id[37];
    rp_detail d = {{0}};
    int rc;
    if (!id)
        return;
    /* The body is optional: {} or {"reason": "..."}. */
    if (body && sg_json_validate(body, fields, 1, err, sizeof err)) {
        sg_reply_problem(req, 400, "Bad Request", "%s", err);
        return;
    }
    rc = rp_store_case_appeal(s->app->pg, id, sg_req_principal(req)->id, body ? sg_json_str(body, "reason") : NULL,
                           sg_req_traceparent(req), new_id, &d);
    if (rc != SG_OK) {
        rp_reply_store_error(req, rc, &d, "case");
        return;
    }
    sg_reply_json(req, 201, json_pack("{s:s, s:s}", "case_id", new_id, "appeal_of", id));
}
