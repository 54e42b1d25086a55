#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sg/metrics.h"

#define HAS(text, line) cr_assert(strstr(text, line), "missing:\n%s\n--- in:\n%s", line, text)

Test(metrics, request_counters_and_histogram)
{
    sg_metrics *m = sg_metrics_create("report");
    sg_metrics_observe_request(m, "GET", "/v1/cases/{id}", 200, 0.003);
    sg_metrics_observe_request(m, "GET", "/v1/cases/{id}", 200, 0.2);
    sg_metrics_observe_request(m, "GET", "/v1/cases/{id}", 404, 0.0005);
    sg_metrics_observe_request(m, "POST", "/v1/reports", 201, 7.0);
    char *t = sg_metrics_render(m);

    HAS(t, "# TYPE sg_http_requests_total counter\n");
    HAS(t, "sg_http_requests_total{service=\"report\",method=\"GET\",route=\"/v1/cases/{id}\",status=\"200\"} 2\n");
    HAS(t, "sg_http_requests_total{service=\"report\",method=\"GET\",route=\"/v1/cases/{id}\",status=\"404\"} 1\n");
    HAS(t, "sg_http_requests_total{service=\"report\",method=\"POST\",route=\"/v1/reports\",status=\"201\"} 1\n");

    HAS(t, "# TYPE sg_http_request_duration_seconds histogram\n");
    const char *b = "sg_http_request_duration_seconds_bucket{service=\"report\",route=\"/v1/cases/{id}\",";
    char line[256];
    static const char *const les[] = {"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
                                      "0.1", "0.25", "0.5", "1", "2.5", "+Inf"};
    static const int want[] = {1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3};
    for (int i = 0; i < 12; i++) {
        snprintf(line, sizeof line, "%sle=\"%s\"} %d\n", b, les[i], want[i]);
        HAS(t, line);
    }
    HAS(t, "sg_http_request_duration_seconds_count{service=\"report\",route=\"/v1/cases/{id}\"} 3\n");
    HAS(t, "sg_http_request_duration_seconds_sum{service=\"report\",route=\"/v1/cases/{id}\"} 0.2035\n");
    HAS(t, "sg_http_request_duration_seconds_bucket{service=\"report\",route=\"/v1/reports\",le=\"2.5\"} 0\n");
    HAS(t, "sg_http_request_duration_seconds_bucket{service=\"report\",route=\"/v1/reports\",le=\"+Inf\"} 1\n");
    free(t);
    sg_metrics_free(m);
}

Test(metrics, bucket_bounds_are_inclusive)
{
    sg_metrics *m = sg_metrics_create("s");
    sg_metrics_observe_request(m, "GET", "/x", 200, 0.001);
    char *t = sg_metrics_render(m);
    HAS(t, "sg_http_request_duration_seconds_bucket{service=\"s\",route=\"/x\",le=\"0.001\"} 1\n");
    free(t);
    sg_metrics_free(m);
}

Test(metrics, named_counters)
{
    sg_metrics *m = sg_metrics_create("reward");
    sg_metrics_count(m, "sg_events_consumed_total", "topic=\"sg.case.decided\"", 1);
    sg_metrics_count(m, "sg_events_consumed_total", "topic=\"sg.case.decided\"", 2);
    sg_metrics_count(m, "sg_events_consumed_total", "topic=\"sg.panel.assigned\"", 1);
    sg_metrics_count(m, "sg_grants_total", NULL, 0.5);
    sg_metrics_count(m, "bad name", NULL, 1);
    sg_metrics_count(m, "9bad", NULL, 1);
    char *t = sg_metrics_render(m);
    HAS(t, "# TYPE sg_events_consumed_total counter\n"
           "sg_events_consumed_total{service=\"reward\",topic=\"sg.case.decided\"} 3\n"
           "sg_events_consumed_total{service=\"reward\",topic=\"sg.panel.assigned\"} 1\n");
    HAS(t, "# TYPE sg_grants_total counter\nsg_grants_total{service=\"reward\"} 0.5\n");
    cr_assert_null(strstr(t, "bad"));
    /* one TYPE line per name */
    cr_assert_null(strstr(strstr(t, "# TYPE sg_events_consumed_total") + 1, "# TYPE sg_events_consumed_total"));
    free(t);
    sg_metrics_free(m);
}

static void collect(FILE *out, void *ctx)
{
    fprintf(out, "# TYPE sg_outbox_backlog gauge\nsg_outbox_backlog %d\n", *(int *)ctx);
}

Test(metrics, collectors)
{
    static int backlog = 17;
    sg_metrics *m = sg_metrics_create("report");
    for (int i = 0; i < 16; i++)
        cr_assert_eq(sg_metrics_add_collector(m, collect, &backlog), 0);
    cr_assert_eq(sg_metrics_add_collector(m, collect, &backlog), -1);
    char *t = sg_metrics_render(m);
    HAS(t, "# TYPE sg_outbox_backlog gauge\nsg_outbox_backlog 17\n");
    free(t);
    sg_metrics_free(m);
}

Test(metrics, label_values_are_escaped)
{
    sg_metrics *m = sg_metrics_create("a\"b\\c");
    sg_metrics_observe_request(m, "GET", "/x\n", 200, 0.1);
    char *t = sg_metrics_render(m);
    HAS(t, "sg_http_requests_total{service=\"a\\\"b\\\\c\",method=\"GET\",route=\"/x\\n\",status=\"200\"} 1\n");
    free(t);
    sg_metrics_free(m);
}

Test(metrics, empty_render_is_well_formed)
{
    sg_metrics *m = sg_metrics_create("x");
    char *t = sg_metrics_render(m);
    cr_assert_not_null(t);
    for (char *line = t; *line; line = strchr(line, '\n') + 1)
        cr_assert_eq(line[0], '#', "unexpected sample in empty render: %s", t);
    free(t);
    sg_metrics_free(m);
}

static void *hammer(void *arg)
{
    for (int i = 0; i < 10000; i++)
        sg_metrics_observe_request(arg, "GET", "/x", 200, 0.01);
    return NULL;
}

Test(metrics, thread_safe_counts)
{
    sg_metrics *m = sg_metrics_create("x");
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, hammer, m);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    char *text = sg_metrics_render(m);
    HAS(text, "sg_http_requests_total{service=\"x\",method=\"GET\",route=\"/x\",status=\"200\"} 40000\n");
    HAS(text, "sg_http_request_duration_seconds_count{service=\"x\",route=\"/x\"} 40000\n");
    free(text);
    sg_metrics_free(m);
}

Test(metrics, full_tables_drop_instead_of_growing)
{
    sg_metrics *m = sg_metrics_create("x");
    char route[32], labels[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(route, sizeof route, "/r%d", i);
        snprintf(labels, sizeof labels, "k=\"%d\"", i);
        sg_metrics_observe_request(m, "GET", route, 200, 0.01);
        sg_metrics_count(m, "sg_c_total", labels, 1);
    }
    char *t = sg_metrics_render(m);
    HAS(t, "route=\"/r0\"");
    cr_assert_null(strstr(t, "route=\"/r999\""));
    HAS(t, "sg_c_total{service=\"x\",k=\"0\"} 1\n");
    cr_assert_null(strstr(t, "k=\"999\""));
    free(t);
    sg_metrics_free(m);
}

Test(metrics, put_label_and_request_labels_escaped)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    sg_metrics_put_label(f, "a\\b\"c\nd");
    fclose(f);
    cr_assert_str_eq(buf, "a\\\\b\\\"c\\nd");
    free(buf);

    sg_metrics *m = sg_metrics_create("s\"v");
    sg_metrics_observe_request(m, "GET", "/x\"y\\z\nw", 200, 0.01);
    char *t = sg_metrics_render(m);
    HAS(t, "sg_http_requests_total{service=\"s\\\"v\",method=\"GET\",route=\"/x\\\"y\\\\z\\nw\",status=\"200\"} 1\n");
    free(t);
    sg_metrics_free(m);
}

Test(metrics, unknown_methods_fold_into_other)
{
    cr_assert_str_eq(sg_metrics_method_label("GET"), "GET");
    cr_assert_str_eq(sg_metrics_method_label("DELETE"), "DELETE");
    cr_assert_str_eq(sg_metrics_method_label("get"), "other");
    cr_assert_str_eq(sg_metrics_method_label("G\"ET"), "other");
    cr_assert_str_eq(sg_metrics_method_label(NULL), "other");
    sg_metrics *m = sg_metrics_create("s");
    sg_metrics_observe_request(m, "BR\"EW", "/x", 405, 0.01);
    sg_metrics_observe_request(m, "PROPFIND", "/x", 405, 0.01);
    char *t = sg_metrics_render(m);
    HAS(t, "sg_http_requests_total{service=\"s\",method=\"other\",route=\"/x\",status=\"405\"} 2\n");
    cr_assert_null(strstr(t, "BR"), "%s", t);
    free(t);
    sg_metrics_free(m);
}

static int slow_calls;
static void slow_collector(FILE *out, void *ctx)
{
    (void)ctx;
    slow_calls++;
    fprintf(out, "slow_gauge %d\n", slow_calls);
}

static void cheap_collector(FILE *out, void *ctx)
{
    (void)ctx;
    fputs("cheap_gauge 1\n", out);
}

/* Cached collectors run only on refresh; renders serve their last text. */
Test(metrics, cached_collectors_run_on_refresh_only)
{
    sg_metrics *m = sg_metrics_create("s");
    sg_metrics_add_collector(m, cheap_collector, NULL);
    sg_metrics_add_cached_collector(m, slow_collector, NULL);
    char *t = sg_metrics_render(m);
    HAS(t, "cheap_gauge 1\n");
    cr_assert_null(strstr(t, "slow_gauge"), "%s", t);
    free(t);
    cr_assert_eq(sg_metrics_refresh(m), 0);
    for (int i = 0; i < 3; i++) {
        t = sg_metrics_render(m);
        HAS(t, "slow_gauge 1\n");
        free(t);
    }
    cr_assert_eq(slow_calls, 1);
    /* The thread refreshes at once on start. */
    cr_assert_eq(sg_metrics_start_refresh(m, 3600), 0);
    for (int i = 0; i < 200 && slow_calls < 2; i++)
        usleep(10 * 1000);
    sg_metrics_stop_refresh(m);
    t = sg_metrics_render(m);
    HAS(t, "slow_gauge 2\n");
    free(t);
    sg_metrics_free(m);
}
