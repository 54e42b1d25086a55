/* Kafka consumers of the reviewer service (sg_inbox_fn: each runs inside the
 * inbox transaction, ctx = rv_svc). A payload that can never be handled
 * returns a positive code: the event is logged and dropped. */
#ifndef RV_CONSUMERS_H
#define RV_CONSUMERS_H

#include "sg/inbox.h"

/* sg.panel.requested → selection → sg.panel.assigned */
int rv_on_panel_requested(sg_pg *c, const sg_kafka_msg *m, const json_t *payload, void *ctx);
/* sg.ballot.closed → releases the open ballot, records the outcome */
int rv_on_ballot_closed(sg_pg *c, const sg_kafka_msg *m, const json_t *payload, void *ctx);
/* sg.case.decided → records every panelist's outcome, decision and
 * with_majority (against the final verdict when that came first) */
int rv_on_case_decided(sg_pg *c, const sg_kafka_msg *m, const json_t *payload, void *ctx);
/* sg.case.finalized → marks measured against the final verdict; gold marks
 * of audit cases (results.h) */
int rv_on_case_finalized(sg_pg *c, const sg_kafka_msg *m, const json_t *payload, void *ctx);
/* sg.user.activity → one visit */
int rv_on_user_activity(sg_pg *c, const sg_kafka_msg *m, const json_t *payload, void *ctx);

#endif
