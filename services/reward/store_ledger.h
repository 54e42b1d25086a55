/* Accounts and the double-entry journal (tables accounts, journal_tx,
 * ledger_entries).
 *
 * Every posting is one journal transaction with two entries — the user's
 * (+amount) and the platform's counter-entry (-amount) — and both balances
 * are updated by the same database transaction, so a user's balance always
 * equals the sum of their entries and all entries sum to zero (the schema
 * refuses a commit whose journal transaction does not balance). User
 * balances never go below zero (CHECK constraint, and debits are
 * conditional updates).
 */
#ifndef RW_STORE_LEDGER_H
#define RW_STORE_LEDGER_H

#include <jansson.h>
#include "sg/pg.h"

/* A user's balance; 0 for a user the ledger has never seen. SG_OK or
 * SG_ERR_DB. */
int rw_store_balance(sg_pg_pool *p, const char *user_id, long long *balance);

/* A page of the user's entries, newest first, with seq below before_seq (0:
 * from the newest). Entry JSON: {entry_id, amount, kind, grant_kind, case_id,
 * redemption_id, created_at}. *page: sg_pg_page's {items,
 * next_cursor} (the entry's seq; new reference, NULL unless SG_OK). */
int rw_store_ledger_page(sg_pg_pool *p, const char *user_id, long long before_seq, int limit, json_t **page);

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

#endif
