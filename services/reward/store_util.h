/* Store-layer details of the reward service on top of sg/pgutil.h: advisory
 * lock classes.
 */
#ifndef RW_STORE_UTIL_H
#define RW_STORE_UTIL_H

#include <jansson.h>
#include <libpq-fe.h>
#include "sg/pg.h"
#include "sg/pgutil.h"

/* Classes of transaction-scoped advisory locks (two-key form, whose key
 * space does not overlap the one-key locks of migrations and the relay). */
#define RW_LOCK_RULES "50831"
#define RW_LOCK_REDEMPTION "50832"
#define RW_LOCK_CASE "50833"

#endif
