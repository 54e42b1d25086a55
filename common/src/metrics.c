/* Prometheus text metrics; see sg/metrics.h.
 *
 * Fixed-size tables: routes and label sets are bounded by the code (route
 * patterns, not paths), so a full table means a programming error; further
 * series are dropped rather than growing memory without bound.
 */
#include "sg/metrics.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_REQ_SERIES 512
#define MAX_ROUTES 128
#define MAX_COUNTERS 256
#define MAX_COLLECTORS 16
#define NBUCKETS 12 /* 11 bounds + +Inf */

static const double bucket_le[NBUCKETS - 1] = {.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5};

typedef struct req_series {
    char method[8];
    char route[128];
    int status;
    double count;
} req_series;

typedef struct route_hist {
    char route[128];
    unsigned long long buckets[NBUCKETS]; /* non-cumulative; summed at render */
    double sum;
    unsigned long long count;
} route_hist;

typedef struct counter {
    char name[128];
    char labels[256];
    double value;
} counter;

struct sg_metrics {
    pthread_mutex_t mu;
    char service[64];
    req_series reqs[MAX_REQ_SERIES];
    size_t nreqs;
    route_hist hists[MAX_ROUTES];
    size_t nhists;
    counter counters[MAX_COUNTERS];
    size_t ncounters;
    struct {
        sg_metrics_collector fn;
        void *ctx;
    } collectors[MAX_COLLECTORS], cached[MAX_COLLECTORS];
    size_t ncollectors;
    size_t ncached;
    /* The cached collectors' last output: replaced whole by each refresh,
     * copied by each render. */
    pthread_mutex_t cache_mu;
    char *cache_text;
    /* The refresh thread. */
    pthread_mutex_t run_mu;
    pthread_cond_t run_cv;
    pthread_t thread;
    int thread_started;
    int stop;
    int interval_s;
};

sg_metrics *sg_metrics_create(const char *service)
{
    sg_metrics *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    pthread_mutex_init(&m->mu, NULL);
    pthread_mutex_init(&m->cache_mu, NULL);
    pthread_mutex_init(&m->run_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&m->run_cv, &ca);
    pthread_condattr_destroy(&ca);
    snprintf(m->service, sizeof m->service, "%s", service ? service : "");
    return m;
}

void sg_metrics_free(sg_metrics *m)
{
    if (!m)
        return;
    sg_metrics_stop_refresh(m);
    pthread_mutex_destroy(&m->mu);
    pthread_mutex_destroy(&m->cache_mu);
    pthread_mutex_destroy(&m->run_mu);
    pthread_cond_destroy(&m->run_cv);
    free(m->cache_text);
    free(m);
}

const char *sg_metrics_method_label(const char *method)
{
    static const char *const known[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
    for (size_t i = 0; method && i < sizeof known / sizeof known[0]; i++)
        if (strcmp(method, known[i]) == 0)
            return known[i];
    return "other";
}

void sg_metrics_observe_request(sg_metrics *m, const char *method, const char *route, int status, double seconds)
{
    if (!m)
        return;
    /* The method comes from the client: anything but the methods of HTTP
     * becomes one series, so neither the table nor the label can be abused. */
    method = sg_metrics_method_label(method);
    if (!route)
        route = "unmatched";
    if (seconds < 0)
        seconds = 0;
    pthread_mutex_lock(&m->mu);
    size_t i = 0;
    while (i < m->nreqs && !(m->reqs[i].status == status && strcmp(m->reqs[i].method, method) == 0 &&
                             strcmp(m->reqs[i].route, route) == 0))
        i++;
    if (i == m->nreqs && i < MAX_REQ_SERIES) {
        snprintf(m->reqs[i].method, sizeof m->reqs[i].method, "%s", method);
        snprintf(m->reqs[i].route, sizeof m->reqs[i].route, "%s", route);
        m->reqs[i].status = status;
        m->nreqs++;
    }
    if (i < m->nreqs)
        m->reqs[i].count += 1;

    size_t h = 0;
    while (h < m->nhists && strcmp(m->hists[h].route, route) != 0)
        h++;
    if (h == m->nhists && h < MAX_ROUTES) {
        snprintf(m->hists[h].route, sizeof m->hists[h].route, "%s", route);
        m->nhists++;
    }
    if (h < m->nhists) {
        size_t b = 0;
        while (b < NBUCKETS - 1 && seconds > bucket_le[b])
            b++;
        m->hists[h].buckets[b]++;
        m->hists[h].sum += seconds;
        m->hists[h].count++;
    }
    pthread_mutex_unlock(&m->mu);
}

/* Prometheus metric names: [a-zA-Z_:][a-zA-Z0-9_:]*. */
static int name_ok(const char *s)
{
    if (!*s || (*s >= '0' && *s <= '9'))
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
              *s == ':'))
            return 0;
    return 1;
}

void sg_metrics_count(sg_metrics *m, const char *name, const char *labels, double v)
{
    if (!m || !name || strlen(name) >= sizeof m->counters[0].name || !name_ok(name))
        return;
    if (!labels)
        labels = "";
    if (strlen(labels) >= sizeof m->counters[0].labels)
        return;
    pthread_mutex_lock(&m->mu);
    size_t i = 0;
    while (i < m->ncounters && !(strcmp(m->counters[i].name, name) == 0 && strcmp(m->counters[i].labels, labels) == 0))
        i++;
    if (i == m->ncounters && i < MAX_COUNTERS) {
        strcpy(m->counters[i].name, name);
        strcpy(m->counters[i].labels, labels);
        m->ncounters++;
    }
    if (i < m->ncounters)
        m->counters[i].value += v;
    pthread_mutex_unlock(&m->mu);
}

static int add_to(sg_metrics *m, int cached, sg_metrics_collector fn, void *ctx)
{
    int rc = -1;
    pthread_mutex_lock(&m->mu);
    size_t *n = cached ? &m->ncached : &m->ncollectors;
    if (*n < MAX_COLLECTORS) {
        (cached ? m->cached : m->collectors)[*n].fn = fn;
        (cached ? m->cached : m->collectors)[*n].ctx = ctx;
        (*n)++;
        rc = 0;
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

int sg_metrics_add_collector(sg_metrics *m, sg_metrics_collector fn, void *ctx)
{
    return add_to(m, 0, fn, ctx);
}

int sg_metrics_add_cached_collector(sg_metrics *m, sg_metrics_collector fn, void *ctx)
{
    return add_to(m, 1, fn, ctx);
}

void sg_metrics_put_label(FILE *out, const char *v)
{
    for (; v && *v; v++) {
        if (*v == '\\' || *v == '"')
            fprintf(out, "\\%c", *v);
        else if (*v == '\n')
            fputs("\\n", out);
        else
            fputc(*v, out);
    }
}

static void put_label(FILE *out, const char *v)
{
    sg_metrics_put_label(out, v);
}

int sg_metrics_refresh(sg_metrics *m)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    if (!out)
        return -1;
    pthread_mutex_lock(&m->mu);
    size_t n = m->ncached;
    pthread_mutex_unlock(&m->mu);
    /* The table only grows, so the first n entries are stable. */
    for (size_t i = 0; i < n; i++)
        m->cached[i].fn(out, m->cached[i].ctx);
    if (fclose(out) != 0) {
        free(buf);
        return -1;
    }
    pthread_mutex_lock(&m->cache_mu);
    char *old = m->cache_text;
    m->cache_text = buf;
    pthread_mutex_unlock(&m->cache_mu);
    free(old);
    return 0;
}

static void *refresh_main(void *arg)
{
    sg_metrics *m = arg;
    pthread_mutex_lock(&m->run_mu);
    while (!m->stop) {
        pthread_mutex_unlock(&m->run_mu);
        sg_metrics_refresh(m);
        pthread_mutex_lock(&m->run_mu);
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += m->interval_s;
        while (!m->stop && pthread_cond_timedwait(&m->run_cv, &m->run_mu, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&m->run_mu);
    return NULL;
}

int sg_metrics_start_refresh(sg_metrics *m, int interval_s)
{
    if (!m || interval_s < 1 || m->thread_started)
        return -1;
    m->interval_s = interval_s;
    m->stop = 0;
    if (pthread_create(&m->thread, NULL, refresh_main, m) != 0)
        return -1;
    m->thread_started = 1;
    return 0;
}

void sg_metrics_stop_refresh(sg_metrics *m)
{
    if (!m || !m->thread_started)
        return;
    pthread_mutex_lock(&m->run_mu);
    m->stop = 1;
    pthread_cond_broadcast(&m->run_cv);
    pthread_mutex_unlock(&m->run_mu);
    pthread_join(m->thread, NULL);
    m->thread_started = 0;
}

static void render_requests(const sg_metrics *m, FILE *out)
{
    fputs("# HELP sg_http_requests_total HTTP requests by route and status.\n"
          "# TYPE sg_http_requests_total counter\n", out);
    for (size_t i = 0; i < m->nreqs; i++) {
        const req_series *r = &m->reqs[i];
        fputs("sg_http_requests_total{service=\"", out);
        put_label(out, m->service);
        fputs("\",method=\"", out);
        put_label(out, r->method);
        fputs("\",route=\"", out);
        put_label(out, r->route);
        fprintf(out, "\",status=\"%d\"} %.15g\n", r->status, r->count);
    }
}

static void hist_labels(const sg_metrics *m, const route_hist *h, FILE *out)
{
    fputs("{service=\"", out);
    put_label(out, m->service);
    fputs("\",route=\"", out);
    put_label(out, h->route);
    fputc('"', out);
}

static void render_histograms(const sg_metrics *m, FILE *out)
{
    fputs("# HELP sg_http_request_duration_seconds HTTP request latency by route.\n"
          "# TYPE sg_http_request_duration_seconds histogram\n", out);
    for (size_t i = 0; i < m->nhists; i++) {
        const route_hist *h = &m->hists[i];
        unsigned long long cum = 0;
        for (size_t b = 0; b < NBUCKETS; b++) {
            cum += h->buckets[b];
            fputs("sg_http_request_duration_seconds_bucket", out);
            hist_labels(m, h, out);
            if (b < NBUCKETS - 1)
                fprintf(out, ",le=\"%g\"} %llu\n", bucket_le[b], cum);
            else
                fprintf(out, ",le=\"+Inf\"} %llu\n", cum);
        }
        fputs("sg_http_request_duration_seconds_sum", out);
        hist_labels(m, h, out);
        fprintf(out, "} %.9g\n", h->sum);
        fputs("sg_http_request_duration_seconds_count", out);
        hist_labels(m, h, out);
        fprintf(out, "} %llu\n", h->count);
    }
}

/* Counters grouped by name, one # TYPE line per name. */
static void render_counters(const sg_metrics *m, FILE *out)
{
    for (size_t i = 0; i < m->ncounters; i++) {
        size_t first = 0;
        while (strcmp(m->counters[first].name, m->counters[i].name) != 0)
            first++;
        if (first < i)
            continue;
        fprintf(out, "# TYPE %s counter\n", m->counters[i].name);
        for (size_t j = i; j < m->ncounters; j++) {
            const counter *c = &m->counters[j];
            if (strcmp(c->name, m->counters[i].name) != 0)
                continue;
            fprintf(out, "%s{service=\"", c->name);
            put_label(out, m->service);
            fprintf(out, "\"%s%s} %.15g\n", c->labels[0] ? "," : "", c->labels, c->value);
        }
    }
}

char *sg_metrics_render(sg_metrics *m)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    if (!out)
        return NULL;
    size_t ncollectors;
    pthread_mutex_lock(&m->mu);
    render_requests(m, out);
    render_histograms(m, out);
    render_counters(m, out);
    ncollectors = m->ncollectors;
    pthread_mutex_unlock(&m->mu);
    /* Collectors are not called under the lock. The table only grows, so
     * the first ncollectors entries are stable. */
    for (size_t i = 0; i < ncollectors; i++)
        m->collectors[i].fn(out, m->collectors[i].ctx);
    /* The cached collectors' last output, whatever it cost to make. */
    pthread_mutex_lock(&m->cache_mu);
    if (m->cache_text)
        fputs(m->cache_text, out);
    pthread_mutex_unlock(&m->cache_mu);
    if (fclose(out) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}
