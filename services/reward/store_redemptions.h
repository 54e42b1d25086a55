/* Redemptions and refunds: each one PostgreSQL transaction (READ COMMITTED
 * with row locks) that moves stock and coins together, or nothing.
 *
 * Redemption JSON: {redemption_id, user_id, item_id, quantity, unit_cost,
 * cost, status ("completed" | "refunded"), created_at, refunded_at}; the
 * responses of rw_store_redeem / rw_store_refund add the user's new `balance`.
 * JSON results are new references the caller owns.
 */
#ifndef RW_STORE_REDEMPTIONS_H
#define RW_STORE_REDEMPTIONS_H

#include <jansson.h>
#include "sg/pg.h"

typedef struct rw_store_redeem_req {
    const char *user_id;          /* the caller */
    const char *key;              /* Idempotency-Key */
    const char *item_id;          /* UUID */
    int quantity;                 /* 1..100 */
} rw_store_redeem_req;

/* Redeems: takes `quantity` units of stock, debits quantity * cost, journals
 * the debit (kind redeem) and records the redemption with its response.
 * Requests of one (user, key) are serialized; a retry finds the first
 * outcome. Returns
 *   SG_OK                 *out = the 201 body;
 *   RW_REPLAYED       *out = the first 201 body (same key, same body);
 *   RW_KEY_REUSED     same key, different item or quantity;
 *   RW_NOT_FOUND      unknown item;
 *   RW_ITEM_INACTIVE, RW_OUT_OF_STOCK, RW_INSUFFICIENT;
 *   SG_ERR_DB.
 * Refusals write nothing (and are not remembered under the key). */
int rw_store_redeem(sg_pg_pool *p, const rw_store_redeem_req *req, json_t **out);

/* Refunds redemption id once: returns its stock and coins (journal kind
 * refund). SG_OK (*out = the redemption with status refunded and the user's
 * balance), RW_NOT_FOUND, RW_ALREADY_REFUNDED or SG_ERR_DB. `by` is
 * the ops user recorded as refunder. */
int rw_store_refund(sg_pg_pool *p, const char *id, const char *by, json_t **out);

/* One redemption and its owner (user_id, copied into owner). SG_OK,
 * RW_NOT_FOUND or SG_ERR_DB. */
int rw_store_redemption_get(sg_pg_pool *p, const char *id, json_t **out, char owner[129]);

#endif
