/* Redemptions store; see store.h. */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "store_util.h"
#include "svc.h"

#define REDEMPTION_JSON                                                                                 \
    "json_build_object('redemption_id', id, 'user_id', user_id, 'item_id', item_id, "                 \
    "'quantity', quantity, 'unit_cost', unit_cost, 'cost', cost, 'status', status, "                  \
    "'created_at', " SG_SQL_TS("created_at") ", 'refunded_at', " SG_SQL_TS("refunded_at") ")"

typedef struct redeem_tx {
    const rw_store_redeem_req *req;
    json_t *out;
} redeem_tx;

/* The first outcome of (user, key), if any: RW_REPLAYED with t->out,
 * RW_KEY_REUSED, or SG_OK when the key is new. */
static int find_previous(sg_pg *c, redeem_tx *t)
{
    int rc = SG_OK;
    PGresult *r = sg_pg_query(c,
                              "SELECT item_id::text, quantity, response::text FROM redemptions "
                              "WHERE user_id = $1 AND idempotency_key = $2",
                              2, SG_P(t->req->user_id, t->req->key));
    if (!sg_pg_ok(r)) {
        rc = sg_pg_err(c);
        goto cleanup;
    }
    if (PQntuples(r) == 0)
        goto cleanup;
    if (strcasecmp(PQgetvalue(r, 0, 0), t->req->item_id) != 0 || atoi(PQgetvalue(r, 0, 1)) != t->req->quantity) {
        rc = RW_KEY_REUSED;
        goto cleanup;
    }
    json_decref(t->out);
    t->out = sg_pg_json(r, 0, 2);
    rc = t->out ? RW_REPLAYED : SG_ERR_DB;
cleanup:
    PQclear(r);
    return rc;
}

/* Takes the stock; on failure tells why: unknown, inactive or short. */
static int take_stock(sg_pg *c, const char *item_id, const char *qty, long long *unit_cost)
{
    int rc = SG_OK;
    PGresult *r = sg_pg_query(c,
                              "UPDATE items SET stock = stock - $2::bigint, updated_at = now() "
                              "WHERE id = $1::uuid AND active AND stock >= $2::bigint RETURNING cost",
                              2, SG_P(item_id, qty));
    if (!sg_pg_ok(r)) {
        rc = sg_pg_err(c);
        goto cleanup;
    }
    if (PQntuples(r) == 1) {
        *unit_cost = atoll(PQgetvalue(r, 0, 0));
        goto cleanup;
    }
    PQclear(r);
    r = sg_pg_query(c, "SELECT active FROM items WHERE id = $1::uuid", 1, SG_P(item_id));
    if (!sg_pg_ok(r))
        rc = sg_pg_err(c);
    else if (PQntuples(r) == 0)
        rc = RW_NOT_FOUND;
    else if (strcmp(PQgetvalue(r, 0, 0), "t") != 0)
        rc = RW_ITEM_INACTIVE;
    else
        rc = RW_OUT_OF_STOCK;
cleanup:
    PQclear(r);
    return rc;
}

static int redeem_fn(sg_pg *c, void *ctx)
{
    redeem_tx *t = ctx;
    const rw_store_redeem_req *q = t->req;
    char qty[16], unit[24], cost[24], bal[24], id[37];
    long long unit_cost = 0;
    rw_store_posted posted;
    PGresult *r = NULL;
    int rc;

    json_decref(t->out);
    t->out = NULL;
    snprintf(qty, sizeof qty, "%d", q->quantity);
    /* One (user, key) at a time: a concurrent retry waits here and then
     * finds the first outcome instead of redeeming again. */
    rc = sg_pg_exec(c, "SELECT pg_advisory_xact_lock(" RW_LOCK_REDEMPTION ", hashtext($1 || E'\\n' || $2))", 2,
                    SG_P(q->user_id, q->key));
    if (rc == SG_OK)
        rc = find_previous(c, t);
    if (rc == SG_OK)
        rc = take_stock(c, q->item_id, qty, &unit_cost);
    if (rc != SG_OK)
        return rc;
    snprintf(unit, sizeof unit, "%lld", unit_cost);
    snprintf(cost, sizeof cost, "%lld", unit_cost * q->quantity);
    r = sg_pg_query_q(c, "23505",
                      "INSERT INTO redemptions (user_id, idempotency_key, item_id, quantity, unit_cost, cost, "
                      "status, response) VALUES ($1, $2, $3::uuid, $4::integer, $5::bigint, $6::bigint, "
                      "$7, '{}') RETURNING id",
                      7, SG_P(q->user_id, q->key, q->item_id, qty, unit, cost,
                              rw_redemption_status_name(RW_REDEMPTION_INITIAL)));
    if (!sg_pg_ok(r)) {
        /* Only a writer that bypassed the advisory lock can get here. */
        rc = strcmp(sg_pg_sqlstate(c), "23505") == 0 ? SG_ERR_RETRY : sg_pg_err(c);
        goto cleanup;
    }
    snprintf(id, sizeof id, "%s", PQgetvalue(r, 0, 0));
    rw_store_posting debit = {.kind = "redeem", .redemption_id = id, .user_id = q->user_id,
                           .amount = -(unit_cost * q->quantity)};
    rc = rw_store_post(c, &debit, &posted);
    if (rc != SG_OK)
        goto cleanup;
    snprintf(bal, sizeof bal, "%lld", posted.balance);
    PQclear(r);
    r = sg_pg_query(c,
                    "UPDATE redemptions SET response = " REDEMPTION_JSON
                    "::jsonb || jsonb_build_object('balance', $2::bigint) WHERE id = $1::uuid RETURNING response::text",
                    2, SG_P(id, bal));
    if (!sg_pg_ok(r)) {
        rc = sg_pg_err(c);
        goto cleanup;
    }
    t->out = sg_pg_json(r, 0, 0);
    rc = t->out ? SG_OK : SG_ERR_DB;
cleanup:
    PQclear(r);
    return rc;
}

int rw_store_redeem(sg_pg_pool *p, const rw_store_redeem_req *req, json_t **out)
{
    redeem_tx t = {.req = req};
    int rc = sg_pg_tx(p, SG_TX_READ_COMMITTED, redeem_fn, &t);
    if (rc != SG_OK && rc != RW_REPLAYED) {
        json_decref(t.out);
        t.out = NULL;
    }
    *out = t.out;
    return rc;
}

typedef struct refund_tx {
    const char *id, *by;
    json_t *out;
} refund_tx;

static int refund_fn(sg_pg *c, void *ctx)
{
    refund_tx *t = ctx;
    char user[129], item[37], qty[16], bal[24];
    rw_redemption_status from;
    long long cost;
    rw_store_posted posted;
    PGresult *r = NULL;
    int rc = SG_OK;

    json_decref(t->out);
    t->out = NULL;
    /* The row lock makes a concurrent second refund wait, then see status
     * refunded. */
    r = sg_pg_query(c,
                    "SELECT user_id, item_id::text, quantity, cost, status FROM redemptions "
                    "WHERE id = $1::uuid FOR UPDATE",
                    1, SG_P(t->id));
    if (!sg_pg_ok(r)) {
        rc = sg_pg_err(c);
        goto cleanup;
    }
    if (PQntuples(r) == 0) {
        rc = RW_NOT_FOUND;
        goto cleanup;
    }
    if (rw_redemption_status_parse(PQgetvalue(r, 0, 4), &from) != 0) {
        rc = SG_ERR_DB;
        goto cleanup;
    }
    if (!rw_redemption_may(from, RW_REDEMPTION_REFUNDED)) {
        rc = RW_ALREADY_REFUNDED; /* refunded is the only state that cannot be refunded */
        goto cleanup;
    }
    snprintf(user, sizeof user, "%s", PQgetvalue(r, 0, 0));
    snprintf(item, sizeof item, "%s", PQgetvalue(r, 0, 1));
    snprintf(qty, sizeof qty, "%s", PQgetvalue(r, 0, 2));
    cost = atoll(PQgetvalue(r, 0, 3));
    rc = sg_pg_exec(c, "UPDATE items SET stock = stock + $2::bigint, updated_at = now() WHERE id = $1::uuid", 2,
                    SG_P(item, qty));
    if (rc != SG_OK)
        goto cleanup;
    rw_store_posting credit = {.kind = "refund", .redemption_id = t->id, .user_id = user, .amount = cost};
    rc = rw_store_post(c, &credit, &posted);
    if (rc != SG_OK)
        goto cleanup;
    snprintf(bal, sizeof bal, "%lld", posted.balance);
    PQclear(r);
    r = sg_pg_query(c,
                    "UPDATE redemptions SET status = $4, refunded_at = now(), refunded_by = $2 "
                    "WHERE id = $1::uuid RETURNING (" REDEMPTION_JSON
                    "::jsonb || jsonb_build_object('balance', $3::bigint))::text",
                    4, SG_P(t->id, t->by, bal, rw_redemption_status_name(RW_REDEMPTION_REFUNDED)));
    if (!sg_pg_ok(r)) {
        rc = sg_pg_err(c);
        goto cleanup;
    }
    t->out = sg_pg_json(r, 0, 0);
    rc = t->out ? SG_OK : SG_ERR_DB;
cleanup:
    PQclear(r);
    return rc;
}

int rw_store_refund(sg_pg_pool *p, const char *id, const char *by, json_t **out)
{
    refund_tx t = {.id = id, .by = by};
    int rc = sg_pg_tx(p, SG_TX_READ_COMMITTED, refund_fn, &t);
    if (rc != SG_OK) {
        json_decref(t.out);
        t.out = NULL;
    }
    *out = t.out;
    return rc;
}

int rw_store_redemption_get(sg_pg_pool *p, const char *id, json_t **out, char owner[129])
{
    PGresult *r = NULL;
    int rc = sg_pg_read(p, RW_PG_WAIT_MS, "SELECT user_id, " REDEMPTION_JSON "::text FROM redemptions WHERE id = $1::uuid", 1,
                        SG_P(id), &r);
    *out = NULL;
    if (rc == SG_OK && PQntuples(r) == 0)
        rc = RW_NOT_FOUND;
    else if (rc == SG_OK && !(*out = sg_pg_json(r, 0, 1)))
        rc = SG_ERR_DB;
    if (rc == SG_OK)
        snprintf(owner, 129, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return rc;
}
