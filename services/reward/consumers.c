/* Consumers; see consumers.h. */
#include "consumers.h"

#include <stdlib.h>
#include <string.h>
#include "grant.h"
#include "sg/app.h"
#include "sg/json.h"
#include "sg/log.h"
#include "sg/outbox.h"
#include "store_grants.h"
#include "store_rules.h"
#include "svc.h"

typedef struct grant_run {
    sg_pg *c;
    const sg_kafka_msg *m;
    const reward_decision *d;
    const char *event_id;
    reward_rule rule;
    char rule_type[33];
    int rule_version;
    char day[11];                 /* the UTC day the grants count against */
    long long paid_total, capped; /* for the log line */
} grant_run;

static int announce(grant_run *g, const reward_grant *gr, long long amount, const char *entry_id)
{
    json_t *ev = json_pack("{s:s, s:I, s:s, s:s, s:s}", "user_id", gr->user_id, "amount", (json_int_t)amount, "kind",
                           reward_kind_name(gr->kind), "case_id", g->d->case_id, "entry_id", entry_id);
    if (!ev)
        return SG_ERR_DB;
    int rc = sg_outbox_add(g->c, SG_T_REWARD_GRANTED, gr->user_id, SG_T_REWARD_GRANTED, ev, g->m->traceparent);
    json_decref(ev);
    return rc;
}

/* One grant, its user's rows locked: pay what the cap allows given
 * *paid_today, record it, announce the payment. */
static int grant_one(grant_run *g, const reward_grant *gr, long long *paid_today)
{
    long long pay = reward_cap_pay(g->rule.daily_cap_per_user, *paid_today, gr->amount);
    char entry_id[37];
    int exists = 0;

    store_grant rec = {.case_id = g->d->case_id, .user_id = gr->user_id, .kind = reward_kind_name(gr->kind),
                       .report_type = g->d->report_type, .rule_type = g->rule_type,
                       .rule_version = g->rule_version, .day = g->day, .amount_due = gr->amount,
                       .amount_paid = pay, .event_id = g->event_id};
    int rc = store_grant_record(g->c, &rec, &exists, entry_id);
    if (rc == REWARD_DUPLICATE)
        return SG_ERR_RETRY; /* the retry sees the other grant and skips it */
    if (rc != SG_OK || exists)
        return rc;
    *paid_today += pay;
    g->paid_total += pay;
    if (pay < gr->amount)
        g->capped++;
    return pay > 0 ? announce(g, gr, pay, entry_id) : SG_OK;
}

/* grants is sorted by user: users[] gets each user once, in that order. */
static int grant_all(grant_run *g, const reward_grant *grants, size_t n)
{
    const char **users = calloc(n ? n : 1, sizeof *users);
    long long *paid = calloc(n ? n : 1, sizeof *paid);
    size_t nu = 0;
    int rc = SG_ERR_DB;

    if (!users || !paid)
        goto cleanup;
    for (size_t i = 0; i < n; i++)
        if (nu == 0 || strcmp(users[nu - 1], grants[i].user_id) != 0)
            users[nu++] = grants[i].user_id;
    rc = store_grant_lock_users(g->c, users, nu, g->d->occurred_at, g->day, paid);
    for (size_t i = 0, u = 0; rc == SG_OK && i < n; i++) {
        if (strcmp(users[u], grants[i].user_id) != 0)
            u++;
        rc = grant_one(g, &grants[i], &paid[u]);
    }
cleanup:
    free(users);
    free(paid);
    return rc;
}

int reward_on_case_decided(sg_pg *c, const sg_kafka_msg *m, const json_t *payload, void *ctx)
{
    (void)ctx;
    reward_decision d;
    reward_grant *grants = NULL;
    size_t n = 0;
    char err[256];
    int rc;

    rc = reward_decision_parse(payload, &d, err, sizeof err);
    if (rc != 0) {
        sg_error("sg.case.decided: %s event: %s", rc == -1 ? "dropping invalid" : "cannot handle", err);
        return rc == -1 ? REWARD_INVALID_EVENT : SG_ERR_DB;
    }
    grant_run g = {.c = c, .m = m, .d = &d};
    g.event_id = m->event_id ? m->event_id : sg_json_str(payload, "event_id");
    if (d.verdict == REWARD_VERDICT_NONE) {
        sg_info("case %s decided without a verdict: no rewards", d.case_id);
        rc = SG_OK;
        goto cleanup;
    }
    if ((rc = store_case_lock(c, d.case_id)) != SG_OK)
        goto cleanup;
    rc = store_rule_effective(c, d.report_type, &g.rule, g.rule_type, &g.rule_version);
    if (rc == REWARD_NOT_FOUND) {
        /* Retried, not dropped: coins are owed once a rule exists again. */
        sg_error("case %s: no reward rule for %s nor %s", d.case_id, d.report_type, REWARD_DEFAULT_TYPE);
        rc = SG_ERR_DB;
    }
    if (rc != SG_OK)
        goto cleanup;
    if (reward_compute(&g.rule, &d, &grants, &n) != 0) {
        rc = SG_ERR_DB;
        goto cleanup;
    }
    if (n > 0 && (rc = grant_all(&g, grants, n)) != SG_OK)
        goto cleanup;
    sg_info("case %s: %zu grants due under rule %s v%d, %lld coins paid, %lld capped", d.case_id, n, g.rule_type,
            g.rule_version, g.paid_total, g.capped);
cleanup:
    free(grants);
    reward_decision_free(&d);
    return rc;
}
