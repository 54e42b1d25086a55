/* See timeutil.h. Civil-date conversions follow Howard Hinnant's
 * days_from_civil / civil_from_days, valid for the proleptic Gregorian
 * calendar over the whole range of long. */
#include "sg/timeutil.h"

#include <math.h>
#include <stdio.h>
#include <time.h>
#include "sg/clock.h"

static long days_from_civil(long y, unsigned m, unsigned d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long)doe - 719468;
}

static void civil_from_days(long z, long *y, unsigned *m, unsigned *d)
{
    z += 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long yy = (long)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yy + (*m <= 2);
}

static int is_leap(long y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned month_days(long y, unsigned m)
{
    static const unsigned n[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : n[m - 1];
}

/* Reads exactly n digits at *p into *out, advancing *p. */
static int digits(const char **p, int n, long *out)
{
    long v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

static int parse_date(const char **p, long *y, long *mo, long *d)
{
    if (digits(p, 4, y) || **p != '-')
        return -1;
    (*p)++;
    if (digits(p, 2, mo) || **p != '-')
        return -1;
    (*p)++;
    if (digits(p, 2, d))
        return -1;
    if (*mo < 1 || *mo > 12 || *d < 1 || *d > (long)month_days(*y, (unsigned)*mo))
        return -1;
    return 0;
}

int sg_time_parse(const char *s, double *out)
{
    const char *p = s;
    long y, mo, d, hh, mi, ss;
    double frac = 0;
    long off = 0;

    if (!s || parse_date(&p, &y, &mo, &d) || y < 1) /* PostgreSQL has no year 0 */
        return -1;
    if (*p != 'T' && *p != 't')
        return -1;
    p++;
    if (digits(&p, 2, &hh) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' || digits(&p, 2, &ss))
        return -1;
    if (hh > 23 || mi > 59 || ss > 59)
        return -1;
    if (*p == '.') {
        double scale = 0.1;
        int n = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, n++) {
            frac += (*p - '0') * scale;
            scale /= 10;
        }
        if (n < 1 || n > 9)
            return -1;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        long oh, om;
        p++;
        if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) || oh > 23 || om > 59)
            return -1;
        off = sign * (oh * 3600 + om * 60);
    } else {
        return -1;
    }
    if (*p != '\0')
        return -1;
    if (out)
        *out = (double)days_from_civil(y, (unsigned)mo, (unsigned)d) * SG_DAY_S +
               (double)(hh * 3600 + mi * 60 + ss) + frac - (double)off;
    return 0;
}

int sg_is_rfc3339(const char *s)
{
    return sg_time_parse(s, NULL) == 0;
}

double sg_time_now(void)
{
    return sg_clock_wall_s();
}

long sg_day_of(double t)
{
    return (long)floor(t / SG_DAY_S);
}

long sg_week_of_day(long d)
{
    /* Day 0 is a Thursday: (d + 3) mod 7 is 0 on Mondays. */
    long r = (d + 3) % 7;
    if (r < 0)
        r += 7;
    return d - r;
}

char *sg_day_format(long d, char *buf, size_t len)
{
    long y;
    unsigned m, dd;
    civil_from_days(d, &y, &m, &dd);
    snprintf(buf, len, "%04ld-%02u-%02u", y, m, dd);
    return buf;
}

int sg_day_parse(const char *s, long *out)
{
    const char *p = s;
    long y, mo, d;
    if (!s || parse_date(&p, &y, &mo, &d) || *p != '\0')
        return -1;
    *out = days_from_civil(y, (unsigned)mo, (unsigned)d);
    return 0;
}

char *sg_time_format(double t, char *buf, size_t len)
{
    double fl = floor(t);
    long day = sg_day_of(fl);
    long sec = (long)(fl - (double)day * SG_DAY_S);
    long y;
    unsigned m, dd;
    civil_from_days(day, &y, &m, &dd);
    snprintf(buf, len, "%04ld-%02u-%02uT%02ld:%02ld:%02ldZ", y, m, dd, sec / 3600, sec / 60 % 60, sec % 60);
    return buf;
}
