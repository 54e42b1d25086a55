/* See reviewer.h. */
#include "reviewer.h"

#include <string.h>

#include "quality.h"

static json_t *str_or_null(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

json_t *rv_reviewer_to_json(const rv_reviewer *r)
{
    double acc;
    int shown = r->voted + r->expired;
    json_t *counts = json_pack("{s:i, s:i, s:i, s:i, s:i, s:i}", "assigned", r->assigned, "voted", r->voted, "expired",
                               r->expired, "declined", r->declined, "decided", r->decided, "with_majority",
                               r->with_majority);
    return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:f, s:o, s:i, s:o, s:o}", "user_id", r->user_id, "status",
                     r->status, "reason", r->reason, "status_changed_at", str_or_null(r->status_changed_at),
                     "suspended_until", str_or_null(r->suspended_until), "counts", counts, "accuracy",
                     rv_accuracy(r->decided, r->with_majority, &acc) ? json_null() : json_real(acc), "reliability",
                     rv_reliability(r->decided, r->with_majority), "no_show_rate",
                     shown > 0 ? json_real((double)r->expired / shown) : json_null(), "open_ballots", r->open_ballots,
                     "last_assigned_at", str_or_null(r->last_assigned_at), "cooldown_until",
                     str_or_null(r->cooldown_until));
}

int rv_status_valid(const char *s)
{
    return s && (!strcmp(s, "active") || !strcmp(s, "paused") || !strcmp(s, "suspended") || !strcmp(s, "retired"));
}

int rv_availability_next(const char *cur, int paused, const char **next)
{
    if (strcmp(cur, "active") != 0 && strcmp(cur, "paused") != 0)
        return -1;
    *next = paused ? "paused" : "active";
    return 0;
}

int rv_ops_status_allowed(const char *cur, const char *target)
{
    if (!strcmp(target, "active"))
        return rv_status_valid(cur) ? 0 : -1;
    if (!strcmp(target, "suspended"))
        return !strcmp(cur, "retired") || !rv_status_valid(cur) ? -1 : 0;
    return -1;
}
