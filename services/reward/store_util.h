/* Store-layer details of the reward service on top of sg/pgutil.h: advisory
 * lock classes and the page shape its callers use.
 */
#ifndef REWARD_STORE_UTIL_H
#define REWARD_STORE_UTIL_H

#include <jansson.h>
#include <libpq-fe.h>
#include "sg/pg.h"
#include "sg/pgutil.h"

/* Classes of transaction-scoped advisory locks (two-key form, whose key
 * space does not overlap the one-key locks of migrations and the relay). */
#define REWARD_LOCK_RULES "50831"
#define REWARD_LOCK_REDEMPTION "50832"
#define REWARD_LOCK_CASE "50833"

/* Builds a page from a result of up to limit+1 rows where column jsoncol
 * holds each item's JSON and column keycol its sort key: *items gets the
 * first `limit` items (new reference) and *next a malloc'ed copy of the key
 * of the last returned item when there were more rows (else NULL). Returns
 * SG_OK or SG_ERR_DB (out of memory / bad JSON: nothing to free). */
int store_page(const PGresult *r, int limit, int keycol, int jsoncol, json_t **items, char **next);

#endif
