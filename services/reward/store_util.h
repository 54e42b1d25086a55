/* Small helpers shared by the store_*.c files: one-statement reads on a
 * pooled connection, JSON built by PostgreSQL, and keyset pages.
 */
#ifndef REWARD_STORE_UTIL_H
#define REWARD_STORE_UTIL_H

#include <jansson.h>
#include <libpq-fe.h>
#include "sg/pg.h"

/* SQL expression rendering a timestamptz column as RFC 3339 UTC. */
#define SQL_TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* Classes of transaction-scoped advisory locks (two-key form, whose key
 * space does not overlap the one-key locks of migrations and the relay). */
#define REWARD_LOCK_RULES "50831"
#define REWARD_LOCK_REDEMPTION "50832"
#define REWARD_LOCK_CASE "50833"

/* Runs one statement on a connection borrowed for the call. Returns SG_OK
 * with *out (caller PQclears), or SG_ERR_DB (no pooled connection, or the
 * statement failed; *out NULL). */
int store_read(sg_pg_pool *p, const char *sql, int nparams, const char *const *params, PGresult **out);

/* Parses the JSON text in (row, col) into a new reference, or NULL when the
 * value is NULL or not JSON. */
json_t *store_json(const PGresult *r, int row, int col);

/* Builds a page from a result of up to limit+1 rows where column jsoncol
 * holds each item's JSON and column keycol its sort key: *items gets the
 * first `limit` items (new reference) and *next a malloc'ed copy of the key
 * of the last returned item when there were more rows (else NULL). Returns
 * SG_OK or SG_ERR_DB (out of memory / bad JSON: nothing to free). */
int store_page(const PGresult *r, int limit, int keycol, int jsoncol, json_t **items, char **next);

/* Builds the PostgreSQL array literal of strings v[0..n) (each quoted and
 * escaped), for a single $n::text[] parameter. Returns a malloc'ed string
 * (caller frees) or NULL when out of memory. */
char *store_text_array(const char *const *v, size_t n);

#endif
