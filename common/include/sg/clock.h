/* Clocks and sleeping, shared by libsg and the services.
 *
 * Monotonic time is for intervals, deadlines and back-offs (never jumps);
 * wall time is for timestamps that leave the process. All functions are
 * thread-safe, allocate nothing and cannot fail.
 */
#ifndef SG_CLOCK_H
#define SG_CLOCK_H

/* Milliseconds of CLOCK_MONOTONIC (arbitrary origin, never decreases).
 * Only differences between two readings are meaningful. */
long long sg_clock_mono_ms(void);

/* Milliseconds since the Unix epoch (CLOCK_REALTIME, may jump). */
long long sg_clock_wall_ms(void);

/* Seconds since the Unix epoch with sub-second precision (CLOCK_REALTIME,
 * may jump). */
double sg_clock_wall_s(void);

/* Sleeps at least ms milliseconds (ms <= 0 returns at once), resuming after
 * signals (EINTR). */
void sg_sleep_ms(long ms);

#endif
