/* Kafka consumers of the report service. */
#include "report.h"
#include "store.h"
#include "workers.h"

int report_on_panel_assigned(sg_pg *c, const sg_kafka_msg *m, const json_t *payload, void *ctx)
{
    (void)ctx;
    return store_panel_assigned(c, payload, m->traceparent);
}
