/* Pool eligibility: who may be a reviewer under a pool rule. Pure.
 *
 * A user is eligible at time `now` when, checked in this order:
 *   1. the profile has none of exclude_tags;
 *   2. include_tags_any is empty, or the profile has at least one of them;
 *   3. credit_score >= min_credit_score;
 *   4. registered_at <= now - min_account_age_days * 86400 s;
 *   5. with N = active_weeks_required > 0: the user was active at least once
 *      in each of the N complete ISO weeks (Monday 00:00 UTC to Sunday
 *      24:00 UTC) immediately before the week containing `now`. The current,
 *      incomplete week neither counts nor is required, so the pool does not
 *      empty itself every Monday morning and shifts exactly once per week.
 *      Example: now = Wed 2026-11-25, N = 4 → weeks starting 2026-10-26,
 *      11-02, 11-09 and 11-16.
 * The pool adjustment applies the same rule in SQL with the cutoffs computed
 * here (rv_pool_cutoffs_of) and the reasons of rv_elig_reason.
 */
#ifndef RV_ELIGIBILITY_H
#define RV_ELIGIBILITY_H

#include <stddef.h>
#include "policy.h"

typedef enum {
    RV_ELIG_OK = 0,
    RV_ELIG_EXCLUDED_TAG,
    RV_ELIG_NO_INCLUDED_TAG,
    RV_ELIG_CREDIT,
    RV_ELIG_ACCOUNT_AGE,
    RV_ELIG_INACTIVE,
} rv_elig;

/* The rule turned into absolute bounds at a given time. */
typedef struct rv_pool_cutoffs {
    double registered_before; /* Unix time: registered_at must be <= this */
    long first_week;          /* Monday day number of the oldest required week */
    long last_week;           /* Monday day number of the newest required week */
    int weeks;                /* N; 0 = no activity requirement */
} rv_pool_cutoffs;

/* A profile as eligibility sees it. Borrowed pointers. */
typedef struct rv_profile {
    const rv_tags *tags;
    int credit_score;
    double registered_at;      /* Unix time */
    const long *active_weeks;  /* Monday day numbers the user was active in, any order, duplicates allowed */
    size_t nweeks;
} rv_profile;

void rv_pool_cutoffs_of(const rv_pool_rule *r, double now, rv_pool_cutoffs *out);

rv_elig rv_pool_eligible(const rv_pool_rule *r, const rv_pool_cutoffs *c, const rv_profile *p);

/* Human-readable reason (static string), used as the reviewer's status
 * reason when retired. "eligible" for RV_ELIG_OK. */
const char *rv_elig_reason(rv_elig e);

#endif
