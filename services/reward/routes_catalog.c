/* Catalog endpoints: ops write, anyone with a JWT reads. */
#include "routes.h"

#include <string.h>
#include "catalog.h"
#include "sg/json.h"
#include "store.h"
#include "svc.h"

/* The validated item body, or -1 after replying 400. */
static int item_body(sg_req *req, rw_item *it)
{
    const json_t *body = rw_body(req);
    char err[256];
    if (!body)
        return -1;
    if (rw_item_from_json(body, it, err, sizeof err) != 0) {
        sg_reply_problem(req, 400, "Bad Request", "%s", err);
        return -1;
    }
    return 0;
}

void rw_h_item_create(sg_req *req, void *ctx)
{
    rw_svc *svc = ctx;
    rw_item it;
    json_t *out;
    if (item_body(req, &it) != 0)
        return;
    int rc = rw_store_item_create(svc->app->pg, &it, &out);
    if (rc != SG_OK) {
        rw_reply_outcome(req, rc, "item");
        return;
    }
    sg_reply_json(req, 201, out);
}

void rw_h_item_replace(sg_req *req, void *ctx)
{
    rw_svc *svc = ctx;
    const char *id = sg_req_uuid_param(req, "id", "item");
    rw_item it;
    json_t *out;
    if (!id || item_body(req, &it) != 0)
        return;
    int rc = rw_store_item_replace(svc->app->pg, id, &it, &out);
    if (rc != SG_OK) {
        rw_reply_outcome(req, rc, "item");
        return;
    }
    sg_reply_json(req, 200, out);
}

void rw_h_item_stock(sg_req *req, void *ctx)
{
    rw_svc *svc = ctx;
    const char *id = sg_req_uuid_param(req, "id", "item");
    const json_t *body;
    long long delta;
    char err[256];
    json_t *out;
    if (!id || !(body = rw_body(req)))
        return;
    if (rw_stock_delta_from_json(body, &delta, err, sizeof err) != 0) {
        sg_reply_problem(req, 400, "Bad Request", "%s", err);
        return;
    }
    int rc = rw_store_item_stock_add(svc->app->pg, id, delta, &out);
    if (rc != SG_OK) {
        rw_reply_outcome(req, rc, "item");
        return;
    }
    sg_reply_json(req, 200, out);
}

void rw_h_item_get(sg_req *req, void *ctx)
{
    rw_svc *svc = ctx;
    const char *id = sg_req_uuid_param(req, "id", "item");
    json_t *out;
    if (!id)
        return;
    int rc = rw_store_item_get(svc->app->pg, id, &out);
    if (rc != SG_OK) {
        rw_reply_outcome(req, rc, "item");
        return;
    }
    sg_reply_json(req, 200, out);
}

void rw_h_items_list(sg_req *req, void *ctx)
{
    rw_svc *svc = ctx;
    const char *act = sg_req_query(req, "active");
    long long after = 0;
    int limit, active = -1;
    json_t *page;

    if (sg_req_page_seq(req, &limit, &after) != 0)
        return;
    if (act && *act) {
        if (strcmp(act, "true") != 0 && strcmp(act, "false") != 0) {
            sg_reply_problem(req, 400, "Bad Request", "active must be true or false");
            return;
        }
        active = strcmp(act, "true") == 0;
    }
    int rc = rw_store_item_list(svc->app->pg, after, active, limit, &page);
    if (rc != SG_OK) {
        rw_reply_outcome(req, rc, "item");
        return;
    }
    sg_reply_json(req, 200, page);
}
