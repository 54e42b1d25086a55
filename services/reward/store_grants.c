/* Grants store; see store_grants.h. */
#include "store_grants.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "store_util.h"
#include "svc.h"

int store_case_lock(sg_pg *c, const char *case_id)
{
    return sg_pg_exec(c, "SELECT pg_advisory_xact_lock(" REWARD_LOCK_CASE ", hashtext($1))", 1, SG_P(case_id));
}

int store_grant_lock_users(sg_pg *c, const char *const *users, size_t n, const char *at, char day[11],
                           long long *paid)
{
    PGresult *r = NULL;
    char *arr = sg_pg_text_array(users, n);
    int rc = SG_OK;

    if (!arr)
        return SG_ERR_DB;
    /* The no-op DO UPDATE locks rows that exist (DO NOTHING would not) and,
     * for the counters, returns their latest committed value. */
    rc = sg_pg_exec(c,
                    "INSERT INTO accounts (user_id, kind, balance) SELECT u, 'user', 0 FROM unnest($1::text[]) AS u "
                    "ORDER BY u ON CONFLICT (user_id) DO UPDATE SET updated_at = accounts.updated_at "
                    "WHERE accounts.kind = 'user'",
                    1, SG_P(arr));
    if (rc != SG_OK)
        goto cleanup;
    r = sg_pg_query(c,
                    "INSERT INTO daily_paid (user_id, day, paid) "
                    "SELECT u, (coalesce($2::timestamptz, now()) AT TIME ZONE 'UTC')::date, 0 "
                    "FROM unnest($1::text[]) AS u ORDER BY u "
                    "ON CONFLICT (user_id, day) DO UPDATE SET paid = daily_paid.paid "
                    "RETURNING user_id, to_char(day, 'YYYY-MM-DD'), paid",
                    2, SG_P(arr, at));
    if (!sg_pg_ok(r)) {
        rc = sg_pg_err(c);
        goto cleanup;
    }
    if ((size_t)PQntuples(r) != n) {
        rc = SG_ERR_DB;
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        paid[i] = -1;
        for (int row = 0; row < PQntuples(r); row++)
            if (strcmp(PQgetvalue(r, row, 0), users[i]) == 0)
                paid[i] = atoll(PQgetvalue(r, row, 2));
        if (paid[i] < 0) {
            rc = SG_ERR_DB;
            goto cleanup;
        }
    }
    if (n > 0)
        snprintf(day, 11, "%s", PQgetvalue(r, 0, 1));
cleanup:
    PQclear(r);
    free(arr);
    return rc;
}

int store_grant_record(sg_pg *c, const store_grant *g, int *exists, char entry_id[37])
{
    char ver[16], due[24], paid[24];
    int rc = SG_OK;
    snprintf(ver, sizeof ver, "%d", g->rule_version);
    snprintf(due, sizeof due, "%lld", g->amount_due);
    snprintf(paid, sizeof paid, "%lld", g->amount_paid);
    PGresult *r = sg_pg_query_q(c, "23505",
                                "SELECT out_exists, out_entry_id FROM grant_record($1, $2, $3, $4, $5, $6::integer, "
                                "$7::date, $8::bigint, $9::bigint, $10)",
                                10,
                                SG_P(g->case_id, g->user_id, g->kind, g->report_type, g->rule_type, ver, g->day, due,
                                     paid, g->event_id));
    if (!sg_pg_ok(r)) {
        rc = strcmp(sg_pg_sqlstate(c), "23505") == 0 ? REWARD_DUPLICATE : sg_pg_err(c);
        goto cleanup;
    }
    if (PQntuples(r) != 1) {
        rc = SG_ERR_DB;
        goto cleanup;
    }
    *exists = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    snprintf(entry_id, 37, "%s", PQgetvalue(r, 0, 1));
cleanup:
    PQclear(r);
    return rc;
}
