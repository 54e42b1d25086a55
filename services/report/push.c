/* The push gateway dispatcher: POSTs due notifications to
 * SG_PUSH_GATEWAY_URL over libcurl, signed like the upstream callbacks
 * (X-SG-Signature: t=...,v1=...; X-SG-Event-Id = the notification id),
 * outside any database transaction (the rows are leased while the calls
 * run; see rp_store_push_claim). Also the push metrics: the calls'
 * latency and results, in-process at each scrape, and the notification
 * counts, on the metrics refresh thread (rp_collect). */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "notify.h"
#include "svc.h"
#include "sg/clock.h"
#include "sg/digest.h"
#include "sg/log.h"
#include "sg/urlpolicy.h"
#include "store.h"

/* The lease outlasts the call (its total timeout) and the recording of its
 * result; a replica that died mid-call leaves the row due after it. */
#define LEASE_MARGIN_S 5
static const double latency_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define NBOUNDS (sizeof latency_bounds / sizeof latency_bounds[0])

struct rp_push_stats {
    pthread_mutex_t lock;
    unsigned long long buckets[NBOUNDS + 1]; /* the last: +Inf */
    unsigned long long count;
    double sum;
    unsigned long long results[3];           /* sent, retried, failed */
};

struct rp_push_stats *rp_push_stats_new(void)
{
    struct rp_push_stats *st = calloc(1, sizeof *st);
    if (st && pthread_mutex_init(&st->lock, NULL) != 0) {
        free(st);
        return NULL;
    }
    return st;
}

void rp_push_stats_free(struct rp_push_stats *st)
{
    if (!st)
        return;
    pthread_mutex_destroy(&st->lock);
    free(st);
}

static void observe(struct rp_push_stats *st, double seconds, int result)
{
    size_t i = 0;
    while (i < NBOUNDS && seconds > latency_bounds[i])
        i++;
    pthread_mutex_lock(&st->lock);
    st->buckets[i]++;
    st->count++;
    st->sum += seconds;
    st->results[result]++;
    pthread_mutex_unlock(&st->lock);
}

void rp_push_collect_counts(FILE *out, rp_svc *s)
{
    long counts[RP_NK_COUNT][RP_PUSH_NSTATUS];
    if (rp_store_notification_counts(s->app->pg, counts) != 0) {
        sg_warn("metrics: cannot count notifications");
        return;
    }
    fprintf(out, "# HELP sg_notifications Notifications by kind and push delivery status.\n"
                 "# TYPE sg_notifications gauge\n");
    for (int k = 0; k < RP_NK_COUNT; k++)
        for (int i = 0; i < RP_PUSH_NSTATUS; i++)
            fprintf(out, "sg_notifications{kind=\"%s\",status=\"%s\"} %ld\n", rp_notify_kind_name((rp_notify_kind)k),
                    rp_push_status_name((rp_push_status)i), counts[k][i]);
}

void rp_push_collect_live(FILE *out, void *svc)
{
    struct rp_push_stats *st = ((rp_svc *)svc)->push_stats;
    unsigned long long cum = 0;

    pthread_mutex_lock(&st->lock);
    fprintf(out, "# HELP sg_push_attempts_total Push gateway calls by result.\n"
                 "# TYPE sg_push_attempts_total counter\n"
                 "sg_push_attempts_total{result=\"sent\"} %llu\n"
                 "sg_push_attempts_total{result=\"retry\"} %llu\n"
                 "sg_push_attempts_total{result=\"failed\"} %llu\n",
            st->results[0], st->results[1], st->results[2]);
    fprintf(out, "# HELP sg_push_delivery_seconds Duration of push gateway calls.\n"
                 "# TYPE sg_push_delivery_seconds histogram\n");
    for (size_t i = 0; i < NBOUNDS; i++) {
        cum += st->buckets[i];
        fprintf(out, "sg_push_delivery_seconds_bucket{le=\"%g\"} %llu\n", latency_bounds[i], cum);
    }
    cum += st->buckets[NBOUNDS];
    fprintf(out, "sg_push_delivery_seconds_bucket{le=\"+Inf\"} %llu\nsg_push_delivery_seconds_sum %.6f\n"
                 "sg_push_delivery_seconds_count %llu\n",
            cum, st->sum, st->count);
    pthread_mutex_unlock(&st->lock);
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *ud)
{
    (void)ptr;
    (void)ud;
    return size * nmemb;
}

/* POSTs the job's body to the gateway on curl (reused within a batch, so
 * its connection is kept alive); returns the HTTP status, or 0 with err
 * filled. */
static int post(const rp_svc *s, CURL *curl, const rp_push_job *job, char *err, size_t errlen)
{
    char sig[SG_SIGNATURE_MAX], sig_header[SG_SIGNATURE_MAX + 32], id_header[64], errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *headers = NULL, *h;
    long status = 0;
    CURLcode rc;

    if (sg_signature_header(s->push_secret, (long long)time(NULL), job->body, strlen(job->body), sig)) {
        snprintf(err, errlen, "cannot sign the body");
        return 0;
    }
    snprintf(sig_header, sizeof sig_header, "X-SG-Signature: %s", sig);
    snprintf(id_header, sizeof id_header, "X-SG-Event-Id: %.36s", job->id);
    const char *lines[] = {"Content-Type: application/json", sig_header, id_header, "Expect:"};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        if (!(h = curl_slist_append(headers, lines[i]))) {
            snprintf(err, errlen, "out of memory");
            goto cleanup;
        }
        headers = h;
    }
    curl_easy_setopt(curl, CURLOPT_URL, s->push_url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, job->body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(job->body));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, s->push_timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, s->push_connect_timeout_ms);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "socialgov-report/1");
    rc = curl_easy_perform(curl);
    if (rc != CURLE_OK)
        snprintf(err, errlen, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
    else
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
cleanup:
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(headers);
    return (int)status;
}

int rp_push_tick(void *ctx)
{
    rp_svc *s = ctx;
    rp_push_job jobs[RP_PUSH_MAX_BATCH];
    rp_push_result results[RP_PUSH_MAX_BATCH];
    int batch = (int)s->push_batch, njobs = 0, handled, down = 0;
    /* The calls of a batch are made one after the other: the lease covers
     * all of them. */
    int lease_s = (int)((s->push_timeout_ms * batch + 999) / 1000) + LEASE_MARGIN_S;
    CURL *curl;

    if (!s->push_url)
        return 0;
    handled = rp_store_push_claim(s->app->pg, batch, lease_s, s->push_max_per_hour, jobs, &njobs);
    if (handled <= 0 || njobs == 0)
        return handled; /* -1, nothing due, or only settled without a call (drain on) */
    memset(results, 0, sizeof results);
    if (!(curl = curl_easy_init()))
        down = 1;
    for (int i = 0; i < njobs && !down; i++) {
        rp_push_result *r = &results[i];
        long long t0 = sg_clock_mono_ms();
        r->attempted = 1;
        r->http_status = post(s, curl, &jobs[i], r->error, sizeof r->error);
        int ok = r->http_status >= 200 && r->http_status < 300;
        observe(s->push_stats, (double)(sg_clock_mono_ms() - t0) / 1000.0,
                ok ? 0 : jobs[i].attempts + 1 >= s->push_max_attempts ? 2 : 1);
        if (!ok) {
            char *where = sg_url_redact(s->push_url);
            if (r->http_status)
                sg_info("push %s attempt %d to %s: HTTP %d", jobs[i].id, jobs[i].attempts + 1, where ? where : "?",
                        r->http_status);
            else
                sg_info("push %s attempt %d to %s: %s", jobs[i].id, jobs[i].attempts + 1, where ? where : "?",
                        r->error);
            free(where);
        }
        /* No answer at all: the gateway is down or hangs; the rest of the
         * batch is released rather than each waiting for its timeout. */
        if (!r->http_status)
            down = 1;
    }
    if (curl)
        curl_easy_cleanup(curl);
    if (rp_store_push_record(s->app->pg, jobs, results, njobs, (int)s->push_max_attempts, s->push_max_backoff_s))
        sg_warn("push: results of %d calls not recorded; retried when their lease ends", njobs);
    for (int i = 0; i < njobs; i++)
        rp_store_push_job_free(&jobs[i]);
    return handled;
}
