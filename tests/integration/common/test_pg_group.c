/* Group commit (sg/pg_group.h) against the devstack: concurrent bodies end
 * in fewer transactions than bodies, each body gets its own outcome, a
 * refused body loses its rows and its deferred rows while the others of its
 * group commit, nothing is visible before the COMMIT, and a group that
 * cannot commit runs each body alone. Needs SG_PG_DSN (scripts/devstack env). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sg/log.h"
#include "sg/pg.h"
#include "sg/pg_group.h"

#include "it_util.h"

static sg_pg_pool *pool;
static char schema[40];

static void setup(void)
{
    sg_log_init("it_pg_group", SG_LOG_WARN);
    /* Room for the observers below and for bodies rerun alone at once. */
    pool = it_schema_pool("it_pgg", 24, 0, schema, NULL);
    it_exec_ok(pool, "CREATE TABLE g (id int PRIMARY KEY, tx bigint NOT NULL)");
    it_exec_ok(pool, "CREATE TABLE gd (id int NOT NULL)");
    it_exec_ok(pool, "CREATE TABLE gc (flushes int NOT NULL, n int NOT NULL)");
    it_exec_ok(pool, "INSERT INTO gc VALUES (0, 0)");
}

static void teardown(void)
{
    it_schema_drop(pool, schema);
    pool = NULL;
}

TestSuite(pg_group, .init = setup, .fini = teardown, .timeout = 120);

enum { OK_BODY, REFUSE, IGNORED_FAILURE, RETRY_ONCE, BAD_DEFERRED_ROW, BLOCKER };

typedef struct job {
    int id, mode;
    const char *key;      /* lock key */
    sg_pg_group *g;
    atomic_int *started;  /* BLOCKER: set when its body runs */
    /* out */
    int attempts, rc, order;
    long long first_tx;   /* txid of its first attempt */
    long seen_outside;    /* rows of its transaction another connection saw before COMMIT */
    long visible_after;   /* its row seen by another connection once answered */
    int foreign_context;  /* its body ran with another caller's log context */
} job;

/* Cast to int when written: "bad" makes the whole statement fail. */
static const char defer_row[] = "INSERT INTO gd (id) SELECT x::int FROM unnest($1::text[]) x";
static const char defer_count[] = "UPDATE gc SET flushes = flushes + 1, n = n + cardinality($1::text[])";

static long outside_count(const char *sql, const char *arg)
{
    sg_pg *o = sg_pg_acquire(pool, 5000);
    long v = -1;
    if (!o)
        return -1;
    PGresult *res = sg_pg_query(o, sql, 1, SG_P(arg));
    if (sg_pg_ok(res))
        v = atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    sg_pg_release(pool, o);
    return v;
}

static atomic_int run_seq;

static int body(sg_pg *c, void *arg)
{
    job *j = arg;
    char id[16], tx[24];
    snprintf(id, sizeof id, "%d", j->id);
    if (j->attempts++ == 0)
        j->order = atomic_fetch_add(&run_seq, 1);
    /* Wherever it runs, a body logs (and stamps its events) as its caller. */
    char rid[32];
    snprintf(rid, sizeof rid, "req-%d", j->id);
    j->foreign_context += !sg_log_request_id() || strcmp(sg_log_request_id(), rid) != 0;
    PGresult *res = sg_pg_query(c, "INSERT INTO g (id, tx) VALUES ($1::int, txid_current()) RETURNING tx", 1,
                                SG_P(id));
    if (!sg_pg_ok(res)) {
        PQclear(res);
        return sg_pg_err(c);
    }
    snprintf(tx, sizeof tx, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if (j->attempts == 1)
        j->first_tx = atoll(tx);
    if (sg_pg_defer(c, defer_row, 1, SG_P(j->mode == BAD_DEFERRED_ROW ? "bad" : id)) != SG_OK ||
        sg_pg_defer(c, defer_count, 1, SG_P(id)) != SG_OK)
        return SG_ERR_DB;
    /* Nothing of the transaction, this body's row or an earlier body's, is
     * visible outside it yet. */
    long seen = outside_count("SELECT count(*) FROM g WHERE tx = $1::bigint", tx);
    j->seen_outside += seen != 0;
    switch (j->mode) {
    case BLOCKER:
        atomic_store(j->started, 1);
        return sg_pg_exec(c, "SELECT pg_sleep(0.4)", 0, NULL);
    case REFUSE:
        return 7;
    case IGNORED_FAILURE:
        res = sg_pg_query(c, "SELECT 1/0", 0, NULL);
        PQclear(res);
        return SG_OK;
    case RETRY_ONCE:
        return j->attempts == 1 ? SG_ERR_RETRY : SG_OK;
    default:
        return SG_OK;
    }
}

static void *submit(void *arg)
{
    job *j = arg;
    char id[16], rid[32];
    snprintf(rid, sizeof rid, "req-%d", j->id);
    sg_log_set_context(rid, NULL);
    j->rc = sg_pg_group_tx(j->g, j->key, body, j);
    if (!sg_log_request_id() || strcmp(sg_log_request_id(), rid) != 0)
        j->foreign_context++; /* a leader got its own context back */
    snprintf(id, sizeof id, "%d", j->id);
    j->visible_after = outside_count("SELECT count(*) FROM g WHERE id = $1::int", id);
    return NULL;
}

/* Runs a blocker body first (so that the jobs queue up behind it), then the
 * n jobs from n threads at once. */
static void run_round(sg_pg_group *g, job *jobs, int n, int blocker_id)
{
    atomic_int started;
    job blocker = {.id = blocker_id, .mode = BLOCKER, .g = g, .started = &started};
    pthread_t bt, t[64];
    atomic_init(&started, 0);
    cr_assert_eq(pthread_create(&bt, NULL, submit, &blocker), 0);
    while (!atomic_load(&started))
        usleep(1000);
    for (int i = 0; i < n; i++) {
        jobs[i].g = g;
        cr_assert_eq(pthread_create(&t[i], NULL, submit, &jobs[i]), 0);
    }
    pthread_join(bt, NULL);
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(blocker.rc, SG_OK);
}

static long count_id(const char *table, int id)
{
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE id = %d", table, id);
    return it_scalar(pool, sql);
}

Test(pg_group, concurrent_bodies_share_transactions_with_their_own_outcomes)
{
    /* One group at a time: 12 bodies queued behind the blocker make a group
     * of 8 and one of 4. */
    sg_pg_group *g = sg_pg_group_create(pool, 8, 1);
    job jobs[12];
    sg_pg_group_stats st;
    cr_assert_not_null(g);
    for (int i = 0; i < 12; i++)
        jobs[i] = (job){.id = i + 1, .mode = i == 2 ? REFUSE : i == 5 ? IGNORED_FAILURE : i == 8 ? RETRY_ONCE : OK_BODY};
    run_round(g, jobs, 12, 100);
    sg_pg_group_stats_get(g, &st);

    for (int i = 0; i < 12; i++) {
        job *j = &jobs[i];
        int want = j->mode == REFUSE ? 7 : j->mode == IGNORED_FAILURE ? SG_ERR_DB : SG_OK;
        int kept = want == SG_OK;
        cr_expect_eq(j->rc, want, "job %d (mode %d): rc %d", j->id, j->mode, j->rc);
        cr_expect_eq(count_id("g", j->id), kept, "job %d: its row", j->id);
        cr_expect_eq(count_id("gd", j->id), kept, "job %d: its deferred row", j->id);
        cr_expect_eq(j->seen_outside, 0, "job %d: rows visible before COMMIT", j->id);
        cr_expect_eq(j->foreign_context, 0, "job %d: ran or returned with another caller's log context", j->id);
        if (kept)
            cr_expect_eq(j->visible_after, 1, "job %d answered before its row was visible", j->id);
    }
    cr_expect_eq(jobs[8].attempts, 2, "the body that asked for a retry ran again");
    /* The refused body's group committed the others: rolled back alone. */
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM g WHERE tx = %lld", jobs[2].first_tx);
    cr_expect_gt(it_scalar(pool, sql), 0, "the refused body's group committed nothing else");
    snprintf(sql, sizeof sql, "SELECT count(*) FROM g WHERE tx = %lld", jobs[5].first_tx);
    cr_expect_gt(it_scalar(pool, sql), 0, "the failed statement's group committed nothing else");

    long rows = it_scalar(pool, "SELECT count(*) FROM g"), txs = it_scalar(pool, "SELECT count(DISTINCT tx) FROM g");
    cr_expect_eq(rows, 11, "10 bodies and the blocker, once each");
    cr_expect_lt(txs, 6, "%ld transactions for %ld rows: not grouped", txs, rows);
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM gd"), 11);
    cr_expect_eq(it_scalar(pool, "SELECT n FROM gc"), 11, "deferred rows of refused bodies were written");
    cr_expect_eq(it_scalar(pool, "SELECT flushes FROM gc"), txs, "one deferred statement per transaction");
    cr_expect_eq(st.items, 13, "blocker + 12 bodies (the retried one once)");
    cr_expect_lt(st.groups, 6);
    cr_expect_geq(st.alone, 1, "the retried body ran alone");
    sg_pg_group_free(g);
}

Test(pg_group, group_that_cannot_commit_runs_each_body_alone)
{
    sg_pg_group *g = sg_pg_group_create(pool, 8, 1);
    job jobs[6];
    sg_pg_group_stats st;
    cr_assert_not_null(g);
    for (int i = 0; i < 6; i++)
        jobs[i] = (job){.id = 200 + i, .mode = i == 3 ? BAD_DEFERRED_ROW : OK_BODY};
    run_round(g, jobs, 6, 299);
    sg_pg_group_stats_get(g, &st);
    for (int i = 0; i < 6; i++) {
        int kept = i != 3;
        cr_expect_eq(jobs[i].rc, kept ? SG_OK : SG_ERR_DB, "job %d: rc %d", jobs[i].id, jobs[i].rc);
        cr_expect_eq(count_id("g", jobs[i].id), kept, "job %d: its row", jobs[i].id);
        cr_expect_eq(count_id("gd", jobs[i].id), kept, "job %d: its deferred row", jobs[i].id);
        cr_expect_eq(jobs[i].attempts, 2, "job %d ran in its group, then alone", jobs[i].id);
    }
    cr_expect_eq(st.alone, 6, "every body of the failed group ran again alone");
    cr_expect_eq(it_scalar(pool, "SELECT count(DISTINCT tx) FROM g WHERE id BETWEEN 200 AND 205"), 5);
    sg_pg_group_free(g);
}

Test(pg_group, one_item_per_group_is_one_transaction_per_body)
{
    sg_pg_group *g = sg_pg_group_create(pool, 1, 1);
    job jobs[6];
    sg_pg_group_stats st;
    cr_assert_not_null(g);
    for (int i = 0; i < 6; i++)
        jobs[i] = (job){.id = 300 + i, .mode = i == 1 ? REFUSE : OK_BODY};
    run_round(g, jobs, 6, 399);
    sg_pg_group_stats_get(g, &st);
    for (int i = 0; i < 6; i++)
        cr_expect_eq(jobs[i].rc, i == 1 ? 7 : SG_OK);
    cr_expect_eq(it_scalar(pool, "SELECT count(DISTINCT tx) FROM g WHERE id BETWEEN 300 AND 399"), 6);
    cr_expect_eq(st.groups, 7);
    cr_expect_eq(st.items, 7);
    cr_expect_null(sg_pg_group_create(pool, 65, 1));
    cr_expect_null(sg_pg_group_create(pool, 8, 0));
    sg_pg_group_free(g);
}

Test(pg_group, bodies_of_a_group_run_in_lock_key_order)
{
    static const char *const keys[] = {"e", "b", NULL, "d", "a", "c"};
    sg_pg_group *g = sg_pg_group_create(pool, 8, 1);
    job jobs[6];
    cr_assert_not_null(g);
    for (int i = 0; i < 6; i++)
        jobs[i] = (job){.id = 400 + i, .key = keys[i]};
    run_round(g, jobs, 6, 499);
    /* NULL first, then a..e */
    static const int want[] = {5, 2, 0, 4, 1, 3};
    for (int i = 0; i < 6; i++) {
        cr_expect_eq(jobs[i].rc, SG_OK);
        cr_expect_eq(jobs[i].first_tx, jobs[0].first_tx, "one group");
        cr_expect_eq(jobs[i].order - jobs[2].order, want[i] - want[2], "key %s ran at %d", keys[i] ? keys[i] : "NULL",
                     jobs[i].order - jobs[2].order);
    }
    sg_pg_group_free(g);
}
