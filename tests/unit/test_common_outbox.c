/* The outbox's per-schema NOTIFY channel name. */
#include <criterion/criterion.h>
#include <string.h>

#include "sg/outbox.h"

Test(outbox_channel, short_schema_is_readable)
{
    char buf[SG_OUTBOX_CHANNEL_MAX];
    cr_assert_str_eq(sg_outbox_channel("report", buf), "sgo_report");
}

Test(outbox_channel, long_schemas_fit_and_stay_distinct)
{
    char a[SG_OUTBOX_CHANNEL_MAX], b[SG_OUTBOX_CHANNEL_MAX], s1[64], s2[64];
    memset(s1, 'a', 63);
    s1[63] = '\0';
    memcpy(s2, s1, sizeof s2);
    s2[62] = 'b'; /* differs only past the kept prefix */
    sg_outbox_channel(s1, a);
    sg_outbox_channel(s2, b);
    cr_assert_leq(strlen(a), 63, "PostgreSQL identifiers are at most 63 bytes");
    cr_assert_leq(strlen(b), 63);
    cr_assert_str_neq(a, b);
    cr_assert_eq(strncmp(a, "sgo_aaaa", 8), 0);
}
