/* Validation of report intake requests (POST /v1/reports). Pure: no
 * database, no HTTP. The checks that need state (rule exists, rate limit,
 * open case) are the store's and the route's.
 */
#ifndef RP_INTAKE_H
#define RP_INTAKE_H

#include <jansson.h>
#include <stddef.h>

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
 * report that can never be accepted (reporter reporting their own content).
 * err gets the detail. */
int rp_intake_validate(const json_t *body, rp_report_input *out, char *err, size_t errlen);

#endif
