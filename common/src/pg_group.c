/* Group commit; see sg/pg_group.h. Leader/follower over one FIFO queue of
 * waiting callers, each caller's item on its own stack. */
#include "sg/pg_group.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pg_internal.h"
#include "sg/log.h"

/* An item's code meaning "run your body again, alone, under sg_pg_tx". */
#define ITEM_ALONE (-100)

enum item_state { ITEM_QUEUED, ITEM_RUNNING, ITEM_DONE };

struct item {
    const char *lock_key;
    sg_pg_tx_fn fn;
    void *ctx;
    int rc;
    enum item_state state;
    pthread_cond_t cv; /* signalled when done, or to make its caller lead */
    struct item *next;
    /* The caller's log context: its body may run on the leader's thread,
     * and sg_outbox_add takes an event's traceparent from it. */
    char request_id[SG_LOG_CTX_MAX], traceparent[SG_LOG_CTX_MAX];
};

struct sg_pg_group {
    sg_pg_pool *pool;
    int max_items, max_groups;
    pthread_mutex_t mu;
    /* Under mu: */
    struct item *head, *tail; /* queued items, oldest first */
    int running;              /* groups in flight */
    sg_pg_group_stats stats;
};

sg_pg_group *sg_pg_group_create(sg_pg_pool *p, int max_items, int max_groups)
{
    sg_pg_group *g;

    if (!p || max_items < 1 || max_items > 64 || max_groups < 1)
        return NULL;
    if (!(g = calloc(1, sizeof *g)))
        return NULL;
    g->pool = p;
    g->max_items = max_items;
    g->max_groups = max_groups;
    pthread_mutex_init(&g->mu, NULL);
    return g;
}

void sg_pg_group_free(sg_pg_group *g)
{
    if (!g)
        return;
    pthread_mutex_destroy(&g->mu);
    free(g);
}

void sg_pg_group_stats_get(sg_pg_group *g, sg_pg_group_stats *out)
{
    pthread_mutex_lock(&g->mu);
    *out = g->stats;
    pthread_mutex_unlock(&g->mu);
}

static void set_log_context(const struct item *it)
{
    sg_log_set_context(it->request_id[0] ? it->request_id : NULL, it->traceparent[0] ? it->traceparent : NULL);
}

/* The group's transaction body: each item after a SAVEPOINT of its own, a
 * failed one rolled back to it with its deferred rows. One round trip per
 * item: a succeeded item's RELEASE goes in the string of the next item's
 * SAVEPOINT, and the last one's is left to COMMIT (which ends every open
 * savepoint). Returns SG_OK to commit whatever items succeeded (each item's
 * code is in its rc), anything else when the group as a whole cannot
 * commit. */
static int group_body(sg_pg *c, void *arg)
{
    int open = 0; /* the item before succeeded: its savepoint is still open */
    for (struct item *it = arg; it; it = it->next) {
        sg_pg_defer_pos pos;
        int rc = sg_pg_simple_exec(c, open ? "RELEASE SAVEPOINT sg_item; SAVEPOINT sg_item" : "SAVEPOINT sg_item");
        if (rc != SG_OK)
            return rc;
        open = 0;
        sg_pg_defer_mark(c, &pos);
        set_log_context(it);
        rc = it->fn(c, it->ctx);
        if (rc == SG_OK && sg_pg_tx_failed(c)) {
            sg_warn("postgres: transaction body returned OK after a failed statement (%s)", sg_pg_sqlstate(c));
            rc = sg_pg_err(c);
        }
        if (sg_pg_conn_lost(c))
            return SG_ERR_DB; /* the items before it are gone too */
        it->rc = rc;
        if (rc == SG_OK) {
            open = 1;
            continue;
        }
        sg_pg_defer_rollback(c, &pos);
        if ((rc = sg_pg_simple_exec(c, "ROLLBACK TO SAVEPOINT sg_item; RELEASE SAVEPOINT sg_item")) != SG_OK)
            return rc;
    }
    return SG_OK;
}

static int key_before(const struct item *a, const struct item *b)
{
    return b->lock_key && (!a->lock_key || strcmp(a->lock_key, b->lock_key) < 0);
}

/* The batch's items in lock key order (stable: an insertion sort, at most
 * 64 items). */
static struct item *sort_by_key(struct item *batch)
{
    struct item *sorted = NULL, *next;
    for (struct item *it = batch; it; it = next) {
        struct item **at = &sorted;
        next = it->next;
        while (*at && !key_before(it, *at))
            at = &(*at)->next;
        it->next = *at;
        *at = it;
    }
    return sorted;
}

/* Runs the n items of batch in one transaction and sets each item's rc. */
static void run_group(sg_pg_group *g, struct item *batch, int n)
{
    char rid[SG_LOG_CTX_MAX], tp[SG_LOG_CTX_MAX];
    int rc, unknown = 0;
    sg_pg *c;

    snprintf(rid, sizeof rid, "%s", sg_log_request_id() ? sg_log_request_id() : "");
    snprintf(tp, sizeof tp, "%s", sg_log_traceparent() ? sg_log_traceparent() : "");
    if (n == 1) { /* no savepoint needed: exactly sg_pg_tx */
        set_log_context(batch);
        batch->rc = sg_pg_tx(g->pool, SG_TX_READ_COMMITTED, batch->fn, batch->ctx);
        sg_log_set_context(rid[0] ? rid : NULL, tp[0] ? tp : NULL);
        return;
    }
    if (!(c = sg_pg_acquire(g->pool, 5000))) {
        /* As sg_pg_tx: no connection, no retry (each alone would wait again). */
        for (struct item *it = batch; it; it = it->next)
            it->rc = SG_ERR_DB;
        return;
    }
    rc = sg_pg_tx_once(c, "BEGIN; " SG_PG_GENERIC_PLANS, group_body, batch, &unknown);
    sg_pg_release(g->pool, c); /* rolls back a transaction that failed */
    sg_log_set_context(rid[0] ? rid : NULL, tp[0] ? tp : NULL);
    if (rc != SG_OK)
        sg_warn("postgres: group of %d transactions %s; %s", n,
                unknown ? "lost its connection during COMMIT" : "failed before COMMIT",
                unknown ? "outcome unknown" : "running each alone");
    for (struct item *it = batch; it; it = it->next) {
        if (rc == SG_OK)
            it->rc = it->rc == SG_ERR_RETRY ? ITEM_ALONE : it->rc;
        else
            /* Not committed: even an item refused inside the group may have
             * been refused for the writes of another item of it. */
            it->rc = unknown ? SG_ERR_DB : ITEM_ALONE;
    }
}

/* Makes the oldest queued caller lead, when a group may start. */
static void kick(sg_pg_group *g)
{
    if (g->head && g->running < g->max_groups)
        pthread_cond_signal(&g->head->cv);
}

/* Called with mu held by a caller whose item is queued while fewer than
 * max_groups groups run: takes the oldest max_items queued items (its own
 * among them or not), runs them without mu, and hands each its code. */
static void lead(sg_pg_group *g)
{
    struct item *batch = g->head, *last = NULL, *next;
    int n = 0;

    for (struct item *it = g->head; it && n < g->max_items; it = it->next, n++) {
        it->state = ITEM_RUNNING;
        last = it;
    }
    g->head = last->next;
    if (!g->head)
        g->tail = NULL;
    last->next = NULL;
    g->running++;
    g->stats.groups++;
    g->stats.items += (unsigned long long)n;
    kick(g); /* more queued than one group takes: another leader */
    pthread_mutex_unlock(&g->mu);

    batch = sort_by_key(batch); /* without mu: the batch is the leader's alone */
    run_group(g, batch, n);

    pthread_mutex_lock(&g->mu);
    g->running--;
    /* Followers return (and their items go) once mu is released. */
    for (struct item *it = batch; it; it = next) {
        next = it->next;
        it->state = ITEM_DONE;
        pthread_cond_signal(&it->cv);
    }
    kick(g);
}

int sg_pg_group_tx(sg_pg_group *g, const char *lock_key, sg_pg_tx_fn fn, void *ctx)
{
    struct item me = {.lock_key = lock_key, .fn = fn, .ctx = ctx, .rc = SG_ERR_DB, .state = ITEM_QUEUED};
    int rc;

    if (g->max_items == 1) {
        /* One transaction per body, as many at once as the pool allows. */
        pthread_mutex_lock(&g->mu);
        g->stats.groups++;
        g->stats.items++;
        pthread_mutex_unlock(&g->mu);
        return sg_pg_tx(g->pool, SG_TX_READ_COMMITTED, fn, ctx);
    }
    snprintf(me.request_id, sizeof me.request_id, "%s", sg_log_request_id() ? sg_log_request_id() : "");
    snprintf(me.traceparent, sizeof me.traceparent, "%s", sg_log_traceparent() ? sg_log_traceparent() : "");
    pthread_cond_init(&me.cv, NULL);
    pthread_mutex_lock(&g->mu);
    if (g->tail)
        g->tail->next = &me;
    else
        g->head = &me;
    g->tail = &me;
    while (me.state != ITEM_DONE) {
        if (me.state == ITEM_QUEUED && g->running < g->max_groups)
            lead(g);
        else
            pthread_cond_wait(&me.cv, &g->mu);
    }
    if (me.rc == ITEM_ALONE)
        g->stats.alone++;
    pthread_mutex_unlock(&g->mu);
    pthread_cond_destroy(&me.cv);
    rc = me.rc == ITEM_ALONE ? sg_pg_tx(g->pool, SG_TX_READ_COMMITTED, fn, ctx) : me.rc;
    return rc;
}
