/* Catalog and redemption request validation; see catalog.h. */
#include "catalog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sg/json.h"

static const sg_field item_fields[] = {
    {"name", SG_JT_STRING, 1, 1, 200, 0, 1},
    {"cost", SG_JT_INT, 1, 1, REWARD_MAX_COST, 0, 0},
    {"stock", SG_JT_INT, 1, 0, REWARD_MAX_STOCK, 0, 0},
    {"active", SG_JT_BOOL, 1, 0, 0, 0, 0},
};

static const sg_field redeem_fields[] = {
    {"item_id", SG_JT_STRING, 1, 36, 36, 0, 1},
    {"quantity", SG_JT_INT, 1, 1, REWARD_MAX_QUANTITY, 0, 0},
};

int reward_item_from_json(const json_t *body, reward_item *out, char *err, size_t errlen)
{
    if (sg_json_validate(body, item_fields, sizeof item_fields / sizeof item_fields[0], err, errlen) != 0)
        return -1;
    out->name = sg_json_str(body, "name");
    out->cost = sg_json_int(body, "cost", 0);
    out->stock = sg_json_int(body, "stock", 0);
    out->active = json_is_true(json_object_get(body, "active"));
    return 0;
}

int reward_redeem_from_json(const json_t *body, reward_redeem *out, char *err, size_t errlen)
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

int reward_idempotency_key_valid(const char *k)
{
    size_t n = k ? strlen(k) : 0;
    if (n < 1 || n > REWARD_MAX_IDEMPOTENCY_KEY)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)k[i] < 0x20 || (unsigned char)k[i] > 0x7e)
            return 0;
    return 1;
}

int reward_seq_cursor_parse(const char *s, long long *out)
{
    char *end;
    if (!s || *s < '1' || *s > '9' || strlen(s) > 19)
        return -1;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < 1)
        return -1;
    *out = v;
    return 0;
}
