/* Panel selection, the pure part: which candidates may sit on a panel, and
 * a weighted random draw without replacement. No I/O; see panel.h for how
 * candidates are found without scanning the pool.
 */
#ifndef RV_SELECTION_H
#define RV_SELECTION_H

#include <stddef.h>
#include <stdint.h>

#include "fatigue.h"
#include "policy.h"

/* xoshiro256** — small, fast, good enough for sampling; not for secrets.
 * One generator per selection, seeded from the OS. */
typedef struct rv_rng {
    uint64_t s[4];
} rv_rng;

void rv_rng_seed(rv_rng *r, uint64_t seed);
uint64_t rv_rng_next(rv_rng *r);
/* Uniform in the open interval (0, 1). */
double rv_rng_unit(rv_rng *r);

/* A reviewer seen in a selection window. Strings borrowed. */
typedef struct rv_candidate {
    const char *user_id;
    const char *tags_csv;   /* the reviewer's tags joined by ',' */
    int active;             /* status == active */
    int decided, with_majority;
    rv_fatigue_state fatigue;
} rv_candidate;

typedef struct rv_select_filter {
    const char *const *excluded; /* sorted with rv_ids_sort; borrowed */
    size_t nexcluded;
    const rv_tags *required;     /* the rule's reviewer_tags: all needed */
    const rv_fatigue_policy *policy;
    double now;
} rv_select_filter;

typedef enum {
    RV_CAND_OK = 0,
    RV_CAND_EXCLUDED,  /* reporter, content owner, already on the case, ... */
    RV_CAND_INACTIVE,  /* status is not active */
    RV_CAND_TAGS,      /* lacks a required tag */
    RV_CAND_FATIGUE,   /* at a fatigue limit */
} rv_cand;

/* Why c may not be chosen, or RV_CAND_OK. */
rv_cand rv_candidate_check(const rv_select_filter *f, const rv_candidate *c);

/* Sorts an id array (strcmp order) for rv_ids_contains. */
void rv_ids_sort(const char **ids, size_t n);
/* 1 when id is in the sorted array. */
int rv_ids_contains(const char *const *sorted, size_t n, const char *id);

/* 1 when the ','-joined tag list holds every tag of required. */
int rv_tags_csv_has_all(const char *csv, const rv_tags *required);

/* Pair limit (fatigue policy max_pair_cases_30d). A pair of reviewer ids,
 * in either order (the store returns them in the database's order). */
typedef struct rv_pair {
    const char *a, *b;
} rv_pair;

/* 1 when cand may join the reviewers already seated on the case: no pair
 * (cand, s) with s in seated[0..nseated) is among full[0..nfull) (the pairs
 * at their limit). Pure; O(nfull * nseated). */
int rv_pair_allowed(const char *cand, const char *const *seated, size_t nseated, const rv_pair *full, size_t nfull);

/* Draws min(k, n) distinct indices of w[0..n) at random, each draw weighted
 * by w (Efraimidis–Spirakis: the k largest keys u^(1/w_i), computed as
 * log(u)/w_i). Weights must be > 0. Writes the indices to out (room for
 * min(k, n)) in decreasing key order — with k = n, a complete weighted random
 * order whose every prefix is a weighted draw — and returns how many (0 also
 * when out of memory). */
size_t rv_draw_weighted(const double *w, size_t n, size_t k, rv_rng *rng, size_t *out);

#endif
