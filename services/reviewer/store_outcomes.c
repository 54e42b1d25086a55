/* Ballot outcomes: sg.ballot.closed and sg.case.decided both end here. The
 * recorded state per assignment is merged and the reviewer's counters move
 * by the difference (quality.h), so repeated or overlapping reports never
 * count twice, and an open ballot is released exactly once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_util.h"

typedef struct row_state {
    const char *id;        /* borrowed from the locked result */
    rv_ballot_state old, neu;
} row_state;

/* Text form of a state for the assignments UPDATE ("" = NULL). */
static const char *wm_text(int wm)
{
    return wm < 0 ? "" : wm ? "t" : "f";
}

static int apply_changes(sg_pg *c, const char *case_id, row_state *rows, size_t n, double now, long *changed)
{
    int rc = SG_ERR_DB, any_expired = 0;
    size_t k = 0;
    rv_fatigue_policy fp = {0};
    char at[32], cool[16];
    char (*nums)[8][8] = calloc(n ? n : 1, sizeof(*nums));
    const char **cols[10];
    char *arrs[10] = {0};

    for (int j = 0; j < 10; j++)
        cols[j] = calloc(n ? n : 1, sizeof(*cols[j]));
    for (int j = 0; j < 10; j++)
        if (!cols[j])
            goto cleanup;
    if (!nums)
        goto cleanup;
    for (size_t i = 0; i < n; i++) {
        rv_counter_delta d;
        rv_outcome_delta(&rows[i].old, &rows[i].neu, &d);
        if (!d.voted && !d.expired && !d.declined && !d.decided && !d.with_majority && !d.release
            && rows[i].old.outcome == rows[i].neu.outcome && rows[i].old.with_majority == rows[i].neu.with_majority)
            continue;
        int v[7] = {d.voted, d.expired, d.declined, d.decided, d.with_majority, d.release, d.newly_expired};
        cols[0][k] = rows[i].id;
        cols[1][k] = rv_outcome_name(rows[i].neu.outcome) ? rv_outcome_name(rows[i].neu.outcome) : "";
        cols[2][k] = wm_text(rows[i].neu.with_majority);
        for (int j = 0; j < 7; j++) {
            snprintf(nums[k][j], sizeof(nums[k][j]), "%d", v[j]);
            cols[3 + j][k] = nums[k][j];
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
    for (int j = 0; j < 10; j++)
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
                    "   closed_at = coalesce(a.closed_at, " RV_AT("$5") ")"
                    "   FROM unnest($2::text[], $3::text[], $4::text[]) AS x(id, o, w)"
                    "   WHERE a.case_id = $1 AND a.reviewer_id = x.id)"
                    " UPDATE users u SET voted = u.voted + x.dv, expired = u.expired + x.de, declined = u.declined + x.dd,"
                    " decided = u.decided + x.ddec, with_majority = u.with_majority + x.dwm,"
                    " q_voted = greatest(u.q_voted + x.dv, 0), q_expired = greatest(u.q_expired + x.de, 0),"
                    " q_decided = greatest(u.q_decided + x.ddec, 0),"
                    " q_with_majority = least(greatest(u.q_with_majority + x.dwm, 0), greatest(u.q_decided + x.ddec, 0)),"
                    " open_ballots = greatest(u.open_ballots - x.rel, 0),"
                    " cooldown_until = CASE WHEN x.exp = 1 THEN greatest(coalesce(u.cooldown_until, '-infinity'),"
                    "   " RV_AT("$5") " + $13::int * interval '1 second') ELSE u.cooldown_until END"
                    " FROM unnest($2::text[], $6::int[], $7::int[], $8::int[], $9::int[], $10::int[], $11::int[],"
                    "   $12::int[]) AS x(id, dv, de, dd, ddec, dwm, rel, exp)"
                    " WHERE u.user_id = x.id",
                    13, SG_P(case_id, arrs[0], arrs[1], arrs[2], at, arrs[3], arrs[4], arrs[5], arrs[6], arrs[7],
                             arrs[8], arrs[9], cool));
cleanup:
    for (int j = 0; j < 10; j++) {
        free(cols[j]);
        free(arrs[j]);
    }
    free(nums);
    return rc;
}

int rv_store_record_outcomes(sg_pg *c, const char *case_id, size_t n, const char *const *ids,
                             const rv_outcome *outcomes, const int *with_majority, double now, long *changed)
{
    char *arr = NULL;
    PGresult *r = NULL;
    row_state *rows = NULL;
    size_t nrows;
    int rc = SG_ERR_DB;

    if (n == 0)
        return SG_OK;
    if (!(arr = sg_pg_text_array(ids, n)))
        goto cleanup;
    r = sg_pg_query(c,
                    "SELECT reviewer_id, coalesce(outcome, ''), with_majority, open FROM assignments"
                    " WHERE case_id = $1 AND reviewer_id = ANY($2::text[]) ORDER BY reviewer_id FOR UPDATE",
                    2, SG_P(case_id, arr));
    if (!sg_pg_ok(r)) {
        rc = sg_pg_err(c);
        goto cleanup;
    }
    nrows = (size_t)PQntuples(r);
    if (!(rows = calloc(nrows ? nrows : 1, sizeof(*rows))))
        goto cleanup;
    for (size_t i = 0; i < nrows; i++) {
        rows[i].id = PQgetvalue(r, (int)i, 0);
        rows[i].old.outcome = RV_OUT_NONE;
        rv_outcome_parse(PQgetvalue(r, (int)i, 1), &rows[i].old.outcome);
        rows[i].old.with_majority = PQgetisnull(r, (int)i, 2) ? -1 : rv_cell_bool(r, (int)i, 2);
        rows[i].old.open = rv_cell_bool(r, (int)i, 3);
        rows[i].neu = rows[i].old;
        /* Reports about one reviewer apply in order; the last one wins. */
        for (size_t j = 0; j < n; j++) {
            if (strcmp(ids[j], rows[i].id) == 0) {
                rv_ballot_state merged;
                rv_ballot_merge(&rows[i].neu, outcomes[j], with_majority ? with_majority[j] : -1, &merged);
                rows[i].neu = merged;
            }
        }
    }
    rc = apply_changes(c, case_id, rows, nrows, now, changed);
cleanup:
    free(arr);
    free(rows);
    PQclear(r);
    return rc;
}

int rv_store_close_case(sg_pg *c, const char *case_id, double now, char ***ids, size_t *n)
{
    rv_outcome *outs = NULL;
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
    if (!(outs = calloc(*n, sizeof(*outs))))
        goto cleanup;
    for (size_t i = 0; i < *n; i++)
        outs[i] = RV_OUT_CANCELLED;
    rc = rv_store_record_outcomes(c, case_id, *n, (const char *const *)*ids, outs, NULL, now, NULL);
cleanup:
    free(outs);
    PQclear(r);
    return rc;
}
