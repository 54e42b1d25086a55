/* Service skeleton shared by report, reviewer and reward.
 *
 * sg_app_start: loads config, logging, runs migrations, creates the
 * PostgreSQL pool, Redis client, metrics, auth, the outbox relay, the
 * consumers (each wrapped in the inbox), the workers, and the HTTP server.
 * sg_app_stop shuts down in order: quiesce HTTP, stop workers and consumers,
 * stop HTTP (in-flight requests finish), stop the relay (flushes the
 * producer), service fini, close pools. sg_app_main is start, wait for
 * SIGTERM/SIGINT, drain, stop.
 *
 * Graceful shutdown (a rolling restart without errors): on SIGTERM a
 * replica first drains for SG_SHUTDOWN_DRAIN_S seconds (default 5, 0..300):
 * GET /readyz answers 503 ("draining") while every other request is served
 * as before, with "Connection: close", so load balancers and Kubernetes
 * endpoints stop sending it new requests and clients' keep-alive
 * connections move to other replicas. Then it stops accepting (MHD quiesce),
 * lets requests in flight finish (up to 10 s) and shuts down as above. A
 * second SIGTERM/SIGINT during the drain cuts it short. Kubernetes'
 * terminationGracePeriodSeconds must cover preStop + drain + the shutdown
 * steps (helm/socialgov/values.yaml says how the chart's numbers add up).
 */
#ifndef SG_APP_H
#define SG_APP_H

#include <stdio.h>
#include "sg/auth.h"
#include "sg/config.h"
#include "sg/http.h"
#include "sg/inbox.h"
#include "sg/metrics.h"
#include "sg/pg.h"
#include "sg/redis.h"
#include "sg/worker.h"

typedef struct sg_app {
    sg_config cfg;
    int shutdown_drain_s;       /* SG_SHUTDOWN_DRAIN_S (default 5, 0..300) */
    sg_pg_pool *pg;
    sg_redis *redis;
    sg_auth *auth;
    sg_metrics *metrics;
    struct sg_outbox_relay *relay;
    void *svc;                  /* the service's context from init */
} sg_app;

typedef struct sg_app_consumer {
    const char *group;          /* consumer group suffix, e.g. "report" */
    const char *topic;          /* logical topic name (prefix added) */
    sg_inbox_fn fn;             /* ctx = svc */
    int parallel;               /* nonzero: SG_CONSUMER_THREADS consumers in the
                                 * group (fn must be safe to run concurrently for
                                 * different keys); 0: one */
    int batch;                  /* nonzero: up to SG_CONSUMER_BATCH events per
                                 * transaction (sg_inbox_process_batch): only
                                 * for a fn whose locks are its event's own
                                 * (rows of one key), since a batch holds every
                                 * lock its events take until its commit, and
                                 * rows shared between keys would then be held
                                 * for the whole batch (lock waits, deadlocks
                                 * between consumers) — unless apply handles
                                 * the batch, taking the shared rows in one
                                 * global order; 0: one per transaction */
    sg_inbox_apply_fn apply;    /* batches only, may be NULL: the whole batch
                                 * at once instead of fn per event (fn still
                                 * handles it one by one after a failure);
                                 * ctx = svc */
} sg_app_consumer;

typedef struct sg_app_worker {
    const char *name;
    int interval_ms;
    sg_worker_fn fn;            /* ctx = svc */
} sg_app_worker;

typedef struct sg_app_spec {
    const char *service;        /* "report" */
    int default_port;
    const sg_route *routes; size_t nroutes;     /* handler ctx = svc */
    const sg_app_consumer *consumers; size_t nconsumers;
    const sg_app_worker *workers; size_t nworkers;
    /* Creates the service context after the app's pools exist; returns NULL
     * with a message on failure. */
    void *(*init)(sg_app *app, char *err, size_t errlen);
    void (*fini)(void *svc);
    sg_metrics_collector collect;   /* optional, ctx = svc */
} sg_app_spec;

/* sg_app_start brings a service up as sg_app_main does (configuration from
 * the environment, migrations, pools, relay, consumers, workers, HTTP) and
 * returns 0 with *app set, or the exit code of a failed start (2: invalid
 * configuration, 1: anything else) with nothing left running. SIGPIPE is
 * blocked in every thread it starts. sg_app_stop shuts that service down in
 * the order above and frees it (NULL is a no-op). Together they let a test
 * or an embedding program run a service in-process. */
int sg_app_start(const sg_app_spec *spec, sg_app **app);
void sg_app_stop(sg_app *app);

/* Starts the drain (see above) and returns at once; sg_app_stop after it
 * quiesces as usual. An embedding program that wants sg_app_main's graceful
 * shutdown calls sg_app_drain, waits app->shutdown_drain_s seconds, then
 * sg_app_stop. Idempotent; NULL is a no-op. */
void sg_app_drain(sg_app *app);

/* sg_app_start, then waits for SIGTERM/SIGINT, then drains for
 * app->shutdown_drain_s seconds, then sg_app_stop. Returns the process exit
 * code. */
int sg_app_main(const sg_app_spec *spec);

/* Logical topic names of API.md. */
#define SG_T_PANEL_REQUESTED "sg.panel.requested"
#define SG_T_PANEL_ASSIGNED "sg.panel.assigned"
#define SG_T_BALLOT_CLOSED "sg.ballot.closed"
#define SG_T_CASE_DECIDED "sg.case.decided"
/* The outcome of a case for upstream modules (no juror ids). */
#define SG_T_CASE_OUTCOME "sg.case.outcome"
#define SG_T_CASE_FINALIZED "sg.case.finalized"
#define SG_T_NOTIFICATION "sg.notification.requested"
#define SG_T_REWARD_GRANTED "sg.reward.granted"
#define SG_T_USER_ACTIVITY "sg.user.activity"
#define SG_T_CASE_FINALIZED "sg.case.finalized"
#define SG_T_REVIEWER_STATUS "sg.reviewer.status_changed"

#endif
