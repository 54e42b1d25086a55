/* sg.panel.assigned: the reviewer service's answer to a panel request
 * becomes one ballot per reviewer. See store.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "store_lifecycle.h"
#include "sg/log.h"
#include "store.h"
#include "store_notify.h"
#include "store_util.h"

/* Screens the offered reviewers, in the offered order, in one statement:
 * column 1 is 1 when the reviewer may not judge the case (owns the content,
 * reported it, or reported or sat on the panel of the appealed case), column
 * 2 is 1 when they hold a ballot on it already. NULL on error (*rc set). */
static PGresult *screen(sg_pg *c, const rp_case_row *r, const char *ids, int *rc)
{
    return sg_pg_rows(c, rc,
                      "SELECT x.rid, (x.rid = $3 OR EXISTS (SELECT 1 FROM reports p"
                      "   WHERE p.case_id = coalesce($2::uuid, $1::uuid) AND p.reporter_id = x.rid)"
                      " OR EXISTS (SELECT 1 FROM ballots b WHERE b.case_id = $2::uuid AND b.reviewer_id = x.rid))::int,"
                      " EXISTS (SELECT 1 FROM ballots b WHERE b.case_id = $1::uuid AND b.reviewer_id = x.rid)::int"
                      " FROM unnest($4::text[]) WITH ORDINALITY AS x(rid, o) ORDER BY x.o",
                      4, SG_P(r->id, r->appeal_of[0] ? r->appeal_of : NULL, r->owner, ids));
}

/* Tells the reviewer service that reviewers it assigned got no ballot, so
 * they do not count against their open-ballot limits. */
static int release_all(sg_pg *c, const rp_case_row *r, const json_t *ids, const char *tp)
{
    size_t i;
    const json_t *id;
    int rc = SG_OK;
    json_array_foreach(ids, i, id) {
        if (rc == SG_OK)
            rc = rp_ballot_close(c, r, NULL, json_string_value(id), RP_BALLOT_CANCELLED, NULL, NULL, NULL, tp);
    }
    return rc;
}

/* Creates the ballots of chosen[0..n) in one statement and tells each
 * reviewer, in the chosen order; appends them to assigned. */
static int add_ballots(sg_pg *c, const rp_case_row *r, const char *const *chosen, size_t n, const char *sround,
                       const char *tp, json_t *assigned)
{
    int rc;
    char *arr = sg_pg_text_array(chosen, n);
    PGresult *res;

    if (!arr)
        return SG_ERR_DB;
    res = sg_pg_rows(
        c, &rc,
        "WITH d AS (SELECT least(now() + v.ballot_timeout_s * interval '1 second', c.deadline) AS deadline, "
        "   v.reminder_before_s FROM cases c JOIN voting_rules v ON v.report_type = c.report_type "
        "   AND v.version = c.rule_version WHERE c.id = $1) "
        "INSERT INTO ballots (case_id, reviewer_id, round, deadline, reminder_at) "
        "SELECT $1, x.rid, $3::int, d.deadline, CASE WHEN d.reminder_before_s > 0 "
        "   AND d.deadline - d.reminder_before_s * interval '1 second' > now() "
        "   THEN d.deadline - d.reminder_before_s * interval '1 second' END "
        "FROM d, unnest($2::text[]) WITH ORDINALITY AS x(rid, o) ORDER BY x.o "
        "ON CONFLICT (case_id, reviewer_id) DO NOTHING RETURNING reviewer_id, id",
        3, SG_P(r->id, arr, sround));
    free(arr);
    if (!res)
        return rc;
    const char **told = calloc(n + 1, sizeof *told);
    size_t ntold = 0;
    if (!told)
        rc = SG_ERR_DB;
    for (size_t i = 0; rc == SG_OK && i < n; i++) {
        for (int k = 0; k < PQntuples(res); k++) {
            if (strcmp(PQgetvalue(res, k, 0), chosen[i]) != 0)
                continue;
            json_array_append_new(assigned, json_string(chosen[i]));
            told[ntold++] = chosen[i];
            break;
        }
    }
    /* One batch of ballot_assigned notifications, in the chosen order. */
    if (rc == SG_OK)
        rc = rp_notifications_create(c, told, ntold, RP_NK_BALLOT_ASSIGNED, r->id, NULL, tp);
    free(told);
    PQclear(res);
    return rc;
}

/* The strings of a JSON array as one text[] literal (malloc'ed). */
static char *ids_literal(const json_t *ids)
{
    const char **v = calloc(json_array_size(ids) + 1, sizeof *v);
    size_t i;
    const json_t *id;
    char *out;

    if (!v)
        return NULL;
    json_array_foreach(ids, i, id)
        v[i] = json_string_value(id);
    out = sg_pg_text_array(v, json_array_size(ids));
    free(v);
    return out;
}

static int contains(const char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return 1;
    return 0;
}

/* Records the answer to the request. The request was read with the case
 * lock, as of that statement's start (rp_case_lock_joined): when a holder
 * of the lock answered it meanwhile, nothing is updated and the whole
 * transaction is retried (SG_ERR_RETRY), to find it answered. */
static int mark_answered(sg_pg *c, const char *case_id, const char *sround, int assigned, int shortfall)
{
    char b1[24], b2[24];
    int rc;
    PGresult *res = sg_pg_rows(c, &rc,
                               "UPDATE panel_requests SET assigned_at = now(), assigned_count = $3::int, "
                               "shortfall = $4::int WHERE case_id = $1 AND round = $2::int AND assigned_at IS NULL",
                               4, SG_P(case_id, sround, sg_pg_int(b1, assigned), sg_pg_int(b2, shortfall)));
    if (!res)
        return rc;
    rc = atoi(PQcmdTuples(res)) == 1 ? SG_OK : SG_ERR_RETRY;
    PQclear(res);
    if (rc != SG_OK)
        sg_warn("case %s round %d: answered meanwhile; again", case_id, atoi(sround));
    return rc;
}

int rp_store_panel_assigned(sg_pg *c, const rp_panel_assigned *ev, long retry_base_s, const char *tp)
{
    const char *case_id = ev->case_id;
    const json_t *ids = ev->reviewer_ids;
    json_t *assigned = NULL, *skipped = NULL;
    char sround[24];
    int rc, seats, round = ev->round, done;
    rp_case_row r;
    size_t nchosen = 0;
    const char **chosen = NULL;
    char *offered = NULL;
    PGresult *res = NULL;

    sg_pg_int(sround, round);

    /* The case lock and the request answered, in one statement. */
    rc = rp_case_lock_joined(c,
                             RP_CASE_COLS ", coalesce(q.seats, 0), (q.assigned_at IS NOT NULL)::int " RP_CASE_FROM
                             "LEFT JOIN panel_requests q ON q.case_id = c.id AND q.round = $2::int "
                             "WHERE c.id = $1 FOR UPDATE OF c",
                             2, SG_P(case_id, sround), &r, &res);
    if (rc > 0) {
        sg_warn("panel.assigned for unknown case %s ignored", case_id);
        return SG_OK;
    }
    if (rc != SG_OK)
        return rc;
    tp = rp_case_tp(&r, tp);
    seats = atoi(PQgetvalue(res, 0, RP_CASE_NCOLS));
    done = atoi(PQgetvalue(res, 0, RP_CASE_NCOLS + 1));
    PQclear(res);
    res = NULL;
    if (seats == 0 || done) {
        sg_warn("panel.assigned for case %s round %d: %s, ignored", r.id, round,
                seats == 0 ? "no such request" : "already answered");
        return seats == 0 ? release_all(c, &r, ids, tp) : SG_OK;
    }
    if (!rp_case_is_open(&r)) {
        sg_warn("panel.assigned for %s case %s ignored", rp_case_status_name(r.status), r.id);
        if ((rc = release_all(c, &r, ids, tp)) == SG_OK &&
            (rc = mark_answered(c, r.id, sround, 0, ev->shortfall)) == SG_OK)
            rc = rp_audit_add(c, r.id, "assignment_ignored", NULL,
                        json_pack("{s:i, s:O, s:s}", "round", round, "reviewer_ids", ids, "case_status",
                                  rp_case_status_name(r.status)));
        return rc;
    }

    assigned = json_array();
    skipped = json_array();
    chosen = calloc(json_array_size(ids) + 1, sizeof *chosen);
    offered = ids_literal(ids);
    if (!assigned || !skipped || !chosen || !offered) {
        rc = SG_ERR_DB;
        goto cleanup;
    }
    if (!(res = screen(c, &r, offered, &rc)))
        goto cleanup;
    /* In the offered order: the first `seats` who may judge get a ballot;
     * the others are released. One who holds a ballot already keeps it. */
    for (int k = 0; k < PQntuples(res); k++) {
        const char *rid = PQgetvalue(res, k, 0);
        if (nchosen >= (size_t)seats || atoi(PQgetvalue(res, k, 1))) {
            json_array_append_new(skipped, json_string(rid));
            if ((rc = rp_ballot_close(c, &r, NULL, rid, RP_BALLOT_CANCELLED, NULL, NULL, NULL, tp)) != SG_OK)
                goto cleanup;
        } else if (!atoi(PQgetvalue(res, k, 2)) && !contains(chosen, nchosen, rid)) {
            chosen[nchosen++] = rid;
        }
    }
    if (nchosen > 0 && (rc = add_ballots(c, &r, chosen, nchosen, sround, tp, assigned)) != SG_OK)
        goto cleanup;
    int n = (int)json_array_size(assigned);
    rc = mark_answered(c, r.id, sround, n, ev->shortfall);
    if (rc == SG_OK && n > 0)
        rc = rp_case_start_voting(c, &r);
    /* Seats left empty wait for a shortfall retry (with back-off, spending
     * no substitute round). */
    long retry_in = -1;
    if (rc == SG_OK)
        rc = n < seats ? rp_case_shortfall(c, &r, seats - n, retry_base_s, &retry_in) : rp_case_panel_full(c, &r);
    if (rc == SG_OK) {
        json_t *data = json_pack("{s:i, s:i, s:O, s:O, s:I}", "round", round, "seats", seats, "reviewer_ids",
                                 assigned, "skipped", skipped, "shortfall", (json_int_t)ev->shortfall);
        if (data && retry_in >= 0)
            json_object_set_new(data, "retry_in_s", json_integer(retry_in));
        rc = rp_audit_add(c, r.id, "panel_assigned", NULL, data);
    }
    if (rc == SG_OK)
        sg_info("case %s round %d: %d of %d seats assigned", r.id, round, n, seats);
cleanup:
    PQclear(res);
    free(chosen);
    free(offered);
    json_decref(assigned);
    json_decref(skipped);
    return rc;
}
