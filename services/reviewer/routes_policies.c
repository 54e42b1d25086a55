/* GET|PUT /v1/pool-rule, /v1/fatigue-policy, /v1/quality-policy (ops). */
#include "policy.h"
#include "routes.h"
#include "service.h"
#include "store.h"

static void add_meta(json_t *o, const rv_version_meta *m)
{
    json_object_set_new(o, "created_at", json_string(m->created_at));
    json_object_set_new(o, "created_by", json_string(m->created_by));
}

static sg_pg *acquire(sg_req *req, rv_service *s)
{
    sg_pg *c = sg_pg_acquire(s->pg, 2000);
    if (!c)
        sg_reply_store_error(req, SG_ERR_DB);
    return c;
}

void rv_h_pool_rule_get(sg_req *req, void *ctx)
{
    rv_service *s = ctx;
    rv_pool_rule r;
    rv_version_meta m;
    sg_pg *c = acquire(req, s);
    int rc;
    if (!c)
        return;
    rc = rv_store_pool_rule_current(c, &r, &m);
    sg_pg_release(s->pg, c);
    if (rc != SG_OK) {
        sg_reply_store_error(req, rc);
        return;
    }
    json_t *o = rv_pool_rule_to_json(&r);
    add_meta(o, &m);
    sg_reply_json(req, 200, o);
}

void rv_h_pool_rule_put(sg_req *req, void *ctx)
{
    rv_service *s = ctx;
    rv_pool_rule r;
    rv_version_meta m;
    char err[256];
    int rc;
    if (!sg_req_json(req) || rv_pool_rule_from_json(sg_req_json(req), &r, err, sizeof(err))) {
        sg_reply_problem(req, 400, "Bad Request", "%s", sg_req_json(req) ? err : "a JSON object body is required");
        return;
    }
    rc = rv_store_pool_rule_put(s->pg, &r, sg_req_principal(req)->id, &m);
    if (rc != SG_OK) {
        sg_reply_store_error(req, rc);
        return;
    }
    json_t *o = rv_pool_rule_to_json(&r);
    add_meta(o, &m);
    sg_reply_json(req, 200, o);
}

void rv_h_fatigue_get(sg_req *req, void *ctx)
{
    rv_service *s = ctx;
    rv_fatigue_policy p;
    rv_version_meta m;
    sg_pg *c = acquire(req, s);
    int rc;
    if (!c)
        return;
    rc = rv_store_fatigue_policy_current(c, &p, &m);
    sg_pg_release(s->pg, c);
    if (rc != SG_OK) {
        sg_reply_store_error(req, rc);
        return;
    }
    json_t *o = rv_fatigue_policy_to_json(&p);
    add_meta(o, &m);
    sg_reply_json(req, 200, o);
}

void rv_h_fatigue_put(sg_req *req, void *ctx)
{
    rv_service *s = ctx;
    rv_fatigue_policy p;
    rv_version_meta m;
    char err[256];
    int rc;
    if (!sg_req_json(req) || rv_fatigue_policy_from_json(sg_req_json(req), &p, err, sizeof(err))) {
        sg_reply_problem(req, 400, "Bad Request", "%s", sg_req_json(req) ? err : "a JSON object body is required");
        return;
    }
    rc = rv_store_fatigue_policy_put(s->pg, &p, sg_req_principal(req)->id, &m);
    if (rc != SG_OK) {
        sg_reply_store_error(req, rc);
        return;
    }
    json_t *o = rv_fatigue_policy_to_json(&p);
    add_meta(o, &m);
    sg_reply_json(req, 200, o);
}

void rv_h_quality_get(sg_req *req, void *ctx)
{
    rv_service *s = ctx;
    rv_quality_policy p;
    rv_version_meta m;
    sg_pg *c = acquire(req, s);
    int rc;
    if (!c)
        return;
    rc = rv_store_quality_policy_current(c, &p, &m);
    sg_pg_release(s->pg, c);
    if (rc != SG_OK) {
        sg_reply_store_error(req, rc);
        return;
    }
    json_t *o = rv_quality_policy_to_json(&p);
    add_meta(o, &m);
    sg_reply_json(req, 200, o);
}

void rv_h_quality_put(sg_req *req, void *ctx)
{
    rv_service *s = ctx;
    rv_quality_policy p;
    rv_version_meta m;
    char err[256];
    int rc;
    if (!sg_req_json(req) || rv_quality_policy_from_json(sg_req_json(req), &p, err, sizeof(err))) {
        sg_reply_problem(req, 400, "Bad Request", "%s", sg_req_json(req) ? err : "a JSON object body is required");
        return;
    }
    rc = rv_store_quality_policy_put(s->pg, &p, sg_req_principal(req)->id, &m);
    if (rc != SG_OK) {
        sg_reply_store_error(req, rc);
        return;
    }
    json_t *o = rv_quality_policy_to_json(&p);
    add_meta(o, &m);
    sg_reply_json(req, 200, o);
}
