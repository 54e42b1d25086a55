/* Metrics totals; see store.h. */
#include "store.h"

#include <stdlib.h>
#include "svc.h"

/* A scrape gives up quickly rather than queue behind requests. */
#define STATS_PG_WAIT_MS 200

int rw_store_stats(sg_pg_pool *p, rw_stats *out)
{
    PGresult *r = NULL;
    int rc = SG_ERR_DB;
    sg_pg *c = sg_pg_acquire(p, STATS_PG_WAIT_MS);
    if (!c)
        return SG_ERR_DB;
    r = sg_pg_query(c,
                    /* Totals and the platform account are sharded (004): sum the shards. */
                    "SELECT (SELECT sum(coins) FROM ledger_totals WHERE kind = 'grant'), "
                    "(SELECT sum(transactions) FROM ledger_totals WHERE kind = 'grant'), "
                    "(SELECT count(*) FROM grants WHERE status = 'capped'), "
                    "(SELECT sum(transactions) FROM ledger_totals WHERE kind = 'redeem'), "
                    "(SELECT sum(coins) FROM ledger_totals WHERE kind = 'redeem'), "
                    "(SELECT sum(transactions) FROM ledger_totals WHERE kind = 'refund'), "
                    "(SELECT sum(coins) FROM ledger_totals WHERE kind = 'refund'), "
                    "(SELECT -sum(balance) FROM accounts WHERE kind = 'platform')",
                    0, NULL);
    if (!sg_pg_ok(r) || PQntuples(r) != 1)
        goto cleanup;
    long long *f[] = {&out->coins_granted, &out->grants_paid, &out->grants_capped, &out->redemptions,
                      &out->coins_redeemed, &out->refunds, &out->coins_refunded, &out->circulation};
    for (int i = 0; i < 8; i++)
        *f[i] = atoll(PQgetvalue(r, 0, i));
    rc = SG_OK;
cleanup:
    PQclear(r);
    sg_pg_release(p, c);
    return rc;
}
