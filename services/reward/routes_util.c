/* Helpers shared by the reward handlers; see routes.h. */
#include "routes.h"

#include <stdlib.h>
#include <string.h>
#include "sg/log.h"
#include "svc.h"

void rw_reply_outcome(sg_req *req, int rc, const char *what)
{
    switch (rc) {
    case RW_NOT_FOUND:
        sg_reply_problem(req, 404, "Not Found", "%s not found", what);
        return;
    case RW_ITEM_INACTIVE:
        sg_reply_problem(req, 409, "Conflict", "the item is not active");
        return;
    case RW_OUT_OF_STOCK:
        sg_reply_problem(req, 409, "Conflict", "not enough stock");
        return;
    case RW_STOCK_RANGE:
        sg_reply_problem(req, 409, "Conflict", "the stock would go below 0 (or above the maximum)");
        return;
    case RW_INSUFFICIENT:
        sg_reply_problem(req, 409, "Conflict", "insufficient balance");
        return;
    case RW_KEY_REUSED:
        sg_reply_problem(req, 409, "Conflict", "Idempotency-Key already used with a different request body");
        return;
    case RW_ALREADY_REFUNDED:
        sg_reply_problem(req, 409, "Conflict", "the redemption was already refunded");
        return;
    default:
        sg_reply_store_error(req, rc);
        return;
    }
}

int rw_require_self_or_ops(sg_req *req, const char *user_id)
{
    const sg_principal *p = sg_req_principal(req);
    if (p->kind == SG_AUTH_OPS || (p->kind == SG_AUTH_USER && strcmp(p->id, user_id) == 0))
        return 0;
    sg_reply_problem(req, 403, "Forbidden", "only the user themself or ops may see this account");
    return -1;
}

const json_t *rw_body(sg_req *req)
{
    const json_t *body = sg_req_json(req);
    if (!json_is_object(body)) {
        sg_reply_problem(req, 400, "Bad Request", "a JSON object body is required");
        return NULL;
    }
    return body;
}
