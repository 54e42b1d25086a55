#include <criterion/criterion.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sg/log.h"

/* Runs fn with stderr redirected to a temporary file; returns its text. */
static char *capture(void (*fn)(void))
{
    static char buf[65536];
    FILE *tmp = tmpfile();
    int saved = dup(2);
    dup2(fileno(tmp), 2);
    fn();
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    size_t n = fread(buf, 1, sizeof buf - 1, tmp);
    buf[n] = '\0';
    fclose(tmp);
    return buf;
}

static json_t *line_json(const char *line)
{
    json_error_t e;
    json_t *j = json_loadb(line, strcspn(line, "\n"), 0, &e);
    cr_assert_not_null(j, "not JSON: %s (%s)", line, e.text);
    return j;
}

static void log_some(void)
{
    sg_log_init("report", SG_LOG_INFO);
    sg_debug("hidden %d", 1);
    sg_info("hello %s", "world");
    sg_log_set_context("req-1", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    sg_warn("quote \" backslash \\ newline \n tab \t bad \xff end");
    sg_log_set_context(NULL, NULL);
    sg_error("after");
}

Test(log, json_lines_and_context)
{
    char *out = capture(log_some);
    char *l1 = out, *l2 = strchr(l1, '\n') + 1, *l3 = strchr(l2, '\n') + 1;
    int lines = 0;
    for (const char *p = out; *p; p++)
        lines += *p == '\n';
    cr_assert_eq(lines, 3, "debug must be filtered out:\n%s", out);

    json_t *j = line_json(l1);
    cr_assert_str_eq(json_string_value(json_object_get(j, "level")), "info");
    cr_assert_str_eq(json_string_value(json_object_get(j, "service")), "report");
    cr_assert_str_eq(json_string_value(json_object_get(j, "msg")), "hello world");
    cr_assert(json_is_null(json_object_get(j, "request_id")));
    const char *ts = json_string_value(json_object_get(j, "ts"));
    cr_assert(ts && strlen(ts) == 24 && ts[10] == 'T' && ts[23] == 'Z', "%s", ts);
    json_decref(j);

    j = line_json(l2);
    cr_assert_str_eq(json_string_value(json_object_get(j, "level")), "warn");
    cr_assert_str_eq(json_string_value(json_object_get(j, "request_id")), "req-1");
    cr_assert_str_eq(json_string_value(json_object_get(j, "traceparent")),
                     "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    cr_assert(strstr(json_string_value(json_object_get(j, "msg")), "newline \n tab"));
    json_decref(j);

    j = line_json(l3);
    cr_assert_str_eq(json_string_value(json_object_get(j, "level")), "error");
    cr_assert(json_is_null(json_object_get(j, "traceparent")));
    json_decref(j);
}

static void *other_thread(void *arg)
{
    (void)arg;
    return (void *)sg_log_traceparent();
}

Test(log, context_is_per_thread)
{
    sg_log_set_context("r", "tp");
    cr_assert_str_eq(sg_log_traceparent(), "tp");
    pthread_t t;
    void *seen = (void *)1;
    pthread_create(&t, NULL, other_thread, NULL);
    pthread_join(t, &seen);
    cr_assert_null(seen);
    sg_log_set_context(NULL, NULL);
    cr_assert_null(sg_log_traceparent());
}

static void log_long(void)
{
    static char big[3000];
    memset(big, 0x01, sizeof big - 1); /* every byte escapes to \u0001 */
    sg_log_init("svc", SG_LOG_DEBUG);
    sg_debug("%s", big);
}

Test(log, long_lines_stay_valid)
{
    char *out = capture(log_long);
    json_t *j = line_json(out);
    cr_assert_eq(strlen(json_string_value(json_object_get(j, "msg"))), 2047);
    json_decref(j);
}

Test(log, level_parse)
{
    sg_log_level l;
    cr_assert_eq(sg_log_level_parse("debug", &l), 0);
    cr_assert_eq(l, SG_LOG_DEBUG);
    cr_assert_eq(sg_log_level_parse("info", &l), 0);
    cr_assert_eq(l, SG_LOG_INFO);
    cr_assert_eq(sg_log_level_parse("WARN", &l), 0);
    cr_assert_eq(l, SG_LOG_WARN);
    cr_assert_eq(sg_log_level_parse("error", &l), 0);
    cr_assert_eq(l, SG_LOG_ERROR);
    cr_assert_eq(sg_log_level_parse("verbose", &l), -1);
    cr_assert_eq(sg_log_level_parse(NULL, &l), -1);
}
