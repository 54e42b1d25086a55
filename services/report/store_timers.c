/* Timers kept in the database: case deadlines, ballot expiry, reminders,
 * shortfall retries, finality when the appeal window closes. Each scan claims one case with FOR UPDATE SKIP LOCKED and
 * handles it in one transaction, so replicas share the work and a crash
 * loses nothing (the row stays due). See store.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "store_lifecycle.h"
#include "sg/log.h"
#include "store.h"
#include "store_util.h"

typedef int (*case_timer_fn)(sg_pg *c, rp_case_row *r);

typedef struct timer_ctx {
    const char *claim_sql; /* returns the id of one due case, locked */
    case_timer_fn fn;
    int handled;
} timer_ctx;

static int timer_tx(sg_pg *c, void *arg)
{
    timer_ctx *x = arg;
    rp_case_row r;
    char id[37];
    int rc;
    PGresult *res = sg_pg_rows(c, &rc, x->claim_sql, 0, NULL);

    x->handled = 0;
    if (!res)
        return rc;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return SG_OK;
    }
    snprintf(id, sizeof id, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if ((rc = rp_case_lock(c, id, 0, &r)) != SG_OK)
        return rc > 0 ? SG_ERR_DB : rc;
    /* Log lines of the timer carry the case's trace. */
    sg_log_set_context(NULL, rp_case_tp(&r, NULL));
    if ((rc = x->fn(c, &r)) == SG_OK)
        x->handled = 1;
    sg_log_set_context(NULL, NULL);
    return rc;
}

static int run_timer(sg_pg_pool *p, const char *claim_sql, case_timer_fn fn)
{
    timer_ctx x = {claim_sql, fn, 0};
    int rc = sg_pg_tx(p, SG_TX_READ_COMMITTED, timer_tx, &x);
    return rc == SG_OK ? x.handled : -1;
}

/* ---- case deadline ---- */

static int on_case_deadline(sg_pg *c, rp_case_row *r)
{
    int rc, nv, nnv;
    rp_verdict v;
    if ((rc = rp_case_tally(c, r->id, &nv, &nnv)) != SG_OK)
        return rc;
    if (rp_decide_at_deadline(r->on_deadline_escalate, r->min_votes_at_deadline, nv, nnv, &v) ==
        RP_DEADLINE_ESCALATED)
        return rp_case_escalate(c, r,
                                r->on_deadline_escalate                     ? "deadline: rule escalates"
                                : nv + nnv < r->min_votes_at_deadline ? "deadline: too few votes"
                                                                            : "deadline: tie",
                                NULL);
    return rp_case_decide(c, r, v, "deadline", NULL);
}

int rp_store_timer_case_deadlines(sg_pg_pool *p)
{
    return run_timer(p,
                     "SELECT id FROM cases WHERE status IN ('assigning', 'voting') AND deadline <= now() "
                     "ORDER BY deadline LIMIT 1 FOR UPDATE SKIP LOCKED",
                     on_case_deadline);
}

/* ---- ballot expiry ---- */

static int on_ballots_expired(sg_pg *c, rp_case_row *r)
{
    int rc = rp_ballots_close_open(c, r, RP_BALLOT_EXPIRED, 1, NULL, NULL);
    return rc == SG_OK ? rp_case_refill(c, r, NULL, NULL) : rc;
}

int rp_store_timer_ballot_expiry(sg_pg_pool *p)
{
    return run_timer(p,
                     "SELECT c.id FROM cases c WHERE c.id IN (SELECT b.case_id FROM ballots b "
                     "  WHERE b.status = 'open' AND b.deadline <= now() ORDER BY b.deadline LIMIT 20) "
                     "AND c.status IN ('assigning', 'voting') LIMIT 1 FOR UPDATE OF c SKIP LOCKED",
                     on_ballots_expired);
}

/* ---- reminders ---- */

static int on_reminders_due(sg_pg *c, rp_case_row *r)
{
    int rc;
    PGresult *res = sg_pg_rows(c, &rc,
                           "UPDATE ballots SET reminded_at = now() WHERE case_id = $1 AND status = 'open' "
                           "AND reminded_at IS NULL AND reminder_at <= now() RETURNING id, reviewer_id",
                           1, SG_P(r->id));
    if (!res)
        return rc;
    for (int i = 0; i < PQntuples(res) && rc == SG_OK; i++) {
        const char *bid = PQgetvalue(res, i, 0), *rid = PQgetvalue(res, i, 1);
        rc = rp_emit_notification(c, rid, "ballot_reminder", r->id, bid, rp_case_tp(r, NULL));
        if (rc == SG_OK)
            rc = rp_audit_add(c, r->id, "reminder_sent", NULL, json_pack("{s:s, s:s}", "ballot_id", bid, "reviewer_id", rid));
    }
    PQclear(res);
    return rc;
}

int rp_store_timer_reminders(sg_pg_pool *p)
{
    return run_timer(p,
                     "SELECT c.id FROM cases c WHERE c.id IN (SELECT b.case_id FROM ballots b "
                     "  WHERE b.status = 'open' AND b.reminded_at IS NULL AND b.reminder_at <= now() "
                     "  ORDER BY b.reminder_at LIMIT 20) "
                     "AND c.status IN ('assigning', 'voting') LIMIT 1 FOR UPDATE OF c SKIP LOCKED",
                     on_reminders_due);
}

/* ---- shortfall retries (refill_at) ---- */

static int on_refill_due(sg_pg *c, rp_case_row *r)
{
    return rp_case_retry_shortfall(c, r, NULL);
}

int rp_store_timer_refill(sg_pg_pool *p)
{
    return run_timer(p,
                     "SELECT id FROM cases WHERE refill_at <= now() AND status IN ('assigning', 'voting') "
                     "ORDER BY refill_at LIMIT 1 FOR UPDATE SKIP LOCKED",
                     on_refill_due);
}

/* ---- finality when the appeal window closes ---- */

static int on_finalize_due(sg_pg *c, rp_case_row *r)
{
    /* An appeal opened in the window: its decision makes the case final. */
    if (r->has_appeal || r->status != RP_CASE_DECIDED || r->final)
        return sg_pg_exec(c, "UPDATE cases SET finalize_at = NULL WHERE id = $1", 1, SG_P(r->id));
    return rp_case_finalize(c, r, r->verdict, "window", NULL, NULL);
}

int rp_store_timer_finalize(sg_pg_pool *p)
{
    return run_timer(p,
                     "SELECT id FROM cases WHERE finalize_at <= now() AND finalized_at IS NULL "
                     "ORDER BY finalize_at LIMIT 1 FOR UPDATE SKIP LOCKED",
                     on_finalize_due);
}

/* ---- housekeeping ---- */

static int housekeeping_tx(sg_pg *c, void *arg)
{
    int *deleted = arg, rc;
    PGresult *res = sg_pg_rows(c, &rc,
                           "DELETE FROM idempotency_keys WHERE ctid IN (SELECT ctid FROM idempotency_keys "
                           "WHERE created_at < now() - interval '1 day' LIMIT 500)",
                           0, NULL);
    if (!res)
        return rc;
    *deleted = atoi(PQcmdTuples(res));
    PQclear(res);
    return SG_OK;
}

int rp_store_housekeeping(sg_pg_pool *p)
{
    int deleted = 0;
    return sg_pg_tx(p, SG_TX_READ_COMMITTED, housekeeping_tx, &deleted) == SG_OK ? deleted : -1;
}
