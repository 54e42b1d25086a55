/* HTTP handlers of the report service (routes_*.c). ctx is the
 * rp_svc. They parse and validate the request, check who may act
 * beyond the route's auth mask, call the store, and map its outcome to a
 * status code. No SQL here.
 */
#ifndef RP_ROUTES_H
#define RP_ROUTES_H

#include "sg/http.h"
#include "store.h"

/* routes_rules.c */
void rp_h_rule_put(sg_req *req, void *ctx);
void rp_h_rule_get(sg_req *req, void *ctx);
void rp_h_rule_versions(sg_req *req, void *ctx);
void rp_h_rules_list(sg_req *req, void *ctx);

/* routes_reports.c */
void rp_h_report_post(sg_req *req, void *ctx);
void rp_h_report_get(sg_req *req, void *ctx);

/* routes_cases.c */
void rp_h_cases_list(sg_req *req, void *ctx);
void rp_h_case_get(sg_req *req, void *ctx);
void rp_h_case_events(sg_req *req, void *ctx);
void rp_h_case_cancel(sg_req *req, void *ctx);
void rp_h_case_resolve(sg_req *req, void *ctx);
void rp_h_case_appeal(sg_req *req, void *ctx);

/* routes_ballots.c */
void rp_h_vote(sg_req *req, void *ctx);
void rp_h_decline(sg_req *req, void *ctx);
void rp_h_my_ballots(sg_req *req, void *ctx);

/* routes_callbacks.c (ops) */
void rp_h_callbacks_list(sg_req *req, void *ctx);
void rp_h_callback_retry(sg_req *req, void *ctx);
/* routes_me.c */
void rp_h_my_cases(sg_req *req, void *ctx);
/* routes_notifications.c */
void rp_h_my_notifications(sg_req *req, void *ctx);
void rp_h_my_notifications_read(sg_req *req, void *ctx);
void rp_h_my_prefs_get(sg_req *req, void *ctx);
void rp_h_my_prefs_put(sg_req *req, void *ctx);
void rp_h_templates_list(sg_req *req, void *ctx);
void rp_h_template_put(sg_req *req, void *ctx);
void rp_h_notifications_list(sg_req *req, void *ctx);

/* routes_audit.c (ops, v2) */
void rp_h_audit_case_post(sg_req *req, void *ctx);
void rp_h_audit_cases_list(sg_req *req, void *ctx);

/* routes_util.c: shared by the handlers. */

/* Replies with the problem matching a store outcome: 404 (`what` names the
 * resource), 403, 409, 422 for the ST_* codes (detail from d when set), and
 * sg_reply_store_error for the rest (503 for database errors). */
void rp_reply_store_error(sg_req *req, int rc, const rp_detail *d, const char *what);
/* Replies with the case as GET /v1/cases/{id} shows it to the caller (200):
 * the upstream view to a client (404 for a case of another tenant), the
 * ops view otherwise. */
void rp_reply_case(sg_req *req, sg_pg_pool *pool, const char *case_id, int status);

#endif
