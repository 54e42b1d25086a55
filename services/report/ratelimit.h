/* Reporter intake rate limit in Redis: a counter per (client, reporter)
 * per one-minute window (INCR and EXPIRE in one Lua call), so one client
 * cannot use up a user's quota at the others. A report that is refused
 * after it was counted is refunded (rp_ratelimit_refund): only reports
 * filed count. Redis is a counter store, not the
 * truth: when it cannot answer the request is allowed (fail open) and a
 * warning is logged.
 */
#ifndef RP_RATELIMIT_H
#define RP_RATELIMIT_H

#include <time.h>
#include "sg/redis.h"

/* Counts one report by `reporter` through `client` at time `now` against
 * `limit` per minute. Returns 0 when allowed, 1 when over the limit (the
 * count is then taken back) with *retry_after_s set to the seconds until
 * the window ends (>= 1). `prefix` namespaces the keys. */
int rp_ratelimit_hit(sg_redis *r, const char *prefix, const char *client, const char *reporter, long limit,
                     time_t now, long *retry_after_s);

/* Takes back a count made by rp_ratelimit_hit at `now` (same window) for a
 * report that was then refused. Best effort: Redis is not the truth. */
void rp_ratelimit_refund(sg_redis *r, const char *prefix, const char *client, const char *reporter, time_t now);

/* Seconds from now until the end of its one-minute window, 1..60. Pure. */
long rp_ratelimit_retry_after(time_t now);

#endif
