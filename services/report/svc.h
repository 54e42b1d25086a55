/* The report service's context, shared by its handlers, consumers and
 * workers (the `ctx` they receive). Created by rp_svc_init from SG_*
 * variables, immutable afterwards except where noted; freed by rp_svc_fini.
 */
#ifndef RP_SVC_H
#define RP_SVC_H

#include <pthread.h>
#include <jansson.h>
#include <stdio.h>
#include "sg/app.h"
#include "sg/inbox.h"
#include "sg/pg_group.h"
#include "sg/urlpolicy.h"

/* SG_CALLBACK_WORKERS: delivery threads (main.c starts them). */
#define RP_CALLBACK_WORKERS_DEFAULT 8
#define RP_CALLBACK_WORKERS_MIN 2
#define RP_CALLBACK_WORKERS_MAX 64

/* SG_INTAKE_GROUP: most reports one intake transaction commits together. */
#define RP_INTAKE_GROUP_DEFAULT 1
#define RP_INTAKE_GROUP_MAX 64
/* SG_VOTE_GROUP: most votes one vote transaction commits together. On by
 * default, unlike intake's: a vote is three of a case's transactions, and
 * committing concurrent ones together took the vote → rewards p99 down at
 * 100 and 200 reports/s in bench A/Bs (bench/README.md, sixth session), for
 * a few ms more per vote. */
#define RP_VOTE_GROUP_DEFAULT 8
/* SG_VOTE_GROUPS: vote transactions in flight at once. Four, not intake's
 * two: with two, the votes' throughput capped the chain at 200 reports/s in
 * the sweep (credited 178-187/s, against 191-194/s with four). */
#define RP_VOTE_GROUPS_DEFAULT 4
#define RP_VOTE_GROUP_MAX 64

/* A host with deliveries in flight (callbacks.c). */
typedef struct rp_host_slot {
    char *host;  /* malloc'ed; NULL: free slot */
    int busy;    /* deliveries in flight */
} rp_host_slot;

typedef struct rp_svc {
    sg_app *app;                  /* borrowed: owns the pools */
    long rate_per_min;            /* SG_REPORT_RATE_PER_MIN */
    char *callback_secret;        /* SG_CALLBACK_SECRET, owned */
    long callback_max_attempts;   /* SG_CALLBACK_MAX_ATTEMPTS */
    long callback_timeout_ms;     /* SG_CALLBACK_TIMEOUT_MS */
    long callback_max_backoff_s;  /* SG_CALLBACK_MAX_BACKOFF_S */
    long callback_workers;        /* SG_CALLBACK_WORKERS */
    sg_allowlist *callback_allow; /* SG_CALLBACK_ALLOW_HOSTS, owned */
    /* Mutable, under cb_lock: the hosts with deliveries in flight, so no
     * host holds more than callback_workers / 2 workers (callbacks.c). */
    pthread_mutex_t cb_lock;
    rp_host_slot *cb_hosts;       /* callback_workers slots, owned */
    long shortfall_retry_base_s;  /* SG_SHORTFALL_RETRY_BASE_S: first pause of the shortfall retries */
    char rate_prefix[96];         /* Redis key prefix: one namespace per schema */
    /* Push gateway (push.c); push_url NULL: no gateway, inbox only. */
    char *push_url;               /* SG_PUSH_GATEWAY_URL, owned */
    char *push_secret;            /* SG_PUSH_SECRET (default SG_CALLBACK_SECRET), owned */
    long push_max_per_hour;       /* SG_PUSH_MAX_PER_HOUR */
    long push_max_attempts;       /* SG_PUSH_MAX_ATTEMPTS */
    long push_timeout_ms;         /* SG_PUSH_TIMEOUT_MS: a whole gateway call */
    long push_connect_timeout_ms; /* SG_PUSH_CONNECT_TIMEOUT_MS */
    long push_max_backoff_s;      /* SG_PUSH_MAX_BACKOFF_S */
    long push_batch;              /* SG_PUSH_BATCH: notifications one dispatcher claims at once */
    struct rp_push_stats *push_stats; /* mutable, its own lock (push.c) */
    long intake_group;            /* SG_INTAKE_GROUP */
    sg_pg_group *intake;          /* owned: group commit of report intake (mutable, its own lock) */
    long vote_group;              /* SG_VOTE_GROUP */
    sg_pg_group *votes;           /* owned: group commit of votes (mutable, its own lock) */
} rp_svc;

/* Outcomes of a store operation besides SG_OK and SG_ERR_*: the
 * transaction was rolled back and nothing was written. The routes map them to
 * 404, 403, 409 and 422. */
enum {
    RP_NOT_FOUND = 1,   /* no such rule, report, case or ballot */
    RP_FORBIDDEN,       /* the caller is not a party to it */
    RP_CONFLICT,        /* state forbids it (closed, duplicate, replay mismatch) */
    RP_UNPROCESSABLE,   /* well-formed but impossible (no active rule) */
};

typedef struct rp_detail {
    char text[256];
} rp_detail;

/* sg_app_spec hooks (see sg/app.h). svc.c: */
void *rp_svc_init(sg_app *app, char *err, size_t errlen);
void rp_svc_fini(void *svc);
/* collect.c: appends sg_cases{status=...} gauges. */
void rp_collect(FILE *out, void *svc);
/* collect.c: a plain collector (in-process values; ctx = the rp_svc): the
 * group-commit counters of intake and votes. */
void rp_groups_collect_live(FILE *out, void *svc);

/* Most notifications one dispatcher pass claims (SG_PUSH_BATCH's bound). */
#define RP_PUSH_MAX_BATCH 64

/* push.c: the gateway dispatcher's statistics (latency histogram and
 * results of the gateway calls), created by rp_svc_init. */
struct rp_push_stats *rp_push_stats_new(void);
void rp_push_stats_free(struct rp_push_stats *st);
/* A plain metrics collector (in-process values only; ctx = the rp_svc). */
void rp_push_collect_live(FILE *out, void *svc);
/* Appends sg_notifications{kind,status} (a query: called from rp_collect,
 * on the metrics refresh thread). */
void rp_push_collect_counts(FILE *out, rp_svc *s);

/* ---- entry points main.c wires (ctx = the rp_svc) ----
 * The Kafka consumers (consumers.c), the timer scanners (timers.c), the
 * upstream callback sender (callbacks.c) and the push dispatcher (push.c). */
/* sg.panel.assigned (inbox handler). */
int rp_on_panel_assigned(sg_pg *c, const sg_kafka_msg *m, const json_t *payload, void *ctx);
/* sg.reviewer.status_changed (inbox handler). */
int rp_on_reviewer_status(sg_pg *c, const sg_kafka_msg *m, const json_t *payload, void *ctx);

/* One pass of every case timer: deadlines, ballot expiry, reminders,
 * shortfall retries, finality. Returns the items handled (> 0 makes the worker drain). */
int rp_timers_tick(void *ctx);
/* Old idempotency keys. */
int rp_housekeeping_tick(void *ctx);

/* Delivers one due callback, if any: returns 1 when one was attempted. */
int rp_callbacks_tick(void *ctx);

/* push.c: handles one due notification, if any (a gateway call, or a
 * deferral, cap or mute decided without one): returns 1 when one was
 * handled, 0 when none is due or no gateway is configured. */
int rp_push_tick(void *ctx);

#endif
