/* SQL of panel selection (see panel.c for the algorithm). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_util.h"
#include "sg/app.h"
#include "sg/outbox.h"
#include "sg/timeutil.h"

int rv_store_panel_claim(sg_pg *c, const rv_panel_req *r, const char *event_id, rv_fatigue_policy *policy,
                         char ***on_case, size_t *n_on_case)
{
    char round[16], seats[16], tags[RV_TAGS_TEXT_MAX];
    json_t *arr = NULL, *e;
    size_t i;
    int rc = SG_ERR_DB;
    PGresult *res;

    *on_case = NULL;
    *n_on_case = 0;
    snprintf(round, sizeof(round), "%d", r->round);
    snprintf(seats, sizeof(seats), "%d", r->seats);
    /* json_agg carries any id text safely (no array-literal parsing). A
     * concurrent claim of the same (case, round) waits here for the other
     * transaction and then finds the conflict. */
    res = sg_pg_query(c,
                      "WITH ins AS (INSERT INTO panel_requests (case_id, round, event_id, report_type, seats,"
                      "   reviewer_tags, deadline) VALUES ($1, $2::int, $3, $4, $5::int, $6::text[], $7::timestamptz)"
                      "   ON CONFLICT (case_id, round) DO NOTHING RETURNING 1)"
                      " SELECT (SELECT count(*) FROM ins), f.version, f.max_open_ballots, f.max_per_day, f.max_per_week,"
                      " f.min_interval_s, f.cooldown_after_expiry_s, f.max_pair_cases_30d,"
                      " (SELECT coalesce(json_agg(a.reviewer_id), '[]'::json) FROM assignments a WHERE a.case_id = $1)"
                      " FROM fatigue_policies f ORDER BY f.version DESC LIMIT 1",
                      7, SG_P(r->case_id, round, event_id, r->report_type, seats,
                              rv_tags_pg(&r->tags, tags, sizeof(tags)), r->deadline));
    if (!sg_pg_ok(res)) {
        rc = sg_pg_err(c);
        goto cleanup;
    }
    if (PQntuples(res) != 1)
        goto cleanup;
    if (rv_cell_int(res, 0, 0) == 0) {
        rc = RV_CONFLICT;
        goto cleanup;
    }
    policy->version = rv_cell_int(res, 0, 1);
    policy->max_open_ballots = rv_cell_int(res, 0, 2);
    policy->max_per_day = rv_cell_int(res, 0, 3);
    policy->max_per_week = rv_cell_int(res, 0, 4);
    policy->min_interval_s = rv_cell_int(res, 0, 5);
    policy->cooldown_after_expiry_s = rv_cell_int(res, 0, 6);
    policy->max_pair_cases_30d = rv_cell_int(res, 0, 7);
    arr = json_loads(PQgetvalue(res, 0, 8), JSON_DECODE_ANY, NULL);
    if (!json_is_array(arr))
        goto cleanup;
    if (json_array_size(arr) > 0 && !(*on_case = calloc(json_array_size(arr), sizeof(**on_case))))
        goto cleanup;
    json_array_foreach(arr, i, e) {
        if (!json_is_string(e) || !((*on_case)[i] = strdup(json_string_value(e))))
            goto cleanup; /* partial: the caller frees n entries */
        *n_on_case = i + 1;
    }
    rc = SG_OK;
cleanup:
    json_decref(arr);
    PQclear(res);
    return rc;
}

int rv_store_panel_answer(sg_pg *c, const rv_panel_req *r, char ***ids, size_t *nids, int *shortfall)
{
    char round[16];
    int rc;
    PGresult *res;

    *ids = NULL;
    *nids = 0;
    *shortfall = 0;
    snprintf(round, sizeof(round), "%d", r->round);
    res = sg_pg_query(c,
                      "SELECT x.id, p.shortfall FROM panel_requests p"
                      " LEFT JOIN LATERAL unnest(p.reviewer_ids) WITH ORDINALITY AS x(id, ord) ON true"
                      " WHERE p.case_id = $1 AND p.round = $2::int ORDER BY x.ord",
                      2, SG_P(r->case_id, round));
    if (!sg_pg_ok(res) || PQntuples(res) < 1) {
        rc = sg_pg_err(c);
        goto cleanup;
    }
    *shortfall = rv_cell_int(res, 0, 1);
    rc = rv_copy_ids(res, ids, nids);
cleanup:
    PQclear(res);
    return rc;
}

/* Candidate columns: 0 user_id, 1 active, 2 tags csv, 3 decided,
 * 4 with_majority, then the fatigue state 5..11 (NULL in windows, which
 * read fatigue from Redis). */
static void read_candidate(const PGresult *r, int row, rv_candidate *c)
{
    memset(c, 0, sizeof(*c));
    c->user_id = PQgetvalue(r, row, 0);
    c->active = rv_cell_bool(r, row, 1);
    c->tags_csv = PQgetvalue(r, row, 2);
    c->decided = rv_cell_int(r, row, 3);
    c->with_majority = rv_cell_int(r, row, 4);
    c->fatigue.open_ballots = rv_cell_int(r, row, 5);
    c->fatigue.day = rv_cell_int(r, row, 6);
    c->fatigue.day_count = rv_cell_int(r, row, 7);
    c->fatigue.week = rv_cell_int(r, row, 8);
    c->fatigue.week_count = rv_cell_int(r, row, 9);
    c->fatigue.last_assigned = rv_cell_double(r, row, 10);
    c->fatigue.cooldown_until = rv_cell_double(r, row, 11);
}

int rv_store_window(sg_pg *c, double lo, double hi, int limit, const rv_tags *required, rv_rows **res,
                    rv_candidate *cands, int *n, double *last_key)
{
    char slo[40], shi[40], lim[16], tags[RV_TAGS_TEXT_MAX];
    PGresult *r;

    /* %.17g round-trips a double exactly, so keyset continuation neither
     * skips nor repeats a row. */
    snprintf(slo, sizeof(slo), "%.17g", lo);
    snprintf(shi, sizeof(shi), "%.17g", hi);
    snprintf(lim, sizeof(lim), "%d", limit);
    *res = NULL;
    *n = 0;
    /* Two texts, not one with an optional filter: the untagged one is always
     * the partial (sample_key) index scan. With tags the best plan depends on
     * how common they are (walk the sample_key index and filter, or take the
     * holders from the GIN index and sort the top W): a cached generic plan
     * would pick one for all tags and cost 100x on the other kind, so
     * plan this one with its actual parameters every time. */
    if (required && required->n > 0) {
        int rc = sg_pg_exec(c, "SELECT set_config('plan_cache_mode', 'force_custom_plan', true)", 0, NULL);
        if (rc != SG_OK)
            return rc;
        r = sg_pg_query(c,
                        "SELECT user_id, true, array_to_string(tags, ','), decided, with_majority,"
                        " NULL, NULL, NULL, NULL, NULL, NULL, NULL, sample_key"
                        " FROM users WHERE status = 'active' AND sample_key >= $1::float8 AND sample_key < $2::float8"
                        " AND tags @> $4::text[] ORDER BY sample_key LIMIT $3::int",
                        4, SG_P(slo, shi, lim, rv_tags_pg(required, tags, sizeof(tags))));
    } else {
        r = sg_pg_query(c,
                        "SELECT user_id, true, array_to_string(tags, ','), decided, with_majority,"
                        " NULL, NULL, NULL, NULL, NULL, NULL, NULL, sample_key"
                        " FROM users WHERE status = 'active' AND sample_key >= $1::float8 AND sample_key < $2::float8"
                        " ORDER BY sample_key LIMIT $3::int",
                        3, SG_P(slo, shi, lim));
    }
    if (!sg_pg_ok(r)) {
        int rc = sg_pg_err(c);
        PQclear(r);
        return rc;
    }
    *n = PQntuples(r);
    for (int i = 0; i < *n; i++)
        read_candidate(r, i, &cands[i]);
    if (*n > 0)
        *last_key = strtod(PQgetvalue(r, *n - 1, 12), NULL);
    *res = r;
    return SG_OK;
}

int rv_store_reviewers_truth(sg_pg *c, size_t n, const char *const *ids, rv_lock_mode lock, rv_rows **res,
                             rv_candidate *cands, int *found)
{
    char *arr = sg_pg_text_array(ids, n);
    PGresult *r;
    int rc = SG_OK;

#define TRUTH_COLS                                                                                                   \
    "SELECT user_id, status = 'active', array_to_string(tags, ','), decided, with_majority, open_ballots,"          \
    " coalesce(day_date - DATE '1970-01-01', 0), day_count, coalesce(week_date - DATE '1970-01-01', 0), week_count," \
    " coalesce(extract(epoch FROM last_assigned_at), 0), coalesce(extract(epoch FROM cooldown_until), 0)"           \
    " FROM users WHERE user_id = ANY($1::text[])"
    *res = NULL;
    *found = 0;
    if (!arr)
        return SG_ERR_DB;
    /* Locks are taken in user_id order, so two statements that wait for
     * them cannot deadlock with each other. */
    r = sg_pg_query(c,
                    lock == RV_LOCK_WAIT   ? TRUTH_COLS " ORDER BY user_id FOR UPDATE"
                    : lock == RV_LOCK_SKIP ? TRUTH_COLS " ORDER BY user_id FOR UPDATE SKIP LOCKED"
                                           : TRUTH_COLS,
                    1, SG_P(arr));
    free(arr);
    if (!sg_pg_ok(r)) {
        rc = sg_pg_err(c);
        PQclear(r);
        return rc;
    }
    *found = PQntuples(r);
    for (int i = 0; i < *found; i++)
        read_candidate(r, i, &cands[i]);
    *res = r;
    return SG_OK;
#undef TRUTH_COLS
}

int rv_store_lock_shared(sg_pg *c, size_t n, const char *const *ids)
{
    char *arr;
    int rc;
    if (n == 0)
        return SG_OK;
    if (!(arr = sg_pg_text_array(ids, n)))
        return SG_ERR_DB;
    rc = sg_pg_exec(c, "SELECT 1 FROM users WHERE user_id = ANY($1::text[]) ORDER BY user_id FOR SHARE", 1, SG_P(arr));
    free(arr);
    return rc;
}

int rv_store_pairs_full(sg_pg *c, size_t n, const char *const *as, const char *const *bs, int max, double now,
                        rv_rows **rows, rv_pair *full, size_t *nfull)
{
    char *aa = NULL, *bb = NULL, since[16], lim[16];
    PGresult *r = NULL;
    int rc = SG_ERR_DB;

    *rows = NULL;
    *nfull = 0;
    if (n == 0)
        return SG_OK;
    if (!(aa = sg_pg_text_array(as, n)) || !(bb = sg_pg_text_array(bs, n)))
        goto cleanup;
    sg_day_format(sg_day_of(now) - 29, since, sizeof(since));
    snprintf(lim, sizeof(lim), "%d", max);
    /* Canonical (a < b in the database's collation) and distinct, then one
     * primary-key range per pair: the last 30 days of that pair only. The
     * per-pair LATERAL aggregate keeps that shape in the cached generic
     * plan too (measured: a plain join's generic plan cost ~1 ms here
     * against 0.2 ms). */
    r = sg_pg_query(c,
                    "SELECT x.a, x.b FROM (SELECT DISTINCT least(u.a, u.b) AS a, greatest(u.a, u.b) AS b"
                    "   FROM unnest($1::text[], $2::text[]) AS u(a, b) WHERE u.a <> u.b) x,"
                    " LATERAL (SELECT sum(p.n) AS n FROM pair_days p"
                    "   WHERE p.a = x.a AND p.b = x.b AND p.day >= $3::date) t"
                    " WHERE t.n >= $4::int",
                    4, SG_P(aa, bb, since, lim));
    if (!sg_pg_ok(r)) {
        rc = sg_pg_err(c);
        PQclear(r);
        goto cleanup;
    }
    for (int i = 0; i < PQntuples(r) && (size_t)i < n; i++)
        full[(*nfull)++] = (rv_pair){PQgetvalue(r, i, 0), PQgetvalue(r, i, 1)};
    *rows = r;
    rc = SG_OK;
cleanup:
    free(aa);
    free(bb);
    return rc;
}

int rv_store_panel_assign(sg_pg *c, const rv_panel_req *r, size_t n, const char *const *ids, int shortfall,
                          double now)
{
    char round[16], at[32], day[16], week[16], sf[16];
    char *arr = sg_pg_text_array(ids, n);
    long today = sg_day_of(now);
    int rc;

    if (!arr)
        return SG_ERR_DB;
    snprintf(round, sizeof(round), "%d", r->round);
    snprintf(sf, sizeof(sf), "%d", shortfall);
    rv_pg_epoch(now, at, sizeof(at));
    sg_day_format(today, day, sizeof(day));
    sg_day_format(sg_week_of_day(today), week, sizeof(week));
    /* The counter updates mirror rv_fatigue_assign. */
    rc = sg_pg_exec(c,
                    "WITH u AS (UPDATE users SET open_ballots = open_ballots + 1, assigned = assigned + 1,"
                    "   last_assigned_at = " RV_AT("$4") ","
                    "   day_count = CASE WHEN day_date = $5::date THEN day_count + 1 ELSE 1 END, day_date = $5::date,"
                    "   week_count = CASE WHEN week_date = $6::date THEN week_count + 1 ELSE 1 END, week_date = $6::date,"
                    "   sample_key = random()"
                    "   WHERE user_id = ANY($3::text[]) RETURNING user_id),"
                    " a AS (INSERT INTO assignments (case_id, reviewer_id, round, assigned_at)"
                    "   SELECT $1, user_id, $2::int, " RV_AT("$4") " FROM u),"
                    /* The statement's snapshot holds the earlier rounds only;
                     * rows in (a, b) order so that two selections touching
                     * the same pairs wait for each other, never deadlock. */
                    " p AS (INSERT INTO pair_days AS d (a, b, day, n)"
                    "   SELECT q.a, q.b, $5::date, 1 FROM (SELECT DISTINCT least(x, y) AS a, greatest(x, y) AS b"
                    "     FROM unnest($3::text[]) AS x,"
                    "     (SELECT reviewer_id FROM assignments WHERE case_id = $1 UNION SELECT unnest($3::text[])) AS o(y)"
                    "     WHERE x <> y) q ORDER BY q.a, q.b"
                    "   ON CONFLICT (a, b, day) DO UPDATE SET n = d.n + 1)"
                    " UPDATE panel_requests SET reviewer_ids = $3::text[], shortfall = $7::int"
                    " WHERE case_id = $1 AND round = $2::int",
                    7, SG_P(r->case_id, round, arr, at, day, week, sf));
    free(arr);
    return rc;
}

int rv_store_panel_assigned_emit(sg_pg *c, const char *case_id, const json_t *payload, const char *traceparent)
{
    return sg_outbox_add(c, SG_T_PANEL_ASSIGNED, case_id, SG_T_PANEL_ASSIGNED, payload, traceparent);
}

void rv_rows_free(rv_rows *rows)
{
    PQclear(rows);
}
