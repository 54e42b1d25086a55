/* HTTP handlers of the reviewer service (ctx = rv_svc). They parse,
 * authorize beyond the route's mask, validate, call the domain and the
 * store (store.h; never a connection of their own), and map the RV_*
 * outcomes (svc.h) to RFC 7807 problems. No SQL here. */
#ifndef RV_ROUTES_H
#define RV_ROUTES_H

#include "sg/http.h"

/* routes_profiles.c (upstream clients) */
void rv_h_profiles_batch(sg_req *req, void *ctx);
void rv_h_activity_batch(sg_req *req, void *ctx);

/* routes_policies.c (ops) */
void rv_h_pool_rule_get(sg_req *req, void *ctx);
void rv_h_pool_rule_put(sg_req *req, void *ctx);
void rv_h_fatigue_get(sg_req *req, void *ctx);
void rv_h_fatigue_put(sg_req *req, void *ctx);
void rv_h_quality_get(sg_req *req, void *ctx);
void rv_h_quality_put(sg_req *req, void *ctx);

/* routes_reviewers.c */
void rv_h_pool_rebuild(sg_req *req, void *ctx);      /* ops */
void rv_h_reviewers_list(sg_req *req, void *ctx);    /* ops */
void rv_h_reviewer_get(sg_req *req, void *ctx);      /* ops or self */
void rv_h_reviewer_status(sg_req *req, void *ctx);   /* ops */
void rv_h_reviewer_history(sg_req *req, void *ctx);  /* ops */
void rv_h_reviewer_pairs(sg_req *req, void *ctx);    /* ops */
void rv_h_reviewer_pairs_list(sg_req *req, void *ctx); /* ops: GET /v1/reviewer-pairs */
void rv_h_availability(sg_req *req, void *ctx);      /* the reviewer (JWT) */

#endif
