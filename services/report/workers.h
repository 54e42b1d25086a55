/* Background work of the report service: the Kafka consumer handler
 * (consumers.c), the timer scanners (timers.c) and the upstream callback
 * sender (callbacks.c). ctx is the report_svc.
 */
#ifndef REPORT_WORKERS_H
#define REPORT_WORKERS_H

#include <jansson.h>
#include "sg/kafka.h"
#include "sg/pg.h"

/* sg.panel.assigned (inbox handler). */
int report_on_panel_assigned(sg_pg *c, const sg_kafka_msg *m, const json_t *payload, void *ctx);

/* One pass of every case timer: deadlines, ballot expiry, reminders,
 * refills. Returns the items handled (> 0 makes the worker drain). */
int report_timers_tick(void *ctx);
/* Old idempotency keys. */
int report_housekeeping_tick(void *ctx);

/* Delivers one due callback, if any: returns 1 when one was attempted. */
int report_callbacks_tick(void *ctx);

#endif
