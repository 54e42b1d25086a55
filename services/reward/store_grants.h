/* Grants and the daily cap counters (tables grants, daily_paid). All
 * functions run inside the caller's transaction (the inbox transaction of
 * the sg.case.decided consumer). Every pointer passed in is borrowed for the
 * call; nothing returned needs freeing.
 *
 * Exactly once per (case_id, user_id, kind) — for kind reporter the case is
 * the reported one, which an appeal shares: the consumer holds the case lock
 * while it looks up which grants exist (rw_store_grants_existing) and records
 * only the others, and the UNIQUE key refuses any that slip through.
 */
#ifndef RW_STORE_GRANTS_H
#define RW_STORE_GRANTS_H

#include "sg/pg.h"

/* Serializes the handling of one case across consumers and replicas until
 * the transaction ends, so a decision delivered twice (even with different
 * event ids) is handled once after the other. Take it before any other lock. */
int rw_store_case_lock(sg_pg *c, const char *case_id);

/* Locks the rows of users[0..n) (distinct) that a grant transaction
 * writes: first their accounts (created at balance 0 when new), then their
 * daily counters for the UTC day of `at` (RFC 3339; NULL: now; created at 0),
 * each set in one statement in user_id order. Fills day (YYYY-MM-DD) and
 * paid[i], the coins user i was paid that day so far.
 *
 * Taking every user lock here, before any posting locks the platform
 * account, keeps the lock order "users, then platform" that redemptions and
 * refunds follow too, so they cannot deadlock with grants. */
int rw_store_grant_lock_users(sg_pg *c, const char *const *users, size_t n, const char *at, char day[11],
                           long long *paid);

/* The grants of one case, as parallel arrays of n (grant i is user_ids[i],
 * kinds[i], ...), sorted by user then kind: the order in which they are
 * decided, written and announced. All borrowed from the caller. */
typedef struct rw_store_grant_batch {
    const char *case_id;
    const char *report_type;                /* from the event */
    const char *rule_type;                  /* whose rule applied (type or "default") */
    int rule_version;
    const char *day;                        /* YYYY-MM-DD (UTC); counters locked */
    const char *event_id;                   /* the event that caused them */
    const char *traceparent;                /* of the sg.reward.granted events; NULL: none */
    size_t n;
    const char *const *user_ids;
    const char *const *kinds;               /* vote | majority_bonus | reporter */
    const long long *amount_due;            /* > 0 */
    const long long *amount_paid;           /* 0 <= paid <= due; paid < due: capped */
} rw_store_grant_batch;

/* Sets exists[i] to 1 when the grant (case_ids[i], user_ids[i], kinds[i])
 * exists already, or (also_ids[i], user_ids[i], kinds[i]) when also_ids[i]
 * is not NULL, else 0, for i < n (exists: the caller's array of n). One
 * statement. Returns SG_OK or an error. */
int rw_store_grants_existing(sg_pg *c, const char *const *case_ids, const char *const *also_ids,
                          const char *const *user_ids, const char *const *kinds, size_t n, unsigned char *exists);

/* *a_first = 1 when the platform shard of case a (sql/reward/004: abs(
 * hashtext(case id)) % 16) is not after the shard of case b, else 0. A
 * transaction that posts grants of two cases posts them in this order, so
 * two such transactions lock the shard rows in one order. */
int rw_store_grant_shard_order(sg_pg *c, const char *a, const char *b, int *a_first);

/* Records the b->n grants of b, none of which may exist yet, through the
 * database function grant_batch (sql/reward/005, redefined by 006), in one call: each paid
 * grant gets its journal transaction (kind grant) with the user's and the
 * platform shard's entries, the balances, running totals and daily counters
 * (locked by rw_store_grant_lock_users) add up the payments, and each is
 * announced on sg.reward.granted (key user_id) through the outbox, with the
 * columns, payload and NOTIFY channel sg_outbox_add would use. Returns
 * SG_OK, RW_DUPLICATE when a grant exists after all (the transaction is
 * aborted: retry it), or an error. */
int rw_store_grant_batch_record(sg_pg *c, const rw_store_grant_batch *b);

#endif
