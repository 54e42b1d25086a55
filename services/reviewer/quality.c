/* See quality.h. */
#include "quality.h"

#include <string.h>

double rv_reliability(int decided, int with_majority)
{
    return ((double)with_majority + 1.0) / ((double)decided + 2.0);
}

int rv_accuracy(int decided, int with_majority, double *out)
{
    if (decided <= 0)
        return -1;
    *out = (double)with_majority / (double)decided;
    return 0;
}

rv_quality rv_quality_check(const rv_quality_policy *p, const rv_quality_counts *c)
{
    int shown = c->voted + c->expired;
    if (c->decided >= p->min_decided_votes && c->decided > 0
        && (double)c->with_majority / (double)c->decided < p->min_accuracy)
        return RV_Q_ACCURACY;
    if (c->gold_votes >= p->min_gold_votes && c->gold_votes > 0
        && (double)c->gold_hits / (double)c->gold_votes < p->min_gold_accuracy)
        return RV_Q_GOLD;
    if (shown >= p->min_decided_votes && shown > 0 && (double)c->expired / (double)shown > p->max_no_show_rate)
        return RV_Q_NO_SHOW;
    return RV_Q_OK;
}

double rv_majority_rate(int decided, int with_majority)
{
    return decided > 0 ? (double)with_majority / (double)decided : 0.5;
}

double rv_pair_baseline(double p_a, double p_b)
{
    return p_a * p_b + (1.0 - p_a) * (1.0 - p_b);
}

int rv_pair_flagged(int cases, int agreed, double baseline, double margin)
{
    /* The tolerance keeps "exactly at the margin" flagged despite rounding
     * (0.75 - 0.5 is 0.25 in decimal, not always in binary). */
    return cases >= RV_PAIR_MIN_CASES && cases > 0 && (double)agreed / cases - baseline >= margin - 1e-9;
}

static const char *const decision_names[] = {NULL, "violation", "no_violation"};

int rv_decision_parse(const char *s, rv_decision *out)
{
    if (!s) {
        *out = RV_DEC_NONE;
        return 0;
    }
    for (int i = RV_DEC_VIOLATION; i <= RV_DEC_NO_VIOLATION; i++) {
        if (strcmp(s, decision_names[i]) == 0) {
            *out = (rv_decision)i;
            return 0;
        }
    }
    return -1;
}

const char *rv_decision_name(rv_decision d)
{
    return d >= RV_DEC_NONE && d <= RV_DEC_NO_VIOLATION ? decision_names[d] : NULL;
}

int rv_final_mark(rv_decision decision, rv_decision verdict, rv_decision final_verdict, int reported)
{
    if (decision == RV_DEC_NONE || final_verdict == RV_DEC_NONE || final_verdict == verdict)
        return reported;
    return decision == final_verdict;
}

static const char *const outcome_names[] = {NULL, "voted", "expired", "declined", "cancelled"};

int rv_outcome_parse(const char *s, rv_outcome *out)
{
    for (int i = RV_OUT_VOTED; s && i <= RV_OUT_CANCELLED; i++) {
        if (strcmp(s, outcome_names[i]) == 0) {
            *out = (rv_outcome)i;
            return 0;
        }
    }
    return -1;
}

const char *rv_outcome_name(rv_outcome o)
{
    return o >= RV_OUT_NONE && o <= RV_OUT_CANCELLED ? outcome_names[o] : NULL;
}

void rv_ballot_merge(const rv_ballot_state *old, rv_outcome outcome, int with_majority, rv_ballot_state *out)
{
    *out = *old;
    out->open = 0;
    if (outcome != RV_OUT_NONE)
        out->outcome = outcome;
    if (with_majority >= 0)
        out->with_majority = with_majority;
    if (out->outcome != RV_OUT_VOTED) {
        out->with_majority = -1;
        out->gold = RV_GOLD_NONE;
    }
}

void rv_ballot_set_gold(rv_ballot_state *s, int gold)
{
    if (gold != RV_GOLD_NONE)
        s->gold = gold;
    if (s->outcome != RV_OUT_VOTED)
        s->gold = RV_GOLD_NONE;
}

int rv_gold_mark(rv_outcome outcome, rv_decision decision, rv_decision expected)
{
    if (outcome != RV_OUT_VOTED || decision == RV_DEC_NONE || expected == RV_DEC_NONE)
        return RV_GOLD_NONE;
    return decision == expected ? RV_GOLD_HIT : RV_GOLD_MISS;
}

/* Contribution of one recorded state to the counters. */
static void contribution(const rv_ballot_state *s, rv_counter_delta *c)
{
    memset(c, 0, sizeof(*c));
    c->voted = s->outcome == RV_OUT_VOTED;
    c->expired = s->outcome == RV_OUT_EXPIRED;
    c->declined = s->outcome == RV_OUT_DECLINED;
    c->decided = s->outcome == RV_OUT_VOTED && s->with_majority >= 0;
    c->with_majority = s->outcome == RV_OUT_VOTED && s->with_majority == 1;
    c->gold_votes = s->outcome == RV_OUT_VOTED && s->gold != RV_GOLD_NONE;
    c->gold_hits = s->outcome == RV_OUT_VOTED && s->gold == RV_GOLD_HIT;
}

void rv_outcome_delta(const rv_ballot_state *old, const rv_ballot_state *neu, rv_counter_delta *d)
{
    rv_counter_delta a, b;
    contribution(old, &a);
    contribution(neu, &b);
    d->voted = b.voted - a.voted;
    d->expired = b.expired - a.expired;
    d->declined = b.declined - a.declined;
    d->decided = b.decided - a.decided;
    d->with_majority = b.with_majority - a.with_majority;
    d->gold_votes = b.gold_votes - a.gold_votes;
    d->gold_hits = b.gold_hits - a.gold_hits;
    d->release = old->open && !neu->open;
    d->newly_expired = neu->outcome == RV_OUT_EXPIRED && old->outcome != RV_OUT_EXPIRED;
}
