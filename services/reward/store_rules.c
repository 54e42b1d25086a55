/* Reward rules store; see store.h. */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "store_util.h"
#include "svc.h"

#define RULE_JSON                                                                                        \
    "json_build_object('report_type', report_type, 'version', version, 'vote_reward', vote_reward, "     \
    "'majority_bonus', majority_bonus, 'reporter_reward', reporter_reward, "                            \
    "'daily_cap_per_user', daily_cap_per_user, 'created_by', created_by, 'created_at', " SG_SQL_TS(       \
        "created_at") ")::text"

typedef struct put_tx {
    const char *type;
    const rw_rule *rule;
    const char *by;
    json_t *out;
} put_tx;

static int put_fn(sg_pg *c, void *ctx)
{
    put_tx *t = ctx;
    char v[4][24];
    PGresult *r = NULL;
    int rc;

    snprintf(v[0], sizeof v[0], "%lld", t->rule->vote_reward);
    snprintf(v[1], sizeof v[1], "%lld", t->rule->majority_bonus);
    snprintf(v[2], sizeof v[2], "%lld", t->rule->reporter_reward);
    snprintf(v[3], sizeof v[3], "%lld", t->rule->daily_cap_per_user);
    /* Serializes PUTs of one type so max(version)+1 cannot be taken twice. */
    rc = sg_pg_exec(c, "SELECT pg_advisory_xact_lock(" RW_LOCK_RULES ", hashtext($1))", 1, SG_P(t->type));
    if (rc != SG_OK)
        return rc;
    r = sg_pg_query(c,
                    "INSERT INTO reward_rules (report_type, version, vote_reward, majority_bonus, "
                    "reporter_reward, daily_cap_per_user, created_by) "
                    "SELECT $1::text, coalesce(max(version), 0) + 1, $2::integer, $3::integer, $4::integer, "
                    "$5::integer, $6::text FROM reward_rules WHERE report_type = $1::text "
                    "RETURNING " RULE_JSON,
                    6, SG_P(t->type, v[0], v[1], v[2], v[3], t->by));
    if (!sg_pg_ok(r)) {
        rc = sg_pg_err(c);
        goto cleanup;
    }
    json_decref(t->out);
    t->out = sg_pg_json(r, 0, 0);
    rc = t->out ? SG_OK : SG_ERR_DB;
cleanup:
    PQclear(r);
    return rc;
}

int rw_store_rule_put(sg_pg_pool *p, const char *type, const rw_rule *r, const char *by, json_t **out)
{
    put_tx t = {.type = type, .rule = r, .by = by};
    int rc = sg_pg_tx(p, SG_TX_READ_COMMITTED, put_fn, &t);
    if (rc != SG_OK) {
        json_decref(t.out);
        t.out = NULL;
    }
    *out = t.out;
    return rc;
}

int rw_store_rule_get(sg_pg_pool *p, const char *type, json_t **out)
{
    PGresult *r = NULL;
    int rc = sg_pg_read(p, RW_PG_WAIT_MS,
                        "SELECT " RULE_JSON " FROM reward_rules WHERE report_type = $1 "
                        "ORDER BY version DESC LIMIT 1",
                        1, SG_P(type), &r);
    *out = NULL;
    if (rc == SG_OK && PQntuples(r) == 0)
        rc = RW_NOT_FOUND;
    else if (rc == SG_OK && !(*out = sg_pg_json(r, 0, 0)))
        rc = SG_ERR_DB;
    PQclear(r);
    return rc;
}

int rw_store_rule_list(sg_pg_pool *p, const char *after, int limit, json_t **page)
{
    char lim[16];
    PGresult *r = NULL;
    snprintf(lim, sizeof lim, "%d", limit + 1);
    int rc = sg_pg_read(p, RW_PG_WAIT_MS,
                        "SELECT DISTINCT ON (report_type) report_type, " RULE_JSON " FROM reward_rules "
                        "WHERE $1::text IS NULL OR report_type > $1::text "
                        "ORDER BY report_type, version DESC LIMIT $2::integer",
                        2, SG_P(after, lim), &r);
    *page = NULL;
    if (rc == SG_OK && !(*page = sg_pg_page(r, limit, 0, 1)))
        rc = SG_ERR_DB;
    PQclear(r);
    return rc;
}

int rw_store_rule_versions(sg_pg_pool *p, const char *type, long long before, int limit, json_t **page)
{
    char lim[16], bef[24];
    PGresult *r = NULL;
    snprintf(lim, sizeof lim, "%d", limit + 1);
    snprintf(bef, sizeof bef, "%lld", before > 0 ? before : 0x7fffffffLL);
    int rc = sg_pg_read(p, RW_PG_WAIT_MS,
                        "SELECT version, " RULE_JSON " FROM reward_rules "
                        "WHERE report_type = $1 AND version < $2::bigint "
                        "ORDER BY version DESC LIMIT $3::integer",
                        3, SG_P(type, bef, lim), &r);
    if (rc == SG_OK && PQntuples(r) == 0 && before == 0)
        rc = RW_NOT_FOUND;
    *page = NULL;
    if (rc == SG_OK && !(*page = sg_pg_page(r, limit, 0, 1)))
        rc = SG_ERR_DB;
    PQclear(r);
    return rc;
}

int rw_store_rule_in_force(sg_pg *c, const char *type, const char *at, rw_rule *out, char rule_type[33],
                           int *version)
{
    int rc = SG_OK;
    /* In force at `at` first, the type's own before the default's, the
     * latest in force; failing any, the earliest version. Event times have
     * whole seconds: a version created during the second of `at` counts as
     * in force at `at`. */
    PGresult *r = sg_pg_query(c,
                              "SELECT report_type, version, vote_reward, majority_bonus, reporter_reward, "
                              "daily_cap_per_user FROM reward_rules, "
                              "LATERAL (SELECT date_trunc('second', created_at) <= coalesce($2::timestamptz, now())) "
                              "AS f(in_force) WHERE report_type IN ($1::text, '" RW_DEFAULT_TYPE "') "
                              "ORDER BY in_force DESC, report_type = $1::text DESC, "
                              "CASE WHEN in_force THEN -version ELSE version END LIMIT 1",
                              2, SG_P(type, at));
    if (!sg_pg_ok(r)) {
        rc = sg_pg_err(c);
        goto cleanup;
    }
    if (PQntuples(r) == 0) {
        rc = RW_NOT_FOUND;
        goto cleanup;
    }
    snprintf(rule_type, 33, "%s", PQgetvalue(r, 0, 0));
    *version = atoi(PQgetvalue(r, 0, 1));
    out->vote_reward = atoll(PQgetvalue(r, 0, 2));
    out->majority_bonus = atoll(PQgetvalue(r, 0, 3));
    out->reporter_reward = atoll(PQgetvalue(r, 0, 4));
    out->daily_cap_per_user = atoll(PQgetvalue(r, 0, 5));
cleanup:
    PQclear(r);
    return rc;
}
