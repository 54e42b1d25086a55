/* The reward service's context and the outcome codes shared by its layers.
 *
 * One reward_svc is created by reward_init (after the app's pools exist) and
 * passed as ctx to every handler, consumer and the metrics collector; it is
 * immutable after init, so threads share it without locking.
 */
#ifndef REWARD_SVC_H
#define REWARD_SVC_H

#include <stdio.h>
#include "sg/app.h"

/* Milliseconds a request waits for a pooled PostgreSQL connection. */
#define REWARD_PG_WAIT_MS 5000

/* Application outcomes of store functions (positive: the transaction is
 * rolled back and nothing is written). SG_OK / SG_ERR_DB / SG_ERR_RETRY are
 * used as in sg/pg.h. */
enum {
    REWARD_NOT_FOUND = 1,        /* unknown rule, item, redemption */
    REWARD_ITEM_INACTIVE,        /* redemption of an inactive item */
    REWARD_OUT_OF_STOCK,         /* stock < quantity */
    REWARD_INSUFFICIENT,         /* balance < cost */
    REWARD_KEY_REUSED,           /* same Idempotency-Key, different body */
    REWARD_REPLAYED,             /* same Idempotency-Key, same body: first response */
    REWARD_ALREADY_REFUNDED,     /* second refund of a redemption */
    REWARD_DUPLICATE,            /* a concurrent writer won a unique key: retry */
};

typedef struct reward_svc {
    sg_app *app;                 /* borrowed: pools, metrics */
} reward_svc;

/* sg_app_spec hooks (svc.c). */
void *reward_init(sg_app *app, char *err, size_t errlen);
void reward_fini(void *svc);

/* Metrics collector (collect.c): coins granted and redemptions, read from
 * the database so every replica reports the same totals. */
void reward_collect(FILE *out, void *svc);

#endif
