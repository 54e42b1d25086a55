/* Case and ballot lifecycles; see lifecycle.h. */
#include "lifecycle.h"

#include <string.h>

static const char *const case_names[RP_CASE_NSTATUS] = {"assigning", "voting", "decided", "escalated",
                                                         "cancelled"};
static const char *const ballot_names[RP_BALLOT_NSTATUS] = {"open", "voted", "expired", "declined", "cancelled"};

/* case_next[from][to]: 1 when legal. */
static const unsigned char case_next[RP_CASE_NSTATUS][RP_CASE_NSTATUS] = {
    /*                    assigning voting decided escalated cancelled */
    [RP_CASE_ASSIGNING] = {0, 1, 1, 1, 1},
    [RP_CASE_VOTING] = {0, 0, 1, 1, 1},
    [RP_CASE_DECIDED] = {0, 0, 0, 0, 0},
    [RP_CASE_ESCALATED] = {0, 0, 1, 0, 1},
    [RP_CASE_CANCELLED] = {0, 0, 0, 0, 0},
};

static const unsigned char ballot_next[RP_BALLOT_NSTATUS][RP_BALLOT_NSTATUS] = {
    /*                    open voted expired declined cancelled */
    [RP_BALLOT_OPEN] = {0, 1, 1, 1, 1},
    [RP_BALLOT_VOTED] = {0, 0, 0, 0, 0},
    [RP_BALLOT_EXPIRED] = {0, 0, 0, 0, 0},
    [RP_BALLOT_DECLINED] = {0, 0, 0, 0, 0},
    [RP_BALLOT_CANCELLED] = {0, 0, 0, 0, 0},
};

static int find(const char *const *names, int n, const char *name)
{
    for (int i = 0; name && i < n; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

const char *rp_case_status_name(rp_case_status s)
{
    return (unsigned)s < RP_CASE_NSTATUS ? case_names[s] : NULL;
}

const char *rp_ballot_status_name(rp_ballot_status s)
{
    return (unsigned)s < RP_BALLOT_NSTATUS ? ballot_names[s] : NULL;
}

int rp_case_status_parse(const char *name, rp_case_status *out)
{
    int i = find(case_names, RP_CASE_NSTATUS, name);
    if (i < 0)
        return -1;
    *out = (rp_case_status)i;
    return 0;
}

int rp_ballot_status_parse(const char *name, rp_ballot_status *out)
{
    int i = find(ballot_names, RP_BALLOT_NSTATUS, name);
    if (i < 0)
        return -1;
    *out = (rp_ballot_status)i;
    return 0;
}

int rp_case_transition_ok(rp_case_status from, rp_case_status to)
{
    return (unsigned)from < RP_CASE_NSTATUS && (unsigned)to < RP_CASE_NSTATUS && case_next[from][to];
}

int rp_ballot_transition_ok(rp_ballot_status from, rp_ballot_status to)
{
    return (unsigned)from < RP_BALLOT_NSTATUS && (unsigned)to < RP_BALLOT_NSTATUS && ballot_next[from][to];
}

int rp_case_status_open(rp_case_status s)
{
    return s == RP_CASE_ASSIGNING || s == RP_CASE_VOTING;
}

/* ---- notification delivery ---- */

static const char *const push_names[RP_PUSH_NSTATUS] = {"pending", "sent", "failed", "muted", "capped", "deferred"};

static const unsigned char push_next[RP_PUSH_NSTATUS][RP_PUSH_NSTATUS] = {
    /*                  pending sent failed muted capped deferred */
    [RP_PUSH_PENDING] = {0, 1, 1, 1, 1, 1},
    [RP_PUSH_SENT] = {0, 0, 0, 0, 0, 0},
    [RP_PUSH_FAILED] = {0, 0, 0, 0, 0, 0},
    [RP_PUSH_MUTED] = {0, 0, 0, 0, 0, 0},
    [RP_PUSH_CAPPED] = {0, 0, 0, 0, 0, 0},
    [RP_PUSH_DEFERRED] = {1, 1, 1, 1, 1, 0},
};

const char *rp_push_status_name(rp_push_status s)
{
    return (unsigned)s < RP_PUSH_NSTATUS ? push_names[s] : NULL;
}

int rp_push_status_parse(const char *name, rp_push_status *out)
{
    int i = find(push_names, RP_PUSH_NSTATUS, name);
    if (i < 0)
        return -1;
    *out = (rp_push_status)i;
    return 0;
}

int rp_push_transition_ok(rp_push_status from, rp_push_status to)
{
    return (unsigned)from < RP_PUSH_NSTATUS && (unsigned)to < RP_PUSH_NSTATUS && push_next[from][to];
}
