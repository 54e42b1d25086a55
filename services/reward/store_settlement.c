/* Settlement store; see store.h. */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "store_util.h"
#include "svc.h"

int rw_store_settlement_record(sg_pg *c, const rw_store_settlement *s, rw_settlement_state *state, rw_final *fin)
{
    char ver[24];
    char *users = sg_pg_text_array(s->user_ids, s->n), *kinds = sg_pg_text_array(s->kinds, s->n);
    char *amounts = rw_store_int_array(s->amounts, s->n);
    PGresult *r = NULL;
    int rc = SG_ERR_DB;

    if (!users || !kinds || !amounts)
        goto cleanup;
    r = sg_pg_rows(c, &rc,
                   "SELECT out_state, out_final, out_bonus FROM settlement_record($1, $2, $3, $4, $5::integer, "
                   "$6::jsonb, $7::text[], $8::text[], $9::bigint[])",
                   9,
                   SG_P(s->case_id, s->appeal_of, s->report_type, s->rule_type, sg_pg_int(ver, s->rule_version),
                        s->decision, users, kinds, amounts));
    if (!r)
        goto cleanup;
    if (PQntuples(r) != 1) {
        rc = SG_ERR_DB;
        goto cleanup;
    }
    const char *st = PQgetvalue(r, 0, 0);
    fin->final = rw_verdict_from(PQgetisnull(r, 0, 1) ? NULL : PQgetvalue(r, 0, 1));
    fin->bonus = rw_verdict_from(PQgetisnull(r, 0, 2) ? NULL : PQgetvalue(r, 0, 2));
    if (strcmp(st, "pending") == 0)
        *state = RW_SETTLEMENT_PENDING;
    else if (strcmp(st, "settle") == 0 && fin->final != RW_VERDICT_NONE)
        *state = RW_SETTLEMENT_NOW;
    else if (strcmp(st, "settled") == 0)
        *state = RW_SETTLEMENT_SETTLED;
    else
        rc = SG_ERR_DB;
cleanup:
    PQclear(r);
    free(users);
    free(kinds);
    free(amounts);
    return rc;
}

int rw_store_settlement_finalize(sg_pg *c, const rw_finalization *f, const char *event_id, json_t **decision,
                                 rw_final *fin, rw_rule *rule, char rule_type[33], int *rule_version)
{
    int rc;
    *decision = NULL;
    PGresult *r = sg_pg_rows(c, &rc,
                             "SELECT out_decision, out_final, out_bonus, out_rule_type, out_rule_version, out_vote, "
                             "out_majority, out_reporter, out_cap FROM settlement_finalize($1, $2, $3, $4, $5, "
                             "$6::timestamptz, $7)",
                             7,
                             SG_P(f->case_id, rw_verdict_name(f->final_verdict), rw_verdict_name(f->bonus_verdict),
                                  f->finalized_by, f->appeal_case_id, f->occurred_at, event_id));
    if (!r)
        return rc;
    if (PQntuples(r) != 1) {
        rc = SG_ERR_DB;
        goto cleanup;
    }
    if (PQgetisnull(r, 0, 0))
        goto cleanup; /* nothing to settle */
    fin->final = rw_verdict_from(PQgetvalue(r, 0, 1));
    fin->bonus = rw_verdict_from(PQgetvalue(r, 0, 2));
    snprintf(rule_type, 33, "%s", PQgetvalue(r, 0, 3));
    *rule_version = atoi(PQgetvalue(r, 0, 4));
    rule->vote_reward = atoll(PQgetvalue(r, 0, 5));
    rule->majority_bonus = atoll(PQgetvalue(r, 0, 6));
    rule->reporter_reward = atoll(PQgetvalue(r, 0, 7));
    rule->daily_cap_per_user = atoll(PQgetvalue(r, 0, 8));
    if (fin->final == RW_VERDICT_NONE || !(*decision = sg_pg_json(r, 0, 0)))
        rc = SG_ERR_DB;
cleanup:
    PQclear(r);
    return rc;
}
