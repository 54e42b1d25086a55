/* (v2) Audit cases (ops): open one with a known answer, list them with
 * their outcome. */
#include "intake.h"
#include "svc.h"
#include "routes.h"

void rp_h_audit_case_post(sg_req *req, void *ctx)
{
    rp_svc *s = ctx;
    const json_t *body = sg_req_json(req);
    char err[256], case_id[37];
    rp_audit_input in;
    rp_detail d = {{0}};
    int rc;

    if (!body) {
        sg_reply_problem(req, 400, "Bad Request", "a JSON body is required");
        return;
    }
    if ((rc = rp_audit_validate(body, &in, err, sizeof err)) != 0) {
        sg_reply_problem(req, rc, rc == 400 ? "Bad Request" : "Unprocessable Entity", "%s", err);
        return;
    }
    rc = rp_store_audit_case_create(s->app->pg, &in, sg_req_principal(req)->id, sg_req_traceparent(req), case_id,
                                    &d);
    if (rc != SG_OK) {
        rp_reply_store_error(req, rc, &d, "audit case");
        return;
    }
    sg_reply_json(req, 201, json_pack("{s:s}", "case_id", case_id));
}

void rp_h_audit_cases_list(sg_req *req, void *ctx)
{
    rp_svc *s = ctx;
    const char *status = sg_req_query(req, "status");
    json_t *out = NULL;
    long long cursor;
    int limit, rc;
    rp_case_status st;

    if (status && rp_case_status_parse(status, &st) != 0) {
        sg_reply_problem(req, 400, "Bad Request", "status must be assigning, voting, decided, escalated or cancelled");
        return;
    }
    if (sg_req_page_seq(req, &limit, &cursor))
        return;
    if ((rc = rp_store_audit_cases_list(s->app->pg, status, limit, cursor, &out)) != SG_OK) {
        rp_reply_store_error(req, rc, NULL, "audit cases");
        return;
    }
    sg_reply_json(req, 200, out);
}
