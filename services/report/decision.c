/* Decision rule; see decision.h. */
#include "decision.h"

#include <string.h>

const char *verdict_name(verdict v)
{
    switch (v) {
    case VERDICT_VIOLATION: return "violation";
    case VERDICT_NO_VIOLATION: return "no_violation";
    case VERDICT_NONE: break;
    }
    return NULL;
}

verdict verdict_parse(const char *s)
{
    if (s && strcmp(s, "violation") == 0)
        return VERDICT_VIOLATION;
    if (s && strcmp(s, "no_violation") == 0)
        return VERDICT_NO_VIOLATION;
    return VERDICT_NONE;
}

verdict decide_by_panel(int violation, int no_violation, int votes_to_decide)
{
    int v = violation >= votes_to_decide, nv = no_violation >= votes_to_decide;
    if (votes_to_decide < 1 || v == nv)
        return VERDICT_NONE;
    return v ? VERDICT_VIOLATION : VERDICT_NO_VIOLATION;
}

deadline_outcome decide_at_deadline(int escalate, int violation, int no_violation, verdict *out)
{
    *out = VERDICT_NONE;
    if (escalate || violation == no_violation)
        return DEADLINE_ESCALATED;
    *out = violation > no_violation ? VERDICT_VIOLATION : VERDICT_NO_VIOLATION;
    return DEADLINE_DECIDED;
}

int seats_needed(int panel_size, int open_or_voted, int pending)
{
    int n = panel_size - open_or_voted - pending;
    return n > 0 ? n : 0;
}

int round_allowed(int next_round, int max_substitute_rounds)
{
    return next_round >= 1 && next_round - 1 <= max_substitute_rounds;
}

int with_majority(verdict decision, verdict final_verdict)
{
    return decision != VERDICT_NONE && decision == final_verdict;
}

long callback_backoff_s(int attempts, long cap_s)
{
    long d = 1;
    for (int i = 1; i < attempts && d < cap_s; i++)
        d *= 2;
    return d < cap_s ? d : cap_s;
}
