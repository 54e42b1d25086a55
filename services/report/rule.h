/* Voting rules: the per-report-type parameters of a case (panel, timeouts,
 * deadline policy, appeal panel). Pure: parsing and validation of the API
 * body. No database, no HTTP. The API representation of a stored rule is
 * built in SQL by the store (store_rules.c; see store.h).
 */
#ifndef RP_RULE_H
#define RP_RULE_H

#include <jansson.h>
#include <stddef.h>

/* Upper bound of every duration in a rule: a year keeps timestamps sane. */
#define RP_RULE_MAX_DURATION_S 31536000L
#define RP_RULE_MAX_PANEL 101
#define RP_RULE_MAX_SUBSTITUTE_ROUNDS 10
#define RP_RULE_MAX_TAGS 32
/* max_reports_per_case: 1..10000, default 500 (API.md). The upper bound
 * keeps every event about a case under 256 KiB (see payloads.h). */
#define RP_RULE_MAX_REPORTS_PER_CASE 10000
#define RP_RULE_DEFAULT_MAX_REPORTS_PER_CASE 500
/* Upper bound and default of re_report_cooldown_s (30 days, 1 day). */
#define RP_RULE_MAX_COOLDOWN_S 2592000L
#define RP_RULE_DEFAULT_COOLDOWN_S 86400L

typedef enum { RP_RULE_DECIDE_BY_VOTES_CAST = 0, RP_RULE_ESCALATE = 1 } rp_rule_on_deadline;

typedef struct rp_rule {
    int panel_size;
    int votes_to_decide;
    long ballot_timeout_s;
    long reminder_before_s;   /* 0 = no reminder */
    int max_substitute_rounds;
    long case_deadline_s;
    rp_rule_on_deadline on_deadline;
    json_t *reviewer_tags;    /* owned array of strings (never NULL after parse) */
    long appeal_window_s;
    int appeal_panel_size;
    int appeal_votes_to_decide;
    int max_reports_per_case; /* optional, RP_RULE_DEFAULT_MAX_REPORTS_PER_CASE */
    int min_votes_at_deadline;  /* 1..panel_size; default votes_to_decide */
    long re_report_cooldown_s;  /* 0..RP_RULE_MAX_COOLDOWN_S; default RP_RULE_DEFAULT_COOLDOWN_S */
} rp_rule;

/* 1 if votes_to_decide is a strict majority of panel_size, within 1..101. */
int rp_rule_panel_ok(int panel_size, int votes_to_decide);

/* Parses and validates a PUT body. Returns 0 and fills *out (free with
 * rp_rule_free), or -1 with a message for a 400 detail (nothing to free). */
int rp_rule_parse(const json_t *body, rp_rule *out, char *err, size_t errlen);

/* Checks the cross-field constraints of an already typed rule. Returns 0 or
 * -1 with a message. */
int rp_rule_check(const rp_rule *r, char *err, size_t errlen);

const char *rp_rule_on_deadline_name(rp_rule_on_deadline d);
/* Returns 0 and sets *out, or -1 for an unknown name. */
int rp_rule_on_deadline_parse(const char *s, rp_rule_on_deadline *out);

void rp_rule_free(rp_rule *r);

#endif
