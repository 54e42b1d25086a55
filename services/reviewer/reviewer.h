/* A reviewer as the API shows it, and reviewer state transitions. Pure. */
#ifndef RV_REVIEWER_H
#define RV_REVIEWER_H

#include <jansson.h>

#define RV_REASON_MAX 200 /* code points */

typedef struct rv_reviewer {
    char user_id[129];
    char status[16];            /* active | paused | suspended | retired */
    char reason[RV_REASON_MAX * 4 + 1];
    char status_changed_at[32]; /* RFC 3339, "" = never */
    char suspended_until[32];   /* "" = none / indefinite */
    int assigned, voted, expired, declined, decided, with_majority;
    int open_ballots;
    char last_assigned_at[32];  /* "" = never */
    char cooldown_until[32];    /* "" = none */
} rv_reviewer;

/* The API representation:
 * {user_id, status, reason, status_changed_at, suspended_until,
 *  counts: {assigned, voted, expired, declined, decided, with_majority},
 *  accuracy (raw; null until a decided vote), reliability (smoothed: the
 *  selection weight), no_show_rate (null until a ballot closed voted or
 *  expired), open_ballots, last_assigned_at, cooldown_until}. */
json_t *rv_reviewer_to_json(const rv_reviewer *r);

/* 1 when s is one of the four statuses. */
int rv_status_valid(const char *s);

/* Self-service pause/unpause (PUT /v1/me/availability). Given the current
 * status and the request, sets *next and returns 0 (next may equal cur: a
 * no-op), or -1 when not allowed (suspended/retired cannot change their
 * availability). */
int rv_availability_next(const char *cur, int paused, const char **next);

/* Ops status change (PUT /v1/reviewers/{id}/status, target active or
 * suspended): 0 when allowed from cur, -1 otherwise (a retired reviewer
 * cannot be suspended; it is not in the pool). */
int rv_ops_status_allowed(const char *cur, const char *target);

#endif
