/* Helpers shared by the store_*.c files (internal to the store layer):
 * running statements whose answer is JSON built by PostgreSQL, numbers as
 * text parameters, the case audit trail, and opaque pagination cursors.
 */
#ifndef REPORT_STORE_UTIL_H
#define REPORT_STORE_UTIL_H

#include <jansson.h>
#include "sg/pg.h"
#include "sg/pgutil.h"

/* Runs sql whose first column of the first row is JSON text and returns it
 * parsed (new reference). NULL with *rc = SG_OK when there is no row (or the
 * value is SQL NULL); NULL with *rc = SG_ERR_* on failure. */
json_t *q_json(sg_pg *c, int *rc, const char *sql, int n, const char *const *params);

/* Runs sql and returns its result (caller PQclears) with *rc = SG_OK, or
 * NULL with *rc = SG_ERR_*. */
PGresult *q_rows(sg_pg *c, int *rc, const char *sql, int n, const char *const *params);

/* Appends one entry to the case's audit trail; data (may be NULL) is
 * stolen. Returns SG_OK or SG_ERR_*. */
int ev_add(sg_pg *c, const char *case_id, const char *kind, const char *actor, json_t *data);

/* Runs one read statement in its own transaction. With limit > 0 the
 * statement returns limit+1 rows of (json, key) and *out is a page (sg_pg_page: json in
 * column 0, key in column 1); otherwise *out is q_json's answer. Returns SG_OK,
 * ST_NOT_FOUND (no row; only without limit) or SG_ERR_*. */
int store_read(sg_pg_pool *p, const char *sql, int n, const char *const *params, int limit, json_t **out);

#endif
