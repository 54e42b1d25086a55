/* See results.h. */
#include "results.h"

#include <stdlib.h>

#include "quality.h"
#include "store.h"

int rv_results_decided(sg_pg *c, rv_svc *s, const rv_case_decided *d, double now)
{
    rv_case_verdict v;
    rv_ballot_report *reps = NULL;
    char **closed = NULL;
    size_t nclosed = 0;
    int rc = rv_store_case_decided_mark(c, d->case_id, d->verdict, now, &v);

    if (rc != SG_OK)
        goto cleanup;
    rc = SG_ERR_DB;
    if (!(reps = calloc(d->n + 1, sizeof(*reps))))
        goto cleanup;
    for (size_t i = 0; i < d->n; i++) {
        reps[i].reviewer_id = d->reviewer_ids[i];
        reps[i].outcome = d->outcomes[i];
        reps[i].decision = d->decisions[i];
        reps[i].with_majority = d->outcomes[i] == RV_OUT_VOTED
                                    ? rv_final_mark(d->decisions[i], d->verdict, v.final_verdict, d->with_majority[i])
                                    : -1;
        reps[i].gold = v.audit ? rv_gold_mark(d->outcomes[i], d->decisions[i], v.expected_verdict) : RV_GOLD_NONE;
    }
    rc = rv_store_record_outcomes(c, d->case_id, d->n, reps, now, NULL);
    if (rc == SG_OK)
        rc = rv_store_pair_cases_add(c, d->case_id, d->n, d->reviewer_ids, d->decisions, now);
    if (rc == SG_OK)
        rc = rv_store_close_case(c, d->case_id, now, &closed, &nclosed);
    if (rc == SG_OK) {
        rv_fcache_forget(s->fcache, d->n, d->reviewer_ids);
        rv_fcache_forget(s->fcache, nclosed, (const char *const *)closed);
    }
cleanup:
    rv_ids_free(closed, nclosed);
    free(reps);
    return rc;
}

int rv_results_finalized(sg_pg *c, rv_svc *s, const rv_case_finalized *f, double now)
{
    rv_case_verdict v;
    rv_rows *rows = NULL;
    rv_ballot_report *reps = NULL;
    size_t n = 0;
    int rc = rv_store_case_finalized_mark(c, f, now, &v);

    (void)s; /* no fatigue state changes: the ballots are closed */
    /* Before sg.case.decided there is no decision to mark: the decided
     * consumer will mark against the final verdict recorded now. */
    if (rc != SG_OK || v.verdict == RV_DEC_NONE)
        goto cleanup;
    if ((rc = rv_store_case_decisions(c, f->case_id, &rows, &reps, &n)) != SG_OK)
        goto cleanup;
    for (size_t i = 0; i < n; i++) {
        reps[i].with_majority = rv_final_mark(reps[i].decision, v.verdict, v.final_verdict, -1);
        reps[i].gold = v.audit ? rv_gold_mark(RV_OUT_VOTED, reps[i].decision, v.expected_verdict) : RV_GOLD_NONE;
        reps[i].decision = RV_DEC_NONE; /* recorded already */
    }
    rc = rv_store_record_outcomes(c, f->case_id, n, reps, now, NULL);
cleanup:
    free(reps);
    rv_rows_free(rows);
    return rc;
}
