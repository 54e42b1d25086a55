/* See store_util.h. */
#include "store_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
