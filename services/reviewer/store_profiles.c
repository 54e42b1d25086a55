/* Profiles (upsert) and weekly activity. Batches go to PostgreSQL as arrays
 * expanded by unnest(): one statement per batch, not one per element. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_util.h"
#include "sg/timeutil.h"

typedef struct upsert_ctx {
    const char *const *params;
} upsert_ctx;

static int upsert_tx(sg_pg *c, void *arg)
{
    upsert_ctx *x = arg;
    /* string_to_array('', ',') is '{}': a profile without tags. */
    return sg_pg_exec(c,
                      "INSERT INTO users (user_id, tags, credit_score, registered_at)"
                      " SELECT x.u, string_to_array(x.t, ','), x.c, x.r"
                      " FROM unnest($1::text[], $2::text[], $3::int[], $4::timestamptz[]) AS x(u, t, c, r)"
                      " ON CONFLICT (user_id) DO UPDATE SET tags = EXCLUDED.tags, credit_score = EXCLUDED.credit_score,"
                      " registered_at = EXCLUDED.registered_at, profile_updated_at = now()",
                      4, x->params);
}

int rv_store_profiles_upsert(sg_pg_pool *p, const rv_profile_batch *b)
{
    int rc = SG_ERR_DB;
    char *ids = NULL, *tags = NULL, *credit = NULL, *reg = NULL;
    char (*num)[12] = malloc(b->n * sizeof(*num));
    const char **nums = malloc(b->n * sizeof(*nums));

    if (!num || !nums)
        goto cleanup;
    for (size_t i = 0; i < b->n; i++) {
        snprintf(num[i], sizeof(num[i]), "%d", b->credit_scores[i]);
        nums[i] = num[i];
    }
    ids = sg_pg_text_array(b->user_ids, b->n);
    tags = sg_pg_text_array((const char *const *)b->tags_csv, b->n);
    credit = sg_pg_text_array(nums, b->n);
    reg = sg_pg_text_array(b->registered_at, b->n);
    if (!ids || !tags || !credit || !reg)
        goto cleanup;
    upsert_ctx x = {SG_P(ids, tags, credit, reg)};
    rc = sg_pg_tx(p, SG_TX_READ_COMMITTED, upsert_tx, &x);
cleanup:
    free(ids);
    free(tags);
    free(credit);
    free(reg);
    free(num);
    free(nums);
    return rc;
}

int rv_store_activity_add(sg_pg *c, size_t n, const char *const *user_ids, const long *weeks, long *added)
{
    int rc = SG_ERR_DB;
    char *ids = NULL, *days = NULL;
    char (*day)[16] = malloc((n ? n : 1) * sizeof(*day));
    const char **dayp = malloc((n ? n : 1) * sizeof(*dayp));
    PGresult *r = NULL;

    if (!day || !dayp)
        goto cleanup;
    for (size_t i = 0; i < n; i++)
        dayp[i] = sg_day_format(weeks[i], day[i], sizeof(day[i]));
    ids = sg_pg_text_array(user_ids, n);
    days = sg_pg_text_array(dayp, n);
    if (!ids || !days)
        goto cleanup;
    r = sg_pg_query(c,
                    "INSERT INTO activity_weeks (user_id, week_start)"
                    " SELECT x.u, x.w FROM unnest($1::text[], $2::date[]) AS x(u, w)"
                    " ON CONFLICT DO NOTHING",
                    2, SG_P(ids, days));
    if (!sg_pg_ok(r)) {
        rc = sg_pg_err(c);
        goto cleanup;
    }
    if (added)
        *added = atol(PQcmdTuples(r));
    rc = SG_OK;
cleanup:
    PQclear(r);
    free(ids);
    free(days);
    free(day);
    free(dayp);
    return rc;
}

typedef struct activity_ctx {
    const rv_activity_batch *b;
    long *added;
} activity_ctx;

static int activity_tx(sg_pg *c, void *arg)
{
    activity_ctx *x = arg;
    return rv_store_activity_add(c, x->b->n, x->b->user_ids, x->b->weeks, x->added);
}

int rv_store_activity_add_tx(sg_pg_pool *p, const rv_activity_batch *b, long *added)
{
    activity_ctx x = {b, added};
    return sg_pg_tx(p, SG_TX_READ_COMMITTED, activity_tx, &x);
}

int rv_store_profile_load(sg_pg *c, const char *user_id, long first_week, long last_week, rv_tags *tags,
                          int *credit_score, double *registered_at, long *weeks, size_t *nweeks)
{
    int rc;
    char d1[16], d2[16];
    PGresult *r = sg_pg_query(c,
                              "SELECT array_to_string(tags, ','), credit_score, extract(epoch FROM registered_at)"
                              " FROM users WHERE user_id = $1",
                              1, SG_P(user_id));
    PGresult *w = NULL;

    if (!sg_pg_ok(r)) {
        rc = sg_pg_err(c);
        goto cleanup;
    }
    if (PQntuples(r) != 1) {
        rc = RV_NOT_FOUND;
        goto cleanup;
    }
    if (rv_tags_from_csv(rv_cell_str(r, 0, 0), tags))
        tags->n = 0;
    *credit_score = rv_cell_int(r, 0, 1);
    *registered_at = rv_cell_double(r, 0, 2);
    w = sg_pg_query(c,
                    "SELECT week_start - DATE '1970-01-01' FROM activity_weeks"
                    " WHERE user_id = $1 AND week_start BETWEEN $2::date AND $3::date ORDER BY week_start LIMIT 53",
                    3,
                    SG_P(user_id, sg_day_format(first_week, d1, sizeof(d1)), sg_day_format(last_week, d2, sizeof(d2))));
    if (!sg_pg_ok(w)) {
        rc = sg_pg_err(c);
        goto cleanup;
    }
    *nweeks = (size_t)PQntuples(w);
    for (size_t i = 0; i < *nweeks; i++)
        weeks[i] = rv_cell_int(w, (int)i, 0);
    rc = SG_OK;
cleanup:
    PQclear(r);
    PQclear(w);
    return rc;
}
