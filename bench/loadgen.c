/* loadgen: the HTTP load of `make bench` (bench/run drives it; see
 * bench/README.md).
 *
 *   loadgen intake  --port P --key KEY --conns C --duration S --tag T
 *     Closed loop: C keep-alive connections, each POSTs a report (unique
 *     target and reporter) as soon as the previous answer arrived. Prints the
 *     201s completed within the window divided by the window.
 *
 *   loadgen sustain --port P --key KEY --rate R --duration S --tag T
 *                   --jurors N --juror-prefix PFX --secret JWT_SECRET
 *                   [--poll-ms MS] [--drain S] [--report-conns K] [--juror-conns K]
 *                   [--votes-to-decide N]
 *     Open loop: R reports/s for S seconds, each sent at its scheduled time
 *     (latency counts from that time, so a stalled server cannot hide its
 *     queue), while N simulated jurors PFX0000.. poll
 *     GET /v1/me/ballots?status=open every MS (staggered over the cycle) and
 *     vote on every open ballot they see (all of a case's jurors alike). After
 *     the last report the jurors go on until every case the run opened has
 *     votes-to-decide accepted votes, or `drain` seconds.
 *
 *   loadgen deltopics --brokers HOST:PORT --prefix PFX
 *     Deletes the Kafka topics whose names start with PFX (the run's own
 *     topic prefix; refuses prefixes not starting with "bench").
 *
 * Output: key=value lines on stdout. One thread, epoll, nonblocking sockets
 * to 127.0.0.1 only, HTTP/1.1 keep-alive; every count and time is bounded by
 * the arguments.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "sg/auth.h"

enum { K_REPORT, K_POLL, K_VOTE, K_COUNT };
static const char *const kind_name[K_COUNT] = {"report", "poll", "vote"};

enum { C_CLOSED, C_CONNECTING, C_IDLE, C_BUSY };
enum { P_REPORTS, P_JURORS, P_COUNT };

#define RECENT 16      /* cases a juror remembers having voted on */
#define MAX_CONNS 256
#define MAX_JURORS 100000

typedef struct req {
    struct req *next;
    int kind;
    int juror;       /* -1 for reports */
    double t_sched;  /* monotonic seconds: when it was due */
    char case_id[37]; /* votes: the case voted on */
    char *buf;       /* whole HTTP request, owned */
    size_t len;
} req;

typedef struct conn {
    int fd;
    int pool;
    int state;
    int close_after;  /* server said Connection: close */
    req *cur;
    size_t sent;
    char *in;
    size_t inlen, incap;
} conn;

typedef struct queue {
    req *head, *tail;
    long len;
} queue;

typedef struct pool {
    conn conns[MAX_CONNS];
    int n, max;
    queue hi, lo;  /* hi is served first (votes) */
} pool;

typedef struct juror {
    char *auth;     /* "Authorization: Bearer <jwt>\r\n", owned */
    int polling;    /* a poll is queued or in flight */
    char recent[RECENT][37];
    int recent_next;
} juror;

/* The cases this run created (open addressing, never shrinks): a case is
 * done once `votes_to_decide` votes on it were accepted, since all of a
 * case's jurors vote alike. */
typedef struct case_slot {
    char id[37];
    int votes_ok;
} case_slot;

typedef struct case_table {
    case_slot *slots;
    size_t cap, n, done;
} case_table;

typedef struct lat {
    double *v;
    size_t n, cap;
} lat;

typedef struct stats {
    long status[K_COUNT][600];   /* [kind][HTTP status], 0 = transport error */
    lat lat[K_COUNT];
    long ok_in_window;           /* intake: 201s completed inside the window */
    long reports_sent;
    long votes_queued;
    long open_seen;              /* open ballots seen by polls */
    double sched_late_max;       /* sustain: worst send delay behind schedule */
} stats;

typedef struct cfg {
    const char *mode;
    int port;
    const char *key;
    const char *tag;
    const char *type;
    int conns;
    double duration;
    double rate;
    int njurors;
    const char *juror_prefix;
    const char *secret;
    double poll_s;
    double drain;
    int report_conns, juror_conns;
    int votes_to_decide;
} cfg;

typedef struct lg {
    cfg cfg;
    int ep;
    struct sockaddr_in addr;
    pool pools[P_COUNT];
    juror *jurors;
    stats st;
    long seq;             /* reports made */
    long inflight;        /* requests on the wire */
    long report_inflight; /* reports queued or on the wire */
    long votes_pending;   /* votes queued or on the wire */
    double t_end_window;  /* intake: end of the measuring window */
    case_table cases;
    long respawn;         /* intake: reports to start again after a failure */
} lg;

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("loadgen: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die("out of memory");
    return p;
}

static void lat_add(lat *l, double ms)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4096;
        double *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            die("out of memory");
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = ms;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array; NAN when empty. */
static double pct(const lat *l, double p)
{
    if (l->n == 0)
        return NAN;
    size_t rank = (size_t)ceil(p / 100.0 * (double)l->n);
    if (rank < 1)
        rank = 1;
    return l->v[rank - 1];
}

/* ---- cases ---------------------------------------------------------------- */

static size_t hash_id(const char *s)
{
    size_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static case_slot *case_find(case_table *t, const char *id, int insert)
{
    if (insert && (t->n + 1) * 2 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16384;
        case_slot *old = t->slots, *slots = calloc(cap, sizeof *slots);
        if (!slots)
            die("out of memory");
        for (size_t i = 0; i < t->cap; i++) {
            if (!old[i].id[0])
                continue;
            size_t k = hash_id(old[i].id) & (cap - 1);
            while (slots[k].id[0])
                k = (k + 1) & (cap - 1);
            slots[k] = old[i];
        }
        free(old);
        t->slots = slots;
        t->cap = cap;
    }
    if (!t->cap)
        return NULL;
    for (size_t k = hash_id(id) & (t->cap - 1);; k = (k + 1) & (t->cap - 1)) {
        if (!t->slots[k].id[0]) {
            if (!insert)
                return NULL;
            snprintf(t->slots[k].id, sizeof t->slots[k].id, "%s", id);
            t->n++;
            return &t->slots[k];
        }
        if (strcmp(t->slots[k].id, id) == 0)
            return &t->slots[k];
    }
}

/* ---- requests ------------------------------------------------------------ */

static req *req_new(int kind, int jur, double t_sched, const char *fmt, ...)
{
    va_list ap;
    req *r = xmalloc(sizeof *r);
    int n;
    memset(r, 0, sizeof *r);
    r->kind = kind;
    r->juror = jur;
    r->t_sched = t_sched;
    va_start(ap, fmt);
    n = vasprintf(&r->buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        die("out of memory");
    r->len = (size_t)n;
    return r;
}

static void req_free(req *r)
{
    if (r) {
        free(r->buf);
        free(r);
    }
}

static req *make_report(lg *g, double t_sched)
{
    char body[512];
    long i = g->seq++;
    int blen = snprintf(body, sizeof body,
                        "{\"report_type\":\"%s\",\"target_id\":\"bench:%s:%ld\",\"target_owner_id\":\"bench-own-%s-%ld\","
                        "\"reporter_id\":\"bench-rep-%s-%ld\",\"reason\":\"abuse\","
                        "\"description\":\"insulting comment under a listing\"}",
                        g->cfg.type, g->cfg.tag, i, g->cfg.tag, i, g->cfg.tag, i);
    return req_new(K_REPORT, -1, t_sched,
                   "POST /v1/reports HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer %s\r\n"
                   "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
                   g->cfg.port, g->cfg.key, blen, body);
}

static req *make_poll(lg *g, int j, double t_sched)
{
    return req_new(K_POLL, j, t_sched, "GET /v1/me/ballots?status=open&limit=200 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s\r\n",
                   g->cfg.port, g->jurors[j].auth);
}

/* The simulated truth of a case, so that both verdicts (and the reporter
 * reward) occur: about 70 % violation, decided by the case id. */
static const char *verdict_of(const char *case_id)
{
    size_t n = strlen(case_id);
    char c = n ? case_id[n - 1] : '0';
    int v = (c >= '0' && c <= '9') ? c - '0' : (c | 32) - 'a' + 10;
    return v < 11 ? "violation" : "no_violation";
}

static req *make_vote(lg *g, int j, const char *case_id, double t_sched)
{
    char body[64];
    int blen = snprintf(body, sizeof body, "{\"decision\":\"%s\"}", verdict_of(case_id));
    req *r = req_new(K_VOTE, j, t_sched,
                     "POST /v1/cases/%s/votes HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%sContent-Type: application/json\r\n"
                     "Content-Length: %d\r\n\r\n%s",
                     case_id, g->cfg.port, g->jurors[j].auth, blen, body);
    snprintf(r->case_id, sizeof r->case_id, "%s", case_id);
    return r;
}

/* ---- connections --------------------------------------------------------- */

static void q_push(queue *q, req *r)
{
    r->next = NULL;
    if (q->tail)
        q->tail->next = r;
    else
        q->head = r;
    q->tail = r;
    q->len++;
}

static req *q_pop(queue *q)
{
    req *r = q->head;
    if (r) {
        q->head = r->next;
        if (!q->head)
            q->tail = NULL;
        q->len--;
    }
    return r;
}

static void ep_set(lg *g, conn *c, unsigned events)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(g->ep, EPOLL_CTL_MOD, c->fd, &ev) != 0)
        die("epoll_ctl: %s", strerror(errno));
}

static void conn_close(lg *g, conn *c)
{
    if (c->fd >= 0) {
        epoll_ctl(g->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = -1;
    c->state = C_CLOSED;
    c->inlen = 0;
    c->close_after = 0;
}

static int conn_open(lg *g, conn *c)
{
    int one = 1;
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&g->addr, sizeof g->addr) != 0 && errno != EINPROGRESS) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    if (epoll_ctl(g->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
        die("epoll_ctl: %s", strerror(errno));
    c->state = C_CONNECTING;
    c->inlen = 0;
    c->close_after = 0;
    return 0;
}

/* Writes what it can of the current request; on completion waits for the
 * answer. -1 when the connection failed. */
static int conn_flush(lg *g, conn *c)
{
    while (c->sent < c->cur->len) {
        ssize_t n = send(c->fd, c->cur->buf + c->sent, c->cur->len - c->sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                ep_set(g, c, EPOLLOUT);
                return 0;
            }
            if (errno == EINTR)
                continue;
            return -1;
        }
        c->sent += (size_t)n;
    }
    ep_set(g, c, EPOLLIN);
    return 0;
}

static void finish(lg *g, req *r, int status, const char *body, size_t blen);

/* The request on c failed at the transport level. */
static void conn_fail(lg *g, conn *c)
{
    req *r = c->cur;
    c->cur = NULL;
    conn_close(g, c);
    if (r) {
        g->inflight--;
        finish(g, r, 0, NULL, 0);
    }
}

static void dispatch(lg *g, int pi);

static void conn_start(lg *g, conn *c, req *r)
{
    c->cur = r;
    c->sent = 0;
    c->state = C_BUSY;
    g->inflight++;
    if (r->kind == K_REPORT && g->cfg.rate > 0) {
        double late = now_s() - r->t_sched;
        if (late > g->st.sched_late_max)
            g->st.sched_late_max = late;
    }
    if (conn_flush(g, c) != 0)
        conn_fail(g, c);
}

/* Gives queued requests of pool pi to idle connections, opening new ones up
 * to the pool's limit. */
static void dispatch(lg *g, int pi)
{
    pool *p = &g->pools[pi];
    for (;;) {
        queue *q = p->hi.head ? &p->hi : &p->lo;
        conn *idle = NULL, *closed = NULL;
        int connecting = 0;
        if (!q->head)
            return;
        for (int i = 0; i < p->n; i++) {
            conn *c = &p->conns[i];
            if (c->state == C_IDLE && !idle)
                idle = c;
            else if (c->state == C_CLOSED && !closed)
                closed = c;
            else if (c->state == C_CONNECTING)
                connecting++;
        }
        if (idle) {
            conn_start(g, idle, q_pop(q));
            continue;
        }
        /* Open at most one connection per waiting request. */
        if (connecting >= p->hi.len + p->lo.len)
            return;
        if (!closed && p->n < p->max) {
            closed = &p->conns[p->n++];
            closed->fd = -1;
            closed->state = C_CLOSED;
        }
        if (!closed)
            return;
        if (conn_open(g, closed) != 0) {
            req *r = q_pop(q);
            finish(g, r, 0, NULL, 0);
        }
    }
}

static void enqueue(lg *g, int pi, req *r, int high)
{
    if (r->kind == K_REPORT)
        g->report_inflight++;
    q_push(high ? &g->pools[pi].hi : &g->pools[pi].lo, r);
    dispatch(g, pi);
}

/* ---- HTTP responses ------------------------------------------------------ */

/* Finds header name (with ": ") in [h, end); returns its value or NULL. */
static const char *header(const char *h, const char *end, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    const char *p = h;
    while (p < end) {
        const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (!eol)
            eol = end;
        if ((size_t)(eol - p) > nl + 1 && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            *vlen = (size_t)(eol - v);
            return v;
        }
        p = eol + 2;
    }
    return NULL;
}

/* Decodes a chunked body in place. Returns the bytes consumed from b (0 when
 * incomplete) and the decoded length in *out_len. */
static size_t dechunk(char *b, size_t len, size_t *out_len)
{
    size_t rd = 0, wr = 0;
    for (;;) {
        char *eol = memmem(b + rd, len - rd, "\r\n", 2);
        if (!eol)
            return 0;
        unsigned long sz = strtoul(b + rd, NULL, 16);
        size_t data = (size_t)(eol - b) + 2;
        if (sz == 0) {
            /* No trailers expected: the final CRLF follows. */
            if (len < data + 2)
                return 0;
            *out_len = wr;
            return data + 2;
        }
        if (len < data + sz + 2)
            return 0;
        memmove(b + wr, b + data, sz);
        wr += sz;
        rd = data + sz + 2;
    }
}

/* Tries to take one complete response out of c->in. 1 done, 0 need more,
 * -1 malformed. */
static int conn_parse(lg *g, conn *c)
{
    char *hend = memmem(c->in, c->inlen, "\r\n\r\n", 4);
    const char *v;
    size_t vlen, hlen, blen = 0, total;
    int status;

    if (!hend)
        return 0;
    hlen = (size_t)(hend - c->in) + 4;
    if (c->inlen < 12 || strncmp(c->in, "HTTP/1.", 7) != 0)
        return -1;
    status = atoi(c->in + 9);
    if (status < 100 || status > 599)
        return -1;
    if ((v = header(c->in, hend, "Connection", &vlen)) && vlen >= 5 && strncasecmp(v, "close", 5) == 0)
        c->close_after = 1;
    if ((v = header(c->in, hend, "Transfer-Encoding", &vlen)) && vlen >= 7 && strncasecmp(v, "chunked", 7) == 0) {
        size_t used = dechunk(c->in + hlen, c->inlen - hlen, &blen);
        if (!used)
            return 0;
        total = hlen + used;
    } else {
        if ((v = header(c->in, hend, "Content-Length", &vlen)))
            blen = strtoul(v, NULL, 10);
        if (c->inlen < hlen + blen)
            return 0;
        total = hlen + blen;
    }
    req *r = c->cur;
    c->cur = NULL;
    c->state = C_IDLE;
    g->inflight--;
    /* finish may enqueue (and so write on c): take the body out first. */
    char *body = xmalloc(blen + 1);
    memcpy(body, c->in + hlen, blen);
    body[blen] = '\0';
    memmove(c->in, c->in + total, c->inlen - total);
    c->inlen -= total;
    if (c->close_after)
        conn_close(g, c);
    finish(g, r, status, body, blen);
    free(body);
    return 1;
}

static void conn_readable(lg *g, conn *c)
{
    for (;;) {
        if (c->incap - c->inlen < 4096) {
            size_t cap = c->incap ? c->incap * 2 : 65536;
            char *in = realloc(c->in, cap);
            if (!in)
                die("out of memory");
            c->in = in;
            c->incap = cap;
        }
        ssize_t n = recv(c->fd, c->in + c->inlen, c->incap - c->inlen, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            if (c->state == C_BUSY)
                conn_fail(g, c);
            else
                conn_close(g, c);
            return;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        c->inlen += (size_t)n;
        if (c->state != C_BUSY) {
            /* Unsolicited bytes: the server is closing an idle connection. */
            conn_close(g, c);
            return;
        }
        int rc = conn_parse(g, c);
        if (rc < 0) {
            conn_fail(g, c);
            return;
        }
        if (rc > 0)
            return;
    }
}

static void conn_event(lg *g, conn *c, unsigned events)
{
    int pi = c->pool;
    if (c->state == C_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        if ((events & (EPOLLERR | EPOLLHUP)) || getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err) {
            conn_close(g, c);
            /* Fail one waiting request, so a dead server cannot spin us. */
            queue *q = g->pools[pi].hi.head ? &g->pools[pi].hi : &g->pools[pi].lo;
            req *r = q_pop(q);
            if (r)
                finish(g, r, 0, NULL, 0);
        } else {
            c->state = C_IDLE;
            ep_set(g, c, EPOLLIN);
        }
        dispatch(g, pi);
        return;
    }
    if (c->state == C_BUSY && (events & EPOLLOUT) && c->sent < c->cur->len) {
        if (conn_flush(g, c) != 0)
            conn_fail(g, c);
    } else if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        conn_readable(g, c);
    }
    dispatch(g, pi);
}

/* ---- the simulation ------------------------------------------------------ */

static int recent_has(const juror *j, const char *case_id)
{
    for (int i = 0; i < RECENT; i++)
        if (strcmp(j->recent[i], case_id) == 0)
            return 1;
    return 0;
}

static void on_poll(lg *g, req *r, const char *body, size_t blen)
{
    juror *j = &g->jurors[r->juror];
    json_error_t jerr;
    json_t *doc = json_loadb(body, blen, 0, &jerr), *items = json_object_get(doc, "items"), *it;
    size_t i;
    json_array_foreach(items, i, it) {
        const char *st = json_string_value(json_object_get(it, "status"));
        const char *cid = json_string_value(json_object_get(it, "case_id"));
        if (!st || !cid || strcmp(st, "open") != 0 || strlen(cid) != 36)
            continue;
        g->st.open_seen++;
        if (recent_has(j, cid))
            continue;
        snprintf(j->recent[j->recent_next], sizeof j->recent[0], "%s", cid);
        j->recent_next = (j->recent_next + 1) % RECENT;
        g->st.votes_queued++;
        g->votes_pending++;
        enqueue(g, P_JURORS, make_vote(g, r->juror, cid, now_s()), 1);
    }
    json_decref(doc);
}

static void finish(lg *g, req *r, int status, const char *body, size_t blen)
{
    double t = now_s();
    if (status < 0 || status > 599)
        status = 0;
    g->st.status[r->kind][status]++;
    if (r->kind == K_VOTE) {
        g->votes_pending--;
        case_slot *cs = status == 201 ? case_find(&g->cases, r->case_id, 0) : NULL;
        if (cs && ++cs->votes_ok == g->cfg.votes_to_decide)
            g->cases.done++;
    }
    if (r->kind == K_REPORT && status == 201 && g->cfg.rate > 0) {
        json_t *doc = json_loadb(body, blen, 0, NULL);
        const char *cid = json_string_value(json_object_get(doc, "case_id"));
        if (cid && strlen(cid) == 36)
            case_find(&g->cases, cid, 1);
        json_decref(doc);
    }
    if (r->kind == K_REPORT)
        g->report_inflight--;
    if (status)
        lat_add(&g->st.lat[r->kind], (t - r->t_sched) * 1000.0);
    if (r->kind == K_POLL) {
        g->jurors[r->juror].polling = 0;
        if (status == 200)
            on_poll(g, r, body, blen);
    }
    if (r->kind == K_REPORT && strcmp(g->cfg.mode, "intake") == 0) {
        if (status == 201 && t <= g->t_end_window)
            g->st.ok_in_window++;
        /* A transport failure is replaced from the main loop, not from here:
         * a refusing server would otherwise recurse through dispatch. */
        if (t < g->t_end_window && !interrupted) {
            if (status == 0) {
                g->respawn++;
            } else {
                g->st.reports_sent++;
                enqueue(g, P_REPORTS, make_report(g, t), 0);
            }
        }
    }
    req_free(r);
}

static void run_events(lg *g, int timeout_ms)
{
    struct epoll_event evs[64];
    int n = epoll_wait(g->ep, evs, 64, timeout_ms);
    if (n < 0 && errno != EINTR)
        die("epoll_wait: %s", strerror(errno));
    for (int i = 0; i < n; i++)
        conn_event(g, evs[i].data.ptr, evs[i].events);
}

static void report_lat(const char *prefix, lat *l)
{
    qsort(l->v, l->n, sizeof *l->v, cmp_double);
    printf(" %s_p50_ms=%.1f %s_p95_ms=%.1f %s_p99_ms=%.1f %s_max_ms=%.1f", prefix, pct(l, 50), prefix, pct(l, 95),
           prefix, pct(l, 99), prefix, pct(l, 100));
}

static void print_statuses(const lg *g)
{
    printf("statuses:");
    for (int k = 0; k < K_COUNT; k++)
        for (int s = 0; s < 600; s++)
            if (g->st.status[k][s])
                printf(" %s:%d=%ld", kind_name[k], s, g->st.status[k][s]);
    printf("\n");
}

static void run_intake(lg *g)
{
    double t0 = now_s();
    g->t_end_window = t0 + g->cfg.duration;
    for (int i = 0; i < g->cfg.conns; i++) {
        g->st.reports_sent++;
        enqueue(g, P_REPORTS, make_report(g, t0), 0);
    }
    /* In-flight requests after the window get 30 s to finish. */
    while ((now_s() < g->t_end_window || g->inflight > 0) && now_s() < g->t_end_window + 30 && !interrupted) {
        run_events(g, 10);
        for (; g->respawn > 0 && now_s() < g->t_end_window; g->respawn--) {
            g->st.reports_sent++;
            enqueue(g, P_REPORTS, make_report(g, now_s()), 0);
        }
    }
    long ok = g->st.status[K_REPORT][201];
    printf("intake: conns=%d duration_s=%.3f ok_in_window=%ld rps=%.1f sent=%ld ok=%ld err=%ld", g->cfg.conns,
           g->cfg.duration, g->st.ok_in_window, (double)g->st.ok_in_window / g->cfg.duration, g->st.reports_sent, ok,
           g->st.reports_sent - ok);
    report_lat("lat", &g->st.lat[K_REPORT]);
    printf("\n");
    print_statuses(g);
}

static void run_sustain(lg *g)
{
    cfg *c = &g->cfg;
    long planned = (long)llround(c->rate * c->duration), polls = 0;
    double t0 = now_s(), t_reports_end = t0 + c->duration, poll_gap = c->poll_s / c->njurors;
    double t_stop = t_reports_end + c->drain, t_done;
    int quiet = 0;

    for (;;) {
        double t = now_s();
        while (g->st.reports_sent < planned && t0 + (double)g->st.reports_sent / c->rate <= t) {
            double due = t0 + (double)g->st.reports_sent / c->rate;
            g->st.reports_sent++;
            enqueue(g, P_REPORTS, make_report(g, due), 0);
        }
        while (t0 + (double)polls * poll_gap <= t) {
            int j = (int)(polls % c->njurors);
            if (!g->jurors[j].polling) {
                g->jurors[j].polling = 1;
                enqueue(g, P_JURORS, make_poll(g, j, t0 + (double)polls * poll_gap), 0);
            }
            polls++;
        }
        /* After the reports: done once every case this run opened has its
         * deciding votes accepted and no vote is pending. */
        if (t > t_reports_end && g->st.reports_sent == planned && g->report_inflight == 0 &&
            g->votes_pending == 0 && g->cases.done >= g->cases.n)
            quiet = 1;
        if (quiet || t > t_stop || interrupted) {
            t_done = t;
            break;
        }
        double next = t0 + (double)polls * poll_gap;
        if (g->st.reports_sent < planned) {
            double nr = t0 + (double)g->st.reports_sent / c->rate;
            if (nr < next)
                next = nr;
        }
        int ms = (int)ceil((next - now_s()) * 1000.0);
        run_events(g, ms < 0 ? 0 : ms > 20 ? 20 : ms);
    }
    /* Let what is in flight finish (bounded). */
    double t_wait = now_s() + 15;
    while (g->inflight > 0 && now_s() < t_wait)
        run_events(g, 10);
    long ok = g->st.status[K_REPORT][201];
    printf("sustain: rate=%.1f duration_s=%.1f planned=%ld sent=%ld ok=%ld err=%ld sched_late_max_ms=%.1f",
           c->rate, c->duration, planned, g->st.reports_sent, ok, g->st.reports_sent - ok,
           g->st.sched_late_max * 1000.0);
    report_lat("lat", &g->st.lat[K_REPORT]);
    printf("\n");
    long votes_ok = g->st.status[K_VOTE][201], votes_409 = g->st.status[K_VOTE][409];
    printf("jurors: n=%d poll_s=%.2f polls=%ld open_seen=%ld votes=%ld votes_ok=%ld votes_conflict=%ld "
           "votes_err=%ld cases=%zu cases_voted=%zu drain_s=%.1f all_voted=%d",
           c->njurors, c->poll_s, g->st.status[K_POLL][200], g->st.open_seen, g->st.votes_queued, votes_ok,
           votes_409, g->st.votes_queued - votes_ok - votes_409, g->cases.n, g->cases.done, t_done - t_reports_end,
           quiet);
    report_lat("poll", &g->st.lat[K_POLL]);
    report_lat("vote", &g->st.lat[K_VOTE]);
    printf("\n");
    print_statuses(g);
}

/* ---- topic cleanup ------------------------------------------------------ */

static int delete_topics(const char *brokers, const char *prefix)
{
    char errstr[512];
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_DeleteTopic_t **del = NULL;
    rd_kafka_queue_t *q = NULL;
    rd_kafka_event_t *ev = NULL;
    size_t n = 0;
    int rc = 1;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk;

    if (strncmp(prefix, "bench", 5) != 0 || strlen(prefix) < 8)
        die("deltopics: refusing prefix '%s' (must start with bench and name one run)", prefix);
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
        die("deltopics: %s", errstr);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk)
        die("deltopics: %s", errstr);
    if (rd_kafka_metadata(rk, 1, NULL, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "loadgen: deltopics: cannot read metadata\n");
        goto cleanup;
    }
    del = calloc((size_t)md->topic_cnt + 1, sizeof *del);
    if (!del)
        die("out of memory");
    for (int i = 0; i < md->topic_cnt; i++)
        if (strncmp(md->topics[i].topic, prefix, strlen(prefix)) == 0)
            del[n++] = rd_kafka_DeleteTopic_new(md->topics[i].topic);
    if (n > 0) {
        q = rd_kafka_queue_new(rk);
        rd_kafka_DeleteTopics(rk, del, n, NULL, q);
        ev = rd_kafka_queue_poll(q, 30000);
        if (!ev || rd_kafka_event_error(ev)) {
            fprintf(stderr, "loadgen: deltopics: %s\n", ev ? rd_kafka_event_error_string(ev) : "timed out");
            goto cleanup;
        }
    }
    printf("deltopics: prefix=%s deleted=%zu\n", prefix, n);
    rc = 0;
cleanup:
    if (ev)
        rd_kafka_event_destroy(ev);
    if (q)
        rd_kafka_queue_destroy(q);
    if (del) {
        rd_kafka_DeleteTopic_destroy_array(del, n);
        free(del);
    }
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    return rc;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: loadgen intake  --port P --key KEY --conns C --duration S --tag T [--type comment]\n"
            "       loadgen sustain --port P --key KEY --rate R --duration S --tag T --jurors N\n"
            "                       --juror-prefix PFX --secret JWT_SECRET [--poll-ms MS] [--drain S]\n"
            "                       [--report-conns K] [--juror-conns K] [--type comment] [--votes-to-decide 3]\n"
            "       loadgen deltopics --brokers HOST:PORT --prefix PFX\n");
    exit(2);
}

static void parse_args(cfg *c, int argc, char **argv)
{
    if (argc < 2)
        usage();
    memset(c, 0, sizeof *c);
    c->mode = argv[1];
    c->type = "comment";
    c->conns = 8;
    c->poll_s = 2.0;
    c->drain = 30;
    c->report_conns = 64;
    c->juror_conns = 16;
    c->votes_to_decide = 3;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            usage();
        i++;
        if (!strcmp(a, "--port")) c->port = atoi(v);
        else if (!strcmp(a, "--key")) c->key = v;
        else if (!strcmp(a, "--tag")) c->tag = v;
        else if (!strcmp(a, "--type")) c->type = v;
        else if (!strcmp(a, "--conns")) c->conns = atoi(v);
        else if (!strcmp(a, "--duration")) c->duration = atof(v);
        else if (!strcmp(a, "--rate")) c->rate = atof(v);
        else if (!strcmp(a, "--jurors")) c->njurors = atoi(v);
        else if (!strcmp(a, "--juror-prefix")) c->juror_prefix = v;
        else if (!strcmp(a, "--secret")) c->secret = v;
        else if (!strcmp(a, "--poll-ms")) c->poll_s = atof(v) / 1000.0;
        else if (!strcmp(a, "--drain")) c->drain = atof(v);
        else if (!strcmp(a, "--report-conns")) c->report_conns = atoi(v);
        else if (!strcmp(a, "--juror-conns")) c->juror_conns = atoi(v);
        else if (!strcmp(a, "--votes-to-decide")) c->votes_to_decide = atoi(v);
        else usage();
    }
    if (c->port <= 0 || c->port > 65535 || !c->key || !c->tag || c->duration <= 0 || c->duration > 600)
        usage();
    if (!strcmp(c->mode, "intake")) {
        if (c->conns < 1 || c->conns > MAX_CONNS)
            usage();
    } else if (!strcmp(c->mode, "sustain")) {
        if (c->rate <= 0 || c->rate > 10000 || c->njurors < 1 || c->njurors > MAX_JURORS || !c->juror_prefix ||
            !c->secret || c->poll_s < 0.05 || c->poll_s > 60 || c->drain < 0 || c->drain > 600 ||
            c->report_conns < 1 || c->report_conns > MAX_CONNS || c->juror_conns < 1 || c->juror_conns > MAX_CONNS ||
            c->votes_to_decide < 1 || c->votes_to_decide > 101)
            usage();
    } else {
        usage();
    }
}

int main(int argc, char **argv)
{
    static lg g; /* large (connection tables): not on the stack */
    if (argc == 6 && !strcmp(argv[1], "deltopics") && !strcmp(argv[2], "--brokers") && !strcmp(argv[4], "--prefix"))
        return delete_topics(argv[3], argv[5]);
    parse_args(&g.cfg, argc, argv);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    setvbuf(stdout, NULL, _IOLBF, 0);

    g.addr.sin_family = AF_INET;
    g.addr.sin_port = htons((uint16_t)g.cfg.port);
    g.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if ((g.ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
        die("epoll_create1: %s", strerror(errno));
    for (int p = 0; p < P_COUNT; p++)
        for (int i = 0; i < MAX_CONNS; i++)
            g.pools[p].conns[i].fd = -1, g.pools[p].conns[i].pool = p;
    g.pools[P_REPORTS].max = !strcmp(g.cfg.mode, "intake") ? g.cfg.conns : g.cfg.report_conns;
    g.pools[P_JURORS].max = g.cfg.juror_conns;

    if (!strcmp(g.cfg.mode, "sustain")) {
        g.jurors = calloc((size_t)g.cfg.njurors, sizeof *g.jurors);
        if (!g.jurors)
            die("out of memory");
        for (int j = 0; j < g.cfg.njurors; j++) {
            char sub[160];
            snprintf(sub, sizeof sub, "%s%04d", g.cfg.juror_prefix, j);
            /* Valid for the whole run and its drain, with margin. */
            char *tok = sg_auth_make_jwt(g.cfg.secret, sub, "user", 7200);
            if (!tok || asprintf(&g.jurors[j].auth, "Authorization: Bearer %s\r\n", tok) < 0)
                die("cannot make a JWT for %s", sub);
            free(tok);
        }
        run_sustain(&g);
    } else {
        run_intake(&g);
    }
    return 0;
}
