/* Selection filter (exclusions, status, tags, fatigue) and the weighted
 * draw. */
#include <criterion/criterion.h>
#include <string.h>

#include "../../services/reviewer/quality.h"
#include "../../services/reviewer/selection.h"

static rv_fatigue_policy policy(void)
{
    return (rv_fatigue_policy){1, 3, 20, 100, 60, 86400};
}

static rv_candidate cand(const char *id, const char *tags)
{
    rv_candidate c;
    memset(&c, 0, sizeof(c));
    c.user_id = id;
    c.tags_csv = tags;
    c.active = 1;
    return c;
}

Test(selection, exclusion_set_is_never_picked)
{
    const char *ex[] = {"owner-9", "reporter-1", "already-on-case", "reporter-2"};
    rv_fatigue_policy p = policy();
    rv_tags none = {0};
    rv_ids_sort(ex, 4);
    rv_select_filter f = {ex, 4, &none, &p, 1e9};
    const char *ids[] = {"owner-9", "reporter-1", "already-on-case", "reporter-2"};
    for (int i = 0; i < 4; i++) {
        rv_candidate c = cand(ids[i], "");
        cr_assert_eq(rv_candidate_check(&f, &c), RV_CAND_EXCLUDED, "%s", ids[i]);
    }
    rv_candidate ok = cand("reporter-3", "");
    cr_assert_eq(rv_candidate_check(&f, &ok), RV_CAND_OK);
    /* An empty set excludes nobody. */
    rv_select_filter g = {NULL, 0, &none, &p, 1e9};
    rv_candidate c = cand("owner-9", "");
    cr_assert_eq(rv_candidate_check(&g, &c), RV_CAND_OK);
}

Test(selection, inactive_is_never_picked)
{
    rv_fatigue_policy p = policy();
    rv_tags none = {0};
    rv_select_filter f = {NULL, 0, &none, &p, 1e9};
    rv_candidate c = cand("u", "");
    c.active = 0;
    cr_assert_eq(rv_candidate_check(&f, &c), RV_CAND_INACTIVE);
}

Test(selection, every_required_tag_is_needed)
{
    rv_fatigue_policy p = policy();
    rv_tags req;
    cr_assert_eq(rv_tags_from_csv("lang:zh,senior", &req), 0);
    rv_select_filter f = {NULL, 0, &req, &p, 1e9};
    rv_candidate both = cand("a", "x,senior,lang:zh"), one = cand("b", "lang:zh"), prefix = cand("c", "senior2,lang:zh");
    cr_assert_eq(rv_candidate_check(&f, &both), RV_CAND_OK);
    cr_assert_eq(rv_candidate_check(&f, &one), RV_CAND_TAGS);
    cr_assert_eq(rv_candidate_check(&f, &prefix), RV_CAND_TAGS, "no prefix matches");
}

Test(selection, fatigue_limits_apply)
{
    rv_fatigue_policy p = policy();
    rv_tags none = {0};
    rv_select_filter f = {NULL, 0, &none, &p, 1e9};
    rv_candidate c = cand("u", "");
    c.fatigue.open_ballots = 3;
    cr_assert_eq(rv_candidate_check(&f, &c), RV_CAND_FATIGUE);
    c.fatigue.open_ballots = 0;
    c.fatigue.cooldown_until = 1e9 + 1;
    cr_assert_eq(rv_candidate_check(&f, &c), RV_CAND_FATIGUE);
}

Test(selection, draw_is_without_replacement_and_capped)
{
    double w[10];
    size_t out[10];
    rv_rng rng;
    rv_rng_seed(&rng, 42);
    for (int i = 0; i < 10; i++)
        w[i] = 0.5;
    for (int trial = 0; trial < 1000; trial++) {
        size_t n = rv_draw_weighted(w, 10, 5, &rng, out);
        cr_assert_eq(n, 5);
        for (size_t a = 0; a < n; a++)
            for (size_t b = a + 1; b < n; b++)
                cr_assert_neq(out[a], out[b]);
    }
    cr_assert_eq(rv_draw_weighted(w, 3, 5, &rng, out), 3, "fewer candidates than seats");
    cr_assert_eq(rv_draw_weighted(w, 0, 5, &rng, out), 0);
    cr_assert_eq(rv_draw_weighted(w, 10, 0, &rng, out), 0);
}

Test(selection, draw_is_weighted_by_reliability)
{
    /* Reliability 0.9 vs 0.1: a single pick takes the first with
     * probability 0.9 (Efraimidis–Spirakis: w_i / sum w). */
    double w[2] = {rv_reliability(8, 8) /* 0.9 */, rv_reliability(8, 0) /* 0.1 */};
    size_t out[2];
    int first = 0, trials = 20000;
    rv_rng rng;
    rv_rng_seed(&rng, 7);
    cr_assert_float_eq(w[0], 0.9, 1e-12);
    cr_assert_float_eq(w[1], 0.1, 1e-12);
    for (int i = 0; i < trials; i++) {
        rv_draw_weighted(w, 2, 1, &rng, out);
        first += out[0] == 0;
    }
    /* 20000 draws: standard deviation ~0.0021; allow 5 sigma. */
    cr_assert_float_eq((double)first / trials, 0.9, 0.011, "got %f", (double)first / trials);
}

Test(selection, draw_frequencies_follow_weights_over_many_candidates)
{
    double w[4] = {1, 2, 3, 4};
    size_t out[1];
    int hits[4] = {0};
    rv_rng rng;
    rv_rng_seed(&rng, 99);
    for (int i = 0; i < 40000; i++) {
        rv_draw_weighted(w, 4, 1, &rng, out);
        hits[out[0]]++;
    }
    for (int i = 0; i < 4; i++)
        cr_assert_float_eq(hits[i] / 40000.0, w[i] / 10.0, 0.012, "candidate %d: %f", i, hits[i] / 40000.0);
}

Test(selection, rng_unit_is_in_open_interval)
{
    rv_rng rng;
    rv_rng_seed(&rng, 0);
    for (int i = 0; i < 100000; i++) {
        double u = rv_rng_unit(&rng);
        cr_assert(u > 0 && u < 1);
    }
}

Test(selection, ids_sorted_lookup)
{
    const char *ids[] = {"b", "a", "c"};
    rv_ids_sort(ids, 3);
    cr_assert(rv_ids_contains(ids, 3, "a"));
    cr_assert(rv_ids_contains(ids, 3, "c"));
    cr_assert(!rv_ids_contains(ids, 3, "d"));
    cr_assert(!rv_ids_contains(ids, 0, "a"));
}

Test(selection, pair_allowed)
{
    const char *seated[] = {"u1", "u2", "u3"};
    rv_pair full[] = {{"u2", "u9"}, {"u4", "u7"}};
    cr_assert_eq(rv_pair_allowed("u9", seated, 3, full, 2), 0, "u9 sat with u2 too often");
    cr_assert_eq(rv_pair_allowed("u7", seated, 3, full, 2), 1, "u7's full pair is with u4, not seated");
    cr_assert_eq(rv_pair_allowed("u4", seated, 3, full, 2), 1);
    cr_assert_eq(rv_pair_allowed("u9", seated, 1, full, 2), 1, "u2 not seated yet");
    rv_pair reversed[] = {{"u9", "u3"}};
    cr_assert_eq(rv_pair_allowed("u9", seated, 3, reversed, 1), 0, "either order");
    cr_assert_eq(rv_pair_allowed("u9", seated, 3, NULL, 0), 1, "no full pairs");
    cr_assert_eq(rv_pair_allowed("u9", NULL, 0, full, 2), 1, "nobody seated");
}
