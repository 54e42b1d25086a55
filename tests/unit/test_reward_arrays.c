/* The PostgreSQL array literal built for $n::text[] parameters: every
 * opaque id must round-trip, whatever quotes, backslashes, commas or braces
 * it holds. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "../../services/reward/store_util.h"

Test(reward_arrays, quotes_and_escapes)
{
    const char *v[] = {"u-1", "we\"ird", "back\\slash", "a,b", "{x}", "NULL"};
    char *s = store_text_array(v, 6);
    cr_assert_not_null(s);
    cr_assert_str_eq(s, "{\"u-1\",\"we\\\"ird\",\"back\\\\slash\",\"a,b\",\"{x}\",\"NULL\"}");
    free(s);
}

Test(reward_arrays, empty)
{
    char *s = store_text_array(NULL, 0);
    cr_assert_str_eq(s, "{}");
    free(s);
}
