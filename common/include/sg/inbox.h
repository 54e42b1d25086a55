/* Idempotent consumer (inbox).
 *
 * sg_inbox_process runs fn inside one transaction that also inserts the
 * event's id into <schema>.inbox; if the id is already there the event was
 * handled before and fn is not called. The caller stores the Kafka offset only
 * after this returns 0.
 */
#ifndef SG_INBOX_H
#define SG_INBOX_H

#include <jansson.h>
#include "sg/kafka.h"
#include "sg/pg.h"

/* Handles one event inside the transaction. payload is the parsed value
 * (borrowed). Return SG_OK to commit; SG_ERR_DB/SG_ERR_RETRY to retry later;
 * a positive code (or SG_ERR_TOO_LARGE: an event it adds would exceed
 * 256 KiB, every time) to roll back and drop the event as permanently
 * invalid (logged, and recorded in the inbox so it is not retried). */
typedef int (*sg_inbox_fn)(sg_pg *c, const sg_kafka_msg *m, const json_t *payload, void *ctx);

/* Returns 0 when handled or duplicate (or dropped as invalid), -1 when the
 * event must be retried. Messages without event_id (header or payload field)
 * or with a non-JSON value are dropped with an error log. */
int sg_inbox_process(sg_pg_pool *p, const sg_kafka_msg *m, sg_inbox_fn fn, void *ctx);

/* Applies a batch's new events all at once, in place of running the
 * per-event handler for each: payloads[0..n) are their payloads
 * (borrowed), in order. A batch holds every lock it takes until its
 * commit, so apply takes the rows it shares with other writers in the one
 * global order they all use (else batches on parallel consumers and other
 * transactions would deadlock) and writes with set-based statements, so
 * that it holds them for a few statements. Any error rolls the batch back
 * and hands it to the per-event handler one event per transaction (which
 * also drops a malformed event). */
typedef int (*sg_inbox_apply_fn)(sg_pg *c, const json_t *const *payloads, size_t n, void *ctx);

/* Handles msgs[0..n) in one transaction: one statement records every event
 * id, and fn runs for each new event in order, all committed together (one
 * commit; lock, when not NULL, runs first, with every new event's payload).
 * Duplicates and
 * malformed messages are skipped as sg_inbox_process skips them. When fn
 * fails for any event the whole transaction is rolled back and the batch is
 * handled again one event per transaction (sg_inbox_process), which isolates
 * an event to drop from its neighbours. Returns how many events, from the
 * first, are done (handled, duplicate or dropped): n, or fewer when the one
 * after them must be retried. fn must not keep state outside the
 * transaction that a rollback would leave wrong. *one_tx (may be NULL) is
 * set nonzero when n > 1 and the batch committed as one transaction, zero
 * when it was handled one by one. */
size_t sg_inbox_process_batch(sg_pg_pool *p, const sg_kafka_msg *msgs, size_t n, sg_inbox_fn fn,
                              sg_inbox_apply_fn apply, void *ctx, int *one_tx);

#endif
