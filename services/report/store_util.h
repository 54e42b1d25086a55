/* Helpers shared by the store_*.c files (internal to the store layer):
 * one-statement reads (on sg_pg_rows / sg_pg_query_json of sg/pgutil.h) and
 * the case audit trail.
 */
#ifndef RP_STORE_UTIL_H
#define RP_STORE_UTIL_H

#include <jansson.h>
#include "sg/pg.h"
#include "sg/pgutil.h"

/* Appends one entry to the case's audit trail; data (may be NULL) is
 * stolen. Inside sg_pg_tx the entry is written with the transaction's other
 * entries just before COMMIT. Returns SG_OK or SG_ERR_*. */
int rp_audit_add(sg_pg *c, const char *case_id, const char *kind, const char *actor, json_t *data);

/* Runs one read statement in its own transaction. With limit > 0 the
 * statement returns limit+1 rows of (json, key) and *out is a page (sg_pg_page: json in
 * column 0, key in column 1); otherwise *out is sg_pg_query_json's answer. Returns SG_OK,
 * RP_NOT_FOUND (no row; only without limit) or SG_ERR_*. */
int rp_store_read(sg_pg_pool *p, const char *sql, int n, const char *const *params, int limit, json_t **out);

#endif
