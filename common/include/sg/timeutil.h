/* The platform's one RFC 3339 grammar, UTC day numbers and ISO weeks, for
 * every service. Pure functions, no allocation, no locale or TZ dependency.
 *
 * A "day number" is the count of UTC days since 1970-01-01 (day 0, a
 * Thursday); a week is identified by the day number of its Monday.
 */
#ifndef SG_TIMEUTIL_H
#define SG_TIMEUTIL_H

#include <stddef.h>

#define SG_DAY_S 86400.0

/* Parses an RFC 3339 timestamp, YYYY-MM-DD(T|t)HH:MM:SS[.frac](Z|z|±HH:MM)
 * with 1..9 fraction digits, year >= 1 and no leap second (every input it
 * accepts, PostgreSQL's timestamptz accepts as the same instant), into Unix
 * seconds. Returns 0 with *out set, or -1 (s NULL, not such a timestamp, or
 * a field out of range) with *out untouched. out may be NULL (a check). */
int sg_time_parse(const char *s, double *out);

/* 1 when sg_time_parse accepts s. */
int sg_is_rfc3339(const char *s);

/* Wall-clock Unix time with sub-second precision (sg_clock_wall_s; the
 * services' "now" for day/week arithmetic). */
double sg_time_now(void);

/* UTC day number containing Unix time t. */
long sg_day_of(double t);

/* Day number of the Monday of the ISO week containing day d. */
long sg_week_of_day(long d);

/* Writes day d as "YYYY-MM-DD" (buf >= 11 bytes, else truncated); returns buf. */
char *sg_day_format(long d, char *buf, size_t len);

/* Parses "YYYY-MM-DD" into a day number; 0 or -1. */
int sg_day_parse(const char *s, long *out);

/* Writes Unix time t as "YYYY-MM-DDTHH:MM:SSZ" (whole seconds, truncated
 * towards the past); buf >= 21 bytes. Returns buf. */
char *sg_time_format(double t, char *buf, size_t len);

#endif
