/* Store-layer helpers; see pgutil.h. */
#include "sg/pgutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sg/log.h"

int sg_pg_read(sg_pg_pool *p, int wait_ms, const char *sql, int n, const char *const *params, PGresult **out)
{
    PGresult *r = NULL;
    int rc = SG_ERR_DB;
    sg_pg *c = sg_pg_acquire(p, wait_ms);

    *out = NULL;
    if (!c)
        goto cleanup;
    r = sg_pg_query(c, sql, n, params);
    if (!sg_pg_ok(r))
        goto cleanup;
    *out = r;
    r = NULL;
    rc = SG_OK;
cleanup:
    PQclear(r);
    if (c)
        sg_pg_release(p, c);
    return rc;
}

PGresult *sg_pg_rows(sg_pg *c, int *rc, const char *sql, int n, const char *const *params)
{
    PGresult *res = sg_pg_query(c, sql, n, params);
    if (!sg_pg_ok(res)) {
        PQclear(res);
        *rc = sg_pg_err(c);
        return NULL;
    }
    *rc = SG_OK;
    return res;
}

json_t *sg_pg_query_json(sg_pg *c, int *rc, const char *sql, int n, const char *const *params)
{
    json_t *out = NULL;
    json_error_t jerr;
    PGresult *res = sg_pg_rows(c, rc, sql, n, params);

    if (!res)
        return NULL;
    if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0)) {
        out = json_loads(PQgetvalue(res, 0, 0), JSON_DECODE_ANY, &jerr);
        if (!out) {
            sg_error("store: database returned invalid JSON: %s", jerr.text);
            *rc = SG_ERR_DB;
        }
    }
    PQclear(res);
    return out;
}

json_t *sg_pg_json(const PGresult *r, int row, int col)
{
    if (!r || row >= PQntuples(r) || col >= PQnfields(r) || PQgetisnull(r, row, col))
        return NULL;
    return json_loads(PQgetvalue(r, row, col), JSON_DECODE_ANY, NULL);
}

json_t *sg_pg_page(const PGresult *r, int limit, int keycol, int jsoncol)
{
    int n = PQntuples(r), shown = n > limit ? limit : n;
    json_t *items = json_array(), *next;

    if (!items)
        return NULL;
    for (int i = 0; i < shown; i++) {
        json_t *it = sg_pg_json(r, i, jsoncol);
        if (!it || json_array_append_new(items, it) != 0) {
            json_decref(items);
            return NULL;
        }
    }
    next = n > limit && shown > 0 ? json_string(PQgetvalue(r, shown - 1, keycol)) : json_null();
    return json_pack("{s:o, s:o*}", "items", items, "next_cursor", next);
}

const char *sg_pg_int(char buf[24], long long v)
{
    snprintf(buf, 24, "%lld", v);
    return buf;
}
