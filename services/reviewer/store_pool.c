/* Pool adjustment: set-based UPDATEs over the users table, each writing a
 * reviewer_status_history row per change in the same statement. The rule's
 * bounds come from rv_pool_cutoffs_of and its reasons from rv_elig_reason,
 * so SQL and the pure eligibility check (eligibility.h) say the same thing.
 * Every change into or out of suspended or retired is announced on
 * sg.reviewer.status_changed in the same transaction (rv_store_status_announce).
 * The statuses each statement moves from and to are the RV_BY_POOL
 * transitions of reviewer.h's table (retire: active, paused, ended
 * suspension → retired; reinstate: ended suspension → active; add: not a
 * reviewer or retired → active; suspend: active, paused → suspended).
 *
 * Parameters shared by the eligibility statements:
 *   $1 now (Unix s)  $2 min_credit_score  $3 registered_before (Unix s)
 *   $4 include_tags_any  $5 exclude_tags  $6 first week  $7 last week
 *   $8 weeks required
 */
#include <stdio.h>
#include <stdlib.h>

#include "eligibility.h"
#include "sg/log.h"
#include "store.h"
#include "store_util.h"
#include "sg/timeutil.h"

#define ACTOR "'pool-adjustment'"
#define NOW RV_AT("$1")

/* Wraps a statement's history INSERT (written last, without its closing
 * quote) so that it returns its number of changes in column 0 of the first
 * row and, in the columns after it, the changes of reviewers who had a status
 * before (user_id, from, to, reason): the candidates for an
 * sg.reviewer.status_changed (rv_status_announced decides). Never the
 * first admissions, which a first pool build makes by the million. */
#define ANNOUNCE                                                                                                     \
    " RETURNING user_id, from_status, to_status, reason)"                                                            \
    " SELECT n.total, h.user_id, h.from_status, h.to_status, h.reason FROM (SELECT count(*) AS total FROM h) n"      \
    " LEFT JOIN h ON h.from_status IS NOT NULL"
#define HISTORY " h AS (INSERT INTO reviewer_status_history (user_id, from_status, to_status, reason, actor, changed_at)"

#define ELIGIBLE                                                                                                     \
    "(NOT (u.tags && $5::text[])"                                                                                    \
    " AND (cardinality($4::text[]) = 0 OR u.tags && $4::text[])"                                                     \
    " AND u.credit_score >= $2::int"                                                                                 \
    " AND u.registered_at <= " RV_AT("$3")                                                                           \
    " AND ($8::int = 0 OR u.user_id IN (SELECT a.user_id FROM activity_weeks a"                                     \
    "      WHERE a.week_start BETWEEN $6::date AND $7::date GROUP BY a.user_id HAVING count(*) = $8::int)))"

/* Retire active/paused reviewers the rule no longer admits, and suspended
 * ones whose suspension ended meanwhile. $9..$13: the reasons. */
static const char retire_sql[] =
    "WITH c AS (SELECT u.user_id, u.status AS old,"
    "   CASE WHEN u.tags && $5::text[] THEN $9"
    "        WHEN cardinality($4::text[]) > 0 AND NOT (u.tags && $4::text[]) THEN $10"
    "        WHEN u.credit_score < $2::int THEN $11"
    "        WHEN u.registered_at > " RV_AT("$3") " THEN $12"
    "        ELSE $13 END AS why"
    " FROM users u"
    " WHERE (u.status IN ('active', 'paused') OR (u.status = 'suspended' AND u.suspended_until <= " NOW "))"
    "   AND NOT " ELIGIBLE " FOR UPDATE),"
    " x AS (UPDATE users u SET status = 'retired', reason = c.why, status_changed_at = " NOW ", suspended_until = NULL"
    "   FROM c WHERE u.user_id = c.user_id RETURNING u.user_id, c.old, c.why)"
    "," HISTORY
    " SELECT user_id, old, 'retired', why, " ACTOR ", " NOW " FROM x" ANNOUNCE;

/* Reinstate suspended reviewers whose suspension ended and who are still
 * eligible; their quality counters start again from zero. */
static const char reinstate_sql[] =
    "WITH c AS (SELECT u.user_id FROM users u"
    " WHERE u.status = 'suspended' AND u.suspended_until <= " NOW " AND " ELIGIBLE " FOR UPDATE),"
    " x AS (UPDATE users u SET status = 'active', reason = 'suspension ended', status_changed_at = " NOW ","
    "   suspended_until = NULL, q_voted = 0, q_expired = 0, q_decided = 0, q_with_majority = 0,"
    "   q_gold_votes = 0, q_gold_hits = 0, sample_key = random()"
    "   FROM c WHERE u.user_id = c.user_id RETURNING u.user_id)"
    "," HISTORY
    " SELECT user_id, 'suspended', 'active', 'suspension ended', " ACTOR ", " NOW " FROM x" ANNOUNCE;

/* Admit eligible users who are not reviewers yet, or were retired. */
static const char add_sql[] =
    "WITH c AS (SELECT u.user_id, u.status AS old FROM users u"
    " WHERE (u.status IS NULL OR u.status = 'retired') AND " ELIGIBLE " FOR UPDATE),"
    " x AS (UPDATE users u SET status = 'active', reason = 'eligible', status_changed_at = " NOW ","
    "   sample_key = random() FROM c WHERE u.user_id = c.user_id RETURNING u.user_id, c.old)"
    "," HISTORY
    " SELECT user_id, old, 'active', 'eligible', " ACTOR ", " NOW " FROM x" ANNOUNCE;

/* Quality policy (quality.h: rv_quality_check), on the counters since the
 * last reinstatement; the n-th suspension lasts the n-th step of
 * suspend_days (rv_suspend_days: the last step repeats).
 * $1 now  $2 min_decided_votes  $3 min_accuracy  $4 max_no_show_rate
 * $5 suspend_days steps (int[], one element for the integer form)
 * $6 min_gold_votes  $7 min_gold_accuracy. */
#define LOW_ACCURACY "(u.q_decided >= $2::int AND u.q_decided > 0 AND u.q_with_majority::float8 / u.q_decided < $3::float8)"
#define LOW_GOLD                                                                                                     \
    "(u.q_gold_votes >= $6::int AND u.q_gold_votes > 0 AND u.q_gold_hits::float8 / u.q_gold_votes < $7::float8)"
#define NO_SHOWS                                                                                                     \
    "(u.q_voted + u.q_expired >= $2::int AND u.q_voted + u.q_expired > 0"                                            \
    " AND u.q_expired::float8 / (u.q_voted + u.q_expired) > $4::float8)"
static const char suspend_sql[] =
    "WITH c AS (SELECT u.user_id, u.status AS old,"
    "   CASE WHEN " LOW_ACCURACY " THEN format('accuracy %s below %s', round(u.q_with_majority::numeric / u.q_decided, 3), $3::float8)"
    "        WHEN " LOW_GOLD " THEN format('gold accuracy %s below %s', round(u.q_gold_hits::numeric / u.q_gold_votes, 3), $7::float8)"
    "        ELSE format('no-show rate %s above %s', round(u.q_expired::numeric / (u.q_voted + u.q_expired), 3), $4::float8)"
    "   END AS why,"
    "   ($5::int[])[least(u.suspensions + 1, cardinality($5::int[]))] AS days"
    " FROM users u WHERE u.status IN ('active', 'paused') AND (" LOW_ACCURACY " OR " LOW_GOLD " OR " NO_SHOWS ")"
    " FOR UPDATE),"
    " x AS (UPDATE users u SET status = 'suspended', reason = c.why, status_changed_at = " NOW ","
    "   suspended_until = " NOW " + c.days * interval '1 day', suspensions = u.suspensions + 1"
    "   FROM c WHERE u.user_id = c.user_id RETURNING u.user_id, c.old, c.why, c.days, u.suspended_until),"
    " h AS (INSERT INTO reviewer_status_history (user_id, from_status, to_status, reason, actor, changed_at,"
    "   suspend_days, suspended_until)"
    " SELECT user_id, old, 'suspended', why, " ACTOR ", " NOW ", days, suspended_until FROM x" ANNOUNCE;

typedef struct adjust_ctx {
    int wait;
    double now;
    rv_adjust_counts *out;
} adjust_ctx;

static int exec_count(sg_pg *c, const char *sql, int n, const char *const *params, long *count)
{
    PGresult *r = sg_pg_query(c, sql, n, params);
    int rc = SG_OK;
    if (!sg_pg_ok(r))
        rc = sg_pg_err(c);
    else if (count)
        *count = atol(PQcmdTuples(r));
    PQclear(r);
    return rc;
}

/* Runs one of the statements above (wrapped by ANNOUNCE): *count = its
 * changes, each announced one written to the outbox. */
static int exec_announce(sg_pg *c, const char *sql, int n, const char *const *params, long *count)
{
    PGresult *r = sg_pg_query(c, sql, n, params);
    int rc = SG_OK;

    if (!sg_pg_ok(r) || PQntuples(r) < 1) {
        rc = sg_pg_err(c);
        goto cleanup;
    }
    *count = atol(PQgetvalue(r, 0, 0));
    for (int i = 0; rc == SG_OK && i < PQntuples(r); i++) {
        rv_status from, to;
        if (PQgetisnull(r, i, 1) || rv_status_parse(rv_cell_str(r, i, 2), &from)
            || rv_status_parse(rv_cell_str(r, i, 3), &to))
            continue;
        rc = rv_store_status_announce(c, PQgetvalue(r, i, 1), from, to, rv_cell_str(r, i, 4));
    }
cleanup:
    PQclear(r);
    return rc;
}

static int adjust_tx(sg_pg *c, void *arg)
{
    adjust_ctx *x = arg;
    rv_pool_rule rule;
    rv_quality_policy q;
    rv_pool_cutoffs cut;
    char now[32], credit[16], before[32], inc[RV_TAGS_TEXT_MAX], exc[RV_TAGS_TEXT_MAX], w1[16], w2[16], nweeks[16],
        oldest[32];
    char mind[16], acc[32], noshow[32], days[RV_SUSPEND_STEPS_MAX * 6 + 3], gmin[16], gacc[32];
    size_t off = 0;
    int rc;
    PGresult *r;

    r = sg_pg_query(c,
                    x->wait ? "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.pool-adjust')), true"
                            : "SELECT 1, pg_try_advisory_xact_lock(hashtext(current_schema() || '.pool-adjust'))",
                    0, NULL);
    if (!sg_pg_ok(r) || PQntuples(r) != 1) {
        PQclear(r);
        return sg_pg_err(c);
    }
    rc = rv_cell_bool(r, 0, 1) ? SG_OK : RV_BUSY;
    PQclear(r);
    if (rc != SG_OK)
        return rc;
    if ((rc = rv_store_pool_rule_current(c, &rule, NULL)) != SG_OK
        || (rc = rv_store_quality_policy_current(c, &q, NULL)) != SG_OK)
        return rc;

    rv_pool_cutoffs_of(&rule, x->now, &cut);
    rv_pg_epoch(x->now, now, sizeof(now));
    snprintf(credit, sizeof(credit), "%d", rule.min_credit_score);
    rv_pg_epoch(cut.registered_before, before, sizeof(before));
    rv_tags_pg(&rule.include_tags_any, inc, sizeof(inc));
    rv_tags_pg(&rule.exclude_tags, exc, sizeof(exc));
    sg_day_format(cut.first_week, w1, sizeof(w1));
    sg_day_format(cut.last_week, w2, sizeof(w2));
    snprintf(nweeks, sizeof(nweeks), "%d", cut.weeks);

    const char *const *base = SG_P(now, credit, before, inc, exc, w1, w2, nweeks);
    const char *retire_params[13] = {now, credit, before, inc, exc, w1, w2, nweeks,
                                     rv_elig_reason(RV_ELIG_EXCLUDED_TAG), rv_elig_reason(RV_ELIG_NO_INCLUDED_TAG),
                                     rv_elig_reason(RV_ELIG_CREDIT), rv_elig_reason(RV_ELIG_ACCOUNT_AGE),
                                     rv_elig_reason(RV_ELIG_INACTIVE)};
    if ((rc = exec_announce(c, retire_sql, 13, retire_params, &x->out->retired)) != SG_OK
        || (rc = exec_announce(c, reinstate_sql, 8, base, &x->out->reinstated)) != SG_OK
        || (rc = exec_announce(c, add_sql, 8, base, &x->out->added)) != SG_OK)
        return rc;

    snprintf(mind, sizeof(mind), "%d", q.min_decided_votes);
    snprintf(acc, sizeof(acc), "%.17g", q.min_accuracy);
    snprintf(noshow, sizeof(noshow), "%.17g", q.max_no_show_rate);
    snprintf(gmin, sizeof(gmin), "%d", q.min_gold_votes);
    snprintf(gacc, sizeof(gacc), "%.17g", q.min_gold_accuracy);
    /* The steps as an array literal; the integer form is a list of one. */
    for (int i = 0; i < (q.nsteps > 0 ? q.nsteps : 1); i++)
        off += (size_t)snprintf(days + off, sizeof(days) - off, "%s%d", i ? "," : "{", rv_suspend_days(&q, i + 1));
    snprintf(days + off, sizeof(days) - off, "}");
    if ((rc = exec_announce(c, suspend_sql, 7, SG_P(now, mind, acc, noshow, days, gmin, gacc), &x->out->suspended))
        != SG_OK)
        return rc;

    /* Pair counts older than the pair limit's 30 days, and pair agreement
     * older than its 90 days, are never read again. */
    rv_pg_epoch(x->now - 90.0 * 86400.0, oldest, sizeof(oldest));
    if ((rc = exec_count(c,
                         "WITH d AS (DELETE FROM pair_cases WHERE decided_at < " RV_AT("$1") " RETURNING a, b, agreed),"
                         " s AS (SELECT a, b, count(*) AS n, count(*) FILTER (WHERE agreed) AS g FROM d GROUP BY a, b)"
                         " UPDATE pair_totals t SET cases = t.cases - s.n, agreed = t.agreed - s.g FROM s"
                         " WHERE t.a = s.a AND t.b = s.b",
                         1, SG_P(oldest), NULL)) != SG_OK
        || (rc = exec_count(c, "DELETE FROM pair_totals WHERE cases = 0", 0, NULL, NULL)) != SG_OK)
        return rc;
    sg_day_format(sg_day_of(x->now) - 31, oldest, sizeof(oldest));
    if ((rc = exec_count(c, "DELETE FROM pair_days WHERE day < $1::date", 1, SG_P(oldest), NULL)) != SG_OK)
        return rc;
    /* Activity older than the longest rule (52 weeks) can never count again. */
    sg_day_format(sg_week_of_day(sg_day_of(x->now)) - 7L * 53, oldest, sizeof(oldest));
    return exec_count(c, "DELETE FROM activity_weeks WHERE week_start < $1::date", 1, SG_P(oldest), NULL);
}

int rv_store_pool_adjust(sg_pg_pool *p, int wait, double now, rv_adjust_counts *out)
{
    adjust_ctx x = {wait, now, out};
    *out = (rv_adjust_counts){0, 0, 0, 0};
    return sg_pg_tx(p, SG_TX_READ_COMMITTED, adjust_tx, &x);
}
