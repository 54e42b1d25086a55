/* Helpers shared by the store_*.c files (not part of the store's API);
 * see also sg/pgutil.h (SG_SQL_TS, sg_pg_text_array). */
#ifndef RV_STORE_UTIL_H
#define RV_STORE_UTIL_H

#include <libpq-fe.h>
#include <stddef.h>

#include "sg/pgutil.h"
#include "store.h"

/* Runs fn on a pooled connection (waiting at most timeout_ms for one), outside
 * an explicit transaction: for store functions that are one statement. */
int rv_on_conn(sg_pg_pool *p, int timeout_ms, sg_pg_tx_fn fn, void *ctx);

/* The current policy versions inside the caller's transaction (shared by the
 * store files; meta may be NULL). RV_NOT_FOUND when none exists. */
int rv_store_pool_rule_current(sg_pg *c, rv_pool_rule *out, rv_version_meta *meta);
int rv_store_fatigue_policy_current(sg_pg *c, rv_fatigue_policy *out, rv_version_meta *meta);
int rv_store_quality_policy_current(sg_pg *c, rv_quality_policy *out, rv_version_meta *meta);

/* SQL expression turning a "%.6f" Unix-time parameter into a timestamptz. */
#define RV_AT(param) "to_timestamp(" param "::double precision)"

/* Writes t as "%.6f" into buf (>= 32 bytes); returns buf. */
char *rv_pg_epoch(double t, char *buf, size_t len);

/* Copies src (NULL → "") into dst, truncating; always NUL-terminates. */
void rv_copy(char *dst, size_t len, const char *src);

/* Cell accessors: NULL cells read as 0 / "" . */
int rv_cell_int(const PGresult *r, int row, int col);
double rv_cell_double(const PGresult *r, int row, int col);
const char *rv_cell_str(const PGresult *r, int row, int col);
int rv_cell_bool(const PGresult *r, int row, int col);

/* Copies the non-NULL values of column 0 of r into *ids (malloc'ed array
 * of *n malloc'ed strings; the caller frees both with rv_ids_free). With no
 * rows *ids is NULL and *n 0. Returns SG_OK, or SG_ERR_DB when out of memory
 * (then nothing is left to free: *ids NULL, *n 0). */
int rv_copy_ids(const PGresult *r, char ***ids, size_t *n);

#endif
