/* Prometheus text metrics: HTTP requests by route and status, a latency
 * histogram per route, named counters, and collector callbacks that append
 * service-specific gauges (outbox backlog, cases by status, ...).
 * Thread-safe (one mutex; observations are cheap).
 */
#ifndef SG_METRICS_H
#define SG_METRICS_H

#include <stdio.h>

typedef struct sg_metrics sg_metrics;

/* Appends metric lines (with # HELP/# TYPE) to out. Called with no lock held
 * at render time, from an HTTP worker thread. */
typedef void (*sg_metrics_collector)(FILE *out, void *ctx);

sg_metrics *sg_metrics_create(const char *service);
void sg_metrics_free(sg_metrics *m);

/* Records one HTTP request. route is the route pattern (or "unmatched"). */
void sg_metrics_observe_request(sg_metrics *m, const char *method, const char *route, int status, double seconds);

/* Adds v to counter `name` with one optional label set (e.g. "topic=\"x\"";
 * NULL for none). Names are copied on first use. */
void sg_metrics_count(sg_metrics *m, const char *name, const char *labels, double v);

/* Registers a collector; ctx is borrowed and must outlive m. Up to 16. */
int sg_metrics_add_collector(sg_metrics *m, sg_metrics_collector fn, void *ctx);

/* Renders all metrics. Returns a malloc'ed NUL-terminated string. */
char *sg_metrics_render(sg_metrics *m);

#endif
