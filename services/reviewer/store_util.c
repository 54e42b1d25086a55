/* See store_util.h. */
#include "store_util.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rv_on_conn(sg_pg_pool *p, int timeout_ms, sg_pg_tx_fn fn, void *ctx)
{
    sg_pg *c = sg_pg_acquire(p, timeout_ms);
    int rc;
    if (!c)
        return SG_ERR_DB;
    rc = fn(c, ctx);
    sg_pg_release(p, c);
    return rc;
}

char *rv_pg_epoch(double t, char *buf, size_t len)
{
    snprintf(buf, len, "%.6f", t);
    return buf;
}

void rv_copy(char *dst, size_t len, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (len == 0)
        return;
    if (n >= len)
        n = len - 1;
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

int rv_cell_int(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : atoi(PQgetvalue(r, row, col));
}

double rv_cell_double(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtod(PQgetvalue(r, row, col), NULL);
}

const char *rv_cell_str(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col);
}

int rv_cell_bool(const PGresult *r, int row, int col)
{
    return !PQgetisnull(r, row, col) && PQgetvalue(r, row, col)[0] == 't';
}

void rv_ids_free(char **ids, size_t n)
{
    for (size_t i = 0; ids && i < n; i++)
        free(ids[i]);
    free(ids);
}

int rv_copy_ids(const PGresult *r, char ***ids, size_t *n)
{
    size_t rows = (size_t)PQntuples(r), k = 0;
    *ids = NULL;
    *n = 0;
    if (rows == 0)
        return SG_OK;
    if (!(*ids = calloc(rows, sizeof(**ids))))
        return SG_ERR_DB;
    for (size_t i = 0; i < rows; i++) {
        if (PQgetisnull(r, (int)i, 0))
            continue;
        if (!((*ids)[k] = strdup(PQgetvalue(r, (int)i, 0)))) {
            rv_ids_free(*ids, k);
            *ids = NULL;
            return SG_ERR_DB;
        }
        k++;
    }
    *n = k;
    return SG_OK;
}
