/* Totals for /metrics, read from the database so every replica reports the
 * same values (cheap: a handful of rows and a partial index).
 */
#ifndef RW_STORE_STATS_H
#define RW_STORE_STATS_H

#include "sg/pg.h"

typedef struct rw_stats {
    long long coins_granted;          /* sum of grant postings */
    long long grants_paid;            /* grant postings (one per grant paid, fully or partly) */
    long long grants_capped;          /* grants recorded as capped */
    long long redemptions;            /* successful redemptions */
    long long coins_redeemed;
    long long refunds;
    long long coins_refunded;
    long long circulation;            /* sum of user balances = -platform balance */
} rw_stats;

/* Fills *out. SG_OK, or SG_ERR_DB when no connection is free within a short
 * wait or a query fails. */
int rw_store_stats(sg_pg_pool *p, rw_stats *out);

#endif
