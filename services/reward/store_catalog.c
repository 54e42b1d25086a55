/* Catalog store; see store.h. */
#include "store.h"

#include <stdio.h>
#include "store_util.h"
#include "svc.h"

#define ITEM_JSON                                                                                       \
    "json_build_object('item_id', id, 'name', name, 'cost', cost, 'stock', stock, 'active', active, " \
    "'created_at', " SG_SQL_TS("created_at") ", 'updated_at', " SG_SQL_TS("updated_at") ")::text"

/* Runs a statement returning at most one item JSON. */
static int item_one(sg_pg_pool *p, const char *sql, int n, const char *const *params, json_t **out)
{
    PGresult *r = NULL;
    int rc = sg_pg_read(p, RW_PG_WAIT_MS, sql, n, params, &r);
    *out = NULL;
    if (rc == SG_OK && PQntuples(r) == 0)
        rc = RW_NOT_FOUND;
    else if (rc == SG_OK && !(*out = sg_pg_json(r, 0, 0)))
        rc = SG_ERR_DB;
    PQclear(r);
    return rc;
}

int rw_store_item_create(sg_pg_pool *p, const rw_item *it, json_t **out)
{
    char cost[24], stock[24];
    snprintf(cost, sizeof cost, "%lld", it->cost);
    snprintf(stock, sizeof stock, "%lld", it->stock);
    return item_one(p,
                    "INSERT INTO items (name, cost, stock, active) VALUES ($1, $2::bigint, $3::bigint, $4::boolean) "
                    "RETURNING " ITEM_JSON,
                    4, SG_P(it->name, cost, stock, it->active ? "true" : "false"), out);
}

int rw_store_item_replace(sg_pg_pool *p, const char *id, const rw_item *it, json_t **out)
{
    char cost[24], stock[24];
    snprintf(cost, sizeof cost, "%lld", it->cost);
    snprintf(stock, sizeof stock, "%lld", it->stock);
    return item_one(p,
                    "UPDATE items SET name = $2, cost = $3::bigint, stock = $4::bigint, active = $5::boolean, "
                    "updated_at = now() WHERE id = $1::uuid RETURNING " ITEM_JSON,
                    5, SG_P(id, it->name, cost, stock, it->active ? "true" : "false"), out);
}

int rw_store_item_stock_add(sg_pg_pool *p, const char *id, long long delta, json_t **out)
{
    char d[24], max[24];
    snprintf(d, sizeof d, "%lld", delta);
    snprintf(max, sizeof max, "%lld", RW_MAX_STOCK);
    /* One statement: the row lock orders it with concurrent redemptions, and
     * the new stock is computed from the latest committed one. */
    int rc = item_one(p,
                      "UPDATE items SET stock = stock + $2::bigint, updated_at = now() WHERE id = $1::uuid "
                      "AND stock + $2::bigint BETWEEN 0 AND $3::bigint RETURNING " ITEM_JSON,
                      3, SG_P(id, d, max), out);
    if (rc != RW_NOT_FOUND)
        return rc;
    json_t *item = NULL;
    rc = rw_store_item_get(p, id, &item);
    json_decref(item);
    return rc == SG_OK ? RW_STOCK_RANGE : rc;
}

int rw_store_item_get(sg_pg_pool *p, const char *id, json_t **out)
{
    return item_one(p, "SELECT " ITEM_JSON " FROM items WHERE id = $1::uuid", 1, SG_P(id), out);
}

int rw_store_item_list(sg_pg_pool *p, long long after, int active, int limit, json_t **page)
{
    char lim[16], aft[24];
    PGresult *r = NULL;
    snprintf(lim, sizeof lim, "%d", limit + 1);
    snprintf(aft, sizeof aft, "%lld", after);
    int rc = sg_pg_read(p, RW_PG_WAIT_MS,
                        "SELECT seq, " ITEM_JSON " FROM items WHERE seq > $1::bigint "
                        "AND ($2::boolean IS NULL OR active = $2::boolean) ORDER BY seq LIMIT $3::integer",
                        3, SG_P(aft, active < 0 ? NULL : active ? "true" : "false", lim), &r);
    *page = NULL;
    if (rc == SG_OK && !(*page = sg_pg_page(r, limit, 0, 1)))
        rc = SG_ERR_DB;
    PQclear(r);
    return rc;
}
