/* See fcache.h. */
#include "fcache.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sg/log.h"

#define NFIELDS 7
/* After a failed call, selections skip Redis for this long instead of each
 * paying a connect timeout while it is down. */
#define DOWN_BACKOFF_S 1.0

struct rv_fcache {
    sg_redis *r;
    char *prefix;       /* "sg:<ns>:rvf:" */
    char *marker;       /* "sg:<ns>:rvf-epoch" */
    int ttl_s;
    pthread_mutex_t mu; /* guards the fields below */
    long generation;    /* sg_redis_generation when run_id was read */
    char run_id[64];
    long resets;
    double down_until;  /* monotonic seconds */
};

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 1 unless a call failed within the back-off. */
static int usable(rv_fcache *fc)
{
    int ok;
    if (!fc || !fc->r)
        return 0;
    pthread_mutex_lock(&fc->mu);
    ok = mono_now() >= fc->down_until;
    pthread_mutex_unlock(&fc->mu);
    return ok;
}

static void mark_down(rv_fcache *fc)
{
    pthread_mutex_lock(&fc->mu);
    fc->down_until = mono_now() + DOWN_BACKOFF_S;
    pthread_mutex_unlock(&fc->mu);
}

/* KEYS[1] marker, KEYS[2..] hashes; ARGV[1] epoch. Returns {reset, h1, ...}
 * with hN = the fields, or 0 for a miss. */
static const char get_script[] =
    "local ep = ARGV[1] local reset = 0 "
    "if redis.call('GET', KEYS[1]) ~= ep then redis.call('SET', KEYS[1], ep) reset = 1 end "
    "local out = {reset} "
    "for i = 2, #KEYS do "
    "  local v = redis.call('HMGET', KEYS[i], 'ep', 'open', 'dd', 'dn', 'wd', 'wn', 'last', 'cd') "
    "  if v[1] == ep then out[i] = v else out[i] = 0 end "
    "end "
    "return out";

/* KEYS = hashes; ARGV[1] epoch, ARGV[2] ttl, then 7 values per key. */
static const char put_script[] =
    "local ep, ttl = ARGV[1], tonumber(ARGV[2]) "
    "for i = 1, #KEYS do "
    "  local b = 2 + (i - 1) * 7 "
    "  redis.call('HSET', KEYS[i], 'ep', ep, 'open', ARGV[b + 1], 'dd', ARGV[b + 2], 'dn', ARGV[b + 3],"
    "             'wd', ARGV[b + 4], 'wn', ARGV[b + 5], 'last', ARGV[b + 6], 'cd', ARGV[b + 7]) "
    "  redis.call('EXPIRE', KEYS[i], ttl) "
    "end "
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
            fc->down_until = mono_now() + DOWN_BACKOFF_S;
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

static double field_num(const redisReply *v)
{
    return v && v->type == REDIS_REPLY_STRING ? strtod(v->str, NULL) : 0;
}

size_t rv_fcache_get(rv_fcache *fc, size_t n, const char *const *ids, rv_fatigue_state *st, unsigned char *found)
{
    char ep[64], nkeys[24];
    size_t argc = 5 + n, hits = 0; /* EVAL script numkeys marker keys... epoch */
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
    snprintf(nkeys, sizeof(nkeys), "%zu", n + 1);
    argv[0] = "EVAL";
    argv[1] = get_script;
    argv[2] = nkeys;
    argv[3] = fc->marker;
    for (size_t i = 0; i < n; i++)
        if (!(argv[4 + i] = keys[i] = key_of(fc, ids[i])))
            goto cleanup;
    argv[4 + n] = ep;
    rep = sg_redis_cmdargv(fc->r, (int)argc, argv, NULL);
    if (!rep) {
        mark_down(fc);
        goto cleanup;
    }
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != n + 1)
        goto cleanup;
    if (rep->element[0]->type == REDIS_REPLY_INTEGER && rep->element[0]->integer == 1) {
        pthread_mutex_lock(&fc->mu);
        fc->resets++;
        pthread_mutex_unlock(&fc->mu);
        sg_info("fatigue cache epoch %s started (Redis flushed or restarted): entries rebuild from PostgreSQL", ep);
    }
    for (size_t i = 0; i < n; i++) {
        const redisReply *h = rep->element[i + 1];
        if (h->type != REDIS_REPLY_ARRAY || h->elements != NFIELDS + 1)
            continue;
        st[i].open_ballots = (int)field_num(h->element[1]);
        st[i].day = (long)field_num(h->element[2]);
        st[i].day_count = (int)field_num(h->element[3]);
        st[i].week = (long)field_num(h->element[4]);
        st[i].week_count = (int)field_num(h->element[5]);
        st[i].last_assigned = field_num(h->element[6]);
        st[i].cooldown_until = field_num(h->element[7]);
        found[i] = 1;
        hits++;
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
    size_t argc = 3 + n + 2 + n * NFIELDS;
    const char **argv = NULL;
    char **keys = NULL;
    char (*vals)[NFIELDS][32] = NULL;
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
    argv[3 + n] = ep;
    argv[4 + n] = ttl;
    for (size_t i = 0; i < n; i++) {
        snprintf(vals[i][0], 32, "%d", st[i].open_ballots);
        snprintf(vals[i][1], 32, "%ld", st[i].day);
        snprintf(vals[i][2], 32, "%d", st[i].day_count);
        snprintf(vals[i][3], 32, "%ld", st[i].week);
        snprintf(vals[i][4], 32, "%d", st[i].week_count);
        snprintf(vals[i][5], 32, "%.3f", st[i].last_assigned);
        snprintf(vals[i][6], 32, "%.3f", st[i].cooldown_until);
        for (int j = 0; j < NFIELDS; j++)
            argv[5 + n + i * NFIELDS + (size_t)j] = vals[i][j];
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
