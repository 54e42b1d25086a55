/* Schema migrations applied at start-up.
 *
 * Files named NNN_description.sql (NNN: 3+ digits) in a directory are applied
 * in numeric order, each in its own transaction, once, recorded in
 * <schema>.schema_migrations(version, name, applied_at). The whole run holds a
 * transaction-independent advisory lock keyed by the schema name, so replicas
 * starting together apply each file exactly once. The schema is created if
 * missing. Before the service's files, the common schema every service shares
 * (outbox, inbox, the outbox_write function) is applied from migrate.c's own
 * list: version 0 and versions from 100000 (the runner owns that DDL).
 */
#ifndef SG_MIGRATE_H
#define SG_MIGRATE_H

#include <stddef.h>
#include "sg/pg.h"

typedef struct sg_migration {
    int version;
    char *name;  /* file name, owned */
    char *path;  /* full path, owned */
} sg_migration;

/* Lists migrations in dir sorted by version. Files not matching NNN_*.sql are
 * ignored; two files with one version is an error. Returns 0 and a malloc'ed
 * array (free with sg_migrations_free), or -1 with a message. */
int sg_migrations_list(const char *dir, sg_migration **out, size_t *n, char *err, size_t errlen);
void sg_migrations_free(sg_migration *m, size_t n);

/* Parses a file name into its version; -1 if it is not a migration name. */
int sg_migration_version(const char *filename);

/* Applies pending migrations. dir may be NULL: only the common tables.
 * Returns 0 or -1 with a message. */
int sg_migrate(sg_pg_pool *p, const char *dir, char *err, size_t errlen);

#endif
