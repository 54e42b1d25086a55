/* Inside libsg only (not under include/): the pieces of pg.c's transaction
 * machinery that pg_group.c needs, so that a group transaction goes through
 * the same BEGIN / body / deferred flush / failed-statement check / COMMIT
 * path as sg_pg_tx, and an item rolled back to its savepoint loses the rows
 * it deferred. */
#ifndef SG_PG_INTERNAL_H
#define SG_PG_INTERNAL_H

#include <stddef.h>
#include "sg/pg.h"

/* How many rows each deferred statement held at a point of the body. */
typedef struct sg_pg_defer_pos {
    int ndeferred;
    size_t n[SG_PG_DEFER_MAX];
} sg_pg_defer_pos;

/* Sent with every BEGIN of sg_pg_tx and of a group (one round trip): the
 * transaction's prepared statements run their generic plan. Left to choose,
 * PostgreSQL plans a prepared statement again on every execution while its
 * custom plan looks cheaper than the generic one, which a batch statement
 * over unnest($n::text[]) always does (the generic plan guesses 10
 * elements); that planning is CPU that execution time never shows. In a
 * bench profile (pg_stat_statements.track_planning) it was a quarter of the
 * database time, and the notifications' context query spent 1 ms planning
 * for 0.3 ms running, on every call. The statements in transactions are
 * written for their index (literals where a partial index needs them), so
 * the generic plan is their plan. Reads outside a transaction (sg_pg_run:
 * the API's listings with optional filters, "$1 IS NULL OR status = $1")
 * keep PostgreSQL's choice, where a custom plan picks the index the filter
 * needs. */
#define SG_PG_GENERIC_PLANS "SET LOCAL plan_cache_mode = force_generic_plan"

/* Records the deferred rows c holds now. */
void sg_pg_defer_mark(const sg_pg *c, sg_pg_defer_pos *pos);
/* Drops (and frees) every row deferred on c since pos was recorded; a
 * statement first deferred since then is forgotten altogether. */
void sg_pg_defer_rollback(sg_pg *c, const sg_pg_defer_pos *pos);

/* Runs sql through the simple protocol (transaction control, savepoints):
 * SG_OK, SG_ERR_RETRY or SG_ERR_DB; a failure is recorded on c as
 * sg_pg_query's are. */
int sg_pg_simple_exec(sg_pg *c, const char *sql);
/* 1 when c's connection is gone (a statement found it dead). */
int sg_pg_conn_lost(const sg_pg *c);
/* 1 when c's transaction is aborted by a failed statement (COMMIT would
 * roll it back). */
int sg_pg_tx_failed(const sg_pg *c);

/* One attempt of sg_pg_tx on the borrowed connection c: begin_sql, fn as
 * the body (sg_pg_defer allowed), the deferred rows, COMMIT. Returns SG_OK
 * after a successful COMMIT, else fn's code or the failure's; the
 * transaction is then still open (sg_pg_release rolls it back), except that
 * *commit_unknown is set to 1 when the connection was lost during COMMIT
 * (the outcome is unknown: do not retry). */
int sg_pg_tx_once(sg_pg *c, const char *begin_sql, sg_pg_tx_fn fn, void *ctx, int *commit_unknown);

#endif
