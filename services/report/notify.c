/* Push management's pure decisions; see notify.h. */
#include "notify.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[RP_NK_COUNT] = {
    "ballot_assigned", "ballot_reminder", "ballot_cancelled", "ballot_expired",
    "case_outcome",    "report_outcome",  "content_outcome",  "appeal_opened",
};

const char *rp_notify_kind_name(rp_notify_kind k)
{
    return (unsigned)k < RP_NK_COUNT ? kind_names[k] : NULL;
}

int rp_notify_kind_parse(const char *name, rp_notify_kind *out)
{
    for (int i = 0; name && i < RP_NK_COUNT; i++)
        if (strcmp(kind_names[i], name) == 0) {
            *out = (rp_notify_kind)i;
            return 0;
        }
    return -1;
}

int rp_notify_kind_mutable(rp_notify_kind k)
{
    return (unsigned)k < RP_NK_COUNT && k != RP_NK_BALLOT_ASSIGNED && k != RP_NK_BALLOT_REMINDER;
}

/* Length of a run of [A-Za-z] (alpha) or [A-Za-z0-9] at s. */
static size_t run(const char *s, int alpha)
{
    size_t n = 0;
    while (s[n] && (alpha ? isalpha((unsigned char)s[n]) : isalnum((unsigned char)s[n])) && s[n] < 0x7f)
        n++;
    return n;
}

int rp_locale_ok(const char *s)
{
    size_t n;
    if (!s || (n = run(s, 1)) < 2 || n > 3)
        return 0;
    s += n;
    for (int sub = 0; *s; sub++) {
        if (sub == 2 || *s != '-')
            return 0;
        n = run(++s, 0);
        if (n < 2 || n > 8)
            return 0;
        s += n;
    }
    return 1;
}

/* ---- templates ---- */

static const char *const placeholders[] = {"kind",    "report_type", "case_id",         "deadline",
                                           "verdict", "tally",       "appeal_deadline"};
#define NPLACEHOLDERS (sizeof placeholders / sizeof placeholders[0])

/* The placeholder named by name[0..len), as an index, or -1. */
static int placeholder(const char *name, size_t len)
{
    for (size_t i = 0; i < NPLACEHOLDERS; i++)
        if (strlen(placeholders[i]) == len && memcmp(placeholders[i], name, len) == 0)
            return (int)i;
    return -1;
}

static const char *var(const rp_notify_vars *v, int i)
{
    const char *const vals[NPLACEHOLDERS] = {v->kind,    v->report_type, v->case_id,        v->deadline,
                                             v->verdict, v->tally,       v->appeal_deadline};
    return vals[i] ? vals[i] : "";
}

/* Copies text into out (NULL: only measures) with each placeholder replaced
 * by its value (vars NULL: only checks); *len gets the length. 0, or -1 with
 * err set. */
static int walk(const char *text, const rp_notify_vars *vars, char *out, size_t *len, char *err, size_t errlen)
{
    const char *p = text;
    *len = 0;
    while (*p) {
        const char *open = strstr(p, "{{");
        size_t lit = open ? (size_t)(open - p) : strlen(p);
        if (out)
            memcpy(out + *len, p, lit);
        *len += lit;
        if (!open)
            break;
        const char *close = strstr(open + 2, "}}");
        if (!close) {
            snprintf(err, errlen, "unterminated placeholder at \"%.20s\"", open);
            return -1;
        }
        int i = placeholder(open + 2, (size_t)(close - open - 2));
        if (i < 0) {
            snprintf(err, errlen, "unknown placeholder {{%.*s}}; allowed: {{kind}}, {{report_type}}, {{case_id}}, "
                     "{{deadline}}, {{verdict}}, {{tally}}, {{appeal_deadline}}",
                     (int)(close - open - 2 > 40 ? 40 : close - open - 2), open + 2);
            return -1;
        }
        if (vars) {
            const char *v = var(vars, i);
            size_t vl = strlen(v);
            if (out)
                memcpy(out + *len, v, vl);
            *len += vl;
        }
        p = close + 2;
    }
    return 0;
}

int rp_template_check(const char *text, char *err, size_t errlen)
{
    size_t len;
    if (!text) {
        snprintf(err, errlen, "template text missing");
        return -1;
    }
    return walk(text, NULL, NULL, &len, err, errlen);
}

char *rp_template_render(const char *text, const rp_notify_vars *vars)
{
    char err[160];
    size_t len;
    char *out;
    if (!text || !vars || walk(text, vars, NULL, &len, err, sizeof err))
        return NULL;
    if (!(out = malloc(len + 1)))
        return NULL;
    walk(text, vars, out, &len, err, sizeof err);
    out[len] = '\0';
    return out;
}

/* ---- quiet hours ---- */

int rp_hhmm_parse(const char *s, int *minutes)
{
    if (!s || strlen(s) != 5 || !isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) || s[2] != ':' ||
        !isdigit((unsigned char)s[3]) || !isdigit((unsigned char)s[4]))
        return -1;
    int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    if (h > 23 || m > 59)
        return -1;
    *minutes = h * 60 + m;
    return 0;
}

void rp_hhmm_format(int minutes, char out[6])
{
    minutes = ((minutes % 1440) + 1440) % 1440;
    snprintf(out, 6, "%02d:%02d", minutes / 60, minutes % 60);
}

long rp_quiet_wait_s(time_t now, const rp_quiet_hours *q)
{
    if (!q || q->start_min == q->end_min)
        return 0;
    /* Seconds since local midnight, in [0, 86400). */
    long long local = ((long long)now + (long long)q->utc_offset * 60) % 86400;
    if (local < 0)
        local += 86400;
    long long start = q->start_min * 60LL, end = q->end_min * 60LL;
    int quiet = start < end ? (local >= start && local < end) : (local >= start || local < end);
    if (!quiet)
        return 0;
    long long wait = end - local;
    if (wait <= 0)
        wait += 86400;
    return (long)wait;
}

/* ---- cap and retries ---- */

int rp_push_over_cap(long pushed_last_hour, long max_per_hour)
{
    return pushed_last_hour >= max_per_hour;
}

long rp_push_backoff_s(int attempts, long cap_s)
{
    long d = 1;
    for (int i = 1; i < attempts && d < cap_s; i++)
        d *= 2;
    return d < cap_s ? d : cap_s;
}

rp_push_action rp_push_decide(time_t now, int muted, const rp_quiet_hours *q, int already_counted,
                              long pushed_last_hour, long max_per_hour, long *wait_s)
{
    *wait_s = 0;
    if (muted)
        return RP_PUSH_DO_MUTE;
    if ((*wait_s = rp_quiet_wait_s(now, q)) > 0)
        return RP_PUSH_DO_DEFER;
    if (!already_counted && rp_push_over_cap(pushed_last_hour, max_per_hour))
        return RP_PUSH_DO_CAP;
    return RP_PUSH_DO_SEND;
}
