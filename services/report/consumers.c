/* Kafka consumers of the report service. */
#include "svc.h"
#include "store.h"
#include "workers.h"

int rp_on_panel_assigned(sg_pg *c, const sg_kafka_msg *m, const json_t *payload, void *ctx)
{
    (void)ctx;
    return rp_store_panel_assigned(c, payload, m->traceparent);
}
