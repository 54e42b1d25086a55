/* See eligibility.h. */
#include "eligibility.h"

#include "sg/timeutil.h"

void rv_pool_cutoffs_of(const rv_pool_rule *r, double now, rv_pool_cutoffs *out)
{
    long this_week = sg_week_of_day(sg_day_of(now));
    out->registered_before = now - (double)r->min_account_age_days * SG_DAY_S;
    out->weeks = r->active_weeks_required;
    out->last_week = this_week - 7;
    out->first_week = this_week - 7L * (r->active_weeks_required > 0 ? r->active_weeks_required : 1);
}

static int has_any(const rv_tags *have, const rv_tags *wanted)
{
    for (int i = 0; i < wanted->n; i++)
        if (rv_tags_has(have, wanted->v[i]))
            return 1;
    return 0;
}

rv_elig rv_pool_eligible(const rv_pool_rule *r, const rv_pool_cutoffs *c, const rv_profile *p)
{
    if (has_any(p->tags, &r->exclude_tags))
        return RV_ELIG_EXCLUDED_TAG;
    if (r->include_tags_any.n > 0 && !has_any(p->tags, &r->include_tags_any))
        return RV_ELIG_NO_INCLUDED_TAG;
    if (p->credit_score < r->min_credit_score)
        return RV_ELIG_CREDIT;
    if (p->registered_at > c->registered_before)
        return RV_ELIG_ACCOUNT_AGE;
    for (long w = c->first_week; c->weeks > 0 && w <= c->last_week; w += 7) {
        size_t i;
        for (i = 0; i < p->nweeks && p->active_weeks[i] != w; i++)
            ;
        if (i == p->nweeks)
            return RV_ELIG_INACTIVE;
    }
    return RV_ELIG_OK;
}

const char *rv_elig_reason(rv_elig e)
{
    switch (e) {
    case RV_ELIG_OK: return "eligible";
    case RV_ELIG_EXCLUDED_TAG: return "has an excluded tag";
    case RV_ELIG_NO_INCLUDED_TAG: return "has none of the included tags";
    case RV_ELIG_CREDIT: return "credit score below the minimum";
    case RV_ELIG_ACCOUNT_AGE: return "account younger than the minimum age";
    case RV_ELIG_INACTIVE: return "not active in each of the required weeks";
    }
    return "ineligible";
}
