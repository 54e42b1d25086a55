/* sg_app_start / sg_app_stop: a service brought up and shut down inside
 * the test process, twice, and a start refused on invalid configuration.
 * Needs SG_PG_DSN, SG_KAFKA_BROKERS and SG_REDIS_URL (scripts/devstack env). */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sg/app.h"
#include "sg/clock.h"
#include "sg/log.h"
#include "sg/pg.h"

static atomic_int worker_calls, inits, finis;
static int dummy_svc;
static char schema[40], migrations[64];

static int tick(void *ctx)
{
    cr_assert_eq(ctx, &dummy_svc);
    atomic_fetch_add(&worker_calls, 1);
    return 0;
}

static void *init(sg_app *app, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    cr_assert_not_null(app->pg);
    cr_assert_not_null(app->redis);
    atomic_fetch_add(&inits, 1);
    return &dummy_svc;
}

static void fini(void *svc)
{
    cr_assert_eq(svc, &dummy_svc);
    atomic_fetch_add(&finis, 1);
}

static const sg_app_worker workers[] = {{"it-tick", 50, tick}};
static const sg_app_spec spec = {
    .service = "itapp",
    .default_port = 1,
    .workers = workers,
    .nworkers = 1,
    .init = init,
    .fini = fini,
};

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    cr_assert_eq(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &len);
    close(s);
    return ntohs(a.sin_port);
}

/* Status code of GET path on 127.0.0.1:port, or -1; the response (headers
 * and body, cut at len) in out when out is not NULL. */
static int http_get_body(int port, const char *path, char *out, size_t len);

static int http_get(int port, const char *path)
{
    return http_get_body(port, path, NULL, 0);
}

static int http_get_body(int port, const char *path, char *out, size_t outlen)
{
    static char scratch[512];
    char req[256];
    if (!out || outlen < 16) {
        out = scratch;
        outlen = sizeof scratch;
    }
    out[0] = '\0';
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
        close(s);
        return -1;
    }
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
    if (write(s, req, (size_t)n) != n) {
        close(s);
        return -1;
    }
    size_t used = 0;
    ssize_t r;
    while (used + 1 < outlen && (r = read(s, out + used, outlen - 1 - used)) > 0)
        used += (size_t)r;
    out[used] = '\0';
    close(s);
    int code = -1;
    if (used > 12)
        sscanf(out, "HTTP/1.%*d %d", &code);
    return code;
}

static void setup(void)
{
    cr_assert(getenv("SG_PG_DSN") && getenv("SG_KAFKA_BROKERS") && getenv("SG_REDIS_URL"),
              "eval \"$(scripts/devstack env)\" first");
    srand((unsigned)(getpid() ^ time(NULL)));
    unsigned r = (unsigned)rand();
    snprintf(schema, sizeof schema, "it_app_%08x", r);
    snprintf(migrations, sizeof migrations, "/tmp/it_app_%08x", r);
}

static void teardown(void)
{
    char err[256];
    sg_pg_pool *p = sg_pg_pool_create(getenv("SG_PG_DSN"), schema, 1, err, sizeof err);
    if (p) {
        sg_pg *c = sg_pg_acquire(p, 5000);
        if (c) {
            char sql[128];
            snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS \"%s\" CASCADE", schema);
            sg_pg_exec(c, sql, 0, NULL);
            sg_pg_release(p, c);
        }
        sg_pg_pool_free(p);
    }
    rmdir(migrations);
}

TestSuite(app, .init = setup, .fini = teardown, .timeout = 120);

Test(app, start_and_stop_in_process_twice)
{
    char port[16], prefix[48];
    int p = free_port();
    snprintf(port, sizeof port, "%d", p);
    snprintf(prefix, sizeof prefix, "%s.", schema);
    cr_assert_eq(mkdir(migrations, 0700), 0);
    setenv("SG_HTTP_PORT", port, 1);
    setenv("SG_PG_SCHEMA", schema, 1);
    setenv("SG_MIGRATIONS_DIR", migrations, 1);
    setenv("SG_TOPIC_PREFIX", prefix, 1);
    setenv("SG_JWT_SECRET", "it-app-secret-0123456789", 1);
    setenv("SG_LOG_LEVEL", "error", 1);
    setenv("SG_VERSION", "it-1.2.3", 1);

    for (int round = 1; round <= 2; round++) {
        sg_app *app = NULL;
        atomic_store(&worker_calls, 0);
        cr_assert_eq(sg_app_start(&spec, &app), 0, "round %d", round);
        cr_assert_not_null(app);
        cr_expect_str_eq(app->cfg.pg_schema, schema);
        cr_expect_eq(app->cfg.pg_statement_timeout_ms, 10000);
        cr_expect_eq(http_get(p, "/healthz"), 200, "round %d", round);
        static char metrics[65536];
        cr_expect_eq(http_get_body(p, "/metrics", metrics, sizeof metrics), 200);
        cr_expect(strstr(metrics, "\nsg_outbox_dead_total 0\n") != NULL, "no sg_outbox_dead_total in /metrics");
        cr_expect(strstr(metrics, "\nsg_outbox_relay_batches_total ") != NULL, "no sg_outbox_relay_batches_total");
        cr_expect(strstr(metrics, "\nsg_outbox_relay_seconds_total{stage=\"deliver\"} ") != NULL,
                  "no sg_outbox_relay_seconds_total{stage=\"deliver\"} in /metrics");
        cr_expect(strstr(metrics, "\nsg_build_info{service=\"itapp\",version=\"it-1.2.3\"} 1\n") != NULL,
                  "no sg_build_info with SG_VERSION in /metrics");
        cr_expect(strstr(metrics, "\nsg_draining 0\n") != NULL, "no sg_draining 0 in /metrics");
        cr_expect_eq(app->shutdown_drain_s, 5, "SG_SHUTDOWN_DRAIN_S defaults to 5");
        long long end = sg_clock_mono_ms() + 5000;
        while (atomic_load(&worker_calls) < 2 && sg_clock_mono_ms() < end)
            usleep(20000);
        cr_expect_geq(atomic_load(&worker_calls), 2, "the worker runs");
        /* The drain: readiness 503 at once, everything else still served. */
        cr_expect_eq(http_get(p, "/readyz"), 200);
        sg_app_drain(app);
        static char ready[4096];
        cr_expect_eq(http_get_body(p, "/readyz", ready, sizeof ready), 503, "round %d: /readyz while draining", round);
        cr_expect(strstr(ready, "draining") != NULL, "the 503 says draining: %s", ready);
        cr_expect_eq(http_get(p, "/healthz"), 200, "round %d: liveness while draining", round);
        cr_expect_eq(http_get_body(p, "/metrics", metrics, sizeof metrics), 200);
        cr_expect(strstr(metrics, "\nsg_draining 1\n") != NULL, "no sg_draining 1 in /metrics");
        sg_app_stop(app);
        cr_expect_eq(http_get(p, "/healthz"), -1, "round %d: still listening after stop", round);
        int calls = atomic_load(&worker_calls);
        usleep(200000);
        cr_expect_eq(atomic_load(&worker_calls), calls, "the worker still runs after stop");
    }
    cr_expect_eq(atomic_load(&inits), 2);
    cr_expect_eq(atomic_load(&finis), 2);
    sg_app_stop(NULL);
}

Test(app, start_refuses_invalid_configuration)
{
    sg_app *app = (sg_app *)&dummy_svc;
    setenv("SG_JWT_SECRET", "it-app-secret-0123456789", 1);
    setenv("SG_PG_SCHEMA", schema, 1);
    setenv("SG_PG_LOCK_TIMEOUT_MS", "-1", 1);
    cr_expect_eq(sg_app_start(&spec, &app), 2);
    cr_expect_null(app);
    unsetenv("SG_PG_LOCK_TIMEOUT_MS");
    setenv("SG_SHUTDOWN_DRAIN_S", "301", 1);
    cr_expect_eq(sg_app_start(&spec, &app), 2, "SG_SHUTDOWN_DRAIN_S over 300 is refused");
    cr_expect_null(app);
    unsetenv("SG_SHUTDOWN_DRAIN_S");
}
