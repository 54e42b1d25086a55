/* Kafka consumers of the report service: each decodes its event
 * (payloads.c) and hands the struct to the store. */
#include "payloads.h"
#include "sg/log.h"
#include "store.h"
#include "svc.h"

int rp_on_panel_assigned(sg_pg *c, const sg_kafka_msg *m, const json_t *payload, void *ctx)
{
    rp_svc *s = ctx;
    rp_panel_assigned ev;
    char err[160];
    if (rp_panel_assigned_decode(payload, &ev, err, sizeof err) != 0) {
        sg_warn("panel.assigned: malformed payload (%s), dropped", err);
        return 1;
    }
    return rp_store_panel_assigned(c, &ev, s->shortfall_retry_base_s, m->traceparent);
}

int rp_on_reviewer_status(sg_pg *c, const sg_kafka_msg *m, const json_t *payload, void *ctx)
{
    rp_reviewer_status_changed ev;
    char err[160];
    (void)ctx;
    if (rp_reviewer_status_decode(payload, &ev, err, sizeof err) != 0) {
        sg_warn("reviewer.status_changed: malformed payload (%s), dropped", err);
        return 1;
    }
    return rp_store_reviewer_status(c, &ev, m->traceparent);
}
