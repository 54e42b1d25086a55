/* The decision rule of a case and the arithmetic around the panel. Pure
 * functions over counts; the store feeds them what it read under the case's
 * row lock and acts on the answer.
 */
#ifndef REPORT_DECISION_H
#define REPORT_DECISION_H

typedef enum { VERDICT_NONE = 0, VERDICT_VIOLATION = 1, VERDICT_NO_VIOLATION = 2 } verdict;

/* "violation" / "no_violation" / NULL for VERDICT_NONE. */
const char *verdict_name(verdict v);
/* VERDICT_NONE when s is neither name. */
verdict verdict_parse(const char *s);

/* Early decision: the side that reached votes_to_decide, else VERDICT_NONE.
 * Both sides cannot reach it with a strict majority rule; if the counts are
 * inconsistent anyway (more votes than a panel allows) VERDICT_NONE. */
verdict decide_by_panel(int violation, int no_violation, int votes_to_decide);

typedef enum { DEADLINE_DECIDED = 0, DEADLINE_ESCALATED = 1 } deadline_outcome;

/* At the case deadline: with escalate set, always escalated; otherwise the
 * majority of votes cast decides and a tie (including no votes) escalates.
 * *out gets the verdict when decided, VERDICT_NONE otherwise. */
deadline_outcome decide_at_deadline(int escalate, int violation, int no_violation, verdict *out);

/* Seats to request so the panel is full again: panel_size minus ballots that
 * still count (open or voted) minus seats already requested and not yet
 * answered; never negative. Expired, declined and cancelled ballots free
 * their seat. */
int seats_needed(int panel_size, int open_or_voted, int pending);

/* 1 when a request for round `next_round` is allowed: round 1 is the first
 * panel, rounds 2..max_substitute_rounds+1 are substitute rounds. */
int round_allowed(int next_round, int max_substitute_rounds);

/* Whether a voter sided with the verdict: only a cast vote equal to it. */
int with_majority(verdict decision, verdict final_verdict);

/* Delay before callback attempt number `attempts`+1 after `attempts` failed
 * ones (attempts >= 1): 1 s, 2 s, 4 s, ... capped at cap_s. */
long callback_backoff_s(int attempts, long cap_s);

#endif
