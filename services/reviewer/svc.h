/* The reviewer service's one header: its context (rv_svc: what handlers,
 * consumers, timers, the collector and the selection benchmark share) and
 * its outcome codes (RV_*).
 *
 * The context is created once (svc.c), read-only afterwards except where
 * noted; owned by whoever created it (the app's fini, or the benchmark).
 *
 * Service-specific configuration (environment):
 *   SG_POOL_ADJUST_INTERVAL_S  (300, 1..86400)  period of the pool adjustment
 *   SG_SELECTION_WINDOW        (64, 8..1000)    candidates read per window
 *   SG_SELECTION_MAX_WINDOWS   (8, 1..64)       windows per selection at most
 *   SG_FATIGUE_CACHE_TTL_S     (900, 10..86400) life of a Redis fatigue entry
 */
#ifndef RV_SVC_H
#define RV_SVC_H

#include <stddef.h>
#include <stdio.h>

#include "fcache.h"
#include "sg/app.h"
#include "sg/inbox.h"
#include "sg/metrics.h"
#include "sg/pg.h"
#include "sg/redis.h"

/* Outcomes of store and domain calls: positive, so that a store function
 * returning one rolls its transaction back (SG_OK = 0 and SG_ERR_* < 0 are
 * sg/pg.h's). A consumer returning any positive code drops the event. */
enum {
    RV_NOT_FOUND = 1,  /* no such user / not a reviewer */
    RV_CONFLICT = 2,   /* state does not allow the change; (case, round) answered before */
    RV_BUSY = 3,       /* another replica is adjusting the pool */
    RV_INELIGIBLE = 4, /* the pool rule does not admit the user */
    RV_DROP = 5,       /* consumers: the event is permanently invalid (logged, dropped) */
};

typedef struct rv_svc {
    sg_app *app;          /* NULL outside the app (benchmark); borrowed */
    sg_pg_pool *pg;       /* borrowed */
    sg_redis *redis;      /* borrowed, may be NULL */
    sg_metrics *metrics;  /* borrowed, may be NULL */
    rv_fcache *fcache;    /* owned */
    long adjust_interval_s;
    long window;
    long max_windows;
    long fcache_ttl_s;
    double next_adjust;   /* touched by the adjustment worker thread only */
} rv_svc;

/* Reads and validates the SG_* variables above; ns names the Redis keys
 * (the schema). Returns NULL with a message naming the variable. */
rv_svc *rv_svc_init(sg_pg_pool *pg, sg_redis *redis, sg_metrics *metrics, const char *ns, char *err, size_t errlen);
void rv_svc_fini(rv_svc *s);

/* Adds v to a counter when metrics exist. */
void rv_count(rv_svc *s, const char *name, const char *labels, double v);

/* The metrics collector (collect.c; sg_metrics_collector, ctx = rv_svc):
 * sg_reviewers{status=...} gauges and the fatigue cache's resets. */
void rv_collect(FILE *out, void *ctx);

/* ---- entry points main.c wires (ctx = the rv_svc) ----
 * Kafka consumers (consumers.c; sg_inbox_fn: each runs inside the inbox
 * transaction). A payload that can never be handled returns a positive
 * code: the event is logged and dropped. */
/* sg.panel.requested → selection → sg.panel.assigned */
int rv_on_panel_requested(sg_pg *c, const sg_kafka_msg *m, const json_t *payload, void *ctx);
/* sg.ballot.closed → releases the open ballot, records the outcome */
int rv_on_ballot_closed(sg_pg *c, const sg_kafka_msg *m, const json_t *payload, void *ctx);
/* The batched sg.ballot.closed consumer's whole batch at once
 * (sg_inbox_apply_fn): rv_store_record_outcomes_batch. */
int rv_apply_ballots_closed(sg_pg *c, const json_t *const *payloads, size_t n, void *ctx);
/* sg.case.decided → records every panelist's outcome, decision and
 * with_majority (against the final verdict when that came first) */
int rv_on_case_decided(sg_pg *c, const sg_kafka_msg *m, const json_t *payload, void *ctx);
/* sg.case.finalized → marks measured against the final verdict; gold marks
 * of audit cases (results.h) */
int rv_on_case_finalized(sg_pg *c, const sg_kafka_msg *m, const json_t *payload, void *ctx);
/* sg.user.activity → one visit */
int rv_on_user_activity(sg_pg *c, const sg_kafka_msg *m, const json_t *payload, void *ctx);

/* Timers (timers.c; sg_worker_fn). */
/* Polled every second; runs the pool adjustment every
 * SG_POOL_ADJUST_INTERVAL_S (first run at start-up). When another replica
 * holds the adjustment lock it skips this turn. */
int rv_pool_adjust_worker(void *ctx);

#endif
