/* Voting rules in PostgreSQL: one row per (report_type, version); the
 * current rule is the highest version. See store.h. */
#include <stdlib.h>
#include <string.h>
#include "store.h"
#include "store_util.h"

#define RULE_JSON                                                                                                 \
    "json_build_object('report_type', report_type, 'version', version, 'panel_size', panel_size, "               \
    "'votes_to_decide', votes_to_decide, 'ballot_timeout_s', ballot_timeout_s, "                                 \
    "'reminder_before_s', reminder_before_s, 'max_substitute_rounds', max_substitute_rounds, "                   \
    "'case_deadline_s', case_deadline_s, 'on_deadline', on_deadline, 'reviewer_tags', reviewer_tags, "           \
    "'appeal_window_s', appeal_window_s, 'appeal_panel_size', appeal_panel_size, "                               \
    "'appeal_votes_to_decide', appeal_votes_to_decide, 'created_by', created_by, "                               \
    "'max_reports_per_case', max_reports_per_case, "                                                             \
    "'min_votes_at_deadline', min_votes_at_deadline, 're_report_cooldown_s', re_report_cooldown_s, "               \
    "'created_at', " SG_SQL_TS("created_at") ")::text"

typedef struct put_ctx {
    const char *report_type;
    const rp_rule *r;
    const char *actor;
    json_t *out;
} put_ctx;

static int put_tx(sg_pg *c, void *arg)
{
    put_ctx *x = arg;
    const rp_rule *r = x->r;
    char b[12][24];
    char *tags = json_dumps(r->reviewer_tags, JSON_COMPACT);
    int rc;

    json_decref(x->out);
    x->out = NULL;
    if (!tags)
        return SG_ERR_DB;
    /* Concurrent PUTs of one type take turns, so versions never collide. */
    rc = sg_pg_exec(c, "SELECT pg_advisory_xact_lock(hashtext('voting_rules:' || $1))", 1, SG_P(x->report_type));
    if (rc == SG_OK)
        x->out = sg_pg_query_json(
            c, &rc,
            "INSERT INTO voting_rules (report_type, version, panel_size, votes_to_decide, ballot_timeout_s, "
            "reminder_before_s, max_substitute_rounds, case_deadline_s, on_deadline, reviewer_tags, appeal_window_s, "
            "appeal_panel_size, appeal_votes_to_decide, created_by, max_reports_per_case, "
            "min_votes_at_deadline, re_report_cooldown_s) "
            "SELECT $1, coalesce(max(version), 0) + 1, $2::int, $3::int, $4::int, $5::int, $6::int, $7::int, $8, "
            "$9::jsonb, $10::int, $11::int, $12::int, $13, "
            "$14::int, $15::int, $16::int FROM voting_rules WHERE report_type = $1 "
            "RETURNING " RULE_JSON,
            16,
            SG_P(x->report_type, sg_pg_int(b[0], r->panel_size), sg_pg_int(b[1], r->votes_to_decide),
                 sg_pg_int(b[2], r->ballot_timeout_s), sg_pg_int(b[3], r->reminder_before_s),
                 sg_pg_int(b[4], r->max_substitute_rounds), sg_pg_int(b[5], r->case_deadline_s),
                 rp_rule_on_deadline_name(r->on_deadline), tags, sg_pg_int(b[6], r->appeal_window_s),
                 sg_pg_int(b[7], r->appeal_panel_size), sg_pg_int(b[8], r->appeal_votes_to_decide), x->actor,
                 sg_pg_int(b[9], r->max_reports_per_case), sg_pg_int(b[10], r->min_votes_at_deadline),
                 sg_pg_int(b[11], r->re_report_cooldown_s)));
    free(tags);
    if (rc == SG_OK && !x->out)
        rc = SG_ERR_DB;
    return rc;
}

int rp_store_rule_put(sg_pg_pool *p, const char *report_type, const rp_rule *r, const char *actor, json_t **out)
{
    put_ctx x = {report_type, r, actor, NULL};
    int rc = sg_pg_tx(p, SG_TX_READ_COMMITTED, put_tx, &x);
    if (rc != SG_OK) {
        json_decref(x.out);
        x.out = NULL;
    }
    *out = x.out;
    return rc;
}

int rp_store_rule_get(sg_pg_pool *p, const char *report_type, json_t **out)
{
    return rp_store_read(p, "SELECT " RULE_JSON " FROM voting_rules WHERE report_type = $1 ORDER BY version DESC LIMIT 1",
                      1, SG_P(report_type), 0, out);
}

int rp_store_rule_versions(sg_pg_pool *p, const char *report_type, int limit, long long cursor, json_t **out)
{
    char b1[24], b2[24];
    int rc = rp_store_read(p,
                        "SELECT " RULE_JSON ", version FROM voting_rules WHERE report_type = $1 "
                        "AND ($2::int = 0 OR version < $2::int) ORDER BY version DESC LIMIT $3::int + 1",
                        3, SG_P(report_type, sg_pg_int(b1, cursor), sg_pg_int(b2, limit)), limit, out);
    if (rc == SG_OK && cursor == 0 && json_array_size(json_object_get(*out, "items")) == 0) {
        json_decref(*out);
        *out = NULL;
        return RP_NOT_FOUND;
    }
    return rc;
}

int rp_store_rules_current(sg_pg_pool *p, int limit, const char *cursor, json_t **out)
{
    char b[24];
    return rp_store_read(p,
                      "SELECT " RULE_JSON ", report_type FROM ("
                      "  SELECT DISTINCT ON (report_type) * FROM voting_rules "
                      "  WHERE $1::text IS NULL OR report_type > $1 ORDER BY report_type, version DESC) v "
                      "ORDER BY report_type LIMIT $2::int + 1",
                      2, SG_P(cursor, sg_pg_int(b, limit)), limit, out);
}
