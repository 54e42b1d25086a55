/* Reward rule endpoints (ops). */
#include "routes.h"

#include "rule.h"
#include "sg/json.h"
#include "store.h"
#include "svc.h"

/* The {report_type} parameter, or NULL after replying 400. */
static const char *report_type_param(sg_req *req)
{
    const char *t = sg_req_param(req, "report_type");
    if (!sg_is_report_type(t)) {
        sg_reply_problem(req, 400, "Bad Request", "report_type must match [a-z0-9_]{1,32}");
        return NULL;
    }
    return t;
}

void rw_h_rules_list(sg_req *req, void *ctx)
{
    rw_svc *svc = ctx;
    const char *cursor;
    json_t *page;
    int limit;

    if (sg_req_page(req, &limit, &cursor) != 0)
        return;
    if (cursor && !sg_is_report_type(cursor)) {
        sg_reply_problem(req, 400, "Bad Request", "invalid cursor");
        return;
    }
    int rc = rw_store_rule_list(svc->app->pg, cursor, limit, &page);
    if (rc != SG_OK) {
        rw_reply_outcome(req, rc, "rule");
        return;
    }
    sg_reply_json(req, 200, page);
}

void rw_h_rule_get(sg_req *req, void *ctx)
{
    rw_svc *svc = ctx;
    const char *type = report_type_param(req);
    json_t *rule;
    if (!type)
        return;
    int rc = rw_store_rule_get(svc->app->pg, type, &rule);
    if (rc != SG_OK) {
        rw_reply_outcome(req, rc, "reward rule");
        return;
    }
    sg_reply_json(req, 200, rule);
}

void rw_h_rule_put(sg_req *req, void *ctx)
{
    rw_svc *svc = ctx;
    const char *type = report_type_param(req);
    const json_t *body;
    rw_rule rule;
    json_t *out;
    char err[256];

    if (!type || !(body = rw_body(req)))
        return;
    if (rw_rule_from_json(body, &rule, err, sizeof err) != 0) {
        sg_reply_problem(req, 400, "Bad Request", "%s", err);
        return;
    }
    int rc = rw_store_rule_put(svc->app->pg, type, &rule, sg_req_principal(req)->id, &out);
    if (rc != SG_OK) {
        rw_reply_outcome(req, rc, "reward rule");
        return;
    }
    sg_reply_json(req, 200, out);
}

void rw_h_rule_versions(sg_req *req, void *ctx)
{
    rw_svc *svc = ctx;
    const char *type = report_type_param(req);
    long long before = 0;
    json_t *page;
    int limit;

    if (!type || sg_req_page_seq(req, &limit, &before) != 0)
        return;
    int rc = rw_store_rule_versions(svc->app->pg, type, before, limit, &page);
    if (rc != SG_OK) {
        rw_reply_outcome(req, rc, "reward rule");
        return;
    }
    sg_reply_json(req, 200, page);
}
