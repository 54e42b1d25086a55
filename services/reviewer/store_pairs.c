/* Pair agreement: which two jurors voted the same way on which case
 * (pair_cases, 90 days) and its sums per pair (pair_totals), per reviewer
 * and flagged for ops. The pair limit's counts
 * (pair_days) are written and read with the selection (store_panel.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_util.h"

int rv_store_pair_cases_add(sg_pg *c, const char *case_id, size_t n, const char *const *ids,
                            const rv_decision *decs, double now)
{
    const char **voters = NULL, **dtext = NULL;
    char *ia = NULL, *da = NULL, at[32];
    size_t k = 0;
    int rc = SG_ERR_DB;

    if (n < 2)
        return SG_OK;
    if (!(voters = malloc(n * sizeof(*voters))) || !(dtext = malloc(n * sizeof(*dtext))))
        goto cleanup;
    for (size_t i = 0; i < n; i++) {
        if (decs[i] == RV_DEC_NONE)
            continue;
        voters[k] = ids[i];
        dtext[k++] = rv_decision_name(decs[i]);
    }
    if (k < 2) {
        rc = SG_OK;
        goto cleanup;
    }
    if (!(ia = sg_pg_text_array(voters, k)) || !(da = sg_pg_text_array(dtext, k)))
        goto cleanup;
    rv_pg_epoch(now, at, sizeof(at));
    /* x.id < y.id: each pair once, already in (a < b) order. Only the
     * rows new here reach the totals, in pair order (two decisions
     * touching the same pairs wait for each other, never deadlock). */
    rc = sg_pg_exec(c,
                    "WITH n AS (INSERT INTO pair_cases (a, b, case_id, agreed, decided_at)"
                    "   SELECT x.id, y.id, $1, x.d = y.d, " RV_AT("$4")
                    "   FROM unnest($2::text[], $3::text[]) AS x(id, d) JOIN unnest($2::text[], $3::text[]) AS y(id, d)"
                    "   ON x.id < y.id ON CONFLICT DO NOTHING RETURNING a, b, agreed)"
                    " INSERT INTO pair_totals AS t (a, b, cases, agreed)"
                    " SELECT a, b, 1, agreed::int FROM n ORDER BY a, b"
                    " ON CONFLICT (a, b) DO UPDATE SET cases = t.cases + 1, agreed = t.agreed + EXCLUDED.agreed",
                    4, SG_P(case_id, ia, da, at));
cleanup:
    free(voters);
    free(dtext);
    free(ia);
    free(da);
    return rc;
}

static void read_stat(const PGresult *r, int row, rv_pair_stat *s)
{
    rv_copy(s->a, sizeof(s->a), rv_cell_str(r, row, 0));
    rv_copy(s->b, sizeof(s->b), rv_cell_str(r, row, 1));
    s->cases = rv_cell_int(r, row, 2);
    s->agreed = rv_cell_int(r, row, 3);
    s->decided_a = rv_cell_int(r, row, 4);
    s->with_majority_a = rv_cell_int(r, row, 5);
    s->decided_b = rv_cell_int(r, row, 6);
    s->with_majority_b = rv_cell_int(r, row, 7);
}

typedef struct pairs_ctx {
    const char *user_id;
    int flagged;
    long long offset;
    int limit;
    rv_pair_stat *items;
    int *n;
    double *margin;
} pairs_ctx;

static int reviewer_pairs_on(sg_pg *c, void *arg)
{
    pairs_ctx *x = arg;
    char lim[16];
    int rc = SG_OK;
    PGresult *r;

    snprintf(lim, sizeof(lim), "%d", x->limit);
    /* The first row says whether the user is a reviewer; the pairs come
     * from the primary key (a = user) and pair_totals_b (b = user). */
    r = sg_pg_query(c,
                    "WITH p AS (SELECT CASE WHEN t.a = $1 THEN t.b ELSE t.a END AS other, t.cases, t.agreed"
                    "   FROM pair_totals t WHERE (t.a = $1 OR t.b = $1) AND t.cases > 0"
                    "   ORDER BY t.cases DESC, t.agreed DESC, other LIMIT $2::int)"
                    " SELECT $1, p.other, p.cases, p.agreed, me.decided, me.with_majority, u.decided, u.with_majority"
                    " FROM (SELECT decided, with_majority FROM users WHERE user_id = $1 AND status IS NOT NULL) me"
                    " LEFT JOIN p ON true LEFT JOIN users u ON u.user_id = p.other"
                    " ORDER BY p.cases DESC, p.agreed DESC, p.other",
                    2, SG_P(x->user_id, lim));
    *x->n = 0;
    if (!sg_pg_ok(r)) {
        rc = sg_pg_err(c);
        goto cleanup;
    }
    if (PQntuples(r) == 0) {
        rc = RV_NOT_FOUND;
        goto cleanup;
    }
    for (int i = 0; i < PQntuples(r) && *x->n < x->limit; i++)
        if (!PQgetisnull(r, i, 1))
            read_stat(r, i, &x->items[(*x->n)++]);
cleanup:
    PQclear(r);
    return rc;
}

int rv_store_reviewer_pairs(sg_pg_pool *p, const char *user_id, int limit, rv_pair_stat *items, int *n)
{
    pairs_ctx x = {.user_id = user_id, .limit = limit, .items = items, .n = n};
    return rv_on_conn(p, 2000, reviewer_pairs_on, &x);
}

/* The majority rate of quality.h (rv_majority_rate) of users row `u`. */
#define RATE(u) "(CASE WHEN " u ".decided > 0 THEN " u ".with_majority::float8 / " u ".decided ELSE 0.5 END)"

static int pairs_list_on(sg_pg *c, void *arg)
{
    pairs_ctx *x = arg;
    char lim[16], off[24], mincases[8];
    int rc = SG_OK;
    PGresult *r;

    snprintf(lim, sizeof(lim), "%d", x->limit);
    snprintf(off, sizeof(off), "%lld", x->offset);
    snprintf(mincases, sizeof(mincases), "%d", RV_PAIR_MIN_CASES);
    /* rv_pair_flagged in SQL, so that pages hold flagged pairs only; the
     * response's figures are computed again in C from the same counts. */
    r = sg_pg_query(c,
                    "WITH m AS (SELECT pair_flag_margin FROM quality_policies ORDER BY version DESC LIMIT 1),"
                    /* the partial index pair_totals_judged, in (a, b) order */
                    " p AS (SELECT a, b, cases, agreed FROM pair_totals WHERE cases >= 5 AND cases >= $1::int)"
                    " SELECT p.a, p.b, p.cases, p.agreed, ua.decided, ua.with_majority, ub.decided, ub.with_majority,"
                    " m.pair_flag_margin"
                    " FROM m LEFT JOIN (p JOIN users ua ON ua.user_id = p.a JOIN users ub ON ub.user_id = p.b"
                    "   ) ON NOT $2::boolean OR p.agreed::float8 / p.cases"
                    "   - (" RATE("ua") " * " RATE("ub") " + (1 - " RATE("ua") ") * (1 - " RATE("ub") "))"
                    "   >= m.pair_flag_margin - 1e-9"
                    " ORDER BY p.a, p.b OFFSET $3::bigint LIMIT $4::int",
                    4, SG_P(mincases, x->flagged ? "t" : "f", off, lim));
    *x->n = 0;
    if (!sg_pg_ok(r)) {
        rc = sg_pg_err(c);
        goto cleanup;
    }
    *x->margin = PQntuples(r) > 0 ? rv_cell_double(r, 0, 8) : 0.25;
    for (int i = 0; i < PQntuples(r) && *x->n < x->limit; i++)
        if (!PQgetisnull(r, i, 0))
            read_stat(r, i, &x->items[(*x->n)++]);
cleanup:
    PQclear(r);
    return rc;
}

int rv_store_pairs_list(sg_pg_pool *p, int flagged, long long offset, int limit, rv_pair_stat *items, int *n,
                        double *margin)
{
    pairs_ctx x = {.flagged = flagged, .offset = offset, .limit = limit, .items = items, .n = n,
                   .margin = margin};
    return rv_on_conn(p, 2000, pairs_list_on, &x);
}
