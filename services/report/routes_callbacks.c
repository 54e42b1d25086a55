/* Ops view of the upstream callback queue: list and retry. */
#include <string.h>
#include "svc.h"
#include "routes.h"
#include "sg/json.h"

void rp_h_callbacks_list(sg_req *req, void *ctx)
{
    rp_svc *s = ctx;
    const char *status = sg_req_query(req, "status"), *case_id = sg_req_query(req, "case_id");
    json_t *out = NULL;
    long long cursor;
    int limit, rc;

    if (status && strcmp(status, "pending") != 0 && strcmp(status, "delivered") != 0 &&
        strcmp(status, "failed") != 0) {
        sg_reply_problem(req, 400, "Bad Request", "status must be pending, delivered or failed");
        return;
    }
    if (case_id && !sg_is_uuid(case_id)) {
        sg_reply_problem(req, 400, "Bad Request", "case_id must be a UUID");
        return;
    }
    if (sg_req_page_seq(req, &limit, &cursor))
        return;
    if ((rc = rp_store_callbacks_list(s->app->pg, status, case_id, limit, cursor, &out)) != SG_OK) {
        rp_reply_store_error(req, rc, NULL, "callbacks");
        return;
    }
    sg_reply_json(req, 200, out);
}

void rp_h_callback_retry(sg_req *req, void *ctx)
{
    rp_svc *s = ctx;
    const char *id = sg_req_uuid_param(req, "id", "callback");
    json_t *out = NULL;
    rp_detail d = {{0}};
    int rc;
    if (!id)
        return;
    if ((rc = rp_store_callback_retry(s->app->pg, id, sg_req_principal(req)->id, &out, &d)) != SG_OK) {
        rp_reply_store_error(req, rc, &d, "callback");
        return;
    }
    sg_reply_json(req, 200, out);
}
