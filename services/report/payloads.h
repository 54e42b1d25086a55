/* The events of the report service, encoded and decoded in one place (the
 * field names are fixed by API.md's event table). Pure C and jansson: the
 * store reads the values, these functions make the payload (it then goes to
 * the outbox); the consumers decode what they consume here and hand the
 * store a struct, so the store never parses an event.
 *
 * Produced: sg.panel.requested, sg.ballot.closed, sg.case.decided,
 * sg.notification.requested (and the push gateway's request body). Consumed: sg.panel.assigned.
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

/* sg.case.decided (report -> reviewer, reward), key = case_id; also the
 * body of the upstream callbacks (plus "status"). Each ballot's
 * with_majority is judged against verdict. NULL strings are null. */
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
} rp_case_decided;
json_t *rp_case_decided_encode(const rp_case_decided *e);

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
