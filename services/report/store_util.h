/* Helpers shared by the store_*.c files (internal to the store layer):
 * running statements whose answer is JSON built by PostgreSQL, numbers as
 * text parameters, the case audit trail, and opaque pagination cursors.
 */
#ifndef REPORT_STORE_UTIL_H
#define REPORT_STORE_UTIL_H

#include <jansson.h>
#include "sg/pg.h"

/* An RFC 3339 UTC rendering of a timestamptz expression, in SQL. */
#define SQL_TS(x) "to_char((" x ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* Runs sql whose first column of the first row is JSON text and returns it
 * parsed (new reference). NULL with *rc = SG_OK when there is no row (or the
 * value is SQL NULL); NULL with *rc = SG_ERR_* on failure. */
json_t *q_json(sg_pg *c, int *rc, const char *sql, int n, const char *const *params);

/* Runs sql and returns its result (caller PQclears) with *rc = SG_OK, or
 * NULL with *rc = SG_ERR_*. */
PGresult *q_rows(sg_pg *c, int *rc, const char *sql, int n, const char *const *params);

/* Decimal text of v in buf; returns buf. */
const char *q_int(char buf[24], long long v);

/* Appends one entry to the case's audit trail; data (may be NULL) is
 * stolen. Returns SG_OK or SG_ERR_*. */
int ev_add(sg_pg *c, const char *case_id, const char *kind, const char *actor, json_t *data);

/* Builds {"items": rows[0..limit), "next_cursor": key of the last item or
 * null}. `rows` holds up to limit+1 JSON texts in column 0 and sort keys in
 * column 1 (the query asked for limit+1 rows). New reference or NULL. */
json_t *page_from_rows(const PGresult *res, int limit);

/* Runs one read statement in its own transaction. With limit > 0 the
 * statement returns limit+1 rows of (json, key) and *out is a page (see
 * page_from_rows); otherwise *out is q_json's answer. Returns SG_OK,
 * ST_NOT_FOUND (no row; only without limit) or SG_ERR_*. */
int store_read(sg_pg_pool *p, const char *sql, int n, const char *const *params, int limit, json_t **out);

#endif
