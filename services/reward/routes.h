/* HTTP handlers of the reward service (ctx = rw_svc *). Each parses and
 * validates its input, checks what the route's auth mask cannot (ops or
 * self, owner or ops), calls the store and maps outcomes to status codes.
 * No SQL here.
 */
#ifndef RW_ROUTES_H
#define RW_ROUTES_H

#include <jansson.h>
#include "sg/http.h"

/* routes_rules.c — ops */
void rw_h_rules_list(sg_req *req, void *ctx);     /* GET /v1/reward-rules */
void rw_h_rule_get(sg_req *req, void *ctx);       /* GET /v1/reward-rules/{report_type} */
void rw_h_rule_put(sg_req *req, void *ctx);       /* PUT /v1/reward-rules/{report_type} */
void rw_h_rule_versions(sg_req *req, void *ctx);  /* GET /v1/reward-rules/{report_type}/versions */

/* routes_accounts.c — ops or the user themself */
void rw_h_account_get(sg_req *req, void *ctx);    /* GET /v1/accounts/{user_id} */
void rw_h_ledger_get(sg_req *req, void *ctx);     /* GET /v1/accounts/{user_id}/ledger */

/* routes_catalog.c — ops write, people read */
void rw_h_item_create(sg_req *req, void *ctx);    /* POST /v1/catalog/items */
void rw_h_item_replace(sg_req *req, void *ctx);   /* PUT /v1/catalog/items/{id} */
void rw_h_item_stock(sg_req *req, void *ctx);     /* POST /v1/catalog/items/{id}/stock */
void rw_h_item_get(sg_req *req, void *ctx);       /* GET /v1/catalog/items/{id} */
void rw_h_items_list(sg_req *req, void *ctx);     /* GET /v1/catalog/items */

/* routes_redemptions.c */
void rw_h_redeem(sg_req *req, void *ctx);         /* POST /v1/redemptions (people) */
void rw_h_redemption_get(sg_req *req, void *ctx); /* GET /v1/redemptions/{id} (owner or ops) */
void rw_h_refund(sg_req *req, void *ctx);         /* POST /v1/redemptions/{id}/refund (ops) */

/* routes_util.c — shared by the handlers */

/* Replies with the problem for a store outcome that is not SG_OK: 404
 * (`what` names the resource) and 409s for the RW_* codes,
 * sg_reply_store_error for the rest (503 for database errors). */
void rw_reply_outcome(sg_req *req, int rc, const char *what);

/* Returns 0 when the caller is ops or the user `user_id`; else replies 403
 * and returns -1. */
int rw_require_self_or_ops(sg_req *req, const char *user_id);

/* Returns the request's JSON object body, or replies 400 and returns NULL. */
const json_t *rw_body(sg_req *req);

#endif
