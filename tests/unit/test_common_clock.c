#include <criterion/criterion.h>
#include <time.h>

#include "sg/clock.h"

Test(clock, mono_is_monotonic_and_sleep_waits)
{
    long long a = sg_clock_mono_ms();
    sg_sleep_ms(30);
    long long b = sg_clock_mono_ms();
    cr_assert_geq(b - a, 30, "slept %lld ms", b - a);
    cr_assert_lt(b - a, 5000);
}

Test(clock, sleep_nonpositive_returns_at_once)
{
    long long a = sg_clock_mono_ms();
    sg_sleep_ms(0);
    sg_sleep_ms(-5);
    cr_assert_lt(sg_clock_mono_ms() - a, 20);
}

Test(clock, wall_matches_time)
{
    long long before = (long long)time(NULL);
    long long ms = sg_clock_wall_ms();
    double s = sg_clock_wall_s();
    long long after = (long long)time(NULL);
    cr_assert_geq(ms / 1000, before);
    cr_assert_leq(ms / 1000, after);
    cr_assert_geq(s, (double)before);
    cr_assert_leq(s, (double)after + 1.0);
    cr_assert_leq((long long)(s * 1000) - ms, 1000);
}
