/* Service skeleton shared by report, reviewer and reward.
 *
 * sg_app_main: loads config, logging, runs migrations, creates the PostgreSQL
 * pool, Redis client, metrics, auth, the outbox relay, the consumers (each
 * wrapped in the inbox), the workers, and the HTTP server; then waits for
 * SIGTERM/SIGINT and shuts down in order: quiesce HTTP, stop workers and
 * consumers, stop HTTP (in-flight requests finish), stop the relay (flushes
 * the producer), service fini, close pools. Returns the process exit code.
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

int sg_app_main(const sg_app_spec *spec);

/* Logical topic names of API.md. */
#define SG_T_PANEL_REQUESTED "sg.panel.requested"
#define SG_T_PANEL_ASSIGNED "sg.panel.assigned"
#define SG_T_BALLOT_CLOSED "sg.ballot.closed"
#define SG_T_CASE_DECIDED "sg.case.decided"
#define SG_T_NOTIFICATION "sg.notification.requested"
#define SG_T_REWARD_GRANTED "sg.reward.granted"
#define SG_T_USER_ACTIVITY "sg.user.activity"
#define SG_T_CASE_FINALIZED "sg.case.finalized"
#define SG_T_REVIEWER_STATUS "sg.reviewer.status_changed"

#endif
