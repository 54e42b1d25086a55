/* Redis cache of the reviewers' fatigue state, the pre-filter of selection.
 *
 * PostgreSQL holds the truth (users row). The cache lets a selection skip
 * reviewers known to be at a limit without touching PostgreSQL; selection
 * re-checks the chosen reviewers against PostgreSQL under row locks before
 * committing, so a wrong or missing entry can cost a redraw but never break
 * a limit.
 *
 * Layout: one string per reviewer, "sg:<schema>:rvf:<user_id>" =
 * "<epoch> open day day_count week week_count last cooldown" (day numbers
 * UTC, week = its Monday's day number, times Unix s), with a TTL. One string
 * rather than a hash so that a whole window (marker + 64 entries) is one
 * native MGET, about three times cheaper than HMGETs in a script. The marker
 * key "sg:<schema>:rvf-epoch" holds the epoch: the Redis server's run_id,
 * re-read whenever sg_redis_generation() changes (a reconnect). A FLUSHDB
 * removes the marker and the entries; a restart from an old snapshot changes
 * run_id, so every entry of the old epoch reads as a miss. Either way entries
 * are rebuilt lazily from PostgreSQL, per reviewer, when a selection reads
 * that reviewer's truth (below). The marker travels in the same MGET as the
 * entries, so the detection costs no extra round trip.
 *
 * Who writes what:
 *  - selection writes the post-assignment state of the chosen reviewers
 *    (write-through, just before its commit: the inbox offers no after-commit
 *    hook; should the transaction roll back, the entry is too high until
 *    overwritten or expired, which can hide a reviewer for up to the TTL but
 *    never breaks a limit), and the PostgreSQL truth of picks the re-check
 *    refused (healing stale or missing entries);
 *  - ballot releases and outcomes delete the reviewer's entry (its state
 *    just became less restrictive; the next pick re-reads the truth);
 *  - a miss (never cached, expired, flushed, old epoch) is treated by the
 *    caller as "unknown" and settled by the locked PostgreSQL re-check.
 *
 * Thread-safe. Every function degrades to "all misses" / no-op when Redis is
 * unavailable.
 */
#ifndef RV_FCACHE_H
#define RV_FCACHE_H

#include <stddef.h>

#include "fatigue.h"
#include "sg/redis.h"

typedef struct rv_fcache rv_fcache;

/* r may be NULL (no cache). ns (e.g. the schema) is copied. NULL on OOM. */
rv_fcache *rv_fcache_create(sg_redis *r, const char *ns, int ttl_s);
void rv_fcache_free(rv_fcache *fc);

/* Reads the states of ids[0..n); found[i] = 1 for hits. Returns the number
 * of hits. */
size_t rv_fcache_get(rv_fcache *fc, size_t n, const char *const *ids, rv_fatigue_state *st, unsigned char *found);
/* Stores states (with the TTL). */
void rv_fcache_put(rv_fcache *fc, size_t n, const char *const *ids, const rv_fatigue_state *st);
/* Deletes entries. */
void rv_fcache_forget(rv_fcache *fc, size_t n, const char *const *ids);
/* Number of epoch resets seen (flush or restart detected). */
long rv_fcache_resets(rv_fcache *fc);

#endif
