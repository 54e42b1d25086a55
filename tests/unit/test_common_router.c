#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "sg/router.h"

Test(router, literal_paths)
{
    sg_params p;
    cr_assert(sg_route_match("/v1/voting-rules", "/v1/voting-rules", &p));
    cr_assert_eq(p.n, 0);
    cr_assert_not(sg_route_match("/v1/voting-rules", "/v1/voting-rules/", &p));
    cr_assert_not(sg_route_match("/v1/voting-rules", "/v1/voting-rule", &p));
    cr_assert_not(sg_route_match("/v1/voting-rules", "/v1/voting-rulesx", &p));
    cr_assert_not(sg_route_match("/v1/voting-rules", "", &p));
}

Test(router, one_and_two_params)
{
    sg_params p;
    cr_assert(sg_route_match("/v1/cases/{id}", "/v1/cases/abc", &p));
    cr_assert_eq(p.n, 1);
    cr_assert_str_eq(sg_params_get(&p, "id"), "abc");
    cr_assert_null(sg_params_get(&p, "i"));
    cr_assert_null(sg_params_get(&p, "idx"));

    cr_assert(sg_route_match("/v1/accounts/{user_id}/ledger/{entry}", "/v1/accounts/u-1/ledger/9", &p));
    cr_assert_eq(p.n, 2);
    cr_assert_str_eq(sg_params_get(&p, "user_id"), "u-1");
    cr_assert_str_eq(sg_params_get(&p, "entry"), "9");
}

Test(router, param_is_one_nonempty_segment)
{
    sg_params p;
    cr_assert_not(sg_route_match("/v1/cases/{id}", "/v1/cases/", &p));
    cr_assert_not(sg_route_match("/v1/cases/{id}", "/v1/cases/a/b", &p));
    cr_assert_not(sg_route_match("/v1/cases/{id}/votes", "/v1/cases//votes", &p));
    cr_assert(sg_route_match("/v1/cases/{id}/votes", "/v1/cases/x/votes", &p));
    cr_assert_not(sg_route_match("/v1/cases/{id}/votes", "/v1/cases/x/vote", &p));
    cr_assert_not(sg_route_match("/v1/cases/{id}/votes", "/v1/cases/x", &p));
}

Test(router, colon_literals)
{
    sg_params p;
    cr_assert(sg_route_match("/v1/profiles:batch", "/v1/profiles:batch", &p));
    cr_assert_not(sg_route_match("/v1/profiles:batch", "/v1/profiles", &p));
    cr_assert_not(sg_route_match("/v1/profiles:batch", "/v1/profiles:batches", &p));
    cr_assert_not(sg_route_match("/v1/profiles:batch", "/v1/profiles%3Abatch", &p));
    cr_assert_not(sg_route_match("/v1/pool:rebuild", "/v1/pool:rebuilt", &p));
    /* A parameter value may itself hold ':' */
    cr_assert(sg_route_match("/v1/reviewers/{user_id}", "/v1/reviewers/comment:9911", &p));
    cr_assert_str_eq(sg_params_get(&p, "user_id"), "comment:9911");
    /* Literal suffix after a parameter in the same segment */
    cr_assert(sg_route_match("/v1/items/{id}:refund", "/v1/items/42:refund", &p));
    cr_assert_str_eq(sg_params_get(&p, "id"), "42");
    cr_assert_not(sg_route_match("/v1/items/{id}:refund", "/v1/items/:refund", &p));
    cr_assert_not(sg_route_match("/v1/items/{id}:refund", "/v1/items/42", &p));
}

Test(router, percent_decoding)
{
    sg_params p;
    cr_assert(sg_route_match("/v1/reviewers/{user_id}", "/v1/reviewers/a%20b", &p));
    cr_assert_str_eq(sg_params_get(&p, "user_id"), "a b");
    cr_assert(sg_route_match("/v1/reviewers/{user_id}", "/v1/reviewers/a%2Fb%3a", &p));
    cr_assert_str_eq(sg_params_get(&p, "user_id"), "a/b:");
    cr_assert(sg_route_match("/v1/reviewers/{user_id}", "/v1/reviewers/%E7%94%A8", &p));
    cr_assert_str_eq(sg_params_get(&p, "user_id"), "\xE7\x94\xA8");
    /* '+' is not a space in a path */
    cr_assert(sg_route_match("/v1/reviewers/{user_id}", "/v1/reviewers/a+b", &p));
    cr_assert_str_eq(sg_params_get(&p, "user_id"), "a+b");
}

Test(router, bad_percent_encoding)
{
    sg_params p;
    cr_assert_not(sg_route_match("/v1/cases/{id}", "/v1/cases/%", &p));
    cr_assert_not(sg_route_match("/v1/cases/{id}", "/v1/cases/%4", &p));
    cr_assert_not(sg_route_match("/v1/cases/{id}", "/v1/cases/%zz", &p));
    cr_assert_not(sg_route_match("/v1/cases/{id}", "/v1/cases/a%00b", &p));
    cr_assert_not(sg_route_match("/v1/cases/{id}", "/v1/cases/%FF", &p));     /* not UTF-8 */
    cr_assert_not(sg_route_match("/v1/cases/{id}", "/v1/cases/%C0%AF", &p));  /* overlong */
}

Test(router, segment_length_limit)
{
    sg_params p;
    char path[1200], seg[1024];
    memset(seg, 'a', SG_PARAM_MAX - 1);
    seg[SG_PARAM_MAX - 1] = '\0';
    snprintf(path, sizeof path, "/v1/cases/%s", seg);
    cr_assert(sg_route_match("/v1/cases/{id}", path, &p));
    cr_assert_eq(strlen(sg_params_get(&p, "id")), SG_PARAM_MAX - 1);

    memset(seg, 'a', SG_PARAM_MAX);
    seg[SG_PARAM_MAX] = '\0';
    snprintf(path, sizeof path, "/v1/cases/%s", seg);
    cr_assert_not(sg_route_match("/v1/cases/{id}", path, &p));

    /* The limit is on the decoded value: 255 escaped bytes fit */
    char *q = seg;
    for (int i = 0; i < SG_PARAM_MAX - 1; i++)
        q += sprintf(q, "%%41");
    snprintf(path, sizeof path, "/v1/cases/%s", seg);
    cr_assert(sg_route_match("/v1/cases/{id}", path, &p));
}

Test(router, too_many_params)
{
    sg_params p;
    cr_assert(sg_route_match("/{a}/{b}/{c}/{d}", "/1/2/3/4", &p));
    cr_assert_eq(p.n, 4);
    cr_assert_str_eq(sg_params_get(&p, "d"), "4");
    cr_assert_not(sg_route_match("/{a}/{b}/{c}/{d}/{e}", "/1/2/3/4/5", &p));
}
