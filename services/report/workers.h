/* Background work of the report service: the Kafka consumer handler
 * (consumers.c), the timer scanners (timers.c) and the upstream callback
 * sender (callbacks.c). ctx is the rp_svc.
 */
#ifndef RP_WORKERS_H
#define RP_WORKERS_H

#include <jansson.h>
#include "sg/kafka.h"
#include "sg/pg.h"

/* sg.panel.assigned (inbox handler). */
int rp_on_panel_assigned(sg_pg *c, const sg_kafka_msg *m, const json_t *payload, void *ctx);
/* sg.reviewer.status_changed (inbox handler). */
int rp_on_reviewer_status(sg_pg *c, const sg_kafka_msg *m, const json_t *payload, void *ctx);

/* One pass of every case timer: deadlines, ballot expiry, reminders,
 * shortfall retries, finality. Returns the items handled (> 0 makes the worker drain). */
int rp_timers_tick(void *ctx);
/* Old idempotency keys. */
int rp_housekeeping_tick(void *ctx);

/* Delivers one due callback, if any: returns 1 when one was attempted. */
int rp_callbacks_tick(void *ctx);

/* push.c: handles one due notification, if any (a gateway call, or a
 * deferral, cap or mute decided without one): returns 1 when one was
 * handled, 0 when none is due or no gateway is configured. */
int rp_push_tick(void *ctx);

#endif
