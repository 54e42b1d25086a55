/* Issue 12: an outbox relay leader whose PostgreSQL connection goes
 * half-open is replaced within 30 s, and nothing is lost.
 *
 * Relay A (the leader) reaches PostgreSQL through a TCP proxy in this
 * process; relay B connects directly. Freezing the proxy stops forwarding
 * in both directions without closing a socket: the kernel still ACKs, so
 * neither side's TCP keepalives or user timeout ever fire: only the relay's
 * own answer timeout (A gives up) and B ending the silent leader's session
 * can help. Needs SG_PG_DSN and SG_KAFKA_BROKERS (key=value DSN with
 * host/port, as scripts/devstack env prints). */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sg/clock.h"
#include "sg/kafka.h"
#include "sg/log.h"
#include "sg/outbox.h"
#include "sg/pg.h"

#include "it_util.h"

#define TOPIC "it.takeover"
#define KEYS 4
#define BEFORE 20
#define AFTER 40
#define TAKEOVER_MAX_MS 30000

static sg_pg_pool *pool;
static const char *dsn, *brokers;
static char schema[40], prefix[40];

/* ---- a freezable TCP proxy ------------------------------------------------------- */

#define MAX_PAIRS 64

static struct proxy {
    int listen_fd;
    int port;
    int upstream_port;
    char upstream_host[64];
    atomic_int frozen;
    atomic_int stop;
    pthread_t thread;
    pthread_mutex_t mu;
    int fds[MAX_PAIRS][2];
    pthread_t pumps[MAX_PAIRS];
    int npairs;
} px;

static void *pump(void *arg)
{
    int *fd = arg; /* fd[0] client side, fd[1] server side */
    char buf[16384];
    while (!atomic_load(&px.stop)) {
        if (atomic_load(&px.frozen)) {
            /* Frozen: read nothing, write nothing, close nothing. */
            usleep(20000);
            continue;
        }
        struct pollfd p[2] = {{.fd = fd[0], .events = POLLIN}, {.fd = fd[1], .events = POLLIN}};
        if (poll(p, 2, 50) <= 0)
            continue;
        for (int i = 0; i < 2; i++) {
            if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (atomic_load(&px.frozen))
                break;
            ssize_t n = read(fd[i], buf, sizeof buf);
            if (n <= 0) {
                shutdown(fd[1 - i], SHUT_WR);
                return NULL;
            }
            for (ssize_t off = 0; off < n;) {
                ssize_t w = write(fd[1 - i], buf + off, (size_t)(n - off));
                if (w <= 0)
                    return NULL;
                off += w;
            }
        }
    }
    return NULL;
}

static void *acceptor(void *arg)
{
    (void)arg;
    while (!atomic_load(&px.stop)) {
        struct pollfd p = {.fd = px.listen_fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        int c = accept(px.listen_fd, NULL, NULL);
        if (c < 0)
            continue;
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)px.upstream_port)};
        inet_pton(AF_INET, px.upstream_host, &a.sin_addr);
        pthread_mutex_lock(&px.mu);
        if (px.npairs == MAX_PAIRS || connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
            pthread_mutex_unlock(&px.mu);
            close(c);
            close(s);
            continue;
        }
        int i = px.npairs++;
        px.fds[i][0] = c;
        px.fds[i][1] = s;
        pthread_create(&px.pumps[i], NULL, pump, px.fds[i]);
        pthread_mutex_unlock(&px.mu);
    }
    return NULL;
}

static void proxy_start(const char *host, int port)
{
    memset(&px, 0, sizeof px);
    pthread_mutex_init(&px.mu, NULL);
    snprintf(px.upstream_host, sizeof px.upstream_host, "%s", host);
    px.upstream_port = port;
    px.listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    cr_assert_eq(bind(px.listen_fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(px.listen_fd, 16), 0);
    socklen_t len = sizeof a;
    getsockname(px.listen_fd, (struct sockaddr *)&a, &len);
    px.port = ntohs(a.sin_port);
    cr_assert_eq(pthread_create(&px.thread, NULL, acceptor, NULL), 0);
}

static void proxy_stop(void)
{
    atomic_store(&px.stop, 1);
    pthread_join(px.thread, NULL);
    for (int i = 0; i < px.npairs; i++) {
        pthread_join(px.pumps[i], NULL);
        close(px.fds[i][0]);
        close(px.fds[i][1]);
    }
    close(px.listen_fd);
    pthread_mutex_destroy(&px.mu);
}

/* ---- fixture --------------------------------------------------------------------- */

static void setup(void)
{
    unsigned r;
    brokers = it_brokers();
    dsn = getenv("SG_PG_DSN");
    sg_log_init("it_takeover", getenv("IT_LOG_LEVEL") ? SG_LOG_INFO : SG_LOG_ERROR);
    pool = it_schema_pool("it_takeover", 4, 1, schema, &r);
    snprintf(prefix, sizeof prefix, "itt%08x.", r);
}

static void teardown(void)
{
    it_schema_drop(pool, schema);
}

TestSuite(takeover, .init = setup, .fini = teardown, .timeout = 240);

typedef struct write_ctx {
    int first, count;
} write_ctx;

static int write_events(sg_pg *c, void *arg)
{
    write_ctx *w = arg;
    for (int i = w->first; i < w->first + w->count; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i % KEYS);
        json_t *p = json_pack("{s:s, s:i, s:i}", "key", key, "seq", i / KEYS, "n", i);
        int rc = sg_outbox_add(c, TOPIC, key, "it.takeover", p, NULL);
        json_decref(p);
        if (rc != SG_OK)
            return rc;
    }
    return SG_OK;
}

static void write_range(int first, int count)
{
    write_ctx w = {first, count};
    cr_assert_eq(sg_pg_tx(pool, SG_TX_READ_COMMITTED, write_events, &w), SG_OK);
}

typedef struct seen {
    pthread_mutex_t mu;
    int n[1024]; /* event number per message received */
    int count;
} seen;

static int collect(const sg_kafka_msg *m, void *arg)
{
    seen *s = arg;
    json_t *v = json_loadb(m->value, m->len, 0, NULL);
    int n = v ? (int)json_integer_value(json_object_get(v, "n")) : -1;
    json_decref(v);
    pthread_mutex_lock(&s->mu);
    if (s->count < 1024)
        s->n[s->count++] = n;
    pthread_mutex_unlock(&s->mu);
    return 0;
}

static int wait_until(int (*cond)(void *), void *arg, long long ms)
{
    long long end = sg_clock_mono_ms() + ms;
    while (sg_clock_mono_ms() < end) {
        if (cond(arg))
            return 1;
        usleep(50000);
    }
    return cond(arg);
}

static int is_leader(void *r)
{
    return sg_outbox_relay_is_leader(r);
}

static int all_published(void *arg)
{
    (void)arg;
    return it_scalar(pool, "SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0;
}

Test(takeover, frozen_leader_is_replaced_within_30s_and_nothing_is_lost)
{
    char err[512], host[64] = "127.0.0.1";
    int port = 5432;
    PQconninfoOption *opts = PQconninfoParse(dsn, NULL);
    cr_assert_not_null(opts, "SG_PG_DSN does not parse");
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (strcmp(o->keyword, "host") == 0 && o->val)
            snprintf(host, sizeof host, "%s", o->val);
        if (strcmp(o->keyword, "port") == 0 && o->val)
            port = atoi(o->val);
    }
    PQconninfoFree(opts);
    proxy_start(host, port);
    char *via_proxy = NULL;
    cr_assert(asprintf(&via_proxy, "%s host=127.0.0.1 port=%d", dsn, px.port) > 0);

    /* A leads (through the proxy); B waits. */
    sg_outbox_relay *a = sg_outbox_relay_start(via_proxy, schema, brokers, prefix, err, sizeof err);
    cr_assert_not_null(a, "%s", err);
    cr_assert(wait_until(is_leader, a, 10000), "relay A did not become leader");
    sg_outbox_relay *b = sg_outbox_relay_start(dsn, schema, brokers, prefix, err, sizeof err);
    cr_assert_not_null(b, "%s", err);
    write_range(0, BEFORE);
    cr_assert(wait_until(all_published, NULL, 30000), "A did not publish");
    cr_expect_eq(sg_outbox_relay_published(a), BEFORE);
    cr_expect_not(sg_outbox_relay_is_leader(b), "two leaders");

    /* Freeze A's database connection; events keep coming. */
    atomic_store(&px.frozen, 1);
    long long t0 = sg_clock_mono_ms();
    write_range(BEFORE, AFTER);
    /* Watch both: when B leads, when the backlog is out, when A gives up. */
    long long t_lead = -1, t_pub = -1, t_gaveup = -1;
    while (sg_clock_mono_ms() - t0 < TAKEOVER_MAX_MS + 5000 && (t_lead < 0 || t_pub < 0 || t_gaveup < 0)) {
        long long t = sg_clock_mono_ms() - t0;
        if (t_lead < 0 && sg_outbox_relay_is_leader(b))
            t_lead = t;
        if (t_gaveup < 0 && !sg_outbox_relay_is_leader(a))
            t_gaveup = t;
        if (t_lead >= 0 && t_pub < 0 && all_published(NULL))
            t_pub = sg_clock_mono_ms() - t0;
        usleep(50000);
    }
    fprintf(stderr, "takeover: A gave up after %lld ms, B leader after %lld ms, backlog published after %lld ms\n",
            t_gaveup, t_lead, t_pub);
    cr_assert_geq(t_lead, 0, "B did not take over");
    cr_assert_geq(t_pub, 0, "B did not publish the backlog");
    cr_expect_geq(t_gaveup, 0, "A still believes it leads");
    cr_expect_lt(t_gaveup, TAKEOVER_MAX_MS);
    cr_expect_geq(sg_outbox_relay_published(b), AFTER);
    cr_expect_lt(t_pub, TAKEOVER_MAX_MS);

    /* Nothing lost, per-key order kept (first occurrences). */
    seen s = {.count = 0};
    pthread_mutex_init(&s.mu, NULL);
    char topic[128], group[96];
    sg_topic(topic, sizeof topic, prefix, TOPIC);
    snprintf(group, sizeof group, "%sgroup", prefix);
    const char *topics[] = {topic};
    sg_consumer *cons = sg_consumer_start(brokers, group, topics, 1, collect, &s, err, sizeof err);
    cr_assert_not_null(cons, "%s", err);
    int firsts[BEFORE + AFTER], nf = 0;
    long long end = sg_clock_mono_ms() + 60000;
    while (sg_clock_mono_ms() < end) {
        pthread_mutex_lock(&s.mu);
        nf = 0;
        static char got[BEFORE + AFTER];
        memset(got, 0, sizeof got);
        for (int i = 0; i < s.count; i++) {
            int n = s.n[i];
            if (n >= 0 && n < BEFORE + AFTER && !got[n]) {
                got[n] = 1;
                firsts[nf++] = n;
            }
        }
        pthread_mutex_unlock(&s.mu);
        if (nf == BEFORE + AFTER)
            break;
        usleep(100000);
    }
    sg_consumer_stop(cons);
    cr_expect_eq(nf, BEFORE + AFTER, "distinct events received: %d", nf);
    int last[KEYS];
    for (int k = 0; k < KEYS; k++)
        last[k] = -1;
    for (int i = 0; i < nf; i++) {
        int k = firsts[i] % KEYS;
        cr_expect_gt(firsts[i], last[k], "key k%d: event %d after %d", k, firsts[i], last[k]);
        last[k] = firsts[i];
    }
    pthread_mutex_destroy(&s.mu);

    sg_outbox_relay_stop(b);
    sg_outbox_relay_stop(a); /* its frozen connection is abandoned, not waited for */
    proxy_stop();
    free(via_proxy);
}
