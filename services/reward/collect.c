/* Metrics collector; see svc.h. */
#include "svc.h"

#include "store.h"

void rw_collect(FILE *out, void *ctx)
{
    rw_svc *svc = ctx;
    rw_stats st;
    if (rw_store_stats(svc->app->pg, &st) != SG_OK)
        return;
    fprintf(out,
            "# HELP sg_reward_coins_granted_total Coins paid out by grants (from the ledger, all replicas).\n"
            "# TYPE sg_reward_coins_granted_total counter\n"
            "sg_reward_coins_granted_total %lld\n"
            "# HELP sg_reward_grants_total Grants recorded, by outcome (paid: in full or in part; capped: short of due).\n"
            "# TYPE sg_reward_grants_total counter\n"
            "sg_reward_grants_total{outcome=\"paid\"} %lld\n"
            "sg_reward_grants_total{outcome=\"capped\"} %lld\n"
            "# HELP sg_reward_redemptions_total Successful redemptions.\n"
            "# TYPE sg_reward_redemptions_total counter\n"
            "sg_reward_redemptions_total %lld\n"
            "# HELP sg_reward_coins_redeemed_total Coins spent on redemptions.\n"
            "# TYPE sg_reward_coins_redeemed_total counter\n"
            "sg_reward_coins_redeemed_total %lld\n"
            "# HELP sg_reward_refunds_total Refunded redemptions.\n"
            "# TYPE sg_reward_refunds_total counter\n"
            "sg_reward_refunds_total %lld\n"
            "# HELP sg_reward_coins_refunded_total Coins returned by refunds.\n"
            "# TYPE sg_reward_coins_refunded_total counter\n"
            "sg_reward_coins_refunded_total %lld\n"
            "# HELP sg_reward_coins_in_circulation Sum of user balances (minus the platform balance).\n"
            "# TYPE sg_reward_coins_in_circulation gauge\n"
            "sg_reward_coins_in_circulation %lld\n",
            st.coins_granted, st.grants_paid, st.grants_capped, st.redemptions, st.coins_redeemed, st.refunds,
            st.coins_refunded, st.circulation);
}
