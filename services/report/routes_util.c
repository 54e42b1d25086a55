/* Helpers of the HTTP handlers; see routes.h. */
#include "routes.h"
#include "sg/json.h"

void reply_store_error(sg_req *req, int rc, const st_detail *d, const char *what)
{
    const char *detail = d && d->text[0] ? d->text : NULL;
    switch (rc) {
    case ST_NOT_FOUND:
        sg_reply_problem(req, 404, "Not Found", "%s not found", what);
        return;
    case ST_FORBIDDEN:
        sg_reply_problem(req, 403, "Forbidden", "%s", detail ? detail : "not allowed");
        return;
    case ST_CONFLICT:
        sg_reply_problem(req, 409, "Conflict", "%s", detail ? detail : "conflict");
        return;
    case ST_UNPROCESSABLE:
        sg_reply_problem(req, 422, "Unprocessable Entity", "%s", detail ? detail : "cannot be processed");
        return;
    default:
        sg_reply_store_error(req, rc);
        return;
    }
}

void reply_case(sg_req *req, sg_pg_pool *pool, const char *case_id, int status)
{
    json_t *out = NULL;
    int rc = store_case_get(pool, case_id, &out);
    if (rc != SG_OK) {
        reply_store_error(req, rc, NULL, "case");
        return;
    }
    sg_reply_json(req, status, out);
}
