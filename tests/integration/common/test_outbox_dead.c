/* Bounded events and dead letters (issue 12, API.md "Events"): sg_outbox_add
 * refuses an event over 256 KiB; a row the broker refuses for good (larger
 * than the topic's max.message.bytes) or one over 256 KiB written by SQL is
 * moved to outbox_dead, counted, and the events behind it arrive in order.
 * Needs SG_PG_DSN and SG_KAFKA_BROKERS (scripts/devstack env). */
#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sg/clock.h"
#include "sg/inbox.h"
#include "sg/kafka.h"
#include "sg/log.h"
#include "sg/outbox.h"
#include "sg/pg.h"

#include "it_util.h"

#define TOPIC "it.dead"
#define TOPIC_MAX_BYTES "16384"

static sg_pg_pool *pool;
static const char *dsn, *brokers;
static char schema[40], prefix[40];

static void setup(void)
{
    unsigned r;
    brokers = it_brokers();
    dsn = getenv("SG_PG_DSN");
    sg_log_init("it_outbox_dead", SG_LOG_ERROR);
    pool = it_schema_pool("it_dead", 4, 1, schema, &r);
    snprintf(prefix, sizeof prefix, "itd%08x.", r);
}

static void teardown(void)
{
    it_schema_drop(pool, schema);
}

TestSuite(outbox_dead, .init = setup, .fini = teardown, .timeout = 240);

/* A topic whose max.message.bytes is far below 256 KiB (admin API). */
static void create_small_topic(const char *topic)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    cr_assert_eq(rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof errstr), RD_KAFKA_CONF_OK);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    cr_assert_not_null(rk, "%s", errstr);
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, 1, 1, errstr, sizeof errstr);
    cr_assert_not_null(nt, "%s", errstr);
    cr_assert_eq(rd_kafka_NewTopic_set_config(nt, "max.message.bytes", TOPIC_MAX_BYTES), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    cr_assert_not_null(ev, "CreateTopics timed out");
    const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
    cr_assert_not_null(res);
    size_t n = 0;
    const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &n);
    cr_assert_eq(n, 1);
    cr_assert_eq(rd_kafka_topic_result_error(tr[0]), RD_KAFKA_RESP_ERR_NO_ERROR, "%s",
                 rd_kafka_topic_result_error_string(tr[0]));
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_destroy(rk);
}

static json_t *payload(int seq, size_t pad)
{
    char *fill = malloc(pad + 1);
    cr_assert_not_null(fill);
    memset(fill, 'x', pad);
    fill[pad] = '\0';
    json_t *p = json_pack("{s:i, s:s}", "seq", seq, "pad", fill);
    free(fill);
    return p;
}

typedef struct write_ctx {
    int first, count, big; /* seq `big` gets a 40 KB payload */
} write_ctx;

static int write_events(sg_pg *c, void *arg)
{
    write_ctx *w = arg;
    for (int i = w->first; i < w->first + w->count; i++) {
        json_t *p = payload(i, i == w->big ? 40000 : 10);
        int rc = sg_outbox_add(c, TOPIC, "k", "it.dead", p, NULL);
        json_decref(p);
        if (rc != SG_OK)
            return rc;
    }
    return SG_OK;
}

static int add_too_big(sg_pg *c, void *arg)
{
    (void)arg;
    json_t *p = payload(999, SG_OUTBOX_EVENT_MAX);
    int rc = sg_outbox_add(c, TOPIC, "k", "it.dead", p, NULL);
    json_decref(p);
    return rc;
}

/* ---- consumer ------------------------------------------------------------------ */

typedef struct seen {
    pthread_mutex_t mu;
    int seqs[256];
    int n;
} seen;

static int collect(const sg_kafka_msg *m, void *arg)
{
    seen *s = arg;
    json_t *v = json_loadb(m->value, m->len, 0, NULL);
    int seq = v ? (int)json_integer_value(json_object_get(v, "seq")) : -1;
    json_decref(v);
    pthread_mutex_lock(&s->mu);
    if (s->n < 256)
        s->seqs[s->n++] = seq;
    pthread_mutex_unlock(&s->mu);
    return 0;
}

Test(outbox_dead, add_refuses_an_event_over_256_kib)
{
    cr_expect_eq(sg_pg_tx(pool, SG_TX_READ_COMMITTED, add_too_big, NULL), SG_ERR_TOO_LARGE);
    sg_pg *c = sg_pg_acquire(pool, 5000);
    cr_assert_not_null(c);
    cr_expect_eq(add_too_big(c, NULL), SG_ERR_TOO_LARGE, "outside a transaction too");
    sg_pg_release(pool, c);
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM outbox"), 0);
    /* Just under the bound is fine. */
    c = sg_pg_acquire(pool, 5000);
    json_t *p = payload(1, SG_OUTBOX_EVENT_MAX - 2048);
    cr_expect_eq(sg_outbox_add(c, TOPIC, "k", "it.dead", p, NULL), SG_OK);
    json_decref(p);
    sg_pg_release(pool, c);
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM outbox"), 1);
}

Test(outbox_dead, refused_event_is_dead_lettered_and_the_rest_flow_in_order)
{
    char topic[128], err[512], group[96];
    sg_topic(topic, sizeof topic, prefix, TOPIC);
    create_small_topic(topic);

    /* seq 0..9 in one transaction, seq 3 over the topic's limit; then a row
     * over 256 KiB written by SQL (as grant_batch could), then seq 11, 12. */
    write_ctx w = {0, 10, 3};
    cr_assert_eq(sg_pg_tx(pool, SG_TX_READ_COMMITTED, write_events, &w), SG_OK);
    sg_pg *c = sg_pg_acquire(pool, 5000);
    cr_assert_not_null(c);
    cr_assert_eq(sg_pg_exec(c,
                            "SELECT outbox_write(ARRAY['" TOPIC "'], ARRAY['k'], ARRAY['it.dead'],"
                            " ARRAY[jsonb_build_object('seq', 10, 'pad', repeat('y', 300000))], ARRAY[NULL::text], 'x')",
                            0, NULL),
                 SG_OK);
    sg_pg_release(pool, c);
    write_ctx w2 = {11, 2, -1};
    cr_assert_eq(sg_pg_tx(pool, SG_TX_READ_COMMITTED, write_events, &w2), SG_OK);

    sg_outbox_relay *r = sg_outbox_relay_start(dsn, schema, brokers, prefix, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    long long end = sg_clock_mono_ms() + 60000;
    while (sg_clock_mono_ms() < end && it_scalar(pool, "SELECT count(*) FROM outbox WHERE published_at IS NULL") > 0)
        usleep(100000);
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM outbox WHERE published_at IS NULL"), 0, "the outbox is stuck");
    cr_expect_eq(sg_outbox_relay_dead(r), 2);
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM outbox_dead"), 2);
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM outbox_dead WHERE (payload->>'seq')::int = 3"
                        " AND error ILIKE '%too large%' AND event_type = 'it.dead' AND key = 'k'"),
                 1, "the broker's refusal, with the row intact");
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM outbox_dead WHERE (payload->>'seq')::int = 10"
                        " AND error LIKE '%256 KiB%'"),
                 1);
    /* The 11 others were published (and deleted), the dead ones moved. */
    cr_expect_eq(sg_outbox_relay_published(r), 11);
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM outbox"), 0, "dead rows left the outbox");

    seen s = {.n = 0};
    pthread_mutex_init(&s.mu, NULL);
    snprintf(group, sizeof group, "%sgroup", prefix);
    const char *topics[] = {topic};
    sg_consumer *cons = sg_consumer_start(brokers, group, topics, 1, collect, &s, err, sizeof err);
    cr_assert_not_null(cons, "%s", err);
    end = sg_clock_mono_ms() + 60000;
    int got = 0;
    while (sg_clock_mono_ms() < end && got < 11) {
        usleep(100000);
        pthread_mutex_lock(&s.mu);
        got = s.n;
        pthread_mutex_unlock(&s.mu);
    }
    sg_consumer_stop(cons);
    sg_outbox_relay_stop(r);

    /* First occurrences in order: 0 1 2 4 5 6 7 8 9 11 12 (a re-send of an
     * earlier one is allowed, a gap or a reordering is not). */
    static const int want[] = {0, 1, 2, 4, 5, 6, 7, 8, 9, 11, 12};
    int firsts[64], nf = 0;
    for (int i = 0; i < s.n; i++) {
        int dup = 0;
        for (int j = 0; j < nf; j++)
            dup |= firsts[j] == s.seqs[i];
        if (!dup && nf < 64)
            firsts[nf++] = s.seqs[i];
    }
    cr_assert_eq(nf, 11, "distinct events received: %d (of %d messages)", nf, s.n);
    for (int i = 0; i < 11; i++)
        cr_expect_eq(firsts[i], want[i], "position %d: seq %d, want %d", i, firsts[i], want[i]);
    pthread_mutex_destroy(&s.mu);
}

static int causes_too_large(sg_pg *c, const sg_kafka_msg *m, const json_t *in, void *arg)
{
    (void)m;
    (void)in;
    (*(int *)arg)++;
    json_t *p = payload(1, SG_OUTBOX_EVENT_MAX);
    int rc = sg_outbox_add(c, TOPIC, "k", "it.dead", p, NULL);
    json_decref(p);
    return rc;
}

/* A consumed event whose handling would add an over-size event fails the
 * same way at every redelivery: it is dropped (logged, recorded in the
 * inbox), not retried at the head of its partition forever. */
Test(outbox_dead, inbox_drops_an_event_whose_outcome_is_too_large)
{
    int calls = 0;
    const char *v = "{\"event_id\":\"7d7c1f9e-6a43-4c3e-9b8e-0c2f7a9d1e22\",\"x\":1}";
    sg_kafka_msg m = {.topic = "it.direct", .value = v, .len = strlen(v)};
    cr_expect_eq(sg_inbox_process(pool, &m, causes_too_large, &calls), 0);
    cr_expect_eq(sg_inbox_process(pool, &m, causes_too_large, &calls), 0);
    cr_expect_eq(calls, 1, "handled once, then a duplicate");
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM inbox"), 1);
    cr_expect_eq(it_scalar(pool, "SELECT count(*) FROM outbox"), 0);
}
