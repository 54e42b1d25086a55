/* Case queries and the case actions of upstream clients, ops and parties:
 * cancel, resolve, appeal. See store.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "store_lifecycle.h"
#include "sg/log.h"
#include "store.h"
#include "store_notify.h"
#include "store_util.h"


/* Ballot decisions and the tally stay hidden while the case is open. */
#define CASE_JSON                                                                                                 \
    "json_build_object('case_id', c.id, 'report_type', c.report_type, 'target_id', c.target_id, "                \
    "'target_owner_id', c.target_owner_id, 'status', c.status, 'verdict', c.verdict, 'decided_by', c.decided_by, " \
    "'rule_version', c.rule_version, 'panel_size', c.panel_size, 'votes_to_decide', c.votes_to_decide, "          \
    "'round', c.round, 'appeal_of', c.appeal_of, "                                                                \
    "'appeal_case_id', (SELECT a.id FROM cases a WHERE a.appeal_of = c.id), "                                    \
    "'opened_at', " SG_SQL_TS("c.opened_at") ", 'deadline', " SG_SQL_TS("c.deadline") ", "                              \
    "'decided_at', " SG_SQL_TS("c.decided_at") ", 'cancel_reason', c.cancel_reason, "                                \
    "'resolve_note', c.resolve_note, "                                                                            \
    "'final', c.finalized_at IS NOT NULL, 'finalized_at', " SG_SQL_TS("c.finalized_at") ", "                      \
    "'finalized_by', c.finalized_by, 'audit', c.audit, 'expected_verdict', c.expected_verdict, "                \
    "'report_ids', (SELECT coalesce(json_agg(p.id ORDER BY p.seq), '[]'::json) FROM reports p "                   \
    "   WHERE p.case_id = coalesce(c.appeal_of, c.id)), "                                                         \
    "'ballots', (SELECT coalesce(json_agg(json_build_object('ballot_id', b.id, 'reviewer_id', b.reviewer_id, "    \
    "   'status', b.status, 'round', b.round, 'deadline', " SG_SQL_TS("b.deadline") ", "                             \
    "   'decision', CASE WHEN c.status IN ('assigning', 'voting') THEN NULL ELSE b.decision END) "               \
    "   ORDER BY b.seq), '[]'::json) FROM ballots b WHERE b.case_id = c.id), "                                    \
    "'tally', CASE WHEN c.status = 'decided' THEN json_build_object('violation', c.tally_violation, "            \
    "   'no_violation', c.tally_no_violation) END)::text"

/* The upstream client's view ($2 = the client): no juror identity, not
 * even a ballot id; its own report_ids only. */
#define CASE_CLIENT_JSON                                                                                          \
    "json_build_object('case_id', c.id, 'report_type', c.report_type, 'target_id', c.target_id, "                \
    "'target_owner_id', c.target_owner_id, 'status', c.status, 'verdict', c.verdict, 'decided_by', c.decided_by, " \
    "'final', " RP_SQL_CASE_FINAL ", 'rule_version', c.rule_version, 'panel_size', c.panel_size, "               \
    "'votes_to_decide', c.votes_to_decide, 'round', c.round, 'appeal_of', c.appeal_of, "                        \
    "'appeal_case_id', (SELECT a.id FROM cases a WHERE a.appeal_of = c.id), "                                    \
    "'opened_at', " SG_SQL_TS("c.opened_at") ", 'deadline', " SG_SQL_TS("c.deadline") ", "                          \
    "'decided_at', " SG_SQL_TS("c.decided_at") ", 'appeal_deadline', " RP_SQL_APPEAL_DEADLINE ", "                  \
    "'cancel_reason', c.cancel_reason, "                                                                          \
    "'report_ids', (SELECT coalesce(json_agg(p.id ORDER BY p.seq), '[]'::json) FROM reports p "                   \
    "   WHERE p.case_id IN (c.id, c.appeal_of) AND p.source = $2), "                                              \
    "'ballots', (SELECT coalesce(json_agg(json_build_object('round', b.round, 'status', b.status, "               \
    "   'deadline', " SG_SQL_TS("b.deadline") ") ORDER BY b.seq), '[]'::json) FROM ballots b "                     \
    "   WHERE b.case_id = c.id), "                                                                                \
    "'tally', CASE WHEN c.status = 'decided' THEN json_build_object('violation', c.tally_violation, "            \
    "   'no_violation', c.tally_no_violation) END)::text"

/* 1 when client filed a report of case c (or of the case c appeals): its
 * tenancy. An audit case is no client's (its report's source is no client
 * name either). */
#define CASE_OF_CLIENT                                                                                            \
    "NOT c.audit AND EXISTS (SELECT 1 FROM reports p WHERE p.case_id IN (c.id, c.appeal_of) AND p.source = $2)"

#define CASE_SUMMARY_JSON                                                                                         \
    "json_build_object('case_id', c.id, 'report_type', c.report_type, 'target_id', c.target_id, "                \
    "'target_owner_id', c.target_owner_id, 'status', c.status, 'verdict', c.verdict, 'decided_by', c.decided_by, " \
    "'rule_version', c.rule_version, 'appeal_of', c.appeal_of, 'opened_at', " SG_SQL_TS("c.opened_at") ", "          \
    "'deadline', " SG_SQL_TS("c.deadline") ", 'decided_at', " SG_SQL_TS("c.decided_at") ", "                      \
    "'final', c.finalized_at IS NOT NULL, 'audit', c.audit)::text"

int rp_store_case_get(sg_pg_pool *p, const char *case_id, json_t **out)
{
    return rp_store_read(p, "SELECT " CASE_JSON " FROM cases c WHERE c.id = $1", 1, SG_P(case_id), 0, out);
}

int rp_store_case_get_client(sg_pg_pool *p, const char *case_id, const char *client, json_t **out)
{
    return rp_store_read(p,
                         "SELECT " CASE_CLIENT_JSON " FROM cases c JOIN voting_rules r ON r.report_type = c.report_type "
                         "AND r.version = c.rule_version WHERE c.id = $1 AND " CASE_OF_CLIENT,
                         2, SG_P(case_id, client), 0, out);
}

int rp_store_cases_list(sg_pg_pool *p, const char *status, const char *report_type, int limit, long long cursor,
                        json_t **out)
{
    char b1[24], b2[24];
    return rp_store_read(p,
                      "SELECT " CASE_SUMMARY_JSON ", c.seq FROM cases c "
                      "WHERE ($1::text IS NULL OR c.status = $1) AND ($2::text IS NULL OR c.report_type = $2) "
                      "AND ($3::bigint = 0 OR c.seq < $3::bigint) ORDER BY c.seq DESC LIMIT $4::int + 1",
                      4, SG_P(status, report_type, sg_pg_int(b1, cursor), sg_pg_int(b2, limit)), limit, out);
}

int rp_store_case_events(sg_pg_pool *p, const char *case_id, int limit, long long cursor, json_t **out)
{
    char b1[24], b2[24];
    json_t *exists = NULL;
    int rc = rp_store_read(p, "SELECT 'true' FROM cases WHERE id = $1", 1, SG_P(case_id), 0, &exists);
    json_decref(exists);
    if (rc != SG_OK)
        return rc;
    return rp_store_read(p,
                      "SELECT json_build_object('event_id', e.id, 'kind', e.kind, 'at', " SG_SQL_TS("e.at") ", "
                      "'actor', e.actor, 'data', e.data)::text, e.id FROM case_events e "
                      "WHERE e.case_id = $1 AND e.id > $2::bigint ORDER BY e.id LIMIT $3::int + 1",
                      3, SG_P(case_id, sg_pg_int(b1, cursor), sg_pg_int(b2, limit)), limit, out);
}

/* ---- cancel ---- */

typedef struct cancel_ctx {
    const char *case_id, *client, *reason, *actor, *tp;
    rp_detail *d;
} cancel_ctx;

static int cancel_tx(sg_pg *c, void *arg)
{
    cancel_ctx *x = arg;
    rp_case_row r;
    int rc = rp_case_lock(c, x->case_id, 0, &r);
    if (rc > 0)
        return RP_NOT_FOUND;
    if (rc != SG_OK)
        return rc;
    if (x->client) {
        PGresult *res = sg_pg_rows(c, &rc,
                                   "SELECT 1 FROM cases c WHERE c.id = $1 AND " CASE_OF_CLIENT, 2,
                                   SG_P(r.id, x->client));
        if (!res)
            return rc;
        int mine = PQntuples(res) == 1;
        PQclear(res);
        if (!mine)
            return RP_NOT_FOUND; /* another tenant's case does not exist for this client */
    }
    if (!rp_case_is_open(&r) && r.status != RP_CASE_ESCALATED) {
        snprintf(x->d->text, sizeof x->d->text, "case is %s", rp_case_status_name(r.status));
        return RP_CONFLICT;
    }
    return rp_case_cancel(c, &r, x->reason, x->actor, x->tp);
}

int rp_store_case_cancel(sg_pg_pool *p, const char *case_id, const char *client, const char *reason,
                         const char *actor, const char *tp, rp_detail *d)
{
    cancel_ctx x = {case_id, client, reason, actor, tp, d};
    return sg_pg_tx(p, SG_TX_READ_COMMITTED, cancel_tx, &x);
}

/* ---- resolve ---- */

typedef struct resolve_ctx {
    const char *case_id, *note, *actor, *tp;
    rp_verdict v;
    rp_detail *d;
} resolve_ctx;

static int resolve_tx(sg_pg *c, void *arg)
{
    resolve_ctx *x = arg;
    rp_case_row r;
    int rc = rp_case_lock(c, x->case_id, 0, &r);
    if (rc > 0)
        return RP_NOT_FOUND;
    if (rc != SG_OK)
        return rc;
    if (r.status != RP_CASE_ESCALATED) {
        snprintf(x->d->text, sizeof x->d->text, "only escalated cases can be resolved; case is %s",
                 rp_case_status_name(r.status));
        return RP_CONFLICT;
    }
    return rp_case_resolve(c, &r, x->v, x->note, x->actor, x->tp);
}

int rp_store_case_resolve(sg_pg_pool *p, const char *case_id, rp_verdict v, const char *note, const char *actor,
                          const char *tp, rp_detail *d)
{
    resolve_ctx x = {case_id, note, actor, tp, v, d};
    return sg_pg_tx(p, SG_TX_READ_COMMITTED, resolve_tx, &x);
}

/* ---- appeal ---- */

typedef struct appeal_ctx {
    const char *case_id, *user, *reason, *tp;
    char *new_id;
    rp_detail *d;
} appeal_ctx;

static int appeal_tx(sg_pg *c, void *arg)
{
    appeal_ctx *x = arg;
    rp_case_row r, a;
    PGresult *res;
    int rc = rp_case_lock(c, x->case_id, 0, &r), party, busy;

    x->new_id[0] = '\0';
    if (rc > 0)
        return RP_NOT_FOUND;
    if (rc != SG_OK)
        return rc;
    res = sg_pg_rows(c, &rc, "SELECT EXISTS (SELECT 1 FROM reports WHERE case_id = $1 AND reporter_id = $2)::int", 2,
                 SG_P(r.appeal_of[0] ? r.appeal_of : r.id, x->user));
    if (!res)
        return rc;
    party = strcmp(r.owner, x->user) == 0 || atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    if (!party) {
        snprintf(x->d->text, sizeof x->d->text, "only the content owner or a reporter may appeal");
        return RP_FORBIDDEN;
    }
    if (r.appeal_of[0]) {
        snprintf(x->d->text, sizeof x->d->text, "the verdict of an appeal is final");
        return RP_CONFLICT;
    }
    if (r.status != RP_CASE_DECIDED) {
        snprintf(x->d->text, sizeof x->d->text, "only decided cases can be appealed; case is %s",
                 rp_case_status_name(r.status));
        return RP_CONFLICT;
    }
    if (r.has_appeal) {
        snprintf(x->d->text, sizeof x->d->text, "the case was already appealed");
        return RP_CONFLICT;
    }
    /* An audit case is final at its decision, so its window is closed as
     * for any final case: its "owner" hears what a real owner would. */
    if (!r.in_appeal_window || r.audit) {
        snprintf(x->d->text, sizeof x->d->text, "the appeal window has closed");
        return RP_CONFLICT;
    }
    /* One case per target: a newer case of the target (opened after the
     * re-report cooldown) is judging it now. */
    res = sg_pg_rows(c, &rc,
                     "SELECT EXISTS (SELECT 1 FROM cases WHERE report_type = $1 AND target_id = $2 "
                     "AND status IN ('assigning', 'voting', 'escalated') AND NOT audit)::int",
                     2, SG_P(r.report_type, r.target_id));
    if (!res)
        return rc;
    busy = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    if (busy) {
        snprintf(x->d->text, sizeof x->d->text, "a newer case of this target is open");
        return RP_CONFLICT;
    }
    /* has_appeal was read under the statement snapshot taken before our lock
     * wait, so a concurrent appeal that committed meanwhile is only seen by
     * cases_one_appeal: its 23505 is the "already appealed" 409. */
    res = sg_pg_query_q(c, "23505",
                        "INSERT INTO cases (report_type, target_id, target_owner_id, rule_version, appeal_of, "
                        "panel_size, votes_to_decide, deadline, traceparent) SELECT c.report_type, c.target_id, "
                        "c.target_owner_id, c.rule_version, c.id, r.appeal_panel_size, r.appeal_votes_to_decide, "
                        "now() + r.case_deadline_s * interval '1 second', coalesce($2, c.traceparent) "
                        "FROM cases c JOIN voting_rules r ON r.report_type = c.report_type AND r.version = c.rule_version "
                        "WHERE c.id = $1 RETURNING id",
                        2, SG_P(r.id, x->tp));
    if (!sg_pg_ok(res) || PQntuples(res) != 1) {
        rc = sg_pg_ok(res) ? SG_ERR_DB : strcmp(sg_pg_sqlstate(c), "23505") == 0 ? RP_CONFLICT : sg_pg_err(c);
        if (rc == RP_CONFLICT)
            snprintf(x->d->text, sizeof x->d->text, "the case was already appealed");
        PQclear(res);
        return rc;
    }
    snprintf(x->new_id, 37, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if ((rc = rp_audit_add(c, r.id, "appealed", x->user,
                     json_pack("{s:s, s:o}", "appeal_case_id", x->new_id, "reason",
                               x->reason ? json_string(x->reason) : json_null()))) != SG_OK ||
        (rc = rp_audit_add(c, x->new_id, "opened", x->user,
                     json_pack("{s:s, s:i}", "appeal_of", r.id, "rule_version", r.rule_version))) != SG_OK ||
        (rc = rp_case_lock(c, x->new_id, 0, &a)) != SG_OK)
        return rc > 0 ? SG_ERR_DB : rc;
    rc = rp_case_request_panel(c, &a, 1, a.panel_size, "panel_requested", x->tp);
    if (rc == SG_OK)
        rc = rp_notify_appeal_opened(c, x->new_id, r.id, r.owner, rp_case_tp(&a, x->tp));
    if (rc == SG_OK)
        sg_info("case %s appealed by %s: appeal case %s", r.id, x->user, x->new_id);
    return rc;
}

int rp_store_case_appeal(sg_pg_pool *p, const char *case_id, const char *user, const char *reason, const char *tp,
                         char new_case_id[37], rp_detail *d)
{
    appeal_ctx x = {case_id, user, reason, tp, new_case_id, d};
    return sg_pg_tx(p, SG_TX_READ_COMMITTED, appeal_tx, &x);
}

/* ---- metrics ---- */

static int counts_tx(sg_pg *c, void *arg)
{
    long *counts = arg;
    int rc;
    PGresult *res = sg_pg_rows(c, &rc, "SELECT status, count(*) FROM cases GROUP BY status", 0, NULL);
    if (!res)
        return rc;
    for (int i = 0; i < PQntuples(res); i++) {
        rp_case_status s;
        if (rp_case_status_parse(PQgetvalue(res, i, 0), &s) == 0)
            counts[s] = atol(PQgetvalue(res, i, 1));
    }
    PQclear(res);
    return SG_OK;
}

int rp_store_case_counts(sg_pg_pool *p, long counts[RP_CASE_NSTATUS])
{
    memset(counts, 0, sizeof(long) * RP_CASE_NSTATUS);
    return sg_pg_tx(p, SG_TX_READ_COMMITTED, counts_tx, counts) == SG_OK ? 0 : -1;
}
