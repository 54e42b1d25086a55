/* Grants and the daily cap counters (tables grants, daily_paid). All
 * functions run inside the caller's transaction (the inbox transaction of
 * the sg.case.decided consumer).
 *
 * Exactly once per (case_id, user_id, kind): the consumer holds the case lock
 * while grant_record (sql/reward/003) skips grants that exist, and the UNIQUE
 * key refuses any that slip through.
 */
#ifndef REWARD_STORE_GRANTS_H
#define REWARD_STORE_GRANTS_H

#include "sg/pg.h"

/* Serializes the handling of one case across consumers and replicas until
 * the transaction ends, so a decision delivered twice (even with different
 * event ids) is handled once after the other. Take it before any other lock. */
int store_case_lock(sg_pg *c, const char *case_id);

/* Locks the rows of users[0..n) (distinct) that a grant transaction
 * writes: first their accounts (created at balance 0 when new), then their
 * daily counters for the UTC day of `at` (RFC 3339; NULL: now; created at 0),
 * each set in one statement in user_id order. Fills day (YYYY-MM-DD) and
 * paid[i], the coins user i was paid that day so far.
 *
 * Taking every user lock here, before any posting locks the platform
 * account, keeps the lock order "users, then platform" that redemptions and
 * refunds follow too, so they cannot deadlock with grants. */
int store_grant_lock_users(sg_pg *c, const char *const *users, size_t n, const char *at, char day[11],
                           long long *paid);

typedef struct store_grant {
    const char *case_id, *user_id, *kind;   /* kind: vote | majority_bonus | reporter */
    const char *report_type;                /* from the event */
    const char *rule_type;                  /* whose rule applied (type or "default") */
    int rule_version;
    const char *day;                        /* YYYY-MM-DD (UTC); counter locked */
    long long amount_due, amount_paid;      /* 0 <= paid <= due; paid < due: capped */
    const char *event_id;                   /* the event that caused it */
} store_grant;

/* Records a grant and pays amount_paid (journal kind grant, daily counter).
 * Sets *exists (then nothing was written) or fills entry_id with the user's
 * ledger entry when amount_paid > 0. Returns SG_OK, REWARD_DUPLICATE when a
 * concurrent writer recorded it first (the transaction is aborted: retry
 * it), or an error. */
int store_grant_record(sg_pg *c, const store_grant *g, int *exists, char entry_id[37]);

#endif
