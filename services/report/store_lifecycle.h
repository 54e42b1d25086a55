/* The owners of the case and ballot lifecycles in the store (see
 * lifecycle.h for the states and the legal transitions). Every change of a
 * case's or a ballot's status goes through one function below, which asks
 * the transition table first (an illegal transition is refused with
 * RP_CONFLICT and nothing written), updates the row only from the expected
 * old status, and writes the events (outbox) and audit entries the change
 * causes. Each runs inside the caller's transaction on `c`, after the caller
 * locked the case row with rp_case_lock. Internal to the store layer.
 */
#ifndef RP_STORE_LIFECYCLE_H
#define RP_STORE_LIFECYCLE_H

#include <jansson.h>
#include "decision.h"
#include "lifecycle.h"
#include "sg/pg.h"
#include "sg/pgutil.h"

/* A case row joined with the rule version it was opened under. */
typedef struct rp_case_row {
    char id[37];
    char appeal_of[37];       /* "" when not an appeal */
    char report_type[33];
    char target_id[129];
    char owner[129];
    rp_case_status status;
    char traceparent[64];     /* "" when the case was opened untraced */
    int rule_version;
    int panel_size;
    int votes_to_decide;
    int round;
    int max_substitute_rounds;
    int on_deadline_escalate;
    int appeal_panel_size;
    int appeal_votes_to_decide;
    int past_deadline;        /* the case deadline has passed */
    int in_appeal_window;     /* decided, not final, and within appeal_window_s of it */
    int has_appeal;           /* an appeal case exists */
    int min_votes_at_deadline; /* quorum at the deadline: the rule's, or appeal_votes_to_decide for an appeal */
    int substitute_rounds;    /* substitute rounds spent */
    int shortfall_seats;      /* seats waiting for a shortfall retry */
    int shortfall_retries;    /* shortfall retries since the panel was last full */
    int final;                /* decided and final (finalized_at set) */
    long appeal_window_s;
    rp_verdict verdict;       /* RP_VERDICT_NONE unless decided */
    /* (v2) An audit case (store_audit.c): the platform's own, with a known
     * answer. It runs like any case and its jurors see nothing different;
     * it never reaches upstream (rp_case_outcome does nothing), its owner
     * and reporter are not told, nobody appeals it, and it is final at its
     * decision (rp_case_decide). */
    int audit;
    rp_verdict expected_verdict; /* RP_VERDICT_NONE unless audit */
} rp_case_row;

/* Locks the case row (FOR UPDATE, or FOR UPDATE SKIP LOCKED when
 * skip_locked) and reads it. Returns SG_OK and *out, a positive 1 when there
 * is no such case (or it is locked and skip_locked), or SG_ERR_*. */
int rp_case_lock(sg_pg *c, const char *case_id, int skip_locked, rp_case_row *out);

/* Reads a case row this transaction inserted, as rp_case_lock does but
 * without taking the lock: no other transaction sees the row until COMMIT. */
int rp_case_read_new(sg_pg *c, const char *case_id, rp_case_row *out);

/* The columns rp_case_lock reads (RP_CASE_NCOLS of them, first) and the
 * join they come from (cases c, voting_rules r), for a statement that locks
 * the case and reads more with it: RP_CASE_COLS ", more" RP_CASE_FROM
 * "LEFT JOIN ... WHERE c.id = $1 FOR UPDATE OF c". */
#define RP_CASE_COLS                                                                                            \
    "SELECT c.id, coalesce(c.appeal_of::text, ''), c.report_type, c.target_id, c.target_owner_id, c.status, "  \
    "c.rule_version, c.panel_size, c.votes_to_decide, c.round, r.max_substitute_rounds, "                      \
    "(r.on_deadline = 'escalate')::int, r.appeal_panel_size, r.appeal_votes_to_decide, "                       \
    "(c.deadline <= now())::int, "                                                                             \
    "(c.status = 'decided' AND c.finalized_at IS NULL "                                                       \
    "   AND c.decided_at + r.appeal_window_s * interval '1 second' >= now())::int, "                           \
    "EXISTS (SELECT 1 FROM cases a WHERE a.appeal_of = c.id)::int, coalesce(c.traceparent, ''), "             \
    "CASE WHEN c.appeal_of IS NULL THEN r.min_votes_at_deadline ELSE r.appeal_votes_to_decide END, "           \
    "c.substitute_rounds, c.shortfall_seats, c.shortfall_retries, (c.finalized_at IS NOT NULL)::int, "         \
    "r.appeal_window_s, coalesce(c.verdict, ''), c.audit::int, coalesce(c.expected_verdict, '')"
#define RP_CASE_NCOLS 27
#define RP_CASE_FROM "FROM cases c JOIN voting_rules r ON r.report_type = c.report_type AND r.version = c.rule_version "

/* Runs sql, a statement of that shape, and reads the case into out, as
 * rp_case_lock does. With keep, *keep gets the result (SG_OK only; the
 * caller reads columns RP_CASE_NCOLS on and clears it). Rows of the other
 * tables are read as of the statement's start: when the case lock was
 * waited for, its holder may have changed them since, so a caller whose
 * later UPDATE (guarded by the row's state) finds a row not as read reads
 * it again. */
int rp_case_lock_joined(sg_pg *c, const char *sql, int n, const char *const *params, rp_case_row *out,
                        PGresult **keep);

/* The traceparent for events about the case: tp (the request's or the
 * consumed event's) when given, else the case's own, else NULL. */
const char *rp_case_tp(const rp_case_row *r, const char *tp);

/* 1 while the case takes votes (assigning or voting). */
int rp_case_is_open(const rp_case_row *r);

/* Current vote counts of the case. */
int rp_case_tally(sg_pg *c, const char *case_id, int *violation, int *no_violation);

/* Inserts a panel request for `round` with `seats` and publishes
 * sg.panel.requested (exclusions: the owner, every reviewer ever on the
 * case or on the case it appeals, then its reporters by filing time, at
 * most RP_PANEL_MAX_EXCLUDE ids: see payloads.h). kind names the audit entry:
 * "panel_requested" or "substitute_requested". */
int rp_case_request_panel(sg_pg *c, const rp_case_row *r, int round, int seats, const char *kind, const char *tp);

/* Substitutes for expired, declined and cancelled ballots: requests the
 * seats they freed as the next round, when a substitute round remains
 * (max_substitute_rounds) and the deadline has not passed; otherwise audits
 * "substitutes_exhausted". Seats waiting for a shortfall retry are not
 * requested (the retry schedule owns them). Sets *requested to the seats
 * requested (may be NULL). */
int rp_case_refill(sg_pg *c, rp_case_row *r, const char *tp, int *requested);

/* SQL expressions over a case `c` joined with its rule `r`: whether no
 * appeal can change the decided case any more (API.md "Cases": its appeal
 * window closed without an appeal, its appeal was decided, it is an appeal
 * itself, or it was finalized), and until when an appeal may be opened
 * (RFC 3339 text; null when none is possible). */
#define RP_SQL_CASE_FINAL                                                                                       \
    "c.status = 'decided' AND (c.appeal_of IS NOT NULL OR c.finalized_at IS NOT NULL "                          \
    " OR EXISTS (SELECT 1 FROM cases fa WHERE fa.appeal_of = c.id AND fa.status = 'decided') "                 \
    " OR (NOT EXISTS (SELECT 1 FROM cases fa WHERE fa.appeal_of = c.id) "                                      \
    "     AND c.decided_at + r.appeal_window_s * interval '1 second' < now()))"
#define RP_SQL_APPEAL_DEADLINE                                                                                  \
    "CASE WHEN c.status = 'decided' AND c.appeal_of IS NULL AND c.finalized_at IS NULL "                        \
    " AND NOT EXISTS (SELECT 1 FROM cases fa WHERE fa.appeal_of = c.id) "                                      \
    " AND c.decided_at + r.appeal_window_s * interval '1 second' >= now() "                                    \
    "THEN " SG_SQL_TS("c.decided_at + r.appeal_window_s * interval '1 second'") " END"

/* The outcome of the case for upstream, once per change (kind: decided,
 * escalated, resolved, cancelled, finalized), called by the transition
 * after the case row changed: publishes sg.case.outcome (the tally, never a
 * juror id; report_ids bounded, see payloads.h) and queues one signed
 * callback per (client, callback URL) of the case's reports, each with that
 * client's own report_ids only. Nothing for an audit case: it never leaves
 * the platform. */
int rp_case_outcome(sg_pg *c, const rp_case_row *r, const char *kind, const char *tp);

/* Replaces reviewers who left for a reason of their own (suspended,
 * retired): requests the freed seats as the next round without spending a
 * substitute round; audit "substitute_requested" with the reason. */
int rp_case_replace(sg_pg *c, rp_case_row *r, const char *reason, const char *tp);

/* A panel answer left `missing` (> 0) seats unfilled: they wait for a
 * shortfall retry, due after rp_shortfall_backoff_s(shortfall_retries,
 * base_s) unless one is due already. *retry_in_s (may be NULL) gets the
 * pause (0 when a retry was already due). */
int rp_case_shortfall(sg_pg *c, rp_case_row *r, int missing, long base_s, long *retry_in_s);

/* A panel answer filled every seat it was asked for: when no shortfall seat
 * is waiting, the back-off starts again from its first step. */
int rp_case_panel_full(sg_pg *c, rp_case_row *r);

/* The shortfall retry (due at refill_at): requests the waiting seats that
 * are still missing as the next round, spending no substitute round;
 * audit "shortfall_retry" with the retry's number. Nothing is requested
 * once the case is closed or past its deadline. */
int rp_case_retry_shortfall(sg_pg *c, rp_case_row *r, const char *tp);

/* Notifies user_id: a notification of kind (a name of notify.h) about the
 * case, rendered from the user's locale template, stored for the inbox and
 * the push gateway, published as sg.notification.requested (key = user_id)
 * and entered in the case's audit trail (store_notify.h). ballot_id may be
 * NULL. */
int rp_emit_notification(sg_pg *c, const char *user_id, const char *kind, const char *case_id,
                         const char *ballot_id, const char *tp);

/* ---- ballot transitions: open -> voted | expired | declined | cancelled ---- */

/* The vote of a ballot closed as voted: in, the decision and comment; out,
 * the ballot as the API shows it (new reference) and the case's tally with
 * this vote. */
typedef struct rp_ballot_vote {
    rp_verdict decision;
    const char *comment;      /* may be NULL */
    json_t *ballot;           /* out */
    int violation, no_violation; /* out */
} rp_ballot_vote;

/* Closes the reviewer's open ballot ballot_id of case r with `outcome`: the
 * UPDATE (only from open; RP_CONFLICT when it is no longer open),
 * sg.ballot.closed, and the audit entry "ballot_<outcome>" (actor given: the
 * reviewer acted, data {ballot_id}; else data {ballot_id, reviewer_id} plus
 * reason when given). vote is required for RP_BALLOT_VOTED and ignored
 * otherwise.
 * ballot_id NULL: the reviewer was offered a seat and got no ballot (a panel
 * assignment screened out or ignored); only sg.ballot.closed is published
 * (outcome cancelled), so the reviewer service releases the seat. */
int rp_ballot_close(sg_pg *c, const rp_case_row *r, const char *ballot_id, const char *reviewer_id,
                    rp_ballot_status outcome, const char *actor, const char *reason, rp_ballot_vote *vote,
                    const char *tp);

/* The batch form of rp_ballot_close (same statement, same events and audit
 * entries per ballot): closes every open ballot of the case with outcome
 * (due_only: only those past their deadline). *closed (may be NULL) gets
 * their number. */
int rp_ballots_close_open(sg_pg *c, const rp_case_row *r, rp_ballot_status outcome, int due_only, const char *tp,
                          int *closed);

/* ---- case transitions ---- */

/* assigning -> voting, when the first ballots are assigned (a no-op for a
 * case already voting). */
int rp_case_start_voting(sg_pg *c, rp_case_row *r);

/* assigning|voting -> decided: open ballots cancelled, verdict and tally
 * stored, sg.case.decided, outcome notifications (case_outcome to the
 * jurors who voted, report_outcome to reporters, content_outcome to the
 * owner), the outcome (rp_case_outcome, kind decided), audit "decided".
 * decided_by: panel, appeal or deadline. A case that can be appealed gets
 * its appeal-window timer (finalize_at); an appeal case is final at its
 * decision, and makes the case it appeals final (rp_case_finalize on both).
 * An audit case is final at its decision too (finalized_by "decision", or
 * "ops" when resolved), and only its jurors hear of it. */
int rp_case_decide(sg_pg *c, rp_case_row *r, rp_verdict v, const char *decided_by, const char *tp);

/* escalated -> decided by ops: as rp_case_decide with decided_by "ops",
 * actor and note (may be NULL) stored, the outcome of kind resolved, audit
 * "resolved". */
int rp_case_resolve(sg_pg *c, rp_case_row *r, rp_verdict v, const char *note, const char *actor, const char *tp);

/* Finality, a one-way fact of a decided case (not a status; see
 * lifecycle.h): finalized_at and finalized_by set once, sg.case.finalized
 * with final_verdict, finalized_by (window, appeal, ops; decision for an
 * audit case), appeal_case_id (NULL for window and decision), audit and
 * expected_verdict, the outcome of kind finalized (rp_case_outcome) for an
 * appealable case, audit "finalized". RP_CONFLICT when the case is not
 * decided or already final. */
int rp_case_finalize(sg_pg *c, rp_case_row *r, rp_verdict final_verdict, const char *finalized_by,
                     const char *appeal_case_id, const char *tp);

/* assigning|voting -> escalated: open ballots cancelled, the outcome of
 * kind escalated, audit "escalated". */
int rp_case_escalate(sg_pg *c, rp_case_row *r, const char *why, const char *tp);

/* assigning|voting|escalated -> cancelled: open ballots cancelled, reason
 * stored, the outcome of kind cancelled (verdict null), audit "cancelled".
 * A cancelled appeal makes the case it appeals final with that case's own
 * verdict (finalized_by "appeal", appeal_case_id the cancelled appeal). */
int rp_case_cancel(sg_pg *c, rp_case_row *r, const char *reason, const char *actor, const char *tp);

#endif
