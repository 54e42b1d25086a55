/* POST /v1/profiles:batch and POST /v1/activity:batch (upstream clients,
 * scopes "profiles" and "activity": out of scope is 403 before the body is
 * even looked at, so nothing is written). */
#include "payloads.h"
#include "routes.h"
#include "svc.h"
#include "store.h"
#include "sg/timeutil.h"

void rv_h_profiles_batch(sg_req *req, void *ctx)
{
    rv_svc *s = ctx;
    rv_profile_batch b;
    char err[512];
    int rc;

    if (!sg_principal_may(sg_req_principal(req), "profiles")) {
        sg_reply_problem(req, 403, "Forbidden", "this API key lacks the scope profiles");
        return;
    }
    if (rv_profiles_parse(sg_req_json(req), &b, err, sizeof(err))) {
        sg_reply_problem(req, 400, "Bad Request", "%s", err);
        return;
    }
    rc = rv_store_profiles_upsert(s->pg, &b);
    if (rc == SG_OK)
        sg_reply_json(req, 200, json_pack("{s:I}", "upserted", (json_int_t)b.n));
    else
        sg_reply_store_error(req, rc);
    rv_profile_batch_free(&b);
}

void rv_h_activity_batch(sg_req *req, void *ctx)
{
    rv_svc *s = ctx;
    rv_activity_batch b;
    char err[512];
    long added = 0;
    int rc;

    if (!sg_principal_may(sg_req_principal(req), "activity")) {
        sg_reply_problem(req, 403, "Forbidden", "this API key lacks the scope activity");
        return;
    }
    if (rv_activity_parse(sg_req_json(req), sg_time_now(), &b, err, sizeof(err))) {
        sg_reply_problem(req, 400, "Bad Request", "%s", err);
        return;
    }
    rc = rv_store_activity_add_tx(s->pg, &b, &added);
    if (rc == SG_OK)
        sg_reply_json(req, 200, json_pack("{s:I, s:I}", "accepted", (json_int_t)b.n, "new_weeks", (json_int_t)added));
    else
        sg_reply_store_error(req, rc);
    rv_activity_batch_free(&b);
}
