/* Helpers of the HTTP handlers; see routes.h. */
#include "routes.h"
#include "sg/json.h"

void rp_reply_store_error(sg_req *req, int rc, const rp_detail *d, const char *what)
{
    const char *detail = d && d->text[0] ? d->text : NULL;
    switch (rc) {
    case RP_NOT_FOUND:
        sg_reply_problem(req, 404, "Not Found", "%s not found", what);
        return;
    case RP_FORBIDDEN:
        sg_reply_problem(req, 403, "Forbidden", "%s", detail ? detail : "not allowed");
        return;
    case RP_CONFLICT:
        sg_reply_problem(req, 409, "Conflict", "%s", detail ? detail : "conflict");
        return;
    case RP_UNPROCESSABLE:
        sg_reply_problem(req, 422, "Unprocessable Entity", "%s", detail ? detail : "cannot be processed");
        return;
    default:
        sg_reply_store_error(req, rc);
        return;
    }
}

void rp_reply_case(sg_req *req, sg_pg_pool *pool, const char *case_id, int status)
{
    const sg_principal *who = sg_req_principal(req);
    json_t *out = NULL;
    int rc = who->kind == SG_AUTH_CLIENT ? rp_store_case_get_client(pool, case_id, who->id, &out)
                                         : rp_store_case_get(pool, case_id, &out);
    if (rc != SG_OK) {
        rp_reply_store_error(req, rc, NULL, "case");
        return;
    }
    sg_reply_json(req, status, out);
}
