/* Fixture helpers shared by the common library's integration tests
 * (tests/integration/common/test_*.c): each suite works in a schema of its
 * own on the devstack's PostgreSQL (SG_PG_DSN, scripts/devstack env). Every
 * helper fails the running Criterion test when it cannot do its job. */
#ifndef IT_UTIL_H
#define IT_UTIL_H

#include "sg/pg.h"

/* CLOCK_MONOTONIC in milliseconds. */
long long it_now_ms(void);

/* Runs `scripts/devstack ARGS` (found from the repo root, where make runs
 * the tests, or from a build directory), output discarded; its status. */
int it_devstack(const char *args);

/* Runs sql on a connection of pool; fails the test unless it succeeds. */
void it_exec_ok(sg_pg_pool *pool, const char *sql);

/* The first column of sql's first row, as a number. */
long it_scalar(sg_pg_pool *pool, const char *sql);

/* A pool of `size` connections on a new schema "<tag>_<8 hex digits>",
 * written to schema (which the pool's search_path names). With migrate the
 * common tables are migrated into it (sg_migrate); without, the schema is
 * only created. *rnd (may be NULL) receives the random number in the name,
 * for names that go with it (Kafka topic prefixes). The caller frees the
 * pool with it_schema_drop. */
sg_pg_pool *it_schema_pool(const char *tag, int size, int migrate, char schema[40], unsigned *rnd);

/* The devstack's Kafka (SG_KAFKA_BROKERS), for suites that need Kafka as
 * well as PostgreSQL; fails the test when either is unset. */
const char *it_brokers(void);

/* Drops schema (a few tries for a while: the server may be restarting)
 * and frees pool; a NULL pool is a no-op. */
void it_schema_drop(sg_pg_pool *pool, const char *schema);

#endif
