/* Balance and ledger endpoints (ops or the user themself). */
#include "routes.h"

#include "sg/json.h"
#include "store.h"
#include "svc.h"

/* The {user_id} parameter when the caller may see it, else NULL after
 * replying. */
static const char *account_param(sg_req *req)
{
    const char *u = sg_req_param(req, "user_id");
    if (!sg_is_opaque_id(u)) {
        sg_reply_problem(req, 400, "Bad Request", "user_id must be 1..128 printable characters without spaces");
        return NULL;
    }
    return rw_require_self_or_ops(req, u) == 0 ? u : NULL;
}

void rw_h_account_get(sg_req *req, void *ctx)
{
    rw_svc *svc = ctx;
    const char *user = account_param(req);
    json_t *out;
    if (!user)
        return;
    int rc = rw_store_account_get(svc->app->pg, user, &out);
    if (rc != SG_OK) {
        rw_reply_outcome(req, rc, "account");
        return;
    }
    sg_reply_json(req, 200, out);
}

void rw_h_ledger_get(sg_req *req, void *ctx)
{
    rw_svc *svc = ctx;
    const char *user = account_param(req);
    long long before = 0;
    json_t *page;
    int limit;

    if (!user || sg_req_page_seq(req, &limit, &before) != 0)
        return;
    int rc = rw_store_ledger_page(svc->app->pg, user, before, limit, &page);
    if (rc != SG_OK) {
        rw_reply_outcome(req, rc, "account");
        return;
    }
    sg_reply_json(req, 200, page);
}
