/* Catalog items (table items). Item JSON: {item_id, name, cost, stock,
 * active, created_at, updated_at}. JSON results are new references the
 * caller owns.
 */
#ifndef RW_STORE_CATALOG_H
#define RW_STORE_CATALOG_H

#include <jansson.h>
#include "catalog.h"
#include "sg/pg.h"

/* Creates an item; *out = the item. SG_OK or SG_ERR_DB. */
int rw_store_item_create(sg_pg_pool *p, const rw_item *it, json_t **out);

/* Replaces every field of item id (stock included). SG_OK, RW_NOT_FOUND
 * or SG_ERR_DB. */
int rw_store_item_replace(sg_pg_pool *p, const char *id, const rw_item *it, json_t **out);

/* One item. SG_OK, RW_NOT_FOUND or SG_ERR_DB. */
int rw_store_item_get(sg_pg_pool *p, const char *id, json_t **out);

/* Items in creation order after sequence `after` (0: from the first);
 * active: -1 all, 0 inactive only, 1 active only. 
 * *page: sg_pg_page's {items, next_cursor} 
 * (new reference, NULL unless SG_OK). */
int rw_store_item_list(sg_pg_pool *p, long long after, int active, int limit, json_t **page);

#endif
