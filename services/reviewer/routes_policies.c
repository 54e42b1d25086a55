/* GET|PUT /v1/pool-rule, /v1/fatigue-policy, /v1/quality-policy (ops).
 *
 * The three versioned policies share one GET and one PUT flow; a policy_kind
 * adapts the typed parse/render/store functions to it. */
#include "policy.h"
#include "routes.h"
#include "svc.h"
#include "store.h"

/* Room for any of the three policy structs. */
typedef union policy_buf {
    rv_pool_rule pool;
    rv_fatigue_policy fatigue;
    rv_quality_policy quality;
} policy_buf;

typedef struct policy_kind {
    int (*from_json)(const json_t *body, policy_buf *out, char *err, size_t errlen);
    json_t *(*to_json)(const policy_buf *p);
    int (*get)(sg_pg_pool *p, policy_buf *out, rv_version_meta *meta);
    int (*put)(sg_pg_pool *p, policy_buf *in, const char *actor, rv_version_meta *meta);
} policy_kind;

static int pool_from(const json_t *b, policy_buf *o, char *e, size_t n) { return rv_pool_rule_from_json(b, &o->pool, e, n); }
static json_t *pool_to(const policy_buf *p) { return rv_pool_rule_to_json(&p->pool); }
static int pool_get(sg_pg_pool *p, policy_buf *o, rv_version_meta *m) { return rv_store_pool_rule_get(p, &o->pool, m); }
static int pool_put(sg_pg_pool *p, policy_buf *i, const char *a, rv_version_meta *m)
{
    return rv_store_pool_rule_put(p, &i->pool, a, m);
}

static int fat_from(const json_t *b, policy_buf *o, char *e, size_t n)
{
    return rv_fatigue_policy_from_json(b, &o->fatigue, e, n);
}
static json_t *fat_to(const policy_buf *p) { return rv_fatigue_policy_to_json(&p->fatigue); }
static int fat_get(sg_pg_pool *p, policy_buf *o, rv_version_meta *m)
{
    return rv_store_fatigue_policy_get(p, &o->fatigue, m);
}
static int fat_put(sg_pg_pool *p, policy_buf *i, const char *a, rv_version_meta *m)
{
    return rv_store_fatigue_policy_put(p, &i->fatigue, a, m);
}

static int qual_from(const json_t *b, policy_buf *o, char *e, size_t n)
{
    return rv_quality_policy_from_json(b, &o->quality, e, n);
}
static json_t *qual_to(const policy_buf *p) { return rv_quality_policy_to_json(&p->quality); }
static int qual_get(sg_pg_pool *p, policy_buf *o, rv_version_meta *m)
{
    return rv_store_quality_policy_get(p, &o->quality, m);
}
static int qual_put(sg_pg_pool *p, policy_buf *i, const char *a, rv_version_meta *m)
{
    return rv_store_quality_policy_put(p, &i->quality, a, m);
}

static const policy_kind POOL = {pool_from, pool_to, pool_get, pool_put};
static const policy_kind FATIGUE = {fat_from, fat_to, fat_get, fat_put};
static const policy_kind QUALITY = {qual_from, qual_to, qual_get, qual_put};

static void reply_policy(sg_req *req, const policy_kind *k, const policy_buf *p, const rv_version_meta *m)
{
    sg_reply_json(req, 200, rv_policy_versioned(k->to_json(p), m));
}

static void policy_get(sg_req *req, rv_svc *s, const policy_kind *k)
{
    policy_buf p;
    rv_version_meta m;
    int rc = k->get(s->pg, &p, &m);
    if (rc != SG_OK)
        sg_reply_store_error(req, rc);
    else
        reply_policy(req, k, &p, &m);
}

static void policy_put(sg_req *req, rv_svc *s, const policy_kind *k)
{
    policy_buf p;
    rv_version_meta m;
    char err[256];
    int rc;
    if (!sg_req_json(req) || k->from_json(sg_req_json(req), &p, err, sizeof(err))) {
        sg_reply_problem(req, 400, "Bad Request", "%s", sg_req_json(req) ? err : "a JSON object body is required");
        return;
    }
    rc = k->put(s->pg, &p, sg_req_principal(req)->id, &m);
    if (rc != SG_OK)
        sg_reply_store_error(req, rc);
    else
        reply_policy(req, k, &p, &m);
}

void rv_h_pool_rule_get(sg_req *req, void *ctx) { policy_get(req, ctx, &POOL); }
void rv_h_pool_rule_put(sg_req *req, void *ctx) { policy_put(req, ctx, &POOL); }
void rv_h_fatigue_get(sg_req *req, void *ctx) { policy_get(req, ctx, &FATIGUE); }
void rv_h_fatigue_put(sg_req *req, void *ctx) { policy_put(req, ctx, &FATIGUE); }
void rv_h_quality_get(sg_req *req, void *ctx) { policy_get(req, ctx, &QUALITY); }
void rv_h_quality_put(sg_req *req, void *ctx) { policy_put(req, ctx, &QUALITY); }
