/* The reward service's store: every SQL statement of the service is in a
 * store_<resource>.c behind this header (store_util.h holds what the store
 * files share among themselves). Each function here either runs one
 * PostgreSQL transaction of its own (it takes an sg_pg_pool) or runs inside
 * the caller's (it takes an sg_pg: the inbox transaction of a consumer).
 * Outcomes: SG_OK, the RW_* codes of svc.h, SG_ERR_DB / SG_ERR_RETRY.
 *
 * Where JSON is built — one decision for the whole service: the JSON of a
 * resource (rule, account, ledger entry, item, redemption) and the payload of
 * the event the service produces (sg.reward.granted, see payloads.h) are
 * built in SQL (json_build_object / jsonb_build_object) by the statement
 * that reads or writes the rows, each shape once (a *_JSON macro in its
 * store file, or the database function grant_batch; redemptions.response
 * keeps the first 201 body, built by the same macro, for replays). Store
 * functions return that JSON as a new json_t reference the caller owns;
 * handlers pass it through (adding nothing) and C never re-encodes a
 * resource. C structs (rw_rule, rw_item, rw_redeem) are inputs only. The
 * decoding of consumed events is C (payloads.c).
 */
#ifndef RW_STORE_H
#define RW_STORE_H

#include <jansson.h>
#include <stddef.h>
#include "catalog.h"
#include "grant.h"
#include "payloads.h"
#include "redemption.h"
#include "rule.h"
#include "sg/pg.h"

/* ---- Rules (store_rules.c) ----
 *
 * Reward rules in PostgreSQL (table reward_rules). Rule JSON:
 * {report_type, version, vote_reward, majority_bonus, reporter_reward,
 *  daily_cap_per_user, created_by, created_at}.
 * JSON results are new references the caller owns. */

/* Appends the next version of type's rule; *out = the new rule. Concurrent
 * PUTs of one type are serialized, so versions are 1, 2, 3... without gaps.
 * Returns SG_OK or SG_ERR_DB. */
int rw_store_rule_put(sg_pg_pool *p, const char *type, const rw_rule *r, const char *by, json_t **out);

/* The current (highest) version of type's rule. SG_OK, RW_NOT_FOUND or
 * SG_ERR_DB. */
int rw_store_rule_get(sg_pg_pool *p, const char *type, json_t **out);

/* Current rules ordered by report type, after `after` (NULL: from the
 * start). *page: sg_pg_page's {items, next_cursor} 
 * (new reference, NULL unless SG_OK). */
int rw_store_rule_list(sg_pg_pool *p, const char *after, int limit, json_t **page);

/* Versions of type's rule, newest first, below version `before` (0: from
 * the newest). RW_NOT_FOUND when the type has no rule.
 * *page: sg_pg_page's {items, next_cursor} 
 * (new reference, NULL unless SG_OK). */
int rw_store_rule_versions(sg_pg_pool *p, const char *type, long long before, int limit, json_t **page);

/* Inside a transaction: the rule that applies to a case of report type
 * `type` opened at `at` (RFC 3339; NULL: now) — the rule in force then:
 * the type's latest version created at or before `at`, else the latest
 * such version of RW_DEFAULT_TYPE; when neither type had a version yet
 * at `at`, the type's first version, else the default's first (event times
 * have whole seconds: a version created during the second of `at` counts
 * as in force then). Fills *out,
 * rule_type (the type whose rule applied) and *version. Returns SG_OK,
 * RW_NOT_FOUND (no rule at all: ops deleted the default by hand) or an
 * error. */
int rw_store_rule_in_force(sg_pg *c, const char *type, const char *at, rw_rule *out, char rule_type[33],
                           int *version);

/* ---- Accounts and the journal (store_ledger.c) ----
 *
 * Accounts and the double-entry journal (tables accounts, journal_tx,
 * ledger_entries).
 *
 * Every posting is one journal transaction with two entries — the user's
 * (+amount) and the platform's counter-entry (-amount) — and both balances
 * are updated by the same database transaction, so a user's balance always
 * equals the sum of their entries and all entries sum to zero (the schema
 * refuses a commit whose journal transaction does not balance). User
 * balances never go below zero (CHECK constraint, and debits are
 * conditional updates). */

/* A user's account. Account JSON: {user_id, balance, pending}; balance 0
 * for a user the ledger has never seen; pending: the sum of the user's
 * pending grants (held until their case is final; not spendable, not in the
 * balance nor the ledger). SG_OK or SG_ERR_DB. */
int rw_store_account_get(sg_pg_pool *p, const char *user_id, json_t **out);

/* A page of the user's entries, newest first, with seq below before_seq (0:
 * from the newest). Entry JSON: {entry_id, amount, kind, grant_kind, case_id,
 * redemption_id, created_at}. *page: sg_pg_page's {items,
 * next_cursor} (the entry's seq; new reference, NULL unless SG_OK). */
int rw_store_ledger_page(sg_pg_pool *p, const char *user_id, long long before_seq, int limit, json_t **page);


/* ---- Grants (store_grants.c) ----
 *
 * Grants and the daily cap counters (tables grants, daily_paid). All
 * functions run inside the caller's transaction (the inbox transaction of
 * the sg.case.decided consumer). Every pointer passed in is borrowed for the
 * call; nothing returned needs freeing.
 *
 * Exactly once per (case_id, user_id, kind) — for kind reporter the case is
 * the reported one, which an appeal shares: the consumer holds the case lock
 * while it looks up which grants exist (rw_store_grants_existing) and records
 * only the others, and the UNIQUE keys refuse any that slip through
 * (grants_once, and grants_reporter_once_per_reported_case, which also
 * catches a reporter grant recorded under an appeal's id). */

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
 * is not NULL, or — for kind reporter — any reporter grant of user_ids[i]
 * whose reported case (grants.reported_case_id, sql/reward/009) is
 * case_ids[i], else 0, for i < n (exists: the caller's array of n). One
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
 * columns, payload and NOTIFY channel (none while this process's relay
 * leads: sg_outbox_notify_channel) sg_outbox_add would use. Returns
 * SG_OK, RW_DUPLICATE when a grant exists after all (the transaction is
 * aborted: retry it), or an error. */
int rw_store_grant_batch_record(sg_pg *c, const rw_store_grant_batch *b);

/* ---- Settlement (store_settlement.c) ----
 *
 * A case's settlement at finality (tables settlements, case_finals,
 * pending_grants, case_links; sql/reward/009). Its lifecycle is decided ->
 * settled, once: only these two functions write it, each inside the
 * caller's inbox transaction, under the case lock(s) (rw_store_case_lock:
 * the case's own, then the reported case's for an appeal). */

typedef enum {
    RW_SETTLEMENT_PENDING = 0,    /* recorded; its bonus and reporter grants are held as pending */
    RW_SETTLEMENT_NOW,            /* its finalization came first: settle in this transaction */
    RW_SETTLEMENT_SETTLED,        /* settled earlier: nothing more to pay at finality */
} rw_settlement_state;

/* What rw_store_settlement_record records: the decision and the rule
 * applied, and the grants to hold as pending (parallel arrays of n; a
 * reporter grant is keyed by the reported case). All borrowed. */
typedef struct rw_store_settlement {
    const char *case_id;
    const char *appeal_of;                  /* NULL unless an appeal */
    const char *report_type;
    const char *rule_type;
    int rule_version;
    const char *decision;                   /* the sg.case.decided payload, JSON text */
    size_t n;
    const char *const *user_ids;
    const char *const *kinds;               /* majority_bonus | reporter */
    const long long *amounts;
} rw_store_settlement;

/* At a decision with a verdict: records s through the database function
 * settlement_record (one call) and sets *state; on RW_SETTLEMENT_NOW, *fin
 * holds the verdicts of the finalization that came first. Returns SG_OK
 * or an error. */
int rw_store_settlement_record(sg_pg *c, const rw_store_settlement *s, rw_settlement_state *state, rw_final *fin);

/* At sg.case.finalized f (event_id: the event's): keeps the finalization
 * and, when the case's decision is recorded and unsettled, marks it settled
 * (database function settlement_finalize, one call) and returns in
 * *decision (a new reference the caller owns) the recorded sg.case.decided
 * payload, with *fin, *rule, rule_type and *rule_version as recorded at
 * decision; the caller records the grants in this transaction. *decision
 * is NULL when there is nothing to settle (decision not known yet, or
 * settled already). Returns SG_OK or an error. */
int rw_store_settlement_finalize(sg_pg *c, const rw_finalization *f, const char *event_id, json_t **decision,
                                 rw_final *fin, rw_rule *rule, char rule_type[33], int *rule_version);

/* ---- Catalog (store_catalog.c) ----
 *
 * Catalog items (table items). Item JSON: {item_id, name, cost, stock,
 * active, created_at, updated_at}. JSON results are new references the
 * caller owns. */

/* Creates an item; *out = the item. SG_OK or SG_ERR_DB. */
int rw_store_item_create(sg_pg_pool *p, const rw_item *it, json_t **out);

/* Replaces every field of item id (stock included). SG_OK, RW_NOT_FOUND
 * or SG_ERR_DB. */
int rw_store_item_replace(sg_pg_pool *p, const char *id, const rw_item *it, json_t **out);

/* Adds delta (may be negative) to item id's stock in one conditional
 * UPDATE (stock = stock + delta), so a concurrent redemption's take is never
 * undone; *out = the item. SG_OK, RW_NOT_FOUND, RW_STOCK_RANGE (the stock
 * would go below 0 or above RW_MAX_STOCK: nothing changes) or SG_ERR_DB. */
int rw_store_item_stock_add(sg_pg_pool *p, const char *id, long long delta, json_t **out);

/* One item. SG_OK, RW_NOT_FOUND or SG_ERR_DB. */
int rw_store_item_get(sg_pg_pool *p, const char *id, json_t **out);

/* Items in creation order after sequence `after` (0: from the first);
 * active: -1 all, 0 inactive only, 1 active only. 
 * *page: sg_pg_page's {items, next_cursor} 
 * (new reference, NULL unless SG_OK). */
int rw_store_item_list(sg_pg_pool *p, long long after, int active, int limit, json_t **page);

/* ---- Redemptions (store_redemptions.c) ----
 *
 * The redemption's lifecycle (redemption.h) is written here only, one
 * function per transition: rw_store_redeem ((none) -> completed) and
 * rw_store_refund (completed -> refunded). Each is one PostgreSQL
 * transaction (READ COMMITTED with row locks) that changes the state
 * together with the stock and the ledger posting of the transition (journal
 * kind redeem / refund), or changes nothing; no other statement writes
 * redemptions.status. Redemptions announce no event.
 *
 * Redemption JSON: {redemption_id, user_id, item_id, quantity, unit_cost,
 * cost, status ("completed" | "refunded"), created_at, refunded_at}; the
 * responses of rw_store_redeem / rw_store_refund add the user's new `balance`.
 * JSON results are new references the caller owns. */

typedef struct rw_store_redeem_req {
    const char *user_id;          /* the caller */
    const char *key;              /* Idempotency-Key */
    const char *item_id;          /* UUID */
    int quantity;                 /* 1..100 */
} rw_store_redeem_req;

/* Redeems: takes `quantity` units of stock, debits quantity * cost, journals
 * the debit (kind redeem) and records the redemption with its response.
 * Requests of one (user, key) are serialized; a retry finds the first
 * outcome. Returns
 *   SG_OK                 *out = the 201 body;
 *   RW_REPLAYED           *out = the first 201 body (same key, same body);
 *   RW_KEY_REUSED         same key, different item or quantity;
 *   RW_NOT_FOUND          unknown item;
 *   RW_ITEM_INACTIVE, RW_OUT_OF_STOCK, RW_INSUFFICIENT;
 *   SG_ERR_DB.
 * Refusals write nothing (and are not remembered under the key). */
int rw_store_redeem(sg_pg_pool *p, const rw_store_redeem_req *req, json_t **out);

/* Refunds redemption id once (rw_redemption_may(its state, refunded)):
 * returns its stock and coins (journal kind refund). SG_OK (*out = the
 * redemption with status refunded and the user's balance), RW_NOT_FOUND,
 * RW_ALREADY_REFUNDED (the transition is refused) or SG_ERR_DB. `by` is
 * the ops user recorded as refunder. */
int rw_store_refund(sg_pg_pool *p, const char *id, const char *by, json_t **out);

/* One redemption and its owner (user_id, copied into owner). SG_OK,
 * RW_NOT_FOUND or SG_ERR_DB. */
int rw_store_redemption_get(sg_pg_pool *p, const char *id, json_t **out, char owner[129]);

/* ---- Totals for /metrics (store_stats.c) ----
 *
 * Totals for /metrics, read from the database so every replica reports the
 * same values (cheap: a handful of rows and a partial index). */

typedef struct rw_stats {
    long long coins_granted;          /* sum of grant postings */
    long long grants_paid;            /* grant postings (one per grant paid, fully or partly) */
    long long grants_capped;          /* grants recorded as capped */
    long long redemptions;            /* successful redemptions */
    long long coins_redeemed;
    long long refunds;
    long long coins_refunded;
    long long circulation;            /* sum of user balances = -platform balance */
} rw_stats;

/* Fills *out. SG_OK, or SG_ERR_DB when no connection is free within a short
 * wait or a query fails. */
int rw_store_stats(sg_pg_pool *p, rw_stats *out);

#endif
