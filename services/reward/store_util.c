/* Store helpers; see store_util.h. */
#include "store_util.h"

#include <stdlib.h>
#include <string.h>
#include "svc.h"

int store_read(sg_pg_pool *p, const char *sql, int nparams, const char *const *params, PGresult **out)
{
    PGresult *r = NULL;
    int rc = SG_ERR_DB;
    sg_pg *c = sg_pg_acquire(p, REWARD_PG_WAIT_MS);

    *out = NULL;
    if (!c)
        goto cleanup;
    r = sg_pg_query(c, sql, nparams, params);
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

json_t *store_json(const PGresult *r, int row, int col)
{
    if (row >= PQntuples(r) || PQgetisnull(r, row, col))
        return NULL;
    return json_loads(PQgetvalue(r, row, col), JSON_DECODE_ANY, NULL);
}

int store_page(const PGresult *r, int limit, int keycol, int jsoncol, json_t **items, char **next)
{
    int n = PQntuples(r);
    json_t *arr = json_array();

    *items = NULL;
    *next = NULL;
    if (!arr)
        return SG_ERR_DB;
    for (int i = 0; i < n && i < limit; i++) {
        json_t *item = store_json(r, i, jsoncol);
        if (!item || json_array_append_new(arr, item) != 0) {
            json_decref(arr);
            return SG_ERR_DB;
        }
    }
    if (n > limit && limit > 0 && !(*next = strdup(PQgetvalue(r, limit - 1, keycol)))) {
        json_decref(arr);
        return SG_ERR_DB;
    }
    *items = arr;
    return SG_OK;
}

char *store_text_array(const char *const *v, size_t n)
{
    size_t len = 3;
    for (size_t i = 0; i < n; i++)
        len += 2 * strlen(v[i]) + 3;
    char *out = malloc(len), *w = out;
    if (!out)
        return NULL;
    *w++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i)
            *w++ = ',';
        *w++ = '"';
        for (const char *s = v[i]; *s; s++) {
            if (*s == '"' || *s == '\\')
                *w++ = '\\';
            *w++ = *s;
        }
        *w++ = '"';
    }
    *w++ = '}';
    *w = '\0';
    return out;
}
