/* Consumers; see svc.h. */
#include "svc.h"

#include <stdlib.h>
#include <string.h>
#include "grant.h"
#include "sg/json.h"
#include "sg/log.h"
#include "store.h"

typedef struct grant_run {
    sg_pg *c;
    const sg_kafka_msg *m;
    const rw_decision *d;
    const char *event_id;
    const char *at;               /* the event's occurred_at: its UTC day is the one the grants count against */
    rw_rule rule;
    char rule_type[33];
    int rule_version;
    char day[11];                 /* the UTC day the grants count against */
    long long paid_total, capped; /* for the log line */
} grant_run;

/* The grants of a case that are new, as the parallel arrays a
 * rw_store_grant_batch points to (each array malloc'ed, of the case's grant
 * count; the strings borrowed from the grants' decision). cases[i] is the
 * case grant i is keyed by: the decided case, or for a reporter grant the
 * reported case (the appealed one when this is an appeal). */
typedef struct new_grants {
    size_t n;
    const char **cases, **users, **kinds;
    long long *due, *paid;
    const char **also;            /* scratch: per grant, another case it may exist under, or NULL */
    unsigned char *exists;        /* scratch: per grant of the case */
} new_grants;

static void new_grants_free(new_grants *ng)
{
    free(ng->cases);
    free(ng->also);
    free(ng->users);
    free(ng->kinds);
    free(ng->due);
    free(ng->paid);
    free(ng->exists);
}

/* Fills ng with those of grants[0..n) the case has no row of yet, in
 * their order. */
static int collect_new(grant_run *g, const rw_grant *grants, size_t n, new_grants *ng)
{
    ng->cases = calloc(n, sizeof *ng->cases);
    ng->users = calloc(n, sizeof *ng->users);
    ng->kinds = calloc(n, sizeof *ng->kinds);
    ng->due = calloc(n, sizeof *ng->due);
    ng->paid = calloc(n, sizeof *ng->paid);
    ng->also = calloc(n, sizeof *ng->also);
    ng->exists = calloc(n, sizeof *ng->exists);
    if (!ng->cases || !ng->users || !ng->kinds || !ng->due || !ng->paid || !ng->also || !ng->exists)
        return SG_ERR_DB;
    for (size_t i = 0; i < n; i++) {
        int reporter = grants[i].kind == RW_KIND_REPORTER;
        ng->cases[i] = reporter ? rw_decision_reported_case(g->d) : g->d->case_id;
        /* Releases before this one keyed an appeal's reporter grants by the
         * appeal: one recorded so is not paid again. */
        ng->also[i] = reporter && g->d->appeal_of ? g->d->case_id : NULL;
        ng->users[i] = grants[i].user_id;
        ng->kinds[i] = rw_kind_name(grants[i].kind);
        ng->due[i] = grants[i].amount;
    }
    int rc = rw_store_grants_existing(g->c, ng->cases, ng->also, ng->users, ng->kinds, n, ng->exists);
    for (size_t i = 0; rc == SG_OK && i < n; i++) {
        if (ng->exists[i])
            continue;
        ng->cases[ng->n] = ng->cases[i];
        ng->users[ng->n] = ng->users[i];
        ng->kinds[ng->n] = ng->kinds[i];
        ng->due[ng->n] = ng->due[i];
        ng->n++;
    }
    return rc;
}

/* Locks the rows of ng's users (each once, in ng's order: sorted) and pays
 * each grant what the daily cap allows, given what its user was paid that
 * day so far and by the grants before it. */
static int lock_and_cap(grant_run *g, new_grants *ng)
{
    const char **users = calloc(ng->n, sizeof *users);
    long long *today = calloc(ng->n, sizeof *today);
    size_t nu = 0;
    int rc = SG_ERR_DB;

    if (!users || !today)
        goto cleanup;
    for (size_t i = 0; i < ng->n; i++)
        if (nu == 0 || strcmp(users[nu - 1], ng->users[i]) != 0)
            users[nu++] = ng->users[i];
    if ((rc = rw_store_grant_lock_users(g->c, users, nu, g->at, g->day, today)) != SG_OK)
        goto cleanup;
    rw_cap_pay_all(g->rule.daily_cap_per_user, ng->users, ng->due, ng->n, today, ng->paid);
    for (size_t i = 0; i < ng->n; i++) {
        g->paid_total += ng->paid[i];
        if (ng->paid[i] < ng->due[i])
            g->capped++;
    }
cleanup:
    free(users);
    free(today);
    return rc;
}

/* Records those of ng's grants that are keyed by case_id with one database
 * call, in ng's order. */
static int record_case(grant_run *g, const new_grants *ng, const char *case_id)
{
    const char **users = calloc(ng->n, sizeof *users), **kinds = calloc(ng->n, sizeof *kinds);
    long long *due = calloc(ng->n, sizeof *due), *paid = calloc(ng->n, sizeof *paid);
    size_t k = 0;
    int rc = SG_ERR_DB;

    if (!users || !kinds || !due || !paid)
        goto cleanup;
    for (size_t i = 0; i < ng->n; i++) {
        if (strcmp(ng->cases[i], case_id) != 0)
            continue;
        users[k] = ng->users[i];
        kinds[k] = ng->kinds[i];
        due[k] = ng->due[i];
        paid[k] = ng->paid[i];
        k++;
    }
    rc = SG_OK;
    if (k > 0) {
        rw_store_grant_batch b = {.case_id = case_id, .report_type = g->d->report_type, .rule_type = g->rule_type,
                               .rule_version = g->rule_version, .day = g->day, .event_id = g->event_id,
                               .traceparent = g->m->traceparent ? g->m->traceparent : sg_log_traceparent(),
                               .n = k, .user_ids = users, .kinds = kinds, .amount_due = due, .amount_paid = paid};
        rc = rw_store_grant_batch_record(g->c, &b);
        if (rc == RW_DUPLICATE)
            rc = SG_ERR_RETRY; /* the retry sees the other grant and skips it */
    }
cleanup:
    free(users);
    free(kinds);
    free(due);
    free(paid);
    return rc;
}

/* grants is sorted by user then kind. Grants that exist already are skipped
 * (no posting, no event); the others are paid within the cap, recorded and
 * announced with one database call per case they are keyed by: two only
 * for an appeal's reporter grants, and then in the order of the two cases'
 * platform shards, whose rows each call locks. */
static int grant_all(grant_run *g, const rw_grant *grants, size_t n)
{
    new_grants ng = {0};
    const char *keys[2] = {g->d->case_id, rw_decision_reported_case(g->d)};
    int rc = collect_new(g, grants, n, &ng), first = 1;

    if (rc == SG_OK && ng.n > 0)
        rc = lock_and_cap(g, &ng);
    if (rc == SG_OK && ng.n > 0 && strcmp(keys[0], keys[1]) != 0)
        rc = rw_store_grant_shard_order(g->c, keys[0], keys[1], &first);
    if (rc == SG_OK && ng.n > 0)
        rc = record_case(g, &ng, keys[first ? 0 : 1]);
    if (rc == SG_OK && ng.n > 0 && strcmp(keys[0], keys[1]) != 0)
        rc = record_case(g, &ng, keys[first ? 1 : 0]);
    new_grants_free(&ng);
    return rc;
}

/* Takes the case locks of d: its own, then for an appeal the reported
 * case's (which its reporter grants are keyed by). Every consumer takes them
 * in this order, and a case that is not an appeal is its own reported case,
 * so no two transactions wait for each other's locks. */
static int lock_case(sg_pg *c, const char *case_id, const char *appeal_of)
{
    int rc = rw_store_case_lock(c, case_id);
    if (rc == SG_OK && appeal_of)
        rc = rw_store_case_lock(c, appeal_of);
    return rc;
}

/* Records d's settlement: its pending grants (what finality pays if the
 * first verdict stands), or, when its finalization came first, the final
 * verdicts in *fin with *state RW_SETTLEMENT_NOW. */
static int record_settlement(grant_run *g, const json_t *payload, rw_settlement_state *state, rw_final *fin)
{
    const rw_decision *d = g->d;
    rw_final first = {.final = d->verdict, .bonus = d->verdict};
    rw_grant *held = NULL;
    size_t n = 0;
    const char **users = NULL, **kinds = NULL;
    long long *amounts = NULL;
    char *text = NULL;
    int rc = SG_ERR_DB;

    if (rw_compute(&g->rule, d, RW_DUE_SETTLEMENT, &first, &held, &n) != 0)
        goto cleanup;
    if (n > 0 && (!(users = calloc(n, sizeof *users)) || !(kinds = calloc(n, sizeof *kinds)) ||
                  !(amounts = calloc(n, sizeof *amounts))))
        goto cleanup;
    for (size_t i = 0; i < n; i++) {
        users[i] = held[i].user_id;
        kinds[i] = rw_kind_name(held[i].kind);
        amounts[i] = held[i].amount;
    }
    if (!(text = json_dumps(payload, JSON_COMPACT)))
        goto cleanup;
    rw_store_settlement s = {.case_id = d->case_id, .appeal_of = d->appeal_of, .report_type = d->report_type,
                             .rule_type = g->rule_type, .rule_version = g->rule_version, .decision = text,
                             .n = n, .user_ids = users, .kinds = kinds, .amounts = amounts};
    rc = rw_store_settlement_record(g->c, &s, state, fin);
cleanup:
    free(held);
    free(users);
    free(kinds);
    free(amounts);
    free(text);
    return rc;
}

/* Pays the grants of d for the stages in `what` (grant.h) and logs them. */
static int pay(grant_run *g, unsigned what, const rw_final *fin, const char *stage)
{
    rw_grant *grants = NULL;
    size_t n = 0;
    int rc = SG_OK;

    if (rw_compute(&g->rule, g->d, what, fin, &grants, &n) != 0)
        return SG_ERR_DB;
    if (n > 0)
        rc = grant_all(g, grants, n);
    if (rc == SG_OK)
        sg_info("case %s %s: %zu grants due under rule %s v%d, %lld coins paid, %lld capped", g->d->case_id,
                stage, n, g->rule_type, g->rule_version, g->paid_total, g->capped);
    free(grants);
    return rc;
}

int rw_on_case_decided(sg_pg *c, const sg_kafka_msg *m, const json_t *payload, void *ctx)
{
    (void)ctx;
    rw_decision d;
    char err[256];
    int rc;

    rc = rw_decision_parse(payload, &d, err, sizeof err);
    if (rc != 0) {
        sg_error("sg.case.decided: %s event: %s", rc == -1 ? "dropping invalid" : "cannot handle", err);
        return rc == -1 ? RW_INVALID_EVENT : SG_ERR_DB;
    }
    grant_run g = {.c = c, .m = m, .d = &d, .at = d.occurred_at};
    g.event_id = m->event_id ? m->event_id : sg_json_str(payload, "event_id");
    if (d.verdict == RW_VERDICT_NONE) {
        sg_info("case %s decided without a verdict: no rewards", d.case_id);
        rc = SG_OK;
        goto cleanup;
    }
    if ((rc = lock_case(c, d.case_id, d.appeal_of)) != SG_OK)
        goto cleanup;
    /* The rule in force when the case opened (v1 events: when decided). */
    rc = rw_store_rule_in_force(c, d.report_type, d.opened_at ? d.opened_at : d.occurred_at, &g.rule, g.rule_type,
                                &g.rule_version);
    if (rc == RW_NOT_FOUND) {
        /* Retried, not dropped: coins are owed once a rule exists again. */
        sg_error("case %s: no reward rule for %s nor %s", d.case_id, d.report_type, RW_DEFAULT_TYPE);
        rc = SG_ERR_DB;
    }
    if (rc != SG_OK)
        goto cleanup;
    rw_settlement_state state;
    rw_final fin = {RW_VERDICT_NONE, RW_VERDICT_NONE};
    if ((rc = record_settlement(&g, payload, &state, &fin)) != SG_OK)
        goto cleanup;
    if (state == RW_SETTLEMENT_NOW)
        rc = pay(&g, RW_DUE_VOTES | RW_DUE_SETTLEMENT, &fin, "decided after its finalization, settled");
    else
        rc = pay(&g, RW_DUE_VOTES, NULL, state == RW_SETTLEMENT_PENDING ? "decided, pending finality" : "decided");
cleanup:
    rw_decision_free(&d);
    return rc;
}

int rw_on_case_finalized(sg_pg *c, const sg_kafka_msg *m, const json_t *payload, void *ctx)
{
    (void)ctx;
    rw_finalization f;
    rw_decision d = {0};
    json_t *decision = NULL;
    rw_final fin = {RW_VERDICT_NONE, RW_VERDICT_NONE};
    char err[256];
    int rc;

    if (rw_finalization_parse(payload, &f, err, sizeof err) != 0) {
        sg_error("sg.case.finalized: dropping invalid event: %s", err);
        return RW_INVALID_EVENT;
    }
    grant_run g = {.c = c, .m = m, .d = &d, .at = f.occurred_at};
    g.event_id = m->event_id ? m->event_id : sg_json_str(payload, "event_id");
    if ((rc = rw_store_case_lock(c, f.case_id)) != SG_OK)
        return rc;
    rc = rw_store_settlement_finalize(c, &f, g.event_id, &decision, &fin, &g.rule, g.rule_type, &g.rule_version);
    if (rc != SG_OK)
        goto cleanup;
    if (!decision) {
        sg_info("case %s finalized (%s): nothing to settle now", f.case_id, rw_verdict_name(f.final_verdict));
        goto cleanup;
    }
    rc = rw_decision_parse(decision, &d, err, sizeof err);
    if (rc != 0) {
        /* It was valid when recorded: the database is not what it should be. */
        sg_error("case %s: recorded decision unreadable: %s", f.case_id, err);
        rc = SG_ERR_DB;
        goto cleanup;
    }
    if (d.appeal_of && (rc = rw_store_case_lock(c, d.appeal_of)) != SG_OK)
        goto cleanup;
    rc = pay(&g, RW_DUE_SETTLEMENT, &fin, "finalized, settled");
cleanup:
    rw_decision_free(&d);
    json_decref(decision);
    return rc;
}
