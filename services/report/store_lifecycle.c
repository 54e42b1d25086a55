/* The case and ballot transitions of the store; see store_lifecycle.h. */
#include "store_lifecycle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sg/app.h"
#include "sg/log.h"
#include "sg/outbox.h"
#include "sg/urlpolicy.h"
#include "payloads.h"
#include "store_notify.h"
#include "store_util.h"
#include "svc.h"

#define RP_STR_(x) #x
#define RP_STR(x) RP_STR_(x)

#define CASE_LOCK_SQL(lock) RP_CASE_COLS " " RP_CASE_FROM "WHERE c.id = $1 " lock

static void copy_col(char *dst, size_t len, const PGresult *res, int col)
{
    snprintf(dst, len, "%s", PQgetvalue(res, 0, col));
}

/* Reads the case columns (RP_CASE_COLS) of res's first row into out. */
static int case_parse(const PGresult *res, rp_case_row *out)
{
    copy_col(out->id, sizeof out->id, res, 0);
    copy_col(out->appeal_of, sizeof out->appeal_of, res, 1);
    copy_col(out->report_type, sizeof out->report_type, res, 2);
    copy_col(out->target_id, sizeof out->target_id, res, 3);
    copy_col(out->owner, sizeof out->owner, res, 4);
    if (rp_case_status_parse(PQgetvalue(res, 0, 5), &out->status) != 0) {
        sg_error("case %s has an unknown status %s", out->id, PQgetvalue(res, 0, 5));
        return SG_ERR_DB;
    }
    copy_col(out->traceparent, sizeof out->traceparent, res, 17);
    int *ints[] = {&out->rule_version, &out->panel_size, &out->votes_to_decide, &out->round,
                   &out->max_substitute_rounds, &out->on_deadline_escalate, &out->appeal_panel_size,
                   &out->appeal_votes_to_decide, &out->past_deadline, &out->in_appeal_window, &out->has_appeal};
    for (int i = 0; i < (int)(sizeof ints / sizeof ints[0]); i++)
        *ints[i] = atoi(PQgetvalue(res, 0, 6 + i));
    int *more[] = {&out->min_votes_at_deadline, &out->substitute_rounds, &out->shortfall_seats,
                   &out->shortfall_retries, &out->final};
    for (int i = 0; i < (int)(sizeof more / sizeof more[0]); i++)
        *more[i] = atoi(PQgetvalue(res, 0, 18 + i));
    out->appeal_window_s = atol(PQgetvalue(res, 0, 23));
    out->verdict = rp_verdict_parse(PQgetvalue(res, 0, 24));
    out->audit = atoi(PQgetvalue(res, 0, 25));
    out->expected_verdict = rp_verdict_parse(PQgetvalue(res, 0, 26));
    return SG_OK;
}

int rp_case_lock_joined(sg_pg *c, const char *sql, int n, const char *const *params, rp_case_row *out,
                        PGresult **keep)
{
    int rc;
    PGresult *res = sg_pg_rows(c, &rc, sql, n, params);
    memset(out, 0, sizeof *out);
    if (!res)
        return rc;
    if (PQntuples(res) == 0)
        rc = 1;
    else
        rc = case_parse(res, out);
    if (keep && rc == SG_OK)
        *keep = res;
    else
        PQclear(res);
    return rc;
}

int rp_case_lock(sg_pg *c, const char *case_id, int skip_locked, rp_case_row *out)
{
    return rp_case_lock_joined(c,
                               skip_locked ? CASE_LOCK_SQL("FOR UPDATE OF c SKIP LOCKED")
                                           : CASE_LOCK_SQL("FOR UPDATE OF c"),
                               1, SG_P(case_id), out, NULL);
}

int rp_case_read_new(sg_pg *c, const char *case_id, rp_case_row *out)
{
    return rp_case_lock_joined(c, CASE_LOCK_SQL(""), 1, SG_P(case_id), out, NULL);
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

/* Puts an encoded payload (stolen; NULL: out of memory) in the outbox. */
static int publish(sg_pg *c, const char *topic, const char *key, json_t *payload, const char *tp)
{
    int rc = payload ? sg_outbox_add(c, topic, key, topic, payload, tp) : SG_ERR_DB;
    json_decref(payload);
    return rc;
}

int rp_emit_notification(sg_pg *c, const char *user_id, const char *kind, const char *case_id,
                         const char *ballot_id, const char *tp)
{
    rp_notify_kind k;
    if (rp_notify_kind_parse(kind, &k) != 0) {
        sg_error("case %s: unknown notification kind %s", case_id, kind ? kind : "(null)");
        return SG_ERR_DB;
    }
    return rp_notification_create(c, user_id, k, case_id, ballot_id, tp);
}

/* A JSON array read from a text column (new reference; NULL when it is not
 * one). */
static json_t *json_col(const PGresult *res, int row, int col)
{
    json_t *j = PQgetisnull(res, row, col) ? NULL : json_loads(PQgetvalue(res, row, col), 0, NULL);
    if (j && !json_is_array(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

/* rp_case_request_panel with extra audit data (stolen; may be NULL). */
static int request_panel(sg_pg *c, const rp_case_row *r, int round, int seats, const char *kind, json_t *extra,
                         const char *tp);

int rp_case_request_panel(sg_pg *c, const rp_case_row *r, int round, int seats, const char *kind, const char *tp)
{
    return request_panel(c, r, round, seats, kind, NULL, tp);
}

static int request_panel(sg_pg *c, const rp_case_row *r, int round, int seats, const char *kind, json_t *extra,
                         const char *tp)
{
    json_t *data = NULL;
    char b1[24], b2[24];
    const char *sround = sg_pg_int(b1, round), *sseats = sg_pg_int(b2, seats);
    json_t *tags = NULL, *exclude = NULL;
    PGresult *res = NULL;
    int rc;
    tp = rp_case_tp(r, tp);
    rc = sg_pg_exec(c, "INSERT INTO panel_requests (case_id, round, seats) VALUES ($1, $2::int, $3::int)", 3,
                        SG_P(r->id, sround, sseats));
    if (rc != SG_OK)
        goto cleanup;
    /* r was read under the case lock (or inserted by this transaction), so
     * its round is the row's. */
    if (r->round < round &&
        (rc = sg_pg_exec(c, "UPDATE cases SET round = greatest(round, $2::int) WHERE id = $1", 2,
                         SG_P(r->id, sround))) != SG_OK)
        goto cleanup;
    res = sg_pg_rows(
        c, &rc,
        "SELECT c.report_type, r.reviewer_tags::text, "
        /* Bounded (payloads.h): the owner, the panelists, then the first
         * reporters; store_panel.c screens every answer against them all. */
        "(SELECT coalesce(json_agg(z.u ORDER BY z.o, z.s), '[]'::json) FROM ("
        "   SELECT d.u, d.o, d.s FROM (SELECT DISTINCT ON (y.u) y.u, y.o, y.s FROM ("
        "     SELECT c.target_owner_id AS u, 0 AS o, 0::bigint AS s"
        "     UNION ALL SELECT b.reviewer_id, 1, b.seq FROM ballots b WHERE b.case_id = c.id OR b.case_id = c.appeal_of"
        "     UNION ALL (SELECT p.reporter_id, 2, p.seq FROM reports p WHERE p.case_id = coalesce(c.appeal_of, c.id)"
        "       ORDER BY p.seq LIMIT " RP_STR(RP_PANEL_MAX_EXCLUDE) ")) y ORDER BY y.u, y.o, y.s) d"
        "   ORDER BY d.o, d.s LIMIT " RP_STR(RP_PANEL_MAX_EXCLUDE) ") z)::text, "
        SG_SQL_TS("least(now() + r.ballot_timeout_s * interval '1 second', c.deadline)") " "
        "FROM cases c JOIN voting_rules r ON r.report_type = c.report_type AND r.version = c.rule_version "
        "WHERE c.id = $1",
        1, SG_P(r->id));
    if (!res)
        goto cleanup;
    if (PQntuples(res) != 1 || !(tags = json_col(res, 0, 1)) || !(exclude = json_col(res, 0, 2))) {
        rc = SG_ERR_DB;
        goto cleanup;
    }
    rp_panel_requested e = {r->id, round, seats, PQgetvalue(res, 0, 0), tags, exclude, PQgetvalue(res, 0, 3)};
    rc = publish(c, SG_T_PANEL_REQUESTED, r->id, rp_panel_requested_encode(&e), tp);
    if (rc != SG_OK)
        goto cleanup;
    data = json_pack("{s:i, s:i, s:O}", "round", round, "seats", seats, "exclude_user_ids", exclude);
    if (data && extra)
        json_object_update(data, extra);
    rc = rp_audit_add(c, r->id, kind, NULL, data);
cleanup:
    PQclear(res);
    json_decref(tags);
    json_decref(exclude);
    json_decref(extra);
    return rc;
}

/* Seats that no ballot holds (open or voted) and no unanswered request
 * covers: *free_seats. -1 on error (*rc set). */
static int free_seats(sg_pg *c, const rp_case_row *r, int *rc)
{
    int n;
    PGresult *res = sg_pg_rows(c, rc,
                 "SELECT (SELECT count(*) FROM ballots WHERE case_id = $1 AND status IN ('open', 'voted'))::int, "
                 "(SELECT coalesce(sum(seats), 0) FROM panel_requests WHERE case_id = $1 AND assigned_at IS NULL)::int",
                 1, SG_P(r->id));
    if (!res)
        return -1;
    n = rp_seats_needed(r->panel_size, atoi(PQgetvalue(res, 0, 0)), atoi(PQgetvalue(res, 0, 1)));
    PQclear(res);
    return n;
}

int rp_case_refill(sg_pg *c, rp_case_row *r, const char *tp, int *requested)
{
    int rc = SG_OK, needed;

    if (requested)
        *requested = 0;
    if (!rp_case_is_open(r) || r->past_deadline)
        return SG_OK;
    if ((needed = free_seats(c, r, &rc)) < 0)
        return rc;
    /* Seats waiting for a shortfall retry are the retry's. */
    needed -= r->shortfall_seats;
    if (needed <= 0)
        return SG_OK;
    if (!rp_substitute_allowed(r->substitute_rounds, r->max_substitute_rounds))
        return rp_audit_add(c, r->id, "substitutes_exhausted", NULL,
                            json_pack("{s:i, s:i, s:i}", "seats_missing", needed, "round", r->round,
                                      "substitute_rounds", r->substitute_rounds));
    rc = request_panel(c, r, r->round + 1, needed, "substitute_requested",
                       json_pack("{s:i}", "substitute_round", r->substitute_rounds + 1), tp);
    if (rc == SG_OK)
        rc = sg_pg_exec(c, "UPDATE cases SET substitute_rounds = substitute_rounds + 1 WHERE id = $1", 1,
                        SG_P(r->id));
    if (rc != SG_OK)
        return rc;
    r->round++;
    r->substitute_rounds++;
    if (requested)
        *requested = needed;
    return SG_OK;
}

int rp_case_replace(sg_pg *c, rp_case_row *r, const char *reason, const char *tp)
{
    int rc = SG_OK, needed;
    if (!rp_case_is_open(r) || r->past_deadline)
        return SG_OK;
    if ((needed = free_seats(c, r, &rc)) < 0)
        return rc;
    needed -= r->shortfall_seats;
    if (needed <= 0)
        return SG_OK;
    rc = request_panel(c, r, r->round + 1, needed, "substitute_requested",
                       json_pack("{s:s, s:b}", "reason", reason, "substitute_round", 0), tp);
    if (rc == SG_OK)
        r->round++;
    return rc;
}

int rp_case_shortfall(sg_pg *c, rp_case_row *r, int missing, long base_s, long *retry_in_s)
{
    char b1[24], b2[24];
    long wait = rp_shortfall_backoff_s(r->shortfall_retries, base_s);
    int rc;
    PGresult *res;

    if (retry_in_s)
        *retry_in_s = 0;
    if (missing <= 0)
        return SG_OK;
    res = sg_pg_rows(c, &rc,
                     "UPDATE cases SET shortfall_seats = shortfall_seats + $2::int, "
                     "refill_at = coalesce(refill_at, now() + $3::int * interval '1 second') WHERE id = $1 "
                     "RETURNING greatest(0, ceil(extract(epoch FROM refill_at - now())))::bigint",
                     3, SG_P(r->id, sg_pg_int(b1, missing), sg_pg_int(b2, wait)));
    if (!res)
        return rc;
    if (retry_in_s && PQntuples(res) == 1)
        *retry_in_s = atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    r->shortfall_seats += missing;
    return SG_OK;
}

int rp_case_panel_full(sg_pg *c, rp_case_row *r)
{
    if (r->shortfall_seats > 0 || r->shortfall_retries == 0)
        return SG_OK;
    r->shortfall_retries = 0;
    return sg_pg_exec(c, "UPDATE cases SET shortfall_retries = 0 WHERE id = $1", 1, SG_P(r->id));
}

int rp_case_retry_shortfall(sg_pg *c, rp_case_row *r, const char *tp)
{
    int rc = SG_OK, needed, seats;
    if ((needed = free_seats(c, r, &rc)) < 0)
        return rc;
    seats = needed < r->shortfall_seats ? needed : r->shortfall_seats;
    if (!rp_case_is_open(r) || r->past_deadline)
        seats = 0;
    rc = sg_pg_exec(c,
                    "UPDATE cases SET refill_at = NULL, shortfall_seats = 0, "
                    "shortfall_retries = shortfall_retries + ($2::int > 0)::int WHERE id = $1",
                    2, SG_P(r->id, seats > 0 ? "1" : "0"));
    r->shortfall_seats = 0;
    if (rc != SG_OK || seats <= 0)
        return rc;
    r->shortfall_retries++;
    rc = request_panel(c, r, r->round + 1, seats, "shortfall_retry", json_pack("{s:i}", "retry", r->shortfall_retries),
                       tp);
    if (rc == SG_OK)
        r->round++;
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

/* ---- ballots ---- */

#define BALLOT_JSON                                                                                               \
    "json_build_object('ballot_id', b.id, 'case_id', b.case_id, 'reviewer_id', b.reviewer_id, "                   \
    "'status', b.status, 'round', b.round, 'decision', b.decision, 'comment', b.comment, "                       \
    "'assigned_at', " SG_SQL_TS("b.assigned_at") ", 'deadline', " SG_SQL_TS("b.deadline") ", "                    \
    "'voted_at', " SG_SQL_TS("b.voted_at") ")::text"

/* The one statement that closes ballots: the open ballots of case $1 (only
 * ballot $2 when given; only those past their deadline when $4) go to status
 * $3. A vote ($3 = voted) stores decision $5 and comment $6 and returns the
 * ballot as the API shows it and the case's tally with this vote: the
 * tally's snapshot does not see this statement's UPDATE, so it counts the
 * other voted ballots and adds this one. clock_timestamp, not now(): taken
 * under the case lock, so a vote never appears to follow the decision it
 * preceded. */
static const char close_sql[] =
    "WITH b AS (UPDATE ballots SET status = $3, closed_at = now(), "
    "   decision = CASE WHEN $3 = 'voted' THEN $5 END, comment = CASE WHEN $3 = 'voted' THEN $6 END, "
    "   voted_at = CASE WHEN $3 = 'voted' THEN clock_timestamp() END "
    "   WHERE case_id = $1 AND status = 'open' AND ($2::uuid IS NULL OR id = $2::uuid) "
    "   AND (NOT $4::bool OR deadline <= now()) RETURNING *) "
    "SELECT b.id, b.reviewer_id, CASE WHEN $3 = 'voted' THEN " BALLOT_JSON " END, "
    " t.v + ($5 = 'violation')::int, t.nv + ($5 = 'no_violation')::int "
    "FROM b LEFT JOIN LATERAL (SELECT count(*) FILTER (WHERE o.decision = 'violation')::int AS v, "
    "   count(*) FILTER (WHERE o.decision = 'no_violation')::int AS nv FROM ballots o "
    "   WHERE $3 = 'voted' AND o.case_id = $1 AND o.status = 'voted') t ON true "
    "ORDER BY b.seq";

/* Tells the reviewers of the ballots in res (column 1) that their ballot
 * was cancelled or expired, in one batch. */
static int notify_closed(sg_pg *c, const rp_case_row *r, const PGresult *res, rp_ballot_status outcome,
                         const char *tp)
{
    int n = PQntuples(res), rc;
    const char **users;
    if (n == 0)
        return SG_OK;
    if (!(users = calloc((size_t)n, sizeof *users)))
        return SG_ERR_DB;
    for (int i = 0; i < n; i++)
        users[i] = PQgetvalue(res, i, 1);
    rc = rp_notifications_create(c, users, (size_t)n,
                                 outcome == RP_BALLOT_EXPIRED ? RP_NK_BALLOT_EXPIRED : RP_NK_BALLOT_CANCELLED, r->id,
                                 n == 1 ? PQgetvalue(res, 0, 0) : NULL, tp);
    free(users);
    return rc;
}

/* Runs close_sql and, per closed ballot, sg.ballot.closed and the audit
 * entry; then the reviewers' notifications. *n gets the number closed. */
static int close_ballots(sg_pg *c, const rp_case_row *r, const char *ballot_id, rp_ballot_status outcome,
                         int due_only, const char *actor, const char *reason, rp_ballot_vote *vote, const char *tp,
                         int *n)
{
    const char *status = rp_ballot_status_name(outcome);
    char kind[32];
    int rc;
    PGresult *res;

    *n = 0;
    if (!rp_ballot_transition_ok(RP_BALLOT_OPEN, outcome) || (outcome == RP_BALLOT_VOTED && !vote)) {
        sg_error("case %s: illegal ballot transition open -> %s", r->id, status ? status : "?");
        return RP_CONFLICT;
    }
    res = sg_pg_rows(c, &rc, close_sql, 6,
                     SG_P(r->id, ballot_id, status, due_only ? "t" : "f",
                          vote ? rp_verdict_name(vote->decision) : NULL, vote ? vote->comment : NULL));
    if (!res)
        return rc;
    snprintf(kind, sizeof kind, "ballot_%s", status);
    tp = rp_case_tp(r, tp);
    for (int i = 0; i < PQntuples(res) && rc == SG_OK; i++) {
        const char *bid = PQgetvalue(res, i, 0), *rid = PQgetvalue(res, i, 1);
        rp_ballot_closed e = {r->id, rid, outcome};
        if (outcome == RP_BALLOT_VOTED) {
            vote->ballot = json_loads(PQgetvalue(res, i, 2), 0, NULL);
            vote->violation = atoi(PQgetvalue(res, i, 3));
            vote->no_violation = atoi(PQgetvalue(res, i, 4));
            if (!vote->ballot) {
                rc = SG_ERR_DB;
                break;
            }
        }
        rc = publish(c, SG_T_BALLOT_CLOSED, r->id, rp_ballot_closed_encode(&e), tp);
        if (rc != SG_OK)
            break;
        json_t *data = actor ? json_pack("{s:s}", "ballot_id", bid)
                             : json_pack("{s:s, s:s}", "ballot_id", bid, "reviewer_id", rid);
        if (data && reason)
            json_object_set_new(data, "reason", json_string(reason));
        rc = rp_audit_add(c, r->id, kind, actor, data);
        (*n)++;
    }
    if (rc == SG_OK && (outcome == RP_BALLOT_CANCELLED || outcome == RP_BALLOT_EXPIRED))
        rc = notify_closed(c, r, res, outcome, tp);
    PQclear(res);
    return rc;
}

int rp_ballot_close(sg_pg *c, const rp_case_row *r, const char *ballot_id, const char *reviewer_id,
                    rp_ballot_status outcome, const char *actor, const char *reason, rp_ballot_vote *vote,
                    const char *tp)
{
    int rc, n;
    if (!ballot_id) {
        /* A seat offered and not taken: no ballot row, only the release. */
        rp_ballot_closed e = {r->id, reviewer_id, RP_BALLOT_CANCELLED};
        return publish(c, SG_T_BALLOT_CLOSED, r->id, rp_ballot_closed_encode(&e), rp_case_tp(r, tp));
    }
    rc = close_ballots(c, r, ballot_id, outcome, 0, actor, reason, vote, tp, &n);
    if (rc == SG_OK && n != 1) {
        sg_warn("case %s: ballot %s of %s is not open, not %s", r->id, ballot_id, reviewer_id,
                rp_ballot_status_name(outcome));
        rc = RP_CONFLICT;
    }
    return rc;
}

int rp_ballots_close_open(sg_pg *c, const rp_case_row *r, rp_ballot_status outcome, int due_only, const char *tp,
                          int *closed)
{
    int n = 0, rc = close_ballots(c, r, NULL, outcome, due_only, NULL, NULL, NULL, tp, &n);
    if (closed)
        *closed = n;
    return rc;
}

/* ---- cases ---- */

/* Refuses a transition the table does not allow (RP_CONFLICT). */
static int case_may(const rp_case_row *r, rp_case_status to)
{
    if (rp_case_transition_ok(r->status, to))
        return SG_OK;
    sg_warn("case %s: transition %s -> %s refused", r->id, rp_case_status_name(r->status), rp_case_status_name(to));
    return RP_CONFLICT;
}

/* Runs an UPDATE of the case's status whose $1 is the case id and $2 the
 * expected old status; RP_CONFLICT when the row was not in it. On success
 * r->status becomes to. */
static int case_update(sg_pg *c, rp_case_row *r, rp_case_status to, const char *sql, int n,
                       const char *const *params)
{
    int rc;
    PGresult *res = sg_pg_rows(c, &rc, sql, n, params);
    if (!res)
        return rc;
    rc = atoi(PQcmdTuples(res)) == 1 ? SG_OK : RP_CONFLICT;
    PQclear(res);
    if (rc == SG_OK)
        r->status = to;
    else
        sg_warn("case %s: status was not %s", r->id, rp_case_status_name(r->status));
    return rc;
}

int rp_case_start_voting(sg_pg *c, rp_case_row *r)
{
    int rc;
    if (r->status == RP_CASE_VOTING)
        return SG_OK;
    if ((rc = case_may(r, RP_CASE_VOTING)) != SG_OK)
        return rc;
    return case_update(c, r, RP_CASE_VOTING, "UPDATE cases SET status = 'voting' WHERE id = $1 AND status = $2", 2,
                       SG_P(r->id, rp_case_status_name(r->status)));
}

/* The sg.case.decided payload of the case as it now stands (after its
 * status changed), with each ballot's with_majority judged against the
 * stored verdict. NULL with *rc on failure. */
static json_t *outcome_payload(sg_pg *c, const rp_case_row *r, int *rc)
{
    json_t *reporters = NULL, *ballots = NULL, *out = NULL;
    rp_decided_ballot *bs = NULL;
    size_t i;
    json_t *b;
    PGresult *res = sg_pg_rows(
        c, rc,
        "SELECT c.report_type, c.target_id, c.target_owner_id, c.verdict, c.decided_by, c.appeal_of, "
        /* Bounded (payloads.h): the first reporters, the ones paid. */
        "(SELECT coalesce(json_agg(p.reporter_id ORDER BY p.seq), '[]'::json) FROM (SELECT q.reporter_id, q.seq "
        "   FROM reports q WHERE q.case_id = coalesce(c.appeal_of, c.id) ORDER BY q.seq "
        "   LIMIT " RP_STR(RP_DECIDED_MAX_REPORTERS) ") p)::text, "
        "(SELECT coalesce(json_agg(json_build_array(b.reviewer_id, b.status, b.decision) ORDER BY b.seq), "
        "   '[]'::json) FROM ballots b WHERE b.case_id = c.id)::text, "
        SG_SQL_TS("c.opened_at") " "
        "FROM cases c WHERE c.id = $1",
        1, SG_P(r->id));
    if (!res)
        return NULL;
#define COL(k) (PQgetisnull(res, 0, k) ? NULL : PQgetvalue(res, 0, k))
    if (PQntuples(res) != 1 || !(reporters = json_col(res, 0, 6)) || !(ballots = json_col(res, 0, 7)) ||
        !(bs = calloc(json_array_size(ballots) + 1, sizeof *bs)))
        goto cleanup;
    /* An audit case's report is the platform's own: nobody earns a
     * reporter reward from it. Same keys, an empty list. */
    if (r->audit)
        json_array_clear(reporters);
    json_array_foreach(ballots, i, b) {
        bs[i].reviewer_id = json_string_value(json_array_get(b, 0));
        bs[i].outcome = json_string_value(json_array_get(b, 1));
        bs[i].decision = rp_verdict_parse(json_string_value(json_array_get(b, 2)));
        if (!bs[i].reviewer_id || !bs[i].outcome)
            goto cleanup;
    }
    rp_case_decided e = {r->id,   COL(0),    COL(1), COL(2), rp_verdict_parse(COL(3)), COL(4), COL(5),
                         reporters, bs, json_array_size(ballots), COL(8)};
    out = rp_case_decided_encode(&e);
#undef COL
cleanup:
    if (!out && *rc == SG_OK)
        *rc = SG_ERR_DB;
    PQclear(res);
    free(bs);
    json_decref(reporters);
    json_decref(ballots);
    return out;
}

/* The outcome of the case as it now stands: everything but report_ids
 * and report_count, which rp_case_outcome fills per receiver. */
static const char outcome_sql[] =
    "SELECT c.report_type, c.target_id, c.target_owner_id, c.status, c.verdict, c.decided_by, "
    "(" RP_SQL_CASE_FINAL ")::int, (c.status = 'decided')::int, coalesce(c.tally_violation, 0), "
    "coalesce(c.tally_no_violation, 0), " SG_SQL_TS("c.decided_at") ", " RP_SQL_APPEAL_DEADLINE ", c.appeal_of, "
    "(SELECT coalesce(json_agg(x.id ORDER BY x.seq), '[]'::json) FROM (SELECT p.id, p.seq FROM reports p "
    "   WHERE p.case_id IN (c.id, c.appeal_of) ORDER BY p.seq LIMIT " RP_STR(RP_OUTCOME_MAX_REPORT_IDS) ") x)::text, "
    "(SELECT count(*) FROM reports p WHERE p.case_id IN (c.id, c.appeal_of)) "
    "FROM cases c JOIN voting_rules r ON r.report_type = c.report_type AND r.version = c.rule_version "
    "WHERE c.id = $1";

/* Each (client, callback URL) of the case's reports, with that client's
 * own report ids (bounded) and count. */
static const char receivers_sql[] =
    "SELECT u.source, u.callback_url, "
    "(SELECT coalesce(json_agg(x.id ORDER BY x.seq), '[]'::json) FROM (SELECT q.id, q.seq FROM reports q "
    "   WHERE q.case_id IN ($1::uuid, $2::uuid) AND q.source = u.source ORDER BY q.seq "
    "   LIMIT " RP_STR(RP_OUTCOME_MAX_REPORT_IDS) ") x)::text, "
    "(SELECT count(*) FROM reports q WHERE q.case_id IN ($1::uuid, $2::uuid) AND q.source = u.source) "
    "FROM (SELECT DISTINCT p.source, p.callback_url FROM reports p "
    "   WHERE p.case_id IN ($1::uuid, $2::uuid) AND p.callback_url IS NOT NULL) u ORDER BY 1, 2";

/* The per-delivery key stored in callbacks.url: the receiver's URL with its
 * fragment replaced by "#sg=<kind>.<client>" (client percent-encoded; kind
 * has no '.'). callbacks_case_id_url_key, UNIQUE (case_id, url), is then one
 * delivery per (case, kind, client, URL) and stays the key the previous
 * release's ON CONFLICT (case_id, url) names (expand-only, see
 * sql/report/002). The first '#' of a URL starts its fragment; libcurl never
 * sends a fragment and sg_url_redact drops it. Returns a malloc'ed string. */
static char *delivery_key(const char *url, const char *kind, const char *client)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t ulen = strcspn(url, "#"), clen = strlen(client);
    char *out = malloc(ulen + strlen(kind) + 3 * clen + 6), *p;
    if (!out)
        return NULL;
    p = out + snprintf(out, ulen + strlen(kind) + 6, "%.*s#sg=%s.", (int)ulen, url, kind);
    for (const unsigned char *q = (const unsigned char *)client; *q; q++) {
        if ((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '-' ||
            *q == '.' || *q == '_' || *q == '~') {
            *p++ = (char)*q;
        } else {
            *p++ = '%';
            *p++ = hex[*q >> 4];
            *p++ = hex[*q & 15];
        }
    }
    *p = '\0';
    return out;
}

/* Queues the callback of one receiver: body = the outcome with its report
 * ids; host and redacted URL parsed here, by libcurl, as delivery will. */
static int queue_callback(sg_pg *c, const rp_case_row *r, const char *kind, const char *client, const char *url,
                          rp_case_outcome_ev *ev, const PGresult *res, int row)
{
    json_t *ids = json_col(res, row, 2), *payload = NULL;
    char *body = NULL, *host = sg_url_host(url), *redacted = sg_url_redact(url);
    char *key = delivery_key(url, kind, client);
    int rc = SG_ERR_DB;

    if (!ids || !host || !redacted || !key) {
        sg_error("case %s: callback of %s not queued (unparseable URL or out of memory)", r->id, client);
        goto cleanup;
    }
    ev->report_ids = ids;
    ev->report_count = atol(PQgetvalue(res, row, 3));
    if (!(payload = rp_case_outcome_encode(ev)) || !(body = json_dumps(payload, JSON_COMPACT)))
        goto cleanup;
    rc = sg_pg_exec(c,
                    "INSERT INTO callbacks (case_id, kind, client, url, url_redacted, host, body) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (case_id, url) DO NOTHING",
                    7, SG_P(r->id, kind, client, key, redacted, host, body));
cleanup:
    free(key);
    free(body);
    free(host);
    free(redacted);
    json_decref(payload);
    json_decref(ids);
    return rc;
}

int rp_case_outcome(sg_pg *c, const rp_case_row *r, const char *kind, const char *tp)
{
    json_t *ids = NULL, *payload = NULL;
    PGresult *res = NULL, *rx = NULL;
    int rc;

    /* An audit case never leaves the platform: no sg.case.outcome, no
     * callback (its report has no callback URL anyway). */
    if (r->audit)
        return SG_OK;
    tp = rp_case_tp(r, tp);
    if (!(res = sg_pg_rows(c, &rc, outcome_sql, 1, SG_P(r->id))))
        return rc;
#define COL(k) (PQgetisnull(res, 0, k) ? NULL : PQgetvalue(res, 0, k))
#define NUM(k) atol(PQgetvalue(res, 0, k))
    rc = SG_ERR_DB;
    if (PQntuples(res) != 1 || !(ids = json_col(res, 0, 13)))
        goto cleanup;
    rp_case_outcome_ev ev = {kind,    r->id,        COL(0),       COL(1),       COL(2),  COL(3),
                             rp_verdict_parse(COL(4)),    COL(5),       (int)NUM(6),  (int)NUM(7), (int)NUM(8),
                             (int)NUM(9),   COL(10),      COL(11),      COL(12),      ids,     NUM(14)};
#undef COL
#undef NUM
    if (!(payload = rp_case_outcome_encode(&ev)) ||
        (rc = sg_outbox_add(c, SG_T_CASE_OUTCOME, r->id, SG_T_CASE_OUTCOME, payload, tp)) != SG_OK)
        goto cleanup;
    if (!(rx = sg_pg_rows(c, &rc, receivers_sql, 2, SG_P(r->id, r->appeal_of[0] ? r->appeal_of : NULL))))
        goto cleanup;
    for (int i = 0; i < PQntuples(rx) && rc == SG_OK; i++)
        rc = queue_callback(c, r, kind, PQgetvalue(rx, i, 0), PQgetvalue(rx, i, 1), &ev, rx, i);
cleanup:
    PQclear(res);
    PQclear(rx);
    json_decref(ids);
    json_decref(payload);
    return rc;
}

/* The outcome notices: case_outcome to the jurors who voted,
 * report_outcome to the reporters, content_outcome to the owner. An audit
 * case's owner and reporter are nobody to tell (ops named the owner, the
 * report is the platform's own); its jurors are told as a real case's are. */
static int notify_parties(sg_pg *c, const rp_case_row *r, const char *tp)
{
    if (r->audit)
        return rp_notify_jurors_outcome(c, r->id, r->owner, tp);
    return rp_notify_outcome(c, r->id, root_id(r), r->owner, tp);
}

int rp_case_finalize(sg_pg *c, rp_case_row *r, rp_verdict final_verdict, const char *finalized_by,
                     const char *appeal_case_id, const char *tp)
{
    int rc;
    PGresult *res;
    json_t *payload = NULL;

    if (r->status != RP_CASE_DECIDED || r->final) {
        sg_warn("case %s: only a decided case that is not final is finalized (%s%s)", r->id,
                rp_case_status_name(r->status), r->final ? ", final" : "");
        return RP_CONFLICT;
    }
    tp = rp_case_tp(r, tp);
    res = sg_pg_rows(c, &rc,
                     "UPDATE cases SET finalized_at = clock_timestamp(), finalized_by = $2, finalize_at = NULL "
                     "WHERE id = $1 AND status = 'decided' AND finalized_at IS NULL",
                     2, SG_P(r->id, finalized_by));
    if (!res)
        return rc;
    rc = atoi(PQcmdTuples(res)) == 1 ? SG_OK : RP_CONFLICT;
    PQclear(res);
    if (rc != SG_OK)
        return rc;
    r->final = 1;
    rp_case_finalized e = {r->id, final_verdict, finalized_by, appeal_case_id, r->audit, r->expected_verdict};
    if (!(payload = rp_case_finalized_encode(&e)))
        return SG_ERR_DB;
    rc = sg_outbox_add(c, SG_T_CASE_FINALIZED, r->id, SG_T_CASE_FINALIZED, payload, tp);
    /* Upstream hears of the appealable case's finality; an appeal case's
     * decision already was its final outcome. */
    if (rc == SG_OK && !r->appeal_of[0])
        rc = rp_case_outcome(c, r, "finalized", tp);
    if (rc == SG_OK)
        rc = rp_audit_add(c, r->id, "finalized", NULL,
                          json_pack("{s:s, s:s, s:o}", "final_verdict", rp_verdict_name(final_verdict),
                                    "finalized_by", finalized_by, "appeal_case_id",
                                    appeal_case_id ? json_string(appeal_case_id) : json_null()));
    if (rc == SG_OK)
        sg_info("case %s final: %s (%s)", r->id, rp_verdict_name(final_verdict), finalized_by);
    json_decref(payload);
    return rc;
}

/* The appealed case of appeal a becomes final once a is closed: with v, the
 * appeal's verdict, or (RP_VERDICT_NONE: a was cancelled) its own. Lock
 * order: the appeal (held), then the appealed case. */
static int finalize_after_appeal(sg_pg *c, const rp_case_row *a, rp_verdict v, const char *by, const char *tp)
{
    rp_case_row root;
    int rc = rp_case_lock(c, a->appeal_of, 0, &root);
    if (rc != SG_OK)
        return rc > 0 ? SG_ERR_DB : rc;
    if (root.final || root.status != RP_CASE_DECIDED) {
        sg_warn("case %s (%s%s) not finalized after its appeal %s", root.id, rp_case_status_name(root.status),
                root.final ? ", final" : "", a->id);
        return SG_OK;
    }
    return rp_case_finalize(c, &root, v != RP_VERDICT_NONE ? v : root.verdict, by, a->id, tp);
}

/* An appeal's decision is final, and so is the case it appeals, with the
 * appeal's verdict: finalized_by "ops" when ops resolved the appeal, else
 * "appeal". */
static int finalize_appeal(sg_pg *c, rp_case_row *a, rp_verdict v, const char *decided_by, const char *tp)
{
    const char *by = strcmp(decided_by, "ops") == 0 ? "ops" : "appeal";
    int rc = rp_case_finalize(c, a, v, by, a->id, tp);
    return rc == SG_OK ? finalize_after_appeal(c, a, v, by, tp) : rc;
}

/* The decision, from an open case (decided_by panel, appeal or deadline) or
 * an escalated one (ops). */
static int decide(sg_pg *c, rp_case_row *r, rp_verdict v, const char *decided_by, const char *kind,
                  const char *actor, const char *note, const char *tp)
{
    int rc, nv = 0, nnv = 0;
    char b1[24], b2[24], b3[24];
    json_t *payload = NULL;

    tp = rp_case_tp(r, tp);
    if ((rc = case_may(r, RP_CASE_DECIDED)) != SG_OK ||
        (rc = rp_ballots_close_open(c, r, RP_BALLOT_CANCELLED, 0, tp, NULL)) != SG_OK ||
        (rc = rp_case_tally(c, r->id, &nv, &nnv)) != SG_OK)
        return rc;
    rc = case_update(c, r, RP_CASE_DECIDED,
                     "UPDATE cases SET status = 'decided', verdict = $3, decided_by = $4, tally_violation = $5::int, "
                     "tally_no_violation = $6::int, decided_at = clock_timestamp(), closed_at = clock_timestamp(), "
                     "refill_at = NULL, shortfall_seats = 0, resolve_note = coalesce($7, resolve_note), "
                     "resolved_by = coalesce($8, resolved_by), "
                     "finalize_at = CASE WHEN appeal_of IS NULL "
                     "   THEN clock_timestamp() + $9::int * interval '1 second' END "
                     "WHERE id = $1 AND status = $2",
                     9, SG_P(r->id, rp_case_status_name(r->status), rp_verdict_name(v), decided_by,
                             sg_pg_int(b1, nv), sg_pg_int(b2, nnv), note, actor, sg_pg_int(b3, r->appeal_window_s)));
    if (rc != SG_OK)
        return rc;
    r->verdict = v;
    if (!(payload = outcome_payload(c, r, &rc)))
        return rc;
    if ((rc = sg_outbox_add(c, SG_T_CASE_DECIDED, r->id, SG_T_CASE_DECIDED, payload, tp)) != SG_OK ||
        (rc = notify_parties(c, r, tp)) != SG_OK || (rc = rp_case_outcome(c, r, kind, tp)) != SG_OK)
        goto cleanup;
    rc = rp_audit_add(c, r->id, kind, actor,
                json_pack("{s:s, s:s, s:{s:i, s:i}, s:o}", "verdict", rp_verdict_name(v), "decided_by", decided_by,
                          "tally", "violation", nv, "no_violation", nnv, "note",
                          note ? json_string(note) : json_null()));
    if (rc == SG_OK)
        sg_info("case %s decided %s by %s (%d:%d)", r->id, rp_verdict_name(v), decided_by, nv, nnv);
    if (rc == SG_OK && r->appeal_of[0])
        rc = finalize_appeal(c, r, v, decided_by, tp);
    /* Nobody appeals an audit case: it is final at its decision. */
    if (rc == SG_OK && r->audit)
        rc = rp_case_finalize(c, r, v, strcmp(decided_by, "ops") == 0 ? "ops" : "decision", NULL, tp);
cleanup:
    json_decref(payload);
    return rc;
}

int rp_case_decide(sg_pg *c, rp_case_row *r, rp_verdict v, const char *decided_by, const char *tp)
{
    if (!rp_case_is_open(r)) {
        sg_warn("case %s: only an open case is decided, not a %s one", r->id, rp_case_status_name(r->status));
        return RP_CONFLICT;
    }
    return decide(c, r, v, decided_by, "decided", NULL, NULL, tp);
}

int rp_case_resolve(sg_pg *c, rp_case_row *r, rp_verdict v, const char *note, const char *actor, const char *tp)
{
    if (r->status != RP_CASE_ESCALATED) {
        sg_warn("case %s: only an escalated case is resolved, not a %s one", r->id, rp_case_status_name(r->status));
        return RP_CONFLICT;
    }
    return decide(c, r, v, "ops", "resolved", actor, note, tp);
}

int rp_case_escalate(sg_pg *c, rp_case_row *r, const char *why, const char *tp)
{
    int rc, nv = 0, nnv = 0;
    if ((rc = case_may(r, RP_CASE_ESCALATED)) != SG_OK ||
        (rc = rp_ballots_close_open(c, r, RP_BALLOT_CANCELLED, 0, tp, NULL)) != SG_OK ||
        (rc = rp_case_tally(c, r->id, &nv, &nnv)) != SG_OK)
        return rc;
    rc = case_update(c, r, RP_CASE_ESCALATED,
                     "UPDATE cases SET status = 'escalated', refill_at = NULL WHERE id = $1 AND status = $2", 2,
                     SG_P(r->id, rp_case_status_name(r->status)));
    if (rc != SG_OK)
        return rc;
    sg_info("case %s escalated (%s)", r->id, why);
    if ((rc = rp_case_outcome(c, r, "escalated", tp)) != SG_OK)
        return rc;
    return rp_audit_add(c, r->id, "escalated", NULL,
                  json_pack("{s:s, s:{s:i, s:i}}", "reason", why, "votes", "violation", nv, "no_violation", nnv));
}

int rp_case_cancel(sg_pg *c, rp_case_row *r, const char *reason, const char *actor, const char *tp)
{
    int rc;
    if ((rc = case_may(r, RP_CASE_CANCELLED)) != SG_OK ||
        (rc = rp_ballots_close_open(c, r, RP_BALLOT_CANCELLED, 0, tp, NULL)) != SG_OK)
        return rc;
    rc = case_update(c, r, RP_CASE_CANCELLED,
                     "UPDATE cases SET status = 'cancelled', cancel_reason = $3, closed_at = now(), refill_at = NULL "
                     "WHERE id = $1 AND status = $2",
                     3, SG_P(r->id, rp_case_status_name(r->status), reason));
    if (rc != SG_OK)
        return rc;
    if ((rc = rp_case_outcome(c, r, "cancelled", tp)) == SG_OK)
        rc = rp_audit_add(c, r->id, "cancelled", actor, json_pack("{s:s}", "reason", reason));
    /* A cancelled appeal changes nothing and no second appeal is allowed:
     * the appealed case is final with its own verdict. */
    if (rc == SG_OK && r->appeal_of[0])
        rc = finalize_after_appeal(c, r, RP_VERDICT_NONE, "appeal", tp);
    return rc;
}
