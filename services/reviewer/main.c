/* sg-reviewer: reviewer pool, selection with fatigue control, quality. */
#include "svc.h"
#include "routes.h"

static void *init(sg_app *app, char *err, size_t errlen)
{
    rv_svc *s = rv_svc_init(app->pg, app->redis, app->metrics, app->cfg.pg_schema, err, errlen);
    if (s)
        s->app = app;
    return s;
}

static void fini(void *svc)
{
    rv_svc_fini(svc);
}

int main(void)
{
    static const sg_route routes[] = {
        {"POST", "/v1/profiles:batch", SG_AUTH_CLIENT, rv_h_profiles_batch},
        {"POST", "/v1/activity:batch", SG_AUTH_CLIENT, rv_h_activity_batch},
        {"GET", "/v1/pool-rule", SG_AUTH_OPS, rv_h_pool_rule_get},
        {"PUT", "/v1/pool-rule", SG_AUTH_OPS, rv_h_pool_rule_put},
        {"GET", "/v1/fatigue-policy", SG_AUTH_OPS, rv_h_fatigue_get},
        {"PUT", "/v1/fatigue-policy", SG_AUTH_OPS, rv_h_fatigue_put},
        {"GET", "/v1/quality-policy", SG_AUTH_OPS, rv_h_quality_get},
        {"PUT", "/v1/quality-policy", SG_AUTH_OPS, rv_h_quality_put},
        {"POST", "/v1/pool:rebuild", SG_AUTH_OPS, rv_h_pool_rebuild},
        {"GET", "/v1/reviewers", SG_AUTH_OPS, rv_h_reviewers_list},
        {"GET", "/v1/reviewers/{user_id}", SG_AUTH_PERSON, rv_h_reviewer_get},
        {"PUT", "/v1/reviewers/{user_id}/status", SG_AUTH_OPS, rv_h_reviewer_status},
        {"GET", "/v1/reviewers/{user_id}/history", SG_AUTH_OPS, rv_h_reviewer_history},
        {"GET", "/v1/reviewers/{user_id}/pairs", SG_AUTH_OPS, rv_h_reviewer_pairs},
        {"GET", "/v1/reviewer-pairs", SG_AUTH_OPS, rv_h_reviewer_pairs_list},
        {"PUT", "/v1/me/availability", SG_AUTH_PERSON, rv_h_availability},
    };
    static const sg_app_consumer consumers[] = {
        {"reviewer-panel", SG_T_PANEL_REQUESTED, rv_on_panel_requested, 1},
        /* Batched: five of these per case; a batch is applied whole
         * (rv_apply_ballots_closed), its shared rows locked in the global
         * order. */
        {"reviewer-ballot", SG_T_BALLOT_CLOSED, rv_on_ballot_closed, 1, 1, rv_apply_ballots_closed},
        /* Parallel: one consumer fell behind at 200 decisions/s. A
         * decision locks its case's assignments, then its panel's users
         * rows in id order, then its pairs in pair order. Every ballot of
         * the case is in the event, so closing the case locks nobody
         * more, except a substitute seated after the decision; a
         * deadlock that could cause is broken by PostgreSQL and the
         * event retried (40P01: SG_ERR_RETRY). */
        {"reviewer-decided", SG_T_CASE_DECIDED, rv_on_case_decided, 1},
        {"reviewer-finalized", SG_T_CASE_FINALIZED, rv_on_case_finalized},
        {"reviewer-activity", SG_T_USER_ACTIVITY, rv_on_user_activity},
    };
    static const sg_app_worker workers[] = {
        {"pool-adjust", 1000, rv_pool_adjust_worker},
    };
    static const sg_app_spec spec = {
        .service = "reviewer",
        .default_port = 8082,
        .routes = routes,
        .nroutes = sizeof(routes) / sizeof(routes[0]),
        .consumers = consumers,
        .nconsumers = sizeof(consumers) / sizeof(consumers[0]),
        .workers = workers,
        .nworkers = sizeof(workers) / sizeof(workers[0]),
        .init = init,
        .fini = fini,
        .collect = rv_collect,
    };
    return sg_app_main(&spec);
}
