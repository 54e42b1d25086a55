/* Redis client against Redis servers of its own (started here, with
 * requirepass and an ACL user, so the shared devstack's Redis is never
 * stopped), and the service skeleton's /readyz and /metrics: ready while
 * Redis is down or refuses the password, metrics served while the request
 * pool is exhausted. Needs SG_PG_DSN and SG_KAFKA_BROKERS from
 * scripts/devstack env. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sg/app.h"
#include "sg/log.h"
#include "sg/pg.h"
#include "sg/redis.h"

#include "it_util.h"

/* The password has URL-reserved characters: in URLs it is percent-encoded. */
#define PASSWORD "it-p@ss:w/rd"
#define PASSWORD_URL "it-p%40ss%3Aw%2Frd"

/* ---- a Redis server of the test's own ---------------------------------------- */

typedef struct own_redis {
    char dir[64];
    int port;
    pid_t pid;
} own_redis;

/* A port below the ephemeral range (32768 and up on Linux), free now: the
 * server keeps it across restarts, and a client connection of the suite's
 * own cannot have taken it meanwhile (a random port in 30000..49999 was
 * taken once in a fresh container: "did not answer"). */
static int free_low_port(void)
{
    unsigned seed = (unsigned)getpid() * 7u + (unsigned)time(NULL);
    for (int attempt = 0; attempt < 200; attempt++) {
        int port = 20000 + (int)((seed + (unsigned)attempt * 7919u) % 12000u);
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
        int ok = s >= 0 && bind(s, (struct sockaddr *)&a, sizeof a) == 0;
        if (s >= 0)
            close(s);
        if (ok)
            return port;
    }
    cr_assert_fail("no free port in 20000..31999");
    return -1;
}

static void own_redis_start(own_redis *r)
{
    char conf[128];
    if (!r->dir[0]) {
        snprintf(r->dir, sizeof r->dir, "/tmp/sg_it_redis_XXXXXX");
        cr_assert_not_null(mkdtemp(r->dir));
        r->port = free_low_port();
    }
    snprintf(conf, sizeof conf, "%s/redis.conf", r->dir);
    FILE *f = fopen(conf, "w");
    cr_assert_not_null(f);
    fprintf(f, "bind 127.0.0.1\nport %d\ndir %s\nsave \"\"\nappendonly no\n"
               "requirepass \"%s\"\nuser alice on >alice-pw ~* &* +@all\n",
            r->port, r->dir, PASSWORD);
    fclose(f);
    r->pid = fork();
    cr_assert_neq(r->pid, -1);
    if (r->pid == 0) {
        if (!freopen("/dev/null", "w", stdout))
            _exit(126);
        execlp("redis-server", "redis-server", conf, (char *)NULL);
        _exit(127);
    }
    char url[160], err[256];
    snprintf(url, sizeof url, "redis://:%s@127.0.0.1:%d", PASSWORD_URL, r->port);
    sg_redis *c = sg_redis_create(url, 500, 1, err, sizeof err);
    cr_assert_not_null(c, "%s", err);
    int ok = -1;
    for (int i = 0; i < 200 && ok != 0; i++)
        if ((ok = sg_redis_ping(c)) != 0)
            usleep(50000);
    sg_redis_free(c);
    cr_assert_eq(ok, 0, "own redis-server on %d did not answer in 10 s", r->port);
}

static void own_redis_stop(own_redis *r)
{
    if (r->pid > 0) {
        kill(r->pid, SIGTERM);
        waitpid(r->pid, NULL, 0);
        r->pid = 0;
    }
}

static void own_redis_remove(own_redis *r)
{
    char cmd[128];
    own_redis_stop(r);
    if (r->dir[0]) {
        snprintf(cmd, sizeof cmd, "rm -rf %s", r->dir);
        cr_expect_eq(system(cmd), 0);
    }
}

static void setup(void)
{
    sg_log_init("it_redis", SG_LOG_ERROR);
}

TestSuite(redis, .init = setup, .timeout = 900);

Test(redis, bad_urls_are_refused)
{
    const char *bad[] = {NULL, "", "http://x:1", "redis://", "redis://:6379", "redis://h:0", "redis://h:70000",
                         "redis://h:1/x", "redis://h:1/2/3", "redis://u@h:1", "redis://h:1x"};
    char err[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sg_redis *r = sg_redis_create(bad[i], 500, 2, err, sizeof err);
        cr_expect_null(r, "accepted %s", bad[i] ? bad[i] : "NULL");
        sg_redis_free(r);
    }
    sg_redis *r = sg_redis_create("redis://localhost", 500, 2, err, sizeof err);
    cr_expect_not_null(r, "%s", err);
    sg_redis_free(r);
    const char *good[] = {"redis://:pw@h:1/2", "redis://alice:pw@h", "redis://u:p%40ss@h:1", "redis://u:p@ss@h:1"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        r = sg_redis_create(good[i], 500, 2, err, sizeof err);
        cr_expect_not_null(r, "%s: %s", good[i], err);
        sg_redis_free(r);
    }
    /* A refused URL's message never shows the password. */
    const char *secret[] = {"redis://:hunter2@h:1x", "redis://u:hunter2@:1", "redis://u:hunter2%zz@h:1",
                            "redis://u:@h:1"};
    for (size_t i = 0; i < sizeof secret / sizeof secret[0]; i++) {
        r = sg_redis_create(secret[i], 500, 2, err, sizeof err);
        cr_expect_null(r, "accepted %s", secret[i]);
        cr_expect_null(strstr(err, "hunter2"), "%s", err);
        sg_redis_free(r);
    }
    char shown[128];
    sg_redis_redact_url("redis://alice:hunter2@h:1/0", shown, sizeof shown);
    cr_expect_str_eq(shown, "redis://***@h:1/0");
    sg_redis_redact_url("redis://h:1/0", shown, sizeof shown);
    cr_expect_str_eq(shown, "redis://h:1/0");
}

/* AUTH with the default user's password or an ACL user's; a wrong or
 * missing password is "unavailable" (NULL), never a crash or a hang. */
Test(redis, auth_password_and_acl_user)
{
    own_redis own = {0};
    own_redis_start(&own);
    char err[256], url[160];
    struct {
        const char *userinfo;
        int ok;
    } cases[] = {{":" PASSWORD_URL "@", 1}, {"alice:alice-pw@", 1}, {"default:" PASSWORD_URL "@", 1},
                 {":wrong@", 0}, {"alice:" PASSWORD_URL "@", 0}, {"", 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(url, sizeof url, "redis://%s127.0.0.1:%d/1", cases[i].userinfo, own.port);
        sg_redis *r = sg_redis_create(url, 500, 2, err, sizeof err);
        cr_assert_not_null(r, "%s", err);
        int ping = sg_redis_ping(r);
        cr_expect_eq(ping == 0, cases[i].ok, "%s: ping %d", cases[i].userinfo, ping);
        if (cases[i].ok) {
            redisReply *rep = sg_redis_cmd(r, "SET it:auth:%d v", (int)getpid());
            cr_expect_not_null(rep);
            if (rep)
                freeReplyObject(rep);
        }
        sg_redis_free(r);
    }
    own_redis_remove(&own);
}


Test(redis, commands_and_lazy_connect)
{
    char err[256], key[64], url[160];
    own_redis own = {0};
    own_redis_start(&own);
    snprintf(url, sizeof url, "redis://:%s@127.0.0.1:%d", PASSWORD_URL, own.port);
    sg_redis *r = sg_redis_create(url, 500, 2, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    cr_expect_eq(sg_redis_generation(r), 0, "connected before first use");
    cr_assert_eq(sg_redis_ping(r), 0);
    cr_expect_eq(sg_redis_generation(r), 1);

    snprintf(key, sizeof key, "it:redis:%d", (int)getpid());
    const char *argv[] = {"SET", key, "v\0x"};
    size_t lens[] = {3, strlen(key), 3};
    redisReply *rep = sg_redis_cmdargv(r, 3, argv, lens);
    cr_assert_not_null(rep);
    freeReplyObject(rep);
    rep = sg_redis_cmd(r, "GET %s", key);
    cr_assert_not_null(rep);
    cr_assert_eq(rep->type, REDIS_REPLY_STRING);
    cr_expect_eq(rep->len, 3);
    cr_expect_eq(memcmp(rep->str, "v\0x", 3), 0);
    freeReplyObject(rep);
    /* An error reply is NULL but keeps the connection. */
    cr_expect_null(sg_redis_cmd(r, "INCR %s", key));
    rep = sg_redis_cmd(r, "DEL %s", key);
    cr_expect_not_null(rep);
    freeReplyObject(rep);
    cr_expect_eq(sg_redis_generation(r), 1);
    sg_redis_free(r);
    own_redis_remove(&own);
}

Test(redis, stop_fails_fast_and_start_reconnects)
{
    char err[256], url[160];
    own_redis own = {0};
    own_redis_start(&own);
    snprintf(url, sizeof url, "redis://:%s@127.0.0.1:%d", PASSWORD_URL, own.port);
    sg_redis *r = sg_redis_create(url, 500, 4, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    cr_assert_eq(sg_redis_ping(r), 0);
    long gen = sg_redis_generation(r);

    own_redis_stop(&own);
    for (int i = 0; i < 5; i++) {
        long long t0 = it_now_ms();
        cr_expect_neq(sg_redis_ping(r), 0, "ping succeeded with Redis stopped");
        long long took = it_now_ms() - t0;
        /* At most one connect attempt plus one command, each bounded. */
        cr_expect_lt(took, 1200, "ping took %lld ms", took);
    }

    own_redis_start(&own);
    int ok = -1;
    for (int i = 0; i < 100 && ok != 0; i++) {
        ok = sg_redis_ping(r);
        if (ok != 0)
            usleep(100000);
    }
    cr_expect_eq(ok, 0, "no PONG after Redis came back");
    cr_expect_gt(sg_redis_generation(r), gen);
    sg_redis_free(r);
    own_redis_remove(&own);
}

/* GET path; returns the status and copies the body into body. */
static int http_get(int port, const char *path, char *body, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    char req[256], buf[32768];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    size_t got = 0;
    ssize_t k;
    while (got < sizeof buf - 1 && (k = read(fd, buf + got, sizeof buf - 1 - got)) > 0)
        got += (size_t)k;
    buf[got] = '\0';
    close(fd);
    int status = -1;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        return -1;
    const char *b = strstr(buf, "\r\n\r\n");
    snprintf(body, len, "%s", b ? b + 4 : "");
    return status;
}

/* ---- the service skeleton: /readyz and /metrics ------------------------------ */

/* Present in sanitizer builds only. */
extern void __lsan_do_leak_check(void) __attribute__((weak));

static void *dummy_init(sg_app *app, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    return app; /* any non-NULL context: the handlers and collector use the app */
}

static void dummy_fini(void *svc)
{
    (void)svc;
}

/* Holds the request pool's one connection for a while. */
static void h_hold(sg_req *req, void *ctx)
{
    sg_app *app = ctx;
    sg_pg *c = sg_pg_acquire(app->pg, 5000);
    if (!c) {
        sg_reply_problem(req, 503, "Service Unavailable", "no connection");
        return;
    }
    sleep(4);
    sg_pg_release(app->pg, c);
    sg_reply_text(req, 200, "{}");
}

/* A collector like the services': SQL through the request pool. */
static void slow_collect(FILE *out, void *ctx)
{
    sg_app *app = ctx;
    sg_pg *c = sg_pg_acquire(app->pg, 1000);
    fprintf(out, "# TYPE itapp_collected gauge\nitapp_collected %d\n", c != NULL);
    if (c)
        sg_pg_release(app->pg, c);
}

typedef struct app_run {
    char dir[40];
    char schema[40];
    int port;
    pid_t pid;
} app_run;

/* Forks a service skeleton with one SQL collector, the request pool of one
 * connection and a metrics refresh every second, against redis_url. */
static void app_start(app_run *a, const char *redis_url)
{
    char prefix[40], port_s[16];
    cr_assert_not_null(getenv("SG_PG_DSN"), "eval \"$(scripts/devstack env)\"");
    cr_assert_not_null(getenv("SG_KAFKA_BROKERS"));
    snprintf(a->dir, sizeof a->dir, "/tmp/sg_it_app_XXXXXX");
    cr_assert_not_null(mkdtemp(a->dir));
    srand((unsigned)(getpid() ^ time(NULL)));
    snprintf(a->schema, sizeof a->schema, "it_app_%08x", (unsigned)rand());
    snprintf(prefix, sizeof prefix, "it%08x.", (unsigned)rand());
    a->port = 20000 + rand() % 10000;
    snprintf(port_s, sizeof port_s, "%d", a->port);

    a->pid = fork();
    cr_assert_neq(a->pid, -1);
    if (a->pid == 0) {
        static const sg_route routes[] = {{"GET", "/v1/hold", SG_AUTH_PUBLIC, h_hold}};
        static const sg_app_consumer consumers[] = {{"itapp", "sg.it.nothing", NULL, 0}};
        sg_app_spec spec = {
            .service = "itapp",
            .default_port = a->port,
            .routes = routes,
            .nroutes = 1,
            .consumers = consumers,
            .nconsumers = 1,
            .init = dummy_init,
            .fini = dummy_fini,
            .collect = slow_collect,
        };
        setenv("SG_PG_SCHEMA", a->schema, 1);
        setenv("SG_TOPIC_PREFIX", prefix, 1);
        setenv("SG_MIGRATIONS_DIR", a->dir, 1);
        setenv("SG_HTTP_PORT", port_s, 1);
        setenv("SG_REDIS_URL", redis_url, 1);
        setenv("SG_PG_POOL_SIZE", "1", 1);
        setenv("SG_METRICS_REFRESH_S", "1", 1);
        setenv("SG_JWT_SECRET", "it-secret-0123456789abcdef", 1);
        setenv("SG_LOG_LEVEL", "error", 1);
        setenv("SG_SHUTDOWN_DRAIN_S", "0", 1); /* stops stay quick */
        int rc = sg_app_main(&spec);
        /* _exit skips LeakSanitizer's exit hook: check here (sanitizer
         * builds), so that a leak in shutdown fails the exit status. */
        if (__lsan_do_leak_check)
            __lsan_do_leak_check();
        _exit(rc);
    }
}

static void app_stop(app_run *a)
{
    kill(a->pid, SIGTERM);
    int status = 0;
    long long end = it_now_ms() + 60000;
    pid_t w = 0;
    while (it_now_ms() < end && (w = waitpid(a->pid, &status, WNOHANG)) == 0)
        usleep(100000);
    if (w == 0) {
        kill(a->pid, SIGKILL);
        waitpid(a->pid, &status, 0);
        cr_expect_fail("service did not stop within 60 s of SIGTERM");
    } else {
        cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d", status);
    }
    /* Drop what the service created. */
    char err[256], sql[128];
    sg_pg_pool *p = sg_pg_pool_create(getenv("SG_PG_DSN"), "public", 1, err, sizeof err);
    sg_pg *c = sg_pg_acquire(p, 5000);
    cr_assert_not_null(c);
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS \"%s\" CASCADE", a->schema);
    cr_expect_eq(sg_pg_exec(c, sql, 0, NULL), SG_OK);
    sg_pg_release(p, c);
    sg_pg_pool_free(p);
    rmdir(a->dir);
}

/* Polls path until its body contains needle; every answer must have status
 * `status`. Returns 1 when found. */
static int wait_body(int port, const char *path, int status, const char *needle, char *body, size_t len,
                     int timeout_ms)
{
    long long end = it_now_ms() + timeout_ms;
    while (it_now_ms() < end) {
        int st = http_get(port, path, body, len);
        if (st > 0)
            cr_expect_eq(st, status, "%s answered %d: %s", path, st, body);
        if (st == status && strstr(body, needle))
            return 1;
        usleep(200000);
    }
    return 0;
}

typedef struct hold_arg {
    int port;
    atomic_int done;
    int status;
} hold_arg;

static void *hold_main(void *p)
{
    hold_arg *h = p;
    char body[1024];
    h->status = http_get(h->port, "/v1/hold", body, sizeof body);
    atomic_store(&h->done, 1);
    return NULL;
}

/* Ready on PostgreSQL alone: Redis going away leaves /readyz at 200 with
 * "redis": "down"; /metrics is served from the last refresh while the
 * request pool is exhausted. */
Test(redis, readyz_and_metrics_follow_dependencies)
{
    own_redis own = {0};
    app_run a = {0};
    char url[160], body[32768];
    own_redis_start(&own);
    snprintf(url, sizeof url, "redis://:%s@127.0.0.1:%d/0", PASSWORD_URL, own.port);
    app_start(&a, url);

    int st = -1;
    for (long long end = it_now_ms() + 90000; it_now_ms() < end && st != 200; usleep(200000))
        st = http_get(a.port, "/readyz", body, sizeof body);
    cr_expect_eq(st, 200, "never ready: %d %s", st, body);
    if (st == 200) {
        cr_expect(strstr(body, "\"postgres\":\"up\"") && strstr(body, "\"redis\":\"up\""), "%s", body);
        cr_expect(wait_body(a.port, "/readyz", 200, "\"kafka\":\"up\"", body, sizeof body, 30000), "%s", body);
        cr_expect(wait_body(a.port, "/metrics", 200, "itapp_collected 1\n", body, sizeof body, 30000), "%s",
                  body);
        cr_expect(strstr(body, "sg_dependency_up{dependency=\"postgres\"} 1\n"), "%s", body);
        cr_expect(strstr(body, "sg_dependency_up{dependency=\"redis\"} 1\n"), "%s", body);
        cr_expect(strstr(body, "sg_outbox_backlog "), "%s", body);
        cr_expect(strstr(body, "sg_consumer_last_processed_seconds{topic=\"sg.it.nothing\"}"), "%s", body);

        /* The request pool's one connection is held for 4 s: scrapes are
         * answered meanwhile (the refresh thread waits, not the scrape). */
        hold_arg h = {.port = a.port};
        atomic_init(&h.done, 0);
        pthread_t t;
        cr_assert_eq(pthread_create(&t, NULL, hold_main, &h), 0);
        usleep(500000);
        for (int i = 0; i < 3; i++) {
            cr_expect_eq(http_get(a.port, "/metrics", body, sizeof body), 200);
            cr_expect(strstr(body, "sg_dependency_up{dependency=\"postgres\"}"), "%s", body);
            cr_expect(strstr(body, "itapp_collected "), "%s", body);
        }
        cr_expect_eq(atomic_load(&h.done), 0, "the pool was not held while scraping: the test proves nothing");
        st = http_get(a.port, "/readyz", body, sizeof body);
        cr_expect_eq(st, 200, "a busy pool is not a down database: %d %s", st, body);
        pthread_join(t, NULL);
        cr_expect_eq(h.status, 200);

        own_redis_stop(&own);
        cr_expect(wait_body(a.port, "/readyz", 200, "\"redis\":\"down\"", body, sizeof body, 20000),
                  "Redis stopped: %s", body);
        cr_expect(strstr(body, "\"postgres\":\"up\""), "%s", body);
        cr_expect(wait_body(a.port, "/metrics", 200, "sg_dependency_up{dependency=\"redis\"} 0\n", body,
                            sizeof body, 20000), "%s", body);
        own_redis_start(&own);
        cr_expect(wait_body(a.port, "/readyz", 200, "\"redis\":\"up\"", body, sizeof body, 30000),
                  "Redis back: %s", body);
    }
    app_stop(&a);
    own_redis_remove(&own);
}

/* A wrong Redis password: the service starts and serves, /readyz says
 * "redis": "down", and the log never shows the password. */
Test(redis, wrong_password_is_down_not_unready)
{
    own_redis own = {0};
    app_run a = {0};
    char url[160], body[32768];
    own_redis_start(&own);
    snprintf(url, sizeof url, "redis://alice:not-hunter2@127.0.0.1:%d/0", own.port);
    app_start(&a, url);
    int st = -1;
    for (long long end = it_now_ms() + 90000; it_now_ms() < end && st != 200; usleep(200000))
        st = http_get(a.port, "/readyz", body, sizeof body);
    cr_expect_eq(st, 200, "never ready: %d %s", st, body);
    cr_expect(strstr(body, "\"redis\":\"down\"") && strstr(body, "\"postgres\":\"up\""), "%s", body);
    cr_expect_eq(http_get(a.port, "/healthz", body, sizeof body), 200);
    app_stop(&a);
    own_redis_remove(&own);
}
