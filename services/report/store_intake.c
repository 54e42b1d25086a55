/* Report intake: idempotency, joining or opening the case of the reported
 * item, the first panel request. See store.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "store_lifecycle.h"
#include "sg/log.h"
#include "store.h"
#include "store_util.h"

/* Reads the stored request under (client, key): 1 found (replay or
 * conflict decided into io), 0 absent, < 0 error. */
static int idem_read(sg_pg *c, rp_intake *io, int *rc)
{
    PGresult *res = sg_pg_rows(c, rc,
                           "SELECT body_sha256, response_body FROM idempotency_keys WHERE client = $1 AND key = $2", 2,
                           SG_P(io->client, io->idempotency_key));
    int found = 0;
    if (!res)
        return -1;
    if (PQntuples(res) > 0) {
        found = 1;
        if (strcmp(PQgetvalue(res, 0, 0), io->body_sha256) != 0) {
            snprintf(io->detail.text, sizeof io->detail.text,
                     "Idempotency-Key was already used with a different request body");
            *rc = RP_CONFLICT;
        } else if (PQgetisnull(res, 0, 1)) {
            /* Only possible if a finished row lost its response: treat as in flight. */
            snprintf(io->detail.text, sizeof io->detail.text, "a request with this Idempotency-Key is in progress");
            *rc = RP_CONFLICT;
        } else {
            io->replay = 1;
            io->response = strdup(PQgetvalue(res, 0, 1));
            *rc = io->response ? SG_OK : SG_ERR_DB;
        }
    }
    PQclear(res);
    return found;
}

static void reset(rp_intake *io)
{
    free(io->response);
    io->response = NULL;
    io->replay = 0;
    io->detail.text[0] = '\0';
}

static int lookup_tx(sg_pg *c, void *arg)
{
    rp_intake *io = arg;
    int rc = SG_OK;
    reset(io);
    idem_read(c, io, &rc);
    return rc;
}

int rp_store_idempotency_lookup(sg_pg_pool *p, rp_intake *io)
{
    if (!io->idempotency_key)
        return SG_OK;
    return sg_pg_tx(p, SG_TX_READ_COMMITTED, lookup_tx, io);
}

/* The case a report of the target joins, locked: its live case (open,
 * escalated, or the appeal running on its decided case; the unique index
 * cases_one_open_per_target allows one), else its last decided case while
 * inside that case's re_report_cooldown_s (the last decision counts). Columns: id, appeal_of ('' when
 * none). A live case that closes while we wait for its lock no longer
 * matches (no row: look again); one that got decided meanwhile is joined
 * as decided only inside its cooldown (clock_timestamp(): the wait may
 * have outlasted it; with a cooldown of 0 the report then opens a new
 * case, as it would have a moment later). Audit cases are the platform's own and take no report (their
 * target_id is a key of their own already, intake.h RP_AUDIT_KEY_PREFIX). */
static const char join_sql[] =
    "SELECT id, coalesce(appeal_of::text, '') FROM cases WHERE id = (SELECT x.id FROM ("
    "  (SELECT id, 0 AS k FROM cases WHERE report_type = $1 AND target_id = $2 "
    "     AND status IN ('assigning', 'voting', 'escalated') AND NOT audit LIMIT 1) "
    "  UNION ALL "
    "  (SELECT d.id, 1 FROM (SELECT id, decided_at, report_type, rule_version FROM cases "
    "     WHERE report_type = $1 AND target_id = $2 AND status = 'decided' AND NOT audit "
    "     ORDER BY decided_at DESC LIMIT 1) d "
    "   JOIN voting_rules v ON v.report_type = d.report_type AND v.version = d.rule_version "
    "   WHERE d.decided_at + v.re_report_cooldown_s * interval '1 second' >= clock_timestamp())) x "
    "   ORDER BY x.k LIMIT 1) "
    "AND (status IN ('assigning', 'voting', 'escalated') OR (status = 'decided' AND decided_at + "
    "  (SELECT v.re_report_cooldown_s FROM voting_rules v WHERE v.report_type = cases.report_type "
    "   AND v.version = cases.rule_version) * interval '1 second' >= clock_timestamp())) FOR UPDATE";

/* Finds the case that judges the report (joined, see join_sql) or opens
 * one. A case it opens counts this report in at its INSERT, so admit_report
 * is for joined cases only: a rule takes at least one report per case, and
 * the owner is the report's. Sets judge_id (the case that judges it and
 * that the response names) and file_id (the case the report is filed on:
 * the appealed case when the judge is an appeal, whose reports an appeal
 * judges) and *opened. */
static int open_or_join(sg_pg *c, const rp_intake *io, const char *rule_version, char judge_id[37],
                        char file_id[37], int *opened)
{
    const rp_report_input *in = io->in;
    int rc = SG_OK;
    /* Two first reports may race: the loser's INSERT waits for the winner and
     * then finds its case; a case closing meanwhile sends us round again. */
    for (int attempt = 0; attempt < 5; attempt++) {
        PGresult *res = sg_pg_rows(c, &rc, join_sql, 2, SG_P(in->report_type, in->target_id));
        if (!res)
            return rc;
        if (PQntuples(res) == 1) {
            snprintf(judge_id, 37, "%s", PQgetvalue(res, 0, 0));
            snprintf(file_id, 37, "%s", PQgetvalue(res, 0, 1)[0] ? PQgetvalue(res, 0, 1) : judge_id);
            *opened = 0;
            PQclear(res);
            return SG_OK;
        }
        PQclear(res);
        res = sg_pg_rows(
            c, &rc,
            "INSERT INTO cases (report_type, target_id, target_owner_id, rule_version, panel_size, votes_to_decide, "
            "deadline, traceparent, report_count) SELECT r.report_type, $2, $3, r.version, r.panel_size, "
            "r.votes_to_decide, now() + r.case_deadline_s * interval '1 second', $5, 1 FROM voting_rules r "
            "WHERE r.report_type = $1 AND r.version = $4::int "
            "ON CONFLICT (report_type, target_id) WHERE status IN ('assigning', 'voting', 'escalated') "
            "DO NOTHING RETURNING id",
            5, SG_P(in->report_type, in->target_id, in->target_owner_id, rule_version, io->traceparent));
        if (!res)
            return rc;
        if (PQntuples(res) == 1) {
            snprintf(judge_id, 37, "%s", PQgetvalue(res, 0, 0));
            snprintf(file_id, 37, "%s", judge_id);
            *opened = 1;
            PQclear(res);
            return SG_OK;
        }
        PQclear(res);
    }
    return SG_ERR_RETRY;
}

/* The intake limits of the case the report goes to (API.md "Reports"): it
 * must name the case's owner (RP_UNPROCESSABLE otherwise), and the case
 * takes at most its rule's max_reports_per_case reports (RP_CONFLICT
 * beyond). Counts the report in, under the case row lock, so concurrent
 * reports cannot overshoot; a refusal rolls the count back with the rest. */
static int admit_report(sg_pg *c, const rp_intake *io, const char *case_id, rp_detail *d)
{
    int rc, count, max;
    PGresult *res = sg_pg_rows(c, &rc,
                               "UPDATE cases c SET report_count = c.report_count + 1 FROM voting_rules r "
                               "WHERE c.id = $1 AND r.report_type = c.report_type AND r.version = c.rule_version "
                               "RETURNING c.target_owner_id, c.report_count, r.max_reports_per_case",
                               1, SG_P(case_id));
    if (!res)
        return rc;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return SG_ERR_DB;
    }
    count = atoi(PQgetvalue(res, 0, 1));
    max = atoi(PQgetvalue(res, 0, 2));
    if (strcmp(PQgetvalue(res, 0, 0), io->in->target_owner_id) != 0) {
        snprintf(d->text, sizeof d->text, "target_owner_id differs from that of case %s for this target", case_id);
        rc = RP_UNPROCESSABLE;
    } else if (count > max) {
        snprintf(d->text, sizeof d->text, "case %s holds max_reports_per_case (%d) reports already", case_id, max);
        rc = RP_CONFLICT;
    }
    PQclear(res);
    return rc;
}

/* A reporter who sits on the case's panel cannot judge it. An open ballot
 * is cancelled and the seat refilled; one who has voted already gave the
 * case their judgement, so the report is refused (RP_CONFLICT, the vote
 * stands). The case row is locked, so the ballot cannot change meanwhile. */
static int screen_reporter_ballot(sg_pg *c, const char *case_id, const char *reporter, const char *tp,
                                  rp_detail *d)
{
    rp_case_row r;
    char bid[37];
    int rc;
    PGresult *res = sg_pg_rows(c, &rc,
                               "SELECT id, status FROM ballots WHERE case_id = $1 AND reviewer_id = $2 "
                               "AND status IN ('open', 'voted')",
                               2, SG_P(case_id, reporter));
    if (!res)
        return rc;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return SG_OK;
    }
    snprintf(bid, sizeof bid, "%s", PQgetvalue(res, 0, 0));
    rp_ballot_status st = RP_BALLOT_OPEN;
    if (rp_ballot_status_parse(PQgetvalue(res, 0, 1), &st) == 0 && st == RP_BALLOT_VOTED) {
        PQclear(res);
        snprintf(d->text, sizeof d->text, "reporter %s has already voted on case %s as a panelist", reporter,
                 case_id);
        return RP_CONFLICT;
    }
    PQclear(res);
    if ((rc = rp_case_lock(c, case_id, 0, &r)) != SG_OK)
        return rc > 0 ? SG_ERR_DB : rc;
    rc = rp_ballot_close(c, &r, bid, reporter, RP_BALLOT_CANCELLED, NULL, "reviewer reported the case", NULL, tp);
    return rc == SG_OK ? rp_case_refill(c, &r, tp, NULL) : rc;
}

static int create_tx(sg_pg *c, void *arg)
{
    rp_intake *io = arg;
    const rp_report_input *in = io->in;
    char case_id[37], file_id[37], report_id[37], rule_version[24];
    int rc = SG_OK, opened = 0;
    char *evidence = NULL;
    json_t *resp = NULL;
    PGresult *res = NULL;

    reset(io);
    if (io->idempotency_key) {
        res = sg_pg_rows(c, &rc,
                     "INSERT INTO idempotency_keys (client, key, body_sha256) VALUES ($1, $2, $3) "
                     "ON CONFLICT DO NOTHING RETURNING 1",
                     3, SG_P(io->client, io->idempotency_key, io->body_sha256));
        if (!res)
            return rc;
        int inserted = PQntuples(res) == 1;
        PQclear(res);
        res = NULL;
        /* Not inserted: a twin request committed first (its INSERT made ours wait). */
        if (!inserted)
            return idem_read(c, io, &rc) < 0 ? rc : rc != SG_OK ? rc : io->replay ? SG_OK : SG_ERR_RETRY;
    }

    res = sg_pg_rows(c, &rc, "SELECT version FROM voting_rules WHERE report_type = $1 ORDER BY version DESC LIMIT 1", 1,
                 SG_P(in->report_type));
    if (!res)
        return rc;
    if (PQntuples(res) == 0) {
        snprintf(io->detail.text, sizeof io->detail.text, "no voting rule for report_type '%s'", in->report_type);
        rc = RP_UNPROCESSABLE;
        goto cleanup;
    }
    snprintf(rule_version, sizeof rule_version, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    res = NULL;

    if ((rc = open_or_join(c, io, rule_version, case_id, file_id, &opened)) != SG_OK)
        goto cleanup;
    if (!opened && (rc = admit_report(c, io, case_id, &io->detail)) != SG_OK)
        goto cleanup;

    if (in->evidence && !(evidence = json_dumps(in->evidence, JSON_COMPACT))) {
        rc = SG_ERR_DB;
        goto cleanup;
    }
    res = sg_pg_rows(c, &rc,
                 "INSERT INTO reports (case_id, source, report_type, target_id, target_owner_id, reporter_id, reason, "
                 "description, evidence, callback_url) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10) "
                 "ON CONFLICT (case_id, reporter_id) DO NOTHING RETURNING id",
                 10,
                 SG_P(file_id, io->client, in->report_type, in->target_id, in->target_owner_id, in->reporter_id,
                      in->reason, in->description, evidence, in->callback_url));
    if (!res)
        goto cleanup;
    if (PQntuples(res) == 0) {
        snprintf(io->detail.text, sizeof io->detail.text, "reporter %s already reported case %s", in->reporter_id,
                 case_id);
        rc = RP_CONFLICT;
        goto cleanup;
    }
    snprintf(report_id, sizeof report_id, "%s", PQgetvalue(res, 0, 0));

    rp_case_row r;
    if (opened) {
        rc = rp_audit_add(c, case_id, "opened", io->client,
                    json_pack("{s:s, s:s, s:s, s:i}", "report_id", report_id, "reporter_id", in->reporter_id,
                              "source", io->client, "rule_version", atoi(rule_version)));
        if (rc == SG_OK && (rc = rp_case_read_new(c, case_id, &r)) > 0)
            rc = SG_ERR_DB;
        if (rc == SG_OK)
            rc = rp_case_request_panel(c, &r, 1, r.panel_size, "panel_requested", io->traceparent);
    } else {
        rc = rp_audit_add(c, case_id, "report_joined", io->client,
                    json_pack("{s:s, s:s, s:s, s:s}", "report_id", report_id, "reporter_id", in->reporter_id, "source",
                              io->client, "filed_on", file_id));
        if (rc == SG_OK)
            rc = screen_reporter_ballot(c, case_id, in->reporter_id, io->traceparent, &io->detail);
        /* Joining an appeal: a juror who voted on the appealed case cannot
         * become one of its reporters either. */
        if (rc == SG_OK && strcmp(file_id, case_id) != 0)
            rc = screen_reporter_ballot(c, file_id, in->reporter_id, io->traceparent, &io->detail);
    }
    if (rc != SG_OK)
        goto cleanup;

    PQclear(res);
    res = NULL;
    /* A case this request opened is as read above (requesting its panel
     * leaves it assigning); a joined one is read again. */
    if (!opened && !(res = sg_pg_rows(c, &rc, "SELECT status FROM cases WHERE id = $1", 1, SG_P(case_id))))
        goto cleanup;
    resp = json_pack("{s:s, s:s, s:s}", "report_id", report_id, "case_id", case_id, "status",
                     opened ? rp_case_status_name(r.status) : PQgetvalue(res, 0, 0));
    io->response = resp ? json_dumps(resp, JSON_COMPACT) : NULL;
    if (!io->response) {
        rc = SG_ERR_DB;
        goto cleanup;
    }
    if (io->idempotency_key)
        rc = sg_pg_exec(c,
                        "UPDATE idempotency_keys SET response_status = 201, response_body = $3 "
                        "WHERE client = $1 AND key = $2",
                        3, SG_P(io->client, io->idempotency_key, io->response));
    if (rc == SG_OK)
        sg_info("report %s by %s filed on case %s%s", report_id, in->reporter_id, case_id, opened ? " (new)" : "");
cleanup:
    PQclear(res);
    json_decref(resp);
    free(evidence);
    return rc;
}

int rp_store_report_create(sg_pg_group *g, rp_intake *io)
{
    /* The case row of (report_type, target_id) is what intakes lock (and
     * wait for): in that order within a group (sg/pg_group.h). Both are
     * short identifiers (intake.c); a truncated key still orders. */
    char key[320];
    snprintf(key, sizeof key, "%s/%s", io->in->report_type, io->in->target_id);
    int rc = sg_pg_group_tx(g, key, create_tx, io);
    if (rc != SG_OK) {
        free(io->response);
        io->response = NULL;
        io->replay = 0;
    }
    return rc;
}

int rp_store_report_get(sg_pg_pool *p, const char *report_id, json_t **out)
{
    /* The verdict shown is the final one: the appeal's once it is decided. */
    return rp_store_read(
        p,
        "SELECT json_build_object('report_id', r.id, 'case_id', r.case_id, 'source', r.source, "
        "'report_type', r.report_type, 'target_id', r.target_id, 'target_owner_id', r.target_owner_id, "
        "'reporter_id', r.reporter_id, 'reason', r.reason, 'description', r.description, 'evidence', r.evidence, "
        "'callback_url', r.callback_url, 'created_at', " SG_SQL_TS("r.created_at") ", "
        "'status', c.status, 'verdict', coalesce(a.verdict, c.verdict), "
        "'decided_by', CASE WHEN a.verdict IS NOT NULL THEN a.decided_by ELSE c.decided_by END, "
        "'case_verdict', c.verdict, 'final', c.finalized_at IS NOT NULL, "
        "'appeal', CASE WHEN a.id IS NOT NULL THEN json_build_object('case_id', a.id, 'status', a.status, "
        "   'verdict', a.verdict, 'decided_by', a.decided_by) END)::text "
        "FROM reports r JOIN cases c ON c.id = r.case_id LEFT JOIN cases a ON a.appeal_of = c.id WHERE r.id = $1",
        1, SG_P(report_id), 0, out);
}
