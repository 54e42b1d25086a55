/* Catalog items and redemption requests: validation of request bodies and
 * headers. Pure functions (no I/O).
 */
#ifndef RW_CATALOG_H
#define RW_CATALOG_H

#include <jansson.h>
#include <stddef.h>

#define RW_MAX_COST 1000000000LL
#define RW_MAX_STOCK 1000000000LL
#define RW_MAX_QUANTITY 100

typedef struct rw_item {
    const char *name;             /* borrowed from the body; 1..200 code points, no control chars */
    long long cost;               /* coins per unit, 1..RW_MAX_COST */
    long long stock;              /* units left, 0..RW_MAX_STOCK */
    int active;                   /* redeemable */
} rw_item;

/* Validates a POST/PUT item body (all four fields required: PUT replaces)
 * and fills *out (strings borrowed from body). Returns 0, or -1 with a 400
 * detail in err. */
int rw_item_from_json(const json_t *body, rw_item *out, char *err, size_t errlen);

/* Validates a stock change body {"delta": n}: n an integer with |n| <=
 * RW_MAX_STOCK, negative to take units out; 0 is allowed (changes nothing,
 * returns the item). Returns 0 with *delta, or -1 with a 400 detail in err. */
int rw_stock_delta_from_json(const json_t *body, long long *delta, char *err, size_t errlen);

typedef struct rw_redeem {
    const char *item_id;          /* borrowed; a canonical UUID */
    int quantity;                 /* 1..RW_MAX_QUANTITY */
} rw_redeem;

/* Validates a redemption body {item_id, quantity}. Returns 0, or -1 with a
 * 400 detail in err. */
int rw_redeem_from_json(const json_t *body, rw_redeem *out, char *err, size_t errlen);

#endif
