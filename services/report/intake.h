/* Validation of report intake requests (POST /v1/reports). Pure: no
 * database, no HTTP. The checks that need state (rule exists, rate limit,
 * open case) are the store's and the route's.
 */
#ifndef RP_INTAKE_H
#define RP_INTAKE_H

#include <jansson.h>
#include <stddef.h>
#include "decision.h"

#define RP_INTAKE_MAX_REASON 64
#define RP_INTAKE_MAX_DESCRIPTION 2000
#define RP_INTAKE_MAX_EVIDENCE 16384
#define RP_INTAKE_MAX_CALLBACK_URL 512

/* Fields of a valid report. Strings and evidence are borrowed from the body
 * they were parsed from; optional ones are NULL when absent. */
typedef struct rp_report_input {
    const char *report_type;
    const char *target_id;
    const char *target_owner_id;
    const char *reporter_id;
    const char *reason;
    const char *description;
    const json_t *evidence;
    const char *callback_url;
} rp_report_input;

/* Validates a body. Returns 0 and fills *out; 400 for a malformed body
 * (types, unknown or missing fields, lengths, ids, URL); 422 for a well-formed
 * report that can never be accepted (reporter reporting their own content,
 * a target_id starting with RP_AUDIT_KEY_PREFIX).
 * err gets the detail. */
int rp_intake_validate(const json_t *body, rp_report_input *out, char *err, size_t errlen);

/* (v2) Audit cases (POST /v1/audit-cases, ops). The report of an audit case
 * is an internal report row, so what a juror reads of it (reason,
 * description, evidence) has the same shape and origin as on any case. It
 * is filed by RP_AUDIT_SOURCE, which no API client can be named (client
 * names are [A-Za-z0-9_.-]), so no client ever sees it, and its reporter is
 * RP_AUDIT_REPORTER, a name that is never a party to anything (no
 * notifications, no reporter reward, no GET /v1/me/cases). */
#define RP_AUDIT_SOURCE "sg:audit"
#define RP_AUDIT_REPORTER "sg:audit"
/* The audit case's own cases.target_id is this prefix and its id: the key of
 * "one case per target" (cases_one_open_per_target) that no report names, so
 * it neither takes nor blocks the reports of the item it shows, which its
 * report's target_id names. */
#define RP_AUDIT_KEY_PREFIX "sg:audit:"

typedef struct rp_audit_input {
    rp_report_input report;   /* reporter_id RP_AUDIT_REPORTER, callback_url NULL */
    rp_verdict expected;      /* never RP_VERDICT_NONE */
} rp_audit_input;

/* Validates an audit case body: the fields of a report without reporter_id
 * and callback_url, plus expected_verdict ("violation" | "no_violation"),
 * with the same checks and status codes as rp_intake_validate (400 for a
 * malformed body; 422 for a target_owner_id equal to RP_AUDIT_REPORTER, as
 * for a reporter reporting their own content, and for a reserved target_id).
 * Strings are borrowed from body. */
int rp_audit_validate(const json_t *body, rp_audit_input *out, char *err, size_t errlen);

#endif
