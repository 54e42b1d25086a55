/* Reward computation; see grant.h. */
#include "grant.h"

#include <stdlib.h>
#include <string.h>

const char *rw_kind_name(rw_kind k)
{
    switch (k) {
    case RW_KIND_VOTE: return "vote";
    case RW_KIND_MAJORITY_BONUS: return "majority_bonus";
    case RW_KIND_REPORTER: return "reporter";
    }
    return "unknown";
}

static int grant_cmp(const void *a, const void *b)
{
    const rw_grant *x = a, *y = b;
    int c = strcmp(x->user_id, y->user_id);
    return c ? c : (int)x->kind - (int)y->kind;
}

static void add(rw_grant *g, size_t *n, const char *user, rw_kind kind, long long amount)
{
    if (amount <= 0)
        return;
    g[*n].user_id = user;
    g[*n].kind = kind;
    g[*n].amount = amount;
    (*n)++;
}

int rw_compute(const rw_rule *rule, const rw_decision *d, unsigned what, const rw_final *fin, rw_grant **out,
               size_t *n)
{
    rw_grant *g = NULL;
    size_t cnt = 0, kept = 0;

    *out = NULL;
    *n = 0;
    if (d->verdict == RW_VERDICT_NONE)
        return 0;
    if ((what & RW_DUE_SETTLEMENT) && (!fin || fin->final == RW_VERDICT_NONE))
        what &= ~RW_DUE_SETTLEMENT;
    rw_verdict bonus = !(what & RW_DUE_SETTLEMENT) ? RW_VERDICT_NONE
                       : fin->bonus != RW_VERDICT_NONE ? fin->bonus : fin->final;
    /* At most two grants per ballot and one per reporter. */
    size_t cap = 2 * d->nballots + d->nreporters;
    if (cap == 0)
        return 0;
    if (!(g = malloc(cap * sizeof *g)))
        return -1;
    for (size_t i = 0; i < d->nballots; i++) {
        const rw_ballot *b = &d->ballots[i];
        if (!b->voted)
            continue;
        if (what & RW_DUE_VOTES)
            add(g, &cnt, b->reviewer_id, RW_KIND_VOTE, rule->vote_reward);
        if (bonus != RW_VERDICT_NONE && b->decision == bonus)
            add(g, &cnt, b->reviewer_id, RW_KIND_MAJORITY_BONUS, rule->majority_bonus);
    }
    if ((what & RW_DUE_SETTLEMENT) && fin->final == RW_VERDICT_VIOLATION)
        for (size_t i = 0; i < d->nreporters; i++)
            add(g, &cnt, d->reporter_ids[i], RW_KIND_REPORTER, rule->reporter_reward);
    if (cnt == 0) {
        free(g);
        return 0;
    }
    qsort(g, cnt, sizeof *g, grant_cmp);
    for (size_t i = 0; i < cnt; i++)
        if (kept == 0 || grant_cmp(&g[kept - 1], &g[i]) != 0)
            g[kept++] = g[i];
    *out = g;
    *n = kept;
    return 0;
}

long long rw_cap_pay(long long cap, long long paid_today, long long due)
{
    if (due <= 0 || paid_today >= cap)
        return 0;
    long long room = cap - paid_today;
    return due < room ? due : room;
}

void rw_cap_pay_all(long long cap, const char *const *users, const long long *due, size_t n, long long *today,
                        long long *paid)
{
    for (size_t i = 0, u = 0; i < n; i++) {
        if (i > 0 && strcmp(users[i - 1], users[i]) != 0)
            u++;
        paid[i] = rw_cap_pay(cap, today[u], due[i]);
        today[u] += paid[i];
    }
}
