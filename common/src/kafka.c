/* Kafka producer and consumer glue on librdkafka. */
#include "sg/kafka.h"

#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sg/clock.h"
#include "sg/log.h"

#define HEADER_MAX 256

struct sg_producer {
    rd_kafka_t *rk;
    sg_delivery_cb cb;
    pthread_t thread;
    int thread_started;
    atomic_int stop;
};

struct sg_consumer {
    rd_kafka_t *rk;
    sg_consume_fn fn;             /* one message at a time, or */
    sg_consume_batch_fn batch_fn; /* up to max_batch */
    void *ctx;
    int max_batch;
    int linger_ms;                /* after the first message, wait this long for more */
    rd_kafka_message_t **held;    /* [max_batch]: the batch in hand */
    sg_kafka_msg *msgs;           /* [max_batch]: their views */
    char (*hdr)[3][HEADER_MAX];   /* [max_batch]: their headers */
    pthread_t thread;
    int thread_started;
    atomic_int stop;
    atomic_llong last_processed_ms; /* wall clock */
    int close_abandoned;            /* the close timed out: destroy without it */
};

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    /* librdkafka logs every refused (re)connect at LOG_ERR; for a client
     * that reconnects on its own that is a warning, not an error. */
    sg_log_level l = level <= 2 ? SG_LOG_ERROR : level <= 4 ? SG_LOG_WARN : level <= 6 ? SG_LOG_INFO : SG_LOG_DEBUG;
    sg_log(l, "kafka %s: %s: %s", rd_kafka_name(rk), fac, buf);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char buf[512];
        rd_kafka_fatal_error(rk, buf, sizeof buf);
        sg_error("kafka %s: fatal error: %s", rd_kafka_name(rk), buf);
        return;
    }
    sg_warn("kafka %s: %s: %s", rd_kafka_name(rk), rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

static int conf_set(rd_kafka_conf_t *conf, const char *k, const char *v, char *err, size_t errlen)
{
    char e[256];
    if (rd_kafka_conf_set(conf, k, v, e, sizeof e) != RD_KAFKA_CONF_OK) {
        snprintf(err, errlen, "kafka: %s=%s: %s", k, v, e);
        return -1;
    }
    return 0;
}

int sg_kafka_property_secret(const char *key, size_t len)
{
    static const char *const words[] = {"password", "secret", "jaas", "token", "credential", "key.pem",
                                        "certificate.pem", "oauthbearer.config"};
    char k[128];
    if (len >= sizeof k)
        return 1;
    memcpy(k, key, len);
    k[len] = '\0';
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strstr(k, words[i]))
            return 1;
    return 0;
}

/* Calls fn for each key=value item of spec (empty items skipped). Returns 0,
 * or -1 with a message that never contains a value. */
typedef int (*prop_fn)(const char *key, size_t klen, const char *val, size_t vlen, void *ctx, char *err,
                       size_t errlen);
static int props_each(const char *spec, prop_fn fn, void *ctx, char *err, size_t errlen)
{
    size_t n = 0;
    for (const char *p = spec ? spec : ""; *p;) {
        size_t len = strcspn(p, ";");
        const char *eq = memchr(p, '=', len);
        n++;
        if (len > 0 && (!eq || eq == p)) {
            snprintf(err, errlen, "SG_KAFKA_PROPERTIES: item %zu is not key=value", n);
            return -1;
        }
        if (len > 0 && fn && fn(p, (size_t)(eq - p), eq + 1, len - (size_t)(eq - p) - 1, ctx, err, errlen) != 0)
            return -1;
        p += len;
        if (*p == ';')
            p++;
    }
    return 0;
}

static int prop_set(const char *key, size_t klen, const char *val, size_t vlen, void *ctx, char *err,
                    size_t errlen)
{
    rd_kafka_conf_t *conf = ctx;
    char *k = strndup(key, klen), *v = strndup(val, vlen);
    char e[512];
    int rc = -1;
    if (!k || !v) {
        snprintf(err, errlen, "SG_KAFKA_PROPERTIES: out of memory");
        goto cleanup;
    }
    if (rd_kafka_conf_set(conf, k, v, e, sizeof e) != RD_KAFKA_CONF_OK) {
        /* librdkafka's message may quote the value. */
        snprintf(err, errlen, "SG_KAFKA_PROPERTIES: %s: %s", k,
                 sg_kafka_property_secret(key, klen) ? "refused by librdkafka" : e);
        goto cleanup;
    }
    rc = 0;
cleanup:
    if (v) {
        memset(v, 0, vlen);
        free(v);
    }
    free(k);
    return rc;
}

int sg_kafka_properties_check(const char *spec, char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    int rc = props_each(spec, prop_set, conf, err, errlen);
    rd_kafka_conf_destroy(conf);
    return rc;
}

typedef struct keys_buf {
    char *buf;
    size_t len;
} keys_buf;

static int prop_key(const char *key, size_t klen, const char *val, size_t vlen, void *ctx, char *err,
                    size_t errlen)
{
    keys_buf *kb = ctx;
    size_t used = strlen(kb->buf);
    (void)val, (void)vlen, (void)err, (void)errlen;
    snprintf(kb->buf + used, kb->len - used, "%s%.*s", used ? ", " : "", (int)klen, key);
    return 0;
}

const char *sg_kafka_properties_keys(const char *spec, char *buf, size_t len)
{
    char e[8];
    keys_buf kb = {buf, len};
    if (len)
        buf[0] = '\0';
    props_each(spec, prop_key, &kb, e, sizeof e);
    return buf;
}

static rd_kafka_conf_t *base_conf(const char *brokers, char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (conf_set(conf, "bootstrap.servers", brokers, err, errlen) != 0 ||
        props_each(getenv("SG_KAFKA_PROPERTIES"), prop_set, conf, err, errlen) != 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    return conf;
}

const char *sg_topic(char *buf, size_t len, const char *prefix, const char *name)
{
    snprintf(buf, len, "%s%s", prefix ? prefix : "", name);
    return buf;
}

/* ---- producer ------------------------------------------------------------------ */

/* Errors that sending the same message again cannot cure. Authorization
 * and unknown-topic errors are left out on purpose: an operator fixes
 * those, and the message must then go out. */
static int refused_for_good(rd_kafka_resp_err_t e)
{
    switch (e) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
        return 1;
    default:
        return 0;
    }
}

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    sg_producer *p = opaque;
    (void)rk;
    if (m->err)
        sg_warn("kafka: delivery to %s failed: %s", rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
    if (p->cb)
        p->cb(m->_private, m->err == RD_KAFKA_RESP_ERR_NO_ERROR,
              m->err && refused_for_good(m->err) ? rd_kafka_err2str(m->err) : NULL);
}

static void *producer_poll_main(void *arg)
{
    sg_producer *p = arg;
    while (!atomic_load(&p->stop))
        rd_kafka_poll(p->rk, 100);
    return NULL;
}

sg_producer *sg_producer_create(const char *brokers, sg_delivery_cb cb, char *err, size_t errlen)
{
    static const char *const settings[][2] = {
        {"enable.idempotence", "true"},
        {"acks", "all"},
        {"linger.ms", "2"},
        /* Bounded so that a broker outage fails a batch (the relay resends
         * it) instead of parking it for the default five minutes. */
        {"message.timeout.ms", "30000"},
    };
    sg_producer *p = NULL;
    rd_kafka_conf_t *conf = NULL;
    char e[512];

    p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "kafka: out of memory");
        goto cleanup;
    }
    p->cb = cb;
    atomic_init(&p->stop, 0);
    conf = base_conf(brokers, err, errlen);
    if (!conf)
        goto cleanup;
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++)
        if (conf_set(conf, settings[i][0], settings[i][1], err, errlen) != 0)
            goto cleanup;
    rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
    rd_kafka_conf_set_opaque(conf, p);
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof e);
    if (!p->rk) {
        snprintf(err, errlen, "kafka: creating producer: %s", e);
        goto cleanup;
    }
    conf = NULL; /* owned by rk now */
    if (pthread_create(&p->thread, NULL, producer_poll_main, p) != 0) {
        snprintf(err, errlen, "kafka: cannot start producer poll thread");
        goto cleanup;
    }
    p->thread_started = 1;
    return p;
cleanup:
    if (conf)
        rd_kafka_conf_destroy(conf);
    if (p && p->rk)
        rd_kafka_destroy(p->rk);
    free(p);
    return NULL;
}

void sg_producer_free(sg_producer *p)
{
    if (!p)
        return;
    if (p->thread_started) {
        atomic_store(&p->stop, 1);
        pthread_join(p->thread, NULL);
    }
    if (rd_kafka_flush(p->rk, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        sg_warn("kafka: %d messages not delivered at shutdown; purging", rd_kafka_outq_len(p->rk));
        /* Purged messages get failed delivery reports, served here so that
         * their owners learn the outcome before the handle goes away. */
        rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_flush(p->rk, 1000);
    }
    rd_kafka_destroy(p->rk);
    free(p);
}

int sg_producer_send(sg_producer *p, const char *topic, const char *key, const char *value, size_t len,
                     const char *event_id, const char *event_type, const char *traceparent, void *opaque)
{
    rd_kafka_headers_t *h = rd_kafka_headers_new(3);
    rd_kafka_resp_err_t e;

    if (event_id)
        rd_kafka_header_add(h, "event_id", -1, event_id, -1);
    if (event_type)
        rd_kafka_header_add(h, "event_type", -1, event_type, -1);
    if (traceparent)
        rd_kafka_header_add(h, "traceparent", -1, traceparent, -1);
    e = rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
                          RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        /* On failure the headers stay ours. */
        rd_kafka_headers_destroy(h);
        sg_warn("kafka: cannot enqueue to %s: %s", topic, rd_kafka_err2str(e));
        return refused_for_good(e) ? -2 : -1;
    }
    return 0;
}

int sg_producer_flush(sg_producer *p, int timeout_ms)
{
    return rd_kafka_flush(p->rk, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -1;
}

int sg_producer_ping(sg_producer *p, int timeout_ms)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(p->rk, 0, NULL, &md, timeout_ms);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return -1;
    int rc = md->broker_cnt > 0 ? 0 : -1;
    rd_kafka_metadata_destroy(md);
    return rc;
}

/* ---- consumer ------------------------------------------------------------------ */

/* Copies header `name` NUL-terminated into buf; returns buf or NULL. */
static const char *header(rd_kafka_headers_t *hdrs, const char *name, char *buf, size_t len)
{
    const void *v;
    size_t n;
    if (!hdrs || rd_kafka_header_get_last(hdrs, name, &v, &n) != RD_KAFKA_RESP_ERR_NO_ERROR || !v)
        return NULL;
    if (n >= len)
        n = len - 1;
    memcpy(buf, v, n);
    buf[n] = '\0';
    return buf;
}

/* Adds (topic, partition) to tp unless there; returns its entry. */
static rd_kafka_topic_partition_t *tp_entry(rd_kafka_topic_partition_list_t *tp, const rd_kafka_message_t *msg,
                                            int *added)
{
    rd_kafka_topic_partition_t *e = rd_kafka_topic_partition_list_find(tp, rd_kafka_topic_name(msg->rkt),
                                                                       msg->partition);
    *added = e == NULL;
    return e ? e : rd_kafka_topic_partition_list_add(tp, rd_kafka_topic_name(msg->rkt), msg->partition);
}

/* Goes back, on each partition of held[from..n), to its first message
 * there, so that it is fetched again. */
static void seek_back(sg_consumer *c, size_t from, size_t n)
{
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new((int)(n - from));
    for (size_t i = from; i < n; i++) {
        int added;
        rd_kafka_topic_partition_t *e = tp_entry(tp, c->held[i], &added);
        if (added)
            e->offset = c->held[i]->offset; /* a partition's messages come in offset order */
    }
    rd_kafka_error_t *e = rd_kafka_seek_partitions(c->rk, tp, 2000);
    if (e) {
        sg_warn("kafka: seek back on %d partition(s) failed: %s", tp->cnt, rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    } else {
        for (int i = 0; i < tp->cnt; i++)
            if (tp->elems[i].err)
                sg_warn("kafka: seek back to %s[%d]@%lld failed: %s", tp->elems[i].topic, (int)tp->elems[i].partition,
                        (long long)tp->elems[i].offset, rd_kafka_err2str(tp->elems[i].err));
    }
    rd_kafka_topic_partition_list_destroy(tp);
}

/* Stores, for each partition of held[0..n), the offset after its last one. */
static void store_offsets(sg_consumer *c, size_t n)
{
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new((int)n);
    for (size_t i = 0; i < n; i++) {
        int added;
        /* The committed offset is the next one to read. */
        tp_entry(tp, c->held[i], &added)->offset = c->held[i]->offset + 1;
    }
    rd_kafka_resp_err_t e = rd_kafka_offsets_store(c->rk, tp);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        /* Partition revoked meanwhile: its new owner re-reads, inbox dedups. */
        sg_debug("kafka: offset store on %d partition(s) failed: %s", tp->cnt, rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(tp);
}

/* Sleeps ms, waking early when asked to stop. */
static void nap(sg_consumer *c, long ms)
{
    for (long t = 0; t < ms && !atomic_load(&c->stop); t += 50)
        sg_sleep_ms(ms - t < 50 ? ms - t : 50);
}

/* Leaves the group, committing what was stored (enable.auto.commit makes
 * the close commit). Runs on the consumer's own thread, so that the
 * consumers of one service close concurrently: closed one after another,
 * each would wait for the group's rebalance in turn. Bounded: librdkafka
 * 2.0's rd_kafka_consumer_close can wait forever when the group is
 * rebalancing (seen after a broker restart), so the close runs on a queue
 * served here until CLOSE_TIMEOUT_MS; past that the membership is left to
 * expire (session.timeout.ms) and its partitions go to the other members,
 * as after a crash. Nothing is lost either way: an offset whose commit did
 * not finish means a redelivery, which the inbox recognises. */
#define CLOSE_TIMEOUT_MS 3000
static void close_consumer(sg_consumer *c)
{
    rd_kafka_commit(c->rk, NULL, 1); /* start it now; the close waits for it */
    rd_kafka_queue_t *q = rd_kafka_queue_new(c->rk);
    rd_kafka_error_t *err = q ? rd_kafka_consumer_close_queue(c->rk, q) : NULL;
    if (!q || err) {
        sg_warn("kafka: consumer close: %s", err ? rd_kafka_error_string(err) : "out of memory");
        c->close_abandoned = 1;
        goto done;
    }
    long long deadline = sg_clock_mono_ms() + CLOSE_TIMEOUT_MS;
    while (!rd_kafka_consumer_closed(c->rk)) {
        if (sg_clock_mono_ms() > deadline) {
            sg_warn("kafka: consumer close still waiting after %d ms; leaving the group to its session timeout",
                    CLOSE_TIMEOUT_MS);
            c->close_abandoned = 1;
            break;
        }
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 100);
        if (!ev)
            continue;
        /* No rebalance callback is configured: do what librdkafka would
         * (eager protocol, the default assignor). */
        if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE)
            rd_kafka_assign(c->rk, rd_kafka_event_error(ev) == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS
                                       ? rd_kafka_event_topic_partition_list(ev)
                                       : NULL);
        rd_kafka_event_destroy(ev);
    }
done:
    if (err)
        rd_kafka_error_destroy(err);
    if (q)
        rd_kafka_queue_destroy(q);
}

/* Fills c->held[0..) with what the consumer has: waits up to 100 ms for
 * the first message, then takes those already fetched and those arriving
 * within linger_ms of the first (none: only those already fetched). Error
 * events are logged and skipped. Returns how many. */
static size_t take_batch(sg_consumer *c)
{
    size_t n = 0;
    long long until = 0;
    while (n < (size_t)c->max_batch && !atomic_load(&c->stop)) {
        int wait = 100;
        if (n > 0) {
            long long left = until - sg_clock_mono_ms();
            wait = left > 0 ? (int)left : 0;
        }
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(c->rk, wait);
        if (n == 0 && msg)
            until = sg_clock_mono_ms() + c->linger_ms;
        if (!msg)
            break;
        if (msg->err) {
            if (msg->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
                sg_debug("kafka: consumer: %s", rd_kafka_message_errstr(msg));
            else
                sg_warn("kafka: consumer: %s", rd_kafka_message_errstr(msg));
            rd_kafka_message_destroy(msg);
            if (n == 0)
                break;
            continue;
        }
        rd_kafka_headers_t *hdrs = NULL;
        if (rd_kafka_message_headers(msg, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR)
            hdrs = NULL;
        c->msgs[n] = (sg_kafka_msg){
            .topic = rd_kafka_topic_name(msg->rkt),
            .key = msg->key,
            .key_len = msg->key_len,
            .value = msg->payload ? msg->payload : "",
            .len = msg->len,
            .event_id = header(hdrs, "event_id", c->hdr[n][0], HEADER_MAX),
            .event_type = header(hdrs, "event_type", c->hdr[n][1], HEADER_MAX),
            .traceparent = header(hdrs, "traceparent", c->hdr[n][2], HEADER_MAX),
            .partition = msg->partition,
            .offset = msg->offset,
        };
        c->held[n++] = msg;
    }
    return n;
}

static void consumer_free(sg_consumer *c)
{
    if (!c)
        return;
    free(c->held);
    free(c->msgs);
    free(c->hdr);
    free(c);
}

static void *consumer_main(void *arg)
{
    sg_consumer *c = arg;
    long backoff_ms = 100;

    while (!atomic_load(&c->stop)) {
        size_t n = take_batch(c);
        if (n == 0)
            continue;
        size_t done;
        if (c->batch_fn)
            done = c->batch_fn(c->msgs, n, c->ctx);
        else
            done = c->fn(&c->msgs[0], c->ctx) == 0; /* max_batch is 1 */
        if (done > n)
            done = n;
        if (done > 0) {
            store_offsets(c, done);
            atomic_store(&c->last_processed_ms, sg_clock_wall_ms());
        }
        if (done < n) {
            const sg_kafka_msg *m = &c->msgs[done];
            sg_warn("kafka: handling %s[%d]@%lld failed; retrying in %ld ms", m->topic, (int)m->partition,
                    (long long)m->offset, backoff_ms);
            seek_back(c, done, n);
            for (size_t i = 0; i < n; i++)
                rd_kafka_message_destroy(c->held[i]);
            nap(c, backoff_ms);
            backoff_ms = backoff_ms * 2 > 2000 ? 2000 : backoff_ms * 2;
            continue;
        }
        backoff_ms = 100;
        for (size_t i = 0; i < n; i++)
            rd_kafka_message_destroy(c->held[i]);
    }
    close_consumer(c);
    return NULL;
}

static sg_consumer *consumer_start(const char *brokers, const char *group, const char *const *topics, size_t ntopics,
                                   int max_batch, int linger_ms, sg_consume_fn fn, sg_consume_batch_fn batch_fn,
                                   void *ctx, char *err, size_t errlen)
{
    static const char *const settings[][2] = {
        {"enable.auto.commit", "true"},
        {"enable.auto.offset.store", "false"},
        {"auto.offset.reset", "earliest"},
        {"session.timeout.ms", "10000"},
        {"topic.metadata.refresh.interval.ms", "5000"},
        {"allow.auto.create.topics", "true"},
        /* Prefetch bounds: a handler takes milliseconds per event, so a
         * thousand queued events are plenty, and under a backlog each of a
         * service's consumers would otherwise buffer up to 64 MB. */
        {"queued.min.messages", "1000"},
        {"queued.max.messages.kbytes", "1024"},
    };
    sg_consumer *c = NULL;
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_topic_partition_list_t *subs = NULL;
    char e[512];

    c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "kafka: out of memory");
        goto cleanup;
    }
    c->fn = fn;
    c->batch_fn = batch_fn;
    c->ctx = ctx;
    c->max_batch = max_batch;
    c->linger_ms = max_batch > 1 ? linger_ms : 0;
    c->held = calloc((size_t)max_batch, sizeof *c->held);
    c->msgs = calloc((size_t)max_batch, sizeof *c->msgs);
    c->hdr = calloc((size_t)max_batch, sizeof *c->hdr);
    if (!c->held || !c->msgs || !c->hdr) {
        snprintf(err, errlen, "kafka: out of memory");
        goto cleanup;
    }
    atomic_init(&c->stop, 0);
    atomic_init(&c->last_processed_ms, 0);
    conf = base_conf(brokers, err, errlen);
    if (!conf || conf_set(conf, "group.id", group, err, errlen) != 0)
        goto cleanup;
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++)
        if (conf_set(conf, settings[i][0], settings[i][1], err, errlen) != 0)
            goto cleanup;
    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof e);
    if (!c->rk) {
        snprintf(err, errlen, "kafka: creating consumer: %s", e);
        goto cleanup;
    }
    conf = NULL;
    /* Serve rebalances, errors and logs from rd_kafka_consumer_poll. */
    rd_kafka_poll_set_consumer(c->rk);
    subs = rd_kafka_topic_partition_list_new((int)ntopics);
    for (size_t i = 0; i < ntopics; i++)
        rd_kafka_topic_partition_list_add(subs, topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t se = rd_kafka_subscribe(c->rk, subs);
    if (se != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errlen, "kafka: subscribe: %s", rd_kafka_err2str(se));
        goto cleanup;
    }
    if (pthread_create(&c->thread, NULL, consumer_main, c) != 0) {
        snprintf(err, errlen, "kafka: cannot start consumer thread");
        goto cleanup;
    }
    c->thread_started = 1;
    rd_kafka_topic_partition_list_destroy(subs);
    return c;
cleanup:
    if (subs)
        rd_kafka_topic_partition_list_destroy(subs);
    if (conf)
        rd_kafka_conf_destroy(conf);
    if (c && c->rk) {
        rd_kafka_consumer_close(c->rk);
        rd_kafka_destroy(c->rk);
    }
    consumer_free(c);
    return NULL;
}

sg_consumer *sg_consumer_start(const char *brokers, const char *group, const char *const *topics, size_t ntopics,
                               sg_consume_fn fn, void *ctx, char *err, size_t errlen)
{
    return consumer_start(brokers, group, topics, ntopics, 1, 0, fn, NULL, ctx, err, errlen);
}

sg_consumer *sg_consumer_start_batch(const char *brokers, const char *group, const char *const *topics,
                                     size_t ntopics, int max_batch, int linger_ms, sg_consume_batch_fn fn, void *ctx,
                                     char *err, size_t errlen)
{
    if (max_batch < 1 || max_batch > 1024) {
        snprintf(err, errlen, "kafka: batch size %d outside 1..1024", max_batch);
        return NULL;
    }
    if (linger_ms < 0 || linger_ms > 1000) {
        snprintf(err, errlen, "kafka: linger %d ms outside 0..1000", linger_ms);
        return NULL;
    }
    return consumer_start(brokers, group, topics, ntopics, max_batch, linger_ms, NULL, fn, ctx, err, errlen);
}

void sg_consumer_request_stop(sg_consumer *c)
{
    if (c)
        atomic_store(&c->stop, 1);
}

void sg_consumer_stop(sg_consumer *c)
{
    if (!c)
        return;
    atomic_store(&c->stop, 1);
    if (c->thread_started)
        pthread_join(c->thread, NULL); /* the thread closed the consumer */
    else
        close_consumer(c);
    rd_kafka_destroy_flags(c->rk, c->close_abandoned ? RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE : 0);
    consumer_free(c);
}

double sg_consumer_last_processed(const sg_consumer *c)
{
    return (double)atomic_load(&((sg_consumer *)c)->last_processed_ms) / 1000.0;
}
