/* The reward service's events, both directions, in one place: the wire
 * contract of what it consumes and what it produces (API.md "Events").
 *
 * Consumed — sg.case.decided (report -> reward), decoded here, purely (no
 * I/O): case_id, report_type, verdict ("violation" | "no_violation" | null),
 * reporter_ids[], ballots[{reviewer_id, outcome, decision, with_majority}],
 * appeal_of (the appealed case of an appeal case; absent or null otherwise),
 * occurred_at (kept: the UTC day the grants count against), opened_at (v2,
 * optional: when the case opened, which picks the reward rule version in
 * force), plus fields the reward service ignores (target_id,
 * target_owner_id, decided_by); event_id is the inbox's.
 *
 * Consumed — sg.case.finalized (v2, report -> reward): case_id,
 * final_verdict, finalized_by ("window" | "appeal" | "ops"), appeal_case_id
 * (the appeal that decided it, or null), and for audit cases audit: true
 * with expected_verdict (the bonus then follows the expected verdict).
 *
 * Produced — sg.reward.granted (reward -> anyone), key user_id, one event per
 * grant paid (amount > 0; a grant capped to 0 announces nothing):
 *   {user_id, amount, kind ("vote" | "majority_bonus" | "reporter"), case_id,
 *    entry_id (the user's ledger entry)}
 * plus event_id and occurred_at, which the outbox relay adds to every event.
 * Its payload is NOT encoded in C: for speed (one database call per case,
 * however many grants) it is built in SQL by the database function
 * grant_batch (sql/reward/008, jsonb_build_object before outbox_write),
 * reached through rw_store_grant_batch_record (store.h). A change to these
 * fields is a change to that migration (a new one) and to API.md.
 */
#ifndef RW_PAYLOADS_H
#define RW_PAYLOADS_H

#include <jansson.h>
#include <stddef.h>

/* Bounds on list sizes: far above any panel (101 seats and a few substitute
 * rounds) or reporter crowd, low enough to refuse a corrupt event. */
#define RW_MAX_BALLOTS 10000
#define RW_MAX_REPORTERS 10000

typedef enum {
    RW_VERDICT_NONE = 0,      /* null: cancelled or escalated */
    RW_VERDICT_VIOLATION,
    RW_VERDICT_NO_VIOLATION,
} rw_verdict;

typedef struct rw_ballot {
    const char *reviewer_id;      /* borrowed from the payload */
    int voted;                    /* outcome == "voted" */
    int with_majority;            /* with_majority, or decision == verdict when absent/null */
    rw_verdict decision;          /* the vote cast: decision, or when a voted ballot states none, the
                                   * verdict (with_majority) or the other one; NONE unless voted */
} rw_ballot;

typedef struct rw_decision {
    const char *case_id;          /* borrowed from the payload */
    const char *appeal_of;        /* borrowed; NULL unless an appeal case */
    const char *report_type;      /* borrowed */
    const char *occurred_at;      /* borrowed; NULL when absent or not RFC 3339 */
    const char *opened_at;        /* borrowed; NULL when absent, null or not RFC 3339 (v1 producers) */
    rw_verdict verdict;
    const char **reporter_ids;    /* owned array of borrowed strings */
    size_t nreporters;
    rw_ballot *ballots;       /* owned */
    size_t nballots;
} rw_decision;

/* Parses and validates a payload. Strings stay borrowed from `payload`, which
 * must outlive *out. Returns 0 (free with rw_decision_free); -1 when the
 * event is invalid, -2 when out of memory, with a reason in err (nothing to
 * free either way). Ids must be opaque ids (1..128 printable
 * characters without spaces); the report type [a-z0-9_]{1,32}; an outcome any
 * string (only "voted" earns). */
int rw_decision_parse(const json_t *payload, rw_decision *out, char *err, size_t errlen);
void rw_decision_free(rw_decision *d);

/* The case the reports of d were filed on: appeal_of for an appeal case,
 * else case_id. Its reporters are rewarded once, under this id. */
const char *rw_decision_reported_case(const rw_decision *d);

/* "violation", "no_violation", or NULL for RW_VERDICT_NONE. */
const char *rw_verdict_name(rw_verdict v);

/* The verdict named s ("violation" | "no_violation"); RW_VERDICT_NONE for
 * anything else, NULL included. */
rw_verdict rw_verdict_from(const char *s);

/* sg.case.finalized, decoded. Strings borrowed from the payload. */
typedef struct rw_finalization {
    const char *case_id;
    rw_verdict final_verdict;     /* never NONE */
    rw_verdict bonus_verdict;     /* what the majority bonus follows: expected_verdict of an
                                   * audit case, else final_verdict */
    const char *finalized_by;     /* "window" | "appeal" | "ops" | another [a-z_]{1,32}; NULL when absent */
    const char *appeal_case_id;   /* NULL when absent or null */
    const char *occurred_at;      /* NULL when absent or not RFC 3339 */
} rw_finalization;

/* Parses and validates sg.case.finalized. Returns 0, or -1 with a reason in
 * err when the event is invalid (nothing to free either way). */
int rw_finalization_parse(const json_t *payload, rw_finalization *out, char *err, size_t errlen);

#endif
