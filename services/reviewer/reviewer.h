/* The reviewer: its lifecycle (the one owner of a reviewer's status) and
 * its API representation. Pure.
 *
 * Lifecycle. A user becomes a reviewer (active) when the pool adjustment
 * admits them; from then on the status is one of rv_status, and every change
 * is one of the transitions of rv_status_transition's table, made by one of
 * three actors:
 *
 *   from \ to    active          paused   suspended        retired
 *   active       ops (no-op),    self     ops, pool        pool
 *                self (no-op)             (quality)        (rule)
 *   paused       ops, self       self     ops, pool        pool
 *                                (no-op)  (quality)        (rule)
 *   suspended    ops, pool       -        ops (no-op)      pool (ended,
 *                (ended)                                   rule)
 *   retired      ops, pool       -        -                -
 *                (admitted)
 *
 * Store functions make each change (store.h: rv_store_set_availability for
 * self, rv_store_set_status for ops, rv_store_pool_adjust for the pool, whose
 * set-based statements select exactly the pool's rows of this table).
 */
#ifndef RV_REVIEWER_H
#define RV_REVIEWER_H

#include <jansson.h>

#define RV_REASON_MAX 200 /* code points */

typedef enum rv_status {
    RV_ACTIVE = 0,
    RV_PAUSED,
    RV_SUSPENDED,
    RV_RETIRED,
} rv_status;
#define RV_NSTATUS 4

/* Who asks for a status change. */
typedef enum rv_actor {
    RV_BY_SELF = 1, /* the reviewer: PUT /v1/me/availability */
    RV_BY_OPS = 2,  /* ops: PUT /v1/reviewers/{id}/status */
    RV_BY_POOL = 4, /* the pool adjustment (eligibility, quality, suspension end) */
} rv_actor;

/* The status's API and database name ("active", ...); NULL when out of range. */
const char *rv_status_name(rv_status s);
/* Parses a name; 0 on success, -1 when name is not one of the four. */
int rv_status_parse(const char *name, rv_status *out);

/* 0 when `by` may move a reviewer from `from` to `to` (from == to is an
 * allowed no-op for the actors that may ask for it), -1 otherwise. */
int rv_status_transition(rv_status from, rv_status to, rv_actor by);

/* 1 when the change from -> to is announced to the report service on
 * sg.reviewer.status_changed (it cancels a suspended or retired juror's
 * open ballots): every change into or out of suspended or retired;
 * pausing and resuming are not announced (a paused reviewer keeps the
 * ballots they have). 0 for no change. */
int rv_status_announced(rv_status from, rv_status to);

/* Self-service pause/unpause: sets *next (may equal cur: a no-op) and
 * returns 0, or -1 when not allowed (a suspended or retired reviewer cannot
 * change their availability). */
int rv_availability_next(rv_status cur, int paused, rv_status *next);

typedef struct rv_reviewer {
    char user_id[129];
    rv_status status;
    char reason[RV_REASON_MAX * 4 + 1];
    char status_changed_at[32]; /* RFC 3339, "" = never */
    char suspended_until[32];   /* "" = none / indefinite */
    int assigned, voted, expired, declined, decided, with_majority;
    int open_ballots;
    char last_assigned_at[32];  /* "" = never */
    char cooldown_until[32];    /* "" = none */
    int gold_votes, gold_hits;  /* audit ballots: ops only */
} rv_reviewer;

/* The API representation (built here, in C, for every reviewer response):
 * {user_id, status, reason, status_changed_at, suspended_until,
 *  counts: {assigned, voted, expired, declined, decided, with_majority},
 *  accuracy (raw; null until a decided vote), reliability (smoothed: the
 *  selection weight), no_show_rate (null until a ballot closed voted or
 *  expired), open_ballots, last_assigned_at, cooldown_until}. */
json_t *rv_reviewer_to_json(const rv_reviewer *r);
/* The ops representation: rv_reviewer_to_json plus gold_votes and
 * gold_accuracy (gold hits / gold_votes, null until a gold vote), which a
 * reviewer never sees about themselves (audit cases stay blind). */
json_t *rv_reviewer_to_json_ops(const rv_reviewer *r);

/* One row of a reviewer's status history. */
typedef struct rv_status_change {
    long long id;               /* the cursor */
    char from_status[16];       /* "" = was not a reviewer */
    char to_status[16];
    char reason[RV_REASON_MAX * 4 + 1];
    char actor[129];
    char changed_at[32];
    int suspend_days;           /* timed suspensions: their length; 0 = none */
    char suspended_until[32];   /* "" = none */
} rv_status_change;

/* {from_status, to_status, reason, actor, changed_at, suspend_days,
 *  suspended_until} (nulls where none). */
json_t *rv_status_change_to_json(const rv_status_change *c);

/* Two reviewers who sat together in the last 90 days (pair_cases): a is
 * the reviewer asked about (or the first of the pair in the listing), b the
 * other; each one's lifetime decided / with_majority for the baseline. */
typedef struct rv_pair_stat {
    char a[129], b[129];
    int cases, agreed;
    int decided_a, with_majority_a, decided_b, with_majority_b;
} rv_pair_stat;

/* GET /v1/reviewers/{a}/pairs item: {user_id (b), cases, agreed, agreement,
 * baseline} (quality.h: rv_majority_rate, rv_pair_baseline). */
json_t *rv_pair_stat_to_json(const rv_pair_stat *s);
/* GET /v1/reviewer-pairs item: {user_ids: [a, b], cases, agreed, agreement,
 * baseline, flagged} (rv_pair_flagged with the policy's margin). */
json_t *rv_pair_listing_to_json(const rv_pair_stat *s, double margin);

#endif
