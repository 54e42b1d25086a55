/* Redis client: a small pool of hiredis connections with timeouts. */
#include "sg/redis.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sg/clock.h"
#include "sg/log.h"

typedef struct rslot {
    redisContext *ctx;
    int busy;
    long long retry_at_ms; /* no reconnect attempt before this */
} rslot;

struct sg_redis {
    char user[256];     /* ACL user, "" for the default user */
    char password[512]; /* "" when no AUTH */
    char host[256];
    int port;
    int db;
    int timeout_ms;
    int size;
    rslot *slots;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_long generation;
    atomic_llong last_err_log_ms;
};

static void log_rate_limited(sg_redis *r, const char *fmt, const char *what)
{
    long long t = sg_clock_mono_ms();
    long long last = atomic_load(&r->last_err_log_ms);
    if (last != 0 && t - last < 5000)
        return;
    atomic_store(&r->last_err_log_ms, t);
    sg_warn(fmt, what);
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Copies [s, s+n) percent-decoded into dst (NUL-terminated). -1 when it does
 * not fit, has a bad escape or decodes to a NUL. */
static int pct_decode(char *dst, size_t dstlen, const char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return -1;
            c = hi * 16 + lo;
            i += 2;
        }
        if (o + 1 >= dstlen)
            return -1;
        dst[o++] = (char)c;
    }
    dst[o] = '\0';
    return 0;
}

void sg_redis_redact_url(const char *url, char *buf, size_t len)
{
    const char *at = url ? strrchr(url, '@') : NULL;
    if (!url)
        snprintf(buf, len, "%s", "");
    else if (at && strncmp(url, "redis://", 8) == 0)
        snprintf(buf, len, "redis://***@%s", at + 1);
    else if (at)
        snprintf(buf, len, "***@%s", at + 1);
    else
        snprintf(buf, len, "%s", url);
}

/* Parses redis://[[user]:password@]host:port[/db] (port defaults to 6379,
 * db to 0; user and password percent-decoded). */
static int parse_url(sg_redis *r, const char *url, char *err, size_t errlen)
{
    const char *p;
    const char *host_end;
    const char *at;
    char *end;
    long v;

    if (!url || strncmp(url, "redis://", 8) != 0)
        goto bad;
    p = url + 8;
    /* The last '@': a password may hold an unescaped one, a host never. */
    at = strrchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (!colon || pct_decode(r->user, sizeof r->user, p, (size_t)(colon - p)) != 0 ||
            pct_decode(r->password, sizeof r->password, colon + 1, (size_t)(at - colon - 1)) != 0 ||
            !r->password[0])
            goto bad;
        p = at + 1;
    }
    host_end = p + strcspn(p, ":/");
    if (host_end == p || (size_t)(host_end - p) >= sizeof r->host)
        goto bad;
    memcpy(r->host, p, (size_t)(host_end - p));
    r->host[host_end - p] = '\0';
    r->port = 6379;
    r->db = 0;
    p = host_end;
    if (*p == ':') {
        errno = 0;
        v = strtol(p + 1, &end, 10);
        if (errno || end == p + 1 || v < 1 || v > 65535)
            goto bad;
        r->port = (int)v;
        p = end;
    }
    if (*p == '/' && p[1] != '\0') {
        errno = 0;
        v = strtol(p + 1, &end, 10);
        if (errno || end == p + 1 || *end != '\0' || v < 0 || v > INT_MAX)
            goto bad;
        r->db = (int)v;
        p = end;
    } else if (*p == '/') {
        p++;
    }
    if (*p != '\0')
        goto bad;
    return 0;
bad:
    {
        char shown[512];
        sg_redis_redact_url(url, shown, sizeof shown);
        snprintf(err, errlen, "SG_REDIS_URL: expected redis://[[user]:password@]host:port[/db], got \"%s\"", shown);
    }
    return -1;
}

sg_redis *sg_redis_create(const char *url, int timeout_ms, int pool_size, char *err, size_t errlen)
{
    sg_redis *r = NULL;

    if (timeout_ms < 1 || pool_size < 1 || pool_size > 256) {
        snprintf(err, errlen, "redis: bad timeout %d or pool size %d", timeout_ms, pool_size);
        return NULL;
    }
    r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "redis: out of memory");
        return NULL;
    }
    if (parse_url(r, url, err, errlen) != 0) {
        free(r);
        return NULL;
    }
    r->slots = calloc((size_t)pool_size, sizeof *r->slots);
    if (!r->slots) {
        snprintf(err, errlen, "redis: out of memory");
        free(r);
        return NULL;
    }
    r->timeout_ms = timeout_ms;
    r->size = pool_size;
    pthread_mutex_init(&r->mu, NULL);
    sg_cond_init_monotonic(&r->cv);
    atomic_init(&r->generation, 0);
    atomic_init(&r->last_err_log_ms, 0);
    return r;
}

void sg_redis_free(sg_redis *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->size; i++)
        if (r->slots[i].ctx)
            redisFree(r->slots[i].ctx);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r->slots);
    memset(r->password, 0, sizeof r->password);
    free(r);
}

static int slot_connect(sg_redis *r, rslot *s)
{
    struct timeval tv = {r->timeout_ms / 1000, (r->timeout_ms % 1000) * 1000};
    redisReply *reply = NULL;
    int rc = -1;

    s->ctx = redisConnectWithTimeout(r->host, r->port, tv);
    if (!s->ctx || s->ctx->err) {
        log_rate_limited(r, "redis: cannot connect: %s", s->ctx ? s->ctx->errstr : "out of memory");
        goto cleanup;
    }
    if (redisSetTimeout(s->ctx, tv) != REDIS_OK)
        goto cleanup;
    if (r->password[0]) {
        const char *argv[3] = {"AUTH", r->user, r->password};
        int argc = 3;
        if (!r->user[0]) {
            argv[1] = r->password;
            argc = 2;
        }
        reply = redisCommandArgv(s->ctx, argc, argv, NULL);
        if (!reply || reply->type == REDIS_REPLY_ERROR) {
            /* The server's message (WRONGPASS ...) names no secret. */
            log_rate_limited(r, "redis: AUTH refused: %s", reply ? reply->str : s->ctx->errstr);
            goto cleanup;
        }
        freeReplyObject(reply);
        reply = NULL;
    }
    if (r->db != 0) {
        reply = redisCommand(s->ctx, "SELECT %d", r->db);
        if (!reply || reply->type == REDIS_REPLY_ERROR) {
            log_rate_limited(r, "redis: SELECT failed: %s", reply ? reply->str : s->ctx->errstr);
            goto cleanup;
        }
    }
    atomic_fetch_add(&r->generation, 1);
    rc = 0;
cleanup:
    if (reply)
        freeReplyObject(reply);
    if (rc != 0) {
        if (s->ctx)
            redisFree(s->ctx);
        s->ctx = NULL;
        /* Callers fall back to PostgreSQL; don't make each of them pay a
         * connect timeout while Redis is away. */
        s->retry_at_ms = sg_clock_mono_ms() + (r->timeout_ms < 200 ? r->timeout_ms : 200);
    }
    return rc;
}

static rslot *slot_get(sg_redis *r)
{
    rslot *s = NULL;
    struct timespec deadline = sg_deadline_ms((long)r->timeout_ms * 2);

    pthread_mutex_lock(&r->mu);
    for (;;) {
        for (int i = 0; i < r->size && !s; i++)
            if (!r->slots[i].busy && r->slots[i].ctx)
                s = &r->slots[i];
        for (int i = 0; i < r->size && !s; i++)
            if (!r->slots[i].busy)
                s = &r->slots[i];
        if (s)
            break;
        if (sg_cond_wait_until(&r->cv, &r->mu, &deadline) == ETIMEDOUT) {
            pthread_mutex_unlock(&r->mu);
            return NULL;
        }
    }
    s->busy = 1;
    pthread_mutex_unlock(&r->mu);
    if (!s->ctx && (sg_clock_mono_ms() < s->retry_at_ms || slot_connect(r, s) != 0)) {
        pthread_mutex_lock(&r->mu);
        s->busy = 0;
        pthread_cond_signal(&r->cv);
        pthread_mutex_unlock(&r->mu);
        return NULL;
    }
    return s;
}

/* Returns the slot; a NULL reply or a context error drops its connection. */
static redisReply *slot_put(sg_redis *r, rslot *s, redisReply *reply)
{
    if (!reply || s->ctx->err) {
        log_rate_limited(r, "redis: command failed: %s", s->ctx->err ? s->ctx->errstr : "no reply");
        if (reply)
            freeReplyObject(reply);
        reply = NULL;
        redisFree(s->ctx);
        s->ctx = NULL;
    } else if (reply->type == REDIS_REPLY_ERROR) {
        sg_warn("redis: error reply: %s", reply->str);
        freeReplyObject(reply);
        reply = NULL;
    }
    pthread_mutex_lock(&r->mu);
    s->busy = 0;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return reply;
}

redisReply *sg_redis_cmd(sg_redis *r, const char *fmt, ...)
{
    rslot *s = slot_get(r);
    if (!s)
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    redisReply *reply = redisvCommand(s->ctx, fmt, ap);
    va_end(ap);
    return slot_put(r, s, reply);
}

redisReply *sg_redis_cmdargv(sg_redis *r, int argc, const char **argv, const size_t *lens)
{
    rslot *s = slot_get(r);
    if (!s)
        return NULL;
    redisReply *reply = redisCommandArgv(s->ctx, argc, argv, lens);
    return slot_put(r, s, reply);
}

int sg_redis_ping(sg_redis *r)
{
    redisReply *reply = sg_redis_cmd(r, "PING");
    int rc = reply && reply->type == REDIS_REPLY_STATUS && strcmp(reply->str, "PONG") == 0 ? 0 : -1;
    if (reply)
        freeReplyObject(reply);
    return rc;
}

long sg_redis_generation(const sg_redis *r)
{
    return atomic_load(&((sg_redis *)r)->generation);
}
