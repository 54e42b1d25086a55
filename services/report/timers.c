/* Timer scanners (see store_timers.c for the claiming). */
#include "svc.h"
#include "store.h"

int rp_timers_tick(void *ctx)
{
    rp_svc *s = ctx;
    int (*const scans[])(sg_pg_pool *) = {rp_store_timer_case_deadlines, rp_store_timer_ballot_expiry,
                                           rp_store_timer_reminders, rp_store_timer_refill,
                                           rp_store_timer_finalize};
    int total = 0, errors = 0;
    /* Deadlines first: a case past its deadline is closed, not refilled. */
    for (size_t i = 0; i < sizeof scans / sizeof scans[0]; i++) {
        int n = scans[i](s->app->pg);
        if (n < 0)
            errors++;
        else
            total += n;
    }
    return total > 0 ? total : errors ? -1 : 0;
}

int rp_housekeeping_tick(void *ctx)
{
    rp_svc *s = ctx;
    return rp_store_housekeeping(s->app->pg);
}
