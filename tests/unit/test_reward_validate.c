/* Validation of reward rule, catalog item and redemption requests. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "../../services/reward/catalog.h"
#include "../../services/reward/rule.h"

static int rule_ok(const char *json, rw_rule *r)
{
    char err[256];
    json_t *j = json_loads(json, 0, NULL);
    cr_assert_not_null(j);
    int rc = rw_rule_from_json(j, r, err, sizeof err);
    json_decref(j);
    return rc;
}

Test(rw_rule, valid_rule)
{
    rw_rule r;
    cr_assert_eq(rule_ok("{\"vote_reward\":10,\"majority_bonus\":5,\"reporter_reward\":20,\"daily_cap_per_user\":200}", &r),
                 0);
    cr_assert_eq(r.vote_reward, 10);
    cr_assert_eq(r.majority_bonus, 5);
    cr_assert_eq(r.reporter_reward, 20);
    cr_assert_eq(r.daily_cap_per_user, 200);
    cr_assert_eq(rule_ok("{\"vote_reward\":0,\"majority_bonus\":0,\"reporter_reward\":0,\"daily_cap_per_user\":0}", &r), 0);
}

Test(rw_rule, invalid_rules)
{
    rw_rule r;
    const char *bad[] = {
        "{\"vote_reward\":-1,\"majority_bonus\":5,\"reporter_reward\":20,\"daily_cap_per_user\":200}",
        "{\"vote_reward\":1000001,\"majority_bonus\":5,\"reporter_reward\":20,\"daily_cap_per_user\":200}",
        "{\"vote_reward\":10,\"majority_bonus\":5,\"reporter_reward\":20,\"daily_cap_per_user\":1000000001}",
        "{\"vote_reward\":10,\"majority_bonus\":5,\"reporter_reward\":20}",
        "{\"vote_reward\":10.5,\"majority_bonus\":5,\"reporter_reward\":20,\"daily_cap_per_user\":200}",
        "{\"vote_reward\":\"10\",\"majority_bonus\":5,\"reporter_reward\":20,\"daily_cap_per_user\":200}",
        "{\"vote_reward\":10,\"majority_bonus\":5,\"reporter_reward\":20,\"daily_cap_per_user\":200,\"x\":1}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(rule_ok(bad[i], &r), -1, "accepted: %s", bad[i]);
}

static int item_ok(const char *json, rw_item *it, json_t **keep)
{
    char err[256];
    *keep = json_loads(json, 0, NULL);
    cr_assert_not_null(*keep);
    return rw_item_from_json(*keep, it, err, sizeof err);
}

Test(rw_catalog, items)
{
    rw_item it;
    json_t *k;
    cr_assert_eq(item_ok("{\"name\":\"Mug\",\"cost\":1,\"stock\":0,\"active\":false}", &it, &k), 0);
    cr_assert_str_eq(it.name, "Mug");
    cr_assert_eq(it.cost, 1);
    cr_assert_eq(it.stock, 0);
    cr_assert_eq(it.active, 0);
    json_decref(k);
    const char *bad[] = {
        "{\"name\":\"\",\"cost\":1,\"stock\":0,\"active\":true}",
        "{\"name\":\"Mug\",\"cost\":0,\"stock\":0,\"active\":true}",
        "{\"name\":\"Mug\",\"cost\":1,\"stock\":-1,\"active\":true}",
        "{\"name\":\"Mug\",\"cost\":1,\"stock\":1,\"active\":1}",
        "{\"name\":\"Mug\",\"cost\":1,\"stock\":1}",
        "{\"name\":\"M\\u0001g\",\"cost\":1,\"stock\":1,\"active\":true}",
        "{\"name\":\"Mug\",\"cost\":1,\"stock\":1,\"active\":true,\"id\":\"x\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(item_ok(bad[i], &it, &k), -1, "accepted: %s", bad[i]);
        json_decref(k);
    }
}

Test(rw_catalog, item_name_length_in_code_points)
{
    char json[1200];
    char name[801] = "";
    rw_item it;
    json_t *k;
    for (int i = 0; i < 200; i++)
        strcat(name, "\xc3\xa9"); /* 200 x 'é' = 400 bytes, 200 code points */
    snprintf(json, sizeof json, "{\"name\":\"%s\",\"cost\":1,\"stock\":1,\"active\":true}", name);
    cr_assert_eq(item_ok(json, &it, &k), 0);
    json_decref(k);
    strcat(name, "x");
    snprintf(json, sizeof json, "{\"name\":\"%s\",\"cost\":1,\"stock\":1,\"active\":true}", name);
    cr_assert_eq(item_ok(json, &it, &k), -1);
    json_decref(k);
}

Test(rw_catalog, redemption_bodies)
{
    char err[256];
    rw_redeem r;
    json_t *j = json_loads("{\"item_id\":\"6a1c2d3e-0000-4000-8000-000000000001\",\"quantity\":100}", 0, NULL);
    cr_assert_eq(rw_redeem_from_json(j, &r, err, sizeof err), 0, "%s", err);
    cr_assert_eq(r.quantity, 100);
    json_decref(j);
    const char *bad[] = {
        "{\"item_id\":\"6a1c2d3e-0000-4000-8000-000000000001\",\"quantity\":0}",
        "{\"item_id\":\"6a1c2d3e-0000-4000-8000-000000000001\",\"quantity\":101}",
        "{\"item_id\":\"not-a-uuid-not-a-uuid-not-a-uuid-xxx\",\"quantity\":1}",
        "{\"item_id\":\"6a1c2d3e-0000-4000-8000-000000000001\"}",
        "{\"item_id\":\"6a1c2d3e-0000-4000-8000-000000000001\",\"quantity\":1,\"user_id\":\"u\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        j = json_loads(bad[i], 0, NULL);
        cr_assert_eq(rw_redeem_from_json(j, &r, err, sizeof err), -1, "accepted: %s", bad[i]);
        json_decref(j);
    }
}

static int delta_ok(const char *json, long long *d)
{
    char err[256];
    json_t *j = json_loads(json, 0, NULL);
    cr_assert_not_null(j, "bad test JSON: %s", json);
    int rc = rw_stock_delta_from_json(j, d, err, sizeof err);
    json_decref(j);
    return rc;
}

Test(rw_catalog, stock_delta_bodies)
{
    long long d = 99;
    cr_assert_eq(delta_ok("{\"delta\":5}", &d), 0);
    cr_assert_eq(d, 5);
    cr_assert_eq(delta_ok("{\"delta\":-3}", &d), 0);
    cr_assert_eq(d, -3);
    cr_assert_eq(delta_ok("{\"delta\":0}", &d), 0, "0 is allowed: a no-op");
    cr_assert_eq(d, 0);
    cr_assert_eq(delta_ok("{\"delta\":1000000000}", &d), 0);
    cr_assert_eq(delta_ok("{\"delta\":-1000000000}", &d), 0);
    const char *bad[] = {"{}", "{\"delta\":1.5}", "{\"delta\":\"1\"}", "{\"delta\":null}", "{\"delta\":true}",
                         "{\"delta\":1000000001}", "{\"delta\":-1000000001}", "{\"delta\":1,\"stock\":1}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(delta_ok(bad[i], &d), -1, "accepted: %s", bad[i]);
}
