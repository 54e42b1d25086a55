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

rp_deadline_outcome rp_decide_at_deadline(int escalate, int min_votes, int violation, int no_violation,
                                          rp_verdict *out)
{
    *out = RP_VERDICT_NONE;
    if (min_votes < 1)
        min_votes = 1;
    if (escalate || violation == no_violation || violation < 0 || no_violation < 0 ||
        violation + no_violation < min_votes)
        return RP_DEADLINE_ESCALATED;
    *out = violation > no_violation ? RP_VERDICT_VIOLATION : RP_VERDICT_NO_VIOLATION;
    return RP_DEADLINE_DECIDED;
}

int rp_seats_needed(int panel_size, int open_or_voted, int pending)
{
    int n = panel_size - open_or_voted - pending;
    return n > 0 ? n : 0;
}

int rp_substitute_allowed(int used, int max_substitute_rounds)
{
    return used >= 0 && used < max_substitute_rounds;
}

long rp_shortfall_backoff_s(int retries, long base_s)
{
    long d = base_s < 1 ? 1 : base_s;
    for (int i = 0; i < retries && d < RP_SHORTFALL_MAX_BACKOFF_S; i++)
        d *= 2;
    return d < RP_SHORTFALL_MAX_BACKOFF_S ? d : RP_SHORTFALL_MAX_BACKOFF_S;
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
