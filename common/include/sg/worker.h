/* A periodic background thread (timer scanners, pool adjustment, ...).
 *
 * fn returns the number of items it processed: > 0 → called again at once
 * (drain), 0 → sleep interval_ms, < 0 (error) → sleep interval_ms. Stopping
 * wakes the sleep and joins the thread after the call in progress.
 */
#ifndef SG_WORKER_H
#define SG_WORKER_H

typedef int (*sg_worker_fn)(void *ctx);

typedef struct sg_worker sg_worker;

sg_worker *sg_worker_start(const char *name, int interval_ms, sg_worker_fn fn, void *ctx);
void sg_worker_stop(sg_worker *w);
/* Wakes the worker now (e.g. after a commit that created a due timer). */
void sg_worker_kick(sg_worker *w);

#endif
