/* Helpers of the HTTP handlers; see routes.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
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
        sg_reply_problem(req, 503, "Service Unavailable", "database unavailable, retry later");
        return;
    }
}

int page_args(sg_req *req, int *limit, long long *cursor)
{
    const char *c;
    char *end;
    *cursor = 0;
    if (sg_req_page(req, limit, &c))
        return -1;
    if (!c)
        return 0;
    errno = 0;
    if (*c && strlen(c) <= 18 && strspn(c, "0123456789") == strlen(c)) {
        *cursor = strtoll(c, &end, 10);
        if (!errno && *cursor > 0)
            return 0;
    }
    sg_reply_problem(req, 400, "Bad Request", "invalid cursor");
    return -1;
}

const char *uuid_param(sg_req *req, const char *name, const char *what)
{
    const char *v = sg_req_param(req, name);
    if (sg_is_uuid(v))
        return v;
    sg_reply_problem(req, 404, "Not Found", "%s not found", what);
    return NULL;
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
