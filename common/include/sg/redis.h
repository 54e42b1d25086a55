/* Redis client (hiredis) shared by threads: a small pool of connections,
 * each with connect and command timeouts; a failed connection is dropped and
 * re-made on the next call. Redis is a cache: callers treat NULL as "not
 * available" and fall back to PostgreSQL.
 */
#ifndef SG_REDIS_H
#define SG_REDIS_H

#include <hiredis/hiredis.h>
#include <stddef.h>

typedef struct sg_redis sg_redis;

/* url: redis://[[user]:password@]host:port[/db] (user and password
 * percent-decoded; with a password each connection sends AUTH [user]
 * password before anything else). Connects lazily. Returns NULL on a bad
 * URL, with a message that shows the URL without its userinfo. */
sg_redis *sg_redis_create(const char *url, int timeout_ms, int pool_size, char *err, size_t errlen);
void sg_redis_free(sg_redis *r);

/* Runs a command (hiredis format). Returns a reply the caller frees with
 * freeReplyObject, or NULL on connection failure or an error reply (logged). */
redisReply *sg_redis_cmd(sg_redis *r, const char *fmt, ...);
/* Same with an argument vector (lens may be NULL for C strings). */
redisReply *sg_redis_cmdargv(sg_redis *r, int argc, const char **argv, const size_t *lens);

/* Writes url into buf with its userinfo replaced by "***" (for logs). */
void sg_redis_redact_url(const char *url, char *buf, size_t len);

/* 0 when PING answers PONG. */
int sg_redis_ping(sg_redis *r);

/* Number of (re)connections made so far; a change tells callers that Redis
 * may have restarted and caches may need rebuilding. */
long sg_redis_generation(const sg_redis *r);

#endif
