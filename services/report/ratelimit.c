/* Reporter rate limit; see ratelimit.h. */
#include "ratelimit.h"

#include <stdio.h>
#include "sg/log.h"

#define WINDOW_S 60

/* INCR, and the expiry with the first increment, in one atomic step: a
 * process dying between the two can leave no counter without an expiry. */
static const char INCR_EXPIRE[] = "local n = redis.call('INCR', KEYS[1]) "
                                  "if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end return n";

/* Never below zero, never a key without an expiry (a missing key stays
 * missing). */
static const char DECR_IF_POSITIVE[] = "local n = tonumber(redis.call('GET', KEYS[1]) or '0') "
                                       "if n > 0 then return redis.call('DECR', KEYS[1]) end return 0";

long rp_ratelimit_retry_after(time_t now)
{
    long r = WINDOW_S - (long)(now % WINDOW_S);
    return r < 1 ? 1 : r;
}

/* The window's key. A client name holds no ':' (SG_API_KEYS), so
 * "<client>:<reporter>" is unambiguous. */
static void key_of(char *key, size_t len, const char *prefix, const char *client, const char *reporter, time_t now)
{
    snprintf(key, len, "%srl:%s:%s:%lld", prefix, client, reporter, (long long)(now / WINDOW_S));
}

void rp_ratelimit_refund(sg_redis *r, const char *prefix, const char *client, const char *reporter, time_t now)
{
    char key[512];
    redisReply *rep;
    key_of(key, sizeof key, prefix, client, reporter, now);
    rep = sg_redis_cmd(r, "EVAL %s 1 %s", DECR_IF_POSITIVE, key);
    if (rep)
        freeReplyObject(rep);
}

int rp_ratelimit_hit(sg_redis *r, const char *prefix, const char *client, const char *reporter, long limit,
                     time_t now, long *retry_after_s)
{
    char key[512];
    long long count;
    redisReply *rep;

    *retry_after_s = 0;
    key_of(key, sizeof key, prefix, client, reporter, now);
    /* Twice the window: the key outlives its minute a little, harmlessly. */
    rep = sg_redis_cmd(r, "EVAL %s 1 %s %d", INCR_EXPIRE, key, 2 * WINDOW_S);
    if (!rep || rep->type != REDIS_REPLY_INTEGER) {
        sg_warn("rate limit: redis unavailable, allowing report by %s", reporter);
        if (rep)
            freeReplyObject(rep);
        return 0;
    }
    count = rep->integer;
    freeReplyObject(rep);
    if (count <= limit)
        return 0;
    /* A refused report does not count either. */
    rp_ratelimit_refund(r, prefix, client, reporter, now);
    *retry_after_s = rp_ratelimit_retry_after(now);
    return 1;
}
