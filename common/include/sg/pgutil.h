/* Store-layer helpers shared by the services: reads on a borrowed pooled
 * connection, JSON built by PostgreSQL, keyset pages (array parameters:
 * sg_pg_text_array in sg/pg.h).
 */
#ifndef SG_PGUTIL_H
#define SG_PGUTIL_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>
#include "sg/pg.h"

/* SQL expression rendering a timestamptz expression as RFC 3339 UTC with
 * whole seconds: "2026-11-22T10:00:00Z". */
#define SG_SQL_TS(x) "to_char((" x ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* Runs one statement (no explicit transaction) on a connection borrowed for
 * the call, waiting up to wait_ms for it. Returns SG_OK with *out (caller
 * PQclears), or SG_ERR_DB with *out NULL. */
int sg_pg_read(sg_pg_pool *p, int wait_ms, const char *sql, int n, const char *const *params, PGresult **out);

/* Runs sql on the caller's connection c (in whatever transaction c is in).
 * Returns the result (caller PQclears) with *rc = SG_OK, or NULL with *rc =
 * SG_ERR_DB / SG_ERR_RETRY (sg_pg_err; the failed result is freed). */
PGresult *sg_pg_rows(sg_pg *c, int *rc, const char *sql, int n, const char *const *params);

/* Runs sql on c whose first column of the first row is JSON text, and
 * returns it parsed (new reference, caller decrefs). NULL with *rc = SG_OK
 * when there is no row or the value is SQL NULL; NULL with *rc = SG_ERR_*
 * when the statement fails, or SG_ERR_DB (logged) when the text is not
 * JSON. */
json_t *sg_pg_query_json(sg_pg *c, int *rc, const char *sql, int n, const char *const *params);

/* Parses the JSON text in (row, col) into a new reference; NULL when the row
 * does not exist, the cell is SQL NULL or not JSON. */
json_t *sg_pg_json(const PGresult *r, int row, int col);

/* Builds {"items": [...], "next_cursor": key | null} from a result of up to
 * limit+1 rows, column jsoncol holding each item's JSON and keycol its sort
 * key; next_cursor is the key of the last item shown when there were more
 * rows. Returns a new reference, or NULL (out of memory / invalid JSON). */
json_t *sg_pg_page(const PGresult *r, int limit, int keycol, int jsoncol);

/* Decimal text of v in buf (for integer parameters); returns buf. */
const char *sg_pg_int(char buf[24], long long v);

#endif
