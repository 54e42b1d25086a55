/* Voting rules: the per-report-type parameters of a case (panel, timeouts,
 * deadline policy, appeal panel). Pure: parsing and validation of the API
 * body, and conversion back to JSON. No database, no HTTP.
 */
#ifndef REPORT_RULE_H
#define REPORT_RULE_H

#include <jansson.h>
#include <stddef.h>

/* Upper bound of every duration in a rule: a year keeps timestamps sane. */
#define RULE_MAX_DURATION_S 31536000L
#define RULE_MAX_PANEL 101
#define RULE_MAX_SUBSTITUTE_ROUNDS 10
#define RULE_MAX_TAGS 32

typedef enum { RULE_DECIDE_BY_VOTES_CAST = 0, RULE_ESCALATE = 1 } rule_on_deadline;

typedef struct vrule {
    int panel_size;
    int votes_to_decide;
    long ballot_timeout_s;
    long reminder_before_s;   /* 0 = no reminder */
    int max_substitute_rounds;
    long case_deadline_s;
    rule_on_deadline on_deadline;
    json_t *reviewer_tags;    /* owned array of strings (never NULL after parse) */
    long appeal_window_s;
    int appeal_panel_size;
    int appeal_votes_to_decide;
} vrule;

/* 1 if votes_to_decide is a strict majority of panel_size, within 1..101. */
int rule_panel_ok(int panel_size, int votes_to_decide);

/* Parses and validates a PUT body. Returns 0 and fills *out (free with
 * rule_free), or -1 with a message for a 400 detail (nothing to free). */
int rule_parse(const json_t *body, vrule *out, char *err, size_t errlen);

/* Checks the cross-field constraints of an already typed rule. Returns 0 or
 * -1 with a message. */
int rule_check(const vrule *r, char *err, size_t errlen);

/* The API representation (without report_type/version). New reference. */
json_t *rule_to_json(const vrule *r);

const char *rule_on_deadline_name(rule_on_deadline d);
/* Returns 0 and sets *out, or -1 for an unknown name. */
int rule_on_deadline_parse(const char *s, rule_on_deadline *out);

void rule_free(vrule *r);

#endif
