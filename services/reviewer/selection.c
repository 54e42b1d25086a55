/* See selection.h. */
#include "selection.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void rv_rng_seed(rv_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

uint64_t rv_rng_next(rv_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double rv_rng_unit(rv_rng *r)
{
    /* 53 random bits, shifted by half a step so 0 never comes out. */
    return ((double)(rv_rng_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void rv_ids_sort(const char **ids, size_t n)
{
    if (n > 1)
        qsort(ids, n, sizeof(*ids), cmp_str);
}

int rv_ids_contains(const char *const *sorted, size_t n, const char *id)
{
    return n > 0 && bsearch(&id, sorted, n, sizeof(*sorted), cmp_str) != NULL;
}

static int csv_has(const char *csv, const char *tag)
{
    size_t tl = strlen(tag);
    const char *p = csv;
    while (p && *p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == tl && memcmp(p, tag, n) == 0)
            return 1;
        p = end ? end + 1 : NULL;
    }
    return 0;
}

int rv_tags_csv_has_all(const char *csv, const rv_tags *required)
{
    for (int i = 0; i < required->n; i++)
        if (!csv_has(csv ? csv : "", required->v[i]))
            return 0;
    return 1;
}

rv_cand rv_candidate_check(const rv_select_filter *f, const rv_candidate *c)
{
    if (rv_ids_contains(f->excluded, f->nexcluded, c->user_id))
        return RV_CAND_EXCLUDED;
    if (!c->active)
        return RV_CAND_INACTIVE;
    if (f->required && !rv_tags_csv_has_all(c->tags_csv, f->required))
        return RV_CAND_TAGS;
    if (rv_fatigue_check(f->policy, &c->fatigue, f->now) != RV_FAT_OK)
        return RV_CAND_FATIGUE;
    return RV_CAND_OK;
}

static int seated_has(const char *const *seated, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(seated[i], id) == 0)
            return 1;
    return 0;
}

int rv_pair_allowed(const char *cand, const char *const *seated, size_t nseated, const rv_pair *full, size_t nfull)
{
    for (size_t i = 0; i < nfull; i++) {
        if (strcmp(full[i].a, cand) == 0 && seated_has(seated, nseated, full[i].b))
            return 0;
        if (strcmp(full[i].b, cand) == 0 && seated_has(seated, nseated, full[i].a))
            return 0;
    }
    return 1;
}

typedef struct keyed {
    double key;
    size_t idx;
} keyed;

static int cmp_key_desc(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? 1 : -1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

size_t rv_draw_weighted(const double *w, size_t n, size_t k, rv_rng *rng, size_t *out)
{
    keyed *v;
    if (k > n)
        k = n;
    if (k == 0)
        return 0;
    v = malloc(n * sizeof(*v));
    if (!v)
        return 0;
    for (size_t i = 0; i < n; i++)
        v[i] = (keyed){log(rv_rng_unit(rng)) / w[i], i};
    /* n is a few hundred candidates at most: sorting them all is cheaper
     * than being clever, and gives callers a complete weighted order. */
    qsort(v, n, sizeof(*v), cmp_key_desc);
    for (size_t i = 0; i < k; i++)
        out[i] = v[i].idx;
    free(v);
    return k;
}
