/* sg-reward: reward rules, the coin ledger, grants from decisions, catalog
 * and redemptions (API.md "Reward service"). */
#include "svc.h"
#include "routes.h"
#include "sg/app.h"

static const sg_route routes[] = {
    {"GET", "/v1/reward-rules", SG_AUTH_OPS, rw_h_rules_list},
    {"GET", "/v1/reward-rules/{report_type}", SG_AUTH_OPS, rw_h_rule_get},
    {"PUT", "/v1/reward-rules/{report_type}", SG_AUTH_OPS, rw_h_rule_put},
    {"GET", "/v1/reward-rules/{report_type}/versions", SG_AUTH_OPS, rw_h_rule_versions},
    {"GET", "/v1/accounts/{user_id}", SG_AUTH_PERSON, rw_h_account_get},
    {"GET", "/v1/accounts/{user_id}/ledger", SG_AUTH_PERSON, rw_h_ledger_get},
    {"POST", "/v1/catalog/items", SG_AUTH_OPS, rw_h_item_create},
    {"GET", "/v1/catalog/items", SG_AUTH_PERSON, rw_h_items_list},
    {"GET", "/v1/catalog/items/{id}", SG_AUTH_PERSON, rw_h_item_get},
    {"PUT", "/v1/catalog/items/{id}", SG_AUTH_OPS, rw_h_item_replace},
    {"POST", "/v1/catalog/items/{id}/stock", SG_AUTH_OPS, rw_h_item_stock},
    {"POST", "/v1/redemptions", SG_AUTH_PERSON, rw_h_redeem},
    {"GET", "/v1/redemptions/{id}", SG_AUTH_PERSON, rw_h_redemption_get},
    {"POST", "/v1/redemptions/{id}/refund", SG_AUTH_OPS, rw_h_refund},
};

static const sg_app_consumer consumers[] = {
    {"reward", SG_T_CASE_DECIDED, rw_on_case_decided, 1},
    {"reward-finalized", SG_T_CASE_FINALIZED, rw_on_case_finalized, 1},
};

int main(void)
{
    sg_app_spec spec = {
        .service = "reward",
        .default_port = 8083,
        .routes = routes,
        .nroutes = sizeof routes / sizeof routes[0],
        .consumers = consumers,
        .nconsumers = sizeof consumers / sizeof consumers[0],
        .init = rw_init,
        .fini = rw_fini,
        .collect = rw_collect,
    };
    return sg_app_main(&spec);
}
