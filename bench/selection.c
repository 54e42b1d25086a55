/* Selection benchmark: times the reviewer service's real selection path
 * (rv_panel_select: windows on the sample_key index, Redis fatigue cache
 * with PostgreSQL fallback, weighted draw, locked re-check, assignment rows,
 * outbox row, commit) against pools of N active reviewers in a scratch
 * schema of the devstack's PostgreSQL, then drops the schema and its Redis
 * keys.
 *
 *   build/bench/selection [--sizes 10000,100000,1000000] [--count 2000]
 *                         [--seats 5] [--tag lang:zh]
 *
 * Prints two lines per size:
 *   selection n=1000000 p50=0.8ms p95=1.2ms p99=1.9ms
 *   selection-pairs n=1000000 ...   (the fatigue policy's max_pair_cases_30d = 3)
 * the two series interleaved in blocks, so that both see the same load.
 * (--tag adds a line per size for panels requiring that tag, which 10% of
 * the pool holds.) Environment: SG_PG_DSN, SG_REDIS_URL (devstack
 * defaults), SG_MIGRATIONS_DIR (sql/reviewer), and the reviewer's own
 * SG_SELECTION_* variables.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../services/reviewer/panel.h"
#include "../services/reviewer/selection.h"
#include "sg/timeutil.h"
#include "sg/config.h"
#include "sg/log.h"
#include "sg/migrate.h"
#include "sg/pg.h"
#include "sg/redis.h"

#define WARMUP 50

typedef struct bench_tx {
    rv_svc *svc;
    rv_panel_req *req;
    rv_panel_result res;
    double done;          /* monotonic time when the work before COMMIT ended */
} bench_tx;

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int select_tx(sg_pg *c, void *arg)
{
    bench_tx *b = arg;
    int rc;
    rv_panel_result_free(&b->res);
    rc = rv_panel_select(c, b->svc, b->req, "bench", NULL, sg_time_now(), &b->res);
    b->done = mono();
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(const double *sorted, int n, double p)
{
    int i = (int)(p * (n - 1) + 0.5);
    return sorted[i < n ? i : n - 1];
}

static int exec_sql(sg_pg_pool *pool, const char *sql)
{
    sg_pg *c = sg_pg_acquire(pool, 5000);
    int rc;
    if (!c)
        return -1;
    rc = sg_pg_exec(c, sql, 0, NULL);
    sg_pg_release(pool, c);
    return rc == SG_OK ? 0 : -1;
}

/* Bulk-loads n active reviewers. The secondary indexes of the migration are
 * dropped for the insert and rebuilt from their own definitions afterwards:
 * building an index once is far cheaper than maintaining it row by row. */
static int load_pool(sg_pg_pool *pool, long n)
{
    char num[32];
    sg_pg *c = sg_pg_acquire(pool, 5000);
    PGresult *defs = NULL;
    int rc = SG_ERR_DB;

    if (!c)
        return -1;
    /* Loading a million rows and building their indexes takes longer than
     * the pool's statement timeout (SG_PG_STATEMENT_TIMEOUT_MS). */
    if (sg_pg_exec(c, "SET statement_timeout = 0", 0, NULL) != SG_OK)
        goto cleanup;
    snprintf(num, sizeof(num), "%ld", n);
    defs = sg_pg_query(c,
                       "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
                       " AND tablename = 'users' AND indexname <> 'users_pkey'",
                       0, NULL);
    if (!sg_pg_ok(defs))
        goto cleanup;
    for (int i = 0; i < PQntuples(defs); i++) {
        char *id = PQescapeIdentifier(sg_pg_conn(c), PQgetvalue(defs, i, 0), strlen(PQgetvalue(defs, i, 0)));
        char sql[256];
        if (!id)
            goto cleanup;
        snprintf(sql, sizeof(sql), "DROP INDEX %s", id);
        PQfreemem(id);
        if (sg_pg_exec(c, sql, 0, NULL) != SG_OK)
            goto cleanup;
    }
    /* One set-based statement; sample_key defaults to random(). */
    rc = sg_pg_exec(c,
                    "INSERT INTO users (user_id, tags, credit_score, registered_at, status, reason, status_changed_at)"
                    " SELECT 'u' || g, CASE WHEN g % 10 = 0 THEN '{lang:zh}'::text[] ELSE '{}'::text[] END, 700,"
                    " now() - interval '1 year', 'active', 'bench', now() FROM generate_series(1, $1::bigint) g",
                    1, SG_P(num));
    if (rc == SG_OK)
        rc = sg_pg_exec(c, "SET maintenance_work_mem = '256MB'", 0, NULL);
    for (int i = 0; rc == SG_OK && i < PQntuples(defs); i++)
        rc = sg_pg_exec(c, PQgetvalue(defs, i, 1), 0, NULL);
    /* The policy of API.md, but without min_interval_s: the benchmark fires
     * 2000 panels in seconds, which under a 60 s interval would exhaust a
     * 10k pool and measure the shortfall path instead. */
    if (rc == SG_OK)
        rc = sg_pg_exec(c,
                        "INSERT INTO fatigue_policies (version, max_open_ballots, max_per_day, max_per_week,"
                        " min_interval_s, cooldown_after_expiry_s, created_by) VALUES (2, 3, 20, 100, 0, 86400, 'bench')",
                        0, NULL);
    if (rc == SG_OK)
        rc = sg_pg_exec(c, "VACUUM ANALYZE users", 0, NULL);
cleanup:
    PQclear(defs);
    if (c && sg_pg_exec(c, "RESET statement_timeout", 0, NULL) != SG_OK)
        rc = SG_ERR_DB;
    sg_pg_release(pool, c);
    return rc == SG_OK ? 0 : -1;
}

static void drop_redis_keys(sg_redis *r, const char *schema)
{
    char pattern[160], cursor[32] = "0";
    snprintf(pattern, sizeof(pattern), "sg:%s:*", schema);
    do {
        redisReply *rep = sg_redis_cmd(r, "SCAN %s MATCH %s COUNT 1000", cursor, pattern);
        if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
            if (rep)
                freeReplyObject(rep);
            return;
        }
        snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
        for (size_t i = 0; i < rep->element[1]->elements; i++) {
            redisReply *d = sg_redis_cmd(r, "UNLINK %s", rep->element[1]->element[i]->str);
            if (d)
                freeReplyObject(d);
        }
        freeReplyObject(rep);
    } while (strcmp(cursor, "0") != 0);
}

/* Latencies and counters of one series of measured selections. */
typedef struct series {
    const char *label;
    double *lat, *work;   /* ms, room for count */
    int n;
    long shortfall, rejected, windows, paired;
} series;

static int series_init(series *x, const char *label, int count)
{
    memset(x, 0, sizeof(*x));
    x->label = label;
    x->lat = malloc((size_t)count * sizeof(*x->lat));
    x->work = malloc((size_t)count * sizeof(*x->work));
    return x->lat && x->work ? 0 : -1;
}

static void series_free(series *x)
{
    free(x->lat);
    free(x->work);
}

/* Runs k selections; measured ones (into x) unless x is NULL (warm-up). */
static int run_batch(rv_svc *svc, sg_pg_pool *pool, long n, int k, int seats, const char *tag, rv_rng *rng,
                     int *case_seq, series *x)
{
    for (int i = 0; i < k; i++) {
        char case_id[64], ex1[32], ex2[32];
        const char *exclude[2] = {ex1, ex2};
        rv_panel_req req;
        bench_tx b = {svc, &req, {0}, 0};
        double t0;

        memset(&req, 0, sizeof(req));
        snprintf(case_id, sizeof(case_id), "bench-%d", (*case_seq)++);
        /* A reporter and an owner to exclude, as real requests have. */
        snprintf(ex1, sizeof(ex1), "u%lu", (unsigned long)(rv_rng_next(rng) % (uint64_t)n) + 1);
        snprintf(ex2, sizeof(ex2), "u%lu", (unsigned long)(rv_rng_next(rng) % (uint64_t)n) + 1);
        req.case_id = case_id;
        req.seats = seats;
        req.report_type = "comment";
        req.exclude = exclude;
        req.nexclude = 2;
        if (tag && rv_tags_from_csv(tag, &req.tags))
            return -1;
        t0 = mono();
        if (sg_pg_tx(pool, SG_TX_READ_COMMITTED, select_tx, &b) != SG_OK) {
            fprintf(stderr, "selection failed\n");
            rv_panel_result_free(&b.res);
            return -1;
        }
        if (x) {
            x->lat[x->n] = (mono() - t0) * 1000.0;
            x->work[x->n] = (b.done - t0) * 1000.0;
            x->n++;
            x->shortfall += b.res.shortfall;
            x->rejected += b.res.rejected;
            x->paired += b.res.paired;
            x->windows += b.res.windows;
        }
        rv_panel_result_free(&b.res);
    }
    return 0;
}

static void report(series *x, long n, int seats)
{
    int count = x->n;
    if (count == 0)
        return;
    qsort(x->lat, (size_t)count, sizeof(*x->lat), cmp_double);
    qsort(x->work, (size_t)count, sizeof(*x->work), cmp_double);
    /* The first figures are whole transactions including the durable
     * COMMIT (one WAL flush), as the consumer pays them; "before-commit"
     * is the selection work alone. */
    printf("%s n=%ld p50=%.2fms p95=%.2fms p99=%.2fms max=%.2fms | before-commit p50=%.2fms p95=%.2fms p99=%.2fms"
           " | selections=%d seats=%d windows/selection=%.2f shortfall=%ld rechecks_refused=%ld pair_refused=%ld\n",
           x->label, n, pct(x->lat, count, 0.50), pct(x->lat, count, 0.95), pct(x->lat, count, 0.99),
           x->lat[count - 1], pct(x->work, count, 0.50), pct(x->work, count, 0.95), pct(x->work, count, 0.99), count,
           seats, (double)x->windows / count, x->shortfall, x->rejected, x->paired);
    fflush(stdout);
}

/* Sets the fatigue policy (API.md's, without min_interval_s, see
 * load_pool) with the given pair limit, as a new version. */
static int set_pair_limit(sg_pg_pool *pool, int max_pairs)
{
    char sql[400];
    snprintf(sql, sizeof(sql),
             "INSERT INTO fatigue_policies (version, max_open_ballots, max_per_day, max_per_week, min_interval_s,"
             " cooldown_after_expiry_s, created_by, max_pair_cases_30d)"
             " SELECT max(version) + 1, 3, 20, 100, 0, 86400, 'bench', %d FROM fatigue_policies",
             max_pairs);
    return exec_sql(pool, sql);
}

/* The number of alternating blocks of the plain / pair-limited runs. */
#define BLOCKS 10

/* After WARMUP unmeasured selections, `count` selections without a pair
 * limit and `count` with max_pair_cases_30d = 3 (API.md's suggestion),
 * interleaved in BLOCKS blocks each so that both see the same load on a
 * shared machine; one line each. With tag, `count` more requiring it. */
static int measure(rv_svc *svc, sg_pg_pool *pool, long n, int count, int seats, const char *tag, rv_rng *rng,
                   int *case_seq)
{
    series plain, pairs, tagged;
    int rc = -1;

    if (series_init(&plain, "selection", count) || series_init(&pairs, "selection-pairs", count)
        || series_init(&tagged, "selection-tagged", count))
        goto cleanup;
    if (run_batch(svc, pool, n, WARMUP, seats, NULL, rng, case_seq, NULL))
        goto cleanup;
    for (int b = 0; b < 2 * BLOCKS; b++) {
        series *x = b % 2 ? &pairs : &plain;
        int k = count / BLOCKS + (b / 2 < count % BLOCKS);
        if (set_pair_limit(pool, b % 2 ? 3 : 0) || run_batch(svc, pool, n, k, seats, NULL, rng, case_seq, x))
            goto cleanup;
    }
    report(&plain, n, seats);
    report(&pairs, n, seats);
    if (tag) {
        if (set_pair_limit(pool, 0) || run_batch(svc, pool, n, count, seats, tag, rng, case_seq, &tagged))
            goto cleanup;
        report(&tagged, n, seats);
    }
    rc = 0;
cleanup:
    series_free(&plain);
    series_free(&pairs);
    series_free(&tagged);
    return rc;
}

static int run_size(const char *dsn, sg_redis *redis, const char *migrations, long n, int count, int seats,
                    const char *tag, int *case_seq)
{
    char schema[64], err[512], drop[128];
    sg_pg_pool *pool = NULL;
    rv_svc *svc = NULL;
    rv_rng rng;
    double t0;
    int rc = -1;

    snprintf(schema, sizeof(schema), "bench_rv_%d_%ld", (int)getpid(), n);
    snprintf(drop, sizeof(drop), "DROP SCHEMA IF EXISTS %s CASCADE", schema); /* our own [a-z0-9_] name */
    rv_rng_seed(&rng, (uint64_t)n * 7919u + (uint64_t)getpid());
    if (!(pool = sg_pg_pool_create(dsn, schema, 2, err, sizeof(err)))) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    if (sg_migrate(pool, migrations, err, sizeof(err))) {
        fprintf(stderr, "migrate: %s\n", err);
        goto cleanup;
    }
    t0 = mono();
    if (load_pool(pool, n)) {
        fprintf(stderr, "loading %ld reviewers failed\n", n);
        goto cleanup;
    }
    fprintf(stderr, "loaded %ld reviewers in %.1f s\n", n, mono() - t0);
    if (!(svc = rv_svc_init(pool, redis, NULL, schema, err, sizeof(err)))) {
        fprintf(stderr, "%s\n", err);
        goto cleanup;
    }
    if (measure(svc, pool, n, count, seats, tag, &rng, case_seq))
        goto cleanup;
    rc = 0;
cleanup:
    rv_svc_fini(svc);
    drop_redis_keys(redis, schema);
    if (exec_sql(pool, drop))
        fprintf(stderr, "could not drop schema %s\n", schema);
    sg_pg_pool_free(pool);
    return rc;
}

int main(int argc, char **argv)
{
    const char *sizes = "10000,100000,1000000", *tag = NULL;
    int count = 2000, seats = 5, case_seq = 0, rc = 0;
    char err[256];
    char *dsn, *redis_url, *migrations;
    sg_redis *redis;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--sizes") && i + 1 < argc)
            sizes = argv[++i];
        else if (!strcmp(argv[i], "--count") && i + 1 < argc)
            count = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seats") && i + 1 < argc)
            seats = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--tag") && i + 1 < argc)
            tag = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--sizes 10000,100000,1000000] [--count 2000] [--seats 5] [--tag TAG]\n",
                    argv[0]);
            return 2;
        }
    }
    if (count < 1 || seats < 1 || seats > RV_SEATS_MAX) {
        fprintf(stderr, "bad --count or --seats\n");
        return 2;
    }
    sg_log_init("bench-selection", SG_LOG_WARN);
    dsn = sg_env_strdup("SG_PG_DSN", "host=127.0.0.1 port=55432 user=sg dbname=sg");
    redis_url = sg_env_strdup("SG_REDIS_URL", "redis://127.0.0.1:56379/0");
    migrations = sg_env_strdup("SG_MIGRATIONS_DIR", "sql/reviewer");
    redis = sg_redis_create(redis_url, 500, 2, err, sizeof(err));
    if (!dsn || !redis_url || !migrations || !redis) {
        fprintf(stderr, "setup: %s\n", redis ? "out of memory" : err);
        rc = 1;
        goto cleanup;
    }
    for (const char *p = sizes; *p && rc == 0;) {
        char *end;
        long n = strtol(p, &end, 10);
        if (end == p || n < 10) {
            fprintf(stderr, "bad --sizes %s\n", sizes);
            rc = 2;
            break;
        }
        if (run_size(dsn, redis, migrations, n, count, seats, tag, &case_seq))
            rc = 1;
        p = *end == ',' ? end + 1 : end;
    }
cleanup:
    sg_redis_free(redis);
    free(dsn);
    free(redis_url);
    free(migrations);
    return rc;
}
