/* Fatigue limits, one at a time, and the state transitions the store
 * mirrors in SQL. */
#include <criterion/criterion.h>

#include "../../services/reviewer/fatigue.h"
#include "sg/timeutil.h"

static rv_fatigue_policy policy(void)
{
    return (rv_fatigue_policy){1, 3, 20, 100, 60, 86400};
}

static double at(const char *s)
{
    double t;
    cr_assert_eq(sg_time_parse(s, &t), 0);
    return t;
}

static rv_fatigue_state fresh(void)
{
    return (rv_fatigue_state){0, 0, 0, 0, 0, 0, 0};
}

Test(fatigue, fresh_reviewer_passes)
{
    rv_fatigue_policy p = policy();
    rv_fatigue_state s = fresh();
    cr_assert_eq(rv_fatigue_check(&p, &s, at("2026-11-25T12:00:00Z")), RV_FAT_OK);
}

Test(fatigue, max_open_ballots)
{
    rv_fatigue_policy p = policy();
    rv_fatigue_state s = fresh();
    double now = at("2026-11-25T12:00:00Z");
    s.open_ballots = 2;
    cr_assert_eq(rv_fatigue_check(&p, &s, now), RV_FAT_OK);
    s.open_ballots = 3;
    cr_assert_eq(rv_fatigue_check(&p, &s, now), RV_FAT_OPEN_BALLOTS);
}

Test(fatigue, max_per_day_counts_only_today)
{
    rv_fatigue_policy p = policy();
    rv_fatigue_state s = fresh();
    double now = at("2026-11-25T12:00:00Z");
    s.day = sg_day_of(now);
    s.day_count = 19;
    cr_assert_eq(rv_fatigue_check(&p, &s, now), RV_FAT_OK);
    s.day_count = 20;
    cr_assert_eq(rv_fatigue_check(&p, &s, now), RV_FAT_PER_DAY);
    /* Yesterday's 20 do not count at 00:00 UTC today. */
    cr_assert_eq(rv_fatigue_check(&p, &s, at("2026-11-26T00:00:00Z")), RV_FAT_OK);
}

Test(fatigue, max_per_week_counts_only_this_iso_week)
{
    rv_fatigue_policy p = policy();
    rv_fatigue_state s = fresh();
    double now = at("2026-11-29T23:59:59Z"); /* Sunday */
    p.max_per_week = 30;
    s.week = sg_week_of_day(sg_day_of(now));
    s.week_count = 30;
    cr_assert_eq(rv_fatigue_check(&p, &s, now), RV_FAT_PER_WEEK);
    cr_assert_eq(rv_fatigue_check(&p, &s, at("2026-11-30T00:00:00Z")), RV_FAT_OK, "Monday: a new week");
    s.week_count = 29;
    cr_assert_eq(rv_fatigue_check(&p, &s, now), RV_FAT_OK);
}

Test(fatigue, min_interval_s)
{
    rv_fatigue_policy p = policy();
    rv_fatigue_state s = fresh();
    double now = at("2026-11-25T12:00:00Z");
    s.last_assigned = now - 59.5;
    cr_assert_eq(rv_fatigue_check(&p, &s, now), RV_FAT_INTERVAL);
    s.last_assigned = now - 60;
    cr_assert_eq(rv_fatigue_check(&p, &s, now), RV_FAT_OK);
    p.min_interval_s = 0;
    s.last_assigned = now;
    cr_assert_eq(rv_fatigue_check(&p, &s, now), RV_FAT_OK, "0 = no interval");
    s.last_assigned = now + 0.004;
    cr_assert_eq(rv_fatigue_check(&p, &s, now), RV_FAT_OK, "assigned by a concurrent selection a moment later");
    p.min_interval_s = 60;
    cr_assert_eq(rv_fatigue_check(&p, &s, now), RV_FAT_INTERVAL);
}

Test(fatigue, cooldown_after_expiry)
{
    rv_fatigue_policy p = policy();
    rv_fatigue_state s = fresh();
    double now = at("2026-11-25T12:00:00Z");
    s.open_ballots = 1;
    rv_fatigue_release(&p, &s, 1, now);
    cr_assert_eq(s.open_ballots, 0);
    cr_assert_float_eq(s.cooldown_until, now + 86400, 1e-6);
    cr_assert_eq(rv_fatigue_check(&p, &s, now + 86399), RV_FAT_COOLDOWN);
    cr_assert_eq(rv_fatigue_check(&p, &s, now + 86400), RV_FAT_OK);
    /* A later, shorter cooldown never shortens a running one. */
    p.cooldown_after_expiry_s = 10;
    rv_fatigue_release(&p, &s, 1, now + 5);
    cr_assert_float_eq(s.cooldown_until, now + 86400, 1e-6);
}

Test(fatigue, release_never_goes_below_zero_and_voted_has_no_cooldown)
{
    rv_fatigue_policy p = policy();
    rv_fatigue_state s = fresh();
    rv_fatigue_release(&p, &s, 0, 1000);
    cr_assert_eq(s.open_ballots, 0);
    cr_assert_eq(s.cooldown_until, 0);
}

Test(fatigue, assign_rolls_day_and_week_counters)
{
    rv_fatigue_policy p = policy();
    rv_fatigue_state s = fresh();
    double mon = at("2026-11-23T10:00:00Z"), tue = at("2026-11-24T10:00:00Z"), next = at("2026-11-30T10:00:00Z");
    p.min_interval_s = 0;
    p.max_open_ballots = 1000;
    for (int i = 0; i < 20; i++) {
        cr_assert_eq(rv_fatigue_check(&p, &s, mon), RV_FAT_OK, "assignment %d", i);
        rv_fatigue_assign(&s, mon);
    }
    cr_assert_eq(rv_fatigue_check(&p, &s, mon), RV_FAT_PER_DAY);
    cr_assert_eq(s.open_ballots, 20);
    rv_fatigue_assign(&s, tue);
    cr_assert_eq(s.day_count, 1);
    cr_assert_eq(s.week_count, 21);
    rv_fatigue_assign(&s, next);
    cr_assert_eq(s.day_count, 1);
    cr_assert_eq(s.week_count, 1);
    cr_assert_float_eq(s.last_assigned, next, 1e-6);
}
