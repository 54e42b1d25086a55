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
                     rv_status_name(r->status), "reason", r->reason, "status_changed_at", str_or_null(r->status_changed_at),
                     "suspended_until", str_or_null(r->suspended_until), "counts", counts, "accuracy",
                     rv_accuracy(r->decided, r->with_majority, &acc) ? json_null() : json_real(acc), "reliability",
                     rv_reliability(r->decided, r->with_majority), "no_show_rate",
                     shown > 0 ? json_real((double)r->expired / shown) : json_null(), "open_ballots", r->open_ballots,
                     "last_assigned_at", str_or_null(r->last_assigned_at), "cooldown_until",
                     str_or_null(r->cooldown_until));
}

json_t *rv_reviewer_to_json_ops(const rv_reviewer *r)
{
    json_t *o = rv_reviewer_to_json(r);
    if (o) {
        json_object_set_new(o, "gold_votes", json_integer(r->gold_votes));
        json_object_set_new(o, "gold_accuracy",
                            r->gold_votes > 0 ? json_real((double)r->gold_hits / r->gold_votes) : json_null());
    }
    return o;
}

json_t *rv_status_change_to_json(const rv_status_change *c)
{
    return json_pack("{s:o, s:s, s:s, s:s, s:s, s:o, s:o}", "from_status", str_or_null(c->from_status), "to_status",
                     c->to_status, "reason", c->reason, "actor", c->actor, "changed_at", c->changed_at,
                     "suspend_days", c->suspend_days > 0 ? json_integer(c->suspend_days) : json_null(),
                     "suspended_until", str_or_null(c->suspended_until));
}

static double pair_baseline(const rv_pair_stat *s)
{
    return rv_pair_baseline(rv_majority_rate(s->decided_a, s->with_majority_a),
                            rv_majority_rate(s->decided_b, s->with_majority_b));
}

json_t *rv_pair_stat_to_json(const rv_pair_stat *s)
{
    return json_pack("{s:s, s:i, s:i, s:f, s:f}", "user_id", s->b, "cases", s->cases, "agreed", s->agreed,
                     "agreement", s->cases > 0 ? (double)s->agreed / s->cases : 0.0, "baseline", pair_baseline(s));
}

json_t *rv_pair_listing_to_json(const rv_pair_stat *s, double margin)
{
    double baseline = pair_baseline(s);
    return json_pack("{s:[s, s], s:i, s:i, s:f, s:f, s:b}", "user_ids", s->a, s->b, "cases", s->cases, "agreed",
                     s->agreed, "agreement", s->cases > 0 ? (double)s->agreed / s->cases : 0.0, "baseline", baseline,
                     "flagged", rv_pair_flagged(s->cases, s->agreed, baseline, margin));
}

static const char *const NAMES[RV_NSTATUS] = {"active", "paused", "suspended", "retired"};

#define SELF RV_BY_SELF
#define OPS RV_BY_OPS
#define POOL RV_BY_POOL
/* ALLOWED[from][to]: the actors that may make the change (see reviewer.h). */
static const unsigned char ALLOWED[RV_NSTATUS][RV_NSTATUS] = {
    /*               active           paused  suspended   retired */
    [RV_ACTIVE] = {OPS | SELF, SELF, OPS | POOL, POOL},
    [RV_PAUSED] = {OPS | SELF, SELF, OPS | POOL, POOL},
    [RV_SUSPENDED] = {OPS | POOL, 0, OPS, POOL},
    [RV_RETIRED] = {OPS | POOL, 0, 0, 0},
};
#undef SELF
#undef OPS
#undef POOL

const char *rv_status_name(rv_status s)
{
    return (unsigned)s < RV_NSTATUS ? NAMES[s] : NULL;
}

int rv_status_parse(const char *name, rv_status *out)
{
    for (int i = 0; name && i < RV_NSTATUS; i++)
        if (!strcmp(name, NAMES[i])) {
            *out = (rv_status)i;
            return 0;
        }
    return -1;
}

int rv_status_transition(rv_status from, rv_status to, rv_actor by)
{
    if ((unsigned)from >= RV_NSTATUS || (unsigned)to >= RV_NSTATUS)
        return -1;
    return ALLOWED[from][to] & by ? 0 : -1;
}

int rv_status_announced(rv_status from, rv_status to)
{
    if (from == to)
        return 0;
    return to == RV_SUSPENDED || to == RV_RETIRED || from == RV_SUSPENDED || from == RV_RETIRED;
}

int rv_availability_next(rv_status cur, int paused, rv_status *next)
{
    rv_status to = paused ? RV_PAUSED : RV_ACTIVE;
    if (rv_status_transition(cur, to, RV_BY_SELF))
        return -1;
    *next = to;
    return 0;
}
