/* Reward computation: which coins a decided case earns whom, when, and how
 * much of a grant the daily cap lets through. Pure functions (no I/O).
 *
 * Settlement (API.md "Reward service", v2): a case pays in two stages.
 *   - At decision (RW_DUE_VOTES): `vote` = vote_reward to every juror whose
 *     ballot has outcome "voted", whatever they voted. Expired, declined and
 *     cancelled ballots earn nothing.
 *   - At finality (RW_DUE_SETTLEMENT, given the final verdict):
 *     `majority_bonus` = majority_bonus to every juror of THIS case who voted
 *     the final verdict (for an audit case: the expected verdict), and
 *     `reporter` = reporter_reward to each reporter when the final verdict is
 *     `violation`. The first verdict does not matter here: an overturned case
 *     pays its bonus to its own jurors who voted with the appeal, and its
 *     reporters only when the appeal found a violation.
 *   - Until finality, what the settlement would pay if the first verdict
 *     stands is held as pending: RW_DUE_SETTLEMENT with final = the first
 *     verdict.
 * A reporter grant is keyed by the reported case
 * (rw_decision_reported_case), which an appeal shares, so the reporters of a
 * case are paid once however many of the case and its appeal settle.
 * A null verdict (cancelled, escalated) earns nothing at any stage: an
 * escalated case earns when ops resolve it (a later sg.case.decided).
 * Amounts of 0 are no grant at all. Grant kinds: vote, majority_bonus,
 * reporter — one of each at most per user and case (duplicates in the event
 * collapse).
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

/* Stages of rw_compute, or'ed. */
#define RW_DUE_VOTES 1u          /* what the decision credits */
#define RW_DUE_SETTLEMENT 2u     /* what finality credits (or, before it, holds as pending) */

/* The settlement's verdicts: `final` decides the reporter reward, `bonus`
 * whom the majority bonus goes to (the final verdict, or an audit case's
 * expected verdict). */
typedef struct rw_final {
    rw_verdict final;
    rw_verdict bonus;
} rw_final;

/* Computes the grants of decision d under rule for the stages in `what`;
 * fin is needed (non-NULL, both verdicts set) when `what` has
 * RW_DUE_SETTLEMENT. On success returns 0 with *out a malloc'ed array
 * (caller frees; NULL when *n == 0) sorted by user_id (strcmp) then kind —
 * the order in which the store locks per-user rows, so concurrent consumers
 * cannot deadlock — with at most one grant per (user, kind). Returns -1
 * when out of memory. A decision with a null verdict earns nothing. */
int rw_compute(const rw_rule *rule, const rw_decision *d, unsigned what, const rw_final *fin, rw_grant **out,
               size_t *n);

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
