/* The lifecycles of a case and of a ballot: their states, the names the
 * database and the API use for them, and which transitions are legal. Pure:
 * the store's transition functions (store_lifecycle.c) ask
 * rp_case_transition_ok / rp_ballot_transition_ok before every change of
 * state and refuse an illegal one.
 *
 *   case:   assigning -> voting          (first ballot assigned)
 *           assigning|voting -> decided | escalated | cancelled
 *           escalated -> decided (resolved by ops) | cancelled
 *   ballot: open -> voted | expired | declined | cancelled
 *
 * Finality (v2) is not a status: it is a one-way fact of a decided case
 * (cases.finalized_at, set once, never cleared), so every reader of
 * `decided` stays right and the case's status table needs no new edge. It
 * is set only by rp_case_finalize (store_lifecycle.c): when the appeal
 * window closes unappealed (timer), or when the case's appeal, or the case
 * as an appeal, is decided or resolved.
 */
#ifndef RP_LIFECYCLE_H
#define RP_LIFECYCLE_H

typedef enum {
    RP_CASE_ASSIGNING = 0,
    RP_CASE_VOTING,
    RP_CASE_DECIDED,
    RP_CASE_ESCALATED,
    RP_CASE_CANCELLED,
} rp_case_status;
#define RP_CASE_NSTATUS 5

typedef enum {
    RP_BALLOT_OPEN = 0,
    RP_BALLOT_VOTED,
    RP_BALLOT_EXPIRED,
    RP_BALLOT_DECLINED,
    RP_BALLOT_CANCELLED,
} rp_ballot_status;
#define RP_BALLOT_NSTATUS 5

/* The state's name ("assigning", ..., "open", ...); NULL out of range. */
const char *rp_case_status_name(rp_case_status s);
const char *rp_ballot_status_name(rp_ballot_status s);
/* Returns 0 and sets *out, or -1 for an unknown name (or NULL). */
int rp_case_status_parse(const char *name, rp_case_status *out);
int rp_ballot_status_parse(const char *name, rp_ballot_status *out);

/* 1 when the case may go from `from` to `to` (never to itself), else 0;
 * 0 for values out of range. */
int rp_case_transition_ok(rp_case_status from, rp_case_status to);
int rp_ballot_transition_ok(rp_ballot_status from, rp_ballot_status to);

/* 1 while the case takes votes (assigning or voting). */
int rp_case_status_open(rp_case_status s);

/* The delivery of a notification to the push gateway (its row is the inbox
 * entry whatever this status):
 *
 *   pending  -> sent | failed | muted | capped | deferred
 *   deferred -> sent | failed | muted | capped | pending (retry after a
 *               failed attempt)
 *   muted, capped, sent, failed: final
 *
 * A notification is created pending (muted when its kind is muted). A retry
 * of a pending one stays pending, and a deferred one found in quiet hours
 * again stays deferred: its due time moves, its status does not. */
typedef enum {
    RP_PUSH_PENDING = 0,
    RP_PUSH_SENT,
    RP_PUSH_FAILED,
    RP_PUSH_MUTED,
    RP_PUSH_CAPPED,
    RP_PUSH_DEFERRED,
} rp_push_status;
#define RP_PUSH_NSTATUS 6

const char *rp_push_status_name(rp_push_status s);
int rp_push_status_parse(const char *name, rp_push_status *out);
/* 1 when a notification's delivery may go from `from` to `to`. */
int rp_push_transition_ok(rp_push_status from, rp_push_status to);

#endif
