/* PostgreSQL pool against the devstack: basics, serialization retries and
 * recovery after a server restart. Needs SG_PG_DSN (scripts/devstack env). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sg/log.h"
#include "sg/migrate.h"
#include "sg/pg.h"
#include "sg/pgutil.h"

#include "it_util.h"

static sg_pg_pool *pool;
static char schema[40];

static void setup(void)
{
    sg_log_init("it_pg", SG_LOG_WARN);
    pool = it_schema_pool("it_pg", 4, 1, schema, NULL);
    it_exec_ok(pool, "CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL)");
    it_exec_ok(pool, "INSERT INTO t VALUES (1, 0)");
}

static void teardown(void)
{
    /* The server may have been restarted: it_schema_drop tries a while. */
    it_schema_drop(pool, schema);
    pool = NULL;
}

TestSuite(pg, .init = setup, .fini = teardown, .timeout = 120);

Test(pg, migrate_created_common_tables_and_is_idempotent)
{
    char err[512] = "";
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM schema_migrations WHERE version = 0"), 1);
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM outbox"), 0);
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM inbox"), 0);
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM schema_migrations WHERE version >= 100000"), 5,
                 "outbox_write, outbox_dead, outbox_write in PL/pgSQL, its NOTIFY optional, outbox_unpublished "
                 "dropped");
    /* The relay scans outbox_pkey: the partial index of releases before 100005 is gone. */
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() "
                        "AND indexname = 'outbox_unpublished'"), 0);
    cr_assert_eq(sg_migrate(pool, NULL, err, sizeof err), 0, "%s", err);
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM schema_migrations"), 6);
    cr_expect_str_eq(sg_pg_pool_schema(pool), schema);
}

Test(pg, migrate_applies_files_once_in_order)
{
    char dir[] = "/tmp/sg_it_mig_XXXXXX";
    char path[128], err[512] = "";
    cr_assert_not_null(mkdtemp(dir));
    const char *files[][2] = {
        {"002_b.sql", "INSERT INTO m VALUES (2);"},
        {"001_a.sql", "CREATE TABLE m (v int); INSERT INTO m VALUES (1);"},
        {"notes.txt", "garbage"},
    };
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i][0]);
        FILE *f = fopen(path, "w");
        cr_assert_not_null(f);
        fputs(files[i][1], f);
        fclose(f);
    }
    cr_assert_eq(sg_migrate(pool, dir, err, sizeof err), 0, "%s", err);
    cr_assert_eq(sg_migrate(pool, dir, err, sizeof err), 0, "%s", err);
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM m"), 2);
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM schema_migrations WHERE version < 100000"), 3);

    /* A failing file is rolled back and not recorded. */
    snprintf(path, sizeof path, "%s/003_bad.sql", dir);
    FILE *f = fopen(path, "w");
    fputs("INSERT INTO m VALUES (3); SELECT no_such_column FROM m;", f);
    fclose(f);
    cr_expect_eq(sg_migrate(pool, dir, err, sizeof err), -1);
    cr_expect(strstr(err, "003_bad.sql") != NULL, "%s", err);
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM m"), 2);
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM schema_migrations WHERE version < 100000"), 3);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_expect_eq(system(cmd), 0);
}

Test(pg, pgutil_rows_and_query_json)
{
    sg_pg *c = sg_pg_acquire(pool, 2000);
    int rc = 99;
    cr_assert_not_null(c);
    PGresult *res = sg_pg_rows(c, &rc, "SELECT g FROM generate_series(1, $1::int) g", 1, SG_P("3"));
    cr_assert_not_null(res);
    cr_assert_eq(rc, SG_OK);
    cr_assert_eq(PQntuples(res), 3);
    PQclear(res);
    rc = 99;
    cr_assert_null(sg_pg_rows(c, &rc, "SELECT * FROM no_such_table", 0, NULL));
    cr_assert_eq(rc, SG_ERR_DB);

    json_t *j = sg_pg_query_json(c, &rc, "SELECT json_build_object('a', $1::int)::text", 1, SG_P("7"));
    cr_assert_eq(rc, SG_OK);
    cr_assert_not_null(j);
    cr_assert_eq(json_integer_value(json_object_get(j, "a")), 7);
    json_decref(j);
    rc = 99;
    cr_assert_null(sg_pg_query_json(c, &rc, "SELECT '{}'::text WHERE false", 0, NULL));
    cr_assert_eq(rc, SG_OK, "no row is not an error");
    rc = 99;
    cr_assert_null(sg_pg_query_json(c, &rc, "SELECT NULL::text", 0, NULL));
    cr_assert_eq(rc, SG_OK, "SQL NULL is not an error");
    cr_assert_null(sg_pg_query_json(c, &rc, "SELECT 'not json'::text", 0, NULL));
    cr_assert_eq(rc, SG_ERR_DB);
    cr_assert_null(sg_pg_query_json(c, &rc, "SELECT * FROM no_such_table", 0, NULL));
    cr_assert_eq(rc, SG_ERR_DB);
    sg_pg_release(pool, c);
}

Test(pg, pool_bounds_and_statements)
{
    sg_pg *c[4];
    for (int i = 0; i < 4; i++) {
        c[i] = sg_pg_acquire(pool, 2000);
        cr_assert_not_null(c[i]);
        for (int j = 0; j < i; j++)
            cr_assert_neq(c[i], c[j]);
    }
    long long t0 = it_now_ms();
    cr_expect_null(sg_pg_acquire(pool, 200), "pool of 4 handed out a fifth connection");
    long long waited = it_now_ms() - t0;
    cr_expect(waited >= 150 && waited < 2000, "waited %lld ms", waited);
    sg_pg_release(pool, c[3]);
    c[3] = sg_pg_acquire(pool, 200);
    cr_assert_not_null(c[3]);

    /* Parameters, NULLs, and the cached prepared statement used twice. */
    for (int round = 0; round < 2; round++) {
        PGresult *res = sg_pg_query(c[0], "SELECT $1::int + $2::int, $3::text IS NULL", 3, SG_P("40", "2", NULL));
        cr_assert(sg_pg_ok(res));
        cr_expect_str_eq(PQgetvalue(res, 0, 0), "42");
        cr_expect_str_eq(PQgetvalue(res, 0, 1), "t");
        PQclear(res);
    }
    /* Errors keep their SQLSTATE; a statement is not run by interpolation. */
    PGresult *res = sg_pg_query_q(c[0], "23505", "INSERT INTO t VALUES ($1::int, 0)", 1, SG_P("1"));
    cr_expect_not_null(res);
    cr_expect(!sg_pg_ok(res));
    cr_expect_str_eq(sg_pg_sqlstate(c[0]), "23505");
    cr_expect_eq(sg_pg_err(c[0]), SG_ERR_DB);
    PQclear(res);
    cr_expect_eq(sg_pg_exec(c[0], "SELECT 1", 0, NULL), SG_OK);
    cr_expect_str_eq(sg_pg_sqlstate(c[0]), "");
    cr_expect_eq(sg_pg_exec(c[0], "SELECT count(*) FROM t WHERE id = $1::int", 1, SG_P("1; DROP TABLE t")),
                 SG_ERR_DB);
    cr_expect_str_eq(sg_pg_sqlstate(c[0]), "22P02");

    /* Release rolls back an open transaction. */
    cr_assert_eq(sg_pg_exec(c[1], "BEGIN", 0, NULL), SG_OK);
    cr_assert_eq(sg_pg_exec(c[1], "INSERT INTO t VALUES (99, 0)", 0, NULL), SG_OK);
    for (int i = 0; i < 4; i++)
        sg_pg_release(pool, c[i]);
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM t WHERE id = 99"), 0);
    cr_expect_eq(sg_pg_ping(pool), 0);
}

static int tx_increment(sg_pg *c, void *ctx)
{
    (void)ctx;
    return sg_pg_exec(c, "UPDATE t SET v = v + 1 WHERE id = 1", 0, NULL);
}

static int tx_refuse(sg_pg *c, void *ctx)
{
    int rc = tx_increment(c, ctx);
    return rc == SG_OK ? 7 : rc;
}

static int tx_ignores_error(sg_pg *c, void *ctx)
{
    (void)ctx;
    sg_pg_exec(c, "UPDATE t SET v = v + 1 WHERE id = 1", 0, NULL);
    sg_pg_exec(c, "SELECT 1/0", 0, NULL);
    return SG_OK;
}

Test(pg, tx_commit_rollback_and_codes)
{
    cr_expect_eq(sg_pg_tx(pool, SG_TX_READ_COMMITTED, tx_increment, NULL), SG_OK);
    cr_expect_eq(it_scalar(pool, "SELECT v FROM t WHERE id = 1"), 1);
    cr_expect_eq(sg_pg_tx(pool, SG_TX_REPEATABLE_READ, tx_refuse, NULL), 7);
    cr_expect_eq(it_scalar(pool, "SELECT v FROM t WHERE id = 1"), 1);
    cr_expect_eq(sg_pg_tx(pool, SG_TX_READ_COMMITTED, tx_ignores_error, NULL), SG_ERR_DB);
    cr_expect_eq(it_scalar(pool, "SELECT v FROM t WHERE id = 1"), 1);
}

static void *many_increments(void *arg)
{
    (void)arg;
    for (int i = 0; i < 50; i++)
        if (sg_pg_tx(pool, SG_TX_READ_COMMITTED, tx_increment, NULL) != SG_OK)
            return (void *)1;
    return NULL;
}

static int read_plan_mode(sg_pg *c, void *ctx)
{
    PGresult *res = sg_pg_query(c, "SELECT current_setting('plan_cache_mode')", 0, NULL);
    if (!sg_pg_ok(res)) {
        PQclear(res);
        return SG_ERR_DB;
    }
    snprintf(ctx, 32, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return SG_OK;
}

/* Statements in transactions run their generic plan (planned once per
 * connection, pg_internal.h); autocommit reads keep PostgreSQL's choice,
 * and the transaction's setting ends with it. */
Test(pg, transactions_run_generic_plans)
{
    char mode[32] = "";
    cr_assert_eq(sg_pg_tx(pool, SG_TX_READ_COMMITTED, read_plan_mode, mode), SG_OK);
    cr_expect_str_eq(mode, "force_generic_plan");
    cr_assert_eq(sg_pg_tx(pool, SG_TX_SERIALIZABLE, read_plan_mode, mode), SG_OK);
    cr_expect_str_eq(mode, "force_generic_plan");
    for (int i = 0; i < 3; i++) { /* whichever connection the pool hands out */
        cr_assert_eq(sg_pg_run(pool, read_plan_mode, mode), SG_OK);
        cr_expect_str_eq(mode, "auto");
    }
}

Test(pg, concurrent_transactions_share_the_pool)
{
    pthread_t th[8];
    for (int i = 0; i < 8; i++)
        pthread_create(&th[i], NULL, many_increments, NULL);
    int failures = 0;
    for (int i = 0; i < 8; i++) {
        void *r;
        pthread_join(th[i], &r);
        failures += r != NULL;
    }
    cr_expect_eq(failures, 0);
    cr_expect_eq(it_scalar(pool, "SELECT v FROM t WHERE id = 1"), 400);
}

typedef struct ser_ctx {
    pthread_barrier_t *barrier;
    int attempts;
} ser_ctx;

/* Read, meet the other thread, then write: one of the two must fail with
 * 40001 and be retried by sg_pg_tx. */
static int tx_read_then_write(sg_pg *c, void *arg)
{
    ser_ctx *s = arg;
    PGresult *res = sg_pg_query(c, "SELECT v FROM t WHERE id = 1", 0, NULL);
    if (!sg_pg_ok(res)) {
        PQclear(res);
        return sg_pg_err(c);
    }
    char v[32];
    snprintf(v, sizeof v, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if (s->attempts++ == 0)
        pthread_barrier_wait(s->barrier);
    return sg_pg_exec(c, "UPDATE t SET v = $1::int + 1 WHERE id = 1", 1, SG_P(v));
}

static void *serializable_worker(void *arg)
{
    return (void *)(intptr_t)sg_pg_tx(pool, SG_TX_SERIALIZABLE, tx_read_then_write, arg);
}

Test(pg, serialization_failure_is_retried)
{
    pthread_barrier_t b;
    pthread_barrier_init(&b, NULL, 2);
    ser_ctx s[2] = {{&b, 0}, {&b, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, serializable_worker, &s[i]);
    for (int i = 0; i < 2; i++) {
        void *r;
        pthread_join(th[i], &r);
        cr_expect_eq((int)(intptr_t)r, SG_OK, "worker %d returned %d", i, (int)(intptr_t)r);
    }
    pthread_barrier_destroy(&b);
    /* No lost update: both increments landed, one of them after a retry. */
    cr_expect_eq(it_scalar(pool, "SELECT v FROM t WHERE id = 1"), 2);
    cr_expect_gt(s[0].attempts + s[1].attempts, 2, "attempts %d + %d", s[0].attempts, s[1].attempts);
}

Test(pg, recovers_after_server_restart, .timeout = 900)
{
    /* Open every pooled connection so that all of them go stale. */
    sg_pg *c[4];
    for (int i = 0; i < 4; i++)
        cr_assert_not_null(c[i] = sg_pg_acquire(pool, 2000));
    for (int i = 0; i < 4; i++)
        sg_pg_release(pool, c[i]);
    cr_assert_eq(sg_pg_tx(pool, SG_TX_READ_COMMITTED, tx_increment, NULL), SG_OK);

    cr_assert_eq(it_devstack("restart postgres"), 0, "scripts/devstack restart postgres failed");

    int tries = 0, rc = SG_ERR_DB;
    while (tries < 50 && rc != SG_OK) {
        rc = sg_pg_tx(pool, SG_TX_READ_COMMITTED, tx_increment, NULL);
        tries++;
        if (rc != SG_OK)
            usleep(200000);
    }
    cr_assert_eq(rc, SG_OK, "no successful transaction after %d tries", tries);
    /* The server is up when devstack returns: stale connections must be
     * replaced on acquire, not surface as errors. */
    cr_expect_leq(tries, 2, "took %d tries", tries);
    for (int i = 0; i < 8; i++)
        cr_expect_eq(sg_pg_tx(pool, SG_TX_READ_COMMITTED, tx_increment, NULL), SG_OK);
    cr_expect_eq(it_scalar(pool, "SELECT v FROM t WHERE id = 1"), 10);
    cr_expect_eq(sg_pg_ping(pool), 0);
}

/* ---- deferred rows ------------------------------------------------------------ */

static const char defer_a[] = "INSERT INTO d (seq, tag) SELECT x.s::int, x.t FROM unnest($1::text[], $2::text[])"
                              " WITH ORDINALITY AS x(s, t, o) ORDER BY x.o";
static const char defer_b[] = "UPDATE t SET v = v * 10 + cardinality($1::text[]) WHERE id = 1";

static int tx_defer(sg_pg *c, void *ctx)
{
    int fail = *(int *)ctx;
    for (int i = 0; i < 5; i++) {
        char s[16];
        snprintf(s, sizeof s, "%d", i);
        if (sg_pg_defer(c, defer_a, 2, SG_P(s, i == 2 ? NULL : "x")) != SG_OK)
            return SG_ERR_DB;
        if (sg_pg_defer(c, defer_b, 1, SG_P("r")) != SG_OK)
            return SG_ERR_DB;
    }
    if (sg_pg_defer(c, defer_b, 2, SG_P("r", "s")) != SG_ERR_DB)
        return 90; /* a second shape for one statement is refused */
    /* Nothing is written until the body has succeeded. */
    PGresult *res = sg_pg_query(c, "SELECT count(*) FROM d", 0, NULL);
    int seen = sg_pg_ok(res) ? atoi(PQgetvalue(res, 0, 0)) : -1;
    PQclear(res);
    if (seen != 0)
        return 91;
    return fail;
}

Test(pg, deferred_rows_written_once_before_commit)
{
    it_exec_ok(pool, "CREATE TABLE d (id bigserial PRIMARY KEY, seq int NOT NULL, tag text)");
    long v0 = it_scalar(pool, "SELECT v FROM t WHERE id = 1");
    int fail = 42, ok = SG_OK;
    cr_assert_eq(sg_pg_tx(pool, SG_TX_READ_COMMITTED, tx_defer, &fail), 42);
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM d"), 0, "a failed body writes nothing");
    cr_assert_eq(sg_pg_tx(pool, SG_TX_READ_COMMITTED, tx_defer, &ok), SG_OK);
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM d"), 5);
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM d WHERE tag IS NULL AND seq = 2"), 1, "NULL cells stay NULL");
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM (SELECT seq, row_number() OVER (ORDER BY id) - 1 AS r FROM d) x"
                        " WHERE seq = r"), 5, "rows in the order they were deferred");
    cr_expect_eq(it_scalar(pool, "SELECT v FROM t WHERE id = 1"), v0 * 10 + 5, "one statement per sql, all its rows");
    sg_pg *c = sg_pg_acquire(pool, 5000);
    cr_assert_not_null(c);
    cr_expect_eq(sg_pg_defer(c, defer_b, 1, SG_P("r")), SG_ERR_DB, "outside sg_pg_tx there is no end to defer to");
    sg_pg_release(pool, c);
}

/* ---- one round trip for BEGIN + first statement, and for deferred rows + COMMIT ---- */

static int tx_nothing(sg_pg *c, void *ctx)
{
    (void)c;
    (void)ctx;
    return SG_OK;
}

static int forget_statements(sg_pg *c, void *ctx)
{
    (void)ctx;
    PGresult *r = PQexec(sg_pg_conn(c), "DEALLOCATE ALL");
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok ? SG_OK : SG_ERR_DB;
}

/* First attempt: the server forgets its prepared statements inside the
 * body, behind the connection's cache; then a deferred statement. */
static int tx_forget_then_defer(sg_pg *c, void *ctx)
{
    int *calls = ctx;
    if (++*calls == 1 && forget_statements(c, NULL) != SG_OK)
        return SG_ERR_DB;
    return sg_pg_defer(c, defer_b, 1, SG_P("r"));
}

static int tx_defer_bad(sg_pg *c, void *ctx)
{
    (void)ctx;
    int rc = tx_increment(c, NULL);
    return rc == SG_OK ? sg_pg_defer(c, defer_a, 2, SG_P("not a number", "x")) : rc;
}

static int tx_defer_only(sg_pg *c, void *ctx)
{
    (void)ctx;
    return sg_pg_defer(c, defer_a, 2, SG_P("7", "only"));
}

Test(pg, pipelined_begin_and_commit_recover_and_fail_cleanly)
{
    char err[512];
    it_exec_ok(pool, "CREATE TABLE IF NOT EXISTS d (id bigserial PRIMARY KEY, seq int NOT NULL, tag text)");
    /* One connection: what one transaction leaves behind, the next meets. */
    sg_pg_pool *one = sg_pg_pool_create(getenv("SG_PG_DSN"), schema, 1, err, sizeof err);
    cr_assert_not_null(one, "%s", err);

    cr_expect_eq(sg_pg_tx(one, SG_TX_READ_COMMITTED, tx_nothing, NULL), SG_OK, "a body that runs nothing");
    long v = it_scalar(pool, "SELECT v FROM t WHERE id = 1");
    cr_assert_eq(sg_pg_tx(one, SG_TX_READ_COMMITTED, tx_increment, NULL), SG_OK);
    /* The server forgets the statement the connection prepared: the first
     * statement, sent with BEGIN, is refused (26000); the transaction is
     * begun again and the statement prepared again, and runs once. */
    cr_assert_eq(sg_pg_run(one, forget_statements, NULL), SG_OK);
    cr_expect_eq(sg_pg_tx(one, SG_TX_READ_COMMITTED, tx_increment, NULL), SG_OK);
    cr_expect_eq(it_scalar(pool, "SELECT v FROM t WHERE id = 1"), v + 2);

    /* Forgotten between the body and its deferred rows: the round trip of
     * COMMIT fails, nothing is committed, and sg_pg_tx runs the body again. */
    int calls = 1; /* first, without forgetting: the connection prepares defer_b */
    cr_assert_eq(sg_pg_tx(one, SG_TX_READ_COMMITTED, tx_forget_then_defer, &calls), SG_OK);
    v = it_scalar(pool, "SELECT v FROM t WHERE id = 1");
    calls = 0;
    cr_assert_eq(sg_pg_tx(one, SG_TX_READ_COMMITTED, tx_forget_then_defer, &calls), SG_OK);
    cr_expect_eq(calls, 2);
    cr_expect_eq(it_scalar(pool, "SELECT v FROM t WHERE id = 1"), v * 10 + 1, "applied once");
    v = v * 10 + 1;

    /* A deferred statement that fails: no COMMIT, the body's own statement
     * rolled back with it, and the connection serves the next one. */
    long rows = it_scalar(pool, "SELECT count(*) FROM d");
    cr_expect_eq(sg_pg_tx(one, SG_TX_READ_COMMITTED, tx_defer_bad, NULL), SG_ERR_DB);
    cr_expect_eq(it_scalar(pool, "SELECT v FROM t WHERE id = 1"), v);
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM d"), rows);
    /* Deferred rows alone: BEGIN, the rows and COMMIT in one round trip. */
    cr_expect_eq(sg_pg_tx(one, SG_TX_SERIALIZABLE, tx_defer_only, NULL), SG_OK);
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM d WHERE tag = 'only'"), 1);
    cr_expect_eq(sg_pg_tx(one, SG_TX_READ_COMMITTED, tx_increment, NULL), SG_OK);
    cr_expect_eq(it_scalar(pool, "SELECT v FROM t WHERE id = 1"), v + 1);
    sg_pg_pool_free(one);
}

static char *show(PGconn *conn, const char *what)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT current_setting('%s')", what);
    PGresult *res = PQexec(conn, sql);
    cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(conn));
    char *v = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return v;
}

static const char *conninfo(PGconn *conn, const char *kw, char *buf, size_t len)
{
    PQconninfoOption *o = PQconninfo(conn);
    buf[0] = '\0';
    for (PQconninfoOption *p = o; p && p->keyword; p++)
        if (strcmp(p->keyword, kw) == 0 && p->val)
            snprintf(buf, len, "%s", p->val);
    PQconninfoFree(o);
    return buf;
}

/* Issue 12: every connection carries statement and lock timeouts, client
 * keepalives and user timeout, and server-side keepalives; a DSN's own
 * values win, one by one. */
Test(pg, connections_carry_timeouts_and_keepalives)
{
    const char *dsn = getenv("SG_PG_DSN");
    char buf[64];
    sg_pg_options o;
    sg_pg_options_default(&o);
    sg_pg_set_options(&o);

    PGconn *conn = sg_pg_connect(dsn, "it-pg");
    cr_assert_eq(PQstatus(conn), CONNECTION_OK, "%s", PQerrorMessage(conn));
    const char *want[][2] = {{"statement_timeout", "10s"},      {"lock_timeout", "5s"},
                             {"tcp_keepalives_idle", "10"},     {"tcp_keepalives_interval", "5"},
                             {"tcp_keepalives_count", "3"},     {"tcp_user_timeout", "20000"},
                             {"application_name", "it-pg"}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char *v = show(conn, want[i][0]);
        cr_expect_str_eq(v, want[i][1], "%s", want[i][0]);
        free(v);
    }
    cr_expect_str_eq(conninfo(conn, "keepalives", buf, sizeof buf), "1");
    cr_expect_str_eq(conninfo(conn, "keepalives_idle", buf, sizeof buf), "10");
    cr_expect_str_eq(conninfo(conn, "keepalives_interval", buf, sizeof buf), "5");
    cr_expect_str_eq(conninfo(conn, "keepalives_count", buf, sizeof buf), "3");
    cr_expect_str_eq(conninfo(conn, "tcp_user_timeout", buf, sizeof buf), "20000");
    cr_expect_str_eq(conninfo(conn, "connect_timeout", buf, sizeof buf), "5");
    PQfinish(conn);

    /* The DSN's values win; ours fill in the rest. */
    char *own = NULL;
    cr_assert(asprintf(&own, "%s keepalives_idle=42 application_name=mine options='-c statement_timeout=1234'",
                       dsn) > 0);
    conn = sg_pg_connect(own, "it-pg");
    free(own);
    cr_assert_eq(PQstatus(conn), CONNECTION_OK, "%s", PQerrorMessage(conn));
    char *v = show(conn, "statement_timeout");
    cr_expect_str_eq(v, "1234ms");
    free(v);
    v = show(conn, "lock_timeout");
    cr_expect_str_eq(v, "5s");
    free(v);
    v = show(conn, "application_name");
    cr_expect_str_eq(v, "mine");
    free(v);
    cr_expect_str_eq(conninfo(conn, "keepalives_idle", buf, sizeof buf), "42");
    cr_expect_str_eq(conninfo(conn, "keepalives_count", buf, sizeof buf), "3");
    PQfinish(conn);

    /* The pool's connections get them too; a migration lifts both timeouts
     * only while it runs. */
    sg_pg *c = sg_pg_acquire(pool, 5000);
    cr_assert_not_null(c);
    v = show(sg_pg_conn(c), "statement_timeout");
    cr_expect_str_eq(v, "10s");
    free(v);
    char err[256];
    sg_pg_release(pool, c);
    cr_assert_eq(sg_migrate(pool, NULL, err, sizeof err), 0, "%s", err);
    c = sg_pg_acquire(pool, 5000);
    cr_assert_not_null(c);
    v = show(sg_pg_conn(c), "lock_timeout");
    cr_expect_str_eq(v, "5s");
    free(v);
    sg_pg_release(pool, c);
}
