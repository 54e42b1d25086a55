/* Catalog and redemption request validation; see catalog.h. */
#include "catalog.h"

#include <stdio.h>
#include <string.h>
#include "sg/json.h"

static const sg_field item_fields[] = {
    {"name", SG_JT_STRING, 1, 1, 200, 0, 1},
    {"cost", SG_JT_INT, 1, 1, RW_MAX_COST, 0, 0},
    {"stock", SG_JT_INT, 1, 0, RW_MAX_STOCK, 0, 0},
    {"active", SG_JT_BOOL, 1, 0, 0, 0, 0},
};

static const sg_field stock_fields[] = {
    {"delta", SG_JT_INT, 1, -RW_MAX_STOCK, RW_MAX_STOCK, 0, 0},
};

static const sg_field redeem_fields[] = {
    {"item_id", SG_JT_STRING, 1, 36, 36, 0, 1},
    {"quantity", SG_JT_INT, 1, 1, RW_MAX_QUANTITY, 0, 0},
};

int rw_item_from_json(const json_t *body, rw_item *out, char *err, size_t errlen)
{
    if (sg_json_validate(body, item_fields, sizeof item_fields / sizeof item_fields[0], err, errlen) != 0)
        return -1;
    out->name = sg_json_str(body, "name");
    out->cost = sg_json_int(body, "cost", 0);
    out->stock = sg_json_int(body, "stock", 0);
    out->active = json_is_true(json_object_get(body, "active"));
    return 0;
}

int rw_stock_delta_from_json(const json_t *body, long long *delta, char *err, size_t errlen)
{
    if (sg_json_validate(body, stock_fields, sizeof stock_fields / sizeof stock_fields[0], err, errlen) != 0)
        return -1;
    *delta = sg_json_int(body, "delta", 0);
    return 0;
}

int rw_redeem_from_json(const json_t *body, rw_redeem *out, char *err, size_t errlen)
{
    if (sg_json_validate(body, redeem_fields, sizeof redeem_fields / sizeof redeem_fields[0], err, errlen) != 0)
        return -1;
    out->item_id = sg_json_str(body, "item_id");
    if (!sg_is_uuid(out->item_id)) {
        snprintf(err, errlen, "item_id: not a UUID");
        return -1;
    }
    out->quantity = (int)sg_json_int(body, "quantity", 0);
    return 0;
}
