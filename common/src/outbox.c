/* Transactional outbox: the writer side and the relay thread. */
#include "sg/outbox.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sg/clock.h"
#include "sg/log.h"

#define BATCH 500
#define CLEANUP_EVERY_MS 60000
#define STOP_GRACE_MS 10000
/* Leadership (see outbox.h): the relay's statements are cut off by the
 * server after RELAY_STATEMENT_TIMEOUT_MS; the relay gives up on an answer
 * (and on its connection and leadership) after RELAY_ANSWER_TIMEOUT_MS; a
 * leader keeps its session busy at least every RELAY_HEARTBEAT_MS; a
 * candidate ends a leader's session that has been silent for
 * LEADER_SILENT_S, which is longer than both, so a live leader is never
 * ended. Takeover: LEADER_SILENT_S plus a poll (1 s) after the freeze. */
#define RELAY_STATEMENT_TIMEOUT_MS 10000
#define RELAY_ANSWER_TIMEOUT_MS 15000
#define RELAY_HEARTBEAT_MS 3000
#define LEADER_SILENT_S 20
/* Room for what the relay adds to a payload: "event_id" and "occurred_at"
 * (about 80 bytes), with margin for jsonb's own number formatting. */
#define ENVELOPE_MAX 1024

const char *sg_outbox_channel(const char *schema, char buf[SG_OUTBOX_CHANNEL_MAX])
{
    size_t n = strlen(schema);
    if (n + 4 < SG_OUTBOX_CHANNEL_MAX) {
        snprintf(buf, SG_OUTBOX_CHANNEL_MAX, "sgo_%s", schema);
        return buf;
    }
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)schema[i]) * 1099511628211ULL;
    snprintf(buf, SG_OUTBOX_CHANNEL_MAX, "sgo_%.42s_%016llx", schema, (unsigned long long)h);
    return buf;
}

const char *sg_outbox_notify_channel(sg_pg *c, char buf[SG_OUTBOX_CHANNEL_MAX])
{
    int local = sg_pg_wake_is_local(c);
    if (sg_pg_in_tx(c))
        sg_pg_wake_after_commit(c);
    return local ? NULL : sg_outbox_channel(sg_pg_schema(c), buf);
}

/* Every outbox row is written by the schema's outbox_write function (the
 * common migrations, migrate.c), which SQL functions that add events call
 * too. Inside sg_pg_tx a transaction's events go in one call before COMMIT
 * (sg_pg_defer): most transactions add several, and a multi-row INSERT costs
 * about what a single-row one does. $6 repeats the schema's channel on every
 * row. */
static const char deferred_insert_sql[] =
    "SELECT outbox_write($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::text[], ($6::text[])[1])";

int sg_outbox_add(sg_pg *c, const char *topic, const char *key, const char *event_type, const json_t *payload,
                  const char *traceparent)
{
    char *text = NULL, channel[SG_OUTBOX_CHANNEL_MAX];
    int rc = SG_ERR_DB;

    if (!topic || !event_type || !json_is_object(payload)) {
        sg_error("outbox: event needs a topic, a type and an object payload");
        goto cleanup;
    }
    /* Not compact: ", " and ": " as PostgreSQL prints jsonb, which is the
     * text the relay sends, so the size checked is the size sent (give or
     * take number formatting, covered by ENVELOPE_MAX). */
    text = json_dumps(payload, 0);
    if (!text)
        goto cleanup;
    if (strlen(text) + ENVELOPE_MAX > SG_OUTBOX_EVENT_MAX) {
        sg_error("outbox: %s event to %s refused: %zu bytes, more than %d", event_type, topic, strlen(text),
                 SG_OUTBOX_EVENT_MAX - ENVELOPE_MAX);
        rc = SG_ERR_TOO_LARGE;
        goto cleanup;
    }
    if (!traceparent)
        traceparent = sg_log_traceparent();
    /* NULL channel: outbox_write sends no NOTIFY (see sg_outbox_notify_channel). */
    const char *chan = sg_outbox_notify_channel(c, channel);
    if (sg_pg_in_tx(c)) {
        rc = sg_pg_defer(c, deferred_insert_sql, 6, SG_P(topic, key, event_type, text, traceparent, chan));
        goto cleanup;
    }
    /* Outside sg_pg_tx (autocommit): one round trip, committed when it
     * returns; then the in-process wake (a NOTIFY is delivered on commit). */
    rc = sg_pg_exec(c, "SELECT outbox_write(ARRAY[$1], ARRAY[$2], ARRAY[$3], ARRAY[$4::jsonb], ARRAY[$5], $6)", 6,
                    SG_P(topic, key, event_type, text, traceparent, chan));
    if (rc == SG_OK)
        sg_pg_wake_after_commit(c);
cleanup:
    free(text);
    return rc;
}

/* ---- relay ------------------------------------------------------------------- */

enum { S_PENDING = 0, S_DELIVERED, S_FAILED, S_REFUSED, S_TOO_LARGE };

typedef struct slot {
    struct sg_outbox_relay *r;
    int state;          /* S_*: failed = send again; refused = the broker (or
                         * the producer) refused it for good */
    const char *why;    /* refused: a static error text */
} slot;

struct sg_outbox_relay {
    char *dsn;
    char *schema;
    char *prefix;
    sg_producer *producer;
    pthread_t thread;
    int thread_started;
    int wake[2];             /* self-pipe: stop and commits (sg_outbox_relay_attach) wake the relay's poll */
    atomic_int woken;        /* a wake byte is in the pipe and not yet drained */
    atomic_int linger_ms;    /* sg_outbox_relay_set_linger */
    sg_pg_pool *attached;    /* the pool whose commits wake this relay */
    int crash_after_send;    /* test hook, see outbox.h */
    atomic_int stop;
    atomic_long published;
    atomic_long backlog;
    atomic_int leader;
    atomic_long dead;
    atomic_long batches;                      /* batches that found rows */
    _Atomic long long stage_us[SG_RELAY_STAGES]; /* their time per stage (sg_outbox_relay_stage_us) */
    int conn_bad;            /* relay thread only: the connection stopped answering */
    long long isolate_id;    /* a row the broker refused in a batch: sent alone next */
    pthread_mutex_t mu;      /* guards slots[].state and pending */
    pthread_cond_t cv;
    slot slots[BATCH];
    int pending;
};

static void on_delivery(void *opaque, int ok, const char *refused)
{
    slot *s = opaque;
    sg_outbox_relay *r = s->r;
    pthread_mutex_lock(&r->mu);
    s->state = ok ? S_DELIVERED : refused ? S_REFUSED : S_FAILED;
    s->why = refused;
    r->pending--;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* Waits up to ms for a notification on conn (or a stop). Returns -1 when
 * the connection broke. */
static int wait_notify(sg_outbox_relay *r, PGconn *conn, int ms)
{
    PGnotify *n;
    int got = 0;

    if (conn) {
        if (!PQconsumeInput(conn))
            return -1;
        while ((n = PQnotifies(conn)) != NULL) {
            PQfreemem(n);
            got = 1;
        }
        if (got)
            return 0;
    }
    /* poll, not select: under load the relay's reconnected socket can be
     * numbered past FD_SETSIZE, where FD_SET writes out of bounds. */
    int sock = conn ? PQsocket(conn) : -1;
    struct pollfd pfd[2] = {{.fd = r->wake[0], .events = POLLIN}, {.fd = sock, .events = POLLIN}};
    if (poll(pfd, sock >= 0 ? 2 : 1, ms) < 0)
        return 0;
    if (pfd[0].revents & POLLIN) {
        /* Drained, then cleared, then the next scan: a commit before the
         * clear is seen by that scan; one after it writes a byte again.
         * (Cleared before draining, a byte written in between would be
         * drained with the flag left set, and no commit would write again.) */
        char buf[64];
        while (read(r->wake[0], buf, sizeof buf) > 0) {
        }
        atomic_store(&r->woken, 0);
    }
    if (conn && sock >= 0 && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))) {
        if (!PQconsumeInput(conn))
            return -1;
        while ((n = PQnotifies(conn)) != NULL)
            PQfreemem(n);
    }
    return 0;
}

static void notice_receiver(void *arg, const PGresult *res)
{
    (void)arg;
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    sg_debug("outbox relay: postgres: %s", msg ? msg : "notice");
}

/* Runs sql (params when n > 0, else the simple protocol, which allows
 * several statements) on the relay's non-blocking connection and returns
 * the last result (an error one when any failed), waiting at most
 * RELAY_ANSWER_TIMEOUT_MS (2 s once stopping). A frozen peer (a partition
 * that still ACKs at TCP level, a stopped proxy) never answers and TCP
 * timeouts never fire: then, or when the connection broke, the connection
 * is marked bad and NULL returned; relay_main drops it with the leadership. */
static PGresult *relay_exec(sg_outbox_relay *r, PGconn *conn, const char *sql, int n, const char *const *params)
{
    PGresult *last = NULL;
    long long start = sg_clock_mono_ms(), deadline = start + RELAY_ANSWER_TIMEOUT_MS;

    if (r->conn_bad)
        return NULL;
    if (!(n > 0 ? PQsendQueryParams(conn, sql, n, NULL, params, NULL, NULL, 0) : PQsendQuery(conn, sql)))
        goto bad;
    for (;;) {
        int f = PQflush(conn);
        if (f < 0)
            goto bad;
        if (f == 0 && !PQisBusy(conn)) {
            PGresult *res = PQgetResult(conn);
            if (!res)
                break;
            ExecStatusType st = PQresultStatus(last);
            if (last && st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
                PQclear(res); /* keep the first error */
            } else {
                PQclear(last);
                last = res;
            }
            continue;
        }
        long long now = sg_clock_mono_ms();
        if (atomic_load(&r->stop) && deadline > now + 2000)
            deadline = now + 2000;
        if (now >= deadline) {
            sg_warn("outbox relay: no answer from PostgreSQL within %lld ms", now - start);
            goto bad;
        }
        struct pollfd pfd = {.fd = PQsocket(conn), .events = (short)(POLLIN | (f == 1 ? POLLOUT : 0))};
        long long left = deadline - now;
        if (poll(&pfd, 1, left > 200 ? 200 : (int)left) < 0 && errno != EINTR)
            goto bad;
        if ((pfd.revents & (POLLIN | POLLHUP | POLLERR)) && !PQconsumeInput(conn))
            goto bad;
    }
    if (!last && PQstatus(conn) != CONNECTION_OK)
        goto bad;
    return last;
bad:
    PQclear(last);
    r->conn_bad = 1;
    return NULL;
}

static PGconn *relay_connect(sg_outbox_relay *r)
{
    char app[64];
    snprintf(app, sizeof app, "socialgov-relay/%s", r->schema);
    PGconn *conn = sg_pg_connect(r->dsn, app);
    PGresult *res = NULL;
    char *ident = NULL, *chan = NULL;
    char *sql = NULL, channel[SG_OUTBOX_CHANNEL_MAX];
    int ok = 0;

    if (conn)
        PQsetNoticeReceiver(conn, notice_receiver, NULL);
    if (!conn || PQstatus(conn) != CONNECTION_OK) {
        sg_warn("outbox relay: cannot connect: %s", conn ? PQerrorMessage(conn) : "out of memory");
        goto cleanup;
    }
    ident = PQescapeIdentifier(conn, r->schema, strlen(r->schema));
    sg_outbox_channel(r->schema, channel);
    chan = PQescapeIdentifier(conn, channel, strlen(channel));
    /* No bitmap scan and no sequential scan: the scan for unpublished rows
     * must be a plain index scan of outbox_pkey, which marks the entries of
     * rows published (deleted) meanwhile as dead so the next scan skips
     * them. A bitmap scan revisits every one of them in the heap until
     * VACUUM (1.4 ms per scan at 640 reports/s, measured), and so would a
     * sequential scan, which the planner picks for a table it believes
     * small.
     * No wait for the WAL flush at commit (synchronous_commit off): what the
     * relay commits (published rows deleted, rows moved to outbox_dead) may
     * be lost in a server crash only as far back as the
     * last flush, a fraction of a second, and then those rows are sent
     * again (a re-send, which consumers drop) or refused again; never an
     * event lost. Its marks then no longer queue for the flush with the
     * services' commits (LWLock:WALWrite, the top wait in a bench
     * profile). */
    if (!ident || !chan
        || asprintf(&sql,
                    "SET search_path TO %s; SET enable_bitmapscan = off; SET enable_seqscan = off; "
                    "SET statement_timeout = %d; "
                    "SET synchronous_commit = off; LISTEN %s",
                    ident, RELAY_STATEMENT_TIMEOUT_MS, chan) < 0) {
        sql = NULL;
        goto cleanup;
    }
    /* Non-blocking from here on: every statement waits a bounded time
     * (relay_exec), and PQfinish never blocks on a frozen socket. */
    r->conn_bad = 0;
    if (PQsetnonblocking(conn, 1) != 0)
        goto cleanup;
    res = relay_exec(r, conn, sql, 0, NULL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        sg_warn("outbox relay: %s: %s", sql, PQerrorMessage(conn));
        goto cleanup;
    }
    ok = 1;
cleanup:
    PQclear(res);
    free(sql);
    if (ident)
        PQfreemem(ident);
    if (chan)
        PQfreemem(chan);
    if (!ok && conn) {
        PQfinish(conn);
        conn = NULL;
    }
    return conn;
}

/* Returns 1 when this connection holds the leader lock, 0 when another
 * relay does, -1 on a database error. */
static int try_lead(sg_outbox_relay *r, PGconn *conn)
{
    const char *params[] = {r->schema};
    PGresult *res = relay_exec(r, conn, "SELECT pg_try_advisory_lock(hashtext('sg_outbox:' || $1))", 1, params);
    int rc = -1;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        rc = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    else
        sg_warn("outbox relay: leader election failed: %s", r->conn_bad ? "no answer" : PQerrorMessage(conn));
    PQclear(res);
    return rc;
}

/* A leader whose session has been silent for LEADER_SILENT_S is cut off
 * from us (a frozen peer or a partition the server has not noticed: its
 * backend still holds the lock): end that session, which releases the
 * lock. A live leader's session is never silent that long (heartbeat,
 * answer timeout). The old leader, if it comes back, finds its session gone
 * before it can mark anything: the session is the fence. Returns 1 when a
 * session was ended. Needs the same role as the leader (or
 * pg_signal_backend); without it the server's TCP keepalives end the
 * session eventually. */
static int end_silent_leader(sg_outbox_relay *r, PGconn *conn)
{
    char silent[16];
    snprintf(silent, sizeof silent, "%d", LEADER_SILENT_S);
    const char *params[] = {r->schema, silent};
    PGresult *res = relay_exec(
        r, conn,
        "WITH k AS (SELECT hashtext('sg_outbox:' || $1)::bigint AS k)"
        " SELECT a.pid, round(extract(epoch FROM clock_timestamp() - a.state_change))::int,"
        "        pg_terminate_backend(a.pid)"
        " FROM k, pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
        "   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        "   AND l.classid::bigint = (k.k >> 32) & 4294967295 AND l.objid::bigint = k.k & 4294967295"
        "   AND a.pid <> pg_backend_pid()"
        "   AND a.state_change < clock_timestamp() - make_interval(secs => $2::int)",
        2, params);
    int ended = 0;
    if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        for (int i = 0; i < PQntuples(res); i++) {
            ended |= PQgetvalue(res, i, 2)[0] == 't';
            sg_warn("outbox relay: leader session %s of schema %s silent for %s s: %s", PQgetvalue(res, i, 0),
                    r->schema, PQgetvalue(res, i, 1),
                    PQgetvalue(res, i, 2)[0] == 't' ? "ended, taking over" : "could not end it");
        }
    } else if (!r->conn_bad) {
        sg_warn("outbox relay: checking the leader's session failed: %s", PQerrorMessage(conn));
    }
    PQclear(res);
    return ended;
}

/* Marks ids (a Postgres array literal) published by deleting them. An
 * UPDATE of published_at copies the whole row (payload included) and
 * inserts entries into its indexes (published_at was in the predicate of
 * outbox_unpublished, an index of releases before 100005); a DELETE writes
 * one small WAL record per row (the UPDATE was 12 % of the WAL written under
 * load in a bench profile). Rows an older release marked (published_at set)
 * are removed an hour after by cleanup_published. */
static int mark_published(sg_outbox_relay *r, PGconn *conn, const char *ids)
{
    const char *params[] = {ids};
    PGresult *res = relay_exec(r, conn, "DELETE FROM outbox WHERE id = ANY($1::bigint[])", 1, params);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        sg_error("outbox relay: marking published failed: %s", r->conn_bad ? "no answer" : PQerrorMessage(conn));
    PQclear(res);
    return ok ? 0 : -1;
}

/* Moves one unpublished row to outbox_dead (see outbox.h). Returns 0 when
 * moved (or already gone), -1 on a database error. An event already dead
 * (same event_id) just leaves the outbox; any other conflict fails the
 * whole statement, so a row is never deleted without its dead copy. */
static int dead_letter(sg_outbox_relay *r, PGconn *conn, const PGresult *rows, int i, size_t len, const char *why)
{
    const char *params[] = {PQgetvalue(rows, i, 0), why};
    PGresult *res = relay_exec(r, conn,
                               "WITH moved AS (DELETE FROM outbox WHERE id = $1::bigint AND published_at IS NULL"
                               " RETURNING *)"
                               " INSERT INTO outbox_dead (id, event_id, topic, key, event_type, payload,"
                               "   traceparent, created_at, error)"
                               " SELECT id, event_id, topic, key, event_type, payload, traceparent, created_at, $2"
                               " FROM moved ON CONFLICT (event_id) DO NOTHING",
                               2, params);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (ok) {
        atomic_fetch_add(&r->dead, 1);
        /* Never the payload: it may hold personal data. */
        sg_error("outbox relay: event %s (%s to %s, %zu bytes) refused for good (%s): moved to outbox_dead",
                 PQgetvalue(rows, i, 1), PQgetvalue(rows, i, 4), PQgetvalue(rows, i, 2), len, why);
    } else {
        sg_error("outbox relay: moving event %s to outbox_dead failed: %s", PQgetvalue(rows, i, 1),
                 PQerrorMessage(conn));
    }
    PQclear(res);
    return ok ? 0 : -1;
}

/* Waits for every delivery report of the batch. When stopping, gives up
 * after a grace period; sg_producer_free then purges what is left. */
static void await_reports(sg_outbox_relay *r, PGconn *conn)
{
    long long stop_seen = 0, beat = sg_clock_mono_ms();
    pthread_mutex_lock(&r->mu);
    while (r->pending > 0) {
        sg_cond_wait_ms(&r->cv, &r->mu, 100);
        /* A slow broker must not make the leader's session look silent. */
        if (sg_clock_mono_ms() - beat >= RELAY_HEARTBEAT_MS && !r->conn_bad) {
            pthread_mutex_unlock(&r->mu);
            PQclear(relay_exec(r, conn, "SELECT 1", 0, NULL));
            beat = sg_clock_mono_ms();
            pthread_mutex_lock(&r->mu);
        }
        if (atomic_load(&r->stop)) {
            if (!stop_seen)
                stop_seen = sg_clock_mono_ms();
            else if (sg_clock_mono_ms() - stop_seen > STOP_GRACE_MS)
                break;
        }
    }
    pthread_mutex_unlock(&r->mu);
}

/* Publishes one batch. Returns rows read (BATCH means "more may be
 * waiting"), or -1 on a database or delivery failure. */
static int relay_batch(sg_outbox_relay *r, PGconn *conn)
{
    PGresult *res = NULL;
    char *ids = NULL;
    int rc = -1;
    long long t0 = sg_clock_mono_us(), t1;

    res = relay_exec(r, conn, "SELECT id, event_id, topic, key, event_type,"
                       " (payload || jsonb_build_object('event_id', event_id, 'occurred_at',"
                       "   to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')))::text,"
                       " traceparent"
                       " FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT 500", 0, NULL);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        sg_warn("outbox relay: scan failed: %s", r->conn_bad ? "no answer" : PQerrorMessage(conn));
        goto cleanup;
    }
    int n = PQntuples(res);
    atomic_store(&r->backlog, n);
    if (n == 0) {
        rc = 0;
        goto cleanup;
    }
    atomic_fetch_add(&r->batches, 1);
    t1 = sg_clock_mono_us();
    atomic_fetch_add(&r->stage_us[SG_RELAY_SCAN], t1 - t0);
    /* A row the broker refused within a batch goes alone, so that its
     * verdict is its own (a refused batch fails every message in it). */
    int isolated = n == 1;
    if (r->isolate_id && atoll(PQgetvalue(res, 0, 0)) == r->isolate_id) {
        n = 1;
        isolated = 1;
    }
    r->isolate_id = 0;
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < n; i++) {
        r->slots[i].state = S_PENDING;
        r->slots[i].why = NULL;
    }
    r->pending = n;
    pthread_mutex_unlock(&r->mu);

    int sent = 0, local = S_FAILED;
    const char *local_why = NULL;
    for (; sent < n; sent++) {
        char topic[512];
        const char *value = PQgetvalue(res, sent, 5);
        size_t len = strlen(value);
        if (len > SG_OUTBOX_EVENT_MAX) {
            local = S_TOO_LARGE;
            local_why = "larger than 256 KiB";
            break;
        }
        sg_topic(topic, sizeof topic, r->prefix, PQgetvalue(res, sent, 2));
        /* Once one send fails, later rows must wait for it: per-key order. */
        int e = sg_producer_send(r->producer, topic, PQgetisnull(res, sent, 3) ? NULL : PQgetvalue(res, sent, 3),
                                 value, len, PQgetvalue(res, sent, 1), PQgetvalue(res, sent, 4),
                                 PQgetisnull(res, sent, 6) ? NULL : PQgetvalue(res, sent, 6), &r->slots[sent]);
        if (e != 0) {
            if (e == -2) {
                local = S_TOO_LARGE; /* the producer's verdict is the message's own */
                local_why = "refused by the producer";
            }
            break;
        }
    }
    pthread_mutex_lock(&r->mu);
    for (int i = sent; i < n; i++) {
        r->slots[i].state = i == sent ? local : S_FAILED;
        r->slots[i].why = i == sent ? local_why : NULL;
    }
    r->pending -= n - sent;
    pthread_mutex_unlock(&r->mu);
    await_reports(r, conn);
    t0 = sg_clock_mono_us();
    atomic_fetch_add(&r->stage_us[SG_RELAY_DELIVER], t0 - t1);

    if (r->crash_after_send) {
        sg_warn("outbox relay: SG_TEST_RELAY_CRASH_AFTER_SEND set, exiting before marking %d rows", n);
        _exit(137);
    }

    /* Only the delivered prefix: a failed row must go out again before any
     * later row of its key. */
    int k = 0, head = S_DELIVERED;
    const char *head_why = NULL;
    pthread_mutex_lock(&r->mu);
    while (k < n && r->slots[k].state == S_DELIVERED)
        k++;
    if (k < n) {
        head = r->slots[k].state;
        head_why = r->slots[k].why;
    }
    pthread_mutex_unlock(&r->mu);
    if (k > 0) {
        size_t cap = (size_t)k * 21 + 3, used = 0;
        ids = malloc(cap);
        if (!ids)
            goto cleanup;
        ids[used++] = '{';
        for (int i = 0; i < k; i++)
            used += (size_t)snprintf(ids + used, cap - used, i ? ",%s" : "%s", PQgetvalue(res, i, 0));
        snprintf(ids + used, cap - used, "}");
        if (mark_published(r, conn, ids) != 0)
            goto cleanup;
        atomic_fetch_add(&r->stage_us[SG_RELAY_MARK], sg_clock_mono_us() - t0);
        atomic_fetch_add(&r->published, k);
        atomic_store(&r->backlog, n - k);
    }
    if (k < n && (head == S_TOO_LARGE || (head == S_REFUSED && isolated))) {
        /* Refused for good: out of the way, and the rest goes on now. */
        if (dead_letter(r, conn, res, k, strlen(PQgetvalue(res, k, 5)), head_why ? head_why : "refused") != 0)
            goto cleanup;
        atomic_store(&r->backlog, n - k - 1);
        rc = BATCH; /* "more may be waiting": scan again at once */
        goto cleanup;
    }
    if (k < n && head == S_REFUSED) {
        r->isolate_id = atoll(PQgetvalue(res, k, 0));
        sg_warn("outbox relay: event %s refused by the broker (%s) in a batch; sending it alone",
                PQgetvalue(res, k, 1), head_why ? head_why : "refused");
        rc = BATCH;
        goto cleanup;
    }
    if (k < n) {
        sg_warn("outbox relay: %d of %d events not delivered; will retry", n - k, n);
        goto cleanup;
    }
    rc = n;
cleanup:
    PQclear(res);
    free(ids);
    return rc;
}

/* Housekeeping done by the leader only, so one replica does it: rows that
 * an older release marked published instead of deleting them. Inbox rows
 * are kept longer than Kafka's default retention (7 days): a redelivery can
 * never outlive the record that makes it a duplicate. */
static void cleanup_published(sg_outbox_relay *r, PGconn *conn)
{
    static const char *const sql[] = {
        "DELETE FROM outbox WHERE published_at < now() - interval '1 hour'",
        "DELETE FROM inbox WHERE handled_at < now() - interval '14 days'",
    };
    for (size_t i = 0; i < sizeof sql / sizeof *sql; i++) {
        PGresult *res = relay_exec(r, conn, sql[i], 0, NULL);
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            sg_warn("outbox relay: cleanup failed: %s", PQerrorMessage(conn));
        else if (atoi(PQcmdTuples(res)) > 0)
            sg_debug("outbox relay: cleanup deleted %s rows (%s)", PQcmdTuples(res), sql[i]);
        PQclear(res);
    }
}

static void *relay_main(void *arg)
{
    sg_outbox_relay *r = arg;
    PGconn *conn = NULL;
    long long last_cleanup = 0;

    while (!atomic_load(&r->stop)) {
        if (conn && (PQstatus(conn) != CONNECTION_OK || r->conn_bad)) {
            if (atomic_load(&r->leader))
                sg_warn("outbox relay: connection lost or not answering, leadership dropped");
            PQfinish(conn);
            conn = NULL;
            atomic_store(&r->leader, 0);
        }
        if (!conn) {
            conn = relay_connect(r);
            if (!conn) {
                wait_notify(r, NULL, 1000);
                continue;
            }
        }
        if (!atomic_load(&r->leader)) {
            int l = try_lead(r, conn);
            if (l == 1) {
                atomic_store(&r->leader, 1);
                sg_info("outbox relay: leader for schema %s", r->schema);
            } else {
                /* Another leader: one whose session went silent is ended,
                 * and the lock tried again at once. */
                if (l == 0 && end_silent_leader(r, conn)) {
                    wait_notify(r, NULL, 100);
                    continue;
                }
                if (wait_notify(r, conn, 1000) < 0 || l < 0) {
                    PQfinish(conn);
                    conn = NULL;
                }
                continue;
            }
        }
        int n = relay_batch(r, conn);
        if (sg_clock_mono_ms() - last_cleanup > CLEANUP_EVERY_MS) {
            cleanup_published(r, conn);
            last_cleanup = sg_clock_mono_ms();
        }
        if (n == BATCH || r->conn_bad)
            continue; /* more waiting, or a connection to drop at once */
        int linger = atomic_load(&r->linger_ms);
        if (n > 0 && linger > 0 && !atomic_load(&r->stop)) {
            long long t = sg_clock_mono_us();
            sg_sleep_ms(linger); /* see sg_outbox_relay_set_linger */
            atomic_fetch_add(&r->stage_us[SG_RELAY_LINGER], sg_clock_mono_us() - t);
        }
        /* After a failure, the wait doubles as a retry pause. */
        if (wait_notify(r, conn, 1000) < 0)
            continue; /* connection broken: reconnect and re-elect */
    }
    if (conn)
        PQfinish(conn);
    atomic_store(&r->leader, 0);
    return NULL;
}

sg_outbox_relay *sg_outbox_relay_start(const char *dsn, const char *schema, const char *brokers,
                                       const char *topic_prefix, char *err, size_t errlen)
{
    sg_outbox_relay *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "outbox relay: out of memory");
        return NULL;
    }
    r->wake[0] = r->wake[1] = -1;
    pthread_mutex_init(&r->mu, NULL);
    sg_cond_init_monotonic(&r->cv);
    atomic_init(&r->stop, 0);
    atomic_init(&r->published, 0);
    atomic_init(&r->backlog, 0);
    atomic_init(&r->leader, 0);
    atomic_init(&r->dead, 0);
    atomic_init(&r->batches, 0);
    for (int i = 0; i < SG_RELAY_STAGES; i++)
        atomic_init(&r->stage_us[i], 0);
    atomic_init(&r->woken, 0);
    atomic_init(&r->linger_ms, 0);
    for (int i = 0; i < BATCH; i++)
        r->slots[i].r = r;
    const char *hook = getenv("SG_TEST_RELAY_CRASH_AFTER_SEND");
    r->crash_after_send = hook && strcmp(hook, "1") == 0;
    r->dsn = strdup(dsn);
    r->schema = strdup(schema);
    r->prefix = strdup(topic_prefix ? topic_prefix : "");
    if (!r->dsn || !r->schema || !r->prefix) {
        snprintf(err, errlen, "outbox relay: out of memory");
        goto cleanup;
    }
    if (pipe2(r->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        snprintf(err, errlen, "outbox relay: pipe: %s", strerror(errno));
        goto cleanup;
    }
    r->producer = sg_producer_create(brokers, on_delivery, err, errlen);
    if (!r->producer)
        goto cleanup;
    if (pthread_create(&r->thread, NULL, relay_main, r) != 0) {
        snprintf(err, errlen, "outbox relay: cannot start thread");
        goto cleanup;
    }
    r->thread_started = 1;
    return r;
cleanup:
    sg_outbox_relay_stop(r);
    return NULL;
}

void sg_outbox_relay_set_linger(sg_outbox_relay *r, int ms)
{
    atomic_store(&r->linger_ms, ms < 0 ? 0 : ms > 1000 ? 1000 : ms);
}

static void relay_wake(void *ctx)
{
    sg_outbox_relay *r = ctx;
    if (!atomic_exchange(&r->woken, 1) && write(r->wake[1], "w", 1) < 0) {
        /* Full pipe: a wake is pending anyway. */
    }
}

static int relay_local(void *ctx)
{
    return atomic_load(&((sg_outbox_relay *)ctx)->leader);
}

void sg_outbox_relay_attach(sg_outbox_relay *r, sg_pg_pool *p)
{
    sg_pg_waker w = {relay_wake, relay_local, r};
    if (r->attached)
        sg_pg_pool_set_waker(r->attached, NULL);
    r->attached = p;
    if (p)
        sg_pg_pool_set_waker(p, &w);
}

void sg_outbox_relay_stop(sg_outbox_relay *r)
{
    if (!r)
        return;
    /* First: after this no commit touches r. */
    sg_outbox_relay_attach(r, NULL);
    atomic_store(&r->stop, 1);
    if (r->wake[1] >= 0 && write(r->wake[1], "x", 1) < 0) {
        /* The relay still notices within its 1 s poll. */
    }
    if (r->thread_started)
        pthread_join(r->thread, NULL);
    /* Before the slots go: purged messages still report into them. */
    sg_producer_free(r->producer);
    if (r->wake[0] >= 0)
        close(r->wake[0]);
    if (r->wake[1] >= 0)
        close(r->wake[1]);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r->dsn);
    free(r->schema);
    free(r->prefix);
    free(r);
}

long sg_outbox_relay_published(const sg_outbox_relay *r)
{
    return atomic_load(&((sg_outbox_relay *)r)->published);
}

long sg_outbox_relay_backlog(const sg_outbox_relay *r)
{
    return atomic_load(&((sg_outbox_relay *)r)->backlog);
}

int sg_outbox_relay_is_leader(const sg_outbox_relay *r)
{
    return atomic_load(&((sg_outbox_relay *)r)->leader);
}

sg_producer *sg_outbox_relay_producer(sg_outbox_relay *r)
{
    return r->producer;
}

long sg_outbox_relay_dead(const sg_outbox_relay *r)
{
    return atomic_load(&((sg_outbox_relay *)r)->dead);
}

const char *sg_outbox_relay_stage_name(sg_relay_stage s)
{
    static const char *const names[SG_RELAY_STAGES] = {"scan", "deliver", "mark", "linger"};
    return s >= 0 && s < SG_RELAY_STAGES ? names[s] : "unknown";
}

long sg_outbox_relay_batches(const sg_outbox_relay *r)
{
    return atomic_load(&((sg_outbox_relay *)r)->batches);
}

long long sg_outbox_relay_stage_us(const sg_outbox_relay *r, sg_relay_stage s)
{
    return s >= 0 && s < SG_RELAY_STAGES ? atomic_load(&((sg_outbox_relay *)r)->stage_us[s]) : 0;
}
