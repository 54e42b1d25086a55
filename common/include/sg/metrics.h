/* Prometheus text metrics: HTTP requests by route and status, a latency
 * histogram per route, named counters, and collector callbacks that append
 * service-specific gauges (outbox backlog, cases by status, ...).
 * Thread-safe (one mutex; observations are cheap).
 *
 * Two kinds of collectors: plain ones run at every render and must be cheap
 * (in-process values only); cached ones (those that query a database) run on
 * a background thread at most every interval_s, and a render appends the text
 * of their last run, so a scrape costs the same whatever the data size and
 * never waits for a database connection.
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

/* Registers a cached collector (run by sg_metrics_refresh, on the refresh
 * thread); ctx is borrowed and must outlive m. Up to 16. */
int sg_metrics_add_cached_collector(sg_metrics *m, sg_metrics_collector fn, void *ctx);

/* Runs the cached collectors now and replaces the text renders append.
 * Returns 0, or -1 when out of memory (the previous text stays). */
int sg_metrics_refresh(sg_metrics *m);

/* Starts a thread that calls sg_metrics_refresh at once and then every
 * interval_s seconds (>= 1) until sg_metrics_stop_refresh (or
 * sg_metrics_free). Returns 0 or -1. */
int sg_metrics_start_refresh(sg_metrics *m, int interval_s);
/* Stops the refresh thread (waits for a refresh in progress). No-op when
 * not started. */
void sg_metrics_stop_refresh(sg_metrics *m);

/* The label value recorded for an HTTP method: the method itself for GET,
 * HEAD, POST, PUT, DELETE, PATCH and OPTIONS, "other" for anything else
 * (the method is client input). Returns a static string. */
const char *sg_metrics_method_label(const char *method);

/* Writes v as a label value of the text format: backslash, double quote
 * and newline escaped (\\, \", \n). Collectors use it for any value not
 * fixed by the code. */
void sg_metrics_put_label(FILE *out, const char *v);

/* Renders all metrics. Returns a malloc'ed NUL-terminated string. */
char *sg_metrics_render(sg_metrics *m);

#endif
