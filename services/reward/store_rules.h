/* Reward rules in PostgreSQL (table reward_rules). Rule JSON:
 * {report_type, version, vote_reward, majority_bonus, reporter_reward,
 *  daily_cap_per_user, created_by, created_at}.
 * JSON results are new references the caller owns.
 */
#ifndef RW_STORE_RULES_H
#define RW_STORE_RULES_H

#include <jansson.h>
#include "rule.h"
#include "sg/pg.h"

/* Appends the next version of type's rule; *out = the new rule. Concurrent
 * PUTs of one type are serialized, so versions are 1, 2, 3... without gaps.
 * Returns SG_OK or SG_ERR_DB. */
int rw_store_rule_put(sg_pg_pool *p, const char *type, const rw_rule *r, const char *by, json_t **out);

/* The current (highest) version of type's rule. SG_OK, RW_NOT_FOUND or
 * SG_ERR_DB. */
int rw_store_rule_get(sg_pg_pool *p, const char *type, json_t **out);

/* Current rules ordered by report type, after `after` (NULL: from the
 * start). *page: sg_pg_page's {items, next_cursor} 
 * (new reference, NULL unless SG_OK). */
int rw_store_rule_list(sg_pg_pool *p, const char *after, int limit, json_t **page);

/* Versions of type's rule, newest first, below version `before` (0: from
 * the newest). RW_NOT_FOUND when the type has no rule.
 * *page: sg_pg_page's {items, next_cursor} 
 * (new reference, NULL unless SG_OK). */
int rw_store_rule_versions(sg_pg_pool *p, const char *type, long long before, int limit, json_t **page);

/* Inside a transaction: the rule that applies to report type `type` — its
 * own current rule, else the current rule of RW_DEFAULT_TYPE. Fills
 * *out, rule_type (the type whose rule applied) and *version. Returns SG_OK,
 * RW_NOT_FOUND (no default either: ops deleted it by hand) or an error. */
int rw_store_rule_effective(sg_pg *c, const char *type, rw_rule *out, char rule_type[33], int *version);

#endif
