/* Service skeleton shared by report, reviewer and reward.
 *
 * sg_app_start: loads config, logging, runs migrations, creates the
 * PostgreSQL pool, Redis client, metrics, auth, the outbox relay, the
 * consumers (each wrapped in the inbox), the workers, and the HTTP server.
 * sg_app_stop shuts down in order: quiesce HTTP, stop workers and consumers,
 * stop HTTP (in-flight requests finish), stop the relay (flushes the
 * producer), service fini, close pools. sg_app_main is start, wait for
 * SIGTERM/SIGINT, stop.
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

/* sg_app_start, then waits for SIGTERM/SIGINT, then sg_app_stop. Returns
 * the process exit code. */
int sg_app_main(const sg_app_spec *spec);

/* Logical topic names of API.md. */
#define SG_T_PANEL_REQUESTED "sg.panel.requested"
#define SG_T_PANEL_ASSIGNED "sg.panel.assigned"
#define SG_T_BALLOT_CLOSED "sg.ballot.closed"
#define SG_T_CASE_DECIDED "sg.case.decided"
#define SG_T_NOTIFICATION "sg.notification.requested"
#define SG_T_REWARD_GRANTED "sg.reward.granted"
#define SG_T_USER_ACTIVITY "sg.user.activity"

#endif
