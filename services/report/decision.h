/* The decision rule of a case and the arithmetic around the panel. Pure
 * functions over counts; the store feeds them what it read under the case's
 * row lock and acts on the answer.
 */
#ifndef RP_DECISION_H
#define RP_DECISION_H

typedef enum { RP_VERDICT_NONE = 0, RP_VERDICT_VIOLATION = 1, RP_VERDICT_NO_VIOLATION = 2 } rp_verdict;

/* "violation" / "no_violation" / NULL for RP_VERDICT_NONE. */
const char *rp_verdict_name(rp_verdict v);
/* RP_VERDICT_NONE when s is neither name. */
rp_verdict rp_verdict_parse(const char *s);

/* Early decision: the side that reached votes_to_decide, else RP_VERDICT_NONE.
 * Both sides cannot reach it with a strict majority rule; if the counts are
 * inconsistent anyway (more votes than a panel allows) RP_VERDICT_NONE. */
rp_verdict rp_decide_by_panel(int violation, int no_violation, int votes_to_decide);

typedef enum { RP_DEADLINE_DECIDED = 0, RP_DEADLINE_ESCALATED = 1 } rp_deadline_outcome;

/* At the case deadline: with escalate set, always escalated; otherwise the
 * majority of votes cast decides, provided at least min_votes were cast (the
 * rule's min_votes_at_deadline); a tie, too few votes or no votes escalates.
 * *out gets the verdict when decided, RP_VERDICT_NONE otherwise. */
rp_deadline_outcome rp_decide_at_deadline(int escalate, int min_votes, int violation, int no_violation,
                                          rp_verdict *out);

/* Seats to request so the panel is full again: panel_size minus ballots that
 * still count (open or voted) minus seats already requested and not yet
 * answered; never negative. Expired, declined and cancelled ballots free
 * their seat. */
int rp_seats_needed(int panel_size, int open_or_voted, int pending);

/* 1 when one more substitute round (for expired, declined or cancelled
 * ballots) is allowed after `used` of them. Shortfall retries and the
 * replacement of suspended or retired reviewers spend none. */
int rp_substitute_allowed(int used, int max_substitute_rounds);

/* Cap of the pause between two shortfall retries (10 minutes). */
#define RP_SHORTFALL_MAX_BACKOFF_S 600L

/* Pause before shortfall retry number `retries`+1, when `retries` were made
 * since the panel was last full: base_s, 2*base_s, 4*base_s, ... capped at
 * RP_SHORTFALL_MAX_BACKOFF_S (30 s, 1 min, 2 min, 4 min, 8 min, 10 min, ...
 * with the default base of 30 s). base_s < 1 counts as 1. */
long rp_shortfall_backoff_s(int retries, long base_s);

/* Whether a voter sided with the verdict: only a cast vote equal to it. */
int rp_with_majority(rp_verdict decision, rp_verdict final_verdict);

/* Delay before callback attempt number `attempts`+1 after `attempts` failed
 * ones (attempts >= 1): 1 s, 2 s, 4 s, ... capped at cap_s. */
long rp_callback_backoff_s(int attempts, long cap_s);

#endif
