/* (v2) Audit cases: opened by ops with a known answer, run like any case.
 * See store.h and intake.h (what the report of an audit case is). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "store_lifecycle.h"
#include "sg/log.h"
#include "store.h"
#include "store_util.h"

typedef struct audit_ctx {
    const rp_audit_input *in;
    const char *actor, *tp;
    char *case_id;
    rp_detail *d;
} audit_ctx;

static int create_tx(sg_pg *c, void *arg)
{
    audit_ctx *x = arg;
    const rp_report_input *in = &x->in->report;
    char report_id[37], rule_version[24];
    char *evidence = NULL;
    PGresult *res = NULL;
    rp_case_row r;
    int rc;

    x->case_id[0] = '\0';
    res = sg_pg_rows(c, &rc, "SELECT version FROM voting_rules WHERE report_type = $1 ORDER BY version DESC LIMIT 1",
                     1, SG_P(in->report_type));
    if (!res)
        return rc;
    if (PQntuples(res) == 0) {
        snprintf(x->d->text, sizeof x->d->text, "no voting rule for report_type '%s'", in->report_type);
        rc = RP_UNPROCESSABLE;
        goto cleanup;
    }
    snprintf(rule_version, sizeof rule_version, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    /* The columns a report's case gets (store_intake.c), plus the audit
     * ones; its one report is counted in. Its target_id is a key of its own
     * (migration 005: cases_audit_key), so it neither joins nor blocks the
     * case of the item, which its report names. */
    res = sg_pg_rows(c, &rc,
                     "INSERT INTO cases (id, report_type, target_id, target_owner_id, rule_version, panel_size, "
                     "votes_to_decide, deadline, traceparent, audit, expected_verdict, report_count) "
                     "SELECT g.id, r.report_type, '" RP_AUDIT_KEY_PREFIX "' || g.id::text, $2, r.version, "
                     "r.panel_size, r.votes_to_decide, now() + r.case_deadline_s * interval '1 second', $4, true, $5, "
                     "1 FROM voting_rules r, (SELECT gen_random_uuid() AS id) g "
                     "WHERE r.report_type = $1 AND r.version = $3::int RETURNING id",
                     5, SG_P(in->report_type, in->target_owner_id, rule_version, x->tp,
                             rp_verdict_name(x->in->expected)));
    if (!res)
        goto cleanup;
    if (PQntuples(res) != 1) {
        rc = SG_ERR_DB;
        goto cleanup;
    }
    snprintf(x->case_id, 37, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if (in->evidence && !(evidence = json_dumps(in->evidence, JSON_COMPACT))) {
        res = NULL;
        rc = SG_ERR_DB;
        goto cleanup;
    }
    res = sg_pg_rows(c, &rc,
                     "INSERT INTO reports (case_id, source, report_type, target_id, target_owner_id, reporter_id, "
                     "reason, description, evidence) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb) RETURNING id",
                     9, SG_P(x->case_id, RP_AUDIT_SOURCE, in->report_type, in->target_id, in->target_owner_id,
                             in->reporter_id, in->reason, in->description, evidence));
    if (!res)
        goto cleanup;
    snprintf(report_id, sizeof report_id, "%s", PQgetvalue(res, 0, 0));
    rc = rp_audit_add(c, x->case_id, "opened", x->actor,
                      json_pack("{s:s, s:s, s:s, s:i, s:b, s:s}", "report_id", report_id, "reporter_id",
                                in->reporter_id, "source", RP_AUDIT_SOURCE, "rule_version", atoi(rule_version),
                                "audit", 1, "expected_verdict", rp_verdict_name(x->in->expected)));
    if (rc == SG_OK && (rc = rp_case_lock(c, x->case_id, 0, &r)) > 0)
        rc = SG_ERR_DB;
    if (rc == SG_OK)
        rc = rp_case_request_panel(c, &r, 1, r.panel_size, "panel_requested", x->tp);
    if (rc == SG_OK)
        sg_info("audit case %s opened by %s (%s %s, expected %s)", x->case_id, x->actor, in->report_type,
                in->target_id, rp_verdict_name(x->in->expected));
cleanup:
    PQclear(res);
    free(evidence);
    return rc;
}

int rp_store_audit_case_create(sg_pg_pool *p, const rp_audit_input *in, const char *actor, const char *tp,
                               char case_id[37], rp_detail *d)
{
    audit_ctx x = {in, actor, tp, case_id, d};
    int rc = sg_pg_tx(p, SG_TX_READ_COMMITTED, create_tx, &x);
    if (rc != SG_OK)
        case_id[0] = '\0';
    return rc;
}

#define AUDIT_CASE_JSON                                                                                           \
    "json_build_object('case_id', c.id, 'report_type', c.report_type, 'target_id', f.target_id, "                \
    "'target_owner_id', c.target_owner_id, 'status', c.status, 'verdict', c.verdict, "                           \
    "'expected_verdict', c.expected_verdict, "                                                                    \
    "'matched', CASE WHEN c.status = 'decided' THEN c.verdict = c.expected_verdict END, "                        \
    "'decided_by', c.decided_by, 'decided_at', " SG_SQL_TS("c.decided_at") ", "                                   \
    "'final', c.finalized_at IS NOT NULL, "                                                                       \
    "'tally', CASE WHEN c.status = 'decided' THEN json_build_object('violation', c.tally_violation, "            \
    "   'no_violation', c.tally_no_violation) END, "                                                             \
    "'votes_matching', CASE WHEN c.status NOT IN ('assigning', 'voting') THEN (SELECT count(*) FROM ballots b "    \
    "   WHERE b.case_id = c.id AND b.status = 'voted' AND b.decision = c.expected_verdict) END, "                 \
    "'rule_version', c.rule_version, 'opened_at', " SG_SQL_TS("c.opened_at") ", "                                 \
    "'deadline', " SG_SQL_TS("c.deadline") ")::text"

int rp_store_audit_cases_list(sg_pg_pool *p, const char *status, int limit, long long cursor, json_t **out)
{
    char b1[24], b2[24];
    return rp_store_read(p,
                         "SELECT " AUDIT_CASE_JSON ", c.seq FROM cases c "
                         "LEFT JOIN LATERAL (SELECT p.target_id FROM reports p WHERE p.case_id = c.id "
                         "   ORDER BY p.seq LIMIT 1) f ON true WHERE c.audit "
                         "AND ($1::text IS NULL OR c.status = $1) AND ($2::bigint = 0 OR c.seq < $2::bigint) "
                         "ORDER BY c.seq DESC LIMIT $3::int + 1",
                         3, SG_P(status, sg_pg_int(b1, cursor), sg_pg_int(b2, limit)), limit, out);
}
