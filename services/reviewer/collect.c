/* /metrics: reviewers by status and the fatigue cache's resets (see svc.h). */
#include "store.h"
#include "svc.h"

void rv_collect(FILE *out, void *ctx)
{
    static const char *const names[4] = {"active", "paused", "suspended", "retired"};
    rv_svc *s = ctx;
    long counts[4];

    fprintf(out, "# HELP sg_reviewer_fatigue_cache_resets_total Fatigue cache epochs started (Redis flush/restart seen).\n"
                 "# TYPE sg_reviewer_fatigue_cache_resets_total counter\n"
                 "sg_reviewer_fatigue_cache_resets_total %ld\n",
            rv_fcache_resets(s->fcache));
    if (rv_store_status_counts(s->pg, 1000, counts) == SG_OK) {
        fprintf(out, "# HELP sg_reviewers Reviewers by status.\n# TYPE sg_reviewers gauge\n");
        for (int i = 0; i < 4; i++)
            fprintf(out, "sg_reviewers{status=\"%s\"} %ld\n", names[i], counts[i]);
    }
}
