/* Group commit: concurrent transactions of one kind committed together.
 *
 * Each caller of sg_pg_group_tx queues its body and waits. A waiting caller
 * becomes a leader when fewer than max_groups groups are in flight: it takes
 * up to max_items queued bodies, oldest first, and runs them in ONE READ
 * COMMITTED transaction on one pooled connection, each body after a
 * SAVEPOINT of its own, released in the round trip of the next body's
 * (ROLLBACK TO when it fails, with the rows it deferred, so one refused
 * body does not abort the others; the last one ends at COMMIT), then COMMITs
 * once and wakes every caller of the group with its own body's code. Nothing
 * waits for a group to fill: a group is whatever is queued when a leader
 * starts, one body when quiet, more under load. The rows the bodies defer
 * (sg_pg_defer) are written once for the whole group, one statement per sql.
 *
 * A caller is answered only after the COMMIT that holds its body's writes
 * returned OK (or with an error: then nothing of it was written, or, after
 * a connection lost during COMMIT, the outcome is unknown: SG_ERR_DB).
 *
 * A body must be safe to run more than once (as under sg_pg_tx): it runs
 * again, alone under sg_pg_tx, when it failed with SG_ERR_RETRY inside its
 * group, and every body of a group does when the group as a whole failed
 * before its COMMIT happened (deferred rows refused, COMMIT refused, the
 * connection lost before COMMIT). A body sees the writes of the bodies
 * before it in its group, as it would once they were committed.
 *
 * A group holds the row locks of its first bodies while its later ones run,
 * so two groups locking the same rows in opposite orders would deadlock
 * (PostgreSQL breaks it after deadlock_timeout; the victim body reruns
 * alone). The bodies of a group therefore run in the order of their callers'
 * lock keys (the key of the row a body locks first), queue order among equal
 * keys.
 */
#ifndef SG_PG_GROUP_H
#define SG_PG_GROUP_H

#include "sg/pg.h"

typedef struct sg_pg_group sg_pg_group;

/* Counters since creation, for metrics: groups run (a body run alone because
 * it was the only one queued counts as a group of one), bodies run in them,
 * and bodies that had to run again alone. */
typedef struct sg_pg_group_stats {
    unsigned long long groups, items, alone;
} sg_pg_group_stats;

/* Creates a group committer on p (borrowed: must outlive it). max_items
 * 1..64 bodies per transaction (1: every sg_pg_group_tx is a plain sg_pg_tx,
 * unqueued); max_groups >= 1 transactions in flight at once. NULL when out
 * of memory or a bound is outside its range. */
sg_pg_group *sg_pg_group_create(sg_pg_pool *p, int max_items, int max_groups);
/* No caller may still be inside sg_pg_group_tx. NULL is a no-op. */
void sg_pg_group_free(sg_pg_group *g);

/* Runs fn(c, ctx) as sg_pg_tx(p, SG_TX_READ_COMMITTED, fn, ctx) would, in
 * a transaction it may share with concurrent callers (see above); blocks
 * until that transaction ended. lock_key (borrowed, may be NULL: before
 * every key) orders the bodies of a group. Returns fn's positive code (its writes
 * rolled back), SG_OK once committed, SG_ERR_RETRY or SG_ERR_DB. fn may run
 * on another caller's thread (the leader's), with this caller's log context
 * (sg_log_set_context) set around it. */
int sg_pg_group_tx(sg_pg_group *g, const char *lock_key, sg_pg_tx_fn fn, void *ctx);

void sg_pg_group_stats_get(sg_pg_group *g, sg_pg_group_stats *out);

#endif
