/* See it_util.h. */
#include "it_util.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "sg/migrate.h"

long long it_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int it_devstack(const char *args)
{
    static const char *const cands[] = {"scripts/devstack", "../scripts/devstack", "../../scripts/devstack"};
    for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++) {
        if (access(cands[i], X_OK) == 0) {
            char cmd[512];
            snprintf(cmd, sizeof cmd, "%s %s >/dev/null 2>&1", cands[i], args);
            return system(cmd);
        }
    }
    cr_assert_fail("scripts/devstack not found from the working directory");
    return -1;
}

void it_exec_ok(sg_pg_pool *pool, const char *sql)
{
    sg_pg *c = sg_pg_acquire(pool, 5000);
    cr_assert_not_null(c, "cannot acquire a connection for: %s", sql);
    int rc = sg_pg_exec(c, sql, 0, NULL);
    sg_pg_release(pool, c);
    cr_assert_eq(rc, SG_OK, "%s", sql);
}

long it_scalar(sg_pg_pool *pool, const char *sql)
{
    sg_pg *c = sg_pg_acquire(pool, 5000);
    cr_assert_not_null(c, "cannot acquire a connection for: %s", sql);
    PGresult *res = sg_pg_query(c, sql, 0, NULL);
    cr_assert(sg_pg_ok(res) && PQntuples(res) > 0, "%s", sql);
    long v = atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    sg_pg_release(pool, c);
    return v;
}

sg_pg_pool *it_schema_pool(const char *tag, int size, int migrate, char schema[40], unsigned *rnd)
{
    const char *dsn = getenv("SG_PG_DSN");
    char err[512] = "", sql[128];
    cr_assert_not_null(dsn, "SG_PG_DSN unset: eval \"$(scripts/devstack env)\"");
    srand((unsigned)(getpid() ^ time(NULL)));
    unsigned r = (unsigned)rand();
    snprintf(schema, 40, "%s_%08x", tag, r);
    if (rnd)
        *rnd = r;
    sg_pg_pool *pool = sg_pg_pool_create(dsn, schema, size, err, sizeof err);
    cr_assert_not_null(pool, "%s", err);
    if (migrate) {
        cr_assert_eq(sg_migrate(pool, NULL, err, sizeof err), 0, "%s", err);
    } else {
        snprintf(sql, sizeof sql, "CREATE SCHEMA \"%s\"", schema);
        it_exec_ok(pool, sql);
    }
    return pool;
}

const char *it_brokers(void)
{
    const char *brokers = getenv("SG_KAFKA_BROKERS");
    cr_assert(getenv("SG_PG_DSN") && brokers, "SG_PG_DSN / SG_KAFKA_BROKERS unset: eval \"$(scripts/devstack env)\"");
    return brokers;
}

void it_schema_drop(sg_pg_pool *pool, const char *schema)
{
    char sql[128];
    if (!pool)
        return;
    snprintf(sql, sizeof sql, "DROP SCHEMA \"%s\" CASCADE", schema);
    for (int i = 0; i < 50; i++) {
        sg_pg *c = sg_pg_acquire(pool, 2000);
        if (c) {
            int rc = sg_pg_exec(c, sql, 0, NULL);
            sg_pg_release(pool, c);
            if (rc == SG_OK)
                break;
        }
        usleep(200000);
    }
    sg_pg_pool_free(pool);
}
