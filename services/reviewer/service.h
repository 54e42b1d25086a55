/* The reviewer service's context: what handlers, consumers, workers and the
 * selection benchmark share. Created once, read-only afterwards except where
 * noted; owned by whoever created it (the app's fini, or the benchmark).
 *
 * Service-specific configuration (environment):
 *   SG_POOL_ADJUST_INTERVAL_S  (300, 1..86400)  period of the pool adjustment
 *   SG_SELECTION_WINDOW        (64, 8..1000)    candidates read per window
 *   SG_SELECTION_MAX_WINDOWS   (8, 1..64)       windows per selection at most
 *   SG_FATIGUE_CACHE_TTL_S     (900, 10..86400) life of a Redis fatigue entry
 */
#ifndef RV_SERVICE_H
#define RV_SERVICE_H

#include <stddef.h>

#include "fcache.h"
#include "sg/app.h"
#include "sg/metrics.h"
#include "sg/pg.h"
#include "sg/redis.h"

typedef struct rv_service {
    sg_app *app;          /* NULL outside the app (benchmark); borrowed */
    sg_pg_pool *pg;       /* borrowed */
    sg_redis *redis;      /* borrowed, may be NULL */
    sg_metrics *metrics;  /* borrowed, may be NULL */
    rv_fcache *fcache;    /* owned */
    long adjust_interval_s;
    long window;
    long max_windows;
    long fcache_ttl_s;
    double next_adjust;   /* touched by the adjustment worker thread only */
} rv_service;

/* Reads and validates the SG_* variables above; ns names the Redis keys
 * (the schema). Returns NULL with a message naming the variable. */
rv_service *rv_service_create(sg_pg_pool *pg, sg_redis *redis, sg_metrics *metrics, const char *ns, char *err,
                              size_t errlen);
void rv_service_free(rv_service *s);

/* Adds v to a counter when metrics exist. */
void rv_count(rv_service *s, const char *name, const char *labels, double v);

#endif
