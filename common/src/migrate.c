/* Start-up schema migrations. */
#include "sg/migrate.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sg/log.h"

#define MIGRATION_FILE_MAX (4 * 1024 * 1024)

int sg_migration_version(const char *filename)
{
    size_t digits = 0;
    long v = 0;

    if (!filename)
        return -1;
    while (isdigit((unsigned char)filename[digits])) {
        v = v * 10 + (filename[digits] - '0');
        if (v > INT_MAX)
            return -1;
        digits++;
    }
    if (digits < 3 || filename[digits] != '_')
        return -1;
    size_t len = strlen(filename);
    if (len < digits + 1 + 4 || strcmp(filename + len - 4, ".sql") != 0)
        return -1;
    return (int)v;
}

static int cmp_version(const void *a, const void *b)
{
    const sg_migration *x = a, *y = b;
    return (x->version > y->version) - (x->version < y->version);
}

void sg_migrations_free(sg_migration *m, size_t n)
{
    if (!m)
        return;
    for (size_t i = 0; i < n; i++) {
        free(m[i].name);
        free(m[i].path);
    }
    free(m);
}

int sg_migrations_list(const char *dir, sg_migration **out, size_t *n, char *err, size_t errlen)
{
    DIR *d = NULL;
    sg_migration *v = NULL;
    size_t count = 0, cap = 0;
    int rc = -1;

    *out = NULL;
    *n = 0;
    d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "migrations: cannot open %s: %s", dir, strerror(errno));
        goto cleanup;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int ver = sg_migration_version(e->d_name);
        if (ver < 0)
            continue;
        char *path = NULL;
        struct stat st;
        if (asprintf(&path, "%s/%s", dir, e->d_name) < 0) {
            snprintf(err, errlen, "migrations: out of memory");
            goto cleanup;
        }
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(path);
            continue;
        }
        if (ver == 0) {
            snprintf(err, errlen, "migrations: %s: version 0 is reserved for the common tables", e->d_name);
            free(path);
            goto cleanup;
        }
        if (count == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            sg_migration *nv = realloc(v, ncap * sizeof *nv);
            if (!nv) {
                free(path);
                snprintf(err, errlen, "migrations: out of memory");
                goto cleanup;
            }
            v = nv;
            cap = ncap;
        }
        v[count].version = ver;
        v[count].path = path;
        v[count].name = strdup(e->d_name);
        count++;
        if (!v[count - 1].name) {
            snprintf(err, errlen, "migrations: out of memory");
            goto cleanup;
        }
    }
    if (count > 1)
        qsort(v, count, sizeof *v, cmp_version);
    for (size_t i = 1; i < count; i++) {
        if (v[i].version == v[i - 1].version) {
            snprintf(err, errlen, "migrations: %s and %s have the same version %d", v[i - 1].name, v[i].name,
                     v[i].version);
            goto cleanup;
        }
    }
    *out = v;
    *n = count;
    v = NULL;
    rc = 0;
cleanup:
    if (d)
        closedir(d);
    sg_migrations_free(v, count);
    return rc;
}

static char *read_file(const char *path, char *err, size_t errlen)
{
    FILE *f = NULL;
    char *buf = NULL;
    char *ret = NULL;

    f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "migrations: cannot open %s: %s", path, strerror(errno));
        goto cleanup;
    }
    buf = malloc(MIGRATION_FILE_MAX + 1);
    if (!buf) {
        snprintf(err, errlen, "migrations: out of memory");
        goto cleanup;
    }
    size_t n = fread(buf, 1, MIGRATION_FILE_MAX + 1, f);
    if (ferror(f) || n > MIGRATION_FILE_MAX) {
        snprintf(err, errlen, "migrations: cannot read %s (error or larger than %d bytes)", path,
                 MIGRATION_FILE_MAX);
        goto cleanup;
    }
    buf[n] = '\0';
    if (strlen(buf) != n) {
        snprintf(err, errlen, "migrations: %s contains a NUL byte", path);
        goto cleanup;
    }
    ret = buf;
    buf = NULL;
cleanup:
    free(buf);
    if (f)
        fclose(f);
    return ret;
}

/* The common schema of every service (outbox, inbox, outbox_write and
 * outbox_dead), applied before the service's own files. Versions: 0, then from
 * SG_COMMON_VERSION_BASE, so they never meet a service's NNN. Expand only:
 * a release adds entries, it never edits one. */
#define SG_COMMON_VERSION_BASE 100000
static const struct common_migration {
    int version;
    const char *name;
    const char *sql;
} common_migrations[] = {
    {0, "000_common.sql",
     "CREATE TABLE IF NOT EXISTS outbox (\n"
     "    id bigserial PRIMARY KEY,\n"
     "    event_id uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,\n"
     "    topic text NOT NULL,\n"
     "    key text,\n"
     "    event_type text NOT NULL,\n"
     "    payload jsonb NOT NULL,\n"
     "    traceparent text,\n"
     "    created_at timestamptz NOT NULL DEFAULT now(),\n"
     "    published_at timestamptz\n"
     ");\n"
     "CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (id) WHERE published_at IS NULL;\n"
     "CREATE TABLE IF NOT EXISTS inbox (\n"
     "    event_id uuid PRIMARY KEY,\n"
     "    topic text NOT NULL,\n"
     "    handled_at timestamptz NOT NULL DEFAULT now()\n"
     ");\n"
     "CREATE INDEX IF NOT EXISTS inbox_handled_at ON inbox (handled_at);\n"},
    /* The one writer of outbox rows (sg_outbox_add and SQL functions such as
     * the reward's grant_batch): rows in array order, so ids (the relay's
     * publishing order) follow the order the events were added in, and one
     * NOTIFY on the schema's channel (sg_outbox_channel) when any was
     * written. */
    {SG_COMMON_VERSION_BASE + 1, "100001_common_outbox_write.sql",
     "CREATE OR REPLACE FUNCTION outbox_write(p_topic text[], p_key text[], p_event_type text[],\n"
     "                                        p_payload jsonb[], p_traceparent text[], p_channel text)\n"
     "RETURNS void LANGUAGE sql SET search_path FROM CURRENT AS $$\n"
     "    INSERT INTO outbox (topic, key, event_type, payload, traceparent)\n"
     "    SELECT x.t, x.k, x.e, x.p, x.tp\n"
     "    FROM unnest(p_topic, p_key, p_event_type, p_payload, p_traceparent) WITH ORDINALITY AS x(t, k, e, p, tp, o)\n"
     "    ORDER BY x.o;\n"
     "    SELECT pg_notify(p_channel, '') WHERE coalesce(cardinality(p_topic), 0) > 0;\n"
     "$$;\n"},
    /* Dead letters: events the broker refused for good (API.md "Events"),
     * moved here by the relay from the outbox, with the same id and
     * event_id, so that they no longer hold back the events behind them. */
    {SG_COMMON_VERSION_BASE + 2, "100002_common_outbox_dead.sql",
     "CREATE TABLE IF NOT EXISTS outbox_dead (\n"
     "    id bigint PRIMARY KEY,\n"
     "    event_id uuid NOT NULL UNIQUE,\n"
     "    topic text NOT NULL,\n"
     "    key text,\n"
     "    event_type text NOT NULL,\n"
     "    payload jsonb NOT NULL,\n"
     "    traceparent text,\n"
     "    created_at timestamptz NOT NULL,\n"
     "    dead_at timestamptz NOT NULL DEFAULT now(),\n"
     "    error text NOT NULL\n"
     ");\n"},
    /* outbox_write in PL/pgSQL: a LANGUAGE sql function with several
     * statements is planned again on every call (PostgreSQL caches no plan
     * for it), which made the intake's outbox write 0.17 ms instead of
     * 0.07 ms in a bench profile; PL/pgSQL keeps the plan per session. Same
     * signature and behaviour, so either release calls it. */
    {SG_COMMON_VERSION_BASE + 3, "100003_common_outbox_write_plpgsql.sql",
     "CREATE OR REPLACE FUNCTION outbox_write(p_topic text[], p_key text[], p_event_type text[],\n"
     "                                        p_payload jsonb[], p_traceparent text[], p_channel text)\n"
     "RETURNS void LANGUAGE plpgsql SET search_path FROM CURRENT AS $$\n"
     "BEGIN\n"
     "    IF coalesce(cardinality(p_topic), 0) = 0 THEN\n"
     "        RETURN;\n"
     "    END IF;\n"
     "    INSERT INTO outbox (topic, key, event_type, payload, traceparent)\n"
     "    SELECT x.t, x.k, x.e, x.p, x.tp\n"
     "    FROM unnest(p_topic, p_key, p_event_type, p_payload, p_traceparent) WITH ORDINALITY AS x(t, k, e, p, tp, o)\n"
     "    ORDER BY x.o;\n"
     "    PERFORM pg_notify(p_channel, '');\n"
     "END $$;\n"},
    /* NOTIFY only when a channel is given: a writer whose own process's
     * relay is the leader wakes it in-process after COMMIT and passes NULL
     * (sg_outbox_notify_channel), because a notifying transaction holds a
     * database-wide lock through its commit. A release that always passes
     * the channel still gets its NOTIFY. Same signature. */
    {SG_COMMON_VERSION_BASE + 4, "100004_common_outbox_write_notify_optional.sql",
     "CREATE OR REPLACE FUNCTION outbox_write(p_topic text[], p_key text[], p_event_type text[],\n"
     "                                        p_payload jsonb[], p_traceparent text[], p_channel text)\n"
     "RETURNS void LANGUAGE plpgsql SET search_path FROM CURRENT AS $$\n"
     "BEGIN\n"
     "    IF coalesce(cardinality(p_topic), 0) = 0 THEN\n"
     "        RETURN;\n"
     "    END IF;\n"
     "    INSERT INTO outbox (topic, key, event_type, payload, traceparent)\n"
     "    SELECT x.t, x.k, x.e, x.p, x.tp\n"
     "    FROM unnest(p_topic, p_key, p_event_type, p_payload, p_traceparent) WITH ORDINALITY AS x(t, k, e, p, tp, o)\n"
     "    ORDER BY x.o;\n"
     "    IF p_channel IS NOT NULL THEN\n"
     "        PERFORM pg_notify(p_channel, '');\n"
     "    END IF;\n"
     "END $$;\n"},
    /* outbox_unpublished indexed what outbox_pkey already orders since the
     * relay deletes what it published instead of marking it: every row is
     * unpublished while it exists, bar the marks of releases before that,
     * which the scan's filter skips. One index entry less per event (a
     * WAL record and a page write each); the relay's scan walks outbox_pkey
     * (sg_outbox_relay: no sequential scan either). */
    {SG_COMMON_VERSION_BASE + 5, "100005_common_outbox_unpublished_dropped.sql",
     "DROP INDEX IF EXISTS outbox_unpublished;\n"},
};

/* Runs one script and records it, in one transaction. Scripts go through
 * the simple protocol because they hold several statements. */
static int apply(sg_pg *c, int version, const char *name, const char *sql, char *err, size_t errlen)
{
    PGconn *conn = sg_pg_conn(c);
    PGresult *res = NULL;
    char vbuf[16];
    int rc = -1;

    snprintf(vbuf, sizeof vbuf, "%d", version);
    res = PQexec(conn, "BEGIN");
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        snprintf(err, errlen, "migrations: BEGIN failed: %s", PQerrorMessage(conn));
        goto cleanup;
    }
    PQclear(res);
    res = PQexec(conn, sql);
    if (!sg_pg_ok(res)) {
        snprintf(err, errlen, "migrations: %s failed: %s", name, PQerrorMessage(conn));
        goto cleanup;
    }
    PQclear(res);
    res = sg_pg_query(c, "INSERT INTO schema_migrations(version, name) VALUES ($1::int, $2)", 2,
                      SG_P(vbuf, name));
    if (!sg_pg_ok(res)) {
        snprintf(err, errlen, "migrations: recording %s failed: %s", name, PQerrorMessage(conn));
        goto cleanup;
    }
    PQclear(res);
    res = PQexec(conn, "COMMIT");
    if (PQresultStatus(res) != PGRES_COMMAND_OK || strcmp(PQcmdStatus(res), "COMMIT") != 0) {
        snprintf(err, errlen, "migrations: COMMIT of %s failed: %s", name, PQerrorMessage(conn));
        goto cleanup;
    }
    sg_info("migrations: applied %s", name);
    rc = 0;
cleanup:
    PQclear(res);
    if (rc != 0 && PQtransactionStatus(conn) != PQTRANS_IDLE)
        PQclear(PQexec(conn, "ROLLBACK"));
    return rc;
}

static int applied(const PGresult *done, int version)
{
    for (int i = 0; i < PQntuples(done); i++)
        if (atoi(PQgetvalue(done, i, 0)) == version)
            return 1;
    return 0;
}

int sg_migrate(sg_pg_pool *p, const char *dir, char *err, size_t errlen)
{
    const char *schema = sg_pg_pool_schema(p);
    sg_migration *files = NULL;
    size_t nfiles = 0;
    sg_pg *c = NULL;
    PGresult *res = NULL;
    PGresult *done = NULL;
    char *ident = NULL;
    char *sql = NULL;
    char *text = NULL;
    int locked = 0;
    int timeouts_lifted = 0;
    int rc = -1;

    /* A bad directory is a deployment error: refuse before touching the DB. */
    if (dir && sg_migrations_list(dir, &files, &nfiles, err, errlen) != 0)
        goto cleanup;
    c = sg_pg_acquire(p, 10000);
    if (!c) {
        snprintf(err, errlen, "migrations: cannot connect to PostgreSQL");
        goto cleanup;
    }
    /* The migration session waits for another replica's migrations (the
     * lock below) and may build indexes on big tables: neither the pool's
     * statement timeout nor its lock timeout applies to it (RESET at the
     * end gives the connection its configured values back). */
    res = PQexec(sg_pg_conn(c), "SET statement_timeout = 0; SET lock_timeout = 0");
    if (!sg_pg_ok(res)) {
        snprintf(err, errlen, "migrations: cannot lift the timeouts: %s", PQerrorMessage(sg_pg_conn(c)));
        goto cleanup;
    }
    timeouts_lifted = 1;
    PQclear(res);
    res = sg_pg_query(c, "SELECT pg_advisory_lock(hashtext('sg_migrate:' || $1))", 1, SG_P(schema));
    if (!sg_pg_ok(res)) {
        snprintf(err, errlen, "migrations: advisory lock failed: %s", PQerrorMessage(sg_pg_conn(c)));
        goto cleanup;
    }
    locked = 1;
    PQclear(res);
    ident = PQescapeIdentifier(sg_pg_conn(c), schema, strlen(schema));
    if (!ident || asprintf(&sql, "CREATE SCHEMA IF NOT EXISTS %s", ident) < 0) {
        sql = NULL;
        snprintf(err, errlen, "migrations: out of memory");
        res = NULL;
        goto cleanup;
    }
    res = PQexec(sg_pg_conn(c), sql);
    if (!sg_pg_ok(res)) {
        snprintf(err, errlen, "migrations: %s failed: %s", sql, PQerrorMessage(sg_pg_conn(c)));
        goto cleanup;
    }
    PQclear(res);
    res = PQexec(sg_pg_conn(c), "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                " version int PRIMARY KEY,"
                                " name text NOT NULL,"
                                " applied_at timestamptz NOT NULL DEFAULT now())");
    if (!sg_pg_ok(res)) {
        snprintf(err, errlen, "migrations: creating schema_migrations failed: %s", PQerrorMessage(sg_pg_conn(c)));
        goto cleanup;
    }
    PQclear(res);
    res = NULL;
    done = sg_pg_query(c, "SELECT version FROM schema_migrations", 0, NULL);
    if (!sg_pg_ok(done)) {
        snprintf(err, errlen, "migrations: reading schema_migrations failed");
        goto cleanup;
    }
    for (size_t i = 0; i < sizeof common_migrations / sizeof common_migrations[0]; i++) {
        const struct common_migration *m = &common_migrations[i];
        if (!applied(done, m->version) && apply(c, m->version, m->name, m->sql, err, errlen) != 0)
            goto cleanup;
    }
    for (size_t i = 0; i < nfiles; i++) {
        if (applied(done, files[i].version))
            continue;
        text = read_file(files[i].path, err, errlen);
        if (!text || apply(c, files[i].version, files[i].name, text, err, errlen) != 0)
            goto cleanup;
        free(text);
        text = NULL;
    }
    rc = 0;
cleanup:
    PQclear(res);
    PQclear(done);
    if (locked) {
        res = sg_pg_query(c, "SELECT pg_advisory_unlock(hashtext('sg_migrate:' || $1))", 1, SG_P(schema));
        PQclear(res);
    }
    if (timeouts_lifted) {
        res = PQexec(sg_pg_conn(c), "RESET statement_timeout; RESET lock_timeout");
        PQclear(res);
    }
    if (ident)
        PQfreemem(ident);
    free(sql);
    free(text);
    if (c)
        sg_pg_release(p, c);
    sg_migrations_free(files, nfiles);
    return rc;
}
