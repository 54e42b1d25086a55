/* The reward store's internal header, shared by the store_<resource>.c
 * files only (the rest of the service sees store.h): advisory lock classes
 * and the ledger posting that redemptions and refunds make inside their
 * transaction (grants post inside the database function grant_batch).
 */
#ifndef RW_STORE_UTIL_H
#define RW_STORE_UTIL_H

#include <jansson.h>
#include <libpq-fe.h>
#include "sg/pg.h"
#include "sg/pgutil.h"

/* Classes of transaction-scoped advisory locks (two-key form, whose key
 * space does not overlap the one-key locks of migrations and the relay). */
#define RW_LOCK_RULES "50831"
#define RW_LOCK_REDEMPTION "50832"
#define RW_LOCK_CASE "50833"

typedef struct rw_store_posting {
    const char *kind;           /* journal kind: grant | redeem | refund | adjust */
    const char *case_id;        /* grant: the case; else NULL */
    const char *redemption_id;  /* redeem, refund: the redemption; else NULL */
    const char *grant_kind;     /* grant: vote | majority_bonus | reporter; else NULL */
    const char *user_id;        /* the user's account (created on first credit) */
    long long amount;           /* to the user (negative: a debit); the platform gets -amount */
} rw_store_posting;

typedef struct rw_store_posted {
    char entry_id[37];          /* the user's entry */
    char tx_id[37];             /* the journal transaction */
    long long balance;          /* the user's balance after the posting */
} rw_store_posted;

/* Inside the caller's transaction: posts p through the database function
 * ledger_post (sql/reward/003) and fills *out. A debit larger than the
 * balance (or of an unknown user) is RW_INSUFFICIENT and leaves nothing
 * written. Locks the user's account row, then the platform's: callers lock
 * other rows (items, redemptions, daily counters) before calling, never
 * after, so lock order is the same everywhere. Returns SG_OK,
 * RW_INSUFFICIENT or an error. */
int rw_store_post(sg_pg *c, const rw_store_posting *p, rw_store_posted *out);

/* PostgreSQL array literal of v[0..n) for one $n::bigint[] parameter.
 * malloc'ed (caller frees); NULL when out of memory. */
char *rw_store_int_array(const long long *v, size_t n);

#endif
