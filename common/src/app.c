/* Service skeleton: start-up, readiness, metrics and ordered shutdown. */
#include "sg/app.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sg/kafka.h"
#include "sg/clock.h"
#include "sg/log.h"
#include "sg/migrate.h"
#include "sg/outbox.h"

#define MIGRATE_WAIT_MS 60000
#define DRAIN_DEFAULT_S 5
#define DRAIN_MAX_S 300

/* The version /metrics reports in sg_build_info: SG_VERSION from the
 * environment (the Helm chart sets the image tag of the pod's Deployment)
 * or, unset, what the build defined (-DSG_BUILD_VERSION=...). */
#ifndef SG_BUILD_VERSION
#define SG_BUILD_VERSION "dev"
#endif
#define VERSION_MAX 128

typedef struct app_consumer {
    sg_app *app;
    const sg_app_consumer *spec;
    char topic[256];
    char group[256];
    sg_consumer *consumer;
} app_consumer;

typedef struct app_state {
    sg_app app;              /* first: sg_app_stop gets back here from it */
    const sg_app_spec *spec;
    sg_http_server *http;
    int cfg_loaded;
    app_consumer *consumers; /* every consumer instance, grouped by spec */
    size_t nconsumers;
    sg_worker **workers;
    char version[VERSION_MAX + 1];
    atomic_int draining;     /* sg_app_drain was called */
} app_state;

/* The infrastructure a replica talks to, in the order /readyz names it. */
enum { DEP_POSTGRES, DEP_KAFKA, DEP_REDIS, DEP_N };
static const char *const dep_names[DEP_N] = {"postgres", "kafka", "redis"};

/* Pings each dependency; up[i] = 1 when it answered. */
static void check_deps(app_state *st, int up[DEP_N])
{
    up[DEP_POSTGRES] = sg_pg_ping(st->app.pg) == 0;
    up[DEP_KAFKA] = sg_producer_ping(sg_outbox_relay_producer(st->app.relay), 1000) == 0;
    up[DEP_REDIS] = sg_redis_ping(st->app.redis) == 0;
}

/* The service's handler, with the event's id and trace in its log lines. */
static int app_handle(sg_pg *c, const sg_kafka_msg *m, const json_t *payload, void *ctx)
{
    app_consumer *ac = ctx;
    sg_log_set_context(m->event_id, m->traceparent);
    int rc = ac->spec->fn(c, m, payload, ac->app->svc);
    sg_log_set_context(NULL, NULL);
    return rc;
}

static int app_apply(sg_pg *c, const json_t *const *payloads, size_t n, void *ctx)
{
    app_consumer *ac = ctx;
    return ac->spec->apply(c, payloads, n, ac->app->svc);
}

static size_t app_consume(const sg_kafka_msg *msgs, size_t n, void *ctx)
{
    app_consumer *ac = ctx;
    int one_tx = 0;
    size_t done = sg_inbox_process_batch(ac->app->pg, msgs, n, app_handle,
                                         ac->spec->apply ? app_apply : NULL, ac, &one_tx);
    char labels[160];
    snprintf(labels, sizeof labels, "topic=\"%s\"", ac->spec->topic);
    /* Every take, of one event or many: the events per take are what the
     * consumer's transactions carry. */
    sg_metrics_count(ac->app->metrics, "sg_consumer_takes_total", labels, 1);
    sg_metrics_count(ac->app->metrics, "sg_consumer_events_total", labels, (double)n);
    if (n > 1) {
        sg_metrics_count(ac->app->metrics, one_tx ? "sg_consumer_batches_total" : "sg_consumer_batch_fallbacks_total",
                         labels, 1);
        if (one_tx)
            sg_metrics_count(ac->app->metrics, "sg_consumer_batched_events_total", labels, (double)n);
    }
    return done;
}

/* Ready whenever PostgreSQL answers: Kafka (the outbox holds the events)
 * and Redis (a cache) being away does not take a replica out of service. */
static int app_ready(void *ctx, json_t *deps)
{
    app_state *st = ctx;
    int up[DEP_N];
    check_deps(st, up);
    for (int i = 0; i < DEP_N; i++)
        json_object_set_new(deps, dep_names[i], json_string(up[i] ? "up" : "down"));
    return up[DEP_POSTGRES] ? 0 : -1;
}

/* A cached collector: the pings may take a second each. */
static void app_collect_deps(FILE *out, void *ctx)
{
    int up[DEP_N];
    check_deps(ctx, up);
    fputs("# HELP sg_dependency_up 1 when the dependency answered at the last metrics refresh.\n"
          "# TYPE sg_dependency_up gauge\n", out);
    for (int i = 0; i < DEP_N; i++)
        fprintf(out, "sg_dependency_up{dependency=\"%s\"} %d\n", dep_names[i], up[i]);
}

static void app_collect(FILE *out, void *ctx)
{
    app_state *st = ctx;
    /* Tells two versions apart during a canary: join any series on the pod
     * (or instance) with this one's version label. */
    fputs("# HELP sg_build_info The version this process runs (SG_VERSION, else the build's), always 1.\n"
          "# TYPE sg_build_info gauge\n"
          "sg_build_info{service=\"", out);
    sg_metrics_put_label(out, st->spec->service);
    fputs("\",version=\"", out);
    sg_metrics_put_label(out, st->version);
    fprintf(out, "\"} 1\n"
                 "# HELP sg_draining 1 once shutdown began: /readyz answers 503 while requests are still served.\n"
                 "# TYPE sg_draining gauge\n"
                 "sg_draining %d\n",
            atomic_load(&st->draining));
    fprintf(out,
            "# HELP sg_outbox_backlog Unpublished outbox rows seen at the relay's last scan.\n"
            "# TYPE sg_outbox_backlog gauge\n"
            "sg_outbox_backlog %ld\n"
            "# HELP sg_outbox_published_total Events published to Kafka by this process's relay.\n"
            "# TYPE sg_outbox_published_total counter\n"
            "sg_outbox_published_total %ld\n"
            "# HELP sg_outbox_relay_leader 1 when this process's relay holds the leader lock.\n"
            "# TYPE sg_outbox_relay_leader gauge\n"
            "sg_outbox_relay_leader %d\n"
            "# HELP sg_outbox_dead_total Events the broker refused for good, moved to outbox_dead by this process's relay.\n"
            "# TYPE sg_outbox_dead_total counter\n"
            "sg_outbox_dead_total %ld\n",
            sg_outbox_relay_backlog(st->app.relay), sg_outbox_relay_published(st->app.relay),
            sg_outbox_relay_is_leader(st->app.relay), sg_outbox_relay_dead(st->app.relay));
    fprintf(out, "# HELP sg_outbox_relay_batches_total Relay scans that found rows to publish.\n"
                 "# TYPE sg_outbox_relay_batches_total counter\n"
                 "sg_outbox_relay_batches_total %ld\n"
                 "# HELP sg_outbox_relay_seconds_total Time those batches spent per stage: scan (read the rows), "
                 "deliver (produce and wait for every delivery report), mark (delete them: published), linger "
                 "(SG_OUTBOX_LINGER_MS).\n"
                 "# TYPE sg_outbox_relay_seconds_total counter\n",
            sg_outbox_relay_batches(st->app.relay));
    for (int s = 0; s < SG_RELAY_STAGES; s++)
        fprintf(out, "sg_outbox_relay_seconds_total{stage=\"%s\"} %.6f\n", sg_outbox_relay_stage_name(s),
                (double)sg_outbox_relay_stage_us(st->app.relay, s) / 1e6);
    if (st->spec->nconsumers == 0)
        return;
    fprintf(out, "# HELP sg_consumer_last_processed_seconds Unix time of the last event handled, per topic.\n"
                 "# TYPE sg_consumer_last_processed_seconds gauge\n");
    for (size_t i = 0; i < st->spec->nconsumers; i++) {
        const sg_app_consumer *c = &st->spec->consumers[i];
        double last = 0;
        for (size_t k = 0; k < st->nconsumers; k++) {
            const app_consumer *ac = &st->consumers[k];
            double t = ac->spec == c && ac->consumer ? sg_consumer_last_processed(ac->consumer) : 0;
            last = t > last ? t : last;
        }
        fputs("sg_consumer_last_processed_seconds{topic=\"", out);
        sg_metrics_put_label(out, c->topic);
        fprintf(out, "\"} %.3f\n", last);
    }
}

/* The database may still be starting (compose, k8s): wait for it, but fail
 * at once on a migration that the reachable server refuses. */
static int migrate_with_retry(sg_app *app, char *err, size_t errlen)
{
    long long deadline = sg_clock_mono_ms() + MIGRATE_WAIT_MS;
    long delay = 250;
    for (;;) {
        if (sg_migrate(app->pg, app->cfg.migrations_dir, err, errlen) == 0)
            return 0;
        if (sg_pg_ping(app->pg) == 0 || sg_clock_mono_ms() + delay > deadline)
            return -1;
        sg_warn("%s; retrying in %ld ms", err, delay);
        sg_sleep_ms(delay);
        delay = delay * 2 > 4000 ? 4000 : delay * 2;
    }
}

/* Stops and frees everything start created, in shutdown order: quiesce
 * HTTP, stop workers and consumers, stop HTTP (in-flight requests finish),
 * stop the relay (flushes the producer), service fini, close pools. Each
 * part may be missing (a start that failed half-way). */
static void app_teardown(app_state *st)
{
    sg_app *app = &st->app;
    const sg_app_spec *spec = st->spec;

    if (st->http)
        sg_http_quiesce(st->http);
    for (size_t i = 0; st->workers && i < spec->nworkers; i++)
        sg_worker_stop(st->workers[i]);
    for (size_t i = 0; st->consumers && i < st->nconsumers; i++)
        sg_consumer_request_stop(st->consumers[i].consumer);
    for (size_t i = 0; st->consumers && i < st->nconsumers; i++)
        sg_consumer_stop(st->consumers[i].consumer);
    if (st->http)
        sg_http_stop(st->http);
    /* Its collectors use the relay, the pools and the service context. */
    if (app->metrics)
        sg_metrics_stop_refresh(app->metrics);
    sg_outbox_relay_stop(app->relay);
    if (app->svc && spec->fini)
        spec->fini(app->svc);
    sg_redis_free(app->redis);
    sg_pg_pool_free(app->pg);
    if (app->auth)
        sg_auth_free(app->auth);
    if (app->metrics)
        sg_metrics_free(app->metrics);
    free(st->workers);
    free(st->consumers);
    if (st->cfg_loaded)
        sg_config_free(&app->cfg);
    free(st);
}

int sg_app_start(const sg_app_spec *spec, sg_app **out)
{
    app_state *st;
    sg_app *app;
    sigset_t pipe_only, saved;
    char err[1024];
    int rc = 1;

    *out = NULL;
    st = calloc(1, sizeof *st);
    if (!st) {
        fprintf(stderr, "%s: out of memory\n", spec->service);
        return 1;
    }
    app = &st->app;
    st->spec = spec;
    /* Every thread started here inherits this mask: a write to a closed
     * socket must give EPIPE, never kill the process. The caller's own mask
     * is given back at the end. */
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, &saved);

    if (sg_config_load(&app->cfg, spec->service, spec->default_port, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s\n", spec->service, err);
        rc = 2;
        goto cleanup;
    }
    st->cfg_loaded = 1;
    sg_log_init(spec->service, (sg_log_level)app->cfg.log_level);
    long drain_s;
    if (sg_env_long("SG_SHUTDOWN_DRAIN_S", DRAIN_DEFAULT_S, 0, DRAIN_MAX_S, &drain_s, err, sizeof err) != 0) {
        sg_error("%s", err);
        rc = 2;
        goto cleanup;
    }
    app->shutdown_drain_s = (int)drain_s;
    const char *version = getenv("SG_VERSION");
    if (!version || !*version)
        version = SG_BUILD_VERSION;
    if (strlen(version) > VERSION_MAX) {
        sg_error("SG_VERSION: at most %d characters", VERSION_MAX);
        rc = 2;
        goto cleanup;
    }
    snprintf(st->version, sizeof st->version, "%s", version);
    if (app->cfg.kafka_properties[0]) {
        char keys[512];
        sg_info("kafka properties set: %s",
                sg_kafka_properties_keys(app->cfg.kafka_properties, keys, sizeof keys));
    }

    app->auth = sg_auth_create(app->cfg.api_keys, app->cfg.jwt_secret, err, sizeof err);
    if (!app->auth) {
        sg_error("%s", err);
        rc = 2;
        goto cleanup;
    }
    app->metrics = sg_metrics_create(spec->service);
    if (!app->metrics) {
        sg_error("cannot create metrics");
        goto cleanup;
    }
    sg_pg_options pgo = {
        .statement_timeout_ms = app->cfg.pg_statement_timeout_ms,
        .lock_timeout_ms = app->cfg.pg_lock_timeout_ms,
        .connect_timeout_s = app->cfg.pg_connect_timeout_s,
        .keepalives_idle_s = app->cfg.pg_keepalives_idle_s,
        .keepalives_interval_s = app->cfg.pg_keepalives_interval_s,
        .keepalives_count = app->cfg.pg_keepalives_count,
        .tcp_user_timeout_ms = app->cfg.pg_tcp_user_timeout_ms,
    };
    sg_pg_set_options(&pgo);
    app->pg = sg_pg_pool_create(app->cfg.pg_dsn, app->cfg.pg_schema, app->cfg.pg_pool_size, err, sizeof err);
    if (!app->pg) {
        sg_error("%s", err);
        rc = 2;
        goto cleanup;
    }
    if (migrate_with_retry(app, err, sizeof err) != 0) {
        sg_error("%s", err);
        goto cleanup;
    }
    app->redis = sg_redis_create(app->cfg.redis_url, 500, 4, err, sizeof err);
    if (!app->redis) {
        sg_error("%s", err);
        rc = 2;
        goto cleanup;
    }
    if (spec->init) {
        app->svc = spec->init(app, err, sizeof err);
        if (!app->svc) {
            sg_error("%s init failed: %s", spec->service, err);
            goto cleanup;
        }
    }
    app->relay = sg_outbox_relay_start(app->cfg.pg_dsn, app->cfg.pg_schema, app->cfg.kafka_brokers,
                                       app->cfg.topic_prefix, err, sizeof err);
    if (!app->relay) {
        sg_error("%s", err);
        goto cleanup;
    }
    sg_outbox_relay_set_linger(app->relay, app->cfg.outbox_linger_ms);
    sg_outbox_relay_attach(app->relay, app->pg);
    /* Several consumers per topic in one group: Kafka gives each a share of
     * the partitions, so events of different keys are handled in parallel
     * while one key's events stay in order on one consumer. */
    for (size_t i = 0; i < spec->nconsumers; i++)
        st->nconsumers += spec->consumers[i].parallel ? (size_t)app->cfg.consumer_threads : 1;
    if (st->nconsumers) {
        st->consumers = calloc(st->nconsumers, sizeof *st->consumers);
        if (!st->consumers)
            goto cleanup;
    }
    for (size_t k = 0, i = 0; k < spec->nconsumers; k++) {
        size_t copies = spec->consumers[k].parallel ? (size_t)app->cfg.consumer_threads : 1;
        for (size_t j = 0; j < copies; j++, i++) {
            app_consumer *ac = &st->consumers[i];
            ac->app = app;
            ac->spec = &spec->consumers[k];
            sg_topic(ac->topic, sizeof ac->topic, app->cfg.topic_prefix, ac->spec->topic);
            snprintf(ac->group, sizeof ac->group, "%ssg-%s", app->cfg.topic_prefix, ac->spec->group);
            const char *topics[] = {ac->topic};
            ac->consumer = sg_consumer_start_batch(app->cfg.kafka_brokers, ac->group, topics, 1,
                                                   ac->spec->batch ? app->cfg.consumer_batch : 1,
                                                   app->cfg.consumer_linger_ms, app_consume, ac, err, sizeof err);
            if (!ac->consumer) {
                sg_error("%s", err);
                goto cleanup;
            }
        }
    }
    if (spec->nworkers) {
        st->workers = calloc(spec->nworkers, sizeof *st->workers);
        if (!st->workers)
            goto cleanup;
    }
    for (size_t i = 0; i < spec->nworkers; i++) {
        st->workers[i] = sg_worker_start(spec->workers[i].name, spec->workers[i].interval_ms, spec->workers[i].fn,
                                         app->svc);
        if (!st->workers[i])
            goto cleanup;
    }
    /* In-process values at each scrape; whatever pings or queries the
     * database on the refresh thread, so a scrape never waits for them. */
    sg_metrics_add_collector(app->metrics, app_collect, st);
    sg_metrics_add_cached_collector(app->metrics, app_collect_deps, st);
    if (spec->collect)
        sg_metrics_add_cached_collector(app->metrics, spec->collect, app->svc);
    if (sg_metrics_start_refresh(app->metrics, app->cfg.metrics_refresh_s) != 0) {
        sg_error("cannot start the metrics refresh thread");
        goto cleanup;
    }
    sg_http_opts opts = {
        .bind = app->cfg.http_bind,
        .port = app->cfg.http_port,
        .threads = app->cfg.http_threads,
        .routes = spec->routes,
        .nroutes = spec->nroutes,
        .ctx = app->svc,
        .auth = app->auth,
        .metrics = app->metrics,
        .ready = app_ready,
        .ready_ctx = st,
    };
    st->http = sg_http_start(&opts, err, sizeof err);
    if (!st->http) {
        sg_error("%s", err);
        goto cleanup;
    }
    sg_info("started on %s:%d (version %s, shutdown drain %d s)", app->cfg.http_bind, app->cfg.http_port,
            st->version, app->shutdown_drain_s);
    *out = app;
    rc = 0;
cleanup:
    if (rc != 0) {
        int logged = st->cfg_loaded;
        app_teardown(st);
        if (logged)
            sg_info("stopped after a start-up failure");
    }
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    return rc;
}

void sg_app_drain(sg_app *app)
{
    if (!app)
        return;
    app_state *st = (app_state *)(void *)app;
    if (atomic_exchange(&st->draining, 1))
        return;
    sg_http_drain(st->http);
    sg_info("draining: /readyz answers 503, requests are still served");
}

void sg_app_stop(sg_app *app)
{
    if (!app)
        return;
    /* app is the first member of its app_state (sg_app_start). */
    app_teardown((app_state *)(void *)app);
    sg_info("stopped");
}

int sg_app_main(const sg_app_spec *spec)
{
    sg_app *app = NULL;
    sigset_t sigs;

    /* Before any thread exists, so that every thread inherits the mask and
     * only sigwait below sees these signals. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    int rc = sg_app_start(spec, &app);
    if (rc != 0)
        return rc;
    for (;;) {
        int sig = 0;
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (sig == SIGTERM || sig == SIGINT) {
            sg_info("signal %d: shutting down after a drain of %d s", sig, app->shutdown_drain_s);
            break;
        }
    }
    /* Readiness turns 503 first and everything is still served for the
     * drain period, so that load balancers (a Kubernetes Service, whose
     * readiness probe notices within one period) stop routing here before
     * the listener closes. A second SIGTERM/SIGINT cuts the drain short. */
    sg_app_drain(app);
    long long end = sg_clock_mono_ms() + (long long)app->shutdown_drain_s * 1000;
    for (long long left; (left = end - sg_clock_mono_ms()) > 0;) {
        struct timespec ts = {.tv_sec = left / 1000, .tv_nsec = (left % 1000) * 1000000L};
        int sig = sigtimedwait(&sigs, NULL, &ts);
        if (sig == SIGTERM || sig == SIGINT) {
            sg_info("signal %d during the drain: stopping now", sig);
            break;
        }
        if (sig < 0 && errno != EAGAIN && errno != EINTR) {
            sg_warn("sigtimedwait: %s; stopping now", strerror(errno));
            break;
        }
    }
    sg_info("drain over: stopping (no new connections, requests in flight finish)");
    sg_app_stop(app);
    return 0;
}
