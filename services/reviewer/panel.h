/* Panel selection: answers one sg.panel.requested inside the caller's
 * transaction (the consumer's inbox transaction, or the benchmark's).
 * Not pure and not SQL: it runs the pure filters and draw (selection.h,
 * fatigue.h, quality.h) over what the store reads (store.h, every statement
 * there) and what the fatigue cache holds (fcache.h), and has the event
 * encoded by payloads.h.
 *
 * How it avoids scanning a pool of a million reviewers:
 *  1. Every active reviewer has a random sample_key in [0,1), indexed by a
 *     partial btree (WHERE status = 'active'). A selection draws a random
 *     point r and reads the next W reviewers in key order from r (with the
 *     rule's required tags, `tags @> ...`, which the planner may serve from
 *     the GIN index instead), wrapping around to 0 once, at most
 *     SG_SELECTION_MAX_WINDOWS windows: O(log n + W) per window.
 *  2. Each candidate is pre-filtered by a pure function (selection.h): the
 *     exclusion set (exclude_user_ids of the request plus everyone already
 *     on the case in any round), active status, all required tags, and the
 *     fatigue limits as cached in Redis (fcache.h). A cache miss passes the
 *     pre-filter: PostgreSQL decides in step 4 for exactly the reviewers
 *     that would be chosen, rather than for every candidate of the window.
 *  3. Survivors are put in a random order weighted by reliability
 *     (Laplace-smoothed accuracy) with Efraimidis–Spirakis keys; every
 *     prefix of that order is a weighted draw without replacement, and
 *     dropping ineligible entries from it leaves a weighted order of the
 *     eligible ones.
 *  4. The first `seats` are locked (SELECT ... FOR UPDATE, user_id order)
 *     and re-checked with the same filter against the PostgreSQL truth and,
 *     when the fatigue policy limits pairs (max_pair_cases_30d > 0), against
 *     the reviewers already seated on the case (earlier rounds, and the
 *     picks accepted before it): one statement per batch sums pair_days
 *     over the last 30 days for exactly the pairs (pick, seated) — index
 *     probes, O(batch x seated), never the pool — and rv_pair_allowed
 *     refuses a pick that would sit with someone once too often (the
 *     seated reviewers' rows are held FOR SHARE first, so two selections
 *     adding a case to the same pair serialize); a
 *     reviewer that fails (cache miss or stale, or a concurrent selection
 *     just took the last slot) is skipped, its truth is written to the
 *     cache, and the next in the order is tried (in growing batches). Hence
 *     no limit can be exceeded, whatever Redis holds or lost.
 *  5. Chosen reviewers get their counters and a fresh sample_key (so windows
 *     do not keep meeting the same people), assignments rows, the answer on
 *     panel_requests, and an sg.panel.assigned outbox row — one transaction;
 *     their new fatigue state is written to the cache. A shortfall is
 *     reported when fewer than `seats` passed.
 * Every assignment counts its new pairs in pair_days (one upsert per pair,
 * in the assignment statement).
 * Cost per selection: about 6 PostgreSQL round trips (7 with a pair limit) (claim+context, window,
 * lock, assign, outbox, plus BEGIN/COMMIT) and 2 Redis round trips,
 * independent of the pool size.
 * Idempotency: the inbox stops a redelivered event; a new event for an
 * already answered (case_id, round) re-emits the recorded answer.
 */
#ifndef RV_PANEL_H
#define RV_PANEL_H

#include "payloads.h"
#include "svc.h"
#include "sg/pg.h"

typedef struct rv_panel_result {
    char **ids;      /* chosen reviewer ids in draw order (owned) */
    size_t n;
    int shortfall;
    int replayed;    /* 1: (case_id, round) was answered before */
    int windows;     /* windows read */
    int rejected;    /* picks refused by the locked re-check */
    int skipped;     /* picks passed over: another selection held their row */
    int paired;      /* picks refused by the pair limit (counted in rejected too) */
} rv_panel_result;

/* Selects, records and emits. Returns SG_OK or SG_ERR_DB / SG_ERR_RETRY
 * (the transaction must be rolled back). */
int rv_panel_select(sg_pg *c, rv_svc *s, const rv_panel_req *req, const char *event_id, const char *traceparent,
                    double now, rv_panel_result *out);
void rv_panel_result_free(rv_panel_result *r);

#endif
