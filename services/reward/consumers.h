/* Kafka consumers of the reward service (sg_inbox_fn, ctx = rw_svc *):
 * each runs inside the inbox transaction of its event.
 */
#ifndef RW_CONSUMERS_H
#define RW_CONSUMERS_H

#include <jansson.h>
#include "sg/inbox.h"

/* Outcome for an event that can never be handled (dropped by the inbox). */
#define RW_INVALID_EVENT 100

/* sg.case.decided: grants coins per the rule of the case's report type (or
 * the default rule), once per (case, user, kind), within the daily cap; each
 * payment is journaled and announced on sg.reward.granted (key user_id) in the
 * same transaction. */
int rw_on_case_decided(sg_pg *c, const sg_kafka_msg *m, const json_t *payload, void *ctx);

#endif
