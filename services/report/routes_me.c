/* (v2) The cases of the people involved (JWT): GET /v1/me/cases. */
#include <string.h>
#include "svc.h"
#include "routes.h"

void rp_h_my_cases(sg_req *req, void *ctx)
{
    rp_svc *s = ctx;
    const char *role = sg_req_query(req, "role");
    json_t *out = NULL;
    long long cursor;
    int limit, rc, owner;
    if (!role || (strcmp(role, "owner") != 0 && strcmp(role, "reporter") != 0)) {
        sg_reply_problem(req, 400, "Bad Request", "role must be owner or reporter");
        return;
    }
    owner = strcmp(role, "owner") == 0;
    if (sg_req_page_seq(req, &limit, &cursor))
        return;
    if ((rc = rp_store_my_cases(s->app->pg, sg_req_principal(req)->id, owner, limit, cursor, &out)) != SG_OK) {
        rp_reply_store_error(req, rc, NULL, "cases");
        return;
    }
    sg_reply_json(req, 200, out);
}
