/* Case state changes inside the caller's transaction; see store_lifecycle.h. */
#include "store_lifecycle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sg/app.h"
#include "sg/log.h"
#include "sg/outbox.h"
#include "store_util.h"

#define CASE_LOCK_SQL(lock)                                                                                      \
    "SELECT c.id, coalesce(c.appeal_of::text, ''), c.report_type, c.target_id, c.target_owner_id, c.status, "  \
    "c.rule_version, c.panel_size, c.votes_to_decide, c.round, r.max_substitute_rounds, "                      \
    "(r.on_deadline = 'escalate')::int, r.appeal_panel_size, r.appeal_votes_to_decide, "                       \
    "(c.deadline <= now())::int, "                                                                             \
    "(c.status = 'decided' AND c.decided_at + r.appeal_window_s * interval '1 second' >= now())::int, "        \
    "EXISTS (SELECT 1 FROM cases a WHERE a.appeal_of = c.id)::int, coalesce(c.traceparent, '') "              \
    "FROM cases c JOIN voting_rules r ON r.report_type = c.report_type AND r.version = c.rule_version "         \
    "WHERE c.id = $1 " lock

static void copy_col(char *dst, size_t len, const PGresult *res, int col)
{
    snprintf(dst, len, "%s", PQgetvalue(res, 0, col));
}

int rp_case_lock(sg_pg *c, const char *case_id, int skip_locked, rp_case_row *out)
{
    int rc;
    PGresult *res = sg_pg_rows(c, &rc,
                           skip_locked ? CASE_LOCK_SQL("FOR UPDATE OF c SKIP LOCKED") : CASE_LOCK_SQL("FOR UPDATE OF c"),
                           1, SG_P(case_id));
    memset(out, 0, sizeof *out);
    if (!res)
        return rc;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return 1;
    }
    copy_col(out->id, sizeof out->id, res, 0);
    copy_col(out->appeal_of, sizeof out->appeal_of, res, 1);
    copy_col(out->report_type, sizeof out->report_type, res, 2);
    copy_col(out->target_id, sizeof out->target_id, res, 3);
    copy_col(out->owner, sizeof out->owner, res, 4);
    if (rp_case_status_parse(PQgetvalue(res, 0, 5), &out->status) != 0) {
        sg_error("case %s has an unknown status %s", out->id, PQgetvalue(res, 0, 5));
        PQclear(res);
        return SG_ERR_DB;
    }
    copy_col(out->traceparent, sizeof out->traceparent, res, 17);
    int *ints[] = {&out->rule_version, &out->panel_size, &out->votes_to_decide, &out->round,
                   &out->max_substitute_rounds, &out->on_deadline_escalate, &out->appeal_panel_size,
                   &out->appeal_votes_to_decide, &out->past_deadline, &out->in_appeal_window, &out->has_appeal};
    for (int i = 0; i < (int)(sizeof ints / sizeof ints[0]); i++)
        *ints[i] = atoi(PQgetvalue(res, 0, 6 + i));
    PQclear(res);
    return SG_OK;
}

const char *rp_case_tp(const rp_case_row *r, const char *tp)
{
    return tp ? tp : r->traceparent[0] ? r->traceparent : NULL;
}

int rp_case_is_open(const rp_case_row *r)
{
    return rp_case_status_open(r->status);
}

/* The case whose reports belong to r: the appealed case for an appeal. */
static const char *root_id(const rp_case_row *r)
{
    return r->appeal_of[0] ? r->appeal_of : r->id;
}

int rp_emit_ballot_closed(sg_pg *c, const char *case_id, const char *reviewer_id, const char *outcome, const char *tp)
{
    json_t *p = json_pack("{s:s, s:s, s:s}", "case_id", case_id, "reviewer_id", reviewer_id, "outcome", outcome);
    int rc = p ? sg_outbox_add(c, SG_T_BALLOT_CLOSED, case_id, SG_T_BALLOT_CLOSED, p, tp) : SG_ERR_DB;
    json_decref(p);
    return rc;
}

int rp_emit_notification(sg_pg *c, const char *user_id, const char *kind, const char *case_id, const char *ballot_id,
                      const char *tp)
{
    json_t *p = json_pack("{s:s, s:s, s:s, s:o}", "user_id", user_id, "kind", kind, "case_id", case_id, "ballot_id",
                          ballot_id ? json_string(ballot_id) : json_null());
    int rc = p ? sg_outbox_add(c, SG_T_NOTIFICATION, user_id, SG_T_NOTIFICATION, p, tp) : SG_ERR_DB;
    json_decref(p);
    return rc;
}

int rp_case_request_panel(sg_pg *c, const rp_case_row *r, int round, int seats, const char *kind, const char *tp)
{
    char b1[24], b2[24];
    const char *sround = sg_pg_int(b1, round), *sseats = sg_pg_int(b2, seats);
    json_t *payload = NULL;
    int rc;
    tp = rp_case_tp(r, tp);
    rc = sg_pg_exec(c, "INSERT INTO panel_requests (case_id, round, seats) VALUES ($1, $2::int, $3::int)", 3,
                        SG_P(r->id, sround, sseats));
    if (rc != SG_OK)
        goto cleanup;
    rc = sg_pg_exec(c, "UPDATE cases SET round = greatest(round, $2::int) WHERE id = $1", 2, SG_P(r->id, sround));
    if (rc != SG_OK)
        goto cleanup;
    payload = sg_pg_query_json(
        c, &rc,
        "SELECT json_build_object('case_id', c.id, 'round', $2::int, 'seats', $3::int, "
        "'report_type', c.report_type, 'reviewer_tags', r.reviewer_tags, "
        "'exclude_user_ids', (SELECT coalesce(json_agg(x.u ORDER BY x.u), '[]'::json) FROM ("
        "   SELECT b.reviewer_id AS u FROM ballots b WHERE b.case_id = c.id OR b.case_id = c.appeal_of"
        "   UNION SELECT p.reporter_id FROM reports p WHERE p.case_id = coalesce(c.appeal_of, c.id)"
        "   UNION SELECT c.target_owner_id) x), "
        "'deadline', " SG_SQL_TS("least(now() + r.ballot_timeout_s * interval '1 second', c.deadline)") ")::text "
        "FROM cases c JOIN voting_rules r ON r.report_type = c.report_type AND r.version = c.rule_version "
        "WHERE c.id = $1",
        3, SG_P(r->id, sround, sseats));
    if (!payload) {
        rc = rc == SG_OK ? SG_ERR_DB : rc;
        goto cleanup;
    }
    rc = sg_outbox_add(c, SG_T_PANEL_REQUESTED, r->id, SG_T_PANEL_REQUESTED, payload, tp);
    if (rc != SG_OK)
        goto cleanup;
    rc = rp_audit_add(c, r->id, kind, NULL,
                json_pack("{s:i, s:i, s:O}", "round", round, "seats", seats, "exclude_user_ids",
                          json_object_get(payload, "exclude_user_ids")));
cleanup:
    json_decref(payload);
    return rc;
}

int rp_case_refill(sg_pg *c, rp_case_row *r, const char *tp, int *requested)
{
    int rc, needed;
    PGresult *res;

    if (requested)
        *requested = 0;
    res = sg_pg_rows(c, &rc,
                 "SELECT (SELECT count(*) FROM ballots WHERE case_id = $1 AND status IN ('open', 'voted'))::int, "
                 "(SELECT coalesce(sum(seats), 0) FROM panel_requests WHERE case_id = $1 AND assigned_at IS NULL)::int",
                 1, SG_P(r->id));
    if (!res)
        return rc;
    needed = rp_seats_needed(r->panel_size, atoi(PQgetvalue(res, 0, 0)), atoi(PQgetvalue(res, 0, 1)));
    PQclear(res);

    if (needed > 0 && rp_case_is_open(r) && !r->past_deadline) {
        if (rp_round_allowed(r->round + 1, r->max_substitute_rounds)) {
            rc = rp_case_request_panel(c, r, r->round + 1, needed, "substitute_requested", tp);
            if (rc != SG_OK)
                return rc;
            r->round++;
            if (requested)
                *requested = needed;
        } else {
            rc = rp_audit_add(c, r->id, "substitutes_exhausted", NULL,
                        json_pack("{s:i, s:i}", "seats_missing", needed, "round", r->round));
            if (rc != SG_OK)
                return rc;
        }
    }
    return sg_pg_exec(c, "UPDATE cases SET refill_at = NULL WHERE id = $1 AND refill_at IS NOT NULL", 1,
                      SG_P(r->id));
}

int rp_case_cancel_open_ballots(sg_pg *c, const rp_case_row *r, const char *tp)
{
    int rc;
    PGresult *res = sg_pg_rows(c, &rc,
                           "UPDATE ballots SET status = 'cancelled', closed_at = now() "
                           "WHERE case_id = $1 AND status = 'open' RETURNING id, reviewer_id",
                           1, SG_P(r->id));
    if (!res)
        return rc;
    for (int i = 0; i < PQntuples(res) && rc == SG_OK; i++) {
        const char *bid = PQgetvalue(res, i, 0), *rid = PQgetvalue(res, i, 1);
        rc = rp_emit_ballot_closed(c, r->id, rid, "cancelled", rp_case_tp(r, tp));
        if (rc == SG_OK)
            rc = rp_audit_add(c, r->id, "ballot_cancelled", NULL,
                        json_pack("{s:s, s:s}", "ballot_id", bid, "reviewer_id", rid));
    }
    PQclear(res);
    return rc;
}

int rp_case_tally(sg_pg *c, const char *case_id, int *violation, int *no_violation)
{
    int rc;
    PGresult *res = sg_pg_rows(c, &rc,
                           "SELECT count(*) FILTER (WHERE decision = 'violation')::int, "
                           "count(*) FILTER (WHERE decision = 'no_violation')::int "
                           "FROM ballots WHERE case_id = $1 AND status = 'voted'",
                           1, SG_P(case_id));
    *violation = *no_violation = 0;
    if (!res)
        return rc;
    *violation = atoi(PQgetvalue(res, 0, 0));
    *no_violation = atoi(PQgetvalue(res, 0, 1));
    PQclear(res);
    return SG_OK;
}

/* The sg.case.decided payload of the case as it now stands, with each
 * ballot's rp_with_majority judged against v. NULL with *rc on failure. */
static json_t *outcome_payload(sg_pg *c, const rp_case_row *r, rp_verdict v, int *rc)
{
    json_t *p = sg_pg_query_json(
        c, rc,
        "SELECT json_build_object('case_id', c.id, 'report_type', c.report_type, 'target_id', c.target_id, "
        "'target_owner_id', c.target_owner_id, 'verdict', c.verdict, 'decided_by', c.decided_by, "
        "'appeal_of', c.appeal_of, "
        "'reporter_ids', (SELECT coalesce(json_agg(p.reporter_id ORDER BY p.seq), '[]'::json) FROM reports p "
        "   WHERE p.case_id = coalesce(c.appeal_of, c.id)), "
        "'ballots', (SELECT coalesce(json_agg(json_build_object('reviewer_id', b.reviewer_id, 'outcome', b.status, "
        "   'decision', b.decision) ORDER BY b.seq), '[]'::json) FROM ballots b WHERE b.case_id = c.id))::text "
        "FROM cases c WHERE c.id = $1",
        1, SG_P(r->id));
    size_t i;
    json_t *b;
    if (!p) {
        if (*rc == SG_OK)
            *rc = SG_ERR_DB;
        return NULL;
    }
    json_array_foreach(json_object_get(p, "ballots"), i, b) {
        rp_verdict d = rp_verdict_parse(json_string_value(json_object_get(b, "decision")));
        json_object_set_new(b, "with_majority", json_boolean(rp_with_majority(d, v)));
    }
    return p;
}

/* Queues one callback per distinct callback_url of the case's reports, with
 * the outcome payload plus the case status as the body. */
static int queue_callbacks(sg_pg *c, const rp_case_row *r, json_t *payload, const char *status)
{
    int rc;
    char *body;
    json_object_set_new(payload, "status", json_string(status));
    body = json_dumps(payload, JSON_COMPACT);
    json_object_del(payload, "status");
    if (!body)
        return SG_ERR_DB;
    rc = sg_pg_exec(c,
                    "INSERT INTO callbacks (case_id, url, body) "
                    "SELECT DISTINCT $1::uuid, p.callback_url, $3 FROM reports p "
                    "WHERE p.case_id = $2::uuid AND p.callback_url IS NOT NULL ON CONFLICT (case_id, url) DO NOTHING",
                    3, SG_P(r->id, root_id(r), body));
    free(body);
    return rc;
}

static int notify_parties(sg_pg *c, const rp_case_row *r, const char *tp)
{
    int rc;
    PGresult *res = sg_pg_rows(c, &rc,
                           "SELECT DISTINCT u FROM (SELECT reporter_id AS u FROM reports WHERE case_id = $1 "
                           "UNION SELECT $2::text) x ORDER BY u",
                           2, SG_P(root_id(r), r->owner));
    if (!res)
        return rc;
    for (int i = 0; i < PQntuples(res) && rc == SG_OK; i++)
        rc = rp_emit_notification(c, PQgetvalue(res, i, 0), "case_decided", r->id, NULL, tp);
    PQclear(res);
    return rc;
}

int rp_case_decide(sg_pg *c, rp_case_row *r, rp_verdict v, const char *decided_by, const char *kind, const char *actor,
                const char *note, const char *tp)
{
    int rc, nv = 0, nnv = 0;
    char b1[24], b2[24];
    json_t *payload = NULL;

    tp = rp_case_tp(r, tp);
    if ((rc = rp_case_cancel_open_ballots(c, r, tp)) != SG_OK || (rc = rp_case_tally(c, r->id, &nv, &nnv)) != SG_OK)
        return rc;
    rc = sg_pg_exec(c,
                    "UPDATE cases SET status = 'decided', verdict = $2, decided_by = $3, tally_violation = $4::int, "
                    "tally_no_violation = $5::int, decided_at = clock_timestamp(), closed_at = clock_timestamp(), "
                    "refill_at = NULL, "
                    "resolve_note = coalesce($6, resolve_note), resolved_by = coalesce($7, resolved_by) WHERE id = $1",
                    7, SG_P(r->id, rp_verdict_name(v), decided_by, sg_pg_int(b1, nv), sg_pg_int(b2, nnv), note, actor));
    if (rc != SG_OK)
        return rc;
    r->status = RP_CASE_DECIDED;
    if (!(payload = outcome_payload(c, r, v, &rc)))
        return rc;
    if ((rc = sg_outbox_add(c, SG_T_CASE_DECIDED, r->id, SG_T_CASE_DECIDED, payload, tp)) != SG_OK ||
        (rc = notify_parties(c, r, tp)) != SG_OK || (rc = queue_callbacks(c, r, payload, "decided")) != SG_OK)
        goto cleanup;
    rc = rp_audit_add(c, r->id, kind, actor,
                json_pack("{s:s, s:s, s:{s:i, s:i}, s:o}", "verdict", rp_verdict_name(v), "decided_by", decided_by,
                          "tally", "violation", nv, "no_violation", nnv, "note",
                          note ? json_string(note) : json_null()));
    if (rc == SG_OK)
        sg_info("case %s decided %s by %s (%d:%d)", r->id, rp_verdict_name(v), decided_by, nv, nnv);
cleanup:
    json_decref(payload);
    return rc;
}

int rp_case_escalate(sg_pg *c, rp_case_row *r, const char *why, const char *tp)
{
    int rc, nv = 0, nnv = 0;
    if ((rc = rp_case_cancel_open_ballots(c, r, tp)) != SG_OK || (rc = rp_case_tally(c, r->id, &nv, &nnv)) != SG_OK)
        return rc;
    rc = sg_pg_exec(c, "UPDATE cases SET status = 'escalated', refill_at = NULL WHERE id = $1", 1, SG_P(r->id));
    if (rc != SG_OK)
        return rc;
    r->status = RP_CASE_ESCALATED;
    sg_info("case %s escalated (%s)", r->id, why);
    return rp_audit_add(c, r->id, "escalated", NULL,
                  json_pack("{s:s, s:{s:i, s:i}}", "reason", why, "votes", "violation", nv, "no_violation", nnv));
}

int rp_case_cancel(sg_pg *c, rp_case_row *r, const char *reason, const char *actor, const char *tp)
{
    int rc;
    json_t *payload = NULL;
    if ((rc = rp_case_cancel_open_ballots(c, r, tp)) != SG_OK)
        return rc;
    rc = sg_pg_exec(c,
                    "UPDATE cases SET status = 'cancelled', cancel_reason = $2, closed_at = now(), refill_at = NULL "
                    "WHERE id = $1",
                    2, SG_P(r->id, reason));
    if (rc != SG_OK)
        return rc;
    r->status = RP_CASE_CANCELLED;
    if (!(payload = outcome_payload(c, r, RP_VERDICT_NONE, &rc)))
        return rc;
    if ((rc = queue_callbacks(c, r, payload, "cancelled")) == SG_OK)
        rc = rp_audit_add(c, r->id, "cancelled", actor, json_pack("{s:s}", "reason", reason));
    json_decref(payload);
    return rc;
}
