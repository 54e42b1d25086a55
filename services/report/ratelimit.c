/* Reporter rate limit; see ratelimit.h. */
#include "ratelimit.h"

#include <stdio.h>
#include "sg/log.h"

#define WINDOW_S 60

/* INCR, and the expiry with the first increment, in one atomic step: a
 * process dying between the two can leave no counter without an expiry. */
static const char INCR_EXPIRE[] = "local n = redis.call('INCR', KEYS[1]) "
                                  "if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end return n";

long rp_ratelimit_retry_after(time_t now)
{
    long r = WINDOW_S - (long)(now % WINDOW_S);
    return r < 1 ? 1 : r;
}

int rp_ratelimit_hit(sg_redis *r, const char *prefix, const char *reporter, long limit, time_t now,
                     long *retry_after_s)
{
    char key[512];
    long long count;
    redisReply *rep;

    *retry_after_s = 0;
    snprintf(key, sizeof key, "%srl:%s:%lld", prefix, reporter, (long long)(now / WINDOW_S));
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
    *retry_after_s = rp_ratelimit_retry_after(now);
    return 1;
}
