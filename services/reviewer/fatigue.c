/* See fatigue.h. */
#include "fatigue.h"

#include "sg/timeutil.h"

rv_fatigue rv_fatigue_check(const rv_fatigue_policy *p, const rv_fatigue_state *s, double now)
{
    long today = sg_day_of(now);
    long week = sg_week_of_day(today);

    if (s->open_ballots >= p->max_open_ballots)
        return RV_FAT_OPEN_BALLOTS;
    if (s->day == today && s->day_count >= p->max_per_day)
        return RV_FAT_PER_DAY;
    if (s->week == week && s->week_count >= p->max_per_week)
        return RV_FAT_PER_WEEK;
    /* 0 means no interval. A concurrent selection that locked the reviewer
     * first may have stamped an assignment a little after this selection's
     * clock reading (now - last_assigned < 0): that is "just now", not a
     * reason to refuse when no interval is required. */
    if (p->min_interval_s > 0 && s->last_assigned > 0 && now - s->last_assigned < (double)p->min_interval_s)
        return RV_FAT_INTERVAL;
    if (s->cooldown_until > now)
        return RV_FAT_COOLDOWN;
    return RV_FAT_OK;
}

void rv_fatigue_assign(rv_fatigue_state *s, double now)
{
    long today = sg_day_of(now);
    long week = sg_week_of_day(today);

    s->open_ballots++;
    s->day_count = s->day == today ? s->day_count + 1 : 1;
    s->day = today;
    s->week_count = s->week == week ? s->week_count + 1 : 1;
    s->week = week;
    s->last_assigned = now;
}

void rv_fatigue_release(const rv_fatigue_policy *p, rv_fatigue_state *s, int expired, double now)
{
    if (s->open_ballots > 0)
        s->open_ballots--;
    if (expired) {
        double until = now + (double)p->cooldown_after_expiry_s;
        if (until > s->cooldown_until)
            s->cooldown_until = until;
    }
}

const char *rv_fatigue_name(rv_fatigue f)
{
    switch (f) {
    case RV_FAT_OK: return "ok";
    case RV_FAT_OPEN_BALLOTS: return "max_open_ballots";
    case RV_FAT_PER_DAY: return "max_per_day";
    case RV_FAT_PER_WEEK: return "max_per_week";
    case RV_FAT_INTERVAL: return "min_interval_s";
    case RV_FAT_COOLDOWN: return "cooldown_after_expiry_s";
    }
    return "?";
}
