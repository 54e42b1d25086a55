/* The report service's persistence: every SQL statement of the service is
 * behind these functions (store_*.c). Each operation is one transaction that
 * writes a state change together with its audit entries and its events
 * (outbox), so a crash never separates them.
 *
 * Return codes: SG_OK, SG_ERR_DB, or one of the positive ST_* outcomes (the
 * transaction was rolled back, nothing written); `detail` (when given) then
 * says why. JSON results are new references the caller owns.
 */
#ifndef REPORT_STORE_H
#define REPORT_STORE_H

#include <jansson.h>
#include <stddef.h>
#include "decision.h"
#include "intake.h"
#include "rule.h"
#include "sg/kafka.h"
#include "sg/pg.h"

enum {
    ST_NOT_FOUND = 1,   /* no such rule, report, case or ballot */
    ST_FORBIDDEN,       /* the caller is not a party to it */
    ST_CONFLICT,        /* state forbids it (closed, duplicate, replay mismatch) */
    ST_UNPROCESSABLE,   /* well-formed but impossible (no active rule) */
};

typedef struct st_detail {
    char text[256];
} st_detail;

/* ---- voting rules ---- */

/* Stores r as the next version of report_type's rule; *out = the stored
 * rule (with report_type, version, created_at, created_by). */
int store_rule_put(sg_pg_pool *p, const char *report_type, const vrule *r, const char *actor, json_t **out);
/* Current version (ST_NOT_FOUND when none). */
int store_rule_get(sg_pg_pool *p, const char *report_type, json_t **out);
/* Every version, newest first, paginated (ST_NOT_FOUND when none). */
int store_rule_versions(sg_pg_pool *p, const char *report_type, int limit, long long cursor, json_t **out);
/* The current version of every report type, by report type, paginated by
 * report type (cursor = the last report type or NULL). */
int store_rules_current(sg_pg_pool *p, int limit, const char *cursor, json_t **out);

/* ---- reports ---- */

typedef struct st_intake {
    const report_input *in;
    const char *client;           /* the API client filing it: the source */
    const char *idempotency_key;  /* NULL when absent */
    const char *body_sha256;      /* fingerprint of the raw body */
    const char *traceparent;
    /* out */
    int replay;                   /* 1: the key was used before with this body */
    char *response;               /* malloc'ed JSON text: {report_id, case_id, status} */
    st_detail detail;
} st_intake;

/* Looks up a finished request under (client, key) without writing: SG_OK
 * with io->replay and io->response set when found with the same body,
 * ST_CONFLICT when found with another body, SG_OK with replay 0 otherwise. */
int store_idempotency_lookup(sg_pg_pool *p, st_intake *io);
/* Files the report: joins the open case of (report_type, target_id) or opens
 * one (and requests its panel). A reporter's open ballot on the case is
 * cancelled and its seat refilled. ST_UNPROCESSABLE: no rule; ST_CONFLICT:
 * reporter already on the case, reporter voted on it as a panelist, or key
 * reused with another body. A replay found inside the transaction is SG_OK
 * with io->replay = 1. Caller frees io->response. */
int store_report_create(sg_pg_pool *p, st_intake *io);
/* The report with its case's status and verdict, plus "source" and
 * "reporter_id" for the caller's access check. */
int store_report_get(sg_pg_pool *p, const char *report_id, json_t **out);

/* ---- cases ---- */

int store_case_get(sg_pg_pool *p, const char *case_id, json_t **out);
/* status / report_type may be NULL (no filter). */
int store_cases_list(sg_pg_pool *p, const char *status, const char *report_type, int limit, long long cursor,
                     json_t **out);
int store_case_events(sg_pg_pool *p, const char *case_id, int limit, long long cursor, json_t **out);
/* Cancels an open or escalated case (ST_CONFLICT when decided/cancelled). */
int store_case_cancel(sg_pg_pool *p, const char *case_id, const char *reason, const char *actor, const char *tp,
                      st_detail *d);
/* Decides an escalated case (ST_CONFLICT otherwise). note may be NULL. */
int store_case_resolve(sg_pg_pool *p, const char *case_id, verdict v, const char *note, const char *actor,
                       const char *tp, st_detail *d);
/* Opens the appeal of a decided case for its owner or one of its
 * reporters; *new_case_id (37 bytes) gets the appeal case's id. ST_FORBIDDEN:
 * not a party; ST_CONFLICT: not decided, an appeal itself, already
 * appealed, or outside the window. */
int store_case_appeal(sg_pg_pool *p, const char *case_id, const char *user, const char *reason, const char *tp,
                      char new_case_id[37], st_detail *d);

/* ---- ballots ---- */

/* Records the reviewer's vote and decides the case when a side reaches
 * votes_to_decide. ST_NOT_FOUND: no case; ST_FORBIDDEN: not on the panel;
 * ST_CONFLICT: already voted, ballot closed or case closed. *out = the
 * ballot. */
int store_vote(sg_pg_pool *p, const char *case_id, const char *reviewer, verdict v, const char *comment,
               const char *tp, json_t **out, st_detail *d);
/* The reviewer steps away; a substitute is requested. */
int store_decline(sg_pg_pool *p, const char *ballot_id, const char *reviewer, const char *tp, json_t **out,
                  st_detail *d);
/* The reviewer's ballots, newest first; open: 1 open only, 0 closed only,
 * -1 all. */
int store_my_ballots(sg_pg_pool *p, const char *reviewer, int open, int limit, long long cursor, json_t **out);

/* ---- events consumed ---- */

/* Handles sg.panel.assigned inside the inbox transaction on c. Returns
 * SG_OK (also for events it ignores), a positive code for a malformed
 * payload, or SG_ERR_*. */
int store_panel_assigned(sg_pg *c, const json_t *payload, const char *tp);

/* ---- timers: each claims due work with SKIP LOCKED and returns the number
 * of items handled (0 = nothing due) or -1 on a database error ---- */

int store_timer_case_deadlines(sg_pg_pool *p);
int store_timer_ballot_expiry(sg_pg_pool *p);
int store_timer_reminders(sg_pg_pool *p);
int store_timer_refill(sg_pg_pool *p);
/* Deletes idempotency keys older than a day (a bounded batch). */
int store_housekeeping(sg_pg_pool *p);

/* ---- callback queue ---- */

typedef struct st_callback {
    char id[37];
    char case_id[37];
    char *url;    /* malloc'ed */
    char *body;   /* malloc'ed */
    int attempts; /* made before this one */
} st_callback;

/* Claims one due callback and leases it for lease_s seconds (committed, so
 * the HTTP call happens outside any transaction and a crash only delays it).
 * Returns 1 with *cb (free with store_callback_free), 0 when none is due, or
 * -1. */
int store_callback_claim(sg_pg_pool *p, int lease_s, st_callback *cb);
/* Records the attempt's result in the queue and the case's audit trail:
 * delivered on 2xx, else retried after backoff_s or failed after
 * max_attempts. http_status 0 when there was no response (error says why). */
int store_callback_record(sg_pg_pool *p, const st_callback *cb, int http_status, const char *error,
                          int max_attempts, long backoff_s);
void store_callback_free(st_callback *cb);

/* ---- metrics ---- */

#define ST_NSTATUS 5
extern const char *const st_case_statuses[ST_NSTATUS];
/* Counts cases by status (order of st_case_statuses). 0 or -1. */
int store_case_counts(sg_pg_pool *p, long counts[ST_NSTATUS]);

#endif
