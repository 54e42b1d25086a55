/* Metrics collector of the reviewer service (sg_metrics_collector, ctx =
 * rv_service): sg_reviewers{status=...} gauges. */
#ifndef RV_COLLECTOR_H
#define RV_COLLECTOR_H

#include <stdio.h>

void rv_collect(FILE *out, void *ctx);

#endif
