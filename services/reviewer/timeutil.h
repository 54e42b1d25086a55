/* Time arithmetic for the reviewer service: RFC 3339 parsing, UTC day numbers
 * and ISO weeks. Pure functions, no allocation, no locale or TZ dependency.
 *
 * A "day number" is the count of UTC days since 1970-01-01 (day 0, a
 * Thursday); a week is identified by the day number of its Monday.
 */
#ifndef RV_TIMEUTIL_H
#define RV_TIMEUTIL_H

#include <stddef.h>

#define RV_DAY_S 86400.0

/* Parses YYYY-MM-DD(T|t| )HH:MM:SS[.frac](Z|z|±HH:MM) into Unix seconds.
 * Returns 0, or -1 when s is not such a timestamp (or a field is out of
 * range). */
int rv_time_parse(const char *s, double *out);

/* Wall-clock Unix time with sub-second precision (sg_clock_wall_s; the
 * reviewer's "now" for day/week arithmetic). */
double rv_time_now(void);

/* UTC day number containing Unix time t. */
long rv_day_of(double t);

/* Day number of the Monday of the ISO week containing day d. */
long rv_week_of_day(long d);

/* Writes day d as "YYYY-MM-DD" (buf >= 11 bytes, else truncated); returns buf. */
char *rv_day_format(long d, char *buf, size_t len);

/* Parses "YYYY-MM-DD" into a day number; 0 or -1. */
int rv_day_parse(const char *s, long *out);

/* Writes Unix time t as "YYYY-MM-DDTHH:MM:SSZ" (whole seconds, truncated
 * towards the past); buf >= 21 bytes. Returns buf. */
char *rv_time_format(double t, char *buf, size_t len);

#endif
