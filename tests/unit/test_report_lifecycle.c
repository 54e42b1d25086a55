/* Case and ballot lifecycles: names, and the transition tables over every
 * pair of states. */
#include <criterion/criterion.h>
#include <string.h>
#include "../../services/report/lifecycle.h"

/* The legal transitions, written out independently of lifecycle.c's table. */
static int case_expected(rp_case_status from, rp_case_status to)
{
    switch (from) {
    case RP_CASE_ASSIGNING:
        return to == RP_CASE_VOTING || to == RP_CASE_DECIDED || to == RP_CASE_ESCALATED || to == RP_CASE_CANCELLED;
    case RP_CASE_VOTING:
        return to == RP_CASE_DECIDED || to == RP_CASE_ESCALATED || to == RP_CASE_CANCELLED;
    case RP_CASE_ESCALATED:
        return to == RP_CASE_DECIDED || to == RP_CASE_CANCELLED;
    case RP_CASE_DECIDED:
    case RP_CASE_CANCELLED:
        return 0;
    }
    return 0;
}

static int ballot_expected(rp_ballot_status from, rp_ballot_status to)
{
    return from == RP_BALLOT_OPEN && to != RP_BALLOT_OPEN;
}

Test(lifecycle, case_every_pair)
{
    int legal = 0;
    for (int f = 0; f < RP_CASE_NSTATUS; f++)
        for (int t = 0; t < RP_CASE_NSTATUS; t++) {
            int ok = rp_case_transition_ok((rp_case_status)f, (rp_case_status)t);
            cr_expect_eq(ok, case_expected((rp_case_status)f, (rp_case_status)t), "case %s -> %s: %d",
                         rp_case_status_name((rp_case_status)f), rp_case_status_name((rp_case_status)t), ok);
            legal += ok;
        }
    cr_expect_eq(legal, 9);
}

Test(lifecycle, ballot_every_pair)
{
    int legal = 0;
    for (int f = 0; f < RP_BALLOT_NSTATUS; f++)
        for (int t = 0; t < RP_BALLOT_NSTATUS; t++) {
            int ok = rp_ballot_transition_ok((rp_ballot_status)f, (rp_ballot_status)t);
            cr_expect_eq(ok, ballot_expected((rp_ballot_status)f, (rp_ballot_status)t), "ballot %s -> %s: %d",
                         rp_ballot_status_name((rp_ballot_status)f), rp_ballot_status_name((rp_ballot_status)t), ok);
            legal += ok;
        }
    cr_expect_eq(legal, 4);
}

Test(lifecycle, out_of_range_is_refused)
{
    cr_expect_eq(rp_case_transition_ok((rp_case_status)-1, RP_CASE_DECIDED), 0);
    cr_expect_eq(rp_case_transition_ok(RP_CASE_VOTING, (rp_case_status)RP_CASE_NSTATUS), 0);
    cr_expect_eq(rp_ballot_transition_ok((rp_ballot_status)RP_BALLOT_NSTATUS, RP_BALLOT_VOTED), 0);
    cr_expect_eq(rp_ballot_transition_ok(RP_BALLOT_OPEN, (rp_ballot_status)-1), 0);
    cr_expect_null(rp_case_status_name((rp_case_status)RP_CASE_NSTATUS));
    cr_expect_null(rp_ballot_status_name((rp_ballot_status)-1));
}

Test(lifecycle, case_names_round_trip)
{
    const char *names[] = {"assigning", "voting", "decided", "escalated", "cancelled"};
    for (int i = 0; i < RP_CASE_NSTATUS; i++) {
        rp_case_status s;
        cr_expect_str_eq(rp_case_status_name((rp_case_status)i), names[i]);
        cr_expect_eq(rp_case_status_parse(names[i], &s), 0);
        cr_expect_eq((int)s, i);
    }
    rp_case_status s = RP_CASE_VOTING;
    cr_expect_eq(rp_case_status_parse("open", &s), -1);
    cr_expect_eq(rp_case_status_parse("Voting", &s), -1);
    cr_expect_eq(rp_case_status_parse("", &s), -1);
    cr_expect_eq(rp_case_status_parse(NULL, &s), -1);
    cr_expect_eq(s, RP_CASE_VOTING, "untouched on failure");
}

Test(lifecycle, ballot_names_round_trip)
{
    const char *names[] = {"open", "voted", "expired", "declined", "cancelled"};
    for (int i = 0; i < RP_BALLOT_NSTATUS; i++) {
        rp_ballot_status s;
        cr_expect_str_eq(rp_ballot_status_name((rp_ballot_status)i), names[i]);
        cr_expect_eq(rp_ballot_status_parse(names[i], &s), 0);
        cr_expect_eq((int)s, i);
    }
    rp_ballot_status s;
    cr_expect_eq(rp_ballot_status_parse("closed", &s), -1);
    cr_expect_eq(rp_ballot_status_parse(NULL, &s), -1);
}

Test(lifecycle, open_states)
{
    for (int i = 0; i < RP_CASE_NSTATUS; i++)
        cr_expect_eq(rp_case_status_open((rp_case_status)i), i == RP_CASE_ASSIGNING || i == RP_CASE_VOTING);
}
