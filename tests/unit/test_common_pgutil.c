/* Unit tests of the store helpers that need no server: results are built
 * with libpq's PQmakeEmptyPGresult/PQsetvalue. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "sg/pgutil.h"

static PGresult *rows(int n, const char *const (*cells)[2])
{
    PGresAttDesc att[2] = {{.name = "key", .format = 0, .typid = 25, .typlen = -1, .atttypmod = -1},
                           {.name = "item", .format = 0, .typid = 25, .typlen = -1, .atttypmod = -1}};
    PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    cr_assert(r && PQsetResultAttrs(r, 2, att));
    for (int i = 0; i < n; i++)
        for (int c = 0; c < 2; c++)
            cr_assert(PQsetvalue(r, i, c, (char *)cells[i][c], (int)strlen(cells[i][c])));
    return r;
}

Test(pgutil, text_array_escapes_quotes_and_backslashes)
{
    const char *v[] = {"plain", "a\"b", "c\\d", "with,comma", "", "{x}", "NULL"};
    char *s = sg_pg_text_array(v, 7);
    cr_assert_str_eq(s, "{\"plain\",\"a\\\"b\",\"c\\\\d\",\"with,comma\",\"\",\"{x}\",\"NULL\"}");
    free(s);
    s = sg_pg_text_array(NULL, 0);
    cr_assert_str_eq(s, "{}");
    free(s);
    const char *w[] = {"a", NULL, "NULL"};
    s = sg_pg_text_array(w, 3);
    cr_assert_str_eq(s, "{\"a\",NULL,\"NULL\"}", "a NULL element is SQL NULL, the text NULL stays quoted");
    free(s);
}

Test(pgutil, page_with_more_rows_has_cursor_of_last_shown)
{
    const char *const cells[][2] = {{"k1", "{\"a\":1}"}, {"k2", "{\"a\":2}"}, {"k3", "{\"a\":3}"}};
    PGresult *r = rows(3, cells);
    json_t *page = sg_pg_page(r, 2, 0, 1);
    cr_assert_not_null(page);
    cr_assert_eq(json_array_size(json_object_get(page, "items")), 2);
    cr_assert_str_eq(json_string_value(json_object_get(page, "next_cursor")), "k2");
    json_decref(page);
    PQclear(r);
}

Test(pgutil, last_page_has_null_cursor)
{
    const char *const cells[][2] = {{"k1", "[1]"}, {"k2", "\"x\""}};
    PGresult *r = rows(2, cells);
    json_t *page = sg_pg_page(r, 2, 0, 1);
    cr_assert(json_is_null(json_object_get(page, "next_cursor")));
    cr_assert_eq(json_array_size(json_object_get(page, "items")), 2);
    json_decref(page);
    PQclear(r);
}

Test(pgutil, invalid_json_cell_fails_the_page)
{
    const char *const cells[][2] = {{"k1", "{oops"}};
    PGresult *r = rows(1, cells);
    cr_assert_null(sg_pg_page(r, 5, 0, 1));
    cr_assert_null(sg_pg_json(r, 0, 1));
    cr_assert_null(sg_pg_json(r, 3, 1));
    PQclear(r);
}

Test(pgutil, int_param)
{
    char buf[24];
    cr_assert_str_eq(sg_pg_int(buf, -9223372036854775807LL - 1), "-9223372036854775808");
}
