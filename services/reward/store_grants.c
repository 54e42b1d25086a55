/* Grants store; see store.h. */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sg/app.h"
#include "sg/outbox.h"
#include "store_util.h"
#include "svc.h"

int rw_store_case_lock(sg_pg *c, const char *case_id)
{
    return sg_pg_exec(c, "SELECT pg_advisory_xact_lock(" RW_LOCK_CASE ", hashtext($1))", 1, SG_P(case_id));
}

int rw_store_grant_lock_users(sg_pg *c, const char *const *users, size_t n, const char *at, char day[11],
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

int rw_store_grants_existing(sg_pg *c, const char *const *case_ids, const char *const *also_ids,
                          const char *const *user_ids, const char *const *kinds, size_t n, unsigned char *exists)
{
    char *cases = sg_pg_text_array(case_ids, n), *also = sg_pg_text_array(also_ids, n),
         *users = sg_pg_text_array(user_ids, n), *kind_arr = sg_pg_text_array(kinds, n);
    PGresult *r = NULL;
    int rc = SG_ERR_DB;

    if (!cases || !also || !users || !kind_arr)
        goto cleanup;
    r = sg_pg_rows(c, &rc,
                   "SELECT g.o FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY "
                   "AS g(c, a, u, k, o) WHERE EXISTS (SELECT 1 FROM grants WHERE case_id IN (g.c, g.a) "
                   "AND user_id = g.u AND kind = g.k) OR (g.k = 'reporter' AND EXISTS (SELECT 1 FROM grants "
                   "WHERE kind = 'reporter' AND reported_case_id = g.c AND user_id = g.u))",
                   4, SG_P(cases, also, users, kind_arr));
    if (!r)
        goto cleanup;
    memset(exists, 0, n);
    for (int row = 0; row < PQntuples(r); row++) {
        long long o = atoll(PQgetvalue(r, row, 0));
        if (o < 1 || (size_t)o > n) {
            rc = SG_ERR_DB;
            goto cleanup;
        }
        exists[o - 1] = 1;
    }
cleanup:
    PQclear(r);
    free(cases);
    free(also);
    free(users);
    free(kind_arr);
    return rc;
}

int rw_store_grant_shard_order(sg_pg *c, const char *a, const char *b, int *a_first)
{
    int rc;
    PGresult *r = sg_pg_rows(c, &rc, "SELECT (abs(hashtext($1)) % 16 <= abs(hashtext($2)) % 16)::int", 2,
                             SG_P(a, b));
    if (!r)
        return rc;
    *a_first = PQntuples(r) == 1 && atoi(PQgetvalue(r, 0, 0)) == 1;
    PQclear(r);
    return SG_OK;
}

char *rw_store_int_array(const long long *v, size_t n)
{
    size_t cap = n * 21 + 3, used = 0;
    char *out = malloc(cap);

    if (!out)
        return NULL;
    out[used++] = '{';
    for (size_t i = 0; i < n; i++)
        used += (size_t)snprintf(out + used, cap - used, i ? ",%lld" : "%lld", v[i]);
    snprintf(out + used, cap - used, "}");
    return out;
}

int rw_store_grant_batch_record(sg_pg *c, const rw_store_grant_batch *b)
{
    char ver[24], channel[SG_OUTBOX_CHANNEL_MAX];
    char *users = sg_pg_text_array(b->user_ids, b->n), *kinds = sg_pg_text_array(b->kinds, b->n);
    char *due = rw_store_int_array(b->amount_due, b->n), *paid = rw_store_int_array(b->amount_paid, b->n);
    PGresult *r = NULL;
    int rc = SG_ERR_DB;

    if (!users || !kinds || !due || !paid)
        goto cleanup;
    r = sg_pg_query_q(c, "23505",
                      "SELECT grant_batch($1, $2, $3, $4::integer, $5::date, $6, $7::text[], $8::text[], "
                      "$9::bigint[], $10::bigint[], $11, $12, $13)",
                      13,
                      SG_P(b->case_id, b->report_type, b->rule_type, sg_pg_int(ver, b->rule_version), b->day,
                           b->event_id, users, kinds, due, paid, SG_T_REWARD_GRANTED, b->traceparent,
                           sg_outbox_notify_channel(c, channel)));
    if (!sg_pg_ok(r)) {
        rc = strcmp(sg_pg_sqlstate(c), "23505") == 0 ? RW_DUPLICATE : sg_pg_err(c);
        goto cleanup;
    }
    /* Every grant recorded, or the function raised. */
    rc = PQntuples(r) == 1 && (size_t)atoll(PQgetvalue(r, 0, 0)) == b->n ? SG_OK : SG_ERR_DB;
cleanup:
    PQclear(r);
    free(users);
    free(kinds);
    free(due);
    free(paid);
    return rc;
}
