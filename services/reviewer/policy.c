/* See policy.h. */
#include "policy.h"

#include <stdio.h>
#include <string.h>

#include "sg/json.h"

#define NFIELDS(a) (sizeof(a) / sizeof((a)[0]))

int rv_tags_has(const rv_tags *t, const char *tag)
{
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->v[i], tag) == 0)
            return 1;
    return 0;
}

int rv_tags_from_json(const json_t *arr, rv_tags *out, const char *field, char *err, size_t errlen)
{
    size_t i;
    json_t *e;

    out->n = 0;
    if (!arr || json_is_null(arr))
        return 0;
    if (!json_is_array(arr)) {
        snprintf(err, errlen, "%s must be an array of tags", field);
        return -1;
    }
    json_array_foreach(arr, i, e) {
        const char *s = json_string_value(e);
        if (!json_is_string(e) || !sg_is_tag(s)) {
            snprintf(err, errlen, "%s[%zu] must be a tag matching [a-z0-9_:-]{1,64}", field, i);
            return -1;
        }
        if (rv_tags_has(out, s))
            continue;
        if (out->n >= RV_MAX_TAGS) {
            snprintf(err, errlen, "%s holds more than %d tags", field, RV_MAX_TAGS);
            return -1;
        }
        memcpy(out->v[out->n++], s, strlen(s) + 1);
    }
    return 0;
}

json_t *rv_tags_to_json(const rv_tags *t)
{
    json_t *a = json_array();
    for (int i = 0; a && i < t->n; i++)
        json_array_append_new(a, json_string(t->v[i]));
    return a;
}

/* Joins tags with sep between open and close. */
static char *tags_join(const rv_tags *t, char *buf, size_t len, const char *open, const char *close)
{
    size_t off = 0;
    int w = snprintf(buf, len, "%s", open);
    off = w > 0 ? (size_t)w : 0;
    for (int i = 0; i < t->n && off < len; i++) {
        w = snprintf(buf + off, len - off, "%s%s", i ? "," : "", t->v[i]);
        if (w < 0)
            break;
        off += (size_t)w;
    }
    if (off < len)
        snprintf(buf + off, len - off, "%s", close);
    return buf;
}

char *rv_tags_pg(const rv_tags *t, char *buf, size_t len)
{
    return tags_join(t, buf, len, "{", "}");
}

char *rv_tags_csv(const rv_tags *t, char *buf, size_t len)
{
    return tags_join(t, buf, len, "", "");
}

int rv_tags_from_csv(const char *csv, rv_tags *out)
{
    out->n = 0;
    if (!csv || !*csv)
        return 0;
    const char *p = csv;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == 0 || n > RV_TAG_MAX || out->n >= RV_MAX_TAGS)
            return -1;
        memcpy(out->v[out->n], p, n);
        out->v[out->n][n] = '\0';
        if (!sg_is_tag(out->v[out->n]))
            return -1;
        out->n++;
        if (!end)
            return 0;
        p = end + 1;
    }
}

int rv_pool_rule_from_json(const json_t *body, rv_pool_rule *out, char *err, size_t errlen)
{
    static const sg_field f[] = {
        {"include_tags_any", SG_JT_ARRAY, 0, 0, RV_MAX_TAGS, 0, 0},
        {"exclude_tags", SG_JT_ARRAY, 0, 0, RV_MAX_TAGS, 0, 0},
        {"min_credit_score", SG_JT_INT, 1, 0, 1000, 0, 0},
        {"min_account_age_days", SG_JT_INT, 1, 0, 36500, 0, 0},
        {"active_weeks_required", SG_JT_INT, 1, 0, 52, 0, 0},
    };
    memset(out, 0, sizeof(*out));
    if (sg_json_validate(body, f, NFIELDS(f), err, errlen))
        return -1;
    if (rv_tags_from_json(json_object_get(body, "include_tags_any"), &out->include_tags_any, "include_tags_any",
                          err, errlen)
        || rv_tags_from_json(json_object_get(body, "exclude_tags"), &out->exclude_tags, "exclude_tags", err, errlen))
        return -1;
    out->min_credit_score = (int)sg_json_int(body, "min_credit_score", 0);
    out->min_account_age_days = (int)sg_json_int(body, "min_account_age_days", 0);
    out->active_weeks_required = (int)sg_json_int(body, "active_weeks_required", 0);
    for (int i = 0; i < out->include_tags_any.n; i++) {
        if (rv_tags_has(&out->exclude_tags, out->include_tags_any.v[i])) {
            snprintf(err, errlen, "tag %s is both included and excluded", out->include_tags_any.v[i]);
            return -1;
        }
    }
    return 0;
}

int rv_fatigue_policy_from_json(const json_t *body, rv_fatigue_policy *out, char *err, size_t errlen)
{
    static const sg_field f[] = {
        {"max_open_ballots", SG_JT_INT, 1, 1, 1000, 0, 0},
        {"max_per_day", SG_JT_INT, 1, 1, 100000, 0, 0},
        {"max_per_week", SG_JT_INT, 1, 1, 1000000, 0, 0},
        {"min_interval_s", SG_JT_INT, 1, 0, 604800, 0, 0},
        {"cooldown_after_expiry_s", SG_JT_INT, 1, 0, 31536000, 0, 0},
        {"max_pair_cases_30d", SG_JT_INT, 0, 0, 1000, 0, 0},
    };
    memset(out, 0, sizeof(*out));
    if (sg_json_validate(body, f, NFIELDS(f), err, errlen))
        return -1;
    out->max_open_ballots = (int)sg_json_int(body, "max_open_ballots", 0);
    out->max_per_day = (int)sg_json_int(body, "max_per_day", 0);
    out->max_per_week = (int)sg_json_int(body, "max_per_week", 0);
    out->min_interval_s = (int)sg_json_int(body, "min_interval_s", 0);
    out->cooldown_after_expiry_s = (int)sg_json_int(body, "cooldown_after_expiry_s", 0);
    out->max_pair_cases_30d = (int)sg_json_int(body, "max_pair_cases_30d", 0);
    if (out->max_per_week < out->max_per_day) {
        snprintf(err, errlen, "max_per_week must be at least max_per_day");
        return -1;
    }
    return 0;
}

/* suspend_days: an integer 1..3650, or a list of 1..RV_SUSPEND_STEPS_MAX
 * of them. */
static int suspend_days_from_json(const json_t *v, rv_quality_policy *out, char *err, size_t errlen)
{
    size_t i;
    json_t *e;

    if (json_is_integer(v) && json_integer_value(v) >= 1 && json_integer_value(v) <= 3650) {
        out->suspend_days = (int)json_integer_value(v);
        out->nsteps = 0;
        return 0;
    }
    if (!json_is_array(v) || json_array_size(v) < 1 || json_array_size(v) > RV_SUSPEND_STEPS_MAX)
        goto bad;
    json_array_foreach(v, i, e) {
        if (!json_is_integer(e) || json_integer_value(e) < 1 || json_integer_value(e) > 3650)
            goto bad;
        out->steps[i] = (int)json_integer_value(e);
    }
    out->nsteps = (int)json_array_size(v);
    out->suspend_days = out->steps[0];
    return 0;
bad:
    snprintf(err, errlen, "suspend_days must be an integer 1..3650 or a list of 1..%d of them", RV_SUSPEND_STEPS_MAX);
    return -1;
}

int rv_quality_policy_from_json(const json_t *body, rv_quality_policy *out, char *err, size_t errlen)
{
    static const sg_field f[] = {
        {"min_decided_votes", SG_JT_INT, 1, 1, 1000000, 0, 0},
        {"min_accuracy", SG_JT_NUMBER, 1, 0, 1, 0, 0},
        {"max_no_show_rate", SG_JT_NUMBER, 1, 0, 1, 0, 0},
        {"min_gold_votes", SG_JT_INT, 0, 1, 1000000, 0, 0},
        {"min_gold_accuracy", SG_JT_NUMBER, 0, 0, 1, 0, 0},
        {"pair_flag_margin", SG_JT_NUMBER, 0, 0, 1, 0, 0},
    };
    json_t *rest = NULL, *days;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(body)) {
        snprintf(err, errlen, "body must be a JSON object");
        return -1;
    }
    /* suspend_days has two forms, which the field table cannot say: it is
     * checked on its own and the rest against the table. */
    days = json_object_get(body, "suspend_days");
    if (!days) {
        snprintf(err, errlen, "suspend_days is required");
        return -1;
    }
    if (!(rest = json_copy((json_t *)body))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    json_object_del(rest, "suspend_days");
    if (sg_json_validate(rest, f, NFIELDS(f), err, errlen) || suspend_days_from_json(days, out, err, errlen))
        goto cleanup;
    out->min_decided_votes = (int)sg_json_int(body, "min_decided_votes", 0);
    out->min_accuracy = json_number_value(json_object_get(body, "min_accuracy"));
    out->max_no_show_rate = json_number_value(json_object_get(body, "max_no_show_rate"));
    out->min_gold_votes = (int)sg_json_int(body, "min_gold_votes", RV_DEFAULT_MIN_GOLD_VOTES);
    out->min_gold_accuracy = json_object_get(body, "min_gold_accuracy")
                                 ? json_number_value(json_object_get(body, "min_gold_accuracy"))
                                 : RV_DEFAULT_MIN_GOLD_ACCURACY;
    out->pair_flag_margin = json_object_get(body, "pair_flag_margin")
                                ? json_number_value(json_object_get(body, "pair_flag_margin"))
                                : RV_DEFAULT_PAIR_FLAG_MARGIN;
    /* Belt and braces: the table's bounds are integers. */
    if (!(out->min_accuracy >= 0 && out->min_accuracy <= 1) || !(out->max_no_show_rate >= 0 && out->max_no_show_rate <= 1)
        || !(out->min_gold_accuracy >= 0 && out->min_gold_accuracy <= 1)
        || !(out->pair_flag_margin >= 0 && out->pair_flag_margin <= 1)) {
        snprintf(err, errlen, "accuracies, rates and margins must be between 0 and 1");
        goto cleanup;
    }
    rc = 0;
cleanup:
    json_decref(rest);
    return rc;
}

int rv_suspend_days(const rv_quality_policy *p, int n)
{
    if (p->nsteps <= 0)
        return p->suspend_days;
    if (n < 1)
        n = 1;
    return p->steps[(n < p->nsteps ? n : p->nsteps) - 1];
}

json_t *rv_pool_rule_to_json(const rv_pool_rule *r)
{
    return json_pack("{s:i, s:o, s:o, s:i, s:i, s:i}", "version", r->version, "include_tags_any",
                     rv_tags_to_json(&r->include_tags_any), "exclude_tags", rv_tags_to_json(&r->exclude_tags),
                     "min_credit_score", r->min_credit_score, "min_account_age_days", r->min_account_age_days,
                     "active_weeks_required", r->active_weeks_required);
}

json_t *rv_fatigue_policy_to_json(const rv_fatigue_policy *p)
{
    return json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i}", "version", p->version, "max_open_ballots",
                     p->max_open_ballots, "max_per_day", p->max_per_day, "max_per_week", p->max_per_week,
                     "min_interval_s", p->min_interval_s, "cooldown_after_expiry_s", p->cooldown_after_expiry_s,
                     "max_pair_cases_30d", p->max_pair_cases_30d);
}

json_t *rv_quality_policy_to_json(const rv_quality_policy *p)
{
    json_t *days;
    if (p->nsteps > 0) {
        days = json_array();
        for (int i = 0; days && i < p->nsteps; i++)
            json_array_append_new(days, json_integer(p->steps[i]));
    } else {
        days = json_integer(p->suspend_days);
    }
    return json_pack("{s:i, s:i, s:f, s:f, s:o, s:i, s:f, s:f}", "version", p->version, "min_decided_votes",
                     p->min_decided_votes, "min_accuracy", p->min_accuracy, "max_no_show_rate", p->max_no_show_rate,
                     "suspend_days", days, "min_gold_votes", p->min_gold_votes, "min_gold_accuracy",
                     p->min_gold_accuracy, "pair_flag_margin", p->pair_flag_margin);
}

json_t *rv_policy_versioned(json_t *o, const rv_version_meta *m)
{
    if (o) {
        json_object_set_new(o, "created_at", json_string(m->created_at));
        json_object_set_new(o, "created_by", json_string(m->created_by));
    }
    return o;
}
