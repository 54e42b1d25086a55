/* Reward rules: what a vote, a majority vote and a report that led to a
 * `violation` verdict earn, and how much one user may earn per UTC day.
 * Pure functions (no I/O).
 */
#ifndef RW_RULE_H
#define RW_RULE_H

#include <jansson.h>
#include <stddef.h>

/* Report type whose rule applies to report types that have none. */
#define RW_DEFAULT_TYPE "default"

/* Upper bounds of the rule fields (also CHECK constraints in the schema). */
#define RW_MAX_AMOUNT 1000000LL
#define RW_MAX_DAILY_CAP 1000000000LL

typedef struct rw_rule {
    long long vote_reward;        /* every reviewer who voted */
    long long majority_bonus;     /* on top, for a vote with the majority */
    long long reporter_reward;    /* each reporter of a case decided violation */
    long long daily_cap_per_user; /* most coins paid per user per UTC day (0: pay nothing) */
} rw_rule;

/* Validates a PUT body strictly (all four fields, integers within bounds, no
 * other field) and fills *out. Returns 0, or -1 with a 400 detail in err. */
int rw_rule_from_json(const json_t *body, rw_rule *out, char *err, size_t errlen);

#endif
