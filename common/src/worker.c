/* Periodic background thread. */
#include "sg/worker.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sg/clock.h"
#include "sg/log.h"

struct sg_worker {
    char name[64];
    int interval_ms;
    sg_worker_fn fn;
    void *ctx;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;   /* guarded by mu */
    int kicked; /* guarded by mu */
};

static void *worker_main(void *arg)
{
    sg_worker *w = arg;
    char tname[16];

    /* Thread names are cut at 15 bytes by the kernel. */
    memcpy(tname, w->name, sizeof tname - 1);
    tname[sizeof tname - 1] = '\0';
    pthread_setname_np(pthread_self(), tname);
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        w->kicked = 0;
        pthread_mutex_unlock(&w->mu);
        int n = w->fn(w->ctx);
        pthread_mutex_lock(&w->mu);
        if (n > 0)
            continue;
        struct timespec deadline = sg_deadline_ms(w->interval_ms);
        /* A kick during fn counts: the work it announces may have been
         * committed after fn looked. */
        while (!w->stop && !w->kicked)
            if (sg_cond_wait_until(&w->cv, &w->mu, &deadline) != 0)
                break;
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

sg_worker *sg_worker_start(const char *name, int interval_ms, sg_worker_fn fn, void *ctx)
{
    sg_worker *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    snprintf(w->name, sizeof w->name, "%s", name ? name : "worker");
    w->interval_ms = interval_ms > 0 ? interval_ms : 1000;
    w->fn = fn;
    w->ctx = ctx;
    pthread_mutex_init(&w->mu, NULL);
    sg_cond_init_monotonic(&w->cv);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        sg_error("worker %s: cannot start thread", w->name);
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        free(w);
        return NULL;
    }
    return w;
}

void sg_worker_stop(sg_worker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}

void sg_worker_kick(sg_worker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->kicked = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}
