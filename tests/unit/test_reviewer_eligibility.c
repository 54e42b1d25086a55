/* Pool eligibility: each rule field, and the exact activity-week window. */
#include <criterion/criterion.h>
#include <string.h>

#include "../../services/reviewer/eligibility.h"
#include "sg/timeutil.h"

/* Wed 2026-11-25 12:00:00Z */
static double wed_noon(void)
{
    double t;
    cr_assert_eq(sg_time_parse("2026-11-25T12:00:00Z", &t), 0);
    return t;
}

static long day(const char *s)
{
    long d;
    cr_assert_eq(sg_day_parse(s, &d), 0, "bad day %s", s);
    return d;
}

static void tags_of(rv_tags *t, int n, const char *const *v)
{
    memset(t, 0, sizeof(*t));
    for (int i = 0; i < n; i++)
        strcpy(t->v[t->n++], v[i]);
}

static rv_pool_rule open_rule(void)
{
    rv_pool_rule r;
    memset(&r, 0, sizeof(r));
    return r;
}

typedef struct fixture {
    rv_tags tags;
    long weeks[8];
    rv_profile p;
} fixture;

/* A profile that passes every rule below: credit 700, registered a year
 * before, tags {a, b}, active in the 4 full weeks before now. */
static void good_profile(fixture *f, double now)
{
    static const char *const t[] = {"a", "b"};
    tags_of(&f->tags, 2, t);
    f->weeks[0] = day("2026-10-26");
    f->weeks[1] = day("2026-11-02");
    f->weeks[2] = day("2026-11-09");
    f->weeks[3] = day("2026-11-16");
    f->p = (rv_profile){&f->tags, 700, now - 365 * 86400.0, f->weeks, 4};
}

Test(eligibility, empty_rule_admits_everyone)
{
    fixture f;
    rv_pool_rule r = open_rule();
    rv_pool_cutoffs c;
    double now = wed_noon();
    good_profile(&f, now);
    f.tags.n = 0;
    f.p.nweeks = 0;
    f.p.credit_score = 0;
    f.p.registered_at = now;
    rv_pool_cutoffs_of(&r, now, &c);
    cr_assert_eq(rv_pool_eligible(&r, &c, &f.p), RV_ELIG_OK);
}

Test(eligibility, include_tags_any_needs_one_of_them)
{
    static const char *const inc[] = {"x", "b"};
    static const char *const other[] = {"x", "y"};
    fixture f;
    rv_pool_rule r = open_rule();
    rv_pool_cutoffs c;
    double now = wed_noon();
    good_profile(&f, now);
    tags_of(&r.include_tags_any, 2, inc);
    rv_pool_cutoffs_of(&r, now, &c);
    cr_assert_eq(rv_pool_eligible(&r, &c, &f.p), RV_ELIG_OK, "has b");
    tags_of(&r.include_tags_any, 2, other);
    cr_assert_eq(rv_pool_eligible(&r, &c, &f.p), RV_ELIG_NO_INCLUDED_TAG);
    f.tags.n = 0;
    cr_assert_eq(rv_pool_eligible(&r, &c, &f.p), RV_ELIG_NO_INCLUDED_TAG, "no tags at all");
}

Test(eligibility, exclude_tags_refuse_any_of_them)
{
    static const char *const exc[] = {"banned", "a"};
    static const char *const none[] = {"banned"};
    fixture f;
    rv_pool_rule r = open_rule();
    rv_pool_cutoffs c;
    double now = wed_noon();
    good_profile(&f, now);
    tags_of(&r.exclude_tags, 1, none);
    rv_pool_cutoffs_of(&r, now, &c);
    cr_assert_eq(rv_pool_eligible(&r, &c, &f.p), RV_ELIG_OK);
    tags_of(&r.exclude_tags, 2, exc);
    cr_assert_eq(rv_pool_eligible(&r, &c, &f.p), RV_ELIG_EXCLUDED_TAG);
    /* Excluded wins over included. */
    tags_of(&r.include_tags_any, 1, (const char *const[]){"a"});
    cr_assert_eq(rv_pool_eligible(&r, &c, &f.p), RV_ELIG_EXCLUDED_TAG);
}

Test(eligibility, min_credit_score_is_inclusive)
{
    fixture f;
    rv_pool_rule r = open_rule();
    rv_pool_cutoffs c;
    double now = wed_noon();
    good_profile(&f, now);
    r.min_credit_score = 700;
    rv_pool_cutoffs_of(&r, now, &c);
    cr_assert_eq(rv_pool_eligible(&r, &c, &f.p), RV_ELIG_OK);
    f.p.credit_score = 699;
    cr_assert_eq(rv_pool_eligible(&r, &c, &f.p), RV_ELIG_CREDIT);
}

Test(eligibility, min_account_age_days_is_inclusive)
{
    fixture f;
    rv_pool_rule r = open_rule();
    rv_pool_cutoffs c;
    double now = wed_noon();
    good_profile(&f, now);
    r.min_account_age_days = 90;
    rv_pool_cutoffs_of(&r, now, &c);
    f.p.registered_at = now - 90 * 86400.0;
    cr_assert_eq(rv_pool_eligible(&r, &c, &f.p), RV_ELIG_OK, "exactly 90 days");
    f.p.registered_at = now - 90 * 86400.0 + 1;
    cr_assert_eq(rv_pool_eligible(&r, &c, &f.p), RV_ELIG_ACCOUNT_AGE, "one second short");
}

Test(eligibility, active_weeks_are_the_n_full_weeks_before_the_current_one)
{
    fixture f;
    rv_pool_rule r = open_rule();
    rv_pool_cutoffs c;
    double now = wed_noon();
    good_profile(&f, now);
    r.active_weeks_required = 4;
    rv_pool_cutoffs_of(&r, now, &c);
    cr_assert_eq(c.first_week, day("2026-10-26"));
    cr_assert_eq(c.last_week, day("2026-11-16"));
    cr_assert_eq(rv_pool_eligible(&r, &c, &f.p), RV_ELIG_OK);

    /* A gap in any one of the four weeks fails. */
    for (int gap = 0; gap < 4; gap++) {
        long saved = f.weeks[gap];
        f.weeks[gap] = day("2026-11-23"); /* the current week does not count */
        cr_assert_eq(rv_pool_eligible(&r, &c, &f.p), RV_ELIG_INACTIVE, "gap in week %d", gap);
        f.weeks[gap] = saved;
    }
    /* Activity in the current week is not required either. */
    r.active_weeks_required = 1;
    rv_pool_cutoffs_of(&r, now, &c);
    f.weeks[0] = day("2026-11-16");
    f.p.nweeks = 1;
    cr_assert_eq(rv_pool_eligible(&r, &c, &f.p), RV_ELIG_OK);
    /* Zero weeks: no activity needed. */
    r.active_weeks_required = 0;
    rv_pool_cutoffs_of(&r, now, &c);
    f.p.nweeks = 0;
    cr_assert_eq(rv_pool_eligible(&r, &c, &f.p), RV_ELIG_OK);
}

Test(eligibility, week_window_moves_exactly_at_monday_midnight_utc)
{
    double sun, mon;
    rv_pool_rule r = open_rule();
    rv_pool_cutoffs c;
    r.active_weeks_required = 2;
    cr_assert_eq(sg_time_parse("2026-11-29T23:59:59Z", &sun), 0);
    cr_assert_eq(sg_time_parse("2026-11-30T00:00:00Z", &mon), 0);
    rv_pool_cutoffs_of(&r, sun, &c);
    cr_assert_eq(c.first_week, day("2026-11-09"));
    cr_assert_eq(c.last_week, day("2026-11-16"));
    rv_pool_cutoffs_of(&r, mon, &c);
    cr_assert_eq(c.first_week, day("2026-11-16"));
    cr_assert_eq(c.last_week, day("2026-11-23"));
}

Test(eligibility, reasons_are_distinct)
{
    for (int a = RV_ELIG_OK; a <= RV_ELIG_INACTIVE; a++)
        for (int b = a + 1; b <= RV_ELIG_INACTIVE; b++)
            cr_assert_str_neq(rv_elig_reason((rv_elig)a), rv_elig_reason((rv_elig)b));
}


Test(timeutil, iso_weeks_start_on_monday)
{
    char buf[16];
    cr_assert_str_eq(sg_day_format(sg_week_of_day(day("2026-11-22")), buf, sizeof(buf)), "2026-11-16"); /* Sunday */
    cr_assert_str_eq(sg_day_format(sg_week_of_day(day("2026-11-23")), buf, sizeof(buf)), "2026-11-23"); /* Monday */
    cr_assert_str_eq(sg_day_format(sg_week_of_day(day("1970-01-01")), buf, sizeof(buf)), "1969-12-29");
    cr_assert_str_eq(sg_day_format(sg_week_of_day(day("1969-12-28")), buf, sizeof(buf)), "1969-12-22");
    char ts[32];
    cr_assert_str_eq(sg_time_format(1795341600.9, ts, sizeof(ts)), "2026-11-22T10:00:00Z");
}
