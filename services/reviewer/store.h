/* The reviewer service's PostgreSQL store: every SQL statement of the
 * service lives in store_*.c, with $n parameters only.
 *
 * One transaction per store function. Functions taking an sg_pg run inside
 * the caller's transaction (the consumers' inbox transaction, or panel.c's
 * selection inside it). Functions taking an sg_pg_pool take a connection
 * themselves and run one transaction on it (sg_pg_tx, or a single
 * statement): they serve the HTTP handlers, the timers and the collector,
 * which never hold a connection. All return SG_OK, SG_ERR_DB / SG_ERR_RETRY,
 * or one of svc.h's positive RV_* outcomes (the transaction is then rolled
 * back). Output structs are filled by the callee; strings in them are copies
 * (no ownership questions), except the selection's candidates, which point
 * into rv_rows the caller keeps.
 *
 * Where the JSON of a resource is built: in C, once, by the domain file that
 * owns the resource (rv_reviewer_to_json in reviewer.c; rv_*_to_json and
 * rv_policy_versioned in policy.c), from the structs this store fills. The
 * store returns rows as structs, never JSON, and SQL builds no response
 * JSON. Event payloads are encoded and decoded in payloads.c only; the store
 * writes the encoded sg.panel.assigned to the outbox as it is given.
 * (json_agg in rv_store_panel_claim only carries a list of ids across the
 * wire in one round trip; it is no representation.)
 */
#ifndef RV_STORE_H
#define RV_STORE_H

#include <stddef.h>

#include "sg/pg.h"
#include "payloads.h"
#include "policy.h"
#include "quality.h"
#include "reviewer.h"
#include "selection.h"
#include "svc.h"

/* --- policies (store_policy.c) --- */
/* Current version (own connection, one statement); meta may be NULL. */
int rv_store_pool_rule_get(sg_pg_pool *p, rv_pool_rule *out, rv_version_meta *meta);
int rv_store_fatigue_policy_get(sg_pg_pool *p, rv_fatigue_policy *out, rv_version_meta *meta);
int rv_store_quality_policy_get(sg_pg_pool *p, rv_quality_policy *out, rv_version_meta *meta);
/* Inserts a new version (its own transaction; concurrent PUTs are
 * serialized); sets ->version and meta. */
int rv_store_pool_rule_put(sg_pg_pool *p, rv_pool_rule *r, const char *actor, rv_version_meta *meta);
int rv_store_fatigue_policy_put(sg_pg_pool *p, rv_fatigue_policy *f, const char *actor, rv_version_meta *meta);
int rv_store_quality_policy_put(sg_pg_pool *p, rv_quality_policy *q, const char *actor, rv_version_meta *meta);

/* --- profiles and activity (store_profiles.c) --- */
/* Upserts the batch in one statement (own transaction). */
int rv_store_profiles_upsert(sg_pg_pool *p, const rv_profile_batch *b);
/* Records visits as (user, ISO week) rows, idempotently; *added = new rows
 * (may be NULL). */
int rv_store_activity_add(sg_pg *c, size_t n, const char *const *user_ids, const long *weeks, long *added);
int rv_store_activity_add_tx(sg_pg_pool *p, const rv_activity_batch *b, long *added);
/* A profile with its activity weeks in [first_week, last_week], for the
 * eligibility check of one user. *nweeks <= 53. RV_NOT_FOUND without a
 * profile. */
int rv_store_profile_load(sg_pg *c, const char *user_id, long first_week, long last_week, rv_tags *tags,
                          int *credit_score, double *registered_at, long *weeks, size_t *nweeks);

/* --- pool adjustment (store_pool.c) --- */
typedef struct rv_adjust_counts {
    long added, retired, suspended, reinstated;
} rv_adjust_counts;
/* Runs the whole adjustment in one transaction under a transaction-level
 * advisory lock: wait=1 waits for a running adjustment to finish first,
 * wait=0 returns RV_BUSY instead. */
int rv_store_pool_adjust(sg_pg_pool *p, int wait, double now, rv_adjust_counts *out);

/* --- reviewers (store_reviewers.c) --- */
/* One reviewer (own connection, one statement); RV_NOT_FOUND. */
int rv_store_reviewer_get(sg_pg_pool *p, const char *user_id, rv_reviewer *out);
/* Reviewers (status NULL = any) with user_id > after (NULL = from the
 * start), ordered by user_id; items has room for limit; *n set (own
 * connection, one statement). */
int rv_store_reviewers_list(sg_pg_pool *p, const rv_status *status, const char *after, int limit, rv_reviewer *items,
                            int *n);
/* Self-service pause (rv_availability_next); RV_NOT_FOUND, RV_CONFLICT
 * (suspended/retired). */
int rv_store_set_availability(sg_pg_pool *p, const char *user_id, int paused, double now, rv_reviewer *out);
/* Ops status change (RV_CONFLICT unless rv_status_transition allows it for
 * RV_BY_OPS, reason in why). Activating requires the pool rule to admit the
 * user (RV_INELIGIBLE, reason in why); suspending is indefinite (until ops
 * activate). */
int rv_store_set_status(sg_pg_pool *p, const char *user_id, rv_status status, const char *reason,
                        const char *actor, double now, rv_reviewer *out, char *why, size_t whylen);
/* Announces a status change (rv_status_announced) in the caller's
 * transaction: an sg.reviewer.status_changed outbox row keyed by user_id
 * (payload from rv_status_changed_encode). Nothing when the change is not
 * announced. The caller holds the user's row lock, so one reviewer's events
 * leave in the order of their changes. */
int rv_store_status_announce(sg_pg *c, const char *user_id, rv_status from, rv_status to, const char *reason);
/* A reviewer's status changes with id > after, oldest first; items has
 * room for limit; *n set. RV_NOT_FOUND when the user is not a reviewer
 * (own connection, one statement). */
int rv_store_history(sg_pg_pool *p, const char *user_id, long long after, int limit, rv_status_change *items, int *n);
/* Reviewers per status: counts[i] for active, paused, suspended, retired
 * (own connection, waiting at most timeout_ms for it; one statement). */
int rv_store_status_counts(sg_pg_pool *p, int timeout_ms, long counts[4]);

/* --- selection (store_panel.c), inside the consumer's transaction --- */
/* Claims (case_id, round) and, in the same round trip, reads the current
 * fatigue policy and the reviewers already on the case (any round; malloc'ed
 * strings, free with rv_ids_free). Returns SG_OK when the claim is new,
 * RV_CONFLICT when (case_id, round) was answered before (see
 * rv_store_panel_answer). */
int rv_store_panel_claim(sg_pg *c, const rv_panel_req *r, const char *event_id, rv_fatigue_policy *policy,
                         char ***on_case, size_t *n_on_case);
/* The recorded answer of (case_id, round): reviewer ids in their order
 * (malloc'ed) and the shortfall. */
int rv_store_panel_answer(sg_pg *c, const rv_panel_req *r, char ***ids, size_t *nids, int *shortfall);
void rv_ids_free(char **ids, size_t n);

/* Rows a selection keeps while it uses the candidates read from them
 * (rv_store_window, rv_store_reviewers_truth); free with rv_rows_free
 * (NULL is fine). */
typedef PGresult rv_rows;
void rv_rows_free(rv_rows *rows);

/* A window of active reviewers with lo <= sample_key < hi in key order,
 * holding every tag of `required` (may be empty). The candidates' strings
 * point into *res, which the caller keeps while it uses them.
 * cands has room for limit; *n set; *last_key = key of the last row. */
int rv_store_window(sg_pg *c, double lo, double hi, int limit, const rv_tags *required, rv_rows **res,
                    rv_candidate *cands, int *n, double *last_key);
/* How rv_store_reviewers_truth locks the rows it reads. */
typedef enum {
    RV_LOCK_NONE = 0,
    RV_LOCK_WAIT,   /* FOR UPDATE in user_id order, waiting for other holders */
    RV_LOCK_SKIP,   /* FOR UPDATE SKIP LOCKED: rows another transaction holds are left out */
} rv_lock_mode;

/* Reads the PostgreSQL truth (status, tags, counters, fatigue) of ids,
 * locked as `lock` says. Rows found are returned in *res / cands (room for
 * n); *found set. */
int rv_store_reviewers_truth(sg_pg *c, size_t n, const char *const *ids, rv_lock_mode lock, rv_rows **res,
                             rv_candidate *cands, int *found);
/* Share-locks the users rows of ids (user_id order), waiting: the pair
 * limit's guard. A pick is locked FOR UPDATE by its selection; holding the
 * already seated reviewers FOR SHARE as well means two selections that
 * would each add one case to the same pair always conflict on one of its
 * two rows, so the second checks the pair after the first committed. */
int rv_store_lock_shared(sg_pg *c, size_t n, const char *const *ids);
/* The pair limit's check: of the pairs (as[i], bs[i]) (either order,
 * repeats fine), those seated together on at least max cases in the 30 UTC
 * days up to now's (pair_days, by primary key: one index probe per pair,
 * whatever the pool size). full has room for n; strings point into *rows
 * (free with rv_rows_free); *nfull set. */
int rv_store_pairs_full(sg_pg *c, size_t n, const char *const *as, const char *const *bs, int max, double now,
                        rv_rows **rows, rv_pair *full, size_t *nfull);
/* Records the assignment: per reviewer one more open ballot and the day/week
 * counters, a fresh sample_key, an assignments row each, and the answer on
 * the panel request; every new pair of reviewers on the case (a new one
 * with anyone seated before, in any round, or with another new one) counts
 * one more case today in pair_days. */
int rv_store_panel_assign(sg_pg *c, const rv_panel_req *r, size_t n, const char *const *ids, int shortfall,
                          double now);
/* Adds the sg.panel.assigned outbox row (payload from
 * rv_panel_assigned_encode, keyed by case_id). */
int rv_store_panel_assigned_emit(sg_pg *c, const char *case_id, const json_t *payload, const char *traceparent);

/* --- outcomes (store_outcomes.c), inside the consumer's transaction --- */
/* What one report (sg.ballot.closed, sg.case.decided, sg.case.finalized)
 * says about one assignment. Each field's "unknown" keeps the recorded
 * value: RV_OUT_NONE, with_majority -1, RV_DEC_NONE, RV_GOLD_NONE. */
typedef struct rv_ballot_report {
    const char *reviewer_id;
    rv_outcome outcome;
    int with_majority;
    rv_decision decision;
    int gold;
} rv_ballot_report;

/* Closes the ballots of the reported reviewers on case_id and merges the
 * reports into their recorded states (rv_ballot_merge, rv_ballot_set_gold;
 * several reports about one reviewer apply in order): counters move by the
 * deltas of rv_outcome_delta, each open ballot is released once, a newly
 * expired ballot starts the cooldown. Reviewers not assigned to the case
 * are ignored. *changed = reviewers whose fatigue state changed (may be
 * NULL). */
int rv_store_record_outcomes(sg_pg *c, const char *case_id, size_t n, const rv_ballot_report *reports, double now,
                             long *changed);
/* The same for a batch of reports about assignments of several cases:
 * reports[i] is about (case_ids[i], reports[i].reviewer_id). Every lock in
 * one order (assignments by case and reviewer, then users by id) and every
 * change in one statement, whatever the number of cases. */
int rv_store_record_outcomes_batch(sg_pg *c, size_t n, const char *const *case_ids, const rv_ballot_report *reports,
                                   double now);

/* The case's verdicts as this service knows them (case_verdicts). */
typedef struct rv_case_verdict {
    rv_decision verdict;          /* sg.case.decided; RV_DEC_NONE until then */
    rv_decision final_verdict;    /* sg.case.finalized; RV_DEC_NONE until then */
    int audit;
    rv_decision expected_verdict;
} rv_case_verdict;

/* Records the decided verdict (sg.case.decided) and returns the row, locked
 * for the rest of the transaction (so sg.case.finalized of the same case
 * waits, and vice versa). */
int rv_store_case_decided_mark(sg_pg *c, const char *case_id, rv_decision verdict, double now, rv_case_verdict *out);
/* Records the finalization (sg.case.finalized) and returns the row, locked
 * likewise. */
int rv_store_case_finalized_mark(sg_pg *c, const rv_case_finalized *f, double now, rv_case_verdict *out);
/* The voted ballots of the case with their recorded decisions (those
 * sg.case.decided reported): reports[i] has reviewer_id (strings owned by
 * *rows, free with rv_rows_free), outcome RV_OUT_VOTED, decision, and the
 * unknowns elsewhere. *reports malloc'ed (free), *n set. */
int rv_store_case_decisions(sg_pg *c, const char *case_id, rv_rows **rows, rv_ballot_report **reports, size_t *n);
/* Closes every ballot of the case still open (a decided case has no open
 * ballots left: they were cancelled), through rv_store_record_outcomes.
 * The reviewers concerned are returned in ids (free with rv_ids_free). */
int rv_store_close_case(sg_pg *c, const char *case_id, double now, char ***ids, size_t *n);

/* --- pairs (store_pairs.c) --- */
/* Records, for every two of the case's voters with a decision (ids[i],
 * decs[i]), whether they voted the same way (pair_cases; a pair and case
 * once, so a redelivery adds nothing). Inside the caller's transaction. */
int rv_store_pair_cases_add(sg_pg *c, const char *case_id, size_t n, const char *const *ids,
                            const rv_decision *decs, double now);
/* Both read pair_totals, the sums of the 90 days pair_cases keeps (the
 * pool adjustment drops older rows and takes them off the sums, so the
 * window moves in steps of SG_POOL_ADJUST_INTERVAL_S).
 * The reviewers user_id sat with most (most cases first), at most limit;
 * items has room for limit, *n set. RV_NOT_FOUND when user_id is not a
 * reviewer (own connection, one statement). */
int rv_store_reviewer_pairs(sg_pg_pool *p, const char *user_id, int limit, rv_pair_stat *items, int *n);
/* Pairs with at least RV_PAIR_MIN_CASES cases together, ordered by (a, b),
 * from offset on, at most limit; only the flagged ones (quality.h:
 * rv_pair_flagged, with the current policy's pair_flag_margin) when
 * flagged. *margin = that margin (own connection, one statement). */
int rv_store_pairs_list(sg_pg_pool *p, int flagged, long long offset, int limit, rv_pair_stat *items, int *n,
                        double *margin);

#endif
