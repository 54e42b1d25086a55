/* Votes and declines of reviewers, and their ballot list. A vote locks the
 * case row first, so concurrent votes on one case take turns: the deciding
 * vote sees every earlier one and no vote lands after the decision. See
 * store.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "store_lifecycle.h"
#include "sg/log.h"
#include "store.h"
#include "store_util.h"

/* The ballot as the API shows it (the vote's comes from rp_ballot_close). */
#define BALLOT_JSON                                                                                               \
    "json_build_object('ballot_id', b.id, 'case_id', b.case_id, 'reviewer_id', b.reviewer_id, "                   \
    "'status', b.status, 'round', b.round, 'decision', b.decision, 'comment', b.comment, "                       \
    "'assigned_at', " SG_SQL_TS("b.assigned_at") ", 'deadline', " SG_SQL_TS("b.deadline") ", "                    \
    "'voted_at', " SG_SQL_TS("b.voted_at") ")::text"

typedef struct ballot_ctx {
    const char *case_id;   /* vote: given; decline: found from the ballot */
    const char *ballot_id; /* decline */
    const char *reviewer, *comment, *tp; /* comment: the vote's, or the decline's reason */
    rp_verdict v;
    json_t *out;
    rp_detail *d;
} ballot_ctx;

/* Refuses a vote or decline on a ballot that no longer takes one. */
static int ballot_state_check(const rp_case_row *r, const char *status, int past_deadline, rp_detail *d)
{
    rp_ballot_status st;
    if (rp_ballot_status_parse(status, &st) != 0)
        return SG_ERR_DB;
    if (st == RP_BALLOT_VOTED) {
        snprintf(d->text, sizeof d->text, "already voted");
        return RP_CONFLICT;
    }
    if (!rp_case_is_open(r)) {
        snprintf(d->text, sizeof d->text, "case is %s", rp_case_status_name(r->status));
        return RP_CONFLICT;
    }
    if (st != RP_BALLOT_OPEN) {
        snprintf(d->text, sizeof d->text, "ballot is %s", status);
        return RP_CONFLICT;
    }
    if (past_deadline) {
        snprintf(d->text, sizeof d->text, "ballot expired");
        return RP_CONFLICT;
    }
    return SG_OK;
}

/* A reviewer's ballot on a case as lock_with_ballot read it. */
typedef struct ballot_seen {
    int found;         /* 0: the reviewer has no ballot on the case */
    char id[37];
    char status[16];
    int past_deadline; /* its deadline has passed */
} ballot_seen;

/* rp_case_lock (waiting) and the reviewer's ballot on the case, in one
 * statement (rp_case_lock_joined: the ballot as of the statement's start). */
static int lock_with_ballot(sg_pg *c, const char *case_id, const char *reviewer, rp_case_row *r, ballot_seen *b)
{
    PGresult *res = NULL;
    int rc = rp_case_lock_joined(c,
                                 RP_CASE_COLS ", b.id, b.status, (b.deadline <= clock_timestamp())::int "
                                 RP_CASE_FROM "LEFT JOIN ballots b ON b.case_id = c.id AND b.reviewer_id = $2 "
                                 "WHERE c.id = $1 FOR UPDATE OF c",
                                 2, SG_P(case_id, reviewer), r, &res);
    memset(b, 0, sizeof *b);
    if (rc != SG_OK)
        return rc;
    if (!PQgetisnull(res, 0, RP_CASE_NCOLS)) {
        b->found = 1;
        snprintf(b->id, sizeof b->id, "%s", PQgetvalue(res, 0, RP_CASE_NCOLS));
        snprintf(b->status, sizeof b->status, "%s", PQgetvalue(res, 0, RP_CASE_NCOLS + 1));
        b->past_deadline = atoi(PQgetvalue(res, 0, RP_CASE_NCOLS + 2));
    }
    PQclear(res);
    return SG_OK;
}

/* The ballot as it now stands, for a vote whose UPDATE found it no longer
 * open: lock_with_ballot read it before waiting for the case lock. */
static int vote_refused(sg_pg *c, const rp_case_row *r, const char *reviewer, rp_detail *d)
{
    int rc;
    PGresult *res = sg_pg_rows(c, &rc,
                               "SELECT status, (deadline <= clock_timestamp())::int FROM ballots "
                               "WHERE case_id = $1 AND reviewer_id = $2",
                               2, SG_P(r->id, reviewer));
    if (!res)
        return rc;
    rc = PQntuples(res) == 1 ? ballot_state_check(r, PQgetvalue(res, 0, 0), atoi(PQgetvalue(res, 0, 1)), d)
                             : RP_CONFLICT;
    PQclear(res);
    if (rc == SG_OK) {
        snprintf(d->text, sizeof d->text, "ballot is not open");
        rc = RP_CONFLICT;
    }
    return rc;
}

static int vote_tx(sg_pg *c, void *arg)
{
    ballot_ctx *x = arg;
    rp_case_row r;
    ballot_seen b;
    int rc;

    json_decref(x->out);
    x->out = NULL;
    /* The case lock and the caller's ballot in one statement. */
    if ((rc = lock_with_ballot(c, x->case_id, x->reviewer, &r, &b)) != SG_OK)
        return rc > 0 ? RP_NOT_FOUND : rc;
    if (!b.found) {
        snprintf(x->d->text, sizeof x->d->text, "you are not on this case's panel");
        return RP_FORBIDDEN;
    }
    if ((rc = ballot_state_check(&r, b.status, b.past_deadline, x->d)) != SG_OK)
        return rc;

    /* The vote, the ballot as the response shows it, and the tally with it
     * in one statement (see rp_ballot_close). */
    rp_ballot_vote vote = {x->v, x->comment, NULL, 0, 0};
    rc = rp_ballot_close(c, &r, b.id, x->reviewer, RP_BALLOT_VOTED, x->reviewer, NULL, &vote, x->tp);
    x->out = vote.ballot;
    if (rc == RP_CONFLICT && !vote.ballot)
        return vote_refused(c, &r, x->reviewer, x->d);
    if (rc != SG_OK)
        return rc;

    rp_verdict v = rp_decide_by_panel(vote.violation, vote.no_violation, r.votes_to_decide);
    if (v != RP_VERDICT_NONE &&
        (rc = rp_case_decide(c, &r, v, r.appeal_of[0] ? "appeal" : "panel", x->tp)) != SG_OK)
        return rc;
    return SG_OK;
}

int rp_store_vote(sg_pg_group *g, const char *case_id, const char *reviewer, rp_verdict v, const char *comment,
                  const char *tp, json_t **out, rp_detail *d)
{
    ballot_ctx x = {case_id, NULL, reviewer, comment, tp, v, NULL, d};
    /* The case row is the first (and only shared) row a vote locks: a
     * group runs its votes in case order (sg/pg_group.h). */
    int rc = sg_pg_group_tx(g, case_id, vote_tx, &x);
    if (rc != SG_OK) {
        json_decref(x.out);
        x.out = NULL;
    }
    *out = x.out;
    return rc;
}

static int decline_tx(sg_pg *c, void *arg)
{
    ballot_ctx *x = arg;
    rp_case_row r;
    char case_id[37];
    int rc;
    PGresult *res;

    json_decref(x->out);
    x->out = NULL;
    res = sg_pg_rows(c, &rc, "SELECT case_id FROM ballots WHERE id = $1", 1, SG_P(x->ballot_id));
    if (!res)
        return rc;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return RP_NOT_FOUND;
    }
    snprintf(case_id, sizeof case_id, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    /* Case first, then ballot: the lock order of every writer. */
    if ((rc = rp_case_lock(c, case_id, 0, &r)) != SG_OK)
        return rc > 0 ? RP_NOT_FOUND : rc;
    res = sg_pg_rows(c, &rc,
                 "SELECT reviewer_id, status, (deadline <= clock_timestamp())::int FROM ballots WHERE id = $1", 1,
                 SG_P(x->ballot_id));
    if (!res)
        return rc;
    if (strcmp(PQgetvalue(res, 0, 0), x->reviewer) != 0) {
        PQclear(res);
        snprintf(x->d->text, sizeof x->d->text, "not your ballot");
        return RP_FORBIDDEN;
    }
    rc = ballot_state_check(&r, PQgetvalue(res, 0, 1), atoi(PQgetvalue(res, 0, 2)), x->d);
    PQclear(res);
    if (rc != SG_OK)
        return rc;
    if ((rc = rp_ballot_close(c, &r, x->ballot_id, x->reviewer, RP_BALLOT_DECLINED, x->reviewer, x->comment, NULL,
                              x->tp)) != SG_OK ||
        (rc = rp_case_refill(c, &r, x->tp, NULL)) != SG_OK)
        return rc;
    x->out = sg_pg_query_json(c, &rc, "SELECT " BALLOT_JSON " FROM ballots b WHERE b.id = $1", 1, SG_P(x->ballot_id));
    return rc == SG_OK && !x->out ? SG_ERR_DB : rc;
}

int rp_store_decline(sg_pg_pool *p, const char *ballot_id, const char *reviewer, const char *reason, const char *tp,
                     json_t **out, rp_detail *d)
{
    ballot_ctx x = {NULL, ballot_id, reviewer, reason, tp, RP_VERDICT_NONE, NULL, d};
    int rc = sg_pg_tx(p, SG_TX_READ_COMMITTED, decline_tx, &x);
    if (rc != SG_OK) {
        json_decref(x.out);
        x.out = NULL;
    }
    *out = x.out;
    return rc;
}

int rp_store_my_ballots(sg_pg_pool *p, const char *reviewer, int open, int limit, long long cursor, json_t **out)
{
    char b1[24], b2[24], b3[24];
    /* What the reviewer judges: the case's first report (of the appealed case
     * for an appeal), which names the item (the case's target_id is its key:
     * an audit case's is its own, see intake.h). */
    return rp_store_read(
        p,
        "SELECT json_build_object('ballot_id', b.id, 'case_id', b.case_id, 'report_type', c.report_type, "
        "'target_id', coalesce(f.target_id, c.target_id), 'reason', f.reason, 'description', f.description, 'evidence', f.evidence, "
        "'deadline', " SG_SQL_TS("b.deadline") ", 'status', b.status, 'round', b.round, 'decision', b.decision, "
        "'appeal', c.appeal_of IS NOT NULL)::text, b.seq "
        "FROM ballots b JOIN cases c ON c.id = b.case_id "
        "LEFT JOIN LATERAL (SELECT p.target_id, p.reason, p.description, p.evidence FROM reports p "
        "   WHERE p.case_id = coalesce(c.appeal_of, c.id) ORDER BY p.seq LIMIT 1) f ON true "
        "WHERE b.reviewer_id = $1 AND ($2::int < 0 OR (b.status = 'open') = ($2::int = 1)) "
        "AND ($3::bigint = 0 OR b.seq < $3::bigint) ORDER BY b.seq DESC LIMIT $4::int + 1",
        4, SG_P(reviewer, sg_pg_int(b1, open), sg_pg_int(b2, cursor), sg_pg_int(b3, limit)), limit, out);
}

/* ---- a reviewer suspended or retired ---- */

int rp_store_reviewer_status(sg_pg *c, const rp_reviewer_status_changed *ev, const char *tp)
{
    const char *reason = ev->kind == RP_REVIEWER_SUSPENDED ? "reviewer_suspended" : "reviewer_retired";
    int rc, cancelled = 0;
    PGresult *cases;

    if (ev->kind == RP_REVIEWER_OTHER)
        return SG_OK;
    /* Cases in id order: two of these handlers never wait on each other's
     * case locks in opposite orders. */
    cases = sg_pg_rows(c, &rc,
                       "SELECT DISTINCT case_id::text FROM ballots WHERE reviewer_id = $1 AND status = 'open' "
                       "ORDER BY 1",
                       1, SG_P(ev->user_id));
    if (!cases)
        return rc;
    for (int i = 0; i < PQntuples(cases) && rc == SG_OK; i++) {
        rp_case_row r;
        char bid[37];
        PGresult *res;
        if ((rc = rp_case_lock(c, PQgetvalue(cases, i, 0), 0, &r)) != SG_OK) {
            rc = rc > 0 ? SG_OK : rc;
            continue;
        }
        /* Read again under the case lock: the ballot may have closed. */
        res = sg_pg_rows(c, &rc, "SELECT id FROM ballots WHERE case_id = $1 AND reviewer_id = $2 AND status = 'open'",
                         2, SG_P(r.id, ev->user_id));
        if (!res)
            break;
        if (PQntuples(res) == 1) {
            snprintf(bid, sizeof bid, "%s", PQgetvalue(res, 0, 0));
            rc = rp_ballot_close(c, &r, bid, ev->user_id, RP_BALLOT_CANCELLED, NULL, reason, NULL, rp_case_tp(&r, tp));
            if (rc == SG_OK)
                rc = rp_case_replace(c, &r, reason, tp);
            cancelled++;
        }
        PQclear(res);
    }
    PQclear(cases);
    if (rc == SG_OK && cancelled)
        sg_info("reviewer %s %s: %d open ballot(s) cancelled", ev->user_id, ev->status, cancelled);
    return rc;
}
