/* Store helpers; see store_util.h. */
#include "store_util.h"

#include <stdlib.h>
#include <string.h>

int store_page(const PGresult *r, int limit, int keycol, int jsoncol, json_t **items, char **next)
{
    json_t *page = sg_pg_page(r, limit, keycol, jsoncol), *cursor;
    int rc = SG_ERR_DB;

    *items = NULL;
    *next = NULL;
    if (!page)
        goto cleanup;
    cursor = json_object_get(page, "next_cursor");
    if (json_is_string(cursor) && !(*next = strdup(json_string_value(cursor))))
        goto cleanup;
    *items = json_incref(json_object_get(page, "items"));
    rc = SG_OK;
cleanup:
    json_decref(page);
    return rc;
}
