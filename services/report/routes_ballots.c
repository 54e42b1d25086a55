/* Reviewer endpoints: vote, decline, my ballots (JWT; the ballot's
 * reviewer is the token's subject). */
#include <string.h>
#include "decision.h"
#include "svc.h"
#include "routes.h"
#include "sg/json.h"

void rp_h_vote(sg_req *req, void *ctx)
{
    static const sg_field fields[] = {
        {"decision", SG_JT_STRING, 1, 1, 32, 0, 1},
        {"comment", SG_JT_STRING, 0, 0, 1000, 0, 0},
    };
    rp_svc *s = ctx;
    const char *id = sg_req_uuid_param(req, "case_id", "case");
    const json_t *body;
    json_t *out = NULL;
    rp_detail d = {{0}};
    rp_verdict v;
    int rc;
    if (!id || !(body = sg_req_body_object(req, fields, 2)))
        return;
    if ((v = rp_verdict_parse(sg_json_str(body, "decision"))) == RP_VERDICT_NONE) {
        sg_reply_problem(req, 400, "Bad Request", "decision must be \"violation\" or \"no_violation\"");
        return;
    }
    rc = rp_store_vote(s->votes, id, sg_req_principal(req)->id, v, sg_json_str(body, "comment"),
                       sg_req_traceparent(req), &out, &d);
    if (rc != SG_OK) {
        rp_reply_store_error(req, rc, &d, "case");
        return;
    }
    sg_reply_json(req, 201, out);
}

void rp_h_decline(sg_req *req, void *ctx)
{
    /* (v2) The optional reason stays in the audit trail. */
    static const sg_field fields[] = {{"reason", SG_JT_STRING, 0, 0, 200, 0, 0}};
    rp_svc *s = ctx;
    const char *id = sg_req_uuid_param(req, "ballot_id", "ballot");
    const json_t *body = sg_req_json(req);
    json_t *out = NULL;
    char err[256];
    rp_detail d = {{0}};
    int rc;
    if (!id)
        return;
    if (body && sg_json_validate(body, fields, 1, err, sizeof err)) {
        sg_reply_problem(req, 400, "Bad Request", "%s", err);
        return;
    }
    rc = rp_store_decline(s->app->pg, id, sg_req_principal(req)->id, body ? sg_json_str(body, "reason") : NULL,
                          sg_req_traceparent(req), &out, &d);
    if (rc != SG_OK) {
        rp_reply_store_error(req, rc, &d, "ballot");
        return;
    }
    sg_reply_json(req, 200, out);
}

void rp_h_my_ballots(sg_req *req, void *ctx)
{
    rp_svc *s = ctx;
    const char *status = sg_req_query(req, "status");
    json_t *out = NULL;
    long long cursor;
    int limit, rc, open = -1;
    if (status && strcmp(status, "open") == 0)
        open = 1;
    else if (status && strcmp(status, "closed") == 0)
        open = 0;
    else if (status) {
        sg_reply_problem(req, 400, "Bad Request", "status must be open or closed");
        return;
    }
    if (sg_req_page_seq(req, &limit, &cursor))
        return;
    if ((rc = rp_store_my_ballots(s->app->pg, sg_req_principal(req)->id, open, limit, cursor, &out)) != SG_OK) {
        rp_reply_store_error(req, rc, NULL, "ballots");
        return;
    }
    sg_reply_json(req, 200, out);
}
