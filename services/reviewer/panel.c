/* See panel.h for the algorithm and why it does not scan the pool. */
#include "panel.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "quality.h"
#include "selection.h"
#include "store.h"

/* A pick refused by the re-check is replaced by the next in the weighted
 * order; after refusals the next round locks more rows at once (up to this),
 * so a cold cache over a busy pool costs a few round trips, not dozens. */
#define CONFIRM_BATCH_MAX 64

typedef struct sel {
    rv_svc *s;
    sg_pg *c;
    rv_select_filter f;
    rv_rows **windows;    /* kept: candidates' strings point into them */
    int nwindows;
    rv_candidate *cands;
    size_t ncands;
    size_t *surv;         /* indices into cands */
    size_t nsurv;
    const char *const *on_case; /* reviewers seated in earlier rounds */
    size_t non_case;
    /* Where gather goes on: the random start, the range left to read, the
     * windows read, and whether the pool is used up. */
    double start, lo, hi, last;
    int k, wrapped, whole_pool, reread, exhausted;
    int seated_locked;    /* on_case rows held FOR SHARE (pair limit) */
} sel;

static uint64_t seed_of_os(void)
{
    uint64_t seed;
    if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed)) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)(uintptr_t)&ts;
    }
    return seed;
}

/* Index of id among cands[from, to), or -1. */
static long find_cand(const rv_candidate *cands, size_t from, size_t to, const char *id)
{
    for (size_t i = from; i < to; i++)
        if (strcmp(cands[i].user_id, id) == 0)
            return (long)i;
    return -1;
}

/* Fills the fatigue state of cands[from, to) from the Redis cache. A miss
 * keeps the zero state, i.e. passes the pre-filter: the locked re-check
 * against PostgreSQL is the fallback, and it reads exactly the reviewers that
 * would be chosen instead of every candidate of the window. */
static int fill_fatigue(sel *x, size_t from, size_t to)
{
    size_t n = to - from, hits;
    const char **ids = malloc(n * sizeof(*ids));
    rv_fatigue_state *st = malloc(n * sizeof(*st));
    unsigned char *found = malloc(n);
    int rc = SG_ERR_DB;

    if (!ids || !st || !found)
        goto cleanup;
    for (size_t i = 0; i < n; i++)
        ids[i] = x->cands[from + i].user_id;
    hits = rv_fcache_get(x->s->fcache, n, ids, st, found);
    for (size_t i = 0; i < n; i++)
        if (found[i])
            x->cands[from + i].fatigue = st[i];
    rv_count(x->s, "sg_reviewer_fatigue_cache_lookups_total", "result=\"hit\"", (double)hits);
    rv_count(x->s, "sg_reviewer_fatigue_cache_lookups_total", "result=\"miss\"", (double)(n - hits));
    rc = SG_OK;
cleanup:
    free(ids);
    free(st);
    free(found);
    return rc;
}

/* Reads one window [lo, hi) of up to w candidates, keeps those not seen in
 * an earlier window, and adds the ones that pass the pre-filter. */
static int read_window(sel *x, double lo, double hi, int w, const rv_tags *required, int *got, double *last)
{
    rv_rows *res = NULL;
    size_t base = x->ncands;
    int rc = rv_store_window(x->c, lo, hi, w, required, &res, x->cands + base, got, last);
    if (rc != SG_OK)
        return rc;
    x->windows[x->nwindows++] = res;
    /* A reviewer chosen by a concurrent selection gets a new key and may
     * show up again in a later window: keep the first sighting only. */
    size_t keep = base;
    for (int i = 0; i < *got; i++) {
        if (base > 0 && find_cand(x->cands, 0, base, x->cands[base + (size_t)i].user_id) >= 0)
            continue;
        x->cands[keep++] = x->cands[base + (size_t)i];
    }
    x->ncands = keep;
    if (keep > base) {
        if ((rc = fill_fatigue(x, base, keep)) != SG_OK)
            return rc;
        for (size_t i = base; i < keep; i++)
            if (rv_candidate_check(&x->f, &x->cands[i]) == RV_CAND_OK)
                x->surv[x->nsurv++] = i;
    }
    return SG_OK;
}

/* Reads further windows, from where the last call stopped, until `want`
 * candidates survived the pre-filter in all or the windows are used up
 * (x->exhausted). */
static int gather(sel *x, size_t want, const rv_tags *required)
{
    int w = (int)x->s->window, got = 0, rc;

    while (!x->exhausted && x->nsurv < want) {
        if (x->k >= x->s->max_windows) {
            x->exhausted = 1;
            break;
        }
        if ((rc = read_window(x, x->lo, x->hi, w, required, &got, &x->last)) != SG_OK)
            return rc;
        x->k++;
        if (got == w) {
            x->lo = nextafter(x->last, 3.0);
        } else if (!x->wrapped) {
            x->wrapped = 1;
            x->lo = 0.0;
            x->hi = x->start;
        } else {
            x->whole_pool = 1;
            x->exhausted = 1;
        }
    }
    /* The windows are separate statements: a reviewer that a concurrent
     * selection re-keys between two of them can move into a range already
     * read and be missed. When the whole pool fits in one window and came up
     * short, read it again in one statement (one snapshot), so a small pool
     * is never short for that reason. (A large pool has other candidates.)
     * It can still be short when confirm passes over reviewers that another
     * selection is assigning at that moment; the refill covers those seats. */
    if (x->whole_pool && !x->reread && x->nsurv < want && x->nwindows > 1 && x->ncands < (size_t)w) {
        x->reread = 1;
        return read_window(x, 0.0, 2.0, w, required, &got, &x->last);
    }
    return SG_OK;
}

/* The pairs at their limit among (batch pick, seated or another pick):
 * seated = the earlier rounds' reviewers and the picks accepted so far. */
static int pairs_full(sel *x, const char *const *ids, size_t batch, const char *const *accepted, size_t nacc,
                      rv_rows **rows, rv_pair **full, size_t *nfull)
{
    size_t nothers = x->non_case + nacc + batch, n = 0;
    const char **as = malloc((batch * nothers + 1) * sizeof(*as));
    const char **bs = malloc((batch * nothers + 1) * sizeof(*bs));
    int rc = SG_ERR_DB;

    *rows = NULL;
    *nfull = 0;
    if (!as || !bs || !(*full = malloc((batch * nothers + 1) * sizeof(**full))))
        goto cleanup;
    for (size_t i = 0; i < batch; i++) {
        for (size_t j = 0; j < x->non_case; j++, n++)
            as[n] = ids[i], bs[n] = x->on_case[j];
        for (size_t j = 0; j < nacc; j++, n++)
            as[n] = ids[i], bs[n] = accepted[j];
        for (size_t j = i + 1; j < batch; j++, n++)
            as[n] = ids[i], bs[n] = ids[j];
    }
    rc = rv_store_pairs_full(x->c, n, as, bs, x->f.policy->max_pair_cases_30d, x->f.now, rows, *full, nfull);
cleanup:
    free(as);
    free(bs);
    return rc;
}

/* Walks the weighted order, locking and re-checking against PostgreSQL
 * (and the pair limit), until `seats` reviewers are accepted in all (*nacc
 * goes on from its value: a later pass adds to an earlier one's) or the
 * order is exhausted. Only the first round of a call with may_wait waits
 * for row locks. The accepted reviewers' states after this assignment go to
 * st (for the cache); refused picks' truth goes to the cache at once. Picks
 * whose row another transaction holds in a skipping round count in
 * *skipped, not *rejected; picks refused by the pair limit in *paired and
 * *rejected. */
static int confirm(sel *x, int seats, const size_t *order, size_t nord, int may_wait, double now,
                   const char **accepted, rv_fatigue_state *st, size_t *nacc, int *rejected, int *skipped,
                   int *paired)
{
    size_t cap = (size_t)seats > CONFIRM_BATCH_MAX ? (size_t)seats : CONFIRM_BATCH_MAX;
    const char **ids = malloc(cap * sizeof(*ids));
    const char **seated = malloc((x->non_case + (size_t)seats + 1) * sizeof(*seated));
    rv_candidate *truth = malloc(cap * sizeof(*truth));
    const char **bad = malloc(cap * sizeof(*bad));
    rv_fatigue_state *badst = malloc(cap * sizeof(*badst));
    size_t pos = 0;
    int rc = SG_ERR_DB;

    if (!ids || !seated || !truth || !bad || !badst)
        goto cleanup;
    for (size_t i = 0; i < x->non_case; i++)
        seated[i] = x->on_case[i];
    for (size_t i = 0; i < *nacc; i++)
        seated[x->non_case + i] = accepted[i];
    rc = SG_OK;
    for (int round = 0; *nacc < (size_t)seats && pos < nord; round++) {
        size_t need = (size_t)seats - *nacc, batch = need, nbad = 0;
        rv_rows *res = NULL;
        int nt = 0;
        if ((round > 0 || !may_wait) && *rejected + *skipped > 0)
            batch = need << (round < 6 ? round : 6);
        if (batch > cap)
            batch = cap;
        if (batch > nord - pos)
            batch = nord - pos;
        for (size_t i = 0; i < batch; i++)
            ids[i] = x->cands[x->surv[order[pos + i]]].user_id;
        /* Only the first round waits for locks: a transaction holding the
         * rows of its first round that waited again in a later round could
         * deadlock with another doing the same (each round is sorted, the
         * rounds together are not). A reviewer another selection is
         * assigning right now is skipped, like one the re-check refuses. */
        rc = rv_store_reviewers_truth(x->c, batch, ids, round == 0 && may_wait ? RV_LOCK_WAIT : RV_LOCK_SKIP, &res, truth, &nt);
        if (rc != SG_OK)
            goto cleanup;
        /* After the locks: a selection that seated one of these picks
         * moments ago has committed its pair counts by now. */
        rv_rows *pres = NULL;
        rv_pair *full = NULL;
        size_t nfull = 0;
        /* The seated reviewers' rows once, before the first pair check
         * (store.h: rv_store_lock_shared). A rare deadlock with another
         * selection doing the same is retried by the consumer. */
        if (x->f.policy->max_pair_cases_30d > 0 && x->non_case > 0 && !x->seated_locked) {
            if ((rc = rv_store_lock_shared(x->c, x->non_case, x->on_case)) != SG_OK) {
                rv_rows_free(res);
                goto cleanup;
            }
            x->seated_locked = 1;
        }
        if (x->f.policy->max_pair_cases_30d > 0
            && (rc = pairs_full(x, ids, batch, accepted, *nacc, &pres, &full, &nfull)) != SG_OK) {
            free(full);
            rv_rows_free(res);
            goto cleanup;
        }
        for (size_t i = 0; i < batch; i++) {
            long j = find_cand(truth, 0, (size_t)nt, ids[i]);
            int ok = j >= 0 && rv_candidate_check(&x->f, &truth[j]) == RV_CAND_OK;
            if (ok && nfull > 0 && !rv_pair_allowed(ids[i], seated, x->non_case + *nacc, full, nfull)) {
                /* Its fatigue state is fine: nothing for the cache. */
                (*paired)++;
                (*rejected)++;
                continue;
            }
            if (ok) {
                if (*nacc < (size_t)seats) {
                    accepted[*nacc] = ids[i];
                    seated[x->non_case + *nacc] = ids[i];
                    st[*nacc] = truth[j].fatigue;
                    rv_fatigue_assign(&st[*nacc], now);
                    (*nacc)++;
                }
            } else if (j < 0 && (round > 0 || !may_wait)) {
                (*skipped)++;
            } else {
                (*rejected)++;
                if (j >= 0) {
                    bad[nbad] = ids[i];
                    badst[nbad++] = truth[j].fatigue;
                }
            }
        }
        /* The cache said yes (or did not know) and the truth said no. */
        rv_fcache_put(x->s->fcache, nbad, bad, badst);
        rv_rows_free(res);
        rv_rows_free(pres);
        free(full);
        pos += batch;
    }
cleanup:
    free(ids);
    free(seated);
    free(truth);
    free(bad);
    free(badst);
    return rc;
}

static int emit(sg_pg *c, const rv_panel_req *req, size_t n, const char *const *ids, int shortfall,
                const char *traceparent)
{
    json_t *payload = rv_panel_assigned_encode(req->case_id, req->round, n, ids, shortfall);
    int rc;
    if (!payload)
        return SG_ERR_DB;
    rc = rv_store_panel_assigned_emit(c, req->case_id, payload, traceparent);
    json_decref(payload);
    return rc;
}

static int copy_result(rv_panel_result *out, size_t n, const char *const *ids)
{
    out->ids = calloc(n ? n : 1, sizeof(*out->ids));
    if (!out->ids)
        return SG_ERR_DB;
    out->n = n; /* partially filled on failure: rv_panel_result_free copes */
    for (size_t i = 0; i < n; i++)
        if (!(out->ids[i] = strdup(ids[i])))
            return SG_ERR_DB;
    return SG_OK;
}

int rv_panel_select(sg_pg *c, rv_svc *s, const rv_panel_req *req, const char *event_id, const char *traceparent,
                    double now, rv_panel_result *out)
{
    sel x = {.s = s, .c = c};
    rv_fatigue_policy policy;
    rv_rng rng;
    char **prev = NULL, **on_case = NULL;
    size_t nprev = 0, non_case = 0, cap = (size_t)s->window * (size_t)s->max_windows, nacc = 0;
    const char **excluded = NULL, **accepted = NULL;
    rv_fatigue_state *accepted_st = NULL;
    double *weights = NULL;
    size_t *order = NULL, nord;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = rv_store_panel_claim(c, req, event_id, &policy, &on_case, &non_case);
    if (rc == RV_CONFLICT) {
        /* Same (case, round) under a new event id: answer as before. */
        out->replayed = 1;
        rc = rv_store_panel_answer(c, req, &prev, &nprev, &out->shortfall);
        if (rc == SG_OK)
            rc = emit(c, req, nprev, (const char *const *)prev, out->shortfall, traceparent);
        if (rc == SG_OK)
            rc = copy_result(out, nprev, (const char *const *)prev);
        goto cleanup;
    }
    if (rc != SG_OK)
        goto cleanup;

    rc = SG_ERR_DB;
    excluded = malloc((req->nexclude + non_case + 1) * sizeof(*excluded));
    x.windows = calloc((size_t)s->max_windows + 1, sizeof(*x.windows)); /* + the re-read */
    x.cands = malloc(cap * sizeof(*x.cands));
    x.surv = malloc(cap * sizeof(*x.surv));
    accepted = malloc((size_t)req->seats * sizeof(*accepted));
    accepted_st = malloc((size_t)req->seats * sizeof(*accepted_st));
    if (!excluded || !x.windows || !x.cands || !x.surv || !accepted || !accepted_st)
        goto cleanup;
    for (size_t i = 0; i < req->nexclude; i++)
        excluded[i] = req->exclude[i];
    for (size_t i = 0; i < non_case; i++)
        excluded[req->nexclude + i] = on_case[i];
    rv_ids_sort(excluded, req->nexclude + non_case);
    x.f = (rv_select_filter){excluded, req->nexclude + non_case, &req->tags, &policy, now};
    x.on_case = (const char *const *)on_case;
    x.non_case = non_case;

    rv_rng_seed(&rng, seed_of_os());
    x.start = rv_rng_unit(&rng);
    x.lo = x.start;
    x.hi = 2.0;
    weights = malloc((cap + (size_t)s->window) * sizeof(*weights));
    order = malloc((cap + (size_t)s->window) * sizeof(*order));
    if (!weights || !order)
        goto cleanup;
    /* Usually one pass: a window, its weighted order, the seats confirmed.
     * When confirm refuses enough picks (stale cache, busy reviewers, the
     * pair limit) to run out of survivors, the next windows are read and
     * their survivors confirmed in turn, until the seats are filled or the
     * windows are used up. Only the first pass waits for row locks (see
     * confirm). */
    for (size_t tried = 0, pass = 0; nacc < (size_t)req->seats; pass++) {
        if ((rc = gather(&x, tried + (size_t)req->seats - nacc, &req->tags)) != SG_OK)
            goto cleanup;
        if (x.nsurv == tried)
            break;
        for (size_t i = tried; i < x.nsurv; i++)
            weights[i - tried] = rv_reliability(x.cands[x.surv[i]].decided, x.cands[x.surv[i]].with_majority);
        nord = rv_draw_weighted(weights, x.nsurv - tried, x.nsurv - tried, &rng, order);
        rc = SG_ERR_DB;
        if (nord < x.nsurv - tried)
            goto cleanup; /* out of memory */
        for (size_t i = 0; i < nord; i++)
            order[i] += tried;
        rc = confirm(&x, req->seats, order, nord, pass == 0, now, accepted, accepted_st, &nacc, &out->rejected,
                     &out->skipped, &out->paired);
        if (rc != SG_OK)
            goto cleanup;
        tried = x.nsurv;
    }

    out->shortfall = req->seats - (int)nacc;
    out->windows = x.nwindows;
    if ((rc = rv_store_panel_assign(c, req, nacc, accepted, out->shortfall, now)) != SG_OK
        || (rc = emit(c, req, nacc, accepted, out->shortfall, traceparent)) != SG_OK)
        goto cleanup;
    /* Write-through just before the commit (see fcache.h). */
    rv_fcache_put(s->fcache, nacc, accepted, accepted_st);
    rc = copy_result(out, nacc, accepted);
    rv_count(s, "sg_reviewer_selections_total", NULL, 1);
    if (out->shortfall > 0)
        rv_count(s, "sg_reviewer_seats_shortfall_total", NULL, out->shortfall);
    if (out->rejected > 0)
        rv_count(s, "sg_reviewer_recheck_rejections_total", NULL, out->rejected);
    if (out->skipped > 0)
        rv_count(s, "sg_reviewer_lock_skips_total", NULL, out->skipped);
    if (out->paired > 0)
        rv_count(s, "sg_reviewer_pair_limit_refusals_total", NULL, out->paired);
cleanup:
    for (int i = 0; x.windows && i < x.nwindows; i++)
        rv_rows_free(x.windows[i]);
    free(x.windows);
    free(x.cands);
    free(x.surv);
    free(excluded);
    free(accepted);
    free(accepted_st);
    free(weights);
    free(order);
    rv_ids_free(prev, nprev);
    rv_ids_free(on_case, non_case);
    return rc;
}

void rv_panel_result_free(rv_panel_result *r)
{
    rv_ids_free(r->ids, r->n);
    r->ids = NULL;
    r->n = 0;
}
