/* See fcache.h. */
#include "fcache.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sg/clock.h"
#include "sg/log.h"

/* After a failed call, selections skip Redis for this long instead of each
 * paying a connect timeout while it is down. */
#define DOWN_BACKOFF_MS 1000

struct rv_fcache {
    sg_redis *r;
    char *prefix;       /* "sg:<ns>:rvf:" */
    char *marker;       /* "sg:<ns>:rvf-epoch" */
    int ttl_s;
    pthread_mutex_t mu; /* guards the fields below */
    long generation;    /* sg_redis_generation when run_id was read */
    char run_id[64];
    long resets;
    long long down_until_ms; /* sg_clock_mono_ms */
};

/* 1 unless a call failed within the back-off. */
static int usable(rv_fcache *fc)
{
    int ok;
    if (!fc || !fc->r)
        return 0;
    pthread_mutex_lock(&fc->mu);
    ok = sg_clock_mono_ms() >= fc->down_until_ms;
    pthread_mutex_unlock(&fc->mu);
    return ok;
}

static void mark_down(rv_fcache *fc)
{
    pthread_mutex_lock(&fc->mu);
    fc->down_until_ms = sg_clock_mono_ms() + DOWN_BACKOFF_MS;
    pthread_mutex_unlock(&fc->mu);
}

/* KEYS = entries; ARGV[1] ttl, ARGV[1 + i] the value of KEYS[i]. */
static const char put_script[] =
    "local ttl = ARGV[1] "
    "for i = 1, #KEYS do redis.call('SET', KEYS[i], ARGV[i + 1], 'EX', ttl) end "
    "return #KEYS";

rv_fcache *rv_fcache_create(sg_redis *r, const char *ns, int ttl_s)
{
    rv_fcache *fc = calloc(1, sizeof(*fc));
    size_t len = strlen(ns) + 32;
    if (!fc)
        return NULL;
    fc->r = r;
    fc->ttl_s = ttl_s > 0 ? ttl_s : 900;
    fc->generation = -1;
    fc->prefix = malloc(len);
    fc->marker = malloc(len);
    if (!fc->prefix || !fc->marker) {
        free(fc->prefix);
        free(fc->marker);
        free(fc);
        return NULL;
    }
    snprintf(fc->prefix, len, "sg:%s:rvf:", ns);
    snprintf(fc->marker, len, "sg:%s:rvf-epoch", ns);
    pthread_mutex_init(&fc->mu, NULL);
    return fc;
}

void rv_fcache_free(rv_fcache *fc)
{
    if (!fc)
        return;
    pthread_mutex_destroy(&fc->mu);
    free(fc->prefix);
    free(fc->marker);
    free(fc);
}

long rv_fcache_resets(rv_fcache *fc)
{
    long n;
    pthread_mutex_lock(&fc->mu);
    n = fc->resets;
    pthread_mutex_unlock(&fc->mu);
    return n;
}

/* Copies the current epoch into ep, re-reading the server's run_id after a
 * reconnect. Returns 0, or -1 when Redis is unavailable. */
static int current_epoch(rv_fcache *fc, char *ep, size_t len)
{
    long gen = sg_redis_generation(fc->r);
    int rc = 0;

    pthread_mutex_lock(&fc->mu);
    if (gen != fc->generation || !fc->run_id[0]) {
        redisReply *rep = sg_redis_cmd(fc->r, "INFO server");
        const char *p = rep && rep->type == REDIS_REPLY_STRING ? strstr(rep->str, "run_id:") : NULL;
        if (p) {
            size_t n = strcspn(p + 7, "\r\n");
            if (n >= sizeof(fc->run_id))
                n = sizeof(fc->run_id) - 1;
            memcpy(fc->run_id, p + 7, n);
            fc->run_id[n] = '\0';
            /* The generation after the INFO call: it may have reconnected. */
            fc->generation = sg_redis_generation(fc->r);
        } else {
            fc->run_id[0] = '\0';
            fc->down_until_ms = sg_clock_mono_ms() + DOWN_BACKOFF_MS;
            rc = -1;
        }
        if (rep)
            freeReplyObject(rep);
    }
    snprintf(ep, len, "%s", fc->run_id);
    pthread_mutex_unlock(&fc->mu);
    return rc;
}

static char *key_of(const rv_fcache *fc, const char *id)
{
    size_t len = strlen(fc->prefix) + strlen(id) + 1;
    char *k = malloc(len);
    if (k)
        snprintf(k, len, "%s%s", fc->prefix, id);
    return k;
}

/* An entry is "<epoch> open day day_count week week_count last cooldown":
 * one string, so a window's entries come back from one native MGET. */
static int parse_entry(const char *v, const char *ep, rv_fatigue_state *st)
{
    char e[64];
    int n = 0;
    if (sscanf(v, "%63s %d %ld %d %ld %d %lf %lf%n", e, &st->open_ballots, &st->day, &st->day_count, &st->week,
               &st->week_count, &st->last_assigned, &st->cooldown_until, &n) != 8 || v[n] != '\0')
        return -1;
    return strcmp(e, ep) == 0 ? 0 : -1;
}

/* Records a new epoch when the marker is missing or from another epoch. */
static void check_marker(rv_fcache *fc, const redisReply *m, const char *ep)
{
    redisReply *rep;
    if (m->type == REDIS_REPLY_STRING && strcmp(m->str, ep) == 0)
        return;
    rep = sg_redis_cmd(fc->r, "SET %s %s", fc->marker, ep);
    if (rep)
        freeReplyObject(rep);
    pthread_mutex_lock(&fc->mu);
    fc->resets++;
    pthread_mutex_unlock(&fc->mu);
    sg_info("fatigue cache epoch %s started (Redis flushed or restarted): entries rebuild from PostgreSQL", ep);
}

size_t rv_fcache_get(rv_fcache *fc, size_t n, const char *const *ids, rv_fatigue_state *st, unsigned char *found)
{
    char ep[64];
    size_t argc = 2 + n, hits = 0; /* MGET marker keys... */
    const char **argv = NULL;
    char **keys = NULL;
    redisReply *rep = NULL;

    memset(found, 0, n);
    if (n == 0 || !usable(fc) || current_epoch(fc, ep, sizeof(ep)))
        return 0;
    argv = calloc(argc, sizeof(*argv));
    keys = calloc(n, sizeof(*keys));
    if (!argv || !keys)
        goto cleanup;
    argv[0] = "MGET";
    argv[1] = fc->marker;
    for (size_t i = 0; i < n; i++)
        if (!(argv[2 + i] = keys[i] = key_of(fc, ids[i])))
            goto cleanup;
    rep = sg_redis_cmdargv(fc->r, (int)argc, argv, NULL);
    if (!rep) {
        mark_down(fc);
        goto cleanup;
    }
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != n + 1)
        goto cleanup;
    check_marker(fc, rep->element[0], ep);
    for (size_t i = 0; i < n; i++) {
        const redisReply *v = rep->element[i + 1];
        if (v->type == REDIS_REPLY_STRING && parse_entry(v->str, ep, &st[i]) == 0) {
            found[i] = 1;
            hits++;
        }
    }
cleanup:
    if (rep)
        freeReplyObject(rep);
    for (size_t i = 0; keys && i < n; i++)
        free(keys[i]);
    free(keys);
    free(argv);
    return hits;
}

void rv_fcache_put(rv_fcache *fc, size_t n, const char *const *ids, const rv_fatigue_state *st)
{
    char ep[64], nkeys[24], ttl[16];
    size_t argc = 3 + n + 1 + n; /* EVAL script numkeys keys... ttl values... */
    const char **argv = NULL;
    char **keys = NULL;
    char (*vals)[160] = NULL;
    redisReply *rep = NULL;

    if (n == 0 || !usable(fc) || current_epoch(fc, ep, sizeof(ep)))
        return;
    argv = calloc(argc, sizeof(*argv));
    keys = calloc(n, sizeof(*keys));
    vals = calloc(n, sizeof(*vals));
    if (!argv || !keys || !vals)
        goto cleanup;
    snprintf(nkeys, sizeof(nkeys), "%zu", n);
    snprintf(ttl, sizeof(ttl), "%d", fc->ttl_s);
    argv[0] = "EVAL";
    argv[1] = put_script;
    argv[2] = nkeys;
    for (size_t i = 0; i < n; i++)
        if (!(argv[3 + i] = keys[i] = key_of(fc, ids[i])))
            goto cleanup;
    argv[3 + n] = ttl;
    for (size_t i = 0; i < n; i++) {
        snprintf(vals[i], sizeof(vals[i]), "%s %d %ld %d %ld %d %.3f %.3f", ep, st[i].open_ballots, st[i].day,
                 st[i].day_count, st[i].week, st[i].week_count, st[i].last_assigned, st[i].cooldown_until);
        argv[4 + n + i] = vals[i];
    }
    rep = sg_redis_cmdargv(fc->r, (int)argc, argv, NULL);
    if (!rep)
        mark_down(fc);
cleanup:
    if (rep)
        freeReplyObject(rep);
    for (size_t i = 0; keys && i < n; i++)
        free(keys[i]);
    free(keys);
    free(vals);
    free(argv);
}

void rv_fcache_forget(rv_fcache *fc, size_t n, const char *const *ids)
{
    const char **argv;
    char **keys;
    redisReply *rep = NULL;

    if (n == 0 || !usable(fc))
        return;
    argv = calloc(n + 1, sizeof(*argv));
    keys = calloc(n, sizeof(*keys));
    if (!argv || !keys)
        goto cleanup;
    argv[0] = "UNLINK";
    for (size_t i = 0; i < n; i++)
        if (!(argv[1 + i] = keys[i] = key_of(fc, ids[i])))
            goto cleanup;
    rep = sg_redis_cmdargv(fc->r, (int)n + 1, argv, NULL);
    if (!rep)
        mark_down(fc);
cleanup:
    if (rep)
        freeReplyObject(rep);
    for (size_t i = 0; keys && i < n; i++)
        free(keys[i]);
    free(keys);
    free(argv);
}
