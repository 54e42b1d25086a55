/* Clocks and sleeping, shared by libsg and the services.
 *
 * Monotonic time is for intervals, deadlines and back-offs (never jumps);
 * wall time is for timestamps that leave the process. All functions are
 * thread-safe, allocate nothing and cannot fail.
 */
#ifndef SG_CLOCK_H
#define SG_CLOCK_H

#include <pthread.h>
#include <time.h>

/* Milliseconds of CLOCK_MONOTONIC (arbitrary origin, never decreases).
 * Only differences between two readings are meaningful. */
long long sg_clock_mono_ms(void);
/* The same clock in microseconds, for timing short stages. */
long long sg_clock_mono_us(void);

/* Milliseconds since the Unix epoch (CLOCK_REALTIME, may jump). */
long long sg_clock_wall_ms(void);

/* Seconds since the Unix epoch with sub-second precision (CLOCK_REALTIME,
 * may jump). */
double sg_clock_wall_s(void);

/* Sleeps at least ms milliseconds (ms <= 0 returns at once), resuming after
 * signals (EINTR). */
void sg_sleep_ms(long ms);

/* Condition variables timed on CLOCK_MONOTONIC, so a wall-clock step never
 * shortens or stretches a wait. sg_cond_init_monotonic initialises cv for
 * them (returns pthread_cond_init's result). sg_deadline_ms is the absolute
 * CLOCK_MONOTONIC time ms milliseconds from now (ms < 0 counts as 0), for a
 * wait that spans several wake-ups. sg_cond_wait_until waits on cv (mu held)
 * until it is signalled or the deadline passed: 0, or ETIMEDOUT.
 * sg_cond_wait_ms is sg_cond_wait_until(sg_deadline_ms(ms)). Spurious
 * wake-ups happen: re-check the condition. */
int sg_cond_init_monotonic(pthread_cond_t *cv);
struct timespec sg_deadline_ms(long ms);
int sg_cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, const struct timespec *deadline);
int sg_cond_wait_ms(pthread_cond_t *cv, pthread_mutex_t *mu, long ms);

#endif
