/* Voting rule endpoints (ops). */
#include "svc.h"
#include "routes.h"
#include "rule.h"
#include "sg/json.h"

/* The {report_type} parameter when valid; otherwise replies 404 and returns
 * NULL (GET) or 400 (PUT: the caller chose a bad name). */
static const char *report_type_param(sg_req *req, int status)
{
    const char *t = sg_req_param(req, "report_type");
    if (sg_is_report_type(t))
        return t;
    if (status == 400)
        sg_reply_problem(req, 400, "Bad Request", "report_type must match [a-z0-9_]{1,32}");
    else
        sg_reply_problem(req, 404, "Not Found", "voting rule not found");
    return NULL;
}

void rp_h_rule_put(sg_req *req, void *ctx)
{
    rp_svc *s = ctx;
    const char *type = report_type_param(req, 400);
    const json_t *body = sg_req_json(req);
    char err[256];
    rp_rule r;
    json_t *out = NULL;
    int rc;

    if (!type)
        return;
    if (!body) {
        sg_reply_problem(req, 400, "Bad Request", "a JSON body is required");
        return;
    }
    if (rp_rule_parse(body, &r, err, sizeof err)) {
        sg_reply_problem(req, 400, "Bad Request", "%s", err);
        return;
    }
    rc = rp_store_rule_put(s->app->pg, type, &r, sg_req_principal(req)->id, &out);
    rp_rule_free(&r);
    if (rc != SG_OK) {
        rp_reply_store_error(req, rc, NULL, "voting rule");
        return;
    }
    sg_reply_json(req, 200, out);
}

void rp_h_rule_get(sg_req *req, void *ctx)
{
    rp_svc *s = ctx;
    const char *type = report_type_param(req, 404);
    json_t *out = NULL;
    int rc;
    if (!type)
        return;
    if ((rc = rp_store_rule_get(s->app->pg, type, &out)) != SG_OK) {
        rp_reply_store_error(req, rc, NULL, "voting rule");
        return;
    }
    sg_reply_json(req, 200, out);
}

void rp_h_rule_versions(sg_req *req, void *ctx)
{
    rp_svc *s = ctx;
    const char *type = report_type_param(req, 404);
    json_t *out = NULL;
    long long cursor;
    int limit, rc;
    if (!type || sg_req_page_seq(req, &limit, &cursor))
        return;
    if ((rc = rp_store_rule_versions(s->app->pg, type, limit, cursor, &out)) != SG_OK) {
        rp_reply_store_error(req, rc, NULL, "voting rule");
        return;
    }
    sg_reply_json(req, 200, out);
}

void rp_h_rules_list(sg_req *req, void *ctx)
{
    rp_svc *s = ctx;
    json_t *out = NULL;
    const char *cursor;
    int limit, rc;
    if (sg_req_page(req, &limit, &cursor))
        return;
    if (cursor && !sg_is_report_type(cursor)) {
        sg_reply_problem(req, 400, "Bad Request", "invalid cursor");
        return;
    }
    if ((rc = rp_store_rules_current(s->app->pg, limit, cursor, &out)) != SG_OK) {
        rp_reply_store_error(req, rc, NULL, "voting rules");
        return;
    }
    sg_reply_json(req, 200, out);
}
