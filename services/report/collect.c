/* The report service's metrics collectors: cases by status (cached), the
 * group commits of intake and votes (live). */
#include <stdio.h>
#include "lifecycle.h"
#include "sg/log.h"
#include "store.h"
#include "svc.h"

void rp_collect(FILE *out, void *svc)
{
    rp_svc *s = svc;
    long counts[RP_CASE_NSTATUS];
    if (rp_store_case_counts(s->app->pg, counts)) {
        sg_warn("metrics: cannot count cases");
        return;
    }
    fprintf(out, "# HELP sg_cases Cases by status.\n# TYPE sg_cases gauge\n");
    for (int i = 0; i < RP_CASE_NSTATUS; i++)
        fprintf(out, "sg_cases{status=\"%s\"} %ld\n", rp_case_status_name((rp_case_status)i), counts[i]);
    rp_push_collect_counts(out, s);
}

void rp_groups_collect_live(FILE *out, void *svc)
{
    rp_svc *s = svc;
    sg_pg_group_stats st, vt;
    sg_pg_group_stats_get(s->intake, &st);
    sg_pg_group_stats_get(s->votes, &vt);
    fprintf(out,
            "# HELP sg_intake_groups_total Intake transactions, each committing one or more reports "
            "(SG_INTAKE_GROUP).\n# TYPE sg_intake_groups_total counter\nsg_intake_groups_total %llu\n"
            "# HELP sg_intake_reports_total Report intakes run in those transactions (reports per "
            "transaction: this / sg_intake_groups_total).\n# TYPE sg_intake_reports_total counter\n"
            "sg_intake_reports_total %llu\n"
            "# HELP sg_intake_alone_total Report intakes run again in a transaction of their own (a retry, "
            "or a group that could not commit).\n# TYPE sg_intake_alone_total counter\nsg_intake_alone_total %llu\n",
            st.groups, st.items, st.alone);
    fprintf(out,
            "# HELP sg_vote_groups_total Vote transactions, each committing one or more votes "
            "(SG_VOTE_GROUP).\n# TYPE sg_vote_groups_total counter\nsg_vote_groups_total %llu\n"
            "# HELP sg_vote_votes_total Votes run in those transactions (votes per transaction: this / "
            "sg_vote_groups_total).\n# TYPE sg_vote_votes_total counter\nsg_vote_votes_total %llu\n"
            "# HELP sg_vote_alone_total Votes run again in a transaction of their own (a retry, or a group "
            "that could not commit).\n# TYPE sg_vote_alone_total counter\nsg_vote_alone_total %llu\n",
            vt.groups, vt.items, vt.alone);
}
