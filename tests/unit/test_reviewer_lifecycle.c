/* The reviewer's lifecycle (reviewer.h): names, and the transition check over
 * every pair of states for every actor. */
#include <criterion/criterion.h>
#include <string.h>

#include "../../services/reviewer/reviewer.h"

enum { A = RV_ACTIVE, P = RV_PAUSED, S = RV_SUSPENDED, R = RV_RETIRED };
#define SELF RV_BY_SELF
#define OPS RV_BY_OPS
#define POOL RV_BY_POOL

/* The table of reviewer.h, written out again: who may go from → to. */
static const int EXPECTED[RV_NSTATUS][RV_NSTATUS] = {
    [A] = {[A] = OPS | SELF, [P] = SELF, [S] = OPS | POOL, [R] = POOL},
    [P] = {[A] = OPS | SELF, [P] = SELF, [S] = OPS | POOL, [R] = POOL},
    [S] = {[A] = OPS | POOL, [P] = 0, [S] = OPS, [R] = POOL},
    [R] = {[A] = OPS | POOL, [P] = 0, [S] = 0, [R] = 0},
};

Test(lifecycle, names_round_trip)
{
    static const char *const names[RV_NSTATUS] = {"active", "paused", "suspended", "retired"};
    rv_status st;
    for (int i = 0; i < RV_NSTATUS; i++) {
        cr_assert_str_eq(rv_status_name((rv_status)i), names[i]);
        cr_assert_eq(rv_status_parse(names[i], &st), 0);
        cr_assert_eq(st, (rv_status)i);
    }
    cr_assert_null(rv_status_name((rv_status)RV_NSTATUS));
    cr_assert_neq(rv_status_parse("Active", &st), 0);
    cr_assert_neq(rv_status_parse("", &st), 0);
    cr_assert_neq(rv_status_parse(NULL, &st), 0);
}

Test(lifecycle, every_pair_for_every_actor)
{
    static const rv_actor actors[] = {RV_BY_SELF, RV_BY_OPS, RV_BY_POOL};
    for (int from = 0; from < RV_NSTATUS; from++)
        for (int to = 0; to < RV_NSTATUS; to++)
            for (size_t k = 0; k < sizeof(actors) / sizeof(actors[0]); k++) {
                int want = (EXPECTED[from][to] & actors[k]) ? 0 : -1;
                cr_expect_eq(rv_status_transition((rv_status)from, (rv_status)to, actors[k]), want,
                             "%s -> %s by %d", rv_status_name((rv_status)from), rv_status_name((rv_status)to),
                             actors[k]);
            }
    cr_assert_neq(rv_status_transition((rv_status)RV_NSTATUS, RV_ACTIVE, RV_BY_OPS), 0);
    cr_assert_neq(rv_status_transition(RV_ACTIVE, (rv_status)-1, RV_BY_OPS), 0);
}

Test(lifecycle, availability)
{
    rv_status next;
    cr_assert_eq(rv_availability_next(RV_ACTIVE, 1, &next), 0);
    cr_assert_eq(next, RV_PAUSED);
    cr_assert_eq(rv_availability_next(RV_PAUSED, 0, &next), 0);
    cr_assert_eq(next, RV_ACTIVE);
    cr_assert_eq(rv_availability_next(RV_ACTIVE, 0, &next), 0, "no-op");
    cr_assert_eq(next, RV_ACTIVE);
    cr_assert_eq(rv_availability_next(RV_PAUSED, 1, &next), 0, "no-op");
    cr_assert_eq(next, RV_PAUSED);
    cr_assert_neq(rv_availability_next(RV_SUSPENDED, 0, &next), 0);
    cr_assert_neq(rv_availability_next(RV_SUSPENDED, 1, &next), 0);
    cr_assert_neq(rv_availability_next(RV_RETIRED, 0, &next), 0);
    cr_assert_neq(rv_availability_next(RV_RETIRED, 1, &next), 0);
}

/* What the ops route may ask (active or suspended), as before the enum. */
Test(lifecycle, ops_changes)
{
    cr_assert_eq(rv_status_transition(RV_SUSPENDED, RV_ACTIVE, RV_BY_OPS), 0);
    cr_assert_eq(rv_status_transition(RV_RETIRED, RV_ACTIVE, RV_BY_OPS), 0);
    cr_assert_eq(rv_status_transition(RV_PAUSED, RV_SUSPENDED, RV_BY_OPS), 0);
    cr_assert_neq(rv_status_transition(RV_RETIRED, RV_SUSPENDED, RV_BY_OPS), 0);
    cr_assert_neq(rv_status_transition(RV_ACTIVE, RV_PAUSED, RV_BY_OPS), 0);
    cr_assert_neq(rv_status_transition(RV_ACTIVE, RV_RETIRED, RV_BY_OPS), 0);
}

/* sg.reviewer.status_changed: every change into or out of suspended or
 * retired reaches the report service; pausing does not. */
Test(lifecycle, announced_changes)
{
    for (int from = 0; from < RV_NSTATUS; from++)
        for (int to = 0; to < RV_NSTATUS; to++) {
            int want = from != to && (from == RV_SUSPENDED || from == RV_RETIRED || to == RV_SUSPENDED
                                      || to == RV_RETIRED);
            cr_expect_eq(rv_status_announced((rv_status)from, (rv_status)to), want, "%s -> %s",
                         rv_status_name((rv_status)from), rv_status_name((rv_status)to));
        }
    cr_assert_eq(rv_status_announced(RV_ACTIVE, RV_PAUSED), 0);
    cr_assert_eq(rv_status_announced(RV_SUSPENDED, RV_ACTIVE), 1, "reinstatement");
}
