#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
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

Test(clock, cond_wait_ms_times_out_on_the_monotonic_clock)
{
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv;
    cr_assert_eq(sg_cond_init_monotonic(&cv), 0);
    pthread_mutex_lock(&mu);
    long long a = sg_clock_mono_ms();
    int rc;
    while ((rc = sg_cond_wait_ms(&cv, &mu, 40)) == 0) {
        /* spurious wake-up: a new 40 ms wait, still bounded below */
    }
    long long waited = sg_clock_mono_ms() - a;
    pthread_mutex_unlock(&mu);
    cr_assert_eq(rc, ETIMEDOUT);
    cr_assert_geq(waited, 39, "waited %lld ms", waited);
    cr_assert_lt(waited, 5000);
    pthread_cond_destroy(&cv);
}

Test(clock, deadline_normalises_nanoseconds)
{
    struct timespec now, d = sg_deadline_ms(1999);
    clock_gettime(CLOCK_MONOTONIC, &now);
    cr_assert_lt(d.tv_nsec, 1000000000L);
    long long diff = ((long long)d.tv_sec - now.tv_sec) * 1000 + (d.tv_nsec - now.tv_nsec) / 1000000;
    cr_assert_geq(diff, 1900);
    cr_assert_leq(diff, 1999);
    struct timespec z = sg_deadline_ms(-5);
    cr_assert_leq(((long long)z.tv_sec - now.tv_sec) * 1000 + (z.tv_nsec - now.tv_nsec) / 1000000, 0 + 5);
}

static pthread_mutex_t sig_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sig_cv;
static int sig_flag;

static void *signaller(void *arg)
{
    (void)arg;
    sg_sleep_ms(20);
    pthread_mutex_lock(&sig_mu);
    sig_flag = 1;
    pthread_cond_signal(&sig_cv);
    pthread_mutex_unlock(&sig_mu);
    return NULL;
}

Test(clock, cond_wait_until_returns_when_signalled)
{
    pthread_t t;
    cr_assert_eq(sg_cond_init_monotonic(&sig_cv), 0);
    struct timespec deadline = sg_deadline_ms(10000);
    long long a = sg_clock_mono_ms();
    pthread_mutex_lock(&sig_mu);
    cr_assert_eq(pthread_create(&t, NULL, signaller, NULL), 0);
    int rc = 0;
    while (!sig_flag && rc == 0)
        rc = sg_cond_wait_until(&sig_cv, &sig_mu, &deadline);
    pthread_mutex_unlock(&sig_mu);
    pthread_join(t, NULL);
    cr_assert_eq(rc, 0);
    cr_assert(sig_flag);
    cr_assert_lt(sg_clock_mono_ms() - a, 5000);
    pthread_cond_destroy(&sig_cv);
}
