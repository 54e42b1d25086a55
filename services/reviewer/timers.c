/* See timers.h. */
#include "svc.h"

#include "sg/log.h"
#include "store.h"
#include "sg/timeutil.h"

/* After a database failure, try again sooner than a full interval. */
#define RETRY_AFTER_S 10.0

int rv_pool_adjust_worker(void *ctx)
{
    rv_svc *s = ctx;
    rv_adjust_counts n;
    double now = sg_time_now();
    int rc;

    if (now < s->next_adjust)
        return 0;
    s->next_adjust = now + (double)s->adjust_interval_s;
    rc = rv_store_pool_adjust(s->pg, 0, now, &n);
    if (rc == RV_BUSY) {
        sg_debug("pool adjustment skipped: another replica is adjusting");
        return 0;
    }
    if (rc != SG_OK) {
        sg_warn("pool adjustment failed (%d); retrying in %.0f s", rc, RETRY_AFTER_S);
        s->next_adjust = now + RETRY_AFTER_S;
        return -1;
    }
    if (n.added || n.retired || n.suspended || n.reinstated)
        sg_info("pool adjusted: added %ld, retired %ld, suspended %ld, reinstated %ld", n.added, n.retired,
                n.suspended, n.reinstated);
    return 0;
}
