/* The report service's context, shared by its handlers, consumers and
 * workers (the `ctx` they receive). Created by report_init from SG_*
 * variables, immutable afterwards except where noted; freed by report_fini.
 */
#ifndef REPORT_H
#define REPORT_H

#include <stdio.h>
#include "sg/app.h"

typedef struct report_svc {
    sg_app *app;                  /* borrowed: owns the pools */
    long rate_per_min;            /* SG_REPORT_RATE_PER_MIN */
    char *callback_secret;        /* SG_CALLBACK_SECRET, owned */
    long callback_max_attempts;   /* SG_CALLBACK_MAX_ATTEMPTS */
    long callback_timeout_ms;     /* SG_CALLBACK_TIMEOUT_MS */
    long callback_max_backoff_s;  /* SG_CALLBACK_MAX_BACKOFF_S */
    char rate_prefix[96];         /* Redis key prefix: one namespace per schema */
} report_svc;

/* sg_app_spec hooks (see sg/app.h). */
void *report_init(sg_app *app, char *err, size_t errlen);
void report_fini(void *svc);
/* Appends sg_cases{status=...} gauges. */
void report_collect(FILE *out, void *svc);

#endif
