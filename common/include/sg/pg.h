/* PostgreSQL: a bounded connection pool for worker threads, prepared
 * statements cached per connection, and a transaction helper.
 *
 * Every statement goes through sg_pg_query with $n parameters (never string
 * interpolation). Each connection sets search_path to the pool's schema.
 * A connection found broken (server restart) is reset on acquire and after a
 * failed statement; its prepared-statement cache is dropped with it.
 */
#ifndef SG_PG_H
#define SG_PG_H

#include <libpq-fe.h>
#include <stddef.h>

typedef struct sg_pg_pool sg_pg_pool;
typedef struct sg_pg sg_pg; /* one pooled connection, used by one thread at a time */

/* Error codes shared by store functions. Positive values are free for
 * callers (application outcomes that roll the transaction back). */
#define SG_OK 0
#define SG_ERR_DB (-1)      /* database error or unreachable */
#define SG_ERR_RETRY (-2)   /* serialization failure / deadlock: retry the tx */
#define SG_ERR_TOO_LARGE (-3) /* an event over SG_OUTBOX_EVENT_MAX (sg_outbox_add): retrying
                               * cannot help; HTTP 500, an inbox handler's event is dropped */

/* Every connection libsg opens (the pool, the outbox relay, the migration
 * runner, which uses the pool) gets these libpq parameters unless the DSN
 * sets the same keyword itself (the DSN wins):
 *   connect_timeout, keepalives=1, keepalives_idle, keepalives_interval,
 *   keepalives_count, tcp_user_timeout (client side: a peer that stops
 *   answering is noticed within idle + interval * count, or tcp_user_timeout
 *   while data is unacknowledged), and
 *   options="-c statement_timeout=… -c lock_timeout=… -c tcp_keepalives_idle=…
 *   -c tcp_keepalives_interval=… -c tcp_keepalives_count=…
 *   -c tcp_user_timeout=…" (server side: the backend drops a dead client the
 *   same way). A DSN's own options are appended after these, so its -c
 *   settings win one by one. 0 means "leave the server's/libpq's default"
 *   for a value. The defaults (sg_pg_options_default) notice a dead peer
 *   within 25 s: statement 10 s, lock 5 s, connect 5 s, idle 10 s,
 *   interval 5 s, count 3, user timeout 20 s. */
typedef struct sg_pg_options {
    int statement_timeout_ms;
    int lock_timeout_ms;
    int connect_timeout_s;
    int keepalives_idle_s;
    int keepalives_interval_s;
    int keepalives_count;
    int tcp_user_timeout_ms;
} sg_pg_options;

void sg_pg_options_default(sg_pg_options *o);
/* Sets the parameters of every connection opened afterwards in this process
 * (sg_app_start calls it from the SG_PG_* configuration before any pool or
 * relay exists). */
void sg_pg_set_options(const sg_pg_options *o);
/* Opens a connection to dsn with those parameters and application_name
 * (fallback: a DSN's application_name wins). Never NULL unless out of
 * memory; check PQstatus. Notices go to the JSON log. */
PGconn *sg_pg_connect(const char *dsn, const char *application_name);

/* Creates the pool; connects lazily (first acquire), so a database that is
 * down at start is not fatal. dsn and schema are copied. size 1..100. */
sg_pg_pool *sg_pg_pool_create(const char *dsn, const char *schema, int size, char *err, size_t errlen);
/* Closes every connection. All connections must have been released. */
void sg_pg_pool_free(sg_pg_pool *p);

/* Borrows a connection, waiting up to timeout_ms for a free one. Returns NULL
 * on timeout or when no connection can be made. */
sg_pg *sg_pg_acquire(sg_pg_pool *p, int timeout_ms);
/* Returns c to the pool. If a transaction is still open it is rolled back. */
void sg_pg_release(sg_pg_pool *p, sg_pg *c);

/* Runs sql (prepared once per connection, keyed by text) with text params
 * (NULL element = SQL NULL). Returns a PGresult the caller must PQclear, or
 * NULL when the connection is unusable. On failure the SQLSTATE is kept in
 * sg_pg_sqlstate(c) and an error is logged (except for the SQLSTATEs in
 * `quiet`, e.g. "23505", handled by the caller). */
PGresult *sg_pg_query(sg_pg *c, const char *sql, int nparams, const char *const *params);
/* Same but does not log SQLSTATE `quiet` (a comma-free 5-char code) */
PGresult *sg_pg_query_q(sg_pg *c, const char *quiet, const char *sql, int nparams, const char *const *params);

/* 1 when res is non-NULL and PGRES_COMMAND_OK / PGRES_TUPLES_OK. */
int sg_pg_ok(const PGresult *res);
/* SQLSTATE of the last failed statement on c ("" if none). */
const char *sg_pg_sqlstate(const sg_pg *c);
/* Runs sql and returns SG_OK/SG_ERR_DB/SG_ERR_RETRY, discarding the result. */
int sg_pg_exec(sg_pg *c, const char *sql, int nparams, const char *const *params);
/* Maps the last failure on c to SG_ERR_RETRY (40001, 40P01) or SG_ERR_DB. */
int sg_pg_err(const sg_pg *c);

/* Raw libpq connection (for LISTEN, COPY...). Borrowed. */
PGconn *sg_pg_conn(sg_pg *c);

/* Transaction body: return SG_OK to commit, a positive code to roll back and
 * return that code, SG_ERR_DB / SG_ERR_RETRY on database failure. */
typedef int (*sg_pg_tx_fn)(sg_pg *c, void *ctx);

enum { SG_TX_READ_COMMITTED = 0, SG_TX_REPEATABLE_READ, SG_TX_SERIALIZABLE };

/* Acquires a connection, runs fn inside BEGIN..COMMIT, retrying the whole
 * transaction up to 8 times on serialization failures and deadlocks (also when
 * COMMIT itself fails with them) with a short jittered backoff. Returns fn's
 * code, SG_OK after a successful commit, or SG_ERR_DB. */
int sg_pg_tx(sg_pg_pool *p, int isolation, sg_pg_tx_fn fn, void *ctx);

/* Runs fn on a pooled connection outside any explicit transaction: each of
 * its statements commits on its own. For a body of ONE read-only statement
 * (a statement sees one snapshot), where BEGIN and COMMIT would be two more
 * round trips; sg_pg_defer fails there. Retried as sg_pg_tx retries (a lost
 * connection, a serialization failure). Returns fn's code. */
int sg_pg_run(sg_pg_pool *p, sg_pg_tx_fn fn, void *ctx);

/* Rows written at the end of the transaction, several in one statement.
 * Inside an sg_pg_tx body, sg_pg_defer keeps one row, values[0..ncols)
 * (copied; NULL allowed), with the connection; after the body succeeded and
 * before COMMIT, sg_pg_tx runs sql once per distinct sql (by pointer: pass a
 * string literal, at most SG_PG_DEFER_MAX of them per transaction), in the
 * order each was first deferred, with $1..$ncols bound to the columns as
 * text[] arrays, rows in the order they were deferred. A failure there rolls
 * the transaction back as a failed body would; the rows are dropped after
 * every attempt, committed or not. Returns SG_OK, or SG_ERR_DB when not in
 * an sg_pg_tx body, out of memory, or ncols differs from the first call with
 * this sql. sg_pg_in_tx is 1 inside an sg_pg_tx body. */
#define SG_PG_DEFER_MAX 4
int sg_pg_defer(sg_pg *c, const char *sql, int ncols, const char *const *values);
int sg_pg_in_tx(const sg_pg *c);

/* PostgreSQL array literal of v[0..n), every element double-quoted and
 * escaped (a NULL element becomes SQL NULL), for one $n::text[] parameter.
 * malloc'ed (caller frees); NULL when out of memory. */
char *sg_pg_text_array(const char *const *v, size_t n);

/* After-commit wake-up. The service's outbox relay registers here
 * (sg_outbox_relay_attach) so that a transaction that added outbox rows
 * wakes it in-process right after its COMMIT, instead of by NOTIFY: a
 * transaction that notifies takes one database-wide lock at commit and
 * holds it through its WAL flush, so every notifying transaction commits
 * alone, one after the other (bench/README.md, "NOTIFY serialises
 * commits"). wake(ctx) must be quick and never block; local(ctx) (NULL:
 * always) returns 1 when that wake reaches the process that publishes (this
 * process's relay is the leader), 0 when SQL must still NOTIFY. The waker is
 * copied; NULL, or one whose wake is NULL, removes it. Setting waits for a
 * wake in progress, so after set_waker(NULL) returns, ctx is no longer
 * used. */
typedef struct sg_pg_waker {
    void (*wake)(void *ctx);
    int (*local)(void *ctx);
    void *ctx;
} sg_pg_waker;
void sg_pg_pool_set_waker(sg_pg_pool *p, const sg_pg_waker *w);
/* 1 when c's pool has a waker and its wake reaches the publisher. */
int sg_pg_wake_is_local(sg_pg *c);
/* Inside an sg_pg_tx body: wake the pool's waker once this transaction
 * commits (on every attempt that commits; not after a rollback). Outside
 * one (autocommit, the statement already ran): wake it now. */
void sg_pg_wake_after_commit(sg_pg *c);

/* Pings the server with a fresh pooled connection; 0 when reachable. */
int sg_pg_ping(sg_pg_pool *p);

const char *sg_pg_pool_schema(const sg_pg_pool *p);
/* The schema of the pool the connection belongs to (borrowed). */
const char *sg_pg_schema(const sg_pg *c);
const char *sg_pg_pool_dsn(const sg_pg_pool *p);

/* Compound-literal helper: sg_pg_query(c, SQL, 2, SG_P(a, b)). */
#define SG_P(...) ((const char *const[]){__VA_ARGS__})

#endif
