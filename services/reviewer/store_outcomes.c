/* Ballot outcomes: sg.ballot.closed, sg.case.decided and sg.case.finalized
 * all end here. The recorded state per assignment is merged and the
 * reviewer's counters move by the difference (quality.h), so repeated or
 * overlapping reports never count twice, and an open ballot is released
 * exactly once. Also the case's verdicts (case_verdicts), which the decided
 * and finalized consumers meet on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_util.h"

typedef struct row_state {
    const char *case_id;   /* borrowed from the locked result */
    const char *id;        /* the reviewer; borrowed from the locked result */
    rv_ballot_state old, neu;
    rv_decision decision;  /* RV_DEC_NONE keeps the recorded one */
} row_state;

/* Text form of a state for the assignments UPDATE ("" = NULL). */
static const char *wm_text(int wm)
{
    return wm < 0 ? "" : wm ? "t" : "f";
}

static const char *gold_text(int gold)
{
    return gold == RV_GOLD_HIT ? "t" : gold == RV_GOLD_MISS ? "f" : "";
}

#define NTEXT 6  /* case_id, id, outcome, with_majority, decision, gold_hit */
#define NNUM 9   /* the deltas */
#define NCOLS (NTEXT + NNUM)

/* Writes the changed rows (of any cases) in one statement: their
 * assignments, and each reviewer's counters by the sum of its rows'
 * deltas. */
static int apply_changes(sg_pg *c, row_state *rows, size_t n, double now, long *changed)
{
    int rc = SG_ERR_DB, any_expired = 0;
    size_t k = 0;
    rv_fatigue_policy fp = {0};
    char at[32], cool[16];
    char (*nums)[NNUM][8] = calloc(n ? n : 1, sizeof(*nums));
    const char **cols[NCOLS];
    char *arrs[NCOLS] = {0};

    for (int j = 0; j < NCOLS; j++)
        cols[j] = calloc(n ? n : 1, sizeof(*cols[j]));
    for (int j = 0; j < NCOLS; j++)
        if (!cols[j])
            goto cleanup;
    if (!nums)
        goto cleanup;
    for (size_t i = 0; i < n; i++) {
        rv_counter_delta d;
        rv_outcome_delta(&rows[i].old, &rows[i].neu, &d);
        if (!d.voted && !d.expired && !d.declined && !d.decided && !d.with_majority && !d.release
            && !d.gold_votes && !d.gold_hits && rows[i].decision == RV_DEC_NONE
            && rows[i].old.outcome == rows[i].neu.outcome && rows[i].old.with_majority == rows[i].neu.with_majority
            && rows[i].old.gold == rows[i].neu.gold && !rows[i].old.open)
            continue;
        int v[NNUM] = {d.voted, d.expired, d.declined, d.decided, d.with_majority, d.release, d.newly_expired,
                       d.gold_votes, d.gold_hits};
        cols[0][k] = rows[i].case_id;
        cols[1][k] = rows[i].id;
        cols[2][k] = rv_outcome_name(rows[i].neu.outcome) ? rv_outcome_name(rows[i].neu.outcome) : "";
        cols[3][k] = wm_text(rows[i].neu.with_majority);
        cols[4][k] = rv_decision_name(rows[i].decision) ? rv_decision_name(rows[i].decision) : "";
        cols[5][k] = gold_text(rows[i].neu.gold);
        for (int j = 0; j < NNUM; j++) {
            snprintf(nums[k][j], sizeof(nums[k][j]), "%d", v[j]);
            cols[NTEXT + j][k] = nums[k][j];
        }
        any_expired |= d.newly_expired;
        if (changed && (d.release || d.newly_expired))
            (*changed)++;
        k++;
    }
    if (k == 0) {
        rc = SG_OK;
        goto cleanup;
    }
    if (any_expired && (rc = rv_store_fatigue_policy_current(c, &fp, NULL)) != SG_OK)
        goto cleanup;
    rc = SG_ERR_DB;
    for (int j = 0; j < NCOLS; j++)
        if (!(arrs[j] = sg_pg_text_array(cols[j], k)))
            goto cleanup;
    rv_pg_epoch(now, at, sizeof(at));
    snprintf(cool, sizeof(cool), "%d", fp.cooldown_after_expiry_s);
    /* The assignments and the reviewers' counters in one statement. q_*
     * restart from zero at a reinstatement, so a late report about an older
     * ballot may push them below zero: clamp. */
    rc = sg_pg_exec(c,
                    "WITH a AS (UPDATE assignments a SET outcome = NULLIF(x.o, ''),"
                    "   with_majority = NULLIF(x.w, '')::boolean, open = false,"
                    "   decision = coalesce(NULLIF(x.d, ''), a.decision), gold_hit = NULLIF(x.g, '')::boolean,"
                    "   closed_at = coalesce(a.closed_at, " RV_AT("$7") ")"
                    "   FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])"
                    "     AS x(c, id, o, w, d, g)"
                    "   WHERE a.case_id = x.c AND a.reviewer_id = x.id)"
                    " UPDATE users u SET voted = u.voted + x.dv, expired = u.expired + x.de, declined = u.declined + x.dd,"
                    " decided = u.decided + x.ddec, with_majority = u.with_majority + x.dwm,"
                    " gold_votes = u.gold_votes + x.dgv, gold_hits = u.gold_hits + x.dgh,"
                    " q_voted = greatest(u.q_voted + x.dv, 0), q_expired = greatest(u.q_expired + x.de, 0),"
                    " q_decided = greatest(u.q_decided + x.ddec, 0),"
                    " q_with_majority = least(greatest(u.q_with_majority + x.dwm, 0), greatest(u.q_decided + x.ddec, 0)),"
                    " q_gold_votes = greatest(u.q_gold_votes + x.dgv, 0),"
                    " q_gold_hits = least(greatest(u.q_gold_hits + x.dgh, 0), greatest(u.q_gold_votes + x.dgv, 0)),"
                    " open_ballots = greatest(u.open_ballots - x.rel, 0),"
                    " cooldown_until = CASE WHEN x.exp = 1 THEN greatest(coalesce(u.cooldown_until, '-infinity'),"
                    "   " RV_AT("$7") " + $17::int * interval '1 second') ELSE u.cooldown_until END"
                    /* One row per reviewer: an UPDATE applies one joined row. */
                    " FROM (SELECT y.id, sum(y.dv)::int AS dv, sum(y.de)::int AS de, sum(y.dd)::int AS dd,"
                    "   sum(y.ddec)::int AS ddec, sum(y.dwm)::int AS dwm, sum(y.rel)::int AS rel, max(y.exp) AS exp,"
                    "   sum(y.dgv)::int AS dgv, sum(y.dgh)::int AS dgh"
                    "   FROM unnest($2::text[], $8::int[], $9::int[], $10::int[], $11::int[], $12::int[], $13::int[],"
                    "     $14::int[], $15::int[], $16::int[]) AS y(id, dv, de, dd, ddec, dwm, rel, exp, dgv, dgh)"
                    "   GROUP BY y.id) x"
                    " WHERE u.user_id = x.id",
                    17, SG_P(arrs[0], arrs[1], arrs[2], arrs[3], arrs[4], arrs[5], at, arrs[6], arrs[7], arrs[8],
                             arrs[9], arrs[10], arrs[11], arrs[12], arrs[13], arrs[14], cool));
cleanup:
    for (int j = 0; j < NCOLS; j++) {
        free(cols[j]);
        free(arrs[j]);
    }
    free(nums);
    return rc;
}

/* Every writer of outcomes locks the assignments by case and reviewer,
 * then the reviewers' users rows by id: batches of ballot closures
 * (rv_store_record_outcomes_batch), the decision and finality handlers
 * (rv_store_record_outcomes) and selection (users sorted, then new
 * assignment rows) wait for each other and never deadlock. */
#define LOCK_USERS_SQL "SELECT 1 FROM users WHERE user_id = ANY($1::text[]) ORDER BY user_id FOR UPDATE"

/* Records reports[i] about the assignment (case_ids[i],
 * reports[i].reviewer_id), for any number of cases: locks the assignments
 * by case and reviewer and the reviewers' users rows by id, merges, and
 * writes every change in one statement. */
static int record_outcomes(sg_pg *c, size_t n, const char *const *case_ids, const rv_ballot_report *reports,
                           double now, long *changed)
{
    char *acases = NULL, *arevs = NULL;
    const char **revs = NULL;
    PGresult *r = NULL;
    row_state *rows = NULL;
    size_t nrows;
    int rc = SG_ERR_DB;

    if (n == 0)
        return SG_OK;
    if (!(revs = malloc(n * sizeof(*revs))))
        goto cleanup;
    for (size_t i = 0; i < n; i++)
        revs[i] = reports[i].reviewer_id;
    if (!(acases = sg_pg_text_array(case_ids, n)) || !(arevs = sg_pg_text_array(revs, n)))
        goto cleanup;
    r = sg_pg_query(c,
                    "SELECT a.case_id, a.reviewer_id, coalesce(a.outcome, ''), a.with_majority, a.open, a.gold_hit"
                    " FROM assignments a JOIN (SELECT DISTINCT x.c, x.r FROM unnest($1::text[], $2::text[]) AS x(c, r)) x"
                    " ON a.case_id = x.c AND a.reviewer_id = x.r ORDER BY a.case_id, a.reviewer_id FOR UPDATE OF a",
                    2, SG_P(acases, arevs));
    if (!sg_pg_ok(r)) {
        rc = sg_pg_err(c);
        goto cleanup;
    }
    /* The reviewers' rows in the global order: the UPDATE of
     * apply_changes would lock them in its plan's order. */
    if (n > 1 && (rc = sg_pg_exec(c, LOCK_USERS_SQL, 1, SG_P(arevs))) != SG_OK)
        goto cleanup;
    rc = SG_ERR_DB;
    nrows = (size_t)PQntuples(r);
    if (!(rows = calloc(nrows ? nrows : 1, sizeof(*rows))))
        goto cleanup;
    for (size_t i = 0; i < nrows; i++) {
        rows[i].case_id = PQgetvalue(r, (int)i, 0);
        rows[i].id = PQgetvalue(r, (int)i, 1);
        rows[i].old.outcome = RV_OUT_NONE;
        rv_outcome_parse(PQgetvalue(r, (int)i, 2), &rows[i].old.outcome);
        rows[i].old.with_majority = PQgetisnull(r, (int)i, 3) ? -1 : rv_cell_bool(r, (int)i, 3);
        rows[i].old.open = rv_cell_bool(r, (int)i, 4);
        rows[i].old.gold = PQgetisnull(r, (int)i, 5) ? RV_GOLD_NONE
                           : rv_cell_bool(r, (int)i, 5) ? RV_GOLD_HIT : RV_GOLD_MISS;
        rows[i].neu = rows[i].old;
        rows[i].decision = RV_DEC_NONE;
        /* Reports about one assignment apply in order; the last one wins. */
        for (size_t j = 0; j < n; j++) {
            if (strcmp(reports[j].reviewer_id, rows[i].id) == 0 && strcmp(case_ids[j], rows[i].case_id) == 0) {
                rv_ballot_state merged;
                rv_ballot_merge(&rows[i].neu, reports[j].outcome, reports[j].with_majority, &merged);
                rv_ballot_set_gold(&merged, reports[j].gold);
                rows[i].neu = merged;
                if (reports[j].decision != RV_DEC_NONE)
                    rows[i].decision = reports[j].decision;
            }
        }
    }
    rc = apply_changes(c, rows, nrows, now, changed);
cleanup:
    free(revs);
    free(acases);
    free(arevs);
    free(rows);
    PQclear(r);
    return rc;
}

int rv_store_record_outcomes(sg_pg *c, const char *case_id, size_t n, const rv_ballot_report *reports, double now,
                             long *changed)
{
    const char **cases = malloc((n ? n : 1) * sizeof(*cases));
    if (!cases)
        return SG_ERR_DB;
    for (size_t i = 0; i < n; i++)
        cases[i] = case_id;
    int rc = record_outcomes(c, n, cases, reports, now, changed);
    free(cases);
    return rc;
}

int rv_store_record_outcomes_batch(sg_pg *c, size_t n, const char *const *case_ids, const rv_ballot_report *reports,
                                   double now)
{
    return record_outcomes(c, n, case_ids, reports, now, NULL);
}

int rv_store_close_case(sg_pg *c, const char *case_id, double now, char ***ids, size_t *n)
{
    rv_ballot_report *reps = NULL;
    int rc;
    PGresult *r = sg_pg_query(c, "SELECT reviewer_id FROM assignments WHERE case_id = $1 AND open", 1, SG_P(case_id));

    *ids = NULL;
    *n = 0;
    if (!sg_pg_ok(r)) {
        rc = sg_pg_err(c);
        goto cleanup;
    }
    if ((rc = rv_copy_ids(r, ids, n)) != SG_OK || *n == 0)
        goto cleanup;
    rc = SG_ERR_DB;
    if (!(reps = calloc(*n, sizeof(*reps))))
        goto cleanup;
    for (size_t i = 0; i < *n; i++)
        reps[i] = (rv_ballot_report){(*ids)[i], RV_OUT_CANCELLED, -1, RV_DEC_NONE, RV_GOLD_NONE};
    rc = rv_store_record_outcomes(c, case_id, *n, reps, now, NULL);
cleanup:
    free(reps);
    PQclear(r);
    return rc;
}

static void read_verdict(const PGresult *r, rv_case_verdict *out)
{
    memset(out, 0, sizeof(*out));
    rv_decision_parse(PQgetisnull(r, 0, 0) ? NULL : PQgetvalue(r, 0, 0), &out->verdict);
    rv_decision_parse(PQgetisnull(r, 0, 1) ? NULL : PQgetvalue(r, 0, 1), &out->final_verdict);
    out->audit = rv_cell_bool(r, 0, 2);
    rv_decision_parse(PQgetisnull(r, 0, 3) ? NULL : PQgetvalue(r, 0, 3), &out->expected_verdict);
}

/* Runs an upsert of case_verdicts RETURNING its four verdict columns. */
static int verdict_upsert(sg_pg *c, const char *sql, int n, const char *const *params, rv_case_verdict *out)
{
    int rc = SG_OK;
    PGresult *r = sg_pg_query(c, sql, n, params);
    if (!sg_pg_ok(r) || PQntuples(r) != 1)
        rc = sg_pg_err(c);
    else
        read_verdict(r, out);
    PQclear(r);
    return rc;
}

int rv_store_case_decided_mark(sg_pg *c, const char *case_id, rv_decision verdict, double now, rv_case_verdict *out)
{
    char at[32];
    rv_pg_epoch(now, at, sizeof(at));
    /* A redelivered decision keeps the first one's time. */
    return verdict_upsert(c,
                          "INSERT INTO case_verdicts AS v (case_id, verdict, decided_at)"
                          " VALUES ($1, NULLIF($2, ''), " RV_AT("$3") ")"
                          " ON CONFLICT (case_id) DO UPDATE SET verdict = coalesce(EXCLUDED.verdict, v.verdict),"
                          " decided_at = coalesce(v.decided_at, EXCLUDED.decided_at)"
                          " RETURNING verdict, final_verdict, audit, expected_verdict",
                          3, SG_P(case_id, rv_decision_name(verdict) ? rv_decision_name(verdict) : "", at), out);
}

int rv_store_case_finalized_mark(sg_pg *c, const rv_case_finalized *f, double now, rv_case_verdict *out)
{
    char at[32];
    const char *fv = rv_decision_name(f->final_verdict), *ev = rv_decision_name(f->expected_verdict);
    rv_pg_epoch(now, at, sizeof(at));
    return verdict_upsert(c,
                          "INSERT INTO case_verdicts AS v (case_id, final_verdict, finalized_by, appeal_case_id,"
                          " finalized_at, audit, expected_verdict)"
                          " VALUES ($1, NULLIF($2, ''), NULLIF($3, ''), NULLIF($4, ''), " RV_AT("$5") ", $6::boolean,"
                          " NULLIF($7, ''))"
                          " ON CONFLICT (case_id) DO UPDATE SET final_verdict = EXCLUDED.final_verdict,"
                          " finalized_by = EXCLUDED.finalized_by, appeal_case_id = EXCLUDED.appeal_case_id,"
                          " finalized_at = coalesce(v.finalized_at, EXCLUDED.finalized_at),"
                          " audit = EXCLUDED.audit, expected_verdict = EXCLUDED.expected_verdict"
                          " RETURNING verdict, final_verdict, audit, expected_verdict",
                          7, SG_P(f->case_id, fv ? fv : "", f->finalized_by ? f->finalized_by : "",
                                  f->appeal_case_id ? f->appeal_case_id : "", at, f->audit ? "t" : "f", ev ? ev : ""),
                          out);
}

int rv_store_case_decisions(sg_pg *c, const char *case_id, rv_rows **rows, rv_ballot_report **reports, size_t *n)
{
    PGresult *r = sg_pg_query(c,
                              "SELECT reviewer_id, decision FROM assignments"
                              " WHERE case_id = $1 AND outcome = 'voted' AND decision IS NOT NULL ORDER BY reviewer_id",
                              1, SG_P(case_id));
    *rows = NULL;
    *reports = NULL;
    *n = 0;
    if (!sg_pg_ok(r)) {
        int rc = sg_pg_err(c);
        PQclear(r);
        return rc;
    }
    if (!(*reports = calloc((size_t)PQntuples(r) + 1, sizeof(**reports)))) {
        PQclear(r);
        return SG_ERR_DB;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        rv_ballot_report *b = &(*reports)[i];
        *b = (rv_ballot_report){PQgetvalue(r, i, 0), RV_OUT_VOTED, -1, RV_DEC_NONE, RV_GOLD_NONE};
        rv_decision_parse(PQgetvalue(r, i, 1), &b->decision);
    }
    *n = (size_t)PQntuples(r);
    *rows = r;
    return SG_OK;
}
