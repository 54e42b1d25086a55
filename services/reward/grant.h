/* Reward computation: which coins a decided case earns whom, and how much of
 * a grant the daily cap lets through. Pure functions (no I/O).
 *
 * Rules (issue #5):
 *   - verdict null (cancelled, escalated): nothing for anyone; an escalated
 *     case earns when ops resolve it (a later sg.case.decided with a verdict);
 *   - a ballot with outcome "voted": `vote` = vote_reward, plus
 *     `majority_bonus` = majority_bonus when the vote was with the majority;
 *   - other outcomes (expired, declined, cancelled): nothing;
 *   - verdict violation: `reporter` = reporter_reward for each reporter,
 *     once per reported case: the grant is keyed by the reported case
 *     (rw_decision_reported_case), so an appeal that confirms the
 *     violation pays the reporters nothing more, and one that finds it after
 *     a no_violation pays them once. An overturned violation takes nothing
 *     back (coins may be spent);
 *   - amounts of 0 are no grant at all.
 * Grant kinds: vote, majority_bonus, reporter — one of each at most per user
 * and case (duplicates in the event collapse).
 */
#ifndef RW_GRANT_H
#define RW_GRANT_H

#include <stddef.h>
#include "payloads.h"
#include "rule.h"

typedef enum {
    RW_KIND_VOTE = 0,
    RW_KIND_MAJORITY_BONUS,
    RW_KIND_REPORTER,
} rw_kind;

/* "vote", "majority_bonus", "reporter". */
const char *rw_kind_name(rw_kind k);

typedef struct rw_grant {
    const char *user_id;          /* borrowed from the decision */
    rw_kind kind;
    long long amount;             /* coins due, > 0 */
} rw_grant;

/* Computes the grants of decision d under rule. On success returns 0 with
 * *out a malloc'ed array (caller frees; NULL when *n == 0) sorted by user_id
 * (strcmp) then kind — the order in which the store locks per-user rows, so
 * concurrent consumers cannot deadlock — with at most one grant per (user,
 * kind). Returns -1 when out of memory. */
int rw_compute(const rw_rule *rule, const rw_decision *d, rw_grant **out, size_t *n);

/* Coins to pay now for a grant of `due` when the user was already paid
 * `paid_today` coins this UTC day under a cap of `cap`: min(due, cap -
 * paid_today), never below 0. A result < due means the grant is capped
 * (partially paid when > 0). */
long long rw_cap_pay(long long cap, long long paid_today, long long due);

/* The cap over the n grants of one case, in their order: grant i (user
 * users[i], `due[i]` coins) gets paid[i] = rw_cap_pay(cap, what its user
 * was paid that day before it, due[i]), so a user's grants consume the cap
 * one after the other. users[] is grouped by user (rw_compute's order);
 * today[u] holds what the u-th distinct user of users[] was paid that day so
 * far and is advanced by their payments. All arrays are the caller's. */
void rw_cap_pay_all(long long cap, const char *const *users, const long long *due, size_t n, long long *today,
                        long long *paid);

#endif
