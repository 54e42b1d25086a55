/* Intake of results: what sg.case.decided and sg.case.finalized change for
 * the jurors of a case, inside the consumer's inbox transaction. Not pure
 * and not SQL (like panel.c): it runs quality.h's rules over what the store
 * reads and has the store write the merged states.
 *
 * Accuracy against the final verdict (API.md v2). Each voted ballot's
 * decision is recorded from sg.case.decided; the case's decided and final
 * verdicts meet in one locked row (rv_store_case_*_mark), whichever event
 * comes first:
 *  - decided after finalized: the marks are computed against the final
 *    verdict right away (rv_final_mark);
 *  - finalized after decided: the recorded decisions are re-marked and the
 *    counters move by the difference (rv_ballot_merge: a corrected mark
 *    replaces the recorded one, so with_majority, accuracy, reliability and
 *    the quality policy follow).
 * Pair agreement: sg.case.decided also records, for every two voters,
 * whether they voted the same way (rv_store_pair_cases_add). That does not
 * depend on the verdict, so finality has nothing to correct there; what
 * finality corrects is each one's majority rate, from which the pair's
 * baseline is computed when it is read.
 * Audit cases (finalized with audit: true) give each voted ballot a gold mark
 * (rv_gold_mark) the same way, whichever order. Everything is a merge of
 * recorded states, so a redelivered event (under a new event id) changes
 * nothing the second time.
 */
#ifndef RV_RESULTS_H
#define RV_RESULTS_H

#include "payloads.h"
#include "sg/pg.h"
#include "svc.h"

/* Records every panelist's outcome, decision and mark, closes the ballots
 * still open. Returns SG_OK or SG_ERR_*. */
int rv_results_decided(sg_pg *c, rv_svc *s, const rv_case_decided *d, double now);
/* Records the final verdict and corrects the marks (and gold marks). */
int rv_results_finalized(sg_pg *c, rv_svc *s, const rv_case_finalized *f, double now);

#endif
