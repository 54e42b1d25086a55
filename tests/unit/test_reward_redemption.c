/* The redemption's lifecycle (redemption.c): names both ways and the
 * transition check over every pair of states. */
#include <criterion/criterion.h>
#include <string.h>

#include "../../services/reward/redemption.h"

Test(rw_redemption, names_round_trip)
{
    cr_assert_str_eq(rw_redemption_status_name(RW_REDEMPTION_COMPLETED), "completed");
    cr_assert_str_eq(rw_redemption_status_name(RW_REDEMPTION_REFUNDED), "refunded");
    for (int s = 0; s < RW_REDEMPTION_NSTATUS; s++) {
        rw_redemption_status back = RW_REDEMPTION_NSTATUS;
        const char *name = rw_redemption_status_name((rw_redemption_status)s);
        cr_assert_not_null(name, "state %d has no name", s);
        cr_assert_eq(rw_redemption_status_parse(name, &back), 0, "%s", name);
        cr_assert_eq((int)back, s, "%s", name);
    }
    cr_assert_null(rw_redemption_status_name(RW_REDEMPTION_NSTATUS));
    cr_assert_null(rw_redemption_status_name((rw_redemption_status)-1));
}

Test(rw_redemption, unknown_names_refused)
{
    const char *bad[] = {"", "Completed", "REFUNDED", "pending", "completed ", "refund", "cancelled"};
    rw_redemption_status s = RW_REDEMPTION_REFUNDED;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(rw_redemption_status_parse(bad[i], &s), -1, "\"%s\"", bad[i]);
        cr_assert_eq(s, RW_REDEMPTION_REFUNDED, "untouched after \"%s\"", bad[i]);
    }
    cr_assert_eq(rw_redemption_status_parse(NULL, &s), -1);
}

Test(rw_redemption, initial_state_is_completed)
{
    cr_assert_eq(RW_REDEMPTION_INITIAL, RW_REDEMPTION_COMPLETED);
}

/* Every (from, to) pair, against the diagram of redemption.h. */
Test(rw_redemption, every_pair)
{
    static const int expect[RW_REDEMPTION_NSTATUS][RW_REDEMPTION_NSTATUS] = {
        /*                              to: completed  refunded */
        [RW_REDEMPTION_COMPLETED] = {0, 1},
        [RW_REDEMPTION_REFUNDED] = {0, 0},
    };
    for (int f = 0; f < RW_REDEMPTION_NSTATUS; f++)
        for (int t = 0; t < RW_REDEMPTION_NSTATUS; t++)
            cr_assert_eq(rw_redemption_may((rw_redemption_status)f, (rw_redemption_status)t), expect[f][t],
                         "%s -> %s", rw_redemption_status_name((rw_redemption_status)f),
                         rw_redemption_status_name((rw_redemption_status)t));
}

Test(rw_redemption, values_outside_the_enum_never_move)
{
    for (int s = -1; s <= RW_REDEMPTION_NSTATUS; s++) {
        cr_assert_eq(rw_redemption_may((rw_redemption_status)s, RW_REDEMPTION_NSTATUS), 0);
        cr_assert_eq(rw_redemption_may(RW_REDEMPTION_NSTATUS, (rw_redemption_status)s), 0);
        cr_assert_eq(rw_redemption_may((rw_redemption_status)-1, (rw_redemption_status)s), 0);
    }
}
