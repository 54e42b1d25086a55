/* The three ops-owned policies of the reviewer service (pool rule, fatigue
 * policy, quality policy) and tag lists: plain structs, strict parsing from
 * request bodies, and serialization. Pure; no I/O.
 *
 * Every policy is versioned in PostgreSQL: a PUT inserts version max+1 and
 * the highest version is current.
 */
#ifndef RV_POLICY_H
#define RV_POLICY_H

#include <jansson.h>
#include <stddef.h>
#include "sg/json.h"

#define RV_MAX_TAGS 32
#define RV_TAG_MAX SG_TAG_MAX
/* Enough for a PostgreSQL array literal or CSV of RV_MAX_TAGS tags. */
#define RV_TAGS_TEXT_MAX (RV_MAX_TAGS * (RV_TAG_MAX + 1) + 3)

/* A tag list. Tags match [a-z0-9_:-]{1,64}, so they never contain ',' or
 * anything PostgreSQL would quote in an array literal. */
typedef struct rv_tags {
    int n;
    char v[RV_MAX_TAGS][RV_TAG_MAX + 1];
} rv_tags;

/* Who may be a reviewer (see eligibility.h for the exact semantics). */
typedef struct rv_pool_rule {
    int version;
    rv_tags include_tags_any;  /* empty: no requirement */
    rv_tags exclude_tags;
    int min_credit_score;      /* 0..1000 */
    int min_account_age_days;  /* 0..36500 */
    int active_weeks_required; /* 0..52; 0: no activity requirement */
} rv_pool_rule;

/* How often one reviewer may be asked (see fatigue.h). */
typedef struct rv_fatigue_policy {
    int version;
    int max_open_ballots;        /* 1..1000 */
    int max_per_day;             /* 1..100000, per UTC day */
    int max_per_week;            /* 1..1000000, per ISO week (UTC) */
    int min_interval_s;          /* 0..604800 between two assignments */
    int cooldown_after_expiry_s; /* 0..31536000 after a ballot expired */
    int max_pair_cases_30d;      /* 0..1000; 0 = no limit (optional, default 0) */
} rv_fatigue_policy;

#define RV_SUSPEND_STEPS_MAX 16
/* Defaults of the optional quality fields (API.md v2). */
#define RV_DEFAULT_MIN_GOLD_VOTES 5
#define RV_DEFAULT_MIN_GOLD_ACCURACY 0.7
#define RV_DEFAULT_PAIR_FLAG_MARGIN 0.25

/* When a reviewer is suspended (see quality.h). */
typedef struct rv_quality_policy {
    int version;
    int min_decided_votes;   /* 1..1000000: sample size before judging */
    double min_accuracy;     /* 0..1 */
    double max_no_show_rate; /* 0..1 */
    int suspend_days;        /* 1..3650: the integer form, or the first step */
    int min_gold_votes;      /* 1..1000000 (optional, default 5) */
    double min_gold_accuracy;/* 0..1 (optional, default 0.7) */
    double pair_flag_margin; /* 0..1 (optional, default 0.25), additive */
    int nsteps;              /* 0: suspend_days was an integer; else the list */
    int steps[RV_SUSPEND_STEPS_MAX]; /* suspend_days as a list, each 1..3650 */
} rv_quality_policy;

/* Length in days of a reviewer's n-th timed suspension (n >= 1): the n-th
 * step, the last one repeating; the integer form for every n. */
int rv_suspend_days(const rv_quality_policy *p, int n);


/* Fills out from a JSON array of tags (NULL → empty). Refuses non-strings,
 * invalid tags and more than RV_MAX_TAGS with a message naming `field`.
 * Duplicates are dropped. Returns 0 or -1. */
int rv_tags_from_json(const json_t *arr, rv_tags *out, const char *field, char *err, size_t errlen);
/* New JSON array of the tags. */
json_t *rv_tags_to_json(const rv_tags *t);
/* Writes the PostgreSQL array literal ("{a,b}") of t into buf
 * (RV_TAGS_TEXT_MAX bytes suffice); returns buf. */
char *rv_tags_pg(const rv_tags *t, char *buf, size_t len);
/* Writes the tags joined by ',' into buf; returns buf. */
char *rv_tags_csv(const rv_tags *t, char *buf, size_t len);
/* Parses tags joined by ',' ("" → empty). Returns 0, or -1 when a tag is
 * invalid or there are too many. */
int rv_tags_from_csv(const char *csv, rv_tags *out);
/* 1 when t contains tag. */
int rv_tags_has(const rv_tags *t, const char *tag);

/* Strict parsers of PUT bodies: unknown fields, wrong types, missing
 * required fields and out-of-range values are refused with a message.
 * version is set to 0. Return 0 or -1. */
int rv_pool_rule_from_json(const json_t *body, rv_pool_rule *out, char *err, size_t errlen);
int rv_fatigue_policy_from_json(const json_t *body, rv_fatigue_policy *out, char *err, size_t errlen);
int rv_quality_policy_from_json(const json_t *body, rv_quality_policy *out, char *err, size_t errlen);

/* New JSON objects (fields of API.md plus "version"). */
json_t *rv_pool_rule_to_json(const rv_pool_rule *r);
json_t *rv_fatigue_policy_to_json(const rv_fatigue_policy *p);
json_t *rv_quality_policy_to_json(const rv_quality_policy *p);

/* Who wrote a policy version, and when (RFC 3339). */
typedef struct rv_version_meta {
    char created_at[32];
    char created_by[129];
} rv_version_meta;

/* The API representation of a stored version: o (one of the _to_json
 * objects above, reference stolen) with created_at and created_by. */
json_t *rv_policy_versioned(json_t *o, const rv_version_meta *m);

#endif
