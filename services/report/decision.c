/* Decision rule; see decision.h. */
#include "decision.h"

#include <string.h>

const char *rp_verdict_name(rp_verdict v)
{
    switch (v) {
    case RP_VERDICT_VIOLATION: return "violation";
    case RP_VERDICT_NO_VIOLATION: return "no_violation";
    case RP_VERDICT_NONE: break;
    }
    return NULL;
}

rp_verdict rp_verdict_parse(const char *s)
{
    if (s && strcmp(s, "violation") == 0)
        return RP_VERDICT_VIOLATION;
    if (s && strcmp(s, "no_violation") == 0)
        return RP_VERDICT_NO_VIOLATION;
    return RP_VERDICT_NONE;
}

rp_verdict rp_decide_by_panel(int violation, int no_violation, int votes_to_decide)
{
    int v = violation >= votes_to_decide, nv = no_violation >= votes_to_decide;
    if (votes_to_decide < 1 || v == nv)
        return RP_VERDICT_NONE;
    return v ? RP_VERDICT_VIOLATION : RP_VERDICT_NO_VIOLATION;
}

rp_deadline_outcome rp_decide_at_deadline(int escalate, int violation, int no_violation, rp_verdict *out)
{
    *out = RP_VERDICT_NONE;
    if (escalate || violation == no_violation)
        return RP_DEADLINE_ESCALATED;
    *out = violation > no_violation ? RP_VERDICT_VIOLATION : RP_VERDICT_NO_VIOLATION;
    return RP_DEADLINE_DECIDED;
}

int rp_seats_needed(int panel_size, int open_or_voted, int pending)
{
    int n = panel_size - open_or_voted - pending;
    return n > 0 ? n : 0;
}

int rp_round_allowed(int next_round, int max_substitute_rounds)
{
    return next_round >= 1 && next_round - 1 <= max_substitute_rounds;
}

int rp_with_majority(rp_verdict decision, rp_verdict final_verdict)
{
    return decision != RP_VERDICT_NONE && decision == final_verdict;
}

long rp_callback_backoff_s(int attempts, long cap_s)
{
    long d = 1;
    for (int i = 1; i < attempts && d < cap_s; i++)
        d *= 2;
    return d < cap_s ? d : cap_s;
}
