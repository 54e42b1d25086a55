/* sg-report: voting rules, report intake, cases, ballots, decisions,
 * appeals, notifications and upstream callbacks. */
#include <stdio.h>
#include "svc.h"
#include "routes.h"
#include "sg/app.h"
#include "sg/config.h"

/* Names of the callback delivery workers (SG_CALLBACK_WORKERS of them). */
static char callback_worker_names[RP_CALLBACK_WORKERS_MAX][32];

int main(void)
{
    long timer_ms, ncallback;
    char err[256];
    if (sg_env_long("SG_TIMER_INTERVAL_MS", 250, 10, 60000, &timer_ms, err, sizeof err) ||
        sg_env_long("SG_CALLBACK_WORKERS", RP_CALLBACK_WORKERS_DEFAULT, RP_CALLBACK_WORKERS_MIN,
                    RP_CALLBACK_WORKERS_MAX, &ncallback, err, sizeof err)) {
        fprintf(stderr, "sg-report: %s\n", err);
        return 2;
    }
    const sg_route routes[] = {
        {"PUT", "/v1/voting-rules/{report_type}", SG_AUTH_OPS, rp_h_rule_put},
        {"GET", "/v1/voting-rules", SG_AUTH_OPS, rp_h_rules_list},
        {"GET", "/v1/voting-rules/{report_type}", SG_AUTH_OPS, rp_h_rule_get},
        {"GET", "/v1/voting-rules/{report_type}/versions", SG_AUTH_OPS, rp_h_rule_versions},
        {"POST", "/v1/reports", SG_AUTH_CLIENT, rp_h_report_post},
        {"GET", "/v1/reports/{id}", SG_AUTH_ANY, rp_h_report_get},
        {"GET", "/v1/cases", SG_AUTH_OPS, rp_h_cases_list},
        {"GET", "/v1/cases/{id}", SG_AUTH_CLIENT | SG_AUTH_OPS, rp_h_case_get},
        {"GET", "/v1/cases/{id}/events", SG_AUTH_OPS, rp_h_case_events},
        {"POST", "/v1/cases/{id}/cancel", SG_AUTH_CLIENT | SG_AUTH_OPS, rp_h_case_cancel},
        {"POST", "/v1/cases/{id}/resolve", SG_AUTH_OPS, rp_h_case_resolve},
        {"POST", "/v1/cases/{id}/appeals", SG_AUTH_PERSON, rp_h_case_appeal},
        {"POST", "/v1/cases/{case_id}/votes", SG_AUTH_PERSON, rp_h_vote},
        {"POST", "/v1/ballots/{ballot_id}/decline", SG_AUTH_PERSON, rp_h_decline},
        {"GET", "/v1/me/ballots", SG_AUTH_PERSON, rp_h_my_ballots},
        {"GET", "/v1/callbacks", SG_AUTH_OPS, rp_h_callbacks_list},
        {"POST", "/v1/callbacks/{id}/retry", SG_AUTH_OPS, rp_h_callback_retry},
        {"GET", "/v1/me/cases", SG_AUTH_PERSON, rp_h_my_cases},
        {"GET", "/v1/me/notifications", SG_AUTH_PERSON, rp_h_my_notifications},
        {"POST", "/v1/me/notifications/read", SG_AUTH_PERSON, rp_h_my_notifications_read},
        {"GET", "/v1/me/notification-preferences", SG_AUTH_PERSON, rp_h_my_prefs_get},
        {"PUT", "/v1/me/notification-preferences", SG_AUTH_PERSON, rp_h_my_prefs_put},
        {"GET", "/v1/notification-templates", SG_AUTH_OPS, rp_h_templates_list},
        {"PUT", "/v1/notification-templates/{kind}/{locale}", SG_AUTH_OPS, rp_h_template_put},
        {"GET", "/v1/notifications", SG_AUTH_OPS, rp_h_notifications_list},
        {"POST", "/v1/audit-cases", SG_AUTH_OPS, rp_h_audit_case_post},
        {"GET", "/v1/audit-cases", SG_AUTH_OPS, rp_h_audit_cases_list},
    };
    const sg_app_consumer consumers[] = {
        /* Batched: an answer locks its case's rows only. */
        {"report", SG_T_PANEL_ASSIGNED, rp_on_panel_assigned, 1, 1},
        {"report-reviewer-status", SG_T_REVIEWER_STATUS, rp_on_reviewer_status, 0},
    };
    sg_app_worker workers[4 + RP_CALLBACK_WORKERS_MAX] = {
        {"timers", (int)timer_ms, rp_timers_tick},
        {"push-1", (int)timer_ms, rp_push_tick},
        {"push-2", (int)timer_ms, rp_push_tick},
        {"housekeeping", 60000, rp_housekeeping_tick},
    };
    size_t nworkers = 4;
    for (long i = 0; i < ncallback; i++) {
        snprintf(callback_worker_names[i], sizeof callback_worker_names[i], "callbacks-%d", (int)(i + 1));
        workers[nworkers++] = (sg_app_worker){callback_worker_names[i], (int)timer_ms, rp_callbacks_tick};
    }
    const sg_app_spec spec = {
        .service = "report",
        .default_port = 8081,
        .routes = routes,
        .nroutes = sizeof routes / sizeof routes[0],
        .consumers = consumers,
        .nconsumers = sizeof consumers / sizeof consumers[0],
        .workers = workers,
        .nworkers = nworkers,
        .init = rp_svc_init,
        .fini = rp_svc_fini,
        .collect = rp_collect,
    };
    return sg_app_main(&spec);
}
