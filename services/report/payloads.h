/* The events of the report service, encoded and decoded in one place (the
 * field names are fixed by API.md's event table). Pure C and jansson: the
 * store reads the values, these functions make the payload (it then goes to
 * the outbox); the consumers decode what they consume here and hand the
 * store a struct, so the store never parses an event.
 *
 * Produced: sg.panel.requested, sg.ballot.closed, sg.case.decided,
 * sg.case.outcome (also the body of upstream callbacks), sg.case.finalized,
 * sg.notification.requested (and the push gateway's request body). Consumed:
 * sg.panel.assigned,
 * sg.reviewer.status_changed.
 *
 * Size: every event is at most 256 KiB (API.md "Events") by construction,
 * whatever the number of reports on a case (max_reports_per_case allows
 * 10,000). The lists that grow with the reports are bounded here; the store
 * fills them in a fixed order up to the bound:
 *   - sg.panel.requested exclude_user_ids: the owner, then every panelist
 *     of the case and of the case it appeals, then the reporters by filing
 *     time, at most RP_PANEL_MAX_EXCLUDE ids in all. A reporter beyond the
 *     list may be offered a seat; the report service screens every panel
 *     answer against all reporters, panelists and the owner (store_panel.c)
 *     and releases such a seat, which is then refilled.
 *   - sg.case.decided reporter_ids: the first RP_DECIDED_MAX_REPORTERS
 *     reporters by filing time: the reporters paid reporter_reward (reward
 *     pays exactly the ids listed; reviewer does not read them). A case
 *     with more reporters pays the first RP_DECIDED_MAX_REPORTERS.
 *   - sg.case.outcome report_ids: the first RP_OUTCOME_MAX_REPORT_IDS report
 *     ids by filing time (in a callback: of the receiving client's reports),
 *     with report_count, the full number.
 * Ids are at most 128 bytes, so these lists stay under 140 KiB. The ballots
 * of sg.case.decided are bounded by the rule, not by the reports: a ballot
 * is only created for a requested seat, and seats are requested for
 * panel_size x (1 + max_substitute_rounds) ballots at most (1111 for the
 * largest rule, about 235 KiB with 128-byte reviewer ids, so the whole event
 * stays under 256 KiB). A replacement that does not use a substitute round
 * must keep to that bound.
 *
 * The encoders return a new reference (NULL only when out of memory) with
 * the keys in a fixed order, so the bytes on the wire do not change with the
 * code that produced them. Strings are borrowed from the struct; JSON arrays
 * in a struct are copied.
 */
#ifndef RP_PAYLOADS_H
#define RP_PAYLOADS_H

#include <jansson.h>
#include <stddef.h>
#include "decision.h"
#include "lifecycle.h"

/* Bounds of a consumed sg.panel.assigned. */
#define RP_PANEL_MAX_ROUND 1000
#define RP_PANEL_MAX_IDS 1000

/* Bounds of the lists that grow with a case's reports (see above). */
#define RP_PANEL_MAX_EXCLUDE 1000
#define RP_DECIDED_MAX_REPORTERS 100
#define RP_OUTCOME_MAX_REPORT_IDS 1000

/* sg.panel.requested (report -> reviewer), key = case_id. */
typedef struct rp_panel_requested {
    const char *case_id;
    int round;
    int seats;
    const char *report_type;
    const json_t *reviewer_tags;     /* array of strings */
    const json_t *exclude_user_ids;  /* array of strings */
    const char *deadline;            /* RFC 3339 */
} rp_panel_requested;
json_t *rp_panel_requested_encode(const rp_panel_requested *e);

/* sg.ballot.closed (report -> reviewer), key = case_id. outcome is never
 * RP_BALLOT_OPEN. */
typedef struct rp_ballot_closed {
    const char *case_id;
    const char *reviewer_id;
    rp_ballot_status outcome;
} rp_ballot_closed;
json_t *rp_ballot_closed_encode(const rp_ballot_closed *e);

/* sg.notification.requested (report -> push systems), key = user_id: every
 * notification as rendered at its creation. ballot_id may be NULL (null on
 * the wire). */
typedef struct rp_notification {
    const char *user_id;
    const char *kind;
    const char *case_id;
    const char *ballot_id;
    const char *notification_id;
    const char *title;
    const char *body;
} rp_notification;
json_t *rp_notification_encode(const rp_notification *e);

/* The body POSTed to the push gateway (not an event; the same wire rules):
 * {"notification_id", "user_id", "kind", "title", "body", "data"}. data is
 * copied (NULL: {}). */
typedef struct rp_push_request {
    const char *notification_id;
    const char *user_id;
    const char *kind;
    const char *title;
    const char *body;
    const json_t *data;
} rp_push_request;
json_t *rp_push_request_encode(const rp_push_request *e);

/* One ballot of a decided (or cancelled) case. */
typedef struct rp_decided_ballot {
    const char *reviewer_id;
    const char *outcome;     /* the ballot's status name */
    rp_verdict decision;     /* RP_VERDICT_NONE: null */
} rp_decided_ballot;

/* sg.case.decided (report -> reviewer, reward; internal: it names the
 * jurors), key = case_id. Each ballot's with_majority is judged against
 * verdict. NULL strings are null. reporter_ids holds at most
 * RP_DECIDED_MAX_REPORTERS ids (the first by filing time). */
typedef struct rp_case_decided {
    const char *case_id;
    const char *report_type;
    const char *target_id;
    const char *target_owner_id;
    rp_verdict verdict;              /* RP_VERDICT_NONE: null (a cancelled case) */
    const char *decided_by;
    const char *appeal_of;
    const json_t *reporter_ids;      /* array of strings */
    const rp_decided_ballot *ballots;
    size_t nballots;
    const char *opened_at;           /* RFC 3339: the reward rule in force then applies */
} rp_case_decided;
json_t *rp_case_decided_encode(const rp_case_decided *e);

/* sg.case.outcome (report -> upstream), key = case_id, and the body of each
 * upstream callback (with the receiving client's report_ids). No juror ids:
 * the tally only. NULL strings are null. */
typedef struct rp_case_outcome_ev {
    const char *kind;                /* decided, escalated, resolved, cancelled, finalized */
    const char *case_id;
    const char *report_type;
    const char *target_id;
    const char *target_owner_id;
    const char *status;
    rp_verdict verdict;              /* RP_VERDICT_NONE: null */
    const char *decided_by;
    int final;
    int has_tally;                   /* 0: tally null (not decided) */
    int tally_violation, tally_no_violation;
    const char *decided_at;          /* RFC 3339 */
    const char *appeal_deadline;     /* RFC 3339; null when no appeal is possible */
    const char *appeal_of;
    const json_t *report_ids;        /* array of strings, at most RP_OUTCOME_MAX_REPORT_IDS */
    long report_count;               /* the number of reports (of the client, in a callback) */
} rp_case_outcome_ev;
json_t *rp_case_outcome_encode(const rp_case_outcome_ev *e);

/* sg.case.finalized (report -> reviewer, reward), key = case_id: no appeal
 * can change the case any more. finalized_by: "window" (the appeal window
 * closed unappealed), "appeal" (its appeal was decided; also the appeal case
 * itself), "ops" (its appeal was resolved by ops, or an escalated audit
 * case was), "decision" (an audit case, final at its decision).
 * appeal_case_id: the appeal that made it final, NULL (null) for "window"
 * and "decision". (v2) Every payload has audit (false on a case from
 * upstream) and expected_verdict (null unless audit): the reviewer service
 * measures gold accuracy, and the reward service pays the majority bonus,
 * against an audit case's expected verdict. */
typedef struct rp_case_finalized {
    const char *case_id;
    rp_verdict final_verdict;
    const char *finalized_by;
    const char *appeal_case_id;
    int audit;
    rp_verdict expected_verdict;     /* required (not NONE) when audit; ignored otherwise */
} rp_case_finalized;
json_t *rp_case_finalized_encode(const rp_case_finalized *e);

/* sg.reviewer.status_changed (reviewer -> report), key = user_id. Borrowed
 * from the payload. */
typedef enum {
    RP_REVIEWER_OTHER = 0,    /* active, paused, or a status report does not act on */
    RP_REVIEWER_SUSPENDED,
    RP_REVIEWER_RETIRED,
} rp_reviewer_status;
typedef struct rp_reviewer_status_changed {
    const char *user_id;
    const char *status;          /* as sent */
    rp_reviewer_status kind;
    const char *reason;          /* may be NULL */
} rp_reviewer_status_changed;
/* Returns 0 and fills *out, or -1 with err set for a malformed payload
 * (user_id not an id, status not a non-empty string, reason not a string
 * or null). An unknown status is well-formed (RP_REVIEWER_OTHER). */
int rp_reviewer_status_decode(const json_t *payload, rp_reviewer_status_changed *out, char *err, size_t errlen);

/* sg.panel.assigned (reviewer -> report). Borrowed from the payload. */
typedef struct rp_panel_assigned {
    const char *case_id;
    int round;                   /* 1..RP_PANEL_MAX_ROUND */
    const json_t *reviewer_ids;  /* array of opaque ids, at most RP_PANEL_MAX_IDS */
    int shortfall;               /* 0 when absent */
} rp_panel_assigned;
/* Returns 0 and fills *out, or -1 with err set for a malformed payload. */
int rp_panel_assigned_decode(const json_t *payload, rp_panel_assigned *out, char *err, size_t errlen);

#endif
