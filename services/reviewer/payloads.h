/* Validation of the reviewer service's inputs that are not policies: the
 * profile and activity batches (HTTP) and the consumed events' payloads
 * (sg.panel.requested, sg.ballot.closed, sg.case.decided, sg.case.finalized,
 * sg.user.activity), and the encoding of the events it produces
 * (sg.panel.assigned, sg.reviewer.status_changed): every
 * event JSON of the service is read or written here and nowhere else.
 * Pure: parse into structs whose strings are borrowed from the JSON (keep it
 * alive), arrays owned by the struct (free with the matching _free).
 *
 * Request batches are strict (unknown fields refused). Event payloads carry
 * event_id/occurred_at and may grow fields, so only the fields read are
 * checked.
 */
#ifndef RV_PAYLOADS_H
#define RV_PAYLOADS_H

#include <jansson.h>
#include <stddef.h>

#include "policy.h"
#include "quality.h"
#include "reviewer.h"

#define RV_BATCH_MAX 1000
/* Activity more than this far in the future is refused (clock skew slack). */
#define RV_ACTIVITY_FUTURE_SLACK_S 3600.0

typedef struct rv_profile_batch {
    size_t n;
    const char **user_ids;
    char **tags_csv;              /* owned strings: tags joined by ',' */
    int *credit_scores;
    const char **registered_at;   /* RFC 3339 as given */
} rv_profile_batch;

/* Validates a JSON array of 1..RV_BATCH_MAX profiles; on the first bad
 * element refuses the whole batch with "element <i>: <problem>". Duplicate
 * user_ids are refused too (an upsert must not touch a row twice). */
int rv_profiles_parse(const json_t *arr, rv_profile_batch *out, char *err, size_t errlen);
void rv_profile_batch_free(rv_profile_batch *b);

typedef struct rv_activity_batch {
    size_t n;
    const char **user_ids;
    long *weeks;                  /* Monday day number of each visit's ISO week */
} rv_activity_batch;

/* Validates a JSON array of 1..RV_BATCH_MAX {user_id, at}. */
int rv_activity_parse(const json_t *arr, double now, rv_activity_batch *out, char *err, size_t errlen);
void rv_activity_batch_free(rv_activity_batch *b);

/* One visit (the sg.user.activity payload, or a batch element when strict). */
int rv_activity_item_parse(const json_t *obj, int strict, double now, const char **user_id, long *week, char *err,
                           size_t errlen);

/* sg.panel.requested */
typedef struct rv_panel_req {
    const char *case_id;
    int round;
    int seats;                    /* 1..RV_SEATS_MAX */
    const char *report_type;
    rv_tags tags;                 /* reviewer_tags: all required */
    const char **exclude;         /* exclude_user_ids (owned array) */
    size_t nexclude;
    const char *deadline;         /* RFC 3339 or NULL */
} rv_panel_req;
#define RV_SEATS_MAX 101
#define RV_EXCLUDE_MAX 10000

int rv_panel_req_parse(const json_t *payload, rv_panel_req *out, char *err, size_t errlen);
void rv_panel_req_free(rv_panel_req *r);

/* The event_id of a consumed event's payload, for logs when the message
 * carries none in its headers (borrowed; NULL when absent or not a string). */
const char *rv_event_id(const json_t *payload);

/* sg.panel.assigned: {case_id, round, reviewer_ids (in draw order),
 * shortfall}. New reference, or NULL when out of memory. */
json_t *rv_panel_assigned_encode(const char *case_id, int round, size_t n, const char *const *ids, int shortfall);

/* sg.reviewer.status_changed: {user_id, status, reason} (key = user_id).
 * New reference, or NULL when out of memory or status is out of range. */
json_t *rv_status_changed_encode(const char *user_id, rv_status status, const char *reason);

/* sg.ballot.closed */
typedef struct rv_ballot_closed {
    const char *case_id;
    const char *reviewer_id;
    rv_outcome outcome;
} rv_ballot_closed;

int rv_ballot_closed_parse(const json_t *payload, rv_ballot_closed *out, char *err, size_t errlen);

/* sg.case.decided: the panel's ballots. with_majority is -1 for ballots
 * that were not voted, or for every ballot when the verdict is null. */
typedef struct rv_case_decided {
    const char *case_id;
    rv_decision verdict;          /* RV_DEC_NONE when null */
    size_t n;
    const char **reviewer_ids;    /* owned array */
    rv_outcome *outcomes;
    int *with_majority;
    rv_decision *decisions;       /* RV_DEC_NONE unless voted with a decision */
} rv_case_decided;

int rv_case_decided_parse(const json_t *payload, rv_case_decided *out, char *err, size_t errlen);
void rv_case_decided_free(rv_case_decided *d);

/* sg.case.finalized: {case_id, final_verdict, finalized_by, appeal_case_id}
 * and, for an audit case, audit: true with expected_verdict (required
 * then). final_verdict may be null (nothing to measure against). */
typedef struct rv_case_finalized {
    const char *case_id;
    rv_decision final_verdict;
    const char *finalized_by;     /* may be NULL */
    const char *appeal_case_id;   /* may be NULL */
    int audit;
    rv_decision expected_verdict; /* RV_DEC_NONE unless audit */
} rv_case_finalized;

int rv_case_finalized_parse(const json_t *payload, rv_case_finalized *out, char *err, size_t errlen);

#endif
