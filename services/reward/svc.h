/* The reward service's context and the outcome codes shared by its layers.
 *
 * One rw_svc is created by rw_init (after the app's pools exist) and
 * passed as ctx to every handler, consumer and the metrics collector; it is
 * immutable after init, so threads share it without locking.
 */
#ifndef RW_SVC_H
#define RW_SVC_H

#include <stdio.h>
#include "sg/app.h"

/* Milliseconds a request waits for a pooled PostgreSQL connection. */
#define RW_PG_WAIT_MS 5000

/* Application outcomes of store functions (positive: the transaction is
 * rolled back and nothing is written). SG_OK / SG_ERR_DB / SG_ERR_RETRY are
 * used as in sg/pg.h. */
enum {
    RW_NOT_FOUND = 1,        /* unknown rule, item, redemption */
    RW_ITEM_INACTIVE,        /* redemption of an inactive item */
    RW_OUT_OF_STOCK,         /* stock < quantity */
    RW_INSUFFICIENT,         /* balance < cost */
    RW_KEY_REUSED,           /* same Idempotency-Key, different body */
    RW_REPLAYED,             /* same Idempotency-Key, same body: first response */
    RW_ALREADY_REFUNDED,     /* second refund of a redemption */
    RW_DUPLICATE,            /* a concurrent writer won a unique key: retry */
};

typedef struct rw_svc {
    sg_app *app;                 /* borrowed: pools, metrics */
} rw_svc;

/* sg_app_spec hooks (svc.c). */
void *rw_init(sg_app *app, char *err, size_t errlen);
void rw_fini(void *svc);

/* Metrics collector (collect.c): coins granted and redemptions, read from
 * the database so every replica reports the same totals. */
void rw_collect(FILE *out, void *svc);

#endif
