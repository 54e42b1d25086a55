/* Transactional outbox.
 *
 * sg_outbox_add inserts an event row in the caller's transaction; the relay
 * (one leader per schema, via a session advisory lock on its own connection)
 * publishes the rows in id order with the idempotent producer and deletes a
 * row (marks it published) only after its delivery report. It is woken by
 * its own process's commits (in-process) or by LISTEN/NOTIFY (see Wake-up),
 * and polls every second as a fallback. A crash
 * between send and mark causes a re-send (consumers are idempotent), never a
 * loss. Rows an older release marked published (published_at set, kept
 * then) are deleted after an hour, inbox rows after 14 days (longer than
 * Kafka's default 7-day retention).
 *
 * Dead letters: a row the broker refuses for good (sg_delivery_cb's
 * `refused`, e.g. larger than the topic's max.message.bytes), or one larger
 * than SG_OUTBOX_EVENT_MAX, is moved to the schema's outbox_dead table with
 * the error (one statement: DELETE ... RETURNING into INSERT), logged with
 * its event_id, type, topic and size but never its payload, and counted
 * (sg_outbox_relay_dead); the rows behind it go on. A broker refusal of a
 * row sent in a batch is first confirmed by sending that row alone, so that
 * a batch-level refusal never dead-letters an innocent neighbour.
 *
 * Wire format: value = payload object + "event_id" + "occurred_at"; key as
 * given; headers event_id, event_type, traceparent.
 *
 * Order: rows go out in id (insert) order, and ids are taken at INSERT, not
 * at commit. Per-key order on the topic therefore relies on every writer
 * locking the key's row (the case, the account, ...) before it adds that
 * key's event, so two transactions never interleave events of one key. Every
 * caller in this repository does.
 *
 * Leadership on a hostile network: a leader whose connection goes
 * half-open (a partition, a frozen peer or proxy that still ACKs at TCP
 * level, so no keepalive or TCP user timeout ever fires) is replaced within
 * about 21 s. The relay's own connection runs non-blocking with a server
 * statement_timeout of 10 s (set by the relay, whatever the DSN says) and
 * gives up on an answer after 15 s: then it drops the connection and its
 * leadership. A leader's session is never silent longer than that (it
 * scans every second and sends a heartbeat while it waits for the broker).
 * A candidate that finds the lock taken ends the holder's session when
 * pg_stat_activity shows it silent for 20 s (pg_terminate_backend: same
 * role or pg_signal_backend needed), which releases the lock, and takes
 * it. The lock lives in the session, so an old leader that comes back can
 * mark nothing: its session is gone (at worst a batch it had read is sent
 * again, which is a re-send, not a loss or a reordering of first copies).
 *
 * Wake-up: the relay attached to the service's pool
 * (sg_outbox_relay_attach) is woken in-process right after a transaction
 * that added rows commits, without NOTIFY, while it is the leader. A
 * transaction that NOTIFYs takes a database-wide lock at commit and holds
 * it through its WAL flush, so notifying transactions cannot share a flush
 * (group commit) and commit one at a time across all services: in a bench
 * profile that lock was the most-waited-for thing in the database. Only
 * when this process's relay is not the leader (another replica's is) does
 * outbox_write still NOTIFY, on the schema's own channel
 * (sg_outbox_channel), so a commit wakes only the relay of its own service,
 * even when several services share one database; the leader LISTENs.
 */
#ifndef SG_OUTBOX_H
#define SG_OUTBOX_H

#include <jansson.h>
#include "sg/kafka.h"
#include "sg/pg.h"

#define SG_OUTBOX_CHANNEL_MAX 64

/* Writes the NOTIFY channel of schema's outbox into buf and returns buf:
 * "sgo_<schema>", or, when that would exceed PostgreSQL's 63-byte identifier
 * limit, a prefix of the schema plus a hash of the whole name. SQL that adds
 * outbox rows itself goes through outbox_write with the channel
 * sg_outbox_notify_channel gives. */
const char *sg_outbox_channel(const char *schema, char buf[SG_OUTBOX_CHANNEL_MAX]);

/* For SQL that writes outbox rows itself (through outbox_write, whose last
 * argument is the channel to NOTIFY, or NULL for none): asks for the
 * in-process wake after c's transaction commits and returns NULL when that
 * wake reaches the leader, else the schema's channel written into buf. Call
 * it inside the sg_pg_tx body that runs the SQL. */
const char *sg_outbox_notify_channel(sg_pg *c, char buf[SG_OUTBOX_CHANNEL_MAX]);

/* Adds one event. Inside an sg_pg_tx body the row is written just before
 * COMMIT, in one INSERT with the transaction's other events and in the order
 * they were added (ids are therefore taken at the end of the transaction,
 * while its locks are still held); outside one it is inserted at once.
 * topic is the logical name (prefix added by the relay);
 * payload is borrowed (serialized here). traceparent may be NULL: then the
 * thread's log context (sg_log_traceparent) is used, so an event caused by a
 * request or an event carries its trace. Returns SG_OK,
 * SG_ERR_DB/SG_ERR_RETRY, or SG_ERR_TOO_LARGE (logged, nothing added) when
 * the event would exceed SG_OUTBOX_EVENT_MAX: inside sg_pg_tx, returning it
 * from the body rolls the transaction back and sg_pg_tx returns it. */
/* Largest event: payload plus envelope (event_id, occurred_at), as the
 * relay sends it (API.md: every event is at most 256 KiB). */
#define SG_OUTBOX_EVENT_MAX (256 * 1024)
/* sg_outbox_add answers SG_ERR_TOO_LARGE (sg/pg.h) for a bigger one. */

int sg_outbox_add(sg_pg *c, const char *topic, const char *key, const char *event_type, const json_t *payload,
                  const char *traceparent);

typedef struct sg_outbox_relay sg_outbox_relay;

/* Starts the relay thread. dsn/schema/prefix copied; producer is created and
 * owned by the relay.
 *
 * Test hook: when the environment variable SG_TEST_RELAY_CRASH_AFTER_SEND=1
 * is set at start, the relay calls _exit(137) after the delivery reports of
 * its first non-empty batch arrived and before marking the rows published
 * (simulates a crash between send and mark; used by the integration tests).
 * Never set it in production. */
sg_outbox_relay *sg_outbox_relay_start(const char *dsn, const char *schema, const char *brokers,
                                       const char *topic_prefix, char *err, size_t errlen);
/* Linger: after a scan that found rows the relay waits ms (0..1000)
 * before it scans again, however soon a commit wakes it, so that under load
 * one scan, one Kafka produce round and one mark cover the commits of those
 * ms, and the consumers downstream get batches, not single events, to apply
 * in one transaction each. A scan that found nothing lingers not: the first
 * commit after a quiet spell goes out at once. Default 0 here; services
 * take SG_OUTBOX_LINGER_MS. */
void sg_outbox_relay_set_linger(sg_outbox_relay *r, int ms);
/* Makes commits on p that add outbox rows wake r in-process (and NOTIFY
 * only while r is not the leader); NULL detaches. At most one pool per
 * relay and one relay per pool; stop detaches first. */
void sg_outbox_relay_attach(sg_outbox_relay *r, sg_pg_pool *p);
/* Stops the thread after the batch in flight, flushes and frees. */
void sg_outbox_relay_stop(sg_outbox_relay *r);
/* Events published since start, and rows seen unpublished at the last scan. */
long sg_outbox_relay_published(const sg_outbox_relay *r);
long sg_outbox_relay_backlog(const sg_outbox_relay *r);
int sg_outbox_relay_is_leader(const sg_outbox_relay *r);
/* Rows this relay moved to outbox_dead since start (sg_outbox_dead_total). */
long sg_outbox_relay_dead(const sg_outbox_relay *r);
/* Where this relay's time went since start, for sg_outbox_relay_* metrics:
 * batches that found rows, and the microseconds those spent in each stage
 * (scan: reading the rows; deliver: producing them and waiting for every
 * delivery report; mark: deleting them, published; linger: the pause after
 * the batch, sg_outbox_relay_set_linger). */
typedef enum { SG_RELAY_SCAN, SG_RELAY_DELIVER, SG_RELAY_MARK, SG_RELAY_LINGER, SG_RELAY_STAGES } sg_relay_stage;
const char *sg_outbox_relay_stage_name(sg_relay_stage s);
long sg_outbox_relay_batches(const sg_outbox_relay *r);
long long sg_outbox_relay_stage_us(const sg_outbox_relay *r, sg_relay_stage s);
/* The relay's producer (borrowed, valid until sg_outbox_relay_stop), e.g.
 * for sg_producer_ping in a readiness probe. */
sg_producer *sg_outbox_relay_producer(sg_outbox_relay *r);

#endif
