/* Timer scanners (see store_timers.c for the claiming). */
#include "report.h"
#include "store.h"
#include "workers.h"

int report_timers_tick(void *ctx)
{
    report_svc *s = ctx;
    int (*const scans[])(sg_pg_pool *) = {store_timer_case_deadlines, store_timer_ballot_expiry,
                                           store_timer_reminders, store_timer_refill};
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

int report_housekeeping_tick(void *ctx)
{
    report_svc *s = ctx;
    return store_housekeeping(s->app->pg);
}
