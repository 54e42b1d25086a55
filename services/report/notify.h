/* Push management's decisions, pure: the notification kinds, template
 * placeholders (the check made when ops store a template, and the rendering
 * made when a notification is created), preferences (locale, muted kinds,
 * quiet hours), and what the gateway dispatcher does with a due
 * notification (send, defer past quiet hours, cap, mute) and when it retries.
 * No I/O; thread-safe.
 */
#ifndef RP_NOTIFY_H
#define RP_NOTIFY_H

#include <stddef.h>
#include <time.h>

typedef enum {
    RP_NK_BALLOT_ASSIGNED = 0,
    RP_NK_BALLOT_REMINDER,
    RP_NK_BALLOT_CANCELLED,
    RP_NK_BALLOT_EXPIRED,
    RP_NK_CASE_OUTCOME,
    RP_NK_REPORT_OUTCOME,
    RP_NK_CONTENT_OUTCOME,
    RP_NK_APPEAL_OPENED,
} rp_notify_kind;
#define RP_NK_COUNT 8

/* "ballot_assigned", ...; NULL out of range. */
const char *rp_notify_kind_name(rp_notify_kind k);
/* 0 and *out, or -1 for an unknown name (or NULL). */
int rp_notify_kind_parse(const char *name, rp_notify_kind *out);
/* 0 for the kinds a juror may not mute (ballot_assigned, ballot_reminder:
 * a juror who wants no ballots pauses instead), else 1. */
int rp_notify_kind_mutable(rp_notify_kind k);

/* A locale tag as templates and preferences store it: a language of 2..3
 * letters and up to two subtags of 2..8 letters or digits ("en",
 * "zh-CN", "zh-Hant-TW"). 1 when s is one. */
int rp_locale_ok(const char *s);

/* The values a template may name: {{kind}}, {{report_type}}, {{case_id}},
 * {{deadline}}, {{verdict}}, {{tally}}, {{appeal_deadline}}. NULL renders
 * as the empty string. */
typedef struct rp_notify_vars {
    const char *kind;
    const char *report_type;
    const char *case_id;
    const char *deadline;
    const char *verdict;
    const char *tally;
    const char *appeal_deadline;
} rp_notify_vars;

/* Longest title and body a template may hold, in bytes. */
#define RP_TEMPLATE_TITLE_MAX 200
#define RP_TEMPLATE_BODY_MAX 2000

/* Checks a template text: every "{{" opens a placeholder closed by "}}"
 * whose name is one of the seven. 0, or -1 with a message naming the first
 * offender. */
int rp_template_check(const char *text, char *err, size_t errlen);

/* Renders a checked template with vars. Returns a malloc'ed string (the
 * caller frees it), or NULL when out of memory or the text does not pass
 * rp_template_check. */
char *rp_template_render(const char *text, const rp_notify_vars *vars);

/* Quiet hours in the user's local time: minutes after midnight, and the
 * user's offset from UTC in minutes. start == end means none. */
typedef struct rp_quiet_hours {
    int start_min;   /* 0..1439 */
    int end_min;     /* 0..1439 */
    int utc_offset;  /* -840..840 */
} rp_quiet_hours;

/* Parses "HH:MM" (00:00..23:59) into minutes after midnight. 0 or -1. */
int rp_hhmm_parse(const char *s, int *minutes);
/* Writes "HH:MM" (6 bytes with the NUL). */
void rp_hhmm_format(int minutes, char out[6]);

/* Seconds from `now` (Unix seconds) until the quiet hours end, 0 when now
 * is outside them (q NULL: none). Quiet hours may run across midnight
 * (22:00-08:00); the end minute itself is outside. */
long rp_quiet_wait_s(time_t now, const rp_quiet_hours *q);

/* 1 when a user who already had `pushed_last_hour` pushes in the last hour
 * must not get another (max_per_hour >= 1). */
int rp_push_over_cap(long pushed_last_hour, long max_per_hour);

/* Delay before push attempt attempts+1 after `attempts` failed ones
 * (attempts >= 1): 1 s, 2 s, 4 s, ... capped at cap_s. */
long rp_push_backoff_s(int attempts, long cap_s);

/* What the dispatcher does with a due notification. */
typedef enum {
    RP_PUSH_DO_SEND = 0,  /* POST it now */
    RP_PUSH_DO_MUTE,      /* the user muted its kind: inbox only */
    RP_PUSH_DO_DEFER,     /* quiet hours: try again when they end */
    RP_PUSH_DO_CAP,       /* over the hourly cap: inbox only */
} rp_push_action;

/* Muted first (it never goes out), then quiet hours (a deferred push has not
 * used the cap yet), then the cap. already_counted: the notification was
 * attempted before (a retry), so the cap does not apply again. *wait_s gets
 * the deferral for RP_PUSH_DO_DEFER, else 0. */
rp_push_action rp_push_decide(time_t now, int muted, const rp_quiet_hours *q, int already_counted,
                              long pushed_last_hour, long max_per_hour, long *wait_s);

#endif
