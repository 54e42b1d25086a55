/* The reward service's context and the outcome codes shared by its layers,
 * and the entry points that main.c's tables name besides the routes
 * (routes.h): init/fini (svc.c), the consumers (consumers.c) and the metrics
 * collector (collect.c).
 *
 * One rw_svc is created by rw_init (after the app's pools exist) and
 * passed as ctx to every handler, consumer and the metrics collector; it is
 * immutable after init, so threads share it without locking.
 *
 * The service's rooms: main.c (configuration, route and consumer tables),
 * routes.h + routes_<resource>.c (HTTP, no SQL), the pure domain files
 * rule.c, catalog.c, grant.c, redemption.c, payloads.h/.c (the events
 * consumed and produced), store.h + store_<resource>.c (SQL), consumers.c,
 * svc.c, collect.c. No timers.
 */
#ifndef RW_SVC_H
#define RW_SVC_H

#include <jansson.h>
#include <stdio.h>
#include "sg/app.h"
#include "sg/inbox.h"

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
    RW_ALREADY_REFUNDED,     /* refund of a refunded redemption (rw_redemption_may refused it) */
    RW_DUPLICATE,            /* a concurrent writer won a unique key: retry */
    RW_STOCK_RANGE,          /* a stock delta would take the stock below 0 (or above the maximum) */
};

/* Outcome of a consumer for an event that can never be handled (dropped by
 * the inbox). */
#define RW_INVALID_EVENT 100

typedef struct rw_svc {
    sg_app *app;                 /* borrowed: pools, metrics */
} rw_svc;

/* sg_app_spec hooks (svc.c). */
void *rw_init(sg_app *app, char *err, size_t errlen);
void rw_fini(void *svc);

/* Metrics collector (collect.c): coins granted and redemptions, read from
 * the database so every replica reports the same totals. */
void rw_collect(FILE *out, void *svc);

/* Kafka consumers (consumers.c; sg_inbox_fn, ctx = rw_svc *): each runs
 * inside the inbox transaction of its event. */

/* sg.case.decided: credits the vote rewards per the rule in force when the
 * case opened (of the case's report type, or the default rule) and holds the
 * majority bonus and reporter rewards as pending until finality; once per
 * (case, user, kind), within the daily cap; each payment is journaled and
 * announced on sg.reward.granted (key user_id) in the same transaction. */
int rw_on_case_decided(sg_pg *c, const sg_kafka_msg *m, const json_t *payload, void *ctx);

/* sg.case.finalized (v2): settles the case — its majority bonus and
 * reporter rewards by the final verdict, under the rule recorded at
 * decision (grant.h) — once; a finalization that comes before its decision
 * is kept and the decision settles at once. */
int rw_on_case_finalized(sg_pg *c, const sg_kafka_msg *m, const json_t *payload, void *ctx);

#endif
