/* (v2) The cases of the people involved: a content owner's, a reporter's.
 * Juror identities never appear here. See store.h. */
#include "store.h"
#include "store_util.h"

/* One item: the tally once decided; an appeal deadline (and can_appeal)
 * only while an appeal is possible: a decided case that is not an appeal,
 * not final, not appealed yet, inside its window. */
#define MY_CASE_JSON                                                                                              \
    "json_build_object('case_id', c.id, 'report_type', c.report_type, 'target_id', c.target_id, "                \
    "'status', c.status, 'verdict', c.verdict, 'decided_by', c.decided_by, 'appeal_of', c.appeal_of, "           \
    "'appeal_case_id', (SELECT a.id FROM cases a WHERE a.appeal_of = c.id), "                                    \
    "'tally', CASE WHEN c.status = 'decided' THEN json_build_object('violation', c.tally_violation, "            \
    "   'no_violation', c.tally_no_violation) END, "                                                             \
    "'opened_at', " SG_SQL_TS("c.opened_at") ", 'decided_at', " SG_SQL_TS("c.decided_at") ", "                    \
    "'final', c.finalized_at IS NOT NULL, "                                                                       \
    "'appeal_deadline', CASE WHEN w.open THEN " SG_SQL_TS("c.decided_at + v.appeal_window_s * interval '1 second'") \
    " END, 'can_appeal', w.open)::text, c.seq "                                                                  \
    "FROM cases c JOIN voting_rules v ON v.report_type = c.report_type AND v.version = c.rule_version "           \
    "CROSS JOIN LATERAL (SELECT (c.status = 'decided' AND c.appeal_of IS NULL AND c.finalized_at IS NULL "        \
    "   AND c.decided_at + v.appeal_window_s * interval '1 second' >= now() "                                    \
    "   AND NOT EXISTS (SELECT 1 FROM cases a WHERE a.appeal_of = c.id)) AS open) w "

int rp_store_my_cases(sg_pg_pool *p, const char *user, int owner, int limit, long long cursor, json_t **out)
{
    char b1[24], b2[24];
    /* A reporter's cases: those holding their reports, and the appeals of
     * those (an appeal judges the reports of the case it appeals). An audit
     * case is nobody's: its owner is named by ops, its report is the
     * platform's own. */
    static const char owner_sql[] = "SELECT " MY_CASE_JSON "WHERE c.target_owner_id = $1 AND NOT c.audit "
                                    "AND ($2::bigint = 0 OR c.seq < $2::bigint) ORDER BY c.seq DESC LIMIT $3::int + 1";
    static const char reporter_sql[] =
        "SELECT " MY_CASE_JSON "WHERE c.id IN (SELECT r.case_id FROM reports r WHERE r.reporter_id = $1 "
        "   UNION SELECT a.id FROM reports r JOIN cases a ON a.appeal_of = r.case_id WHERE r.reporter_id = $1) "
        "AND NOT c.audit AND ($2::bigint = 0 OR c.seq < $2::bigint) ORDER BY c.seq DESC LIMIT $3::int + 1";
    return rp_store_read(p, owner ? owner_sql : reporter_sql, 3,
                         SG_P(user, sg_pg_int(b1, cursor), sg_pg_int(b2, limit)), limit, out);
}
