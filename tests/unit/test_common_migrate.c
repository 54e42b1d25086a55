/* Migration file discovery: naming, ordering, duplicates, ignored files. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sg/migrate.h"

static char dir[64];

static void mkdir_tmp(void)
{
    snprintf(dir, sizeof dir, "/tmp/sg_migrate_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void touch(const char *name, const char *content)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "cannot create %s", path);
    fputs(content, f);
    fclose(f);
}

static void rm_tmp(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(migrate, .init = mkdir_tmp, .fini = rm_tmp);

Test(migrate, version_parsing)
{
    cr_expect_eq(sg_migration_version("001_init.sql"), 1);
    cr_expect_eq(sg_migration_version("010_more.sql"), 10);
    cr_expect_eq(sg_migration_version("1234_big.sql"), 1234);
    cr_expect_eq(sg_migration_version("000_zero.sql"), 0);
    cr_expect_eq(sg_migration_version("002_.sql"), 2);
    cr_expect_eq(sg_migration_version("01_short.sql"), -1, "fewer than 3 digits");
    cr_expect_eq(sg_migration_version("001init.sql"), -1, "no underscore");
    cr_expect_eq(sg_migration_version("001_init.sql~"), -1, "editor backup");
    cr_expect_eq(sg_migration_version("001_init.SQL"), -1);
    cr_expect_eq(sg_migration_version("001_init.txt"), -1);
    cr_expect_eq(sg_migration_version("001_init"), -1);
    cr_expect_eq(sg_migration_version("init.sql"), -1);
    cr_expect_eq(sg_migration_version(".001_init.sql"), -1);
    cr_expect_eq(sg_migration_version("README"), -1);
    cr_expect_eq(sg_migration_version(""), -1);
    cr_expect_eq(sg_migration_version(NULL), -1);
    cr_expect_eq(sg_migration_version("99999999999_overflow.sql"), -1);
}

Test(migrate, sorted_numerically)
{
    touch("010_ten.sql", "SELECT 10;");
    touch("002_two.sql", "SELECT 2;");
    touch("1000_thousand.sql", "SELECT 1000;");
    touch("001_one.sql", "SELECT 1;");
    sg_migration *m = NULL;
    size_t n = 0;
    char err[256] = "";
    cr_assert_eq(sg_migrations_list(dir, &m, &n, err, sizeof err), 0, "%s", err);
    cr_assert_eq(n, 4);
    int want[] = {1, 2, 10, 1000};
    const char *names[] = {"001_one.sql", "002_two.sql", "010_ten.sql", "1000_thousand.sql"};
    for (size_t i = 0; i < n; i++) {
        cr_expect_eq(m[i].version, want[i]);
        cr_expect_str_eq(m[i].name, names[i]);
        char path[256];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        cr_expect_str_eq(m[i].path, path);
    }
    sg_migrations_free(m, n);
}

Test(migrate, ignores_other_files)
{
    char sub[128];
    touch("001_one.sql", "SELECT 1;");
    touch("README.md", "docs");
    touch("002_two.sql.bak", "x");
    touch("03_short.sql", "x");
    touch(".004_hidden.sql", "x");
    snprintf(sub, sizeof sub, "%s/005_dir.sql", dir);
    cr_assert_eq(mkdir(sub, 0700), 0);
    sg_migration *m = NULL;
    size_t n = 0;
    char err[256] = "";
    cr_assert_eq(sg_migrations_list(dir, &m, &n, err, sizeof err), 0, "%s", err);
    cr_assert_eq(n, 1);
    cr_expect_eq(m[0].version, 1);
    sg_migrations_free(m, n);
}

Test(migrate, empty_dir)
{
    sg_migration *m = NULL;
    size_t n = 7;
    char err[256] = "";
    cr_assert_eq(sg_migrations_list(dir, &m, &n, err, sizeof err), 0, "%s", err);
    cr_expect_eq(n, 0);
    sg_migrations_free(m, n);
}

Test(migrate, duplicate_versions_refused)
{
    touch("001_one.sql", "SELECT 1;");
    touch("002_two.sql", "SELECT 2;");
    touch("0002_again.sql", "SELECT 2;");
    sg_migration *m = NULL;
    size_t n = 0;
    char err[256] = "";
    cr_assert_eq(sg_migrations_list(dir, &m, &n, err, sizeof err), -1);
    cr_expect_null(m);
    cr_expect_eq(n, 0);
    cr_expect(strstr(err, "002_two.sql") && strstr(err, "0002_again.sql"), "message names both: %s", err);
}

Test(migrate, version_zero_reserved)
{
    touch("000_mine.sql", "SELECT 0;");
    sg_migration *m = NULL;
    size_t n = 0;
    char err[256] = "";
    cr_assert_eq(sg_migrations_list(dir, &m, &n, err, sizeof err), -1);
    cr_expect(strstr(err, "000_mine.sql") != NULL, "%s", err);
}

Test(migrate, missing_dir)
{
    sg_migration *m = NULL;
    size_t n = 0;
    char err[256] = "";
    char missing[128];
    snprintf(missing, sizeof missing, "%s/nope", dir);
    cr_assert_eq(sg_migrations_list(missing, &m, &n, err, sizeof err), -1);
    cr_expect(strstr(err, missing) != NULL, "%s", err);
}
