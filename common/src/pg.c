/* PostgreSQL pool, per-connection prepared statement cache, tx helper. */
#include "sg/pg.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sg/clock.h"
#include "sg/log.h"
#include "pg_internal.h"

#define TX_MAX_ATTEMPTS 8

struct sg_pg {
    sg_pg_pool *pool;
    PGconn *conn;
    int busy;
    int broken;         /* set when a statement found the connection dead */
    /* Open-addressing set of FNV-1a hashes of the statements prepared on
     * this connection; 0 marks an empty slot, so hash 0 is kept aside. */
    uint64_t *names;
    size_t cap, count;
    int has_zero;
    char sqlstate[6];
    int in_tx;                /* inside an sg_pg_tx body */
    /* The body's BEGIN, not sent yet: it goes in the round trip of the
     * body's first statement (pipeline), or with the deferred rows and
     * COMMIT; a body that runs nothing sends neither. */
    const char *begin_pending;
    int wake_after_commit;    /* sg_pg_wake_after_commit was called in this attempt */
    struct deferred {         /* sg_pg_defer: rows per statement */
        const char *sql;
        int ncols;
        size_t n, cap;
        char **cells;         /* n rows x ncols, row-major */
    } deferred[SG_PG_DEFER_MAX];
    int ndeferred;
};

struct sg_pg_pool {
    char *dsn;
    char *schema;
    int size;
    sg_pg *conns;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_llong last_err_log_ms; /* rate-limits "cannot connect" lines */
    pthread_rwlock_t waker_lock;  /* guards waker: set and cleared while in use */
    sg_pg_waker waker;            /* sg_pg_pool_set_waker; wake NULL = none */
};

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* ---- prepared-statement name set ---------------------------------------- */

static void names_clear(sg_pg *c)
{
    free(c->names);
    c->names = NULL;
    c->cap = c->count = 0;
    c->has_zero = 0;
}

static size_t names_find(const sg_pg *c, uint64_t h)
{
    size_t i = (size_t)(h ^ (h >> 29)) & (c->cap - 1);
    while (c->names[i] != 0 && c->names[i] != h)
        i = (i + 1) & (c->cap - 1);
    return i;
}

static int names_has(const sg_pg *c, uint64_t h)
{
    if (h == 0)
        return c->has_zero;
    if (c->cap == 0)
        return 0;
    return c->names[names_find(c, h)] == h;
}

static int names_add(sg_pg *c, uint64_t h)
{
    if (h == 0) {
        c->has_zero = 1;
        return 0;
    }
    if ((c->count + 1) * 2 > c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 64;
        uint64_t *old = c->names;
        size_t ocap = c->cap;
        c->names = calloc(ncap, sizeof *c->names);
        if (!c->names) {
            c->names = old;
            return -1;
        }
        c->cap = ncap;
        for (size_t i = 0; i < ocap; i++)
            if (old[i])
                c->names[names_find(c, old[i])] = old[i];
        free(old);
    }
    size_t i = names_find(c, h);
    if (c->names[i] == 0) {
        c->names[i] = h;
        c->count++;
    }
    return 0;
}

static void names_del(sg_pg *c, uint64_t h)
{
    if (h == 0) {
        c->has_zero = 0;
        return;
    }
    if (c->cap == 0 || c->names[names_find(c, h)] != h)
        return;
    /* Linear probing: re-insert the rest of the cluster after removal. */
    size_t i = names_find(c, h);
    c->names[i] = 0;
    c->count--;
    for (size_t j = (i + 1) & (c->cap - 1); c->names[j] != 0; j = (j + 1) & (c->cap - 1)) {
        uint64_t v = c->names[j];
        c->names[j] = 0;
        c->names[names_find(c, v)] = v;
    }
}

/* ---- connections ---------------------------------------------------------- */

static void log_connect_error(sg_pg_pool *p, const char *msg)
{
    long long t = sg_clock_mono_ms();
    long long last = atomic_load(&p->last_err_log_ms);
    if (t - last < 5000 && last != 0)
        return;
    atomic_store(&p->last_err_log_ms, t);
    sg_warn("postgres: cannot connect: %s", msg ? msg : "out of memory");
}

/* libpq prints notices to stderr by default, which would break the
 * JSON-lines log. */
static void notice_receiver(void *arg, const PGresult *res)
{
    (void)arg;
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    if (sev && strcmp(sev, "WARNING") == 0)
        sg_warn("postgres: %s", msg ? msg : "warning");
    else
        sg_debug("postgres: %s: %s", sev ? sev : "NOTICE", msg ? msg : "");
}

/* ---- connection parameters (see sg_pg_options in pg.h) ---------------------- */

void sg_pg_options_default(sg_pg_options *o)
{
    *o = (sg_pg_options){
        .statement_timeout_ms = 10000,
        .lock_timeout_ms = 5000,
        .connect_timeout_s = 5,
        .keepalives_idle_s = 10,
        .keepalives_interval_s = 5,
        .keepalives_count = 3,
        .tcp_user_timeout_ms = 20000,
    };
}

static pthread_mutex_t options_mu = PTHREAD_MUTEX_INITIALIZER;
static sg_pg_options options;
static int options_set;

void sg_pg_set_options(const sg_pg_options *o)
{
    pthread_mutex_lock(&options_mu);
    options = *o;
    options_set = 1;
    pthread_mutex_unlock(&options_mu);
}

static sg_pg_options current_options(void)
{
    sg_pg_options o;
    pthread_mutex_lock(&options_mu);
    if (!options_set) {
        sg_pg_options_default(&options);
        options_set = 1;
    }
    o = options;
    pthread_mutex_unlock(&options_mu);
    return o;
}

#define MAX_PARAMS 48

/* The DSN's own keywords as explicit parameters (so both key=value and URI
 * DSNs work, and we know which ones it sets), then our defaults for those
 * it does not set. */
PGconn *sg_pg_connect(const char *dsn, const char *application_name)
{
    const char *keys[MAX_PARAMS + 1], *vals[MAX_PARAMS + 1];
    char num[7][16], *opts = NULL, *perr = NULL;
    const char *dsn_options = NULL;
    int n = 0, have_app = 0;
    int have[7] = {0};
    static const char *const ours[7] = {"connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval",
                                        "keepalives_count", "tcp_user_timeout", "options"};
    sg_pg_options o = current_options();
    PQconninfoOption *parsed = PQconninfoParse(dsn ? dsn : "", &perr);
    PGconn *conn = NULL;

    if (!parsed) {
        /* Let libpq produce the error message on a connection object. */
        PQfreemem(perr);
        const char *const k[] = {"dbname", NULL}, *const v[] = {dsn ? dsn : "", NULL};
        conn = PQconnectdbParams(k, v, 1);
        goto done;
    }
    for (PQconninfoOption *p = parsed; p->keyword && n < MAX_PARAMS - 8; p++) {
        if (!p->val)
            continue;
        for (int i = 0; i < 7; i++)
            if (strcmp(p->keyword, ours[i]) == 0)
                have[i] = 1;
        if (strcmp(p->keyword, "application_name") == 0 || strcmp(p->keyword, "fallback_application_name") == 0)
            have_app = 1;
        if (strcmp(p->keyword, "options") == 0) {
            dsn_options = p->val;
            continue; /* merged below */
        }
        keys[n] = p->keyword;
        vals[n++] = p->val;
    }
    int v[6] = {o.connect_timeout_s, 1, o.keepalives_idle_s, o.keepalives_interval_s, o.keepalives_count,
                o.tcp_user_timeout_ms};
    for (int i = 0; i < 6; i++) {
        if (have[i] || v[i] <= 0)
            continue;
        snprintf(num[i], sizeof num[i], "%d", v[i]);
        keys[n] = ours[i];
        vals[n++] = num[i];
    }
    if (!have_app && application_name) {
        keys[n] = "fallback_application_name";
        vals[n++] = application_name;
    }
    /* Server side: -c settings; the DSN's options come after ours, so each
     * of its -c wins over the same one here. */
    char mine[512];
    size_t used = 0;
    mine[0] = '\0';
#define ADD_C(name, val)                                                                               \
    do {                                                                                               \
        if ((val) > 0 && used < sizeof mine)                                                           \
            used += (size_t)snprintf(mine + used, sizeof mine - used, "%s-c %s=%d", used ? " " : "", name, \
                                     (val));                                                           \
    } while (0)
    ADD_C("statement_timeout", o.statement_timeout_ms);
    ADD_C("lock_timeout", o.lock_timeout_ms);
    ADD_C("tcp_keepalives_idle", o.keepalives_idle_s);
    ADD_C("tcp_keepalives_interval", o.keepalives_interval_s);
    ADD_C("tcp_keepalives_count", o.keepalives_count);
    ADD_C("tcp_user_timeout", o.tcp_user_timeout_ms);
#undef ADD_C
    if (asprintf(&opts, "%s%s%s", mine, *mine && dsn_options && *dsn_options ? " " : "",
                 dsn_options ? dsn_options : "") < 0) {
        opts = NULL;
        goto done;
    }
    if (*opts) {
        keys[n] = "options";
        vals[n++] = opts;
    }
    keys[n] = NULL;
    vals[n] = NULL;
    conn = PQconnectdbParams(keys, vals, 0);
done:
    if (conn)
        PQsetNoticeReceiver(conn, notice_receiver, NULL);
    free(opts);
    if (parsed)
        PQconninfoFree(parsed);
    return conn;
}

/* The fallback application_name names the schema ("socialgov/report"), so that
 * pg_stat_activity and the server's log tell the services apart; a DSN that
 * sets application_name wins. */
static PGconn *connect_dsn(const char *dsn, const char *schema)
{
    char app[64];
    snprintf(app, sizeof app, "socialgov/%s", schema);
    return sg_pg_connect(dsn, app);
}

static int pg_connect(sg_pg *c)
{
    sg_pg_pool *p = c->pool;
    int rc = -1;
    char *ident = NULL;
    char *sql = NULL;
    PGresult *res = NULL;

    if (c->conn)
        PQfinish(c->conn);
    names_clear(c);
    c->broken = 0;
    c->conn = connect_dsn(p->dsn, p->schema);
    if (!c->conn || PQstatus(c->conn) != CONNECTION_OK) {
        log_connect_error(p, c->conn ? PQerrorMessage(c->conn) : NULL);
        goto cleanup;
    }
    ident = PQescapeIdentifier(c->conn, p->schema, strlen(p->schema));
    if (!ident || asprintf(&sql, "SET search_path TO %s", ident) < 0) {
        sql = NULL;
        goto cleanup;
    }
    res = PQexec(c->conn, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        sg_error("postgres: %s failed: %s", sql, PQerrorMessage(c->conn));
        goto cleanup;
    }
    rc = 0;
cleanup:
    PQclear(res);
    free(sql);
    if (ident)
        PQfreemem(ident);
    if (rc != 0 && c->conn) {
        PQfinish(c->conn);
        c->conn = NULL;
    }
    return rc;
}

/* Cheap liveness check of an idle connection: reading what the socket holds
 * notices a server that closed it (restart) without a round trip. */
static int conn_usable(sg_pg *c)
{
    if (!c->conn || c->broken || PQstatus(c->conn) != CONNECTION_OK)
        return 0;
    /* A server shutting down sends an error (taken as a notice while idle)
     * and then closes: read until the socket has nothing more, so that the
     * close itself is seen too. */
    for (int i = 0; i < 4; i++) {
        if (!PQconsumeInput(c->conn) || PQstatus(c->conn) != CONNECTION_OK)
            return 0;
        struct pollfd pfd = {.fd = PQsocket(c->conn), .events = POLLIN};
        if (poll(&pfd, 1, 0) <= 0)
            break;
    }
    PGnotify *n;
    while ((n = PQnotifies(c->conn)) != NULL)
        PQfreemem(n);
    return PQtransactionStatus(c->conn) == PQTRANS_IDLE;
}

sg_pg_pool *sg_pg_pool_create(const char *dsn, const char *schema, int size, char *err, size_t errlen)
{
    sg_pg_pool *p = NULL;

    if (!dsn || !*dsn || !schema || !*schema) {
        snprintf(err, errlen, "postgres: dsn and schema are required");
        return NULL;
    }
    if (size < 1 || size > 100) {
        snprintf(err, errlen, "postgres: pool size %d outside 1..100", size);
        return NULL;
    }
    p = calloc(1, sizeof *p);
    if (!p)
        goto cleanup;
    p->size = size;
    p->dsn = strdup(dsn);
    p->schema = strdup(schema);
    p->conns = calloc((size_t)size, sizeof *p->conns);
    if (!p->dsn || !p->schema || !p->conns)
        goto cleanup;
    for (int i = 0; i < size; i++)
        p->conns[i].pool = p;
    sg_cond_init_monotonic(&p->cv);
    pthread_mutex_init(&p->mu, NULL);
    pthread_rwlock_init(&p->waker_lock, NULL);
    atomic_init(&p->last_err_log_ms, 0);
    return p;
cleanup:
    if (p) {
        free(p->dsn);
        free(p->schema);
        free(p->conns);
        free(p);
    }
    snprintf(err, errlen, "postgres: out of memory");
    return NULL;
}

void sg_pg_pool_free(sg_pg_pool *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->size; i++) {
        if (p->conns[i].busy)
            sg_error("postgres: pool freed with connection %d still borrowed", i);
        if (p->conns[i].conn)
            PQfinish(p->conns[i].conn);
        names_clear(&p->conns[i]);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    pthread_rwlock_destroy(&p->waker_lock);
    free(p->conns);
    free(p->dsn);
    free(p->schema);
    free(p);
}

enum { ACQ_OK = 0, ACQ_TIMEOUT, ACQ_CONNECT };

static void slot_return(sg_pg_pool *p, sg_pg *c)
{
    pthread_mutex_lock(&p->mu);
    c->busy = 0;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static sg_pg *acquire(sg_pg_pool *p, int timeout_ms, int *why)
{
    struct timespec deadline = sg_deadline_ms(timeout_ms);
    sg_pg *c = NULL;

    pthread_mutex_lock(&p->mu);
    for (;;) {
        sg_pg *idle = NULL;
        /* Prefer a slot that is already connected so that the pool only
         * grows to the concurrency actually needed. */
        for (int i = 0; i < p->size; i++) {
            if (p->conns[i].busy)
                continue;
            if (p->conns[i].conn) {
                c = &p->conns[i];
                break;
            }
            if (!idle)
                idle = &p->conns[i];
        }
        if (!c)
            c = idle;
        if (c)
            break;
        if (sg_cond_wait_until(&p->cv, &p->mu, &deadline) == ETIMEDOUT) {
            pthread_mutex_unlock(&p->mu);
            *why = ACQ_TIMEOUT;
            return NULL;
        }
    }
    c->busy = 1;
    pthread_mutex_unlock(&p->mu);

    c->sqlstate[0] = '\0';
    if (!conn_usable(c) && pg_connect(c) != 0) {
        slot_return(p, c);
        *why = ACQ_CONNECT;
        return NULL;
    }
    *why = ACQ_OK;
    return c;
}

sg_pg *sg_pg_acquire(sg_pg_pool *p, int timeout_ms)
{
    int why;
    return acquire(p, timeout_ms, &why);
}

void sg_pg_release(sg_pg_pool *p, sg_pg *c)
{
    if (!c)
        return;
    if (c->conn && !c->broken && PQstatus(c->conn) == CONNECTION_OK) {
        PGTransactionStatusType ts = PQtransactionStatus(c->conn);
        if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) {
            PGresult *res = PQexec(c->conn, "ROLLBACK");
            if (PQresultStatus(res) != PGRES_COMMAND_OK)
                c->broken = 1;
            PQclear(res);
        } else if (ts != PQTRANS_IDLE) {
            /* A command still running or unknown state: not reusable. */
            c->broken = 1;
        }
    }
    c->sqlstate[0] = '\0';
    slot_return(p, c);
}

/* ---- statements ------------------------------------------------------------ */

static int is_retry_state(const char *st)
{
    return strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0;
}

/* Records the failure of res on c. Returns res, or NULL (res cleared) when
 * the connection itself is gone. */
static PGresult *failed(sg_pg *c, const char *quiet, const char *sql, PGresult *res)
{
    if (!res || PQstatus(c->conn) != CONNECTION_OK) {
        c->broken = 1;
        snprintf(c->sqlstate, sizeof c->sqlstate, "08006");
        sg_error("postgres: connection lost: %s", PQerrorMessage(c->conn));
        PQclear(res);
        return NULL;
    }
    const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    snprintf(c->sqlstate, sizeof c->sqlstate, "%s", st && *st ? st : "XX000");
    if (is_retry_state(c->sqlstate))
        sg_debug("postgres: %s, transaction will be retried", c->sqlstate);
    else if (!quiet || strcmp(quiet, c->sqlstate) != 0)
        sg_error("postgres: statement failed (%s): %s [%.200s]", c->sqlstate, PQresultErrorMessage(res), sql);
    return res;
}

/* The name a statement is prepared under on every connection: its hash. */
static uint64_t stmt_name(const char *sql, char name[24])
{
    uint64_t h = fnv1a(sql);
    snprintf(name, 24, "s%016llx", (unsigned long long)h);
    return h;
}

/* ---- one round trip for several statements (libpq pipeline mode) ---------- */

/* A statement of a pipeline: sql run as is (name NULL: transaction control,
 * no parameters), or the prepared statement `name` of sql, parsed first
 * when `prepare`. */
typedef struct pipe_cmd {
    const char *sql;
    const char *name;
    int prepare;
    int nparams;
    const char *const *params;
    PGresult *prep_res; /* out: the Parse's result (prepare only) */
    PGresult *res;      /* out: the execution's result */
} pipe_cmd;

/* The next result of a pipelined statement, and the NULL that ends it. */
static PGresult *pipe_take(PGconn *conn)
{
    PGresult *r = PQgetResult(conn);
    if (r) {
        PGresult *end = PQgetResult(conn);
        if (end) { /* not a pipeline's shape: the caller drops the connection */
            PQclear(end);
            PQclear(r);
            return NULL;
        }
    }
    return r;
}

static void pipe_clear(pipe_cmd *cmds, int n)
{
    for (int i = 0; i < n; i++) {
        PQclear(cmds[i].prep_res);
        PQclear(cmds[i].res);
        cmds[i].prep_res = cmds[i].res = NULL;
    }
}

/* Sends cmds in one round trip and collects every result: after a failed
 * statement the server skips the rest (PGRES_PIPELINE_ABORTED), and a
 * failure inside a transaction block leaves it aborted. Returns 0, or -1
 * when the connection failed (then marked broken: it is not reused). */
static int pipeline(sg_pg *c, pipe_cmd *cmds, int n)
{
    PGconn *conn = c->conn;
    int ok = PQenterPipelineMode(conn) == 1;

    for (int i = 0; ok && i < n; i++) {
        pipe_cmd *m = &cmds[i];
        m->prep_res = m->res = NULL;
        if (m->prepare && !PQsendPrepare(conn, m->name, m->sql, m->nparams, NULL))
            ok = 0;
        else if (m->name ? !PQsendQueryPrepared(conn, m->name, m->nparams, m->params, NULL, NULL, 0)
                         : !PQsendQueryParams(conn, m->sql, 0, NULL, NULL, NULL, NULL, 0))
            ok = 0;
    }
    if (ok && !PQpipelineSync(conn))
        ok = 0;
    for (int i = 0; ok && i < n; i++) {
        if (cmds[i].prepare && !(cmds[i].prep_res = pipe_take(conn)))
            ok = 0;
        else if (ok && !(cmds[i].res = pipe_take(conn)))
            ok = 0;
    }
    if (ok) {
        PGresult *sync = PQgetResult(conn);
        ok = sync && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
        PQclear(sync);
    }
    if (ok && PQexitPipelineMode(conn) != 1)
        ok = 0;
    if (!ok) {
        c->broken = 1;
        snprintf(c->sqlstate, sizeof c->sqlstate, "08006");
        sg_error("postgres: connection lost in a pipeline: %s", PQerrorMessage(conn));
        pipe_clear(cmds, n);
        return -1;
    }
    return 0;
}

/* The statements of a BEGIN string ("BEGIN ...; SET LOCAL ...") as
 * pipeline commands, copied into buf. Returns how many (at most max). */
static int begin_cmds(const char *begin_sql, char *buf, size_t len, pipe_cmd *cmds, int max)
{
    int n = 0;
    snprintf(buf, len, "%s", begin_sql);
    for (char *save = NULL, *t = strtok_r(buf, ";", &save); t && n < max; t = strtok_r(NULL, ";", &save)) {
        while (*t == ' ')
            t++;
        if (*t)
            cmds[n++] = (pipe_cmd){.sql = t};
    }
    return n;
}

static int result_is(const PGresult *r, const char *state)
{
    const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    return st && strcmp(st, state) == 0;
}

/* The body's first statement with its pending BEGIN, in one round trip.
 * When the pipeline trips on something other than the statement itself
 * (a statement the connection's cache and the server disagree about), the
 * transaction is rolled back and begun again the plain way. */
static PGresult *query_with_begin(sg_pg *c, const char *quiet, const char *sql, int nparams,
                                  const char *const *params, const char *name, uint64_t h)
{
    char buf[256];
    pipe_cmd cmds[4];
    const char *begin_sql = c->begin_pending;
    int nb = begin_cmds(begin_sql, buf, sizeof buf, cmds, 3);
    cmds[nb] = (pipe_cmd){.sql = sql, .name = name, .prepare = !names_has(c, h), .nparams = nparams,
                          .params = params};
    c->begin_pending = NULL;
    if (pipeline(c, cmds, nb + 1) != 0)
        return NULL;
    pipe_cmd *q = &cmds[nb];
    int begun = 1;
    for (int i = 0; i < nb; i++)
        begun = begun && PQresultStatus(cmds[i].res) == PGRES_COMMAND_OK;
    int parsed = !q->prepare || PQresultStatus(q->prep_res) == PGRES_COMMAND_OK;
    if (q->prepare && (parsed || result_is(q->prep_res, "42P05")) && names_add(c, h) != 0)
        sg_warn("postgres: out of memory caching statement %s", name);
    if (begun && parsed && !result_is(q->res, "26000")) {
        PGresult *res = q->res;
        q->res = NULL;
        pipe_clear(cmds, nb + 1);
        return sg_pg_ok(res) ? res : failed(c, quiet, sql, res);
    }
    if (!begun) {
        PGresult *res = NULL;
        for (int i = 0; i < nb && !res; i++)
            if (PQresultStatus(cmds[i].res) != PGRES_COMMAND_OK) {
                res = cmds[i].res;
                cmds[i].res = NULL;
            }
        pipe_clear(cmds, nb + 1);
        return failed(c, quiet, begin_sql, res);
    }
    if (result_is(q->res, "26000"))
        names_del(c, h);
    pipe_clear(cmds, nb + 1);
    if (sg_pg_simple_exec(c, "ROLLBACK") != SG_OK || sg_pg_simple_exec(c, begin_sql) != SG_OK)
        return NULL;
    return sg_pg_query_q(c, quiet, sql, nparams, params);
}

PGresult *sg_pg_query_q(sg_pg *c, const char *quiet, const char *sql, int nparams, const char *const *params)
{
    char name[24];
    uint64_t h = stmt_name(sql, name);

    c->sqlstate[0] = '\0';
    if (!c->conn || c->broken) {
        snprintf(c->sqlstate, sizeof c->sqlstate, "08003");
        return NULL;
    }
    if (c->begin_pending)
        return query_with_begin(c, quiet, sql, nparams, params, name, h);
    for (int attempt = 0;; attempt++) {
        if (!names_has(c, h)) {
            PGresult *pr = PQprepare(c->conn, name, sql, nparams, NULL);
            /* 42P05: already prepared though our cache lost track of it. */
            if (PQresultStatus(pr) != PGRES_COMMAND_OK && !result_is(pr, "42P05"))
                return failed(c, quiet, sql, pr);
            PQclear(pr);
            if (names_add(c, h) != 0)
                sg_warn("postgres: out of memory caching statement %s", name);
        }
        PGresult *res = PQexecPrepared(c->conn, name, nparams, params, NULL, NULL, 0);
        if (sg_pg_ok(res))
            return res;
        /* 26000: the server forgot the statement (DISCARD ALL, a pooler). */
        if (attempt == 0 && result_is(res, "26000") && PQstatus(c->conn) == CONNECTION_OK) {
            names_del(c, h);
            PQclear(res);
            continue;
        }
        return failed(c, quiet, sql, res);
    }
}

PGresult *sg_pg_query(sg_pg *c, const char *sql, int nparams, const char *const *params)
{
    return sg_pg_query_q(c, NULL, sql, nparams, params);
}

int sg_pg_ok(const PGresult *res)
{
    if (!res)
        return 0;
    ExecStatusType s = PQresultStatus(res);
    return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

const char *sg_pg_sqlstate(const sg_pg *c)
{
    return c->sqlstate;
}

int sg_pg_err(const sg_pg *c)
{
    return is_retry_state(c->sqlstate) ? SG_ERR_RETRY : SG_ERR_DB;
}

int sg_pg_exec(sg_pg *c, const char *sql, int nparams, const char *const *params)
{
    PGresult *res = sg_pg_query(c, sql, nparams, params);
    int rc = sg_pg_ok(res) ? SG_OK : sg_pg_err(c);
    PQclear(res);
    return rc;
}

PGconn *sg_pg_conn(sg_pg *c)
{
    /* Raw use inside a body: the transaction must have begun. */
    const char *begin_sql = c->begin_pending;
    if (begin_sql) {
        c->begin_pending = NULL;
        sg_pg_simple_exec(c, begin_sql);
    }
    return c->conn;
}

/* Transaction control goes through the simple protocol: nothing to prepare. */
int sg_pg_simple_exec(sg_pg *c, const char *sql)
{
    char *joined = NULL;

    c->sqlstate[0] = '\0';
    if (!c->conn || c->broken) {
        snprintf(c->sqlstate, sizeof c->sqlstate, "08003");
        return SG_ERR_DB;
    }
    /* A body's first statement through here (a savepoint) carries the
     * pending BEGIN in the same string. */
    if (c->begin_pending) {
        if (asprintf(&joined, "%s; %s", c->begin_pending, sql) < 0)
            return SG_ERR_DB;
        c->begin_pending = NULL;
        sql = joined;
    }
    PGresult *res = PQexec(c->conn, sql);
    if (!sg_pg_ok(res)) {
        res = failed(c, NULL, sql, res);
        PQclear(res);
        free(joined);
        return sg_pg_err(c);
    }
    PQclear(res);
    free(joined);
    return SG_OK;
}

int sg_pg_conn_lost(const sg_pg *c)
{
    return !c->conn || c->broken || PQstatus(c->conn) != CONNECTION_OK;
}

int sg_pg_tx_failed(const sg_pg *c)
{
    return !sg_pg_conn_lost(c) && PQtransactionStatus(c->conn) == PQTRANS_INERROR;
}

static void backoff(int attempt)
{
    long cap = 2L << (attempt < 7 ? attempt : 7); /* 2 ms .. 256 ms */
    if (cap > 200)
        cap = 200;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    /* Jitter from the clock's low bits is enough to de-synchronise the
     * threads that collided; no shared generator state needed. */
    long j = (long)((unsigned long)ts.tv_nsec % (unsigned long)(cap / 2 + 1));
    sg_sleep_ms(cap / 2 + j);
}

int sg_pg_in_tx(const sg_pg *c)
{
    return c->in_tx;
}

int sg_pg_defer(sg_pg *c, const char *sql, int ncols, const char *const *values)
{
    struct deferred *d = NULL;

    if (!c->in_tx || ncols < 1)
        return SG_ERR_DB;
    for (int i = 0; i < c->ndeferred && !d; i++)
        if (c->deferred[i].sql == sql)
            d = &c->deferred[i];
    if (!d) {
        if (c->ndeferred == SG_PG_DEFER_MAX)
            return SG_ERR_DB;
        d = &c->deferred[c->ndeferred++];
        *d = (struct deferred){.sql = sql, .ncols = ncols};
    }
    if (d->ncols != ncols)
        return SG_ERR_DB;
    if (d->n == d->cap) {
        size_t cap = d->cap ? 2 * d->cap : 8;
        char **grown = realloc(d->cells, cap * (size_t)ncols * sizeof *grown);
        if (!grown)
            return SG_ERR_DB;
        d->cells = grown;
        d->cap = cap;
    }
    char **row = d->cells + d->n * (size_t)ncols;
    int oom = 0;
    for (int k = 0; k < ncols; k++) {
        row[k] = values[k] ? strdup(values[k]) : NULL;
        oom |= values[k] && !row[k];
    }
    d->n++; /* even on oom: the row's cells are freed with the others */
    return oom ? SG_ERR_DB : SG_OK;
}

/* ---- array parameters and deferred rows ------------------------------------ */

char *sg_pg_text_array(const char *const *v, size_t n)
{
    size_t len = 3;
    char *out, *w;

    for (size_t i = 0; i < n; i++)
        len += (v[i] ? 2 * strlen(v[i]) : 4) + 3;
    if (!(out = malloc(len)))
        return NULL;
    w = out;
    *w++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i)
            *w++ = ',';
        if (!v[i]) {
            memcpy(w, "NULL", 4);
            w += 4;
            continue;
        }
        *w++ = '"';
        for (const char *s = v[i]; *s; s++) {
            if (*s == '"' || *s == '\\')
                *w++ = '\\';
            *w++ = *s;
        }
        *w++ = '"';
    }
    *w++ = '}';
    *w = '\0';
    return out;
}

/* Commits c's transaction in one round trip: its BEGIN if still pending,
 * one statement per deferred statement with its rows (see sg_pg_defer),
 * COMMIT. A body that ran nothing and deferred nothing sends nothing.
 * Returns SG_OK after the COMMIT; SG_ERR_RETRY when a deferred statement
 * tripped on the prepared-statement cache (the transaction is aborted: the
 * caller runs it again); else the failure's code. *unknown is set when the
 * connection failed in the round trip that carried COMMIT. */
static int commit_all(sg_pg *c, int *unknown)
{
    char buf[256], names[SG_PG_DEFER_MAX][24];
    char *arrays[SG_PG_DEFER_MAX][16];
    pipe_cmd cmds[3 + SG_PG_DEFER_MAX + 1];
    uint64_t hashes[SG_PG_DEFER_MAX];
    int n = 0, nb = 0, rc = SG_OK;

    *unknown = 0;
    if (c->begin_pending && c->ndeferred == 0) {
        c->begin_pending = NULL;
        return SG_OK;
    }
    if (sg_pg_conn_lost(c))
        return SG_ERR_DB; /* COMMIT not sent: the transaction did not happen */
    memset(arrays, 0, sizeof arrays);
    if (c->begin_pending)
        nb = n = begin_cmds(c->begin_pending, buf, sizeof buf, cmds, 3);
    const char *begin_sql = c->begin_pending;
    c->begin_pending = NULL;
    for (int i = 0; rc == SG_OK && i < c->ndeferred; i++) {
        struct deferred *d = &c->deferred[i];
        const char **col = malloc((d->n ? d->n : 1) * sizeof *col);
        if (!col || d->ncols > 16) {
            free(col);
            rc = SG_ERR_DB;
            break;
        }
        for (int k = 0; k < d->ncols && rc == SG_OK; k++) {
            for (size_t r = 0; r < d->n; r++)
                col[r] = d->cells[r * (size_t)d->ncols + (size_t)k];
            if (!(arrays[i][k] = sg_pg_text_array(col, d->n)))
                rc = SG_ERR_DB;
        }
        free(col);
        hashes[i] = stmt_name(d->sql, names[i]);
        cmds[n++] = (pipe_cmd){.sql = d->sql, .name = names[i], .prepare = !names_has(c, hashes[i]),
                               .nparams = d->ncols, .params = (const char *const *)arrays[i]};
    }
    if (rc == SG_OK) {
        cmds[n++] = (pipe_cmd){.sql = "COMMIT"};
        if (pipeline(c, cmds, n) != 0) {
            sg_error("postgres: connection lost during COMMIT, outcome unknown");
            *unknown = 1;
            rc = SG_ERR_DB;
        }
    }
    /* The first statement that did not succeed decides; the rest were
     * skipped by the server. */
    for (int i = 0; rc == SG_OK && i < n; i++) {
        pipe_cmd *m = &cmds[i];
        int d = i - nb; /* the deferred statement's index, when 0 <= d < ndeferred */
        if (m->prepare && (PQresultStatus(m->prep_res) == PGRES_COMMAND_OK || result_is(m->prep_res, "42P05")) &&
            names_add(c, hashes[d]) != 0)
            sg_warn("postgres: out of memory caching statement %s", m->name);
        if (m->prepare && PQresultStatus(m->prep_res) != PGRES_COMMAND_OK) {
            rc = result_is(m->prep_res, "42P05") ? SG_ERR_RETRY : SG_ERR_DB;
            PQclear(failed(c, NULL, m->sql, m->prep_res));
            m->prep_res = NULL;
        } else if (m->name && result_is(m->res, "26000")) {
            names_del(c, hashes[d]);
            rc = SG_ERR_RETRY;
        } else if (!sg_pg_ok(m->res)) {
            PQclear(failed(c, NULL, i < nb ? begin_sql : m->sql, m->res));
            m->res = NULL;
            rc = sg_pg_err(c);
        } else if (!m->name && i == n - 1 && strcmp(PQcmdStatus(m->res), "COMMIT") != 0) {
            sg_error("postgres: COMMIT answered %s", PQcmdStatus(m->res));
            rc = SG_ERR_DB;
        }
    }
    pipe_clear(cmds, n);
    for (int i = 0; i < c->ndeferred; i++)
        for (int k = 0; k < 16; k++)
            free(arrays[i][k]);
    return rc;
}

/* Ends an sg_pg_tx body: drops the deferred rows, whatever happened. */
static void tx_end(sg_pg *c)
{
    for (int i = 0; i < c->ndeferred; i++) {
        struct deferred *d = &c->deferred[i];
        for (size_t k = 0; k < d->n * (size_t)d->ncols; k++)
            free(d->cells[k]);
        free(d->cells);
    }
    c->ndeferred = 0;
    c->in_tx = 0;
    c->begin_pending = NULL;
}

void sg_pg_defer_mark(const sg_pg *c, sg_pg_defer_pos *pos)
{
    pos->ndeferred = c->ndeferred;
    for (int i = 0; i < SG_PG_DEFER_MAX; i++)
        pos->n[i] = i < c->ndeferred ? c->deferred[i].n : 0;
}

void sg_pg_defer_rollback(sg_pg *c, const sg_pg_defer_pos *pos)
{
    for (int i = 0; i < c->ndeferred; i++) {
        struct deferred *d = &c->deferred[i];
        size_t keep = i < pos->ndeferred ? pos->n[i] : 0;
        for (size_t k = keep * (size_t)d->ncols; k < d->n * (size_t)d->ncols; k++)
            free(d->cells[k]);
        d->n = keep;
        if (i >= pos->ndeferred) {
            free(d->cells);
            *d = (struct deferred){0};
        }
    }
    if (pos->ndeferred < c->ndeferred)
        c->ndeferred = pos->ndeferred;
}

/* ---- after-commit wake-up (sg_pg_pool_set_waker) ---------------------------- */

void sg_pg_pool_set_waker(sg_pg_pool *p, const sg_pg_waker *w)
{
    pthread_rwlock_wrlock(&p->waker_lock);
    p->waker = w && w->wake ? *w : (sg_pg_waker){0};
    pthread_rwlock_unlock(&p->waker_lock);
}

static void pool_wake(sg_pg_pool *p)
{
    pthread_rwlock_rdlock(&p->waker_lock);
    if (p->waker.wake)
        p->waker.wake(p->waker.ctx);
    pthread_rwlock_unlock(&p->waker_lock);
}

int sg_pg_wake_is_local(sg_pg *c)
{
    sg_pg_pool *p = c->pool;
    int local = 0;
    pthread_rwlock_rdlock(&p->waker_lock);
    if (p->waker.wake)
        local = !p->waker.local || p->waker.local(p->waker.ctx);
    pthread_rwlock_unlock(&p->waker_lock);
    return local;
}

void sg_pg_wake_after_commit(sg_pg *c)
{
    if (c->in_tx)
        c->wake_after_commit = 1;
    else
        pool_wake(c->pool);
}

/* Round trips: the BEGIN goes with the body's first statement, and the
 * deferred rows with COMMIT (libpq pipeline mode), so a body of one
 * statement and its deferred rows is two round trips, not five. On a busy
 * machine each round trip is a wait for two processes to be scheduled: a
 * vote, seven round trips, took 21 ms in the service at 100 reports/s
 * (bench), mostly waiting. */
int sg_pg_tx_once(sg_pg *c, const char *begin_sql, sg_pg_tx_fn fn, void *ctx, int *commit_unknown)
{
    int rc;

    *commit_unknown = 0;
    c->wake_after_commit = 0;
    c->begin_pending = begin_sql;
    c->in_tx = 1;
    rc = fn(c, ctx);
    if (rc == SG_OK && sg_pg_tx_failed(c)) {
        /* fn ignored a failed statement: COMMIT would roll back. */
        sg_warn("postgres: transaction body returned OK after a failed statement (%s)", c->sqlstate);
        rc = sg_pg_err(c);
    }
    if (rc == SG_OK)
        rc = commit_all(c, commit_unknown);
    tx_end(c);
    if (c->wake_after_commit && (rc == SG_OK || *commit_unknown))
        pool_wake(c->pool);
    c->wake_after_commit = 0;
    return rc;
}

int sg_pg_tx(sg_pg_pool *p, int isolation, sg_pg_tx_fn fn, void *ctx)
{
    static const char *const begin[] = {"BEGIN; " SG_PG_GENERIC_PLANS,
                                        "BEGIN ISOLATION LEVEL REPEATABLE READ; " SG_PG_GENERIC_PLANS,
                                        "BEGIN ISOLATION LEVEL SERIALIZABLE; " SG_PG_GENERIC_PLANS};
    const char *begin_sql = begin[isolation >= 0 && isolation <= SG_TX_SERIALIZABLE ? isolation : 0];
    int rc = SG_ERR_DB;

    for (int attempt = 0; attempt < TX_MAX_ATTEMPTS; attempt++) {
        int unknown;
        sg_pg *c = sg_pg_acquire(p, 5000);
        if (!c)
            return SG_ERR_DB;
        rc = sg_pg_tx_once(c, begin_sql, fn, ctx, &unknown);
        if (rc == SG_OK || unknown) {
            sg_pg_release(p, c);
            return rc == SG_OK ? SG_OK : SG_ERR_DB;
        }
        /* Everything below failed before COMMIT was sent, or COMMIT itself
         * reported a serialization failure: the tx did not happen. */
        int lost = sg_pg_conn_lost(c);
        sg_pg_release(p, c); /* rolls back an open transaction */
        if (rc > 0)
            return rc;
        if (lost) {
            rc = SG_ERR_DB;
            continue; /* the next acquire reconnects */
        }
        if (rc != SG_ERR_RETRY)
            return rc;
        backoff(attempt);
    }
    return rc;
}

int sg_pg_run(sg_pg_pool *p, sg_pg_tx_fn fn, void *ctx)
{
    int rc = SG_ERR_DB;

    for (int attempt = 0; attempt < TX_MAX_ATTEMPTS; attempt++) {
        sg_pg *c = sg_pg_acquire(p, 5000);
        if (!c)
            return SG_ERR_DB;
        rc = fn(c, ctx);
        int lost = sg_pg_conn_lost(c);
        sg_pg_release(p, c);
        if (rc == SG_OK || rc > 0)
            return rc;
        if (lost)
            continue; /* the next acquire reconnects */
        if (rc != SG_ERR_RETRY)
            return rc;
        backoff(attempt);
    }
    return rc;
}

int sg_pg_ping(sg_pg_pool *p)
{
    int why;
    int rc = -1;
    sg_pg *c = acquire(p, 500, &why);

    if (!c) {
        /* A busy pool is not a down database: ask the server directly. */
        if (why == ACQ_TIMEOUT) {
            const char *const keys[] = {"connect_timeout", "dbname", NULL};
            const char *const vals[] = {"2", p->dsn, NULL};
            return PQpingParams(keys, vals, 1) == PQPING_OK ? 0 : -1;
        }
        return -1;
    }
    if (sg_pg_simple_exec(c, "SELECT 1") == SG_OK)
        rc = 0;
    sg_pg_release(p, c);
    return rc;
}

const char *sg_pg_pool_schema(const sg_pg_pool *p)
{
    return p->schema;
}

const char *sg_pg_schema(const sg_pg *c)
{
    return c->pool->schema;
}

const char *sg_pg_pool_dsn(const sg_pg_pool *p)
{
    return p->dsn;
}
