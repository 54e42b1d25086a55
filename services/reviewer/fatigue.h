/* Fatigue control: may a reviewer be given one more ballot now? Pure.
 *
 * The state mirrors the reviewer row (PostgreSQL is the truth; Redis caches
 * it): per-day and per-week counters are "rolling" — a counter whose day/week
 * is not the current one counts as zero.
 */
#ifndef RV_FATIGUE_H
#define RV_FATIGUE_H

#include "policy.h"

typedef struct rv_fatigue_state {
    int open_ballots;
    long day;             /* UTC day number day_count belongs to (any value if day_count == 0) */
    int day_count;
    long week;            /* Monday day number week_count belongs to */
    int week_count;
    double last_assigned; /* Unix time of the last assignment, 0 = never */
    double cooldown_until;/* Unix time, 0 = none */
} rv_fatigue_state;

typedef enum {
    RV_FAT_OK = 0,
    RV_FAT_OPEN_BALLOTS,  /* open_ballots >= max_open_ballots */
    RV_FAT_PER_DAY,       /* assignments today >= max_per_day */
    RV_FAT_PER_WEEK,      /* assignments this ISO week >= max_per_week */
    RV_FAT_INTERVAL,      /* less than min_interval_s since the last assignment */
    RV_FAT_COOLDOWN,      /* cooldown after an expired ballot not over */
} rv_fatigue;

/* RV_FAT_OK when one more assignment at `now` keeps every limit. */
rv_fatigue rv_fatigue_check(const rv_fatigue_policy *p, const rv_fatigue_state *s, double now);

/* The state after one assignment at `now` (what the store's UPDATE does). */
void rv_fatigue_assign(rv_fatigue_state *s, double now);

/* The state after a ballot closed at `now`; expired starts the cooldown. */
void rv_fatigue_release(const rv_fatigue_policy *p, rv_fatigue_state *s, int expired, double now);

const char *rv_fatigue_name(rv_fatigue f);

#endif
