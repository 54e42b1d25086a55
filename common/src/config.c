/* Configuration from the environment; see sg/config.h. */
#include "sg/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sg/auth.h"
#include "sg/kafka.h"
#include "sg/log.h"

int sg_env_long(const char *name, long def, long min, long max, long *out, char *err, size_t errlen)
{
    const char *v = getenv(name);
    if (!v || !*v) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *end || x < min || x > max) {
        snprintf(err, errlen, "%s must be an integer between %ld and %ld (got \"%s\")", name, min, max, v);
        return -1;
    }
    *out = x;
    return 0;
}

char *sg_env_strdup(const char *name, const char *def)
{
    const char *v = getenv(name);
    if (!v)
        v = def;
    return v ? strdup(v) : NULL;
}

/* A required variable: set and non-empty. */
static char *env_required(const char *name, char *err, size_t errlen)
{
    const char *v = getenv(name);
    if (!v || !*v) {
        snprintf(err, errlen, "%s is required", name);
        return NULL;
    }
    char *copy = strdup(v);
    if (!copy)
        snprintf(err, errlen, "%s: out of memory", name);
    return copy;
}

/* The schema name is interpolated into DDL (CREATE SCHEMA, search_path), so
 * only a plain lower-case identifier is accepted. */
static int schema_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63 || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return 0;
    return 1;
}

/* Kafka topic names allow [A-Za-z0-9._-]; the prefix is prepended to them. */
static int topic_prefix_ok(const char *s)
{
    if (strlen(s) > 200)
        return 0;
    for (; *s; s++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", *s))
            return 0;
    return 1;
}

static int load_ints(sg_config *cfg, int default_port, char *err, size_t errlen)
{
    long v;
    if (sg_env_long("SG_HTTP_PORT", default_port, 1, 65535, &v, err, errlen))
        return -1;
    cfg->http_port = (int)v;
    if (sg_env_long("SG_HTTP_THREADS", 8, 1, 256, &v, err, errlen))
        return -1;
    cfg->http_threads = (int)v;
    if (sg_env_long("SG_PG_POOL_SIZE", 8, 1, 100, &v, err, errlen))
        return -1;
    cfg->pg_pool_size = (int)v;
    if (sg_env_long("SG_CONSUMER_THREADS", 4, 1, 32, &v, err, errlen))
        return -1;
    cfg->consumer_threads = (int)v;
    if (sg_env_long("SG_CONSUMER_BATCH", 64, 1, 1024, &v, err, errlen))
        return -1;
    cfg->consumer_batch = (int)v;
    if (sg_env_long("SG_CONSUMER_LINGER_MS", 0, 0, 1000, &v, err, errlen))
        return -1;
    cfg->consumer_linger_ms = (int)v;
    if (sg_env_long("SG_OUTBOX_LINGER_MS", 40, 0, 1000, &v, err, errlen))
        return -1;
    cfg->outbox_linger_ms = (int)v;
    if (sg_env_long("SG_METRICS_REFRESH_S", 15, 1, 3600, &v, err, errlen))
        return -1;
    cfg->metrics_refresh_s = (int)v;
    /* PostgreSQL connection timeouts and keepalives (sg_pg_options). */
    static const struct {
        const char *name;
        long def, max;
        size_t off;
    } pg[] = {
        {"SG_PG_STATEMENT_TIMEOUT_MS", 10000, 86400000, offsetof(sg_config, pg_statement_timeout_ms)},
        {"SG_PG_LOCK_TIMEOUT_MS", 5000, 86400000, offsetof(sg_config, pg_lock_timeout_ms)},
        {"SG_PG_CONNECT_TIMEOUT_S", 5, 300, offsetof(sg_config, pg_connect_timeout_s)},
        {"SG_PG_KEEPALIVES_IDLE_S", 10, 7200, offsetof(sg_config, pg_keepalives_idle_s)},
        {"SG_PG_KEEPALIVES_INTERVAL_S", 5, 600, offsetof(sg_config, pg_keepalives_interval_s)},
        {"SG_PG_KEEPALIVES_COUNT", 3, 100, offsetof(sg_config, pg_keepalives_count)},
        {"SG_PG_TCP_USER_TIMEOUT_MS", 20000, 3600000, offsetof(sg_config, pg_tcp_user_timeout_ms)},
    };
    for (size_t i = 0; i < sizeof pg / sizeof pg[0]; i++) {
        if (sg_env_long(pg[i].name, pg[i].def, 0, pg[i].max, &v, err, errlen))
            return -1;
        *(int *)(void *)((char *)cfg + pg[i].off) = (int)v;
    }
    return 0;
}

static int load_strings(sg_config *cfg, const char *service, char *err, size_t errlen)
{
    char dir[256];
    snprintf(dir, sizeof dir, "sql/%s", service);
    cfg->service = strdup(service);
    cfg->http_bind = sg_env_strdup("SG_HTTP_BIND", "127.0.0.1");
    cfg->pg_schema = sg_env_strdup("SG_PG_SCHEMA", service);
    cfg->migrations_dir = sg_env_strdup("SG_MIGRATIONS_DIR", dir);
    cfg->topic_prefix = sg_env_strdup("SG_TOPIC_PREFIX", "");
    cfg->api_keys = sg_env_strdup("SG_API_KEYS", "");
    cfg->kafka_properties = sg_env_strdup("SG_KAFKA_PROPERTIES", "");
    if (!cfg->service || !cfg->http_bind || !cfg->pg_schema || !cfg->migrations_dir || !cfg->topic_prefix ||
        !cfg->api_keys || !cfg->kafka_properties) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (!(cfg->pg_dsn = env_required("SG_PG_DSN", err, errlen)) ||
        !(cfg->kafka_brokers = env_required("SG_KAFKA_BROKERS", err, errlen)) ||
        !(cfg->redis_url = env_required("SG_REDIS_URL", err, errlen)) ||
        !(cfg->jwt_secret = env_required("SG_JWT_SECRET", err, errlen)))
        return -1;
    return 0;
}

static int check_values(const sg_config *cfg, char *err, size_t errlen)
{
    struct in_addr addr;
    if (inet_pton(AF_INET, cfg->http_bind, &addr) != 1) {
        snprintf(err, errlen, "SG_HTTP_BIND must be an IPv4 address (got \"%s\")", cfg->http_bind);
        return -1;
    }
    if (!schema_ok(cfg->pg_schema)) {
        snprintf(err, errlen, "SG_PG_SCHEMA must match [a-z_][a-z0-9_]{0,62} (got \"%s\")", cfg->pg_schema);
        return -1;
    }
    if (!*cfg->migrations_dir) {
        snprintf(err, errlen, "SG_MIGRATIONS_DIR must not be empty");
        return -1;
    }
    if (!topic_prefix_ok(cfg->topic_prefix)) {
        snprintf(err, errlen, "SG_TOPIC_PREFIX may only contain [A-Za-z0-9._-] (max 200)");
        return -1;
    }
    if (sg_kafka_properties_check(cfg->kafka_properties, err, errlen) != 0)
        return -1;
    if (strlen(cfg->jwt_secret) < 16) {
        snprintf(err, errlen, "SG_JWT_SECRET must be at least 16 bytes");
        return -1;
    }
    char why[200];
    sg_auth *a = sg_auth_create(cfg->api_keys, cfg->jwt_secret, why, sizeof why);
    if (!a) {
        snprintf(err, errlen, "SG_API_KEYS: %s", why);
        return -1;
    }
    sg_auth_free(a);
    return 0;
}

int sg_config_load(sg_config *cfg, const char *service, int default_port, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    int rc = -1;
    if (load_ints(cfg, default_port, err, errlen) || load_strings(cfg, service, err, errlen) ||
        check_values(cfg, err, errlen))
        goto cleanup;

    sg_log_level level = SG_LOG_INFO;
    const char *lv = getenv("SG_LOG_LEVEL");
    if (lv && *lv && sg_log_level_parse(lv, &level)) {
        snprintf(err, errlen, "SG_LOG_LEVEL must be debug, info, warn or error (got \"%s\")", lv);
        goto cleanup;
    }
    cfg->log_level = (int)level;
    rc = 0;
cleanup:
    if (rc)
        sg_config_free(cfg);
    return rc;
}

void sg_config_free(sg_config *cfg)
{
    free(cfg->service);
    free(cfg->http_bind);
    free(cfg->pg_dsn);
    free(cfg->pg_schema);
    free(cfg->migrations_dir);
    free(cfg->kafka_brokers);
    free(cfg->topic_prefix);
    free(cfg->redis_url);
    free(cfg->jwt_secret);
    free(cfg->api_keys);
    if (cfg->kafka_properties) {
        memset(cfg->kafka_properties, 0, strlen(cfg->kafka_properties));
        free(cfg->kafka_properties);
    }
    memset(cfg, 0, sizeof *cfg);
}
