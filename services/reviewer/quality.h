/* Reviewer quality: accuracy, reliability (the selection weight), the
 * quality policy's suspension test, and how a ballot outcome changes a
 * reviewer's counters. Pure.
 *
 * Definitions:
 *   decided       ballots voted in cases that reached a verdict
 *   accuracy      with_majority / decided (undefined while decided == 0)
 *   reliability   (with_majority + 1) / (decided + 2): accuracy with Laplace
 *                 smoothing, so newcomers weigh 0.5 and one unlucky vote does
 *                 not make anyone weigh 0
 *   no-show rate  expired / (voted + expired); declining is without penalty
 * The quality policy suspends a reviewer when, counting only ballots since the
 * last reinstatement:
 *   decided >= min_decided_votes and accuracy < min_accuracy, or
 *   voted + expired >= min_decided_votes and no-show rate > max_no_show_rate,
 *   or gold_votes >= min_gold_votes and gold accuracy < min_gold_accuracy
 *   (gold accuracy = gold_hits / gold_votes, from audit cases: votes that
 *   matched the expected verdict).
 * The pool adjustment applies the same test in SQL. The n-th such
 * suspension lasts rv_suspend_days(policy, n) (policy.h).
 */
#ifndef RV_QUALITY_H
#define RV_QUALITY_H

#include "policy.h"

double rv_reliability(int decided, int with_majority);

/* 0 and *out = accuracy, or -1 when decided == 0. */
int rv_accuracy(int decided, int with_majority, double *out);

typedef struct rv_quality_counts {
    int voted, expired, decided, with_majority;
    int gold_votes, gold_hits;
} rv_quality_counts;

/* In the order the test checks them (the first that applies is the reason). */
typedef enum { RV_Q_OK = 0, RV_Q_ACCURACY, RV_Q_GOLD, RV_Q_NO_SHOW } rv_quality;

rv_quality rv_quality_check(const rv_quality_policy *p, const rv_quality_counts *c);

/* A juror's decision, or a verdict. */
typedef enum { RV_DEC_NONE = 0, RV_DEC_VIOLATION, RV_DEC_NO_VIOLATION } rv_decision;

/* Parses "violation" | "no_violation" (NULL → RV_DEC_NONE); 0, or -1 for
 * any other string. */
int rv_decision_parse(const char *s, rv_decision *out);
/* Name, or NULL for RV_DEC_NONE. */
const char *rv_decision_name(rv_decision d);

/* A voted ballot's with_majority measured against the final verdict
 * (API.md v2, Accuracy): when the final verdict is known and differs from
 * the decided one (an appeal overturned it), the mark is whether the juror
 * decided the final verdict; otherwise the reported mark stands (-1, 0, 1).
 * A ballot without a known decision keeps the reported mark. */
int rv_final_mark(rv_decision decision, rv_decision verdict, rv_decision final_verdict, int reported);

/* Pair agreement (API.md v2): how often two jurors who sat together voted
 * the same way, against what their majority rates alone would give.
 *   majority rate  accuracy (with_majority / decided), 0.5 while decided = 0
 *   baseline       p_a*p_b + (1-p_a)*(1-p_b): two independent jurors agree
 *                  when both vote with the majority or both against it
 *   flagged        at least RV_PAIR_MIN_CASES cases together and
 *                  agreed/cases - baseline >= margin (additive)
 * The flagged listing applies the same test in SQL (store_pairs.c). */
#define RV_PAIR_MIN_CASES 5
double rv_majority_rate(int decided, int with_majority);
double rv_pair_baseline(double p_a, double p_b);
int rv_pair_flagged(int cases, int agreed, double baseline, double margin);

/* Ballot outcomes as carried by sg.ballot.closed / sg.case.decided. */
typedef enum { RV_OUT_NONE = 0, RV_OUT_VOTED, RV_OUT_EXPIRED, RV_OUT_DECLINED, RV_OUT_CANCELLED } rv_outcome;

/* Parses "voted" | "expired" | "declined" | "cancelled"; 0 or -1. */
int rv_outcome_parse(const char *s, rv_outcome *out);
/* Name, or NULL for RV_OUT_NONE. */
const char *rv_outcome_name(rv_outcome o);

/* Gold marks of audit ballots (rv_ballot_state.gold). */
enum { RV_GOLD_NONE = 0, RV_GOLD_MISS = 1, RV_GOLD_HIT = 2 };

/* What is recorded per assignment. with_majority: -1 unknown, 0, 1. gold:
 * RV_GOLD_* (only a voted ballot of an audit case has one). */
typedef struct rv_ballot_state {
    rv_outcome outcome;
    int with_majority;
    int open;
    int gold;
} rv_ballot_state;

/* The gold mark of a voted ballot of an audit case: hit when the juror
 * decided the expected verdict. RV_GOLD_NONE when not voted, without a
 * decision, or without an expected verdict. */
int rv_gold_mark(rv_outcome outcome, rv_decision decision, rv_decision expected);

/* How one assignment's change moves its reviewer's counters. */
typedef struct rv_counter_delta {
    int voted, expired, declined, decided, with_majority;
    int gold_votes, gold_hits;
    int release;       /* 1: the open ballot is released (open_ballots - 1) */
    int newly_expired; /* 1: start the expiry cooldown */
} rv_counter_delta;

/* Merges a report about a ballot into its recorded state: the ballot is
 * closed; a known outcome replaces the recorded one; a known with_majority
 * replaces the recorded one (unknown keeps it). with_majority and gold only
 * count for voted ballots (a gold mark is set with rv_ballot_set_gold). */
void rv_ballot_merge(const rv_ballot_state *old, rv_outcome outcome, int with_majority, rv_ballot_state *out);

/* Records a known gold mark (RV_GOLD_NONE keeps the recorded one); a ballot
 * that is not voted has none. */
void rv_ballot_set_gold(rv_ballot_state *s, int gold);

/* The counter changes from old to new: counters are always the sums over
 * assignments of the recorded states, so applying the same report twice
 * (or a ballot.closed and then the case.decided repeating it) changes
 * nothing the second time. */
void rv_outcome_delta(const rv_ballot_state *old, const rv_ballot_state *neu, rv_counter_delta *d);

#endif
