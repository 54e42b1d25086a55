/* Configuration from SG_* environment variables, validated at start.
 *
 * Common variables (all services):
 *   SG_HTTP_PORT (default per service), SG_HTTP_BIND (127.0.0.1),
 *   SG_HTTP_THREADS (8), SG_PG_DSN (required), SG_PG_SCHEMA (service name),
 *   SG_PG_POOL_SIZE (8), SG_CONSUMER_THREADS (4: consumers per topic in one
 *   group, so partitions are handled in parallel), SG_CONSUMER_BATCH (64: most
 *   events a consumer handles in one transaction), SG_CONSUMER_LINGER_MS (0: how
 *   long a batch waits after its first event for more), SG_OUTBOX_LINGER_MS
 *   (40: the relay's pause after a scan that found rows), SG_MIGRATIONS_DIR (sql/<service>),
 *   SG_KAFKA_BROKERS (required), SG_TOPIC_PREFIX (""), SG_REDIS_URL (required),
 *   SG_JWT_SECRET (required, >= 16 bytes), SG_API_KEYS ("name:key,..."),
 *   SG_LOG_LEVEL (info), SG_KAFKA_PROPERTIES ("": librdkafka properties,
 *   "key=value;key=value", see sg/kafka.h), SG_METRICS_REFRESH_S (15: period
 *   of the database-backed metrics, 1..3600), SG_PG_STATEMENT_TIMEOUT_MS (10000),
 *   SG_PG_LOCK_TIMEOUT_MS (5000), SG_PG_CONNECT_TIMEOUT_S (5),
 *   SG_PG_KEEPALIVES_IDLE_S (10), SG_PG_KEEPALIVES_INTERVAL_S (5),
 *   SG_PG_KEEPALIVES_COUNT (3), SG_PG_TCP_USER_TIMEOUT_MS (20000).
 * A bad value makes sg_config_load fail with a message naming the variable.
 */
#ifndef SG_CONFIG_H
#define SG_CONFIG_H

#include <stddef.h>

typedef struct sg_config {
    char *service;        /* owned */
    int http_port;
    char *http_bind;      /* owned */
    int http_threads;
    char *pg_dsn;         /* owned */
    char *pg_schema;      /* owned; [a-z_][a-z0-9_]{0,62} */
    int pg_pool_size;
    int consumer_threads; /* consumer instances per subscribed topic */
    int consumer_batch;   /* most events per consumer transaction */
    int consumer_linger_ms; /* a batch also waits this long after its first event for more */
    int outbox_linger_ms; /* the relay's pause after a scan that found rows */
    char *migrations_dir; /* owned */
    char *kafka_brokers;  /* owned */
    char *topic_prefix;   /* owned, may be "" */
    char *redis_url;      /* owned */
    char *jwt_secret;     /* owned */
    char *api_keys;       /* owned raw spec, parsed by sg_auth_create */
    int log_level;        /* sg_log_level */
    char *kafka_properties; /* owned, may be ""; validated, never logged */
    int metrics_refresh_s;  /* period of the cached metrics collectors */
    /* SG_PG_STATEMENT_TIMEOUT_MS, SG_PG_LOCK_TIMEOUT_MS,
     * SG_PG_CONNECT_TIMEOUT_S, SG_PG_KEEPALIVES_IDLE_S,
     * SG_PG_KEEPALIVES_INTERVAL_S, SG_PG_KEEPALIVES_COUNT,
     * SG_PG_TCP_USER_TIMEOUT_MS: see sg_pg_options (sg/pg.h); 0 = off. */
    int pg_statement_timeout_ms;
    int pg_lock_timeout_ms;
    int pg_connect_timeout_s;
    int pg_keepalives_idle_s;
    int pg_keepalives_interval_s;
    int pg_keepalives_count;
    int pg_tcp_user_timeout_ms;
} sg_config;

/* Loads the common variables for `service`. Returns 0, or -1 with a message
 * in err. On failure nothing needs freeing; on success free with
 * sg_config_free. */
int sg_config_load(sg_config *cfg, const char *service, int default_port, char *err, size_t errlen);
void sg_config_free(sg_config *cfg);

/* Reads an integer variable: unset/empty → def; not an integer or outside
 * [min,max] → -1 with a message naming the variable. */
int sg_env_long(const char *name, long def, long min, long max, long *out, char *err, size_t errlen);

/* Returns a malloc'ed copy of the variable or of def (def may be NULL → NULL
 * when unset). Caller frees. */
char *sg_env_strdup(const char *name, const char *def);

#endif
