/* Background work of the reviewer service (sg_worker_fn, ctx = rv_svc). */
#ifndef RV_TIMERS_H
#define RV_TIMERS_H

/* Polled every second; runs the pool adjustment every
 * SG_POOL_ADJUST_INTERVAL_S (first run at start-up). When another replica
 * holds the adjustment lock it skips this turn. */
int rv_pool_adjust_worker(void *ctx);

#endif
