/* Fuzz target: JSON request bodies. The input is parsed exactly as the HTTP
 * server does (json_loadb with JSON_REJECT_DUPLICATES, bodies over
 * SG_HTTP_MAX_BODY never reach the parser) and the result is handed to every
 * body validator, as any route may receive any parsed body:
 *   - sg_json_validate with the field tables of the report/reviewer routes
 *     and a table using every field type (with its post-conditions checked);
 *   - report: rp_intake_validate (POST /v1/reports), rp_audit_validate
 *     (POST /v1/audit-cases), rp_rule_parse (PUT
 *     /v1/voting-rules/{t}), parsed twice to the same rule;
 *   - reviewer: profile and activity batches, the three policies (round trip
 *     through *_to_json);
 *   - reward: reward rule, catalog item, redemption.
 * Validators must never modify the body (checked with a deep copy).
 */
#include <math.h>
#include <string.h>

#include "fuzz_util.h"
#include "report/intake.h"
#include "report/rule.h"
#include "reviewer/payloads.h"
#include "sg/timeutil.h"
#include "reward/catalog.h"
#include "reward/rule.h"
#include "sg/http.h"
#include "sg/json.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
/* A fixed "now" (2025-06-01T00:00:00Z) keeps runs reproducible. */
#define FUZZ_NOW 1748736000.0

/* Field tables of routes that validate inline (copied from the handlers). */
static const sg_field vote_f[] = {
    {"decision", SG_JT_STRING, 1, 1, 32, 0, 1},
    {"comment", SG_JT_STRING, 0, 0, 1000, 0, 0},
};
static const sg_field decline_f[] = {{"reason", SG_JT_STRING, 0, 0, 500, 0, 0}};
static const sg_field cancel_f[] = {{"reason", SG_JT_STRING, 1, 1, 500, 0, 1}};
static const sg_field resolve_f[] = {
    {"verdict", SG_JT_STRING, 1, 1, 32, 0, 1},
    {"note", SG_JT_STRING, 0, 0, 2000, 0, 0},
};
static const sg_field status_f[] = {
    {"status", SG_JT_STRING, 1, 1, 16, 0, 1},
    {"reason", SG_JT_STRING, 1, 1, 500, 0, 1},
};
static const sg_field avail_f[] = {{"paused", SG_JT_BOOL, 1, 0, 0, 0, 0}};

/* Every type, with bounds whose post-conditions are checked below. */
static const sg_field all_f[] = {
    {"s", SG_JT_STRING, 0, 1, 8, 0, 1},
    {"t", SG_JT_STRING, 0, 0, 0, 0, 0},
    {"i", SG_JT_INT, 0, -5, 5, 0, 0},
    {"n", SG_JT_NUMBER, 0, -1, 1, 0, 0},
    {"b", SG_JT_BOOL, 0, 0, 0, 0, 0},
    {"o", SG_JT_OBJECT, 0, 0, 64, 0, 0},
    {"a", SG_JT_ARRAY, 0, 1, 3, 0, 0},
    {"sa", SG_JT_STRING_ARRAY, 0, 0, 4, 3, 1},
};

typedef struct table {
    const sg_field *f;
    size_t n;
} table;

static const table tables[] = {
    {vote_f, N(vote_f)},     {decline_f, N(decline_f)}, {cancel_f, N(cancel_f)},
    {resolve_f, N(resolve_f)}, {status_f, N(status_f)}, {avail_f, N(avail_f)},
    {all_f, N(all_f)},
};

static int has_control(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; p[i]; i++) {
        if (p[i] < 0x20 || p[i] == 0x7F)
            return 1;
        if (p[i] == 0xC2 && p[i + 1] >= 0x80 && p[i + 1] <= 0x9F) /* U+0080..U+009F */
            return 1;
    }
    return 0;
}

/* After a successful validation: required fields present, and every field
 * given satisfies its bounds. */
static void check_table(const json_t *obj, const sg_field *f, size_t n)
{
    FZ_CHECK(json_is_object(obj), "validated a non-object");
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_object_get(obj, f[i].name);
        if (!v || json_is_null(v)) {
            FZ_CHECK(!f[i].required, "required field %s missing", f[i].name);
            continue;
        }
        switch (f[i].type) {
        case SG_JT_STRING: {
            const char *s = json_string_value(v);
            FZ_CHECK(s && strlen(s) == json_string_length(v), "%s: NUL inside", f[i].name);
            long long cp = (long long)sg_utf8_len(s);
            FZ_CHECK(cp >= f[i].min && (f[i].max == 0 || cp <= f[i].max), "%s: %lld code points", f[i].name, cp);
            FZ_CHECK(!f[i].printable || !has_control(s), "%s: control character", f[i].name);
            break;
        }
        case SG_JT_INT:
            FZ_CHECK(json_is_integer(v), "%s type", f[i].name);
            if (f[i].min || f[i].max)
                FZ_CHECK(json_integer_value(v) >= f[i].min && json_integer_value(v) <= f[i].max, "%s range",
                         f[i].name);
            break;
        case SG_JT_NUMBER:
            FZ_CHECK(json_is_number(v), "%s type", f[i].name);
            if (f[i].min || f[i].max)
                FZ_CHECK(json_number_value(v) >= (double)f[i].min && json_number_value(v) <= (double)f[i].max,
                         "%s range: %g", f[i].name, json_number_value(v));
            break;
        case SG_JT_BOOL:
            FZ_CHECK(json_is_boolean(v), "%s type", f[i].name);
            break;
        case SG_JT_OBJECT:
            FZ_CHECK(json_is_object(v), "%s type", f[i].name);
            if (f[i].max)
                FZ_CHECK(json_dumpb(v, NULL, 0, JSON_COMPACT) <= (size_t)f[i].max, "%s size", f[i].name);
            break;
        case SG_JT_ARRAY:
        case SG_JT_STRING_ARRAY: {
            FZ_CHECK(json_is_array(v), "%s type", f[i].name);
            long long k = (long long)json_array_size(v);
            FZ_CHECK(k >= f[i].min && (f[i].max == 0 || k <= f[i].max), "%s: %lld elements", f[i].name, k);
            if (f[i].type == SG_JT_ARRAY)
                break;
            size_t j;
            const json_t *e;
            json_array_foreach(v, j, e) {
                const char *s = json_string_value(e);
                FZ_CHECK(s != NULL, "%s[%zu] not a string", f[i].name, j);
                FZ_CHECK(strlen(s) == json_string_length(e), "%s[%zu]: NUL inside", f[i].name, j);
                FZ_CHECK(f[i].elem_max == 0 || sg_utf8_len(s) <= (size_t)f[i].elem_max, "%s[%zu] length",
                         f[i].name, j);
                FZ_CHECK(!f[i].printable || !has_control(s), "%s[%zu]: control character", f[i].name, j);
            }
            break;
        }
        }
    }
}

static void fuzz_tables(const json_t *body)
{
    char err[256];
    for (size_t t = 0; t < N(tables); t++) {
        err[0] = '\0';
        if (sg_json_validate(body, tables[t].f, tables[t].n, err, sizeof err) == 0)
            check_table(body, tables[t].f, tables[t].n);
        else
            FZ_CHECK(err[0] != '\0' && fz_terminated(err, sizeof err), "no message");
    }
}

static void fuzz_intake(const json_t *body)
{
    rp_report_input in;
    char err[256] = "";
    int rc = rp_intake_validate(body, &in, err, sizeof err);
    FZ_CHECK(rc == 0 || rc == 400 || rc == 422, "rc=%d", rc);
    if (rc) {
        FZ_CHECK(err[0] != '\0', "rc=%d without a message", rc);
        return;
    }
    FZ_CHECK(sg_is_report_type(in.report_type), "report_type");
    FZ_CHECK(sg_is_opaque_id(in.target_id) && sg_is_opaque_id(in.target_owner_id) &&
                 sg_is_opaque_id(in.reporter_id), "ids");
    FZ_CHECK(strcmp(in.reporter_id, in.target_owner_id) != 0, "self-report accepted");
    FZ_CHECK(strncmp(in.target_id, RP_AUDIT_KEY_PREFIX, strlen(RP_AUDIT_KEY_PREFIX)) != 0, "audit key accepted");
    FZ_CHECK(in.reason && sg_utf8_len(in.reason) >= 1 && sg_utf8_len(in.reason) <= RP_INTAKE_MAX_REASON, "reason");
    FZ_CHECK(!in.description || sg_utf8_len(in.description) <= RP_INTAKE_MAX_DESCRIPTION, "description");
    FZ_CHECK(!in.callback_url || (sg_is_http_url(in.callback_url) &&
                                  strlen(in.callback_url) <= RP_INTAKE_MAX_CALLBACK_URL), "callback_url");
    FZ_CHECK(!in.evidence || json_is_object(in.evidence), "evidence");
}

/* An audit case: a report's checks, never a reporter or a callback of
 * the caller's, always an expected verdict. */
static void fuzz_audit(const json_t *body)
{
    rp_audit_input in;
    char err[256] = "";
    int rc = rp_audit_validate(body, &in, err, sizeof err);
    FZ_CHECK(rc == 0 || rc == 400 || rc == 422, "rc=%d", rc);
    if (rc) {
        FZ_CHECK(err[0] != '\0', "rc=%d without a message", rc);
        return;
    }
    FZ_CHECK(!json_object_get(body, "reporter_id") && !json_object_get(body, "callback_url"),
             "an audit case took a reporter or a callback");
    FZ_CHECK(strcmp(in.report.reporter_id, RP_AUDIT_REPORTER) == 0 && !in.report.callback_url, "audit reporter");
    FZ_CHECK(in.expected == RP_VERDICT_VIOLATION || in.expected == RP_VERDICT_NO_VIOLATION, "expected_verdict");
    FZ_CHECK(sg_is_report_type(in.report.report_type), "report_type");
    FZ_CHECK(sg_is_opaque_id(in.report.target_id) && sg_is_opaque_id(in.report.target_owner_id), "ids");
    FZ_CHECK(strcmp(in.report.target_owner_id, RP_AUDIT_REPORTER) != 0, "reserved owner accepted");
    FZ_CHECK(strncmp(in.report.target_id, RP_AUDIT_KEY_PREFIX, strlen(RP_AUDIT_KEY_PREFIX)) != 0,
             "audit key accepted");
    FZ_CHECK(in.report.reason && sg_utf8_len(in.report.reason) >= 1 &&
                 sg_utf8_len(in.report.reason) <= RP_INTAKE_MAX_REASON, "reason");
    FZ_CHECK(!in.report.description || sg_utf8_len(in.report.description) <= RP_INTAKE_MAX_DESCRIPTION,
             "description");
    FZ_CHECK(!in.report.evidence || json_is_object(in.report.evidence), "evidence");
}

static void rule_same(const rp_rule *a, const rp_rule *b)
{
    FZ_CHECK(a->panel_size == b->panel_size && a->votes_to_decide == b->votes_to_decide &&
                 a->ballot_timeout_s == b->ballot_timeout_s && a->reminder_before_s == b->reminder_before_s &&
                 a->max_substitute_rounds == b->max_substitute_rounds && a->case_deadline_s == b->case_deadline_s &&
                 a->on_deadline == b->on_deadline && a->appeal_window_s == b->appeal_window_s &&
                 a->appeal_panel_size == b->appeal_panel_size &&
                 a->appeal_votes_to_decide == b->appeal_votes_to_decide &&
                 json_equal(a->reviewer_tags, b->reviewer_tags),
             "the same body parsed to another rule");
}

static void fuzz_rule(const json_t *body)
{
    rp_rule r, r2;
    char err[256] = "";
    if (rp_rule_parse(body, &r, err, sizeof err)) {
        FZ_CHECK(err[0] != '\0', "no message");
        FZ_CHECK(r.reviewer_tags == NULL, "failed parse left an allocation");
        return;
    }
    FZ_CHECK(rp_rule_check(&r, err, sizeof err) == 0, "parsed rule fails rp_rule_check: %s", err);
    FZ_CHECK(json_is_array(r.reviewer_tags), "reviewer_tags");
    FZ_CHECK(r.ballot_timeout_s <= RP_RULE_MAX_DURATION_S && r.case_deadline_s <= RP_RULE_MAX_DURATION_S &&
                 r.appeal_window_s <= RP_RULE_MAX_DURATION_S, "durations");
    /* The parse is a function of the body (the stored rule's JSON is built in
     * SQL, so there is no C encoder to round-trip through). */
    FZ_CHECK(rp_rule_parse(body, &r2, err, sizeof err) == 0, "second parse refused: %s", err);
    rule_same(&r, &r2);
    rp_rule_free(&r2);
    rp_rule_free(&r);
}

static void fuzz_reviewer_batches(const json_t *body)
{
    rv_profile_batch pb;
    rv_activity_batch ab;
    char err[256] = "";
    if (rv_profiles_parse(body, &pb, err, sizeof err) == 0) {
        FZ_CHECK(pb.n == json_array_size(body) && pb.n >= 1 && pb.n <= RV_BATCH_MAX, "profiles n");
        for (size_t i = 0; i < pb.n; i++) {
            FZ_CHECK(sg_is_opaque_id(pb.user_ids[i]), "profile %zu user_id", i);
            FZ_CHECK(pb.credit_scores[i] >= 0 && pb.credit_scores[i] <= 1000, "profile %zu credit", i);
            FZ_CHECK(sg_is_rfc3339(pb.registered_at[i]), "profile %zu registered_at", i);
            rv_tags t;
            FZ_CHECK(pb.tags_csv[i] && rv_tags_from_csv(pb.tags_csv[i], &t) == 0, "profile %zu tags_csv '%s'", i,
                     pb.tags_csv[i] ? pb.tags_csv[i] : "(null)");
            for (size_t k = 0; k < i; k++)
                FZ_CHECK(strcmp(pb.user_ids[k], pb.user_ids[i]) != 0, "duplicate user_id accepted");
        }
        rv_profile_batch_free(&pb);
    }
    if (rv_activity_parse(body, FUZZ_NOW, &ab, err, sizeof err) == 0) {
        FZ_CHECK(ab.n == json_array_size(body) && ab.n >= 1 && ab.n <= RV_BATCH_MAX, "activity n");
        for (size_t i = 0; i < ab.n; i++) {
            FZ_CHECK(sg_is_opaque_id(ab.user_ids[i]), "activity %zu user_id", i);
            FZ_CHECK(sg_week_of_day(ab.weeks[i]) == ab.weeks[i], "activity %zu week %ld not a Monday", i,
                     ab.weeks[i]);
            FZ_CHECK((double)ab.weeks[i] * SG_DAY_S <= FUZZ_NOW + RV_ACTIVITY_FUTURE_SLACK_S, "future week");
        }
        rv_activity_batch_free(&ab);
    }
}

static void check_tags(const rv_tags *t)
{
    FZ_CHECK(t->n >= 0 && t->n <= RV_MAX_TAGS, "tag count %d", t->n);
    for (int i = 0; i < t->n; i++) {
        FZ_CHECK(sg_is_tag(t->v[i]), "tag %d", i);
        for (int k = 0; k < i; k++)
            FZ_CHECK(strcmp(t->v[i], t->v[k]) != 0, "duplicate tag kept");
    }
}

/* Parses again what *_to_json produced (without "version", which PUT bodies
 * do not carry) and expects the same struct. */
#define ROUND_TRIP(type, from, to, r)                                                                       \
    do {                                                                                                    \
        type r2_;                                                                                           \
        json_t *j_ = to(&(r));                                                                              \
        FZ_CHECK(j_ != NULL, #to);                                                                          \
        json_object_del(j_, "version");                                                                     \
        FZ_CHECK(from(j_, &r2_, err, sizeof err) == 0, #to " output refused: %s", err);                     \
        FZ_CHECK(memcmp(&(r), &r2_, sizeof r2_) == 0, #type " changed through " #to);                       \
        json_decref(j_);                                                                                    \
    } while (0)

static void fuzz_reviewer_policies(const json_t *body)
{
    char err[256] = "";
    rv_pool_rule pr;
    rv_fatigue_policy fp;
    rv_quality_policy qp;
    if (rv_pool_rule_from_json(body, &pr, err, sizeof err) == 0) {
        check_tags(&pr.include_tags_any);
        check_tags(&pr.exclude_tags);
        FZ_CHECK(pr.min_credit_score >= 0 && pr.min_credit_score <= 1000, "min_credit_score");
        FZ_CHECK(pr.active_weeks_required >= 0 && pr.active_weeks_required <= 52, "active_weeks_required");
        ROUND_TRIP(rv_pool_rule, rv_pool_rule_from_json, rv_pool_rule_to_json, pr);
    }
    if (rv_fatigue_policy_from_json(body, &fp, err, sizeof err) == 0) {
        FZ_CHECK(fp.max_per_week >= fp.max_per_day && fp.max_open_ballots >= 1, "fatigue bounds");
        ROUND_TRIP(rv_fatigue_policy, rv_fatigue_policy_from_json, rv_fatigue_policy_to_json, fp);
    }
    if (rv_quality_policy_from_json(body, &qp, err, sizeof err) == 0) {
        FZ_CHECK(qp.min_accuracy >= 0 && qp.min_accuracy <= 1 && qp.max_no_show_rate >= 0 &&
                     qp.max_no_show_rate <= 1 && !isnan(qp.min_accuracy), "quality bounds");
        ROUND_TRIP(rv_quality_policy, rv_quality_policy_from_json, rv_quality_policy_to_json, qp);
    }
}

static void fuzz_reward(const json_t *body)
{
    char err[256] = "";
    rw_rule rr;
    rw_item it;
    rw_redeem rd;
    if (rw_rule_from_json(body, &rr, err, sizeof err) == 0)
        FZ_CHECK(rr.vote_reward >= 0 && rr.vote_reward <= RW_MAX_AMOUNT && rr.majority_bonus >= 0 &&
                     rr.majority_bonus <= RW_MAX_AMOUNT && rr.reporter_reward >= 0 &&
                     rr.reporter_reward <= RW_MAX_AMOUNT && rr.daily_cap_per_user >= 0 &&
                     rr.daily_cap_per_user <= RW_MAX_DAILY_CAP, "reward rule bounds");
    if (rw_item_from_json(body, &it, err, sizeof err) == 0)
        FZ_CHECK(it.name && sg_utf8_len(it.name) >= 1 && sg_utf8_len(it.name) <= 200 && it.cost >= 1 &&
                     it.cost <= RW_MAX_COST && it.stock >= 0 && it.stock <= RW_MAX_STOCK,
                 "item bounds");
    if (rw_redeem_from_json(body, &rd, err, sizeof err) == 0)
        FZ_CHECK(sg_is_uuid(rd.item_id) && rd.quantity >= 1 && rd.quantity <= RW_MAX_QUANTITY, "redeem");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t e;
    if (size == 0 || size > SG_HTTP_MAX_BODY) /* the server never parses these */
        return 0;
    json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &e);
    if (!body)
        return 0;
    json_t *copy = json_deep_copy(body);
    FZ_CHECK(copy != NULL, "deep copy");

    fuzz_tables(body);
    fuzz_intake(body);
    fuzz_audit(body);
    fuzz_rule(body);
    fuzz_reviewer_batches(body);
    fuzz_reviewer_policies(body);
    fuzz_reward(body);

    FZ_CHECK(json_equal(body, copy), "a validator modified the body");
    json_decref(copy);
    json_decref(body);
    return 0;
}
