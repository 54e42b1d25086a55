/* Kafka glue on librdkafka.
 *
 * Producer: idempotent (enable.idempotence=true, acks=all), with a poll thread
 * that runs delivery callbacks. Consumer: a thread that polls, hands each
 * message to a handler, and stores its offset only after the handler
 * succeeded (enable.auto.offset.store=false); on handler failure it seeks back
 * to the message and retries with backoff, so nothing is skipped.
 * Topic names get SG_TOPIC_PREFIX prepended by the callers via sg_topic().
 *
 * Credentials: every producer and consumer made here applies the
 * environment's SG_KAFKA_PROPERTIES ("key=value;key=value", e.g.
 * security.protocol=SASL_SSL;sasl.mechanism=SCRAM-SHA-512;sasl.username=..;
 * sasl.password=..) to its librdkafka configuration as they are, after
 * bootstrap.servers and before the settings this glue relies on (idempotence,
 * acks, offset handling), which therefore cannot be overridden. Read from the
 * environment here rather than passed down so that every client (the relay's
 * producer, the consumers, tools and tests) gets them. Values are never
 * logged nor put into error messages.
 */
#ifndef SG_KAFKA_H
#define SG_KAFKA_H

#include <stddef.h>
#include <stdint.h>

typedef struct sg_kafka_msg {
    const char *topic;       /* full topic name */
    const char *key; size_t key_len;
    const char *value; size_t len;
    const char *event_id;    /* header, NULL if absent */
    const char *event_type;  /* header, NULL if absent */
    const char *traceparent; /* header, NULL if absent */
    int32_t partition;
    int64_t offset;
} sg_kafka_msg;

typedef struct sg_producer sg_producer;

/* Delivery report: ok=1 when acked by the broker. On a failure, refused is
 * NULL when sending again may succeed (timeout, broker down, ...) and names
 * the error when the broker refused the message for good (e.g. larger than
 * the topic's max.message.bytes, invalid record): sending it again would
 * fail again. Runs on the poll thread. */
typedef void (*sg_delivery_cb)(void *opaque, int ok, const char *refused);

sg_producer *sg_producer_create(const char *brokers, sg_delivery_cb cb, char *err, size_t errlen);
/* Flushes (up to 10 s) and frees. */
void sg_producer_free(sg_producer *p);
/* Enqueues one message; headers event_id/event_type/traceparent are added
 * when non-NULL. All strings copied. Returns 0, -1 (queue full, ...: may
 * succeed later) or -2 (refused for good, e.g. larger than the producer's
 * message.max.bytes). */
int sg_producer_send(sg_producer *p, const char *topic, const char *key, const char *value, size_t len,
                     const char *event_id, const char *event_type, const char *traceparent, void *opaque);
/* Waits until all enqueued messages are delivered or failed. 0 when done. */
int sg_producer_flush(sg_producer *p, int timeout_ms);
/* 0 when the cluster answered a metadata request within timeout_ms. */
int sg_producer_ping(sg_producer *p, int timeout_ms);

/* Handler: 0 = processed (offset stored), nonzero = transient failure
 * (message is retried). Runs on the consumer thread. */
typedef int (*sg_consume_fn)(const sg_kafka_msg *m, void *ctx);

/* Batch handler: msgs[0..n) in the order they were consumed (n >= 1; their
 * strings live until it returns). Returns how many of them, from the first,
 * were processed: their offsets are stored. The consumer goes back to the
 * first one not processed on each partition and retries after a back-off.
 * Runs on the consumer thread. */
typedef size_t (*sg_consume_batch_fn)(const sg_kafka_msg *msgs, size_t n, void *ctx);

typedef struct sg_consumer sg_consumer;

/* Subscribes group `group` to topics (copied). auto.offset.reset=earliest so
 * a new group misses nothing. Starts its thread. */
sg_consumer *sg_consumer_start(const char *brokers, const char *group, const char *const *topics, size_t ntopics,
                               sg_consume_fn fn, void *ctx, char *err, size_t errlen);
/* As sg_consumer_start, but hands the handler every message already
 * fetched, up to max_batch (1..1024) at a time: one when the topic is quiet,
 * more under a backlog. With linger_ms (0..1000; only when max_batch > 1) a
 * batch also takes the messages that arrive within linger_ms of its first:
 * fewer, larger transactions for that much more latency per event. */
sg_consumer *sg_consumer_start_batch(const char *brokers, const char *group, const char *const *topics,
                                     size_t ntopics, int max_batch, int linger_ms, sg_consume_batch_fn fn, void *ctx,
                                     char *err, size_t errlen);
/* Asks the thread to finish the event in hand, commit the stored offsets
 * and leave the group, without waiting. Calling it on every consumer of a
 * service before sg_consumer_stop lets them leave concurrently. */
void sg_consumer_request_stop(sg_consumer *c);
/* Stops the thread (which commits stored offsets and closes the consumer),
 * waits for it and frees. */
void sg_consumer_stop(sg_consumer *c);
/* Unix time (s) when the consumer last processed a message, 0 if never. */
double sg_consumer_last_processed(const sg_consumer *c);

/* Validates an SG_KAFKA_PROPERTIES value: every non-empty ';'-separated item
 * is key=value and librdkafka accepts it. Returns 0, or -1 with a message
 * naming the variable and the key (never a value). */
int sg_kafka_properties_check(const char *spec, char *err, size_t errlen);
/* Writes the keys of spec, comma-separated, into buf (for logs); returns buf. */
const char *sg_kafka_properties_keys(const char *spec, char *buf, size_t len);
/* 1 when a property's value is a secret (its key names a password, secret,
 * token, JAAS config, private key, ...): such values are never echoed. */
int sg_kafka_property_secret(const char *key, size_t len);

/* Writes prefix+name into buf; returns buf. */
const char *sg_topic(char *buf, size_t len, const char *prefix, const char *name);

#endif
