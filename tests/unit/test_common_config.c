#include <criterion/criterion.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "sg/config.h"
#include "sg/kafka.h"
#include "sg/pg.h"
#include "sg/log.h" /* SG_LOG_* */

/* Criterion runs every test in its own process, so environment changes do
 * not leak between tests. */
static void base_env(void)
{
    static const char *const all[] = {"SG_HTTP_PORT", "SG_HTTP_BIND", "SG_HTTP_THREADS", "SG_PG_SCHEMA",
                                      "SG_PG_POOL_SIZE", "SG_MIGRATIONS_DIR", "SG_TOPIC_PREFIX",
                                      "SG_LOG_LEVEL", "SG_API_KEYS", "SG_KAFKA_PROPERTIES",
                                      "SG_METRICS_REFRESH_S", "SG_OUTBOX_LINGER_MS",
                                      "SG_CONSUMER_LINGER_MS", "SG_CONSUMER_THREADS"};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        unsetenv(all[i]);
    setenv("SG_PG_DSN", "host=127.0.0.1 dbname=sg", 1);
    setenv("SG_KAFKA_BROKERS", "127.0.0.1:9092", 1);
    setenv("SG_REDIS_URL", "redis://127.0.0.1:6379/0", 1);
    setenv("SG_JWT_SECRET", "0123456789abcdef", 1);
}

TestSuite(config, .init = base_env);

/* Loads and expects failure with a message containing `needle`. */
static void expect_error(const char *needle)
{
    sg_config cfg;
    char err[256] = "";
    cr_assert_eq(sg_config_load(&cfg, "report", 8081, err, sizeof err), -1, "loaded; wanted '%s'", needle);
    cr_assert(strstr(err, needle), "message '%s' lacks '%s'", err, needle);
}

Test(config, defaults)
{
    sg_config cfg;
    char err[256] = "";
    cr_assert_eq(sg_config_load(&cfg, "report", 8081, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(cfg.service, "report");
    cr_assert_eq(cfg.http_port, 8081);
    cr_assert_str_eq(cfg.http_bind, "127.0.0.1");
    cr_assert_eq(cfg.http_threads, 8);
    cr_assert_str_eq(cfg.pg_dsn, "host=127.0.0.1 dbname=sg");
    cr_assert_str_eq(cfg.pg_schema, "report");
    cr_assert_eq(cfg.pg_pool_size, 8);
    cr_assert_str_eq(cfg.migrations_dir, "sql/report");
    cr_assert_str_eq(cfg.kafka_brokers, "127.0.0.1:9092");
    cr_assert_str_eq(cfg.topic_prefix, "");
    cr_assert_str_eq(cfg.redis_url, "redis://127.0.0.1:6379/0");
    cr_assert_str_eq(cfg.jwt_secret, "0123456789abcdef");
    cr_assert_str_eq(cfg.api_keys, "");
    cr_assert_eq(cfg.log_level, SG_LOG_INFO);
    cr_assert_str_eq(cfg.kafka_properties, "");
    cr_assert_eq(cfg.metrics_refresh_s, 15);
    cr_assert_eq(cfg.outbox_linger_ms, 40);
    cr_assert_eq(cfg.consumer_linger_ms, 0);
    sg_config_free(&cfg);
}

/* A linger setting (0..1000 ms): `ok` is taken into *field, 1001 and -1 are
 * refused with a message naming the variable. */
static void expect_linger_range(const char *var, const char *ok, size_t field)
{
    sg_config cfg;
    char err[256] = "";
    setenv(var, ok, 1);
    cr_assert_eq(sg_config_load(&cfg, "report", 8081, err, sizeof err), 0, "%s", err);
    cr_expect_eq(*(const int *)((const char *)&cfg + field), atoi(ok));
    sg_config_free(&cfg);
    setenv(var, "1001", 1);
    expect_error(var);
    setenv(var, "-1", 1);
    expect_error(var);
}

Test(config, consumer_linger)
{
    expect_linger_range("SG_CONSUMER_LINGER_MS", "25", offsetof(sg_config, consumer_linger_ms));
}

Test(config, outbox_linger)
{
    expect_linger_range("SG_OUTBOX_LINGER_MS", "0", offsetof(sg_config, outbox_linger_ms));
}

Test(config, overrides)
{
    setenv("SG_HTTP_PORT", "9000", 1);
    setenv("SG_HTTP_BIND", "0.0.0.0", 1);
    setenv("SG_HTTP_THREADS", "2", 1);
    setenv("SG_PG_SCHEMA", "report_ab12", 1);
    setenv("SG_PG_POOL_SIZE", "3", 1);
    setenv("SG_MIGRATIONS_DIR", "/tmp/sql", 1);
    setenv("SG_TOPIC_PREFIX", "t1.", 1);
    setenv("SG_LOG_LEVEL", "debug", 1);
    setenv("SG_API_KEYS", "product:key-product-1,forum:key-forum-1", 1);
    sg_config cfg;
    char err[256] = "";
    cr_assert_eq(sg_config_load(&cfg, "report", 8081, err, sizeof err), 0, "%s", err);
    cr_assert_eq(cfg.http_port, 9000);
    cr_assert_str_eq(cfg.http_bind, "0.0.0.0");
    cr_assert_eq(cfg.http_threads, 2);
    cr_assert_str_eq(cfg.pg_schema, "report_ab12");
    cr_assert_eq(cfg.pg_pool_size, 3);
    cr_assert_str_eq(cfg.migrations_dir, "/tmp/sql");
    cr_assert_str_eq(cfg.topic_prefix, "t1.");
    cr_assert_eq(cfg.log_level, SG_LOG_DEBUG);
    cr_assert_str_eq(cfg.api_keys, "product:key-product-1,forum:key-forum-1");
    sg_config_free(&cfg);
}

Test(config, bad_port)
{
    setenv("SG_HTTP_PORT", "http", 1);
    expect_error("SG_HTTP_PORT");
    setenv("SG_HTTP_PORT", "0", 1);
    expect_error("SG_HTTP_PORT");
    setenv("SG_HTTP_PORT", "65536", 1);
    expect_error("SG_HTTP_PORT");
    setenv("SG_HTTP_PORT", "80x", 1);
    expect_error("SG_HTTP_PORT");
}

Test(config, missing_required)
{
    unsetenv("SG_PG_DSN");
    expect_error("SG_PG_DSN is required");
    setenv("SG_PG_DSN", "", 1);
    expect_error("SG_PG_DSN is required");
    setenv("SG_PG_DSN", "x", 1);
    unsetenv("SG_KAFKA_BROKERS");
    expect_error("SG_KAFKA_BROKERS is required");
    setenv("SG_KAFKA_BROKERS", "x", 1);
    unsetenv("SG_REDIS_URL");
    expect_error("SG_REDIS_URL is required");
    setenv("SG_REDIS_URL", "x", 1);
    unsetenv("SG_JWT_SECRET");
    expect_error("SG_JWT_SECRET is required");
}

Test(config, short_secret)
{
    setenv("SG_JWT_SECRET", "0123456789abcde", 1);
    expect_error("SG_JWT_SECRET must be at least 16 bytes");
}

Test(config, bad_schema)
{
    /* 66 characters, beyond PostgreSQL's 63-byte identifier limit; a named
     * constant, because a split literal inside the array reads (to clang's
     * -Wstring-concatenation) like a missing comma. */
    static const char too_long[] = "a23456789012345678901234567890123456789"
                                   "012345678901234567890123456";
    const char *bad[] = {"Report", "1report", "re-port", "report;drop", too_long};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("SG_PG_SCHEMA", bad[i], 1);
        expect_error("SG_PG_SCHEMA");
    }
}

Test(config, bad_api_keys)
{
    const char *bad[] = {"product", "product:", ":key-product-1", "pro duct:key-product-1",
                         "product:short", "a:key-aaaaaaa,a:key-bbbbbbb", "a:key-aaaaaaa,b:key-aaaaaaa",
                         "a:key-aaaaaaa,", "a:key aaaaaaa"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("SG_API_KEYS", bad[i], 1);
        expect_error("SG_API_KEYS");
    }
}

Test(config, other_bad_values)
{
    setenv("SG_HTTP_THREADS", "0", 1);
    expect_error("SG_HTTP_THREADS");
    unsetenv("SG_HTTP_THREADS");
    setenv("SG_PG_POOL_SIZE", "1000", 1);
    expect_error("SG_PG_POOL_SIZE");
    unsetenv("SG_PG_POOL_SIZE");
    setenv("SG_HTTP_BIND", "localhost", 1);
    expect_error("SG_HTTP_BIND");
    unsetenv("SG_HTTP_BIND");
    setenv("SG_LOG_LEVEL", "loud", 1);
    expect_error("SG_LOG_LEVEL");
    unsetenv("SG_LOG_LEVEL");
    setenv("SG_TOPIC_PREFIX", "a/b", 1);
    expect_error("SG_TOPIC_PREFIX");
}

Test(config, env_long)
{
    long v = 0;
    char err[128];
    unsetenv("SG_TEST_N");
    cr_assert_eq(sg_env_long("SG_TEST_N", 7, 1, 10, &v, err, sizeof err), 0);
    cr_assert_eq(v, 7);
    setenv("SG_TEST_N", "", 1);
    cr_assert_eq(sg_env_long("SG_TEST_N", 7, 1, 10, &v, err, sizeof err), 0);
    cr_assert_eq(v, 7);
    setenv("SG_TEST_N", "10", 1);
    cr_assert_eq(sg_env_long("SG_TEST_N", 7, 1, 10, &v, err, sizeof err), 0);
    cr_assert_eq(v, 10);
    setenv("SG_TEST_N", "11", 1);
    cr_assert_eq(sg_env_long("SG_TEST_N", 7, 1, 10, &v, err, sizeof err), -1);
    cr_assert(strstr(err, "SG_TEST_N"));
    setenv("SG_TEST_N", "99999999999999999999999", 1);
    cr_assert_eq(sg_env_long("SG_TEST_N", 7, 1, 10, &v, err, sizeof err), -1);
}

Test(config, env_strdup)
{
    unsetenv("SG_TEST_S");
    cr_assert_null(sg_env_strdup("SG_TEST_S", NULL));
    char *s = sg_env_strdup("SG_TEST_S", "def");
    cr_assert_str_eq(s, "def");
    free(s);
    setenv("SG_TEST_S", "val", 1);
    s = sg_env_strdup("SG_TEST_S", "def");
    cr_assert_str_eq(s, "val");
    free(s);
}

Test(config, kafka_properties)
{
    setenv("SG_KAFKA_PROPERTIES",
           "security.protocol=SASL_PLAINTEXT;sasl.mechanism=SCRAM-SHA-512;sasl.username=report;"
           "sasl.password=s3cr=t;;", 1);
    setenv("SG_METRICS_REFRESH_S", "2", 1);
    sg_config cfg;
    char err[256] = "";
    cr_assert_eq(sg_config_load(&cfg, "report", 8081, err, sizeof err), 0, "%s", err);
    cr_assert_eq(cfg.metrics_refresh_s, 2);
    char keys[256];
    cr_assert_str_eq(sg_kafka_properties_keys(cfg.kafka_properties, keys, sizeof keys),
                     "security.protocol, sasl.mechanism, sasl.username, sasl.password");
    sg_config_free(&cfg);
}

/* A refused property names the variable and the key, never a secret value. */
Test(config, kafka_properties_refused_without_values)
{
    setenv("SG_KAFKA_PROPERTIES", "sasl.username=u;no-equals-sign", 1);
    expect_error("SG_KAFKA_PROPERTIES: item 2 is not key=value");
    setenv("SG_KAFKA_PROPERTIES", "=v", 1);
    expect_error("SG_KAFKA_PROPERTIES");
    setenv("SG_KAFKA_PROPERTIES", "no.such.property=hunter2", 1);
    expect_error("SG_KAFKA_PROPERTIES: no.such.property");
    sg_config cfg;
    char err[256] = "";
    setenv("SG_KAFKA_PROPERTIES", "ssl.key.password.bogus=hunter2", 1);
    cr_assert_eq(sg_config_load(&cfg, "report", 8081, err, sizeof err), -1);
    cr_assert_null(strstr(err, "hunter2"), "%s", err);
    cr_assert(sg_kafka_property_secret("sasl.password", 13));
    cr_assert(sg_kafka_property_secret("ssl.key.password", 16));
    cr_assert(sg_kafka_property_secret("sasl.oauthbearer.client.secret", 30));
    cr_assert(!sg_kafka_property_secret("sasl.username", 13));
    setenv("SG_KAFKA_PROPERTIES", "", 1);
    setenv("SG_METRICS_REFRESH_S", "0", 1);
    expect_error("SG_METRICS_REFRESH_S");
}

static const char *const pg_vars[] = {"SG_PG_STATEMENT_TIMEOUT_MS", "SG_PG_LOCK_TIMEOUT_MS",
                                      "SG_PG_CONNECT_TIMEOUT_S",    "SG_PG_KEEPALIVES_IDLE_S",
                                      "SG_PG_KEEPALIVES_INTERVAL_S", "SG_PG_KEEPALIVES_COUNT",
                                      "SG_PG_TCP_USER_TIMEOUT_MS"};

Test(config, pg_timeouts_default_to_sg_pg_options_default)
{
    for (size_t i = 0; i < sizeof pg_vars / sizeof pg_vars[0]; i++)
        unsetenv(pg_vars[i]);
    sg_config cfg;
    char err[256] = "";
    cr_assert_eq(sg_config_load(&cfg, "report", 8081, err, sizeof err), 0, "%s", err);
    sg_pg_options d;
    sg_pg_options_default(&d);
    cr_expect_eq(cfg.pg_statement_timeout_ms, d.statement_timeout_ms);
    cr_expect_eq(cfg.pg_statement_timeout_ms, 10000);
    cr_expect_eq(cfg.pg_lock_timeout_ms, d.lock_timeout_ms);
    cr_expect_eq(cfg.pg_connect_timeout_s, d.connect_timeout_s);
    cr_expect_eq(cfg.pg_keepalives_idle_s, d.keepalives_idle_s);
    cr_expect_eq(cfg.pg_keepalives_interval_s, d.keepalives_interval_s);
    cr_expect_eq(cfg.pg_keepalives_count, d.keepalives_count);
    cr_expect_eq(cfg.pg_tcp_user_timeout_ms, d.tcp_user_timeout_ms);
    /* A dead peer is noticed within 30 s with the defaults. */
    cr_expect_leq(d.keepalives_idle_s + d.keepalives_interval_s * d.keepalives_count, 30);
    cr_expect_leq(d.tcp_user_timeout_ms, 30000);
    sg_config_free(&cfg);
}

Test(config, pg_timeouts_overrides_and_errors)
{
    setenv("SG_PG_STATEMENT_TIMEOUT_MS", "0", 1);
    setenv("SG_PG_KEEPALIVES_COUNT", "7", 1);
    sg_config cfg;
    char err[256] = "";
    cr_assert_eq(sg_config_load(&cfg, "report", 8081, err, sizeof err), 0, "%s", err);
    cr_expect_eq(cfg.pg_statement_timeout_ms, 0);
    cr_expect_eq(cfg.pg_keepalives_count, 7);
    sg_config_free(&cfg);
    setenv("SG_PG_LOCK_TIMEOUT_MS", "soon", 1);
    expect_error("SG_PG_LOCK_TIMEOUT_MS");
    unsetenv("SG_PG_LOCK_TIMEOUT_MS");
    setenv("SG_PG_TCP_USER_TIMEOUT_MS", "-5", 1);
    expect_error("SG_PG_TCP_USER_TIMEOUT_MS");
}
