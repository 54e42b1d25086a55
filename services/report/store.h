/* The report service's persistence: every SQL statement of the service is
 * behind these functions (store_*.c). Each operation is one transaction that
 * writes a state change together with its audit entries and its events
 * (outbox), so a crash never separates them. Every change of a case's or a
 * ballot's status goes through store_lifecycle.h (internal to the store).
 *
 * One JSON representation per resource: the report service builds the JSON
 * of its resources (voting rules, reports, cases, case events, ballots) in
 * SQL, in the statement that reads them (json_build_object), and serves it
 * as is; there is no C encoder of a resource. Events are not resources:
 * their payloads are encoded by payloads.c from values the store reads.
 *
 * Return codes: SG_OK, SG_ERR_DB, or one of the positive RP_* outcomes of svc.h (the
 * transaction was rolled back, nothing written); `detail` (when given) then
 * says why. JSON results are new references the caller owns.
 */
#ifndef RP_STORE_H
#define RP_STORE_H

#include <jansson.h>
#include <stddef.h>
#include "decision.h"
#include "intake.h"
#include "lifecycle.h"
#include "notify.h"
#include "payloads.h"
#include "rule.h"
#include "svc.h"
#include "sg/kafka.h"
#include "sg/pg.h"
#include "sg/pg_group.h"


/* ---- voting rules ---- */

/* Stores r as the next version of report_type's rule; *out = the stored
 * rule (with report_type, version, created_at, created_by). */
int rp_store_rule_put(sg_pg_pool *p, const char *report_type, const rp_rule *r, const char *actor, json_t **out);
/* Current version (RP_NOT_FOUND when none). */
int rp_store_rule_get(sg_pg_pool *p, const char *report_type, json_t **out);
/* Every version, newest first, paginated (RP_NOT_FOUND when none). */
int rp_store_rule_versions(sg_pg_pool *p, const char *report_type, int limit, long long cursor, json_t **out);
/* The current version of every report type, by report type, paginated by
 * report type (cursor = the last report type or NULL). */
int rp_store_rules_current(sg_pg_pool *p, int limit, const char *cursor, json_t **out);

/* ---- reports ---- */

typedef struct rp_intake {
    const rp_report_input *in;
    const char *client;           /* the API client filing it: the source */
    const char *idempotency_key;  /* NULL when absent */
    const char *body_sha256;      /* fingerprint of the raw body */
    const char *traceparent;
    /* out */
    int replay;                   /* 1: the key was used before with this body */
    char *response;               /* malloc'ed JSON text: {report_id, case_id, status} */
    rp_detail detail;
} rp_intake;

/* Looks up a finished request under (client, key) without writing: SG_OK
 * with io->replay and io->response set when found with the same body,
 * RP_CONFLICT when found with another body, SG_OK with replay 0 otherwise. */
int rp_store_idempotency_lookup(sg_pg_pool *p, rp_intake *io);
/* Files the report, in a transaction the group committer g may share with
 * concurrent intakes (sg/pg_group.h; answered after that COMMIT): joins the open case of (report_type, target_id) or opens
 * one (and requests its panel). A reporter's open ballot on the case is
 * cancelled and its seat refilled. RP_UNPROCESSABLE: no rule, or the case
 * it would join has another target_owner_id; RP_CONFLICT: reporter already
 * on the case, reporter voted on it as a panelist, the case holds
 * max_reports_per_case reports already, or key reused with another body. A replay found inside the transaction is SG_OK
 * with io->replay = 1. Caller frees io->response. */
int rp_store_report_create(sg_pg_group *g, rp_intake *io);
/* The report with its case's status and verdict, plus "source" and
 * "reporter_id" for the caller's access check. */
int rp_store_report_get(sg_pg_pool *p, const char *report_id, json_t **out);

/* ---- cases ---- */

/* The ops view: everything, ballots with reviewer ids. */
int rp_store_case_get(sg_pg_pool *p, const char *case_id, json_t **out);
/* The upstream client's view (API.md "Cases"): status, verdict, decided_by,
 * final, rule_version, the client's own report_ids, ballots without
 * reviewer ids, tally (null until decided). RP_NOT_FOUND when no report of
 * the case (or of the case it appeals) was filed by `client`: a case of
 * another tenant does not exist for it. */
int rp_store_case_get_client(sg_pg_pool *p, const char *case_id, const char *client, json_t **out);
/* status / report_type may be NULL (no filter). */
int rp_store_cases_list(sg_pg_pool *p, const char *status, const char *report_type, int limit, long long cursor,
                        json_t **out);
int rp_store_case_events(sg_pg_pool *p, const char *case_id, int limit, long long cursor, json_t **out);
/* Cancels an open or escalated case (RP_CONFLICT when decided/cancelled).
 * client: the upstream client cancelling (RP_NOT_FOUND unless it filed a
 * report of the case), NULL for ops. */
int rp_store_case_cancel(sg_pg_pool *p, const char *case_id, const char *client, const char *reason,
                         const char *actor, const char *tp, rp_detail *d);
/* Decides an escalated case (RP_CONFLICT otherwise). note may be NULL. */
int rp_store_case_resolve(sg_pg_pool *p, const char *case_id, rp_verdict v, const char *note, const char *actor,
                          const char *tp, rp_detail *d);
/* Opens the appeal of a decided case for its owner or one of its
 * reporters; *new_case_id (37 bytes) gets the appeal case's id. RP_FORBIDDEN:
 * not a party; RP_CONFLICT: not decided, an appeal itself, already
 * appealed, or outside the window. */
int rp_store_case_appeal(sg_pg_pool *p, const char *case_id, const char *user, const char *reason, const char *tp,
                         char new_case_id[37], rp_detail *d);

/* (v2) The cases of a content owner (owner 1) or of a reporter (owner 0),
 * newest first, paginated: case_id, report_type, target_id, status,
 * verdict, tally (once decided), decided_at, final, appeal_deadline,
 * can_appeal; never a juror. */
int rp_store_my_cases(sg_pg_pool *p, const char *user, int owner, int limit, long long cursor, json_t **out);

/* ---- audit cases (v2, ops) ---- */

/* Opens an audit case (API.md "Audit cases"): a case of in->report's
 * report type under its current rule, with audit and expected_verdict
 * stored, its report filed by RP_AUDIT_SOURCE / RP_AUDIT_REPORTER (see
 * intake.h), audit "opened" by actor, and its first panel requested as for
 * any case. It joins no case of its target and no report ever joins it.
 * case_id (37 bytes) gets its id. RP_UNPROCESSABLE: no rule for the report
 * type. */
int rp_store_audit_case_create(sg_pg_pool *p, const rp_audit_input *in, const char *actor, const char *tp,
                               char case_id[37], rp_detail *d);
/* The audit cases, newest first, paginated; status may be NULL (no
 * filter). Items: case_id, report_type, target_id, target_owner_id, status,
 * verdict, expected_verdict, matched (verdict = expected_verdict; null until
 * decided), decided_by, decided_at, final, tally (null until decided),
 * votes_matching (voted ballots whose decision is the expected verdict),
 * rule_version, opened_at, deadline. */
int rp_store_audit_cases_list(sg_pg_pool *p, const char *status, int limit, long long cursor, json_t **out);

/* ---- ballots ---- */

/* Records the reviewer's vote and decides the case when a side reaches
 * votes_to_decide, in a transaction it may share with concurrent votes (g:
 * SG_VOTE_GROUP; answered after that transaction's COMMIT). RP_NOT_FOUND:
 * no case; RP_FORBIDDEN: not on the panel; RP_CONFLICT: already voted,
 * ballot closed or case closed. *out = the ballot. */
int rp_store_vote(sg_pg_group *g, const char *case_id, const char *reviewer, rp_verdict v, const char *comment,
                  const char *tp, json_t **out, rp_detail *d);
/* The reviewer steps away; a substitute is requested. reason (may be NULL)
 * goes to the audit entry. */
int rp_store_decline(sg_pg_pool *p, const char *ballot_id, const char *reviewer, const char *reason, const char *tp,
                     json_t **out, rp_detail *d);
/* The reviewer's ballots, newest first; open: 1 open only, 0 closed only,
 * -1 all. */
int rp_store_my_ballots(sg_pg_pool *p, const char *reviewer, int open, int limit, long long cursor, json_t **out);

/* ---- events consumed ---- */

/* Handles sg.panel.assigned (decoded by consumers.c) inside the inbox
 * transaction on c; seats left unfilled wait for a shortfall retry whose
 * back-off starts at retry_base_s. Returns SG_OK (also for events it
 * ignores) or SG_ERR_*. */
int rp_store_panel_assigned(sg_pg *c, const rp_panel_assigned *ev, long retry_base_s, const char *tp);
/* Handles sg.reviewer.status_changed inside the inbox transaction on c: a
 * suspended or retired reviewer's open ballots are cancelled (reason
 * reviewer_suspended / reviewer_retired) and their seats requested again
 * without spending substitute rounds; other statuses change nothing. */
int rp_store_reviewer_status(sg_pg *c, const rp_reviewer_status_changed *ev, const char *tp);

/* ---- timers: each claims due work with SKIP LOCKED and returns the number
 * of items handled (0 = nothing due) or -1 on a database error ---- */

int rp_store_timer_case_deadlines(sg_pg_pool *p);
int rp_store_timer_ballot_expiry(sg_pg_pool *p);
int rp_store_timer_reminders(sg_pg_pool *p);
int rp_store_timer_refill(sg_pg_pool *p);
/* Decided cases whose appeal window closed unappealed become final. */
int rp_store_timer_finalize(sg_pg_pool *p);
/* Deletes idempotency keys older than a day (a bounded batch). */
int rp_store_housekeeping(sg_pg_pool *p);

/* ---- callback queue ---- */

typedef struct rp_callback {
    char id[37];
    char case_id[37];
    char event_id[37];  /* X-SG-Event-Id: the same on every attempt */
    char *url;          /* malloc'ed; a secret (may hold tokens): never logged */
    char *url_redacted; /* malloc'ed; for logs */
    char *host;         /* malloc'ed; the unit of the per-host share */
    char *body;         /* malloc'ed */
    int attempts;       /* made before this one */
} rp_callback;

/* Claims one due callback whose host is not among busy[0..nbusy) (the
 * hosts at their share of the workers) and leases it for lease_s seconds
 * (committed, so the HTTP call happens outside any transaction and a crash
 * only delays it). Returns 1 with *cb (free with rp_store_callback_free),
 * 0 when none is due, or -1. */
int rp_store_callback_claim(sg_pg_pool *p, int lease_s, const char *const *busy, size_t nbusy, rp_callback *cb);
/* Records the attempt's result in the queue and the case's audit trail:
 * delivered on 2xx, else retried after backoff_s or failed after
 * max_attempts; permanent (a blocked address): failed now, never retried.
 * http_status 0 when there was no response (error says why). */
int rp_store_callback_record(sg_pg_pool *p, const rp_callback *cb, int http_status, const char *error,
                             int permanent, int max_attempts, long backoff_s);
void rp_store_callback_free(rp_callback *cb);
/* The queue for ops, newest first: status and case_id may be NULL (no
 * filter). Items: callback_id, case_id, kind, url (redacted), status,
 * attempts, last_error, next_attempt_at, event_id, created_at,
 * delivered_at. */
int rp_store_callbacks_list(sg_pg_pool *p, const char *status, const char *case_id, int limit, long long cursor,
                            json_t **out);
/* A failed callback becomes pending, due now, with a fresh attempt budget
 * and its event id kept (audit "callback_retry" by actor); *out = the
 * item as the list shows it. RP_NOT_FOUND; RP_CONFLICT when not failed. */
int rp_store_callback_retry(sg_pg_pool *p, const char *id, const char *actor, json_t **out, rp_detail *d);

/* ---- notifications (store_notifications.c) ---- */

/* The user's inbox, newest first (unread_only: read_at null). */
int rp_store_inbox(sg_pg_pool *p, const char *user, int unread_only, int limit, long long cursor, json_t **out);
/* Marks the user's unread notifications read: those of ids (a JSON array
 * of UUID strings; others' ids are ignored) or all of them (ids NULL).
 * *marked gets how many changed. */
int rp_store_inbox_mark_read(sg_pg_pool *p, const char *user, const json_t *ids, long *marked);
/* The user's preferences (defaults when never set). */
int rp_store_prefs_get(sg_pg_pool *p, const char *user, json_t **out);
/* Updates the user's preferences: locale (NULL: unchanged, "en" at
 * first), muted_kinds (array of kind names, checked by the caller; NULL:
 * unchanged), quiet hours (NULL with clear_quiet 1: none; NULL with 0:
 * unchanged). *out = the stored preferences. */
int rp_store_prefs_put(sg_pg_pool *p, const char *user, const char *locale, const json_t *muted_kinds,
                       const rp_quiet_hours *quiet, int clear_quiet, json_t **out);
/* The template in force of every (kind, locale), in the order the pairs
 * were first stored, paginated (cursor = the seq of the last item's first
 * version). */
int rp_store_templates_list(sg_pg_pool *p, int limit, long long cursor, json_t **out);
/* Stores (title, body), checked by the caller, as the next version of
 * (kind, locale); *out = the stored template. */
int rp_store_template_put(sg_pg_pool *p, const char *kind, const char *locale, const char *title, const char *body,
                          const char *actor, json_t **out);
/* Ops listing: delivery state of each notification, newest first;
 * user_id / status may be NULL (no filter). */
int rp_store_notifications_list(sg_pg_pool *p, const char *user_id, const char *status, int limit, long long cursor,
                                json_t **out);

/* ---- push gateway queue (store_notifications.c) ---- */

/* A notification claimed for one gateway call. */
typedef struct rp_push_job {
    char id[37];
    char case_id[37];       /* "" when none */
    char *body;             /* malloc'ed: the gateway request (payloads.c) */
    char *user_id;          /* malloc'ed */
    char kind[32];
    int attempts;           /* made before this one */
} rp_push_job;

/* The result of one gateway call. */
typedef struct rp_push_result {
    int attempted;          /* 0: not made (released, due again at once, no attempt counted) */
    int http_status;        /* 0 when there was no response */
    char error[256];        /* why, when there was no response */
} rp_push_result;

/* Claims up to max_jobs due notifications (pending, or deferred whose quiet
 * hours are over) with SKIP LOCKED and decides each under a lock of its
 * user: muted, deferred past quiet hours and over the hourly cap
 * (max_per_hour) are settled here; those to send are leased for lease_s
 * seconds, committed (the calls happen outside any transaction, a crash
 * only delays them) and returned in jobs[0..*njobs) (free each with
 * rp_store_push_job_free). Returns the number handled (settled + to send),
 * 0 when nothing is due, -1 on error. */
int rp_store_push_claim(sg_pg_pool *p, int max_jobs, int lease_s, long max_per_hour, rp_push_job *jobs, int *njobs);
/* Records the results of jobs[0..n) in one transaction: sent on 2xx, else
 * retried after rp_push_backoff_s (pending) or failed at max_attempts; a
 * job not attempted is due again at once. 0 or -1. */
int rp_store_push_record(sg_pg_pool *p, const rp_push_job *jobs, const rp_push_result *results, int n,
                         int max_attempts, long max_backoff_s);
void rp_store_push_job_free(rp_push_job *job);
/* Counts notifications by kind and delivery status. 0 or -1. */
int rp_store_notification_counts(sg_pg_pool *p, long counts[RP_NK_COUNT][RP_PUSH_NSTATUS]);

/* ---- metrics ---- */

/* Counts cases by status (indexed by rp_case_status). 0 or -1. */
int rp_store_case_counts(sg_pg_pool *p, long counts[RP_CASE_NSTATUS]);

#endif
