/* The report service's metrics collector: cases by status. */
#include <stdio.h>
#include "lifecycle.h"
#include "sg/log.h"
#include "store.h"
#include "svc.h"

void rp_collect(FILE *out, void *svc)
{
    rp_svc *s = svc;
    long counts[RP_CASE_NSTATUS];
    if (rp_store_case_counts(s->app->pg, counts)) {
        sg_warn("metrics: cannot count cases");
        return;
    }
    fprintf(out, "# HELP sg_cases Cases by status.\n# TYPE sg_cases gauge\n");
    for (int i = 0; i < RP_CASE_NSTATUS; i++)
        fprintf(out, "sg_cases{status=\"%s\"} %ld\n", rp_case_status_name((rp_case_status)i), counts[i]);
    rp_push_collect_counts(out, s);
}
