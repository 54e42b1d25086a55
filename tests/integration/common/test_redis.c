/* Redis client against the devstack, including a Redis stop/start, and the
 * service skeleton's /readyz across that stop. Needs SG_REDIS_URL (and for
 * the app test SG_PG_DSN, SG_KAFKA_BROKERS) from scripts/devstack env. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <signal.h>
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

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int devstack(const char *args)
{
    static const char *const cands[] = {"scripts/devstack", "../scripts/devstack", "../../scripts/devstack"};
    for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++) {
        if (access(cands[i], X_OK) == 0) {
            char cmd[512];
            snprintf(cmd, sizeof cmd, "%s %s >/dev/null 2>&1", cands[i], args);
            return system(cmd);
        }
    }
    cr_assert_fail("scripts/devstack not found");
    return -1;
}

static const char *redis_url(void)
{
    const char *u = getenv("SG_REDIS_URL");
    cr_assert_not_null(u, "SG_REDIS_URL unset: eval \"$(scripts/devstack env)\"");
    return u;
}

/* Leaves Redis running whatever a test did. */
static void ensure_redis_up(void)
{
    char err[256];
    sg_redis *r = sg_redis_create(redis_url(), 500, 1, err, sizeof err);
    if (r && sg_redis_ping(r) != 0)
        devstack("start redis");
    sg_redis_free(r);
}

static void setup(void)
{
    sg_log_init("it_redis", SG_LOG_ERROR);
}

TestSuite(redis, .init = setup, .fini = ensure_redis_up, .timeout = 900);

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
}

Test(redis, commands_and_lazy_connect)
{
    char err[256], key[64];
    sg_redis *r = sg_redis_create(redis_url(), 500, 2, err, sizeof err);
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
}

Test(redis, stop_fails_fast_and_start_reconnects)
{
    char err[256];
    sg_redis *r = sg_redis_create(redis_url(), 500, 4, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    cr_assert_eq(sg_redis_ping(r), 0);
    long gen = sg_redis_generation(r);

    cr_assert_eq(devstack("stop redis"), 0);
    for (int i = 0; i < 5; i++) {
        long long t0 = now_ms();
        cr_expect_neq(sg_redis_ping(r), 0, "ping succeeded with Redis stopped");
        long long took = now_ms() - t0;
        /* At most one connect attempt plus one command, each bounded. */
        cr_expect_lt(took, 1200, "ping took %lld ms", took);
    }

    cr_assert_eq(devstack("start redis"), 0);
    int ok = -1;
    for (int i = 0; i < 100 && ok != 0; i++) {
        ok = sg_redis_ping(r);
        if (ok != 0)
            usleep(100000);
    }
    cr_expect_eq(ok, 0, "no PONG after Redis came back");
    cr_expect_gt(sg_redis_generation(r), gen);
    sg_redis_free(r);
}

/* ---- the service skeleton's readiness across a Redis stop ---------------- */

/* Present in sanitizer builds only. */
extern void __lsan_do_leak_check(void) __attribute__((weak));

static int ticks;

static int tick(void *ctx)
{
    (void)ctx;
    ticks++;
    return 0;
}

static void *dummy_init(sg_app *app, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    return app; /* any non-NULL context */
}

static void dummy_fini(void *svc)
{
    (void)svc;
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
    char req[256], buf[16384];
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

static int wait_status(int port, int want, char *body, size_t len, int timeout_ms)
{
    long long end = now_ms() + timeout_ms;
    int st = -1;
    while (now_ms() < end) {
        st = http_get(port, "/readyz", body, len);
        if (st == want)
            break;
        usleep(200000);
    }
    return st;
}

Test(redis, readyz_follows_redis)
{
    char dir[] = "/tmp/sg_it_app_XXXXXX";
    char schema[40], prefix[40], port_s[16], body[16384];
    cr_assert_not_null(getenv("SG_PG_DSN"));
    cr_assert_not_null(getenv("SG_KAFKA_BROKERS"));
    redis_url();
    cr_assert_not_null(mkdtemp(dir));
    srand((unsigned)(getpid() ^ time(NULL)));
    snprintf(schema, sizeof schema, "it_app_%08x", (unsigned)rand());
    snprintf(prefix, sizeof prefix, "it%08x.", (unsigned)rand());
    int port = 20000 + rand() % 20000;
    snprintf(port_s, sizeof port_s, "%d", port);

    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        static const sg_app_worker workers[] = {{"tick", 50, tick}};
        static const sg_app_consumer consumers[] = {{"itapp", "sg.it.nothing", NULL}};
        sg_app_spec spec = {
            .service = "itapp",
            .default_port = port,
            .workers = workers,
            .nworkers = 1,
            .consumers = consumers,
            .nconsumers = 1,
            .init = dummy_init,
            .fini = dummy_fini,
        };
        setenv("SG_PG_SCHEMA", schema, 1);
        setenv("SG_TOPIC_PREFIX", prefix, 1);
        setenv("SG_MIGRATIONS_DIR", dir, 1);
        setenv("SG_HTTP_PORT", port_s, 1);
        setenv("SG_JWT_SECRET", "it-secret-0123456789abcdef", 1);
        setenv("SG_LOG_LEVEL", "error", 1);
        int rc = sg_app_main(&spec);
        /* _exit skips LeakSanitizer's exit hook: check here (sanitizer
         * builds), so that a leak in shutdown fails the exit status. */
        if (__lsan_do_leak_check)
            __lsan_do_leak_check();
        _exit(rc);
    }

    int st = wait_status(port, 200, body, sizeof body, 90000);
    cr_expect_eq(st, 200, "never ready: %d %s", st, body);
    if (st == 200) {
        cr_assert_eq(devstack("stop redis"), 0);
        st = wait_status(port, 503, body, sizeof body, 20000);
        cr_expect_eq(st, 503, "still %d with Redis stopped", st);
        cr_expect(strstr(body, "redis") != NULL, "body does not name redis: %s", body);
        cr_expect(strstr(body, "postgres") == NULL && strstr(body, "kafka") == NULL, "%s", body);
        cr_assert_eq(devstack("start redis"), 0);
        st = wait_status(port, 200, body, sizeof body, 30000);
        cr_expect_eq(st, 200, "not ready again after Redis start: %d %s", st, body);
        cr_expect_eq(http_get(port, "/metrics", body, sizeof body), 200);
        cr_expect(strstr(body, "sg_outbox_backlog ") != NULL, "metrics: %s", body);
        cr_expect(strstr(body, "sg_outbox_published_total ") != NULL);
        cr_expect(strstr(body, "sg_consumer_last_processed_seconds{topic=\"sg.it.nothing\"}") != NULL);
    }

    kill(pid, SIGTERM);
    int status = 0;
    long long end = now_ms() + 60000;
    pid_t w = 0;
    while (now_ms() < end && (w = waitpid(pid, &status, WNOHANG)) == 0)
        usleep(100000);
    if (w == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        cr_expect_fail("service did not stop within 60 s of SIGTERM");
    } else {
        cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d", status);
    }

    /* Drop what the service created. */
    char err[256], sql[128];
    sg_pg_pool *p = sg_pg_pool_create(getenv("SG_PG_DSN"), "public", 1, err, sizeof err);
    sg_pg *c = sg_pg_acquire(p, 5000);
    cr_assert_not_null(c);
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS \"%s\" CASCADE", schema);
    cr_expect_eq(sg_pg_exec(c, sql, 0, NULL), SG_OK);
    sg_pg_release(p, c);
    sg_pg_pool_free(p);
    rmdir(dir);
}
