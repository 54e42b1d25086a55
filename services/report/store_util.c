/* Store helpers; see store_util.h. */
#include "store_util.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sg/log.h"

/* A transaction's case events go in one statement before COMMIT (see
 * sg_pg_defer), in the order they were added. */
static const char ev_insert_sql[] =
    "INSERT INTO case_events (case_id, kind, actor, data)"
    " SELECT x.c::uuid, x.k, x.a, x.d::jsonb FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])"
    "   WITH ORDINALITY AS x(c, k, a, d, o) ORDER BY x.o";

int rp_audit_add(sg_pg *c, const char *case_id, const char *kind, const char *actor, json_t *data)
{
    int rc = SG_ERR_DB;
    char *text;
    if (!data)
        data = json_object();
    text = data ? json_dumps(data, JSON_COMPACT) : NULL;
    if (text && sg_pg_in_tx(c))
        rc = sg_pg_defer(c, ev_insert_sql, 4, SG_P(case_id, kind, actor, text));
    else if (text)
        rc = sg_pg_exec(c, "INSERT INTO case_events (case_id, kind, actor, data) VALUES ($1, $2, $3, $4::jsonb)", 4,
                        SG_P(case_id, kind, actor, text));
    free(text);
    json_decref(data);
    return rc;
}

/* Runs one read-only statement on a pooled connection. */
typedef struct read_ctx {
    const char *sql;
    int n;
    const char *const *params;
    int limit;       /* > 0: a page of limit+1 rows (json, key) */
    json_t *out;
} read_ctx;

static int read_tx(sg_pg *c, void *arg)
{
    read_ctx *x = arg;
    int rc;
    json_decref(x->out);
    x->out = NULL;
    if (x->limit > 0) {
        PGresult *res = sg_pg_rows(c, &rc, x->sql, x->n, x->params);
        if (!res)
            return rc;
        x->out = sg_pg_page(res, x->limit, 1, 0);
        PQclear(res);
        return x->out ? SG_OK : SG_ERR_DB;
    }
    x->out = sg_pg_query_json(c, &rc, x->sql, x->n, x->params);
    return rc;
}

int rp_store_read(sg_pg_pool *p, const char *sql, int n, const char *const *params, int limit, json_t **out)
{
    read_ctx x = {sql, n, params, limit, NULL};
    int rc = sg_pg_run(p, read_tx, &x); /* one statement: no BEGIN/COMMIT round trips */
    if (rc != SG_OK) {
        json_decref(x.out);
        x.out = NULL;
    }
    *out = x.out;
    return rc != SG_OK ? rc : x.out ? SG_OK : RP_NOT_FOUND;
}
