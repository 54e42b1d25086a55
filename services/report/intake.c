/* Report intake validation; see intake.h. */
#include "intake.h"

#include <stdio.h>
#include <string.h>
#include "rule.h"
#include "sg/json.h"

/* The checks a report and an audit case share once their field table
 * passed: the report type's grammar and the ids (reporter_id only when the
 * body has one). Fills the common fields of *in. 0 or 400. */
static int check_report(const json_t *body, rp_report_input *in, char *err, size_t errlen)
{
    static const char *const ids[] = {"target_id", "target_owner_id", "reporter_id"};

    in->report_type = sg_json_str(body, "report_type");
    if (!sg_is_report_type(in->report_type)) {
        snprintf(err, errlen, "field 'report_type' must match [a-z0-9_]{1,32}");
        return 400;
    }
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        if (json_object_get(body, ids[i]) && !sg_is_opaque_id(sg_json_str(body, ids[i]))) {
            snprintf(err, errlen, "field '%s' must be 1..128 printable characters without spaces", ids[i]);
            return 400;
        }
    }
    in->target_id = sg_json_str(body, "target_id");
    in->target_owner_id = sg_json_str(body, "target_owner_id");
    in->reporter_id = sg_json_str(body, "reporter_id");
    in->reason = sg_json_str(body, "reason");
    in->description = sg_json_str(body, "description");
    const json_t *ev = json_object_get(body, "evidence");
    in->evidence = json_is_object(ev) ? ev : NULL;
    return 0;
}

/* The keys of audit cases are no item's: a report of one would neither
 * join it nor open a case (and would tell a caller that it exists). 0 or
 * 422. */
static int check_target(const rp_report_input *in, char *err, size_t errlen)
{
    if (strncmp(in->target_id, RP_AUDIT_KEY_PREFIX, strlen(RP_AUDIT_KEY_PREFIX)) != 0)
        return 0;
    snprintf(err, errlen, "target_ids starting with '%s' are reserved", RP_AUDIT_KEY_PREFIX);
    return 422;
}

int rp_intake_validate(const json_t *body, rp_report_input *out, char *err, size_t errlen)
{
    static const sg_field fields[] = {
        {"report_type", SG_JT_STRING, 1, 1, 32, 0, 1},
        {"target_id", SG_JT_STRING, 1, 1, 128, 0, 1},
        {"target_owner_id", SG_JT_STRING, 1, 1, 128, 0, 1},
        {"reporter_id", SG_JT_STRING, 1, 1, 128, 0, 1},
        {"reason", SG_JT_STRING, 1, 1, RP_INTAKE_MAX_REASON, 0, 1},
        {"description", SG_JT_STRING, 0, 0, RP_INTAKE_MAX_DESCRIPTION, 0, 0},
        {"evidence", SG_JT_OBJECT, 0, 0, RP_INTAKE_MAX_EVIDENCE},
        {"callback_url", SG_JT_STRING, 0, 1, RP_INTAKE_MAX_CALLBACK_URL, 0, 1},
    };
    rp_report_input in;
    int rc;
    memset(&in, 0, sizeof in);
    memset(out, 0, sizeof *out);

    if (sg_json_validate(body, fields, sizeof fields / sizeof fields[0], err, errlen))
        return 400;
    if ((rc = check_report(body, &in, err, errlen)) != 0)
        return rc;
    in.callback_url = sg_json_str(body, "callback_url");
    if (in.callback_url && !sg_is_http_url(in.callback_url)) {
        snprintf(err, errlen, "field 'callback_url' must be an http:// or https:// URL");
        return 400;
    }
    if (strcmp(in.reporter_id, in.target_owner_id) == 0) {
        snprintf(err, errlen, "reporter_id must differ from target_owner_id");
        return 422;
    }
    if ((rc = check_target(&in, err, errlen)) != 0)
        return rc;
    *out = in;
    return 0;
}

int rp_audit_validate(const json_t *body, rp_audit_input *out, char *err, size_t errlen)
{
    static const sg_field fields[] = {
        {"report_type", SG_JT_STRING, 1, 1, 32, 0, 1},
        {"target_id", SG_JT_STRING, 1, 1, 128, 0, 1},
        {"target_owner_id", SG_JT_STRING, 1, 1, 128, 0, 1},
        {"reason", SG_JT_STRING, 1, 1, RP_INTAKE_MAX_REASON, 0, 1},
        {"description", SG_JT_STRING, 0, 0, RP_INTAKE_MAX_DESCRIPTION, 0, 0},
        {"evidence", SG_JT_OBJECT, 0, 0, RP_INTAKE_MAX_EVIDENCE},
        {"expected_verdict", SG_JT_STRING, 1, 1, 32, 0, 1},
    };
    rp_audit_input in;
    int rc;
    memset(&in, 0, sizeof in);
    memset(out, 0, sizeof *out);

    if (sg_json_validate(body, fields, sizeof fields / sizeof fields[0], err, errlen))
        return 400;
    if ((rc = check_report(body, &in.report, err, errlen)) != 0)
        return rc;
    if ((in.expected = rp_verdict_parse(sg_json_str(body, "expected_verdict"))) == RP_VERDICT_NONE) {
        snprintf(err, errlen, "field 'expected_verdict' must be \"violation\" or \"no_violation\"");
        return 400;
    }
    in.report.reporter_id = RP_AUDIT_REPORTER;
    if (strcmp(in.report.reporter_id, in.report.target_owner_id) == 0) {
        snprintf(err, errlen, "target_owner_id '%s' is reserved", RP_AUDIT_REPORTER);
        return 422;
    }
    if ((rc = check_target(&in.report, err, errlen)) != 0)
        return rc;
    *out = in;
    return 0;
}
