/* See svc.h: the context's init and fini. */
#include "svc.h"

#include <stdlib.h>

rv_svc *rv_svc_init(sg_pg_pool *pg, sg_redis *redis, sg_metrics *metrics, const char *ns, char *err, size_t errlen)
{
    rv_svc *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->pg = pg;
    s->redis = redis;
    s->metrics = metrics;
    if (sg_env_long("SG_POOL_ADJUST_INTERVAL_S", 300, 1, 86400, &s->adjust_interval_s, err, errlen)
        || sg_env_long("SG_SELECTION_WINDOW", 64, 8, 1000, &s->window, err, errlen)
        || sg_env_long("SG_SELECTION_MAX_WINDOWS", 8, 1, 64, &s->max_windows, err, errlen)
        || sg_env_long("SG_FATIGUE_CACHE_TTL_S", 900, 10, 86400, &s->fcache_ttl_s, err, errlen))
        goto fail;
    s->fcache = rv_fcache_create(redis, ns, (int)s->fcache_ttl_s);
    if (!s->fcache)
        goto fail;
    return s;
fail:
    free(s);
    return NULL;
}

void rv_svc_fini(rv_svc *s)
{
    if (!s)
        return;
    rv_fcache_free(s->fcache);
    free(s);
}

void rv_count(rv_svc *s, const char *name, const char *labels, double v)
{
    if (s->metrics)
        sg_metrics_count(s->metrics, name, labels, v);
}
