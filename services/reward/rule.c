/* Reward rule validation; see rule.h. */
#include "rule.h"

#include <string.h>
#include "sg/json.h"

static const sg_field rule_fields[] = {
    {"vote_reward", SG_JT_INT, 1, 0, RW_MAX_AMOUNT, 0, 0},
    {"majority_bonus", SG_JT_INT, 1, 0, RW_MAX_AMOUNT, 0, 0},
    {"reporter_reward", SG_JT_INT, 1, 0, RW_MAX_AMOUNT, 0, 0},
    {"daily_cap_per_user", SG_JT_INT, 1, 0, RW_MAX_DAILY_CAP, 0, 0},
};

int rw_rule_from_json(const json_t *body, rw_rule *out, char *err, size_t errlen)
{
    if (sg_json_validate(body, rule_fields, sizeof rule_fields / sizeof rule_fields[0], err, errlen) != 0)
        return -1;
    out->vote_reward = sg_json_int(body, "vote_reward", 0);
    out->majority_bonus = sg_json_int(body, "majority_bonus", 0);
    out->reporter_reward = sg_json_int(body, "reporter_reward", 0);
    out->daily_cap_per_user = sg_json_int(body, "daily_cap_per_user", 0);
    return 0;
}
