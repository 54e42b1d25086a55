/* Redemption endpoints. */
#include "routes.h"

#include <string.h>
#include "catalog.h"
#include "sg/json.h"
#include "sg/log.h"
#include "store.h"
#include "svc.h"

void rw_h_redeem(sg_req *req, void *ctx)
{
    rw_svc *svc = ctx;
    const char *key = sg_req_header(req, "Idempotency-Key");
    const json_t *body;
    rw_redeem in;
    json_t *out;
    char err[256];

    if (!sg_idempotency_key_ok(key)) {
        sg_reply_problem(req, 400, "Bad Request", "header Idempotency-Key (1..128 printable ASCII characters, no spaces) is required");
        return;
    }
    if (!(body = rw_body(req)))
        return;
    if (rw_redeem_from_json(body, &in, err, sizeof err) != 0) {
        sg_reply_problem(req, 400, "Bad Request", "%s", err);
        return;
    }
    rw_store_redeem_req r = {.user_id = sg_req_principal(req)->id, .key = key, .item_id = in.item_id,
                          .quantity = in.quantity};
    int rc = rw_store_redeem(svc->app->pg, &r, &out);
    sg_metrics_count(svc->app->metrics, "sg_reward_redemption_requests_total",
                     rc == SG_OK ? "result=\"created\"" : rc == RW_REPLAYED ? "result=\"replayed\""
                     : rc > 0 ? "result=\"refused\"" : "result=\"error\"", 1);
    if (rc == SG_OK || rc == RW_REPLAYED) {
        sg_reply_json(req, rc == SG_OK ? 201 : 200, out);
        return;
    }
    rw_reply_outcome(req, rc, "item");
}

void rw_h_redemption_get(sg_req *req, void *ctx)
{
    rw_svc *svc = ctx;
    const sg_principal *p = sg_req_principal(req);
    const char *id = sg_req_uuid_param(req, "id", "redemption");
    char owner[129];
    json_t *out;
    if (!id)
        return;
    int rc = rw_store_redemption_get(svc->app->pg, id, &out, owner);
    if (rc != SG_OK) {
        rw_reply_outcome(req, rc, "redemption");
        return;
    }
    /* Another user's redemption is as invisible as a missing one. */
    if (p->kind != SG_AUTH_OPS && strcmp(p->id, owner) != 0) {
        json_decref(out);
        sg_reply_problem(req, 404, "Not Found", "redemption not found");
        return;
    }
    sg_reply_json(req, 200, out);
}

void rw_h_refund(sg_req *req, void *ctx)
{
    rw_svc *svc = ctx;
    const char *id = sg_req_uuid_param(req, "id", "redemption");
    json_t *out;
    if (!id)
        return;
    int rc = rw_store_refund(svc->app->pg, id, sg_req_principal(req)->id, &out);
    if (rc != SG_OK) {
        rw_reply_outcome(req, rc, "redemption");
        return;
    }
    sg_info("redemption %s refunded by %s", id, sg_req_principal(req)->id);
    sg_reply_json(req, 200, out);
}
