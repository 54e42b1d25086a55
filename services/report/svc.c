/* The report service's context: configuration from SG_* variables, the
 * process-wide libcurl state. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "svc.h"
#include "sg/config.h"
#include "sg/json.h"
#include "sg/log.h"
#include "store.h"

/* A group committer from SG_<x>_GROUP (bodies per transaction, 1..max_items)
 * and SG_<x>_GROUPS (transactions in flight, 1..64, at most the pool's
 * connections, which the consumers and timers share). */
static int group_from_env(sg_app *app, const char *items_var, long def_items, long max_items, const char *groups_var,
                          long def_groups, long *items, sg_pg_group **out, char *err, size_t errlen)
{
    long max_groups = def_groups;
    if (sg_env_long(items_var, def_items, 1, max_items, items, err, errlen) ||
        sg_env_long(groups_var, def_groups, 1, 64, &max_groups, err, errlen))
        return -1;
    if (max_groups > app->cfg.pg_pool_size)
        max_groups = app->cfg.pg_pool_size;
    if (!(*out = sg_pg_group_create(app->pg, (int)*items, (int)max_groups))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

void *rp_svc_init(sg_app *app, char *err, size_t errlen)
{
    rp_svc *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->app = app;
    if (sg_env_long("SG_REPORT_RATE_PER_MIN", 10, 1, 1000000, &s->rate_per_min, err, errlen) ||
        sg_env_long("SG_CALLBACK_MAX_ATTEMPTS", 8, 5, 100, &s->callback_max_attempts, err, errlen) ||
        sg_env_long("SG_CALLBACK_TIMEOUT_MS", 5000, 100, 60000, &s->callback_timeout_ms, err, errlen) ||
        sg_env_long("SG_CALLBACK_MAX_BACKOFF_S", 300, 1, 86400, &s->callback_max_backoff_s, err, errlen) ||
        sg_env_long("SG_CALLBACK_WORKERS", RP_CALLBACK_WORKERS_DEFAULT, RP_CALLBACK_WORKERS_MIN,
                    RP_CALLBACK_WORKERS_MAX, &s->callback_workers, err, errlen) ||

        sg_env_long("SG_SHORTFALL_RETRY_BASE_S", 30, 1, 600, &s->shortfall_retry_base_s, err, errlen))
        goto fail;
    /* Intake off by default (SG_INTAKE_GROUP=1): on the bench machine a
     * group's reports run one after another on one connection while a
     * commit costs little (local disk), so groups lost more parallelism than
     * they saved in commits (bench/README.md, "Group commit of intake"). It
     * pays where a commit waits for a slow flush or a synchronous standby.
     * Votes: see RP_VOTE_GROUP_DEFAULT. */
    if (group_from_env(app, "SG_INTAKE_GROUP", RP_INTAKE_GROUP_DEFAULT, RP_INTAKE_GROUP_MAX, "SG_INTAKE_GROUPS", 2,
                       &s->intake_group, &s->intake, err, errlen) ||
        group_from_env(app, "SG_VOTE_GROUP", RP_VOTE_GROUP_DEFAULT, RP_VOTE_GROUP_MAX, "SG_VOTE_GROUPS",
                       RP_VOTE_GROUPS_DEFAULT, &s->vote_group, &s->votes, err, errlen))
        goto fail;
    if (sg_metrics_add_collector(app->metrics, rp_groups_collect_live, s)) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    {
        char *allow = sg_env_strdup("SG_CALLBACK_ALLOW_HOSTS", "");
        char aerr[200];
        s->callback_allow = allow ? sg_allowlist_parse(allow, aerr, sizeof aerr) : NULL;
        free(allow);
        if (!s->callback_allow) {
            snprintf(err, errlen, "SG_CALLBACK_ALLOW_HOSTS: %s", allow ? aerr : "out of memory");
            goto fail;
        }
    }
    if (!(s->cb_hosts = calloc((size_t)s->callback_workers, sizeof *s->cb_hosts))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    pthread_mutex_init(&s->cb_lock, NULL);
    s->callback_secret = sg_env_strdup("SG_CALLBACK_SECRET", NULL);
    if (!s->callback_secret || strlen(s->callback_secret) < 16) {
        snprintf(err, errlen, "SG_CALLBACK_SECRET is required and must be at least 16 characters");
        goto fail;
    }
    if (sg_env_long("SG_PUSH_MAX_PER_HOUR", 20, 1, 100000, &s->push_max_per_hour, err, errlen) ||
        sg_env_long("SG_PUSH_MAX_ATTEMPTS", 8, 5, 100, &s->push_max_attempts, err, errlen) ||
        sg_env_long("SG_PUSH_TIMEOUT_MS", 5000, 100, 60000, &s->push_timeout_ms, err, errlen) ||
        sg_env_long("SG_PUSH_CONNECT_TIMEOUT_MS", 2000, 100, 60000, &s->push_connect_timeout_ms, err, errlen) ||
        sg_env_long("SG_PUSH_MAX_BACKOFF_S", 300, 1, 86400, &s->push_max_backoff_s, err, errlen) ||
        sg_env_long("SG_PUSH_BATCH", 16, 1, RP_PUSH_MAX_BATCH, &s->push_batch, err, errlen))
        goto fail;
    s->push_url = sg_env_strdup("SG_PUSH_GATEWAY_URL", NULL);
    if (s->push_url && !s->push_url[0]) {
        free(s->push_url);
        s->push_url = NULL;
    }
    if (s->push_url && !sg_is_http_url(s->push_url)) {
        snprintf(err, errlen, "SG_PUSH_GATEWAY_URL must be an http:// or https:// URL");
        goto fail;
    }
    s->push_secret = sg_env_strdup("SG_PUSH_SECRET", s->callback_secret);
    if (!s->push_secret || strlen(s->push_secret) < 16) {
        snprintf(err, errlen, "SG_PUSH_SECRET must be at least 16 characters");
        goto fail;
    }
    if (!(s->push_stats = rp_push_stats_new()) || sg_metrics_add_collector(app->metrics, rp_push_collect_live, s)) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    snprintf(s->rate_prefix, sizeof s->rate_prefix, "sg:%s:", app->cfg.pg_schema);
    /* Before any worker thread exists: curl_global_init is not thread-safe. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "curl_global_init failed");
        goto fail;
    }
    return s;
fail:
    sg_pg_group_free(s->intake);
    sg_pg_group_free(s->votes);
    sg_allowlist_free(s->callback_allow);
    free(s->cb_hosts);
    rp_push_stats_free(s->push_stats);
    free(s->push_url);
    free(s->push_secret);
    free(s->callback_secret);
    free(s);
    return NULL;
}

void rp_svc_fini(void *svc)
{
    rp_svc *s = svc;
    if (!s)
        return;
    curl_global_cleanup();
    for (long i = 0; i < s->callback_workers; i++)
        free(s->cb_hosts[i].host);
    free(s->cb_hosts);
    pthread_mutex_destroy(&s->cb_lock);
    sg_allowlist_free(s->callback_allow);
    rp_push_stats_free(s->push_stats);
    sg_pg_group_free(s->intake);
    sg_pg_group_free(s->votes);
    free(s->push_url);
    free(s->push_secret);
    free(s->callback_secret);
    free(s);
}
