/* Reviewer reads and the two explicit status changes (self-service pause,
 * ops activate/suspend). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eligibility.h"
#include "payloads.h"
#include "sg/app.h"
#include "sg/outbox.h"
#include "store.h"
#include "store_util.h"

#define REVIEWER_COLS                                                                                                \
    "user_id, status, reason, " SG_SQL_TS("status_changed_at") ", " SG_SQL_TS("suspended_until")                             \
    ", assigned, voted, expired, declined, decided, with_majority, open_ballots, " SG_SQL_TS("last_assigned_at") ", "    \
    SG_SQL_TS("cooldown_until") ", gold_votes, gold_hits"

static void read_reviewer(const PGresult *r, int row, rv_reviewer *out)
{
    rv_copy(out->user_id, sizeof(out->user_id), rv_cell_str(r, row, 0));
    /* The column's CHECK admits the four names only. */
    if (rv_status_parse(rv_cell_str(r, row, 1), &out->status))
        out->status = RV_RETIRED;
    rv_copy(out->reason, sizeof(out->reason), rv_cell_str(r, row, 2));
    rv_copy(out->status_changed_at, sizeof(out->status_changed_at), rv_cell_str(r, row, 3));
    rv_copy(out->suspended_until, sizeof(out->suspended_until), rv_cell_str(r, row, 4));
    out->assigned = rv_cell_int(r, row, 5);
    out->voted = rv_cell_int(r, row, 6);
    out->expired = rv_cell_int(r, row, 7);
    out->declined = rv_cell_int(r, row, 8);
    out->decided = rv_cell_int(r, row, 9);
    out->with_majority = rv_cell_int(r, row, 10);
    out->open_ballots = rv_cell_int(r, row, 11);
    rv_copy(out->last_assigned_at, sizeof(out->last_assigned_at), rv_cell_str(r, row, 12));
    rv_copy(out->cooldown_until, sizeof(out->cooldown_until), rv_cell_str(r, row, 13));
    out->gold_votes = rv_cell_int(r, row, 14);
    out->gold_hits = rv_cell_int(r, row, 15);
}

typedef struct history_ctx {
    const char *user_id;
    long long after;
    int limit;
    rv_status_change *items;
    int *n;
} history_ctx;

static int history_on(sg_pg *c, void *arg)
{
    history_ctx *x = arg;
    char after[24], lim[16];
    int rc = SG_OK;
    PGresult *r;

    snprintf(after, sizeof(after), "%lld", x->after);
    snprintf(lim, sizeof(lim), "%d", x->limit);
    /* The first row says whether the user is a reviewer at all. */
    r = sg_pg_query(c,
                    "SELECT (SELECT status IS NOT NULL FROM users WHERE user_id = $1), h.id, h.from_status,"
                    " h.to_status, h.reason, h.actor, " SG_SQL_TS("h.changed_at") ", h.suspend_days, "
                    SG_SQL_TS("h.suspended_until") " FROM (SELECT 1) one LEFT JOIN LATERAL"
                    " (SELECT * FROM reviewer_status_history WHERE user_id = $1 AND id > $2::bigint ORDER BY id"
                    "  LIMIT $3::int) h ON true",
                    3, SG_P(x->user_id, after, lim));
    *x->n = 0;
    if (!sg_pg_ok(r) || PQntuples(r) < 1) {
        rc = sg_pg_err(c);
        goto cleanup;
    }
    if (!rv_cell_bool(r, 0, 0)) {
        rc = RV_NOT_FOUND;
        goto cleanup;
    }
    for (int i = 0; i < PQntuples(r) && *x->n < x->limit; i++) {
        rv_status_change *h = &x->items[*x->n];
        if (PQgetisnull(r, i, 1))
            continue;
        h->id = atoll(PQgetvalue(r, i, 1));
        rv_copy(h->from_status, sizeof(h->from_status), rv_cell_str(r, i, 2));
        rv_copy(h->to_status, sizeof(h->to_status), rv_cell_str(r, i, 3));
        rv_copy(h->reason, sizeof(h->reason), rv_cell_str(r, i, 4));
        rv_copy(h->actor, sizeof(h->actor), rv_cell_str(r, i, 5));
        rv_copy(h->changed_at, sizeof(h->changed_at), rv_cell_str(r, i, 6));
        h->suspend_days = rv_cell_int(r, i, 7);
        rv_copy(h->suspended_until, sizeof(h->suspended_until), rv_cell_str(r, i, 8));
        (*x->n)++;
    }
cleanup:
    PQclear(r);
    return rc;
}

int rv_store_history(sg_pg_pool *p, const char *user_id, long long after, int limit, rv_status_change *items, int *n)
{
    history_ctx x = {user_id, after, limit, items, n};
    return rv_on_conn(p, 2000, history_on, &x);
}

static int reviewer_read(sg_pg *c, const char *user_id, rv_reviewer *out)
{
    int rc;
    PGresult *r = sg_pg_query(c, "SELECT " REVIEWER_COLS " FROM users WHERE user_id = $1 AND status IS NOT NULL", 1,
                              SG_P(user_id));
    if (!sg_pg_ok(r))
        rc = sg_pg_err(c);
    else if (PQntuples(r) != 1)
        rc = RV_NOT_FOUND;
    else {
        read_reviewer(r, 0, out);
        rc = SG_OK;
    }
    PQclear(r);
    return rc;
}

static int reviewers_list(sg_pg *c, const rv_status *status, const char *after, int limit, rv_reviewer *items,
                          int *n)
{
    /* One text per status, each a constant: the planner then knows which
     * index fits (the partial one for the rarer statuses, the primary key
     * for the active majority) even with a cached generic plan. */
#define LIST(cond)                                                                                                   \
    "SELECT " REVIEWER_COLS " FROM users WHERE " cond " AND user_id > coalesce($1, '') ORDER BY user_id LIMIT $2::int"
    static const char *const texts[RV_NSTATUS] = {
        [RV_ACTIVE] = LIST("status = 'active'"),
        [RV_PAUSED] = LIST("status = 'paused'"),
        [RV_SUSPENDED] = LIST("status = 'suspended'"),
        [RV_RETIRED] = LIST("status = 'retired'"),
    };
    const char *sql = LIST("status IS NOT NULL");
#undef LIST
    char lim[16];
    PGresult *r;
    int rc = SG_OK;

    if (status && (unsigned)*status < RV_NSTATUS)
        sql = texts[*status];
    snprintf(lim, sizeof(lim), "%d", limit);
    r = sg_pg_query(c, sql, 2, SG_P(after, lim));
    if (!sg_pg_ok(r)) {
        rc = sg_pg_err(c);
        goto cleanup;
    }
    *n = PQntuples(r) < limit ? PQntuples(r) : limit;
    for (int i = 0; i < *n; i++)
        read_reviewer(r, i, &items[i]);
cleanup:
    PQclear(r);
    return rc;
}

typedef struct get_ctx {
    const char *user_id;
    rv_reviewer *out;
} get_ctx;

static int get_on(sg_pg *c, void *arg)
{
    get_ctx *x = arg;
    return reviewer_read(c, x->user_id, x->out);
}

int rv_store_reviewer_get(sg_pg_pool *p, const char *user_id, rv_reviewer *out)
{
    get_ctx x = {user_id, out};
    return rv_on_conn(p, 2000, get_on, &x);
}

typedef struct list_ctx {
    const rv_status *status;
    const char *after;
    int limit;
    rv_reviewer *items;
    int *n;
} list_ctx;

static int list_on(sg_pg *c, void *arg)
{
    list_ctx *x = arg;
    return reviewers_list(c, x->status, x->after, x->limit, x->items, x->n);
}

int rv_store_reviewers_list(sg_pg_pool *p, const rv_status *status, const char *after, int limit, rv_reviewer *items,
                            int *n)
{
    list_ctx x = {status, after, limit, items, n};
    return rv_on_conn(p, 2000, list_on, &x);
}

/* Locks the user's row and reads its status (RV_NOT_FOUND when not a
 * reviewer). */
static int lock_status(sg_pg *c, const char *user_id, rv_status *status)
{
    int rc;
    PGresult *r = sg_pg_query(c, "SELECT status FROM users WHERE user_id = $1 FOR UPDATE", 1, SG_P(user_id));
    if (!sg_pg_ok(r))
        rc = sg_pg_err(c);
    else if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0))
        rc = RV_NOT_FOUND;
    else
        rc = rv_status_parse(rv_cell_str(r, 0, 0), status) ? SG_ERR_DB : SG_OK;
    PQclear(r);
    return rc;
}

static int write_history(sg_pg *c, const char *user_id, rv_status from_st, rv_status to_st, const char *reason,
                         const char *actor, const char *now)
{
    const char *from = rv_status_name(from_st), *to = rv_status_name(to_st);
    return sg_pg_exec(c,
                      "INSERT INTO reviewer_status_history (user_id, from_status, to_status, reason, actor, changed_at)"
                      " VALUES ($1, $2, $3, $4, $5, " RV_AT("$6") ")",
                      6, SG_P(user_id, from, to, reason, actor, now));
}

typedef struct avail_ctx {
    const char *user_id;
    int paused;
    double now;
    rv_reviewer *out;
} avail_ctx;

static int avail_tx(sg_pg *c, void *arg)
{
    avail_ctx *x = arg;
    char now[32];
    rv_status cur, next;
    int rc = lock_status(c, x->user_id, &cur);

    if (rc != SG_OK)
        return rc;
    if (rv_availability_next(cur, x->paused, &next))
        return RV_CONFLICT;
    if (cur != next) {
        const char *why = x->paused ? "paused by the reviewer" : "resumed by the reviewer";
        rv_pg_epoch(x->now, now, sizeof(now));
        rc = sg_pg_exec(c,
                        "UPDATE users SET status = $2, reason = $3, status_changed_at = " RV_AT("$4")
                        ", sample_key = random() WHERE user_id = $1",
                        4, SG_P(x->user_id, rv_status_name(next), why, now));
        if (rc == SG_OK)
            rc = write_history(c, x->user_id, cur, next, why, x->user_id, now);
        if (rc != SG_OK)
            return rc;
    }
    return reviewer_read(c, x->user_id, x->out);
}

int rv_store_set_availability(sg_pg_pool *p, const char *user_id, int paused, double now, rv_reviewer *out)
{
    avail_ctx x = {user_id, paused, now, out};
    return sg_pg_tx(p, SG_TX_READ_COMMITTED, avail_tx, &x);
}

typedef struct status_ctx {
    const char *user_id;
    rv_status status;
    const char *reason, *actor;
    double now;
    rv_reviewer *out;
    char *why;
    size_t whylen;
} status_ctx;

/* Would the pool rule admit the user now? RV_INELIGIBLE with the reason. */
static int check_eligible(sg_pg *c, status_ctx *x)
{
    rv_pool_rule rule;
    rv_pool_cutoffs cut;
    rv_tags tags;
    rv_profile prof;
    long weeks[53];
    size_t nweeks = 0;
    int rc = rv_store_pool_rule_current(c, &rule, NULL);
    rv_elig e;

    if (rc != SG_OK)
        return rc;
    rv_pool_cutoffs_of(&rule, x->now, &cut);
    rc = rv_store_profile_load(c, x->user_id, cut.first_week, cut.last_week, &tags, &prof.credit_score,
                               &prof.registered_at, weeks, &nweeks);
    if (rc != SG_OK)
        return rc;
    prof.tags = &tags;
    prof.active_weeks = weeks;
    prof.nweeks = nweeks;
    e = rv_pool_eligible(&rule, &cut, &prof);
    if (e != RV_ELIG_OK) {
        snprintf(x->why, x->whylen, "%s", rv_elig_reason(e));
        return RV_INELIGIBLE;
    }
    return SG_OK;
}

static int status_tx(sg_pg *c, void *arg)
{
    status_ctx *x = arg;
    char now[32];
    rv_status cur;
    int rc = lock_status(c, x->user_id, &cur);

    if (rc != SG_OK)
        return rc;
    if (rv_status_transition(cur, x->status, RV_BY_OPS)) {
        snprintf(x->why, x->whylen, "a %s reviewer cannot be %s", rv_status_name(cur), rv_status_name(x->status));
        return RV_CONFLICT;
    }
    if (cur == x->status)
        return reviewer_read(c, x->user_id, x->out);
    rv_pg_epoch(x->now, now, sizeof(now));
    if (x->status == RV_ACTIVE) {
        if ((rc = check_eligible(c, x)) != SG_OK)
            return rc;
        /* Leaving a suspension clears the quality slate, as the automatic
         * reinstatement does. */
        rc = sg_pg_exec(c,
                        "UPDATE users SET status = 'active', reason = $2, status_changed_at = " RV_AT("$3") ","
                        " suspended_until = NULL, sample_key = random(),"
                        " q_voted = CASE WHEN status = 'suspended' THEN 0 ELSE q_voted END,"
                        " q_expired = CASE WHEN status = 'suspended' THEN 0 ELSE q_expired END,"
                        " q_decided = CASE WHEN status = 'suspended' THEN 0 ELSE q_decided END,"
                        " q_with_majority = CASE WHEN status = 'suspended' THEN 0 ELSE q_with_majority END,"
                        " q_gold_votes = CASE WHEN status = 'suspended' THEN 0 ELSE q_gold_votes END,"
                        " q_gold_hits = CASE WHEN status = 'suspended' THEN 0 ELSE q_gold_hits END"
                        " WHERE user_id = $1",
                        3, SG_P(x->user_id, x->reason, now));
    } else {
        rc = sg_pg_exec(c,
                        "UPDATE users SET status = 'suspended', reason = $2, status_changed_at = " RV_AT("$3") ","
                        " suspended_until = NULL WHERE user_id = $1",
                        3, SG_P(x->user_id, x->reason, now));
    }
    if (rc == SG_OK)
        rc = write_history(c, x->user_id, cur, x->status, x->reason, x->actor, now);
    if (rc == SG_OK)
        rc = rv_store_status_announce(c, x->user_id, cur, x->status, x->reason);
    if (rc != SG_OK)
        return rc;
    return reviewer_read(c, x->user_id, x->out);
}

int rv_store_set_status(sg_pg_pool *p, const char *user_id, rv_status status, const char *reason,
                        const char *actor, double now, rv_reviewer *out, char *why, size_t whylen)
{
    status_ctx x = {user_id, status, reason, actor, now, out, why, whylen};
    if (whylen)
        why[0] = '\0';
    return sg_pg_tx(p, SG_TX_READ_COMMITTED, status_tx, &x);
}

int rv_store_status_announce(sg_pg *c, const char *user_id, rv_status from, rv_status to, const char *reason)
{
    json_t *payload;
    int rc;

    if (!rv_status_announced(from, to))
        return SG_OK;
    if (!(payload = rv_status_changed_encode(user_id, to, reason)))
        return SG_ERR_DB;
    rc = sg_outbox_add(c, SG_T_REVIEWER_STATUS, user_id, SG_T_REVIEWER_STATUS, payload, NULL);
    json_decref(payload);
    return rc;
}

static int counts_on(sg_pg *c, void *arg)
{
    long *counts = arg;
    int rc = SG_OK;
    /* Each count from an index that holds just that status. */
    PGresult *r = sg_pg_query(c,
                              "SELECT (SELECT count(*) FROM users WHERE status = 'active'),"
                              " (SELECT count(*) FROM users WHERE status = 'paused'),"
                              " (SELECT count(*) FROM users WHERE status = 'suspended'),"
                              " (SELECT count(*) FROM users WHERE status = 'retired')",
                              0, NULL);
    for (int i = 0; i < 4; i++)
        counts[i] = 0;
    if (!sg_pg_ok(r) || PQntuples(r) != 1) {
        rc = sg_pg_err(c);
        goto cleanup;
    }
    for (int i = 0; i < 4; i++)
        counts[i] = atol(PQgetvalue(r, 0, i));
cleanup:
    PQclear(r);
    return rc;
}

int rv_store_status_counts(sg_pg_pool *p, int timeout_ms, long counts[4])
{
    for (int i = 0; i < 4; i++)
        counts[i] = 0;
    return rv_on_conn(p, timeout_ms, counts_on, counts);
}
