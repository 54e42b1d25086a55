/* Case state changes shared by the store operations (intake, votes,
 * consumers, timers, ops actions). Every function runs inside the caller's
 * transaction on `c`, after the caller locked the case row with rp_case_lock,
 * and writes the state change, its audit entries and its events (outbox)
 * together. Internal to the store layer.
 */
#ifndef RP_STORE_LIFECYCLE_H
#define RP_STORE_LIFECYCLE_H

#include "decision.h"
#include "lifecycle.h"
#include "sg/pg.h"

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
    int in_appeal_window;     /* decided, and within appeal_window_s of it */
    int has_appeal;           /* an appeal case exists */
} rp_case_row;

/* Locks the case row (FOR UPDATE, or FOR UPDATE SKIP LOCKED when
 * skip_locked) and reads it. Returns SG_OK and *out, a positive 1 when there
 * is no such case (or it is locked and skip_locked), or SG_ERR_*. */
int rp_case_lock(sg_pg *c, const char *case_id, int skip_locked, rp_case_row *out);

/* The traceparent for events about the case: tp (the request's or the
 * consumed event's) when given, else the case's own, else NULL. */
const char *rp_case_tp(const rp_case_row *r, const char *tp);

/* 1 while the case takes votes (assigning or voting). */
int rp_case_is_open(const rp_case_row *r);

/* Inserts a panel request for `round` with `seats` and publishes
 * sg.panel.requested (exclusions: every reviewer ever on the case or on the
 * case it appeals, its reporters and the owner). kind names the audit entry:
 * "panel_requested" or "substitute_requested". */
int rp_case_request_panel(sg_pg *c, const rp_case_row *r, int round, int seats, const char *kind, const char *tp);

/* Requests the seats the panel lacks (declines, expiries, shortfalls) as the
 * next round, when rounds remain and the deadline has not passed; clears the
 * case's refill mark either way. Sets *requested to the seats requested
 * (may be NULL). */
int rp_case_refill(sg_pg *c, rp_case_row *r, const char *tp, int *requested);

/* Closes the case's open ballots as cancelled (sg.ballot.closed, audit). */
int rp_case_cancel_open_ballots(sg_pg *c, const rp_case_row *r, const char *tp);

/* Decides the case: open ballots cancelled, verdict and tally stored,
 * sg.case.decided, case_decided notifications to reporters and owner,
 * callbacks queued, audit entry `kind` ("decided" or "resolved"). actor and
 * note may be NULL. */
int rp_case_decide(sg_pg *c, rp_case_row *r, rp_verdict v, const char *decided_by, const char *kind, const char *actor,
                const char *note, const char *tp);

/* Escalates the case to ops: open ballots cancelled, audit "escalated". */
int rp_case_escalate(sg_pg *c, rp_case_row *r, const char *why, const char *tp);

/* Cancels the case: open ballots cancelled, reason stored, callbacks queued
 * (verdict null), audit "cancelled". */
int rp_case_cancel(sg_pg *c, rp_case_row *r, const char *reason, const char *actor, const char *tp);

/* Publishes sg.ballot.closed for one reviewer of the case. */
int rp_emit_ballot_closed(sg_pg *c, const char *case_id, const char *reviewer_id, const char *outcome, const char *tp);

/* Publishes sg.notification.requested (key = user_id); ballot_id may be
 * NULL. */
int rp_emit_notification(sg_pg *c, const char *user_id, const char *kind, const char *case_id, const char *ballot_id,
                      const char *tp);

/* Current vote counts of the case. */
int rp_case_tally(sg_pg *c, const char *case_id, int *violation, int *no_violation);

#endif
