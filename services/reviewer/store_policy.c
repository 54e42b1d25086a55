/* Versioned policies: pool rule, fatigue policy, quality policy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_util.h"

static void read_meta(const PGresult *r, int col, rv_version_meta *meta)
{
    if (!meta)
        return;
    rv_copy(meta->created_at, sizeof(meta->created_at), rv_cell_str(r, 0, col));
    rv_copy(meta->created_by, sizeof(meta->created_by), rv_cell_str(r, 0, col + 1));
}

/* Runs the "latest version" query: SG_OK with *out holding exactly one row
 * (caller PQclears), RV_NOT_FOUND when the table is empty, or SG_ERR_*. */
static int latest_row(sg_pg *c, const char *sql, PGresult **out)
{
    PGresult *r = sg_pg_query(c, sql, 0, NULL);
    int rc = !sg_pg_ok(r) ? sg_pg_err(c) : PQntuples(r) != 1 ? RV_NOT_FOUND : SG_OK;
    if (rc != SG_OK) {
        PQclear(r);
        r = NULL;
    }
    *out = r;
    return rc;
}

int rv_store_pool_rule_current(sg_pg *c, rv_pool_rule *out, rv_version_meta *meta)
{
    int rc = SG_ERR_DB;
    PGresult *r = NULL;
    int found = latest_row(c,
                           "SELECT version, array_to_string(include_tags_any, ','), array_to_string(exclude_tags, ','),"
                           " min_credit_score, min_account_age_days, active_weeks_required, " SG_SQL_TS("created_at")
                           ", created_by FROM pool_rules ORDER BY version DESC LIMIT 1",
                           &r);
    if (found != SG_OK) {
        rc = found;
        goto cleanup;
    }
    memset(out, 0, sizeof(*out));
    out->version = rv_cell_int(r, 0, 0);
    if (rv_tags_from_csv(rv_cell_str(r, 0, 1), &out->include_tags_any)
        || rv_tags_from_csv(rv_cell_str(r, 0, 2), &out->exclude_tags))
        goto cleanup;
    out->min_credit_score = rv_cell_int(r, 0, 3);
    out->min_account_age_days = rv_cell_int(r, 0, 4);
    out->active_weeks_required = rv_cell_int(r, 0, 5);
    read_meta(r, 6, meta);
    rc = SG_OK;
cleanup:
    PQclear(r);
    return rc;
}

int rv_store_fatigue_policy_current(sg_pg *c, rv_fatigue_policy *out, rv_version_meta *meta)
{
    int rc;
    PGresult *r = NULL;
    int found = latest_row(c,
                           "SELECT version, max_open_ballots, max_per_day, max_per_week, min_interval_s,"
                           " cooldown_after_expiry_s, " SG_SQL_TS("created_at")
                           ", created_by, max_pair_cases_30d FROM fatigue_policies ORDER BY version DESC LIMIT 1",
                           &r);
    if (found != SG_OK) {
        rc = found;
        goto cleanup;
    }
    out->version = rv_cell_int(r, 0, 0);
    out->max_open_ballots = rv_cell_int(r, 0, 1);
    out->max_per_day = rv_cell_int(r, 0, 2);
    out->max_per_week = rv_cell_int(r, 0, 3);
    out->min_interval_s = rv_cell_int(r, 0, 4);
    out->cooldown_after_expiry_s = rv_cell_int(r, 0, 5);
    out->max_pair_cases_30d = rv_cell_int(r, 0, 8);
    read_meta(r, 6, meta);
    rc = SG_OK;
cleanup:
    PQclear(r);
    return rc;
}

int rv_store_quality_policy_current(sg_pg *c, rv_quality_policy *out, rv_version_meta *meta)
{
    int rc;
    PGresult *r = NULL;
    int found = latest_row(c,
                           "SELECT version, min_decided_votes, min_accuracy, max_no_show_rate, suspend_days, "
                           SG_SQL_TS("created_at") ", created_by, min_gold_votes, min_gold_accuracy, pair_flag_margin,"
                           " array_to_string(suspend_days_steps, ',')"
                           " FROM quality_policies ORDER BY version DESC LIMIT 1",
                           &r);
    if (found != SG_OK) {
        rc = found;
        goto cleanup;
    }
    out->version = rv_cell_int(r, 0, 0);
    out->min_decided_votes = rv_cell_int(r, 0, 1);
    out->min_accuracy = rv_cell_double(r, 0, 2);
    out->max_no_show_rate = rv_cell_double(r, 0, 3);
    out->suspend_days = rv_cell_int(r, 0, 4);
    out->min_gold_votes = rv_cell_int(r, 0, 7);
    out->min_gold_accuracy = rv_cell_double(r, 0, 8);
    out->pair_flag_margin = rv_cell_double(r, 0, 9);
    out->nsteps = 0;
    /* The column's CHECK bounds the list; the text is "7,30,90" or "". */
    for (const char *p = rv_cell_str(r, 0, 10); *p && out->nsteps < RV_SUSPEND_STEPS_MAX;) {
        char *end;
        long d = strtol(p, &end, 10);
        if (end == p)
            break;
        out->steps[out->nsteps++] = (int)d;
        p = *end == ',' ? end + 1 : end;
    }
    read_meta(r, 5, meta);
    rc = SG_OK;
cleanup:
    PQclear(r);
    return rc;
}

/* --- GET: the current version on a pooled connection. --- */

typedef struct get_ctx {
    int (*current)(sg_pg *c, void *out, rv_version_meta *meta);
    void *out;
    rv_version_meta *meta;
} get_ctx;

static int get_on(sg_pg *c, void *arg)
{
    get_ctx *x = arg;
    return x->current(c, x->out, x->meta);
}

static int pool_cur(sg_pg *c, void *o, rv_version_meta *m) { return rv_store_pool_rule_current(c, o, m); }
static int fatigue_cur(sg_pg *c, void *o, rv_version_meta *m) { return rv_store_fatigue_policy_current(c, o, m); }
static int quality_cur(sg_pg *c, void *o, rv_version_meta *m) { return rv_store_quality_policy_current(c, o, m); }

int rv_store_pool_rule_get(sg_pg_pool *p, rv_pool_rule *out, rv_version_meta *meta)
{
    get_ctx x = {pool_cur, out, meta};
    return rv_on_conn(p, 2000, get_on, &x);
}

int rv_store_fatigue_policy_get(sg_pg_pool *p, rv_fatigue_policy *out, rv_version_meta *meta)
{
    get_ctx x = {fatigue_cur, out, meta};
    return rv_on_conn(p, 2000, get_on, &x);
}

int rv_store_quality_policy_get(sg_pg_pool *p, rv_quality_policy *out, rv_version_meta *meta)
{
    get_ctx x = {quality_cur, out, meta};
    return rv_on_conn(p, 2000, get_on, &x);
}

/* --- PUT: one transaction that serializes concurrent writers on the table
 * lock (EXCLUSIVE still lets readers through) and takes max(version)+1. --- */

typedef struct put_ctx {
    const char *lock_sql;
    const char *insert_sql;
    int nparams;
    const char *const *params;
    int *version;
    rv_version_meta *meta;
} put_ctx;

static int put_tx(sg_pg *c, void *arg)
{
    put_ctx *x = arg;
    int rc = sg_pg_exec(c, x->lock_sql, 0, NULL);
    PGresult *r = NULL;
    if (rc != SG_OK)
        return rc;
    r = sg_pg_query(c, x->insert_sql, x->nparams, x->params);
    if (!sg_pg_ok(r) || PQntuples(r) != 1) {
        rc = sg_pg_err(c);
        goto cleanup;
    }
    *x->version = rv_cell_int(r, 0, 0);
    read_meta(r, 1, x->meta);
    rc = SG_OK;
cleanup:
    PQclear(r);
    return rc;
}

int rv_store_pool_rule_put(sg_pg_pool *p, rv_pool_rule *rule, const char *actor, rv_version_meta *meta)
{
    char inc[RV_TAGS_TEXT_MAX], exc[RV_TAGS_TEXT_MAX], credit[16], age[16], weeks[16];
    snprintf(credit, sizeof(credit), "%d", rule->min_credit_score);
    snprintf(age, sizeof(age), "%d", rule->min_account_age_days);
    snprintf(weeks, sizeof(weeks), "%d", rule->active_weeks_required);
    put_ctx x = {
        "LOCK TABLE pool_rules IN EXCLUSIVE MODE",
        "INSERT INTO pool_rules (version, include_tags_any, exclude_tags, min_credit_score, min_account_age_days,"
        " active_weeks_required, created_by)"
        " SELECT coalesce(max(version), 0) + 1, $1::text[], $2::text[], $3::int, $4::int, $5::int, $6 FROM pool_rules"
        " RETURNING version, " SG_SQL_TS("created_at") ", created_by",
        6,
        SG_P(rv_tags_pg(&rule->include_tags_any, inc, sizeof(inc)), rv_tags_pg(&rule->exclude_tags, exc, sizeof(exc)),
             credit, age, weeks, actor),
        &rule->version,
        meta,
    };
    return sg_pg_tx(p, SG_TX_READ_COMMITTED, put_tx, &x);
}

int rv_store_fatigue_policy_put(sg_pg_pool *p, rv_fatigue_policy *f, const char *actor, rv_version_meta *meta)
{
    char a[16], b[16], c[16], d[16], e[16], g[16];
    snprintf(a, sizeof(a), "%d", f->max_open_ballots);
    snprintf(b, sizeof(b), "%d", f->max_per_day);
    snprintf(c, sizeof(c), "%d", f->max_per_week);
    snprintf(d, sizeof(d), "%d", f->min_interval_s);
    snprintf(e, sizeof(e), "%d", f->cooldown_after_expiry_s);
    snprintf(g, sizeof(g), "%d", f->max_pair_cases_30d);
    put_ctx x = {
        "LOCK TABLE fatigue_policies IN EXCLUSIVE MODE",
        "INSERT INTO fatigue_policies (version, max_open_ballots, max_per_day, max_per_week, min_interval_s,"
        " cooldown_after_expiry_s, created_by, max_pair_cases_30d)"
        " SELECT coalesce(max(version), 0) + 1, $1::int, $2::int, $3::int, $4::int, $5::int, $6, $7::int"
        " FROM fatigue_policies RETURNING version, " SG_SQL_TS("created_at") ", created_by",
        7,
        SG_P(a, b, c, d, e, actor, g),
        &f->version,
        meta,
    };
    return sg_pg_tx(p, SG_TX_READ_COMMITTED, put_tx, &x);
}

int rv_store_quality_policy_put(sg_pg_pool *p, rv_quality_policy *q, const char *actor, rv_version_meta *meta)
{
    char a[16], b[32], c[32], d[16], g[16], h[32], m[32], steps[RV_SUSPEND_STEPS_MAX * 6 + 3];
    size_t off = 0;
    snprintf(a, sizeof(a), "%d", q->min_decided_votes);
    snprintf(b, sizeof(b), "%.17g", q->min_accuracy);
    snprintf(c, sizeof(c), "%.17g", q->max_no_show_rate);
    snprintf(d, sizeof(d), "%d", q->suspend_days);
    snprintf(g, sizeof(g), "%d", q->min_gold_votes);
    snprintf(h, sizeof(h), "%.17g", q->min_gold_accuracy);
    snprintf(m, sizeof(m), "%.17g", q->pair_flag_margin);
    steps[0] = '\0';
    for (int i = 0; i < q->nsteps && i < RV_SUSPEND_STEPS_MAX; i++)
        off += (size_t)snprintf(steps + off, sizeof(steps) - off, "%s%d", i ? "," : "{", q->steps[i]);
    if (q->nsteps > 0)
        snprintf(steps + off, sizeof(steps) - off, "}");
    put_ctx x = {
        "LOCK TABLE quality_policies IN EXCLUSIVE MODE",
        "INSERT INTO quality_policies (version, min_decided_votes, min_accuracy, max_no_show_rate, suspend_days,"
        " created_by, min_gold_votes, min_gold_accuracy, pair_flag_margin, suspend_days_steps)"
        " SELECT coalesce(max(version), 0) + 1, $1::int, $2::float8, $3::float8, $4::int, $5, $6::int, $7::float8,"
        " $8::float8, NULLIF($9, '')::int[] FROM quality_policies"
        " RETURNING version, " SG_SQL_TS("created_at") ", created_by",
        9,
        SG_P(a, b, c, d, actor, g, h, m, steps),
        &q->version,
        meta,
    };
    return sg_pg_tx(p, SG_TX_READ_COMMITTED, put_tx, &x);
}
