/* Outbox relay + inbox against the devstack: a relay that crashes between
 * send and mark, a second relay that re-sends, and a consumer whose handler
 * still runs exactly once per event, in order per key. Needs SG_PG_DSN and
 * SG_KAFKA_BROKERS (scripts/devstack env). */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sg/inbox.h"
#include "sg/kafka.h"
#include "sg/log.h"
#include "sg/outbox.h"
#include "sg/pg.h"

#include "it_util.h"

#define N 200
#define KEYS 5
#define TOPIC "it.events"

static sg_pg_pool *pool;
static const char *dsn, *brokers;
static char schema[40], prefix[40];

static void setup(void)
{
    unsigned r;
    brokers = it_brokers();
    dsn = getenv("SG_PG_DSN");
    sg_log_init("it_outbox", SG_LOG_ERROR);
    pool = it_schema_pool("it_outbox", 4, 1, schema, &r);
    snprintf(prefix, sizeof prefix, "it%08x.", r);
    it_exec_ok(pool, "CREATE TABLE handled (n bigserial PRIMARY KEY, event_id uuid NOT NULL, key text, seq int)");
    /* What write_all wrote: the relay deletes the rows it published. */
    it_exec_ok(pool, "CREATE TABLE written (id bigint PRIMARY KEY, event_id uuid NOT NULL)");
}

static void teardown(void)
{
    it_schema_drop(pool, schema);
}

TestSuite(outbox, .init = setup, .fini = teardown, .timeout = 300);

/* ---- writing events --------------------------------------------------------- */

typedef struct write_ctx {
    int first, count;
} write_ctx;

static int write_events(sg_pg *c, void *arg)
{
    write_ctx *w = arg;
    for (int i = w->first; i < w->first + w->count; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i % KEYS);
        json_t *p = json_pack("{s:s, s:i}", "key", key, "seq", i / KEYS);
        int rc = sg_outbox_add(c, TOPIC, key, "it.happened", p, i % 2 ? "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" : NULL);
        json_decref(p);
        if (rc != SG_OK)
            return rc;
    }
    return SG_OK;
}

static void write_all(void)
{
    for (int first = 0; first < N; first += 10) {
        write_ctx w = {first, 10};
        cr_assert_eq(sg_pg_tx(pool, SG_TX_READ_COMMITTED, write_events, &w), SG_OK);
    }
    it_exec_ok(pool, "INSERT INTO written SELECT id, event_id FROM outbox ON CONFLICT DO NOTHING");
}

/* ---- the handler ------------------------------------------------------------- */

typedef struct consume_ctx {
    atomic_int seen;  /* messages read from Kafka */
    atomic_int calls; /* handler calls (before dedup by the tx) */
    atomic_int bad;   /* messages not in the wire format of outbox.h */
} consume_ctx;

/* value = payload + event_id + occurred_at; headers event_id, event_type,
 * traceparent (when the row had one). */
static int wire_format_ok(const sg_kafka_msg *m, const json_t *payload)
{
    const char *id = json_string_value(json_object_get(payload, "event_id"));
    const char *at = json_string_value(json_object_get(payload, "occurred_at"));
    const char *key = json_string_value(json_object_get(payload, "key"));
    long long seq = json_integer_value(json_object_get(payload, "seq"));
    int i = (int)seq * KEYS + (key ? atoi(key + 1) : 0);
    return id && m->event_id && strcmp(id, m->event_id) == 0 && at && strlen(at) == 24 && at[10] == 'T' &&
           at[23] == 'Z' && m->event_type && strcmp(m->event_type, "it.happened") == 0 && key &&
           m->key_len == strlen(key) && memcmp(m->key, key, m->key_len) == 0 &&
           (i % 2 ? m->traceparent && strncmp(m->traceparent, "00-0af7", 7) == 0 : m->traceparent == NULL);
}

static int record(sg_pg *c, const sg_kafka_msg *m, const json_t *payload, void *arg)
{
    consume_ctx *cc = arg;
    char seq[16];
    atomic_fetch_add(&cc->calls, 1);
    if (!wire_format_ok(m, payload))
        atomic_fetch_add(&cc->bad, 1);
    snprintf(seq, sizeof seq, "%lld", json_integer_value(json_object_get(payload, "seq")));
    const char *id = m->event_id ? m->event_id : json_string_value(json_object_get(payload, "event_id"));
    return sg_pg_exec(c, "INSERT INTO handled (event_id, key, seq) VALUES ($1::uuid, $2, $3::int)", 3,
                      SG_P(id, json_string_value(json_object_get(payload, "key")), seq));
}

static int consume(const sg_kafka_msg *m, void *arg)
{
    consume_ctx *cc = arg;
    int rc = sg_inbox_process(pool, m, record, cc);
    if (rc == 0)
        atomic_fetch_add(&cc->seen, 1);
    return rc;
}

/* ---- tests ------------------------------------------------------------------- */

static void run_crashing_relay(void)
{
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        /* Only the relay's own connection and producer are used here; the
         * parent's pool connections are left alone (and _exit skips any
         * cleanup that could touch them). */
        char err[512];
        setenv("SG_TEST_RELAY_CRASH_AFTER_SEND", "1", 1);
        sg_outbox_relay *r = sg_outbox_relay_start(dsn, schema, brokers, prefix, err, sizeof err);
        if (!r)
            _exit(3);
        sleep(120);
        _exit(4);
    }
    int status = 0;
    pid_t w = 0;
    long long end = it_now_ms() + 120000;
    while (it_now_ms() < end && (w = waitpid(pid, &status, WNOHANG)) == 0)
        usleep(50000);
    if (w == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 137, "crashing relay ended with status %d", status);
}

Test(outbox, crash_between_send_and_mark_is_handled_exactly_once)
{
    write_all();
    cr_assert_eq(it_scalar(pool, "SELECT count(*) FROM outbox WHERE published_at IS NULL"), N);

    /* 1. A relay sends all N, gets every delivery report, and dies. */
    run_crashing_relay();
    cr_assert_eq(it_scalar(pool, "SELECT count(*) FROM outbox WHERE published_at IS NULL"), N,
                 "the crashed relay marked rows published");

    /* 2. A normal relay takes over and sends them all again. */
    char err[512];
    unsetenv("SG_TEST_RELAY_CRASH_AFTER_SEND");
    sg_outbox_relay *r = sg_outbox_relay_start(dsn, schema, brokers, prefix, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    long long end = it_now_ms() + 60000;
    while (it_now_ms() < end && sg_outbox_relay_published(r) < N)
        usleep(50000);
    cr_assert_eq(sg_outbox_relay_published(r), N);
    cr_expect(sg_outbox_relay_is_leader(r));
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM outbox WHERE published_at IS NULL"), 0);

    /* 3. A consumer reads 2N messages and handles N events, once each. */
    consume_ctx cc;
    atomic_init(&cc.seen, 0);
    atomic_init(&cc.calls, 0);
    atomic_init(&cc.bad, 0);
    char topic[128], group[64];
    sg_topic(topic, sizeof topic, prefix, TOPIC);
    snprintf(group, sizeof group, "%sgroup", prefix);
    const char *topics[] = {topic};
    sg_consumer *c = sg_consumer_start(brokers, group, topics, 1, consume, &cc, err, sizeof err);
    cr_assert_not_null(c, "%s", err);
    end = it_now_ms() + 90000;
    while (it_now_ms() < end && atomic_load(&cc.seen) < 2 * N)
        usleep(50000);
    cr_expect_eq(atomic_load(&cc.seen), 2 * N, "Kafka should hold each event twice");
    cr_expect_gt(sg_consumer_last_processed(c), 1.0e9);
    sg_consumer_stop(c);
    sg_outbox_relay_stop(r);

    cr_expect_eq(atomic_load(&cc.calls), N);
    cr_expect_eq(atomic_load(&cc.bad), 0, "messages not in the outbox wire format");
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM handled"), N);
    cr_expect_eq(it_scalar(pool, "SELECT count(DISTINCT event_id) FROM handled"), N);
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM inbox"), N);
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM handled h JOIN written o USING (event_id)"), N);
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM outbox"), 0, "published rows are deleted");
    /* Per key, the handler saw seq 0, 1, 2, ... in that order. */
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM (SELECT seq, row_number() OVER (PARTITION BY key ORDER BY n) - 1 AS pos"
                        " FROM handled) s WHERE seq <> pos"),
                 0, "events of one key were handled out of order");
}

static int noop(sg_pg *c, const sg_kafka_msg *m, const json_t *payload, void *arg)
{
    (void)m;
    (void)payload;
    atomic_fetch_add((atomic_int *)arg, 1);
    return sg_pg_exec(c, "INSERT INTO handled (event_id) VALUES ($1::uuid)", 1,
                      SG_P(json_string_value(json_object_get(payload, "event_id"))));
}

static int refuse(sg_pg *c, const sg_kafka_msg *m, const json_t *payload, void *arg)
{
    int rc = noop(c, m, payload, arg);
    return rc == SG_OK ? 42 : rc;
}

static int retry_later(sg_pg *c, const sg_kafka_msg *m, const json_t *payload, void *arg)
{
    int rc = noop(c, m, payload, arg);
    return rc == SG_OK ? SG_ERR_RETRY : rc;
}

static sg_kafka_msg msg(const char *value, const char *event_id)
{
    sg_kafka_msg m = {.topic = "it.direct", .value = value, .len = strlen(value), .event_id = event_id};
    return m;
}

Test(outbox, inbox_dedups_direct_redelivery)
{
    atomic_int calls;
    atomic_init(&calls, 0);
    const char *v = "{\"event_id\":\"5b0c1f9e-6a43-4c3e-9b8e-0c2f7a9d1e11\",\"x\":1}";

    /* The id from the payload when there is no header. */
    sg_kafka_msg m = msg(v, NULL);
    cr_expect_eq(sg_inbox_process(pool, &m, noop, &calls), 0);
    cr_expect_eq(sg_inbox_process(pool, &m, noop, &calls), 0);
    cr_expect_eq(atomic_load(&calls), 1);
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM handled"), 1);

    /* Header and payload name the same event: still a duplicate. */
    m = msg(v, "5b0c1f9e-6a43-4c3e-9b8e-0c2f7a9d1e11");
    cr_expect_eq(sg_inbox_process(pool, &m, noop, &calls), 0);
    cr_expect_eq(atomic_load(&calls), 1);
}

Test(outbox, inbox_drops_invalid_and_retries_transient)
{
    atomic_int calls;
    atomic_init(&calls, 0);
    const char *v2 = "{\"event_id\":\"6b0c1f9e-6a43-4c3e-9b8e-0c2f7a9d1e12\"}";
    const char *v3 = "{\"event_id\":\"7b0c1f9e-6a43-4c3e-9b8e-0c2f7a9d1e13\"}";

    /* Unparseable or id-less messages are dropped (0) without a call. */
    sg_kafka_msg m = msg("not json", "8b0c1f9e-6a43-4c3e-9b8e-0c2f7a9d1e14");
    cr_expect_eq(sg_inbox_process(pool, &m, noop, &calls), 0);
    m = msg("[1,2]", "8b0c1f9e-6a43-4c3e-9b8e-0c2f7a9d1e14");
    cr_expect_eq(sg_inbox_process(pool, &m, noop, &calls), 0);
    m = msg("{\"x\":1}", NULL);
    cr_expect_eq(sg_inbox_process(pool, &m, noop, &calls), 0);
    m = msg("{\"event_id\":\"not-a-uuid\"}", NULL);
    cr_expect_eq(sg_inbox_process(pool, &m, noop, &calls), 0);
    cr_expect_eq(atomic_load(&calls), 0);

    /* A refused event is rolled back, recorded, and not offered again. */
    m = msg(v2, NULL);
    cr_expect_eq(sg_inbox_process(pool, &m, refuse, &calls), 0);
    cr_expect_eq(sg_inbox_process(pool, &m, refuse, &calls), 0);
    cr_expect_eq(atomic_load(&calls), 1);
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM handled"), 0);
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM inbox WHERE event_id = '6b0c1f9e-6a43-4c3e-9b8e-0c2f7a9d1e12'"), 1);

    /* A transient failure leaves no trace, so the event comes back. */
    atomic_store(&calls, 0);
    m = msg(v3, NULL);
    cr_expect_eq(sg_inbox_process(pool, &m, retry_later, &calls), -1);
    cr_expect_gt(atomic_load(&calls), 1, "SG_ERR_RETRY should be retried inside sg_pg_tx");
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM inbox WHERE event_id = '7b0c1f9e-6a43-4c3e-9b8e-0c2f7a9d1e13'"), 0);
    atomic_store(&calls, 0);
    cr_expect_eq(sg_inbox_process(pool, &m, noop, &calls), 0);
    cr_expect_eq(atomic_load(&calls), 1);
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM handled"), 1);
}

/* A relay of the test's schema, once it leads (asserted). */
static sg_outbox_relay *start_leader(void)
{
    char err[512];
    sg_outbox_relay *r = sg_outbox_relay_start(dsn, schema, brokers, prefix, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    long long end = it_now_ms() + 10000;
    while (it_now_ms() < end && !sg_outbox_relay_is_leader(r))
        usleep(20000);
    cr_assert(sg_outbox_relay_is_leader(r));
    return r;
}

Test(outbox, one_leader_per_schema)
{
    char err[512];
    sg_outbox_relay *a = start_leader();
    long long end;
    sg_outbox_relay *b = sg_outbox_relay_start(dsn, schema, brokers, prefix, err, sizeof err);
    cr_assert_not_null(b, "%s", err);
    usleep(1500000);
    cr_expect(!sg_outbox_relay_is_leader(b), "two leaders");

    /* The follower takes over within its 1 s election retry. */
    sg_outbox_relay_stop(a);
    end = it_now_ms() + 5000;
    while (it_now_ms() < end && !sg_outbox_relay_is_leader(b))
        usleep(20000);
    cr_expect(sg_outbox_relay_is_leader(b), "no failover");

    /* And it publishes what is written now, woken by NOTIFY. */
    write_ctx w = {0, 3};
    cr_assert_eq(sg_pg_tx(pool, SG_TX_READ_COMMITTED, write_events, &w), SG_OK);
    end = it_now_ms() + 10000;
    while (it_now_ms() < end && sg_outbox_relay_published(b) < 3)
        usleep(20000);
    cr_expect_eq(sg_outbox_relay_published(b), 3);
    cr_expect_eq(sg_outbox_relay_backlog(b), 0);
    sg_outbox_relay_stop(b);
}

Test(outbox, add_validates_and_wire_format)
{
    sg_pg *c = sg_pg_acquire(pool, 5000);
    cr_assert_not_null(c);
    json_t *arr = json_array();
    cr_expect_eq(sg_outbox_add(c, TOPIC, "k", "t", arr, NULL), SG_ERR_DB);
    json_decref(arr);
    json_t *p = json_pack("{s:s}", "case_id", "c-1");
    cr_expect_eq(sg_outbox_add(c, TOPIC, NULL, "t", p, NULL), SG_OK);
    json_decref(p);
    PGresult *res = sg_pg_query(c,
                                "SELECT key IS NULL, payload->>'case_id', event_id IS NOT NULL,"
                                " traceparent IS NULL FROM outbox",
                                0, NULL);
    cr_assert(sg_pg_ok(res));
    cr_assert_eq(PQntuples(res), 1);
    cr_expect_str_eq(PQgetvalue(res, 0, 0), "t");
    cr_expect_str_eq(PQgetvalue(res, 0, 1), "c-1");
    cr_expect_str_eq(PQgetvalue(res, 0, 2), "t");
    cr_expect_str_eq(PQgetvalue(res, 0, 3), "t");
    PQclear(res);
    sg_pg_release(pool, c);
}

/* Inside sg_pg_tx the events are written at the end, in one statement: in
 * the order they were added, NULL keys kept, and not at all when the body
 * fails. */
static int add_three_then(sg_pg *c, void *arg)
{
    for (int i = 0; i < 3; i++) {
        json_t *p = json_pack("{s:i}", "n", i);
        int rc = sg_outbox_add(c, "it.deferred", i == 1 ? NULL : "k\"x,{}", "it.order", p, NULL);
        json_decref(p);
        if (rc != SG_OK)
            return rc;
    }
    return *(int *)arg;
}

Test(outbox, tx_events_written_in_order_at_commit_only)
{
    int fail = 42, ok = SG_OK;
    cr_assert_eq(sg_pg_tx(pool, SG_TX_READ_COMMITTED, add_three_then, &fail), 42);
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM outbox WHERE topic = 'it.deferred'"), 0, "rolled back with the body");
    cr_assert_eq(sg_pg_tx(pool, SG_TX_READ_COMMITTED, add_three_then, &ok), SG_OK);
    sg_pg *c = sg_pg_acquire(pool, 5000);
    cr_assert_not_null(c);
    PGresult *res = sg_pg_query(c, "SELECT payload->>'n', coalesce(key, '<null>') FROM outbox"
                                   " WHERE topic = 'it.deferred' ORDER BY id", 0, NULL);
    cr_assert(sg_pg_ok(res));
    cr_assert_eq(PQntuples(res), 3);
    for (int i = 0; i < 3; i++) {
        char n[16];
        snprintf(n, sizeof n, "%d", i);
        cr_expect_str_eq(PQgetvalue(res, i, 0), n);
        cr_expect_str_eq(PQgetvalue(res, i, 1), i == 1 ? "<null>" : "k\"x,{}");
    }
    PQclear(res);
    sg_pg_release(pool, c);
}

/* Notifications on the schema's channel that reached listener by now. */
static int notifications(PGconn *listener)
{
    int n = 0;
    PGnotify *x;
    cr_assert(PQconsumeInput(listener), "%s", PQerrorMessage(listener));
    while ((x = PQnotifies(listener)) != NULL) {
        n++;
        PQfreemem(x);
    }
    return n;
}

static int add_one(sg_pg *c, void *arg)
{
    (void)arg;
    json_t *p = json_pack("{s:s}", "case_id", "c-autocommit");
    int rc = sg_outbox_add(c, TOPIC, "k", "t", p, NULL);
    json_decref(p);
    return rc;
}

/* A relay attached to the pool is woken in-process by the commits of its
 * own process and no NOTIFY is sent (it would serialise commits) while it
 * leads; a process whose relay follows still NOTIFYs, so the leader
 * elsewhere hears of its commits. */
Test(outbox, commits_wake_the_attached_leader_without_notify)
{
    char err[512], channel[SG_OUTBOX_CHANNEL_MAX], sql[128];
    PGconn *listener = PQconnectdb(dsn);
    cr_assert_eq(PQstatus(listener), CONNECTION_OK, "%s", PQerrorMessage(listener));
    snprintf(sql, sizeof sql, "LISTEN %s", sg_outbox_channel(schema, channel));
    PGresult *res = PQexec(listener, sql);
    cr_assert_eq(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);

    sg_outbox_relay *a = start_leader();
    long long end;
    sg_outbox_relay_attach(a, pool);
    sg_outbox_relay_set_linger(a, 50); /* lingering loses nothing */

    /* In a transaction and in autocommit: published, and not one NOTIFY. */
    write_ctx w = {0, 3};
    cr_assert_eq(sg_pg_tx(pool, SG_TX_READ_COMMITTED, write_events, &w), SG_OK);
    cr_assert_eq(sg_pg_run(pool, add_one, NULL), SG_OK);
    end = it_now_ms() + 10000;
    while (it_now_ms() < end && sg_outbox_relay_published(a) < 4)
        usleep(20000);
    cr_expect_eq(sg_outbox_relay_published(a), 4);
    cr_expect_eq(notifications(listener), 0, "a commit woken in-process must not NOTIFY");
    /* Its time per stage (the sg_outbox_relay_* metrics): each batch that
     * found rows was read, delivered and marked, and lingered 50 ms after. */
    long batches = sg_outbox_relay_batches(a);
    cr_expect(batches >= 1 && batches <= 4, "%ld batches for 4 events", batches);
    for (int s = SG_RELAY_SCAN; s <= SG_RELAY_MARK; s++)
        cr_expect_gt(sg_outbox_relay_stage_us(a, s), 0, "no time in stage %s", sg_outbox_relay_stage_name(s));
    end = it_now_ms() + 2000;
    while (it_now_ms() < end && sg_outbox_relay_stage_us(a, SG_RELAY_LINGER) < 50000)
        usleep(20000);
    cr_expect_geq(sg_outbox_relay_stage_us(a, SG_RELAY_LINGER), 50000, "the linger after a batch is counted");
    cr_expect_str_eq(sg_outbox_relay_stage_name(SG_RELAY_DELIVER), "deliver");
    /* A rolled-back transaction neither writes nor wakes anything. */
    int fail = 42;
    cr_assert_eq(sg_pg_tx(pool, SG_TX_READ_COMMITTED, add_three_then, &fail), 42);

    /* This process's relay now follows (the leader is "another replica"):
     * its commits NOTIFY, and the leader publishes them. */
    sg_outbox_relay *b = sg_outbox_relay_start(dsn, schema, brokers, prefix, err, sizeof err);
    cr_assert_not_null(b, "%s", err);
    sg_outbox_relay_attach(a, NULL);
    sg_outbox_relay_attach(b, pool);
    cr_expect(!sg_outbox_relay_is_leader(b));
    write_ctx w2 = {3, 3};
    cr_assert_eq(sg_pg_tx(pool, SG_TX_READ_COMMITTED, write_events, &w2), SG_OK);
    int heard = 0;
    end = it_now_ms() + 10000;
    while (it_now_ms() < end && (!heard || sg_outbox_relay_published(a) < 7)) {
        heard += notifications(listener);
        usleep(20000);
    }
    cr_expect_gt(heard, 0, "a follower's commit must NOTIFY the leader");
    cr_expect_eq(sg_outbox_relay_published(a), 7);
    cr_expect_eq(sg_outbox_relay_published(b), 0);
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM outbox WHERE published_at IS NULL"), 0);
    sg_outbox_relay_stop(b);
    sg_outbox_relay_stop(a);
    PQfinish(listener);
}

Test(outbox, relay_reconnects_and_reelects_after_postgres_restart, .timeout = 900)
{
    sg_outbox_relay *r = start_leader();
    long long end;

    cr_assert_eq(it_devstack("restart postgres"), 0, "scripts/devstack restart postgres failed");

    write_ctx w = {0, 3};
    int rc = SG_ERR_DB;
    for (int i = 0; i < 50 && rc != SG_OK; i++)
        if ((rc = sg_pg_tx(pool, SG_TX_READ_COMMITTED, write_events, &w)) != SG_OK)
            usleep(200000);
    cr_assert_eq(rc, SG_OK);
    end = it_now_ms() + 20000;
    while (it_now_ms() < end && sg_outbox_relay_published(r) < 3)
        usleep(20000);
    cr_expect_eq(sg_outbox_relay_published(r), 3, "nothing published after the restart");
    cr_expect(sg_outbox_relay_is_leader(r));
    sg_outbox_relay_stop(r);
}

/* ---- batches: many events, one transaction -------------------------------------- */

/* Records the event and the transaction that handled it; refuses (42) the
 * event whose id is in bad_refuse, fails for a moment (SG_ERR_RETRY) on
 * bad_retry while retries_left > 0. */
typedef struct batch_ctx {
    atomic_int calls;
    const char *bad_refuse;
    const char *bad_retry;
    atomic_int retries_left;
    atomic_int seen;      /* the Kafka test: events done */
    atomic_int batches;   /* the Kafka test: calls with more than one message */
} batch_ctx;

static int record_tx(sg_pg *c, const sg_kafka_msg *m, const json_t *payload, void *arg)
{
    batch_ctx *b = arg;
    const char *id = m->event_id ? m->event_id : json_string_value(json_object_get(payload, "event_id"));
    char seq[16];
    atomic_fetch_add(&b->calls, 1);
    snprintf(seq, sizeof seq, "%lld", json_integer_value(json_object_get(payload, "seq")));
    int rc = sg_pg_exec(c,
                        "INSERT INTO handled_tx (event_id, key, seq, txid) VALUES ($1::uuid, $2, $3::int, "
                        "txid_current())",
                        3, SG_P(id, json_string_value(json_object_get(payload, "key")), seq));
    if (rc != SG_OK)
        return rc;
    if (b->bad_refuse && strcmp(id, b->bad_refuse) == 0)
        return 42;
    if (b->bad_retry && strcmp(id, b->bad_retry) == 0 && atomic_fetch_sub(&b->retries_left, 1) > 0)
        return SG_ERR_RETRY;
    return SG_OK;
}

#define BATCH_IDS 6
#define BATCH_ID_2 "a0000000-0000-4000-8000-000000000002"
static const char *const batch_ids[BATCH_IDS] = {
    "a0000000-0000-4000-8000-000000000001", "a0000000-0000-4000-8000-000000000002",
    "a0000000-0000-4000-8000-000000000003", "a0000000-0000-4000-8000-000000000004",
    "a0000000-0000-4000-8000-000000000005", "a0000000-0000-4000-8000-000000000006",
};

/* Messages for batch_ids[0..n), values in vals (kept alive by the caller). */
static void batch_msgs(sg_kafka_msg *out, char vals[][96], size_t n)
{
    for (size_t i = 0; i < n; i++) {
        snprintf(vals[i], 96, "{\"event_id\":\"%s\",\"key\":\"k\",\"seq\":%zu}", batch_ids[i], i);
        out[i] = msg(vals[i], batch_ids[i]);
    }
}

static void batch_setup_table(void)
{
    it_exec_ok(pool, "CREATE TABLE IF NOT EXISTS handled_tx (n bigserial, event_id uuid NOT NULL, key text, seq int, txid bigint)");
    it_exec_ok(pool, "TRUNCATE handled_tx");
}

Test(outbox, inbox_batch_is_one_transaction_and_skips_duplicates)
{
    batch_ctx b = {0};
    sg_kafka_msg m[8];
    char vals[BATCH_IDS][96];
    batch_setup_table();
    batch_msgs(m, vals, 5);
    /* Event 1 was handled before; event 3 comes twice in the batch
     * (redelivery); one malformed message sits in the middle. */
    cr_assert_eq(sg_inbox_process(pool, &m[1], record_tx, &b), 0);
    atomic_store(&b.calls, 0);
    sg_kafka_msg in[7] = {m[0], m[1], m[2], msg("not json", batch_ids[5]), m[3], m[3], m[4]};
    int one_tx = 0;
    cr_expect_eq(sg_inbox_process_batch(pool, in, 7, record_tx, NULL, &b, &one_tx), 7);
    cr_expect(one_tx, "the batch should say it committed as one transaction");
    cr_expect_eq(atomic_load(&b.calls), 4, "events 0, 2, 3, 4 once each");
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM handled_tx"), 5);
    cr_expect_eq(it_scalar(pool, "SELECT count(DISTINCT event_id) FROM handled_tx"), 5);
    cr_expect_eq(it_scalar(pool, "SELECT count(DISTINCT txid) FROM handled_tx WHERE seq <> 1"), 1,
                 "the batch's events should share one transaction");
    /* In order: the events of the batch were handled as they came. */
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM (SELECT seq, lag(seq) OVER (ORDER BY n) AS prev FROM handled_tx "
                        "WHERE seq <> 1) s WHERE prev > seq"),
                 0);
    /* Again, whole: every event is a duplicate now. */
    atomic_store(&b.calls, 0);
    cr_expect_eq(sg_inbox_process_batch(pool, in, 7, record_tx, NULL, &b, NULL), 7);
    cr_expect_eq(atomic_load(&b.calls), 0);
}

Test(outbox, inbox_batch_isolates_a_refused_event)
{
    batch_ctx b = {.bad_refuse = batch_ids[2]};
    sg_kafka_msg m[BATCH_IDS];
    char vals[BATCH_IDS][96];
    batch_setup_table();
    batch_msgs(m, vals, 5);
    int one_tx = 1;
    cr_expect_eq(sg_inbox_process_batch(pool, m, 5, record_tx, NULL, &b, &one_tx), 5);
    cr_expect(!one_tx, "a batch handled one by one should say so");
    /* The batch rolled back at event 2, then each event went alone: the
     * refused one left only its inbox row, the others are in once. */
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM handled_tx"), 4);
    cr_expect_eq(it_scalar(pool, "SELECT count(DISTINCT event_id) FROM handled_tx"), 4);
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM handled_tx WHERE seq = 2"), 0);
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM inbox WHERE event_id::text LIKE 'a0000000-%'"), 5);
    cr_expect_eq(it_scalar(pool, "SELECT count(DISTINCT txid) FROM handled_tx"), 4, "one transaction each after the fall-back");
}

Test(outbox, inbox_batch_stops_before_an_event_to_retry)
{
    batch_ctx b = {.bad_retry = batch_ids[3]};
    atomic_init(&b.retries_left, 1000);
    sg_kafka_msg m[BATCH_IDS];
    char vals[BATCH_IDS][96];
    batch_setup_table();
    batch_msgs(m, vals, 6);
    /* Events 0..2 are done; 3 must be retried, and so must 4 and 5 after it
     * (order per partition). */
    cr_expect_eq(sg_inbox_process_batch(pool, m, 6, record_tx, NULL, &b, NULL), 3);
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM handled_tx"), 3);
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM inbox WHERE event_id::text LIKE 'a0000000-%'"), 3);
    atomic_store(&b.retries_left, 0);
    cr_expect_eq(sg_inbox_process_batch(pool, m + 3, 3, record_tx, NULL, &b, NULL), 3);
    cr_expect_eq(it_scalar(pool, "SELECT count(DISTINCT event_id) FROM handled_tx"), 6);
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM handled_tx"), 6);
}

static size_t consume_batch(const sg_kafka_msg *msgs, size_t n, void *arg)
{
    batch_ctx *b = arg;
    if (n > 1)
        atomic_fetch_add(&b->batches, 1);
    size_t done = sg_inbox_process_batch(pool, msgs, n, record_tx, NULL, b, NULL);
    atomic_fetch_add(&b->seen, (int)done);
    return done;
}

/* Through Kafka: a backlog is taken in batches; an event that fails for a
 * while makes the consumer go back to it (and to what followed it on its
 * partition) and nothing is lost, doubled or reordered per key. */
Test(outbox, batch_consumer_handles_a_backlog_exactly_once_in_order)
{
    char err[512], topic[128], group[64], tenth[40] = "";
    batch_setup_table();
    write_all();
    sg_outbox_relay *r = sg_outbox_relay_start(dsn, schema, brokers, prefix, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    long long end = it_now_ms() + 60000;
    while (it_now_ms() < end && sg_outbox_relay_published(r) < N)
        usleep(50000);
    cr_assert_eq(sg_outbox_relay_published(r), N);
    sg_pg *c = sg_pg_acquire(pool, 5000);
    cr_assert_not_null(c);
    PGresult *res = sg_pg_query(c, "SELECT event_id::text FROM written ORDER BY id OFFSET 10 LIMIT 1", 0, NULL);
    cr_assert(sg_pg_ok(res) && PQntuples(res) == 1);
    snprintf(tenth, sizeof tenth, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    sg_pg_release(pool, c);

    batch_ctx b = {.bad_retry = tenth};
    atomic_init(&b.retries_left, 40); /* > sg_pg_tx's own attempts: the consumer must go back */
    sg_topic(topic, sizeof topic, prefix, TOPIC);
    snprintf(group, sizeof group, "%sbatch", prefix);
    const char *topics[] = {topic};
    sg_consumer *k = sg_consumer_start_batch(brokers, group, topics, 1, 32, 0, consume_batch, &b, err, sizeof err);
    cr_assert_not_null(k, "%s", err);
    end = it_now_ms() + 90000;
    while (it_now_ms() < end && it_scalar(pool, "SELECT count(DISTINCT event_id) FROM handled_tx h JOIN inbox USING (event_id)") < N)
        usleep(100000);
    sg_consumer_stop(k);
    sg_outbox_relay_stop(r);

    cr_expect_leq(atomic_load(&b.retries_left), 0, "the failing event was not offered again and again");
    cr_expect_gt(atomic_load(&b.batches), 0, "a backlog should come in batches");
    /* Rolled-back attempts leave no rows: each event's row is there once. */
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM handled_tx"), N);
    cr_expect_eq(it_scalar(pool, "SELECT count(DISTINCT event_id) FROM handled_tx"), N);
    cr_expect_lt(it_scalar(pool, "SELECT count(DISTINCT txid) FROM handled_tx"), N, "some events should share a transaction");
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM (SELECT seq, row_number() OVER (PARTITION BY key ORDER BY n) - 1 AS pos"
                        " FROM handled_tx) s WHERE seq <> pos"),
                 0, "events of one key were handled out of order");
}

/* The apply hook records the new events with one statement; with
 * bad_refuse set it fails, as a batch with an event to drop would. */
static int apply_all(sg_pg *c, const json_t *const *payloads, size_t n, void *arg)
{
    batch_ctx *b = arg;
    const char *ids[BATCH_IDS];
    char *arr;
    for (size_t i = 0; i < n && i < BATCH_IDS; i++)
        ids[i] = json_string_value(json_object_get(payloads[i], "event_id"));
    if (n > BATCH_IDS || !(arr = sg_pg_text_array(ids, n)))
        return SG_ERR_DB;
    int rc = sg_pg_exec(c,
                        "INSERT INTO handled_tx (event_id, key, seq, txid) SELECT u::uuid, 'apply', o::int, "
                        "txid_current() FROM unnest($1::text[]) WITH ORDINALITY AS x(u, o)",
                        1, SG_P(arr));
    free(arr);
    return rc == SG_OK && b->bad_refuse ? SG_ERR_DB : rc;
}

Test(outbox, inbox_batch_apply_hook_replaces_the_handler)
{
    batch_ctx b = {0};
    sg_kafka_msg m[BATCH_IDS];
    char vals[BATCH_IDS][96];
    int one_tx = 0;
    batch_setup_table();
    batch_msgs(m, vals, 5);
    cr_assert_eq(sg_inbox_process(pool, &m[1], record_tx, &b), 0); /* a duplicate in the batch */
    atomic_store(&b.calls, 0);
    cr_expect_eq(sg_inbox_process_batch(pool, m, 5, record_tx, apply_all, &b, &one_tx), 5);
    cr_expect(one_tx);
    cr_expect_eq(atomic_load(&b.calls), 0, "the per-event handler ran beside the apply hook");
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM handled_tx WHERE key = 'apply'"), 4, "the new events, once each");
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM handled_tx WHERE key = 'apply' AND event_id = '" BATCH_ID_2 "'"), 0);
    cr_expect_eq(it_scalar(pool, "SELECT count(DISTINCT txid) FROM handled_tx WHERE key = 'apply'"), 1);

    /* A failing apply: rolled back, then each event through the handler. */
    batch_setup_table();
    it_exec_ok(pool, "DELETE FROM inbox WHERE event_id::text LIKE 'a0000000-%'");
    b.bad_refuse = "none";
    one_tx = 1;
    cr_expect_eq(sg_inbox_process_batch(pool, m, 5, record_tx, apply_all, &b, &one_tx), 5);
    cr_expect(!one_tx);
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM handled_tx WHERE key = 'apply'"), 0);
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM handled_tx WHERE key = 'k'"), 5);
    cr_expect_eq(it_scalar(pool, "SELECT count(DISTINCT txid) FROM handled_tx"), 5);
}

/* Takes of a lingering consumer: the events of each take. */
typedef struct linger_ctx {
    atomic_int takes, seen;
    atomic_int largest;
} linger_ctx;

static size_t count_take(const sg_kafka_msg *msgs, size_t n, void *arg)
{
    (void)msgs;
    linger_ctx *l = arg;
    atomic_fetch_add(&l->takes, 1);
    atomic_fetch_add(&l->seen, (int)n);
    if ((int)n > atomic_load(&l->largest))
        atomic_store(&l->largest, (int)n);
    return n;
}

/* SG_CONSUMER_LINGER_MS: a batch waits after its first event for those
 * that follow within the linger. One event is published, and three more a
 * moment later (well inside the 1 s linger): the consumer, already reading
 * the topic, hands the four over in one take. */
Test(outbox, lingering_batch_consumer_takes_what_follows_its_first_event)
{
    char err[512], topic[128], group[64];
    linger_ctx l = {0};
    sg_topic(topic, sizeof topic, prefix, TOPIC);
    snprintf(group, sizeof group, "%slinger", prefix);
    const char *topics[] = {topic};
    sg_outbox_relay *r = sg_outbox_relay_start(dsn, schema, brokers, prefix, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    sg_consumer *k = sg_consumer_start_batch(brokers, group, topics, 1, 32, 1000, count_take, &l, err, sizeof err);
    cr_assert_not_null(k, "%s", err);
    /* A first event, consumed on its own, shows the consumer has its partitions. */
    write_ctx w = {0, 1};
    cr_assert_eq(sg_pg_tx(pool, SG_TX_READ_COMMITTED, write_events, &w), SG_OK);
    long long end = it_now_ms() + 60000;
    while (it_now_ms() < end && atomic_load(&l.seen) < 1)
        usleep(20000);
    cr_assert_eq(atomic_load(&l.seen), 1);
    usleep(1500 * 1000); /* past that take's linger */
    int takes0 = atomic_load(&l.takes);

    w = (write_ctx){1, 1};
    cr_assert_eq(sg_pg_tx(pool, SG_TX_READ_COMMITTED, write_events, &w), SG_OK);
    usleep(150 * 1000); /* it reaches the consumer, which lingers */
    w = (write_ctx){2, 3};
    cr_assert_eq(sg_pg_tx(pool, SG_TX_READ_COMMITTED, write_events, &w), SG_OK);
    end = it_now_ms() + 60000;
    while (it_now_ms() < end && atomic_load(&l.seen) < 5)
        usleep(20000);
    sg_consumer_stop(k);
    sg_outbox_relay_stop(r);
    cr_expect_eq(atomic_load(&l.seen), 5);
    cr_expect_eq(atomic_load(&l.takes) - takes0, 1, "the four events came in %d takes",
                 atomic_load(&l.takes) - takes0);
    cr_expect_eq(atomic_load(&l.largest), 4);
}
