/* See consumers.h. */
#include "svc.h"

#include "panel.h"
#include "payloads.h"
#include "results.h"
#include "sg/log.h"
#include "store.h"
#include "sg/timeutil.h"

static const char *event_id_of(const sg_kafka_msg *m, const json_t *payload)
{
    return m->event_id ? m->event_id : rv_event_id(payload);
}

int rv_on_panel_requested(sg_pg *c, const sg_kafka_msg *m, const json_t *payload, void *ctx)
{
    rv_svc *s = ctx;
    rv_panel_req req;
    rv_panel_result res;
    char err[256];
    int rc;

    if (rv_panel_req_parse(payload, &req, err, sizeof(err))) {
        sg_error("dropping invalid %s event %s: %s", SG_T_PANEL_REQUESTED, event_id_of(m, payload), err);
        return RV_DROP;
    }
    rc = rv_panel_select(c, s, &req, event_id_of(m, payload), m->traceparent, sg_time_now(), &res);
    if (rc == SG_OK)
        sg_info("panel case=%s round=%d seats=%d: %zu assigned, shortfall %d%s (windows %d, rechecks refused %d, "
                "held by another selection %d)",
                req.case_id, req.round, req.seats, res.n, res.shortfall, res.replayed ? ", replayed" : "",
                res.windows, res.rejected, res.skipped);
    rv_panel_result_free(&res);
    rv_panel_req_free(&req);
    return rc;
}

int rv_on_ballot_closed(sg_pg *c, const sg_kafka_msg *m, const json_t *payload, void *ctx)
{
    rv_svc *s = ctx;
    rv_ballot_closed b;
    char err[256];
    int rc;

    if (rv_ballot_closed_parse(payload, &b, err, sizeof(err))) {
        sg_error("dropping invalid %s event %s: %s", SG_T_BALLOT_CLOSED, event_id_of(m, payload), err);
        return RV_DROP;
    }
    rv_ballot_report rep = {b.reviewer_id, b.outcome, -1, RV_DEC_NONE, RV_GOLD_NONE};
    rc = rv_store_record_outcomes(c, b.case_id, 1, &rep, sg_time_now(), NULL);
    if (rc == SG_OK)
        rv_fcache_forget(s->fcache, 1, &b.reviewer_id);
    return rc;
}

int rv_apply_ballots_closed(sg_pg *c, const json_t *const *payloads, size_t n, void *ctx)
{
    rv_svc *s = ctx;
    const char **cases = calloc(n, sizeof *cases), **reviewers = calloc(n, sizeof *reviewers);
    rv_ballot_report *reps = calloc(n, sizeof *reps);
    int rc = SG_ERR_DB;
    if (!cases || !reviewers || !reps)
        goto cleanup;
    for (size_t i = 0; i < n; i++) {
        rv_ballot_closed b;
        char err[256];
        /* A malformed one is dropped by the one-by-one path. */
        if (rv_ballot_closed_parse(payloads[i], &b, err, sizeof(err)) != 0)
            goto cleanup;
        cases[i] = b.case_id;
        reviewers[i] = b.reviewer_id;
        reps[i] = (rv_ballot_report){b.reviewer_id, b.outcome, -1, RV_DEC_NONE, RV_GOLD_NONE};
    }
    rc = rv_store_record_outcomes_batch(c, n, cases, reps, sg_time_now());
    if (rc == SG_OK)
        rv_fcache_forget(s->fcache, n, reviewers);
cleanup:
    free(cases);
    free(reviewers);
    free(reps);
    return rc;
}

int rv_on_case_decided(sg_pg *c, const sg_kafka_msg *m, const json_t *payload, void *ctx)
{
    rv_svc *s = ctx;
    rv_case_decided d;
    char err[256];
    int rc;

    if (rv_case_decided_parse(payload, &d, err, sizeof(err))) {
        sg_error("dropping invalid %s event %s: %s", SG_T_CASE_DECIDED, event_id_of(m, payload), err);
        return RV_DROP;
    }
    rc = rv_results_decided(c, s, &d, sg_time_now());
    rv_case_decided_free(&d);
    return rc;
}

int rv_on_case_finalized(sg_pg *c, const sg_kafka_msg *m, const json_t *payload, void *ctx)
{
    rv_svc *s = ctx;
    rv_case_finalized f;
    char err[256];

    if (rv_case_finalized_parse(payload, &f, err, sizeof(err))) {
        sg_error("dropping invalid %s event %s: %s", SG_T_CASE_FINALIZED, event_id_of(m, payload), err);
        return RV_DROP;
    }
    return rv_results_finalized(c, s, &f, sg_time_now());
}

int rv_on_user_activity(sg_pg *c, const sg_kafka_msg *m, const json_t *payload, void *ctx)
{
    const char *user_id;
    long week;
    char err[256];

    (void)ctx;
    if (rv_activity_item_parse(payload, 0, sg_time_now(), &user_id, &week, err, sizeof(err))) {
        sg_error("dropping invalid %s event %s: %s", SG_T_USER_ACTIVITY, event_id_of(m, payload), err);
        return RV_DROP;
    }
    return rv_store_activity_add(c, 1, &user_id, &week, NULL);
}
