/* The HTTP server over raw TCP: what a client sees byte for byte. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "sg/http.h"
#include "sg/json.h"

#define SECRET "test-secret-0123456789abcdef"

typedef struct test_ctx {
    int db_down;
    int redis_down;
} test_ctx;

static sg_http_server *srv;
static sg_auth *auth;
static sg_metrics *metrics;
static test_ctx tctx;
static int port;

/* ---- handlers ---- */

static void h_echo(sg_req *req, void *ctx)
{
    (void)ctx;
    const sg_principal *p = sg_req_principal(req);
    const char *tp = sg_req_traceparent(req);
    const char *q = sg_req_query(req, "q");
    sg_reply_header(req, "X-Extra", "yes");
    sg_reply_json(req, 200, json_pack("{s:s, s:s, s:i, s:s*, s:s*, s:s, s:s}", "id", sg_req_param(req, "id"),
                                      "principal", p->id, "kind", p->kind, "traceparent", tp, "q", q,
                                      "method", sg_req_method(req), "path", sg_req_path(req)));
}

static void h_create(sg_req *req, void *ctx)
{
    (void)ctx;
    size_t len;
    sg_req_body(req, &len);
    json_t *body = sg_req_json(req);
    sg_reply_json(req, 201, json_pack("{s:O*, s:I}", "got", body, "len", (json_int_t)len));
}

static void h_ok(sg_req *req, void *ctx)
{
    (void)ctx;
    sg_reply_text(req, 200, "{\"ok\":true}");
}

static void h_noreply(sg_req *req, void *ctx)
{
    (void)req, (void)ctx;
}

static void h_page(sg_req *req, void *ctx)
{
    (void)ctx;
    int limit;
    const char *cursor;
    if (sg_req_page(req, &limit, &cursor) != 0)
        return;
    sg_reply_json(req, 200, json_pack("{s:i, s:s*}", "limit", limit, "cursor", cursor));
}

static const sg_field vote_fields[] = {
    {"decision", SG_JT_STRING, 1, 1, 32, 0, 1},
    {"comment", SG_JT_STRING, 0, 0, 1000, 0, 0},
};

static void h_validated(sg_req *req, void *ctx)
{
    (void)ctx;
    json_t *o = sg_req_body_object(req, vote_fields, 2);
    if (!o)
        return;
    sg_reply_json(req, 201, json_pack("{s:s}", "decision", sg_json_str(o, "decision")));
}

static void h_slow(sg_req *req, void *ctx)
{
    (void)ctx;
    usleep(300 * 1000);
    sg_reply_text(req, 200, "{\"slow\":true}");
}

static void h_page_seq(sg_req *req, void *ctx)
{
    (void)ctx;
    int limit;
    long long after;
    if (sg_req_page_seq(req, &limit, &after) != 0)
        return;
    sg_reply_json(req, 200, json_pack("{s:i, s:I}", "limit", limit, "after", (json_int_t)after));
}

static void h_uuid(sg_req *req, void *ctx)
{
    (void)ctx;
    const char *id = sg_req_uuid_param(req, "id", "widget");
    if (!id)
        return;
    sg_reply_json(req, 200, json_pack("{s:s}", "id", id));
}

static void h_store_error(sg_req *req, void *ctx)
{
    (void)ctx;
    sg_reply_store_error(req, atoi(sg_req_param(req, "rc")));
}

static const sg_route routes[] = {
    {"GET", "/v1/echo/{id}", SG_AUTH_ANY, h_echo},
    {"GET", "/v1/public/{id}", SG_AUTH_PUBLIC, h_echo},
    {"POST", "/v1/items", SG_AUTH_PERSON, h_create},
    {"PUT", "/v1/items", SG_AUTH_PERSON, h_create},
    {"POST", "/v1/ops/thing", SG_AUTH_OPS, h_ok},
    {"GET", "/v1/noreply", SG_AUTH_PUBLIC, h_noreply},
    {"GET", "/v1/page", SG_AUTH_PUBLIC, h_page},
    {"POST", "/v1/votes", SG_AUTH_PUBLIC, h_validated},
    {"GET", "/v1/slow", SG_AUTH_PUBLIC, h_slow},
    {"GET", "/v1/seq", SG_AUTH_PUBLIC, h_page_seq},
    {"GET", "/v1/widgets/{id}", SG_AUTH_PUBLIC, h_uuid},
    {"GET", "/v1/store-error/{rc}", SG_AUTH_PUBLIC, h_store_error},
};

static int ready(void *ctx, json_t *deps)
{
    test_ctx *c = ctx;
    json_object_set_new(deps, "postgres", json_string(c->db_down ? "down" : "up"));
    json_object_set_new(deps, "kafka", json_string("up"));
    json_object_set_new(deps, "redis", json_string(c->redis_down || c->db_down ? "down" : "up"));
    return c->db_down ? -1 : 0;
}

static void start(void)
{
    char err[256];
    auth = sg_auth_create("product:key-product-1", SECRET, err, sizeof err);
    metrics = sg_metrics_create("test");
    cr_assert_not_null(auth, "%s", err);
    sg_http_opts o = {.bind = "127.0.0.1", .threads = 2, .routes = routes,
                      .nroutes = sizeof routes / sizeof routes[0], .ctx = &tctx, .auth = auth,
                      .metrics = metrics, .ready = ready, .ready_ctx = &tctx};
    /* Tests run in parallel processes: walk from a pid-derived port until one is free. */
    for (int i = 0; i < 50 && !srv; i++) {
        o.port = port = 18000 + (getpid() + i * 7) % 1000;
        srv = sg_http_start(&o, err, sizeof err);
    }
    cr_assert_not_null(srv, "%s", err);
}

static void stop(void)
{
    sg_http_stop(srv);
    srv = NULL;
    sg_metrics_free(metrics);
    sg_auth_free(auth);
}

TestSuite(http, .init = start, .fini = stop, .timeout = 30);

/* ---- a tiny client ---- */

typedef struct resp {
    int status;
    char head[8192];
    char *body;
    size_t body_len;
    char raw[140000];
} resp;

static int connect_srv(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static void send_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n <= 0)
            return; /* the server may close early (413); the reply is what counts */
        data += n;
        len -= (size_t)n;
    }
}

/* Value of header `name` in r->head, copied into a static buffer. */
static const char *header(const resp *r, const char *name)
{
    static char value[1024];
    size_t nlen = strlen(name);
    for (const char *l = strstr(r->head, "\r\n"); l && l[2]; l = strstr(l + 2, "\r\n")) {
        const char *h = l + 2;
        if (strncasecmp(h, name, nlen) == 0 && h[nlen] == ':') {
            h += nlen + 1;
            h += strspn(h, " ");
            size_t vlen = strcspn(h, "\r\n");
            snprintf(value, sizeof value, "%.*s", (int)vlen, h);
            return value;
        }
    }
    return NULL;
}

/* Reads one response (until its Content-Length is complete or EOF). */
static void read_resp(int fd, resp *r)
{
    size_t got = 0;
    memset(r, 0, offsetof(resp, raw));
    for (;;) {
        ssize_t n = recv(fd, r->raw + got, sizeof r->raw - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
        r->raw[got] = '\0';
        char *end = strstr(r->raw, "\r\n\r\n");
        if (!end)
            continue;
        snprintf(r->head, sizeof r->head, "%.*s", (int)(end - r->raw + 2), r->raw);
        const char *cl = header(r, "Content-Length");
        if (cl && got >= (size_t)(end + 4 - r->raw) + strtoul(cl, NULL, 10))
            break;
    }
    r->raw[got] = '\0';
    char *end = strstr(r->raw, "\r\n\r\n");
    cr_assert_not_null(end, "no complete response head: '%s'", r->raw);
    snprintf(r->head, sizeof r->head, "%.*s", (int)(end - r->raw + 2), r->raw);
    r->body = end + 4;
    r->body_len = got - (size_t)(r->body - r->raw);
    cr_assert_eq(sscanf(r->raw, "HTTP/1.%*d %d", &r->status), 1);
}

/* Sends a request with optional extra header lines (each ending in \r\n)
 * and body; reads the response. */
static resp *request(const char *method, const char *target, const char *headers, const char *body)
{
    static resp r;
    char head[8192];
    int fd = connect_srv();
    snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n%s", method, target,
             headers ? headers : "");
    if (body)
        snprintf(head + strlen(head), sizeof head - strlen(head), "Content-Length: %zu\r\n", strlen(body));
    strcat(head, "\r\n");
    send_all(fd, head, strlen(head));
    if (body)
        send_all(fd, body, strlen(body));
    read_resp(fd, &r);
    close(fd);
    return &r;
}

static json_t *body_json(const resp *r)
{
    json_error_t e;
    json_t *j = json_loadb(r->body, r->body_len, 0, &e);
    cr_assert_not_null(j, "body is not JSON (%s): %.*s", e.text, (int)r->body_len, r->body);
    return j;
}

/* Asserts an RFC 7807 reply with this status; returns its detail (static). */
static const char *expect_problem(const resp *r, int status)
{
    static char detail[512];
    cr_assert_eq(r->status, status, "want %d, got:\n%s", status, r->raw);
    cr_assert_str_eq(header(r, "Content-Type"), "application/problem+json");
    cr_assert_not_null(header(r, "X-Request-Id"));
    json_t *j = body_json(r);
    char type[64];
    snprintf(type, sizeof type, "https://socialgov.example/problems/%d", status);
    cr_assert_str_eq(sg_json_str(j, "type"), type);
    cr_assert_not_null(sg_json_str(j, "title"));
    cr_assert_eq(sg_json_int(j, "status", 0), status);
    snprintf(detail, sizeof detail, "%s", sg_json_str(j, "detail"));
    json_decref(j);
    return detail;
}

static const char *bearer(const char *role)
{
    static char h[1024];
    char *tok = sg_auth_make_jwt(SECRET, "u-7", role, 600);
    snprintf(h, sizeof h, "Authorization: Bearer %s\r\n", tok);
    free(tok);
    return h;
}

#define API_KEY "Authorization: Bearer key-product-1\r\n"

/* ---- tests ---- */

Test(problem, body_shape)
{
    json_t *p = sg_problem_body(404, "Not Found", "no such case");
    cr_assert_str_eq(sg_json_str(p, "type"), "https://socialgov.example/problems/404");
    cr_assert_str_eq(sg_json_str(p, "title"), "Not Found");
    cr_assert_eq(sg_json_int(p, "status", 0), 404);
    cr_assert_str_eq(sg_json_str(p, "detail"), "no such case");
    cr_assert_eq(json_object_size(p), 4);
    json_decref(p);
}

Test(problem, detail_with_invalid_utf8_still_builds)
{
    json_t *p = sg_problem_body(400, "Bad Request", "bad byte \xff here");
    cr_assert_not_null(p);
    cr_assert_str_eq(sg_json_str(p, "detail"), "bad byte ? here");
    json_decref(p);
}


Test(http, healthz)
{
    resp *r = request("GET", "/healthz", NULL, NULL);
    cr_assert_eq(r->status, 200);
    cr_assert_str_eq(header(r, "Content-Type"), "application/json");
    json_t *j = body_json(r);
    cr_assert_str_eq(sg_json_str(j, "status"), "ok");
    json_decref(j);
    expect_problem(request("POST", "/healthz", NULL, NULL), 405);
    cr_assert_str_eq(header(request("POST", "/healthz", NULL, NULL), "Allow"), "GET");
}

Test(http, readyz)
{
    resp *r = request("GET", "/readyz", NULL, NULL);
    cr_assert_eq(r->status, 200);
    json_t *j = body_json(r);
    cr_assert_str_eq(sg_json_str(j, "status"), "ready");
    cr_assert_str_eq(sg_json_str(j, "postgres"), "up");
    cr_assert_str_eq(sg_json_str(j, "kafka"), "up");
    cr_assert_str_eq(sg_json_str(j, "redis"), "up");
    json_decref(j);
    /* Redis (or Kafka) down: still ready, and the body says so. */
    tctx.redis_down = 1;
    r = request("GET", "/readyz", NULL, NULL);
    cr_assert_eq(r->status, 200);
    j = body_json(r);
    cr_assert_str_eq(sg_json_str(j, "redis"), "down");
    cr_assert_str_eq(sg_json_str(j, "postgres"), "up");
    json_decref(j);
    tctx.db_down = 1;
    r = request("GET", "/readyz", NULL, NULL);
    j = body_json(r);
    cr_assert_str_eq(sg_json_str(j, "postgres"), "down");
    cr_assert_str_eq(sg_json_str(j, "redis"), "down");
    json_decref(j);
    const char *detail = expect_problem(request("GET", "/readyz", NULL, NULL), 503);
    cr_assert(strstr(detail, "postgres, redis"), "%s", detail);
    tctx.db_down = tctx.redis_down = 0;
}

Test(http, metrics)
{
    request("GET", "/healthz", NULL, NULL);
    request("GET", "/v1/echo/x", API_KEY, NULL);
    request("GET", "/nowhere", NULL, NULL);
    /* A request is counted when MHD reports it complete, which may be just
     * after the client has read the reply. */
    resp *r;
    for (int i = 0; i < 50; i++) {
        r = request("GET", "/metrics", NULL, NULL);
        if (strstr(r->body, "route=\"unmatched\",status=\"404\"} 1") && strstr(r->body, "route=\"/healthz\"") &&
            strstr(r->body, "route=\"/v1/echo/{id}\",status=\"200\"} 1"))
            break;
        usleep(20 * 1000);
    }
    cr_assert_eq(r->status, 200);
    cr_assert_str_eq(header(r, "Content-Type"), "text/plain; version=0.0.4");
    cr_assert(strstr(r->body, "sg_http_requests_total{service=\"test\",method=\"GET\",route=\"/healthz\","
                              "status=\"200\"} 1\n"), "%s", r->body);
    cr_assert(strstr(r->body, "route=\"/v1/echo/{id}\",status=\"200\"} 1\n"), "%s", r->body);
    cr_assert(strstr(r->body, "route=\"unmatched\",status=\"404\"} 1\n"), "%s", r->body);
    cr_assert(strstr(r->body, "sg_http_request_duration_seconds_bucket{service=\"test\",route=\"/healthz\","
                              "le=\"+Inf\"} 1\n"), "%s", r->body);
}

Test(http, unknown_path_404)
{
    const char *d = expect_problem(request("GET", "/v1/nothing", API_KEY, NULL), 404);
    cr_assert_str_eq(d, "no such resource");
    expect_problem(request("GET", "/v1/echo/%zz", API_KEY, NULL), 404);
    expect_problem(request("GET", "/v1/echo/a/b", API_KEY, NULL), 404);
}

Test(http, wrong_method_405)
{
    resp *r = request("DELETE", "/v1/items", bearer("user"), NULL);
    expect_problem(r, 405);
    cr_assert_str_eq(header(r, "Allow"), "POST, PUT");
    r = request("POST", "/v1/echo/x", NULL, "{}");
    expect_problem(r, 405);
    cr_assert_str_eq(header(r, "Allow"), "GET");
}

Test(http, unauthenticated_401)
{
    resp *r = request("POST", "/v1/items", NULL, "{}");
    expect_problem(r, 401);
    cr_assert_str_eq(header(r, "WWW-Authenticate"), "Bearer");
    r = request("POST", "/v1/items", "Authorization: Bearer nope.nope.nope\r\n", "{}");
    expect_problem(r, 401);
    cr_assert_str_eq(header(r, "WWW-Authenticate"), "Bearer");
    char *expired = sg_auth_make_jwt(SECRET, "u-7", "user", -10), h[1024];
    snprintf(h, sizeof h, "Authorization: Bearer %s\r\n", expired);
    free(expired);
    expect_problem(request("POST", "/v1/items", h, "{}"), 401);
}

Test(http, forbidden_403)
{
    expect_problem(request("POST", "/v1/ops/thing", bearer("user"), NULL), 403);
    expect_problem(request("POST", "/v1/ops/thing", API_KEY, NULL), 403);
    expect_problem(request("POST", "/v1/items", API_KEY, "{}"), 403);
    cr_assert_eq(request("POST", "/v1/ops/thing", bearer("ops"), NULL)->status, 200);
}

Test(http, principal_reaches_handler)
{
    resp *r = request("GET", "/v1/echo/x", API_KEY, NULL);
    cr_assert_eq(r->status, 200);
    json_t *j = body_json(r);
    cr_assert_str_eq(sg_json_str(j, "principal"), "product");
    cr_assert_eq(sg_json_int(j, "kind", 0), SG_AUTH_CLIENT);
    json_decref(j);
    /* a public route still sees a valid credential, and ignores a bad one */
    j = body_json(request("GET", "/v1/public/x", bearer("ops"), NULL));
    cr_assert_eq(sg_json_int(j, "kind", 0), SG_AUTH_OPS);
    json_decref(j);
    r = request("GET", "/v1/public/x", "Authorization: Bearer junk\r\n", NULL);
    cr_assert_eq(r->status, 200);
    j = body_json(r);
    cr_assert_eq(sg_json_int(j, "kind", -1), 0);
    json_decref(j);
}

Test(http, content_length_too_large_413_before_body)
{
    int fd = connect_srv();
    char head[2048];
    snprintf(head, sizeof head,
             "POST /v1/items HTTP/1.1\r\nHost: t\r\n%sContent-Type: application/json\r\n"
             "Content-Length: 70000\r\n\r\n", bearer("user"));
    send_all(fd, head, strlen(head));
    struct pollfd p = {.fd = fd, .events = POLLIN};
    cr_assert_eq(poll(&p, 1, 3000), 1, "no answer before the body was sent");
    static resp r;
    read_resp(fd, &r);
    close(fd);
    expect_problem(&r, 413);
}

Test(http, content_length_too_large_413_even_with_expect_continue)
{
    int fd = connect_srv();
    char head[2048];
    snprintf(head, sizeof head,
             "POST /v1/items HTTP/1.1\r\nHost: t\r\n%sExpect: 100-continue\r\nContent-Length: 1000000\r\n\r\n",
             bearer("user"));
    send_all(fd, head, strlen(head));
    static resp r;
    read_resp(fd, &r);
    close(fd);
    expect_problem(&r, 413);
}

static int chunked_post(void)
{
    int fd = connect_srv();
    char head[2048];
    snprintf(head, sizeof head, "POST /v1/items HTTP/1.1\r\nHost: t\r\n%sTransfer-Encoding: chunked\r\n\r\n",
             bearer("user"));
    send_all(fd, head, strlen(head));
    return fd;
}

static const char *chunk_8k(void)
{
    static char chunk[8192 + 16];
    memcpy(chunk, "2000\r\n", 6);
    memset(chunk + 6, ' ', 8192);
    memcpy(chunk + 6 + 8192, "\r\n", 2);
    return chunk;
}

/* MHD 0.9.75 cannot answer while a chunked upload is in progress: the part
 * past 64 KiB is discarded and 413 comes when the body ends. */
Test(http, chunked_body_too_large_413)
{
    int fd = chunked_post();
    for (int i = 0; i < 9; i++) /* 72 KiB */
        send_all(fd, chunk_8k(), 6 + 8192 + 2);
    send_all(fd, "0\r\n\r\n", 5);
    static resp r;
    read_resp(fd, &r);
    close(fd);
    expect_problem(&r, 413);
}

/* A chunked body that never ends is cut off rather than read forever. */
Test(http, endless_chunked_body_is_cut_off)
{
    int fd = chunked_post();
    int sent = 0;
    for (; sent < 1000; sent++) { /* up to 8 MiB */
        if (send(fd, chunk_8k(), 6 + 8192 + 2, MSG_NOSIGNAL) <= 0)
            break;
    }
    char buf[256];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    cr_assert(sent < 1000 || n <= 0, "still open after %d chunks", sent);
    close(fd);
}

Test(http, body_of_exactly_64k_is_accepted)
{
    static char body[SG_HTTP_MAX_BODY + 1];
    memset(body, ' ', SG_HTTP_MAX_BODY);
    memcpy(body, "{\"a\":1}", 7);
    resp *r = request("POST", "/v1/items", bearer("user"), body);
    cr_assert_eq(r->status, 201, "%s", r->raw);
    json_t *j = body_json(r);
    cr_assert_eq(sg_json_int(j, "len", 0), SG_HTTP_MAX_BODY);
    json_decref(j);
}

Test(http, chunked_small_body_is_accepted)
{
    int fd = connect_srv();
    char head[2048];
    snprintf(head, sizeof head,
             "POST /v1/items HTTP/1.1\r\nHost: t\r\nConnection: close\r\n%sTransfer-Encoding: chunked\r\n\r\n"
             "4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n", bearer("user"));
    send_all(fd, head, strlen(head));
    static resp r;
    read_resp(fd, &r);
    close(fd);
    cr_assert_eq(r.status, 201, "%s", r.raw);
    json_t *j = body_json(&r);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(j, "got"), "a")), 1);
    json_decref(j);
}

Test(http, invalid_json_400)
{
    const char *u = bearer("user");
    const char *d = expect_problem(request("POST", "/v1/items", u, "{bad"), 400);
    cr_assert(strstr(d, "invalid JSON"), "%s", d);
    expect_problem(request("POST", "/v1/items", u, "42"), 400);
    expect_problem(request("POST", "/v1/items", u, "\"str\""), 400);
    expect_problem(request("POST", "/v1/items", u, "{\"a\":1,\"a\":2}"), 400);
    expect_problem(request("POST", "/v1/items", u, "{\"a\":1} trailing"), 400);
    expect_problem(request("POST", "/v1/items", u, "{\"a\":\"\\u0000\"}"), 400);
}

Test(http, invalid_utf8_400)
{
    const char *u = bearer("user");
    expect_problem(request("POST", "/v1/items", u, "{\"a\":\"\xff\xfe\"}"), 400);
    expect_problem(request("POST", "/v1/items", u, "{\"a\":\"\xc0\xaf\"}"), 400);
    expect_problem(request("POST", "/v1/items", u, "{\"a\":\"\xed\xa0\x80\"}"), 400);
    resp *r = request("POST", "/v1/items", u, "{\"a\":\"\xe4\xbd\xa0\xe5\xa5\xbd\"}");
    cr_assert_eq(r->status, 201);
}

Test(http, empty_body_gives_no_json)
{
    resp *r = request("POST", "/v1/items", bearer("user"), NULL);
    cr_assert_eq(r->status, 201, "%s", r->raw);
    json_t *j = body_json(r);
    cr_assert_null(json_object_get(j, "got"));
    cr_assert_eq(sg_json_int(j, "len", -1), 0);
    json_decref(j);
}

Test(http, body_validation_400)
{
    const char *d = expect_problem(request("POST", "/v1/votes", NULL, "{\"decision\":\"violation\",\"x\":1}"), 400);
    cr_assert(strstr(d, "unknown field 'x'"), "%s", d);
    d = expect_problem(request("POST", "/v1/votes", NULL, "{}"), 400);
    cr_assert(strstr(d, "'decision' is required"), "%s", d);
    d = expect_problem(request("POST", "/v1/votes", NULL, "[]"), 400);
    cr_assert(strstr(d, "object"), "%s", d);
    expect_problem(request("POST", "/v1/votes", NULL, NULL), 400);
    resp *r = request("POST", "/v1/votes", NULL, "{\"decision\":\"violation\"}");
    cr_assert_eq(r->status, 201);
}

static int is_uuid_v4(const char *s)
{
    return s && sg_is_uuid(s) && s[14] == '4' && strchr("89ab", s[19]);
}

Test(http, request_id_echoed_or_generated)
{
    resp *r = request("GET", "/healthz", "X-Request-Id: my-req-42\r\n", NULL);
    cr_assert_str_eq(header(r, "X-Request-Id"), "my-req-42");
    r = request("GET", "/nowhere", "X-Request-Id: my-req-43\r\n", NULL);
    cr_assert_str_eq(header(r, "X-Request-Id"), "my-req-43");

    r = request("GET", "/healthz", NULL, NULL);
    char first[64];
    snprintf(first, sizeof first, "%s", header(r, "X-Request-Id"));
    cr_assert(is_uuid_v4(first), "%s", first);
    r = request("GET", "/healthz", NULL, NULL);
    cr_assert(is_uuid_v4(header(r, "X-Request-Id")));
    cr_assert_str_neq(header(r, "X-Request-Id"), first);

    char h[300] = "X-Request-Id: ";
    memset(h + strlen(h), 'a', 129);
    strcat(h, "\r\n");
    r = request("GET", "/healthz", h, NULL);
    cr_assert(is_uuid_v4(header(r, "X-Request-Id")), "too long id must be replaced");
}

Test(http, path_params_query_and_headers_reach_handler)
{
    resp *r = request("GET", "/v1/echo/comment%3A99%20x?q=hello%20there&other=1", API_KEY, NULL);
    cr_assert_eq(r->status, 200, "%s", r->raw);
    cr_assert_str_eq(header(r, "X-Extra"), "yes");
    cr_assert_str_eq(header(r, "Content-Type"), "application/json");
    json_t *j = body_json(r);
    cr_assert_str_eq(sg_json_str(j, "id"), "comment:99 x");
    cr_assert_str_eq(sg_json_str(j, "q"), "hello there");
    cr_assert_str_eq(sg_json_str(j, "method"), "GET");
    cr_assert_str_eq(sg_json_str(j, "path"), "/v1/echo/comment%3A99%20x");
    json_decref(j);
}

Test(http, traceparent)
{
    const char *tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    char h[256];
    snprintf(h, sizeof h, "%straceparent: %s\r\n", API_KEY, tp);
    json_t *j = body_json(request("GET", "/v1/echo/x", h, NULL));
    cr_assert_str_eq(sg_json_str(j, "traceparent"), tp);
    json_decref(j);
    const char *bad[] = {"01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                         "00-00000000000000000000000000000000-b7ad6b7169203331-01",
                         "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
                         "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
                         "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-1", "garbage"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(h, sizeof h, "%straceparent: %s\r\n", API_KEY, bad[i]);
        j = body_json(request("GET", "/v1/echo/x", h, NULL));
        cr_assert_null(json_object_get(j, "traceparent"), "accepted %s", bad[i]);
        json_decref(j);
    }
}

Test(http, handler_without_reply_500)
{
    expect_problem(request("GET", "/v1/noreply", NULL, NULL), 500);
}

Test(http, pagination)
{
    json_t *j = body_json(request("GET", "/v1/page", NULL, NULL));
    cr_assert_eq(sg_json_int(j, "limit", 0), 50);
    cr_assert_null(json_object_get(j, "cursor"));
    json_decref(j);
    j = body_json(request("GET", "/v1/page?limit=200&cursor=abc", NULL, NULL));
    cr_assert_eq(sg_json_int(j, "limit", 0), 200);
    cr_assert_str_eq(sg_json_str(j, "cursor"), "abc");
    json_decref(j);
    expect_problem(request("GET", "/v1/page?limit=0", NULL, NULL), 400);
    expect_problem(request("GET", "/v1/page?limit=201", NULL, NULL), 400);
    expect_problem(request("GET", "/v1/page?limit=-1", NULL, NULL), 400);
    expect_problem(request("GET", "/v1/page?limit=1x", NULL, NULL), 400);
    char target[400] = "/v1/page?cursor=";
    memset(target + strlen(target), 'c', 257);
    expect_problem(request("GET", target, NULL, NULL), 400);
    target[strlen(target) - 1] = '\0';
    cr_assert_eq(request("GET", target, NULL, NULL)->status, 200);
}

Test(http, keep_alive_serves_several_requests)
{
    int fd = connect_srv();
    static resp r;
    for (int i = 0; i < 3; i++) {
        const char *req = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
        send_all(fd, req, strlen(req));
        read_resp(fd, &r);
        cr_assert_eq(r.status, 200);
    }
    close(fd);
}

static void *slow_client(void *arg)
{
    (void)arg;
    resp *r = malloc(sizeof *r);
    int fd = connect_srv();
    const char *req = "GET /v1/slow HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    send_all(fd, req, strlen(req));
    read_resp(fd, r);
    close(fd);
    return r;
}

static int port_accepts(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

Test(http, quiesce_then_stop_finishes_in_flight)
{
    pthread_t t;
    pthread_create(&t, NULL, slow_client, NULL);
    usleep(100 * 1000);
    sg_http_quiesce(srv);
    cr_assert_not(port_accepts(), "new connections must be refused once quiesced");
    sg_http_quiesce(srv); /* idempotent */
    sg_http_stop(srv);
    srv = NULL;
    resp *r;
    pthread_join(t, (void **)&r);
    cr_assert_eq(r->status, 200);
    cr_assert(strstr(r->body, "slow"));
    free(r);
    cr_assert_not(port_accepts());
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Requests MHD ends on its own (client gone mid-headers, malformed header)
 * must still be released: nothing leaks and stop does not wait for them. */
Test(http, abandoned_and_malformed_requests_are_released)
{
    int fd = connect_srv();
    send_all(fd, "GET /healthz HTTP/1.1\r\nHo", 25);
    usleep(50 * 1000);
    close(fd);
    fd = connect_srv();
    const char *bad = "GET /healthz HTTP/1.1\r\nHost: t\r\nno colon here\r\n\r\n";
    send_all(fd, bad, strlen(bad));
    static resp r;
    read_resp(fd, &r);
    close(fd);
    cr_assert_eq(r.status, 400);
    usleep(100 * 1000);
    double t0 = now_s();
    sg_http_quiesce(srv);
    sg_http_stop(srv);
    srv = NULL;
    cr_assert_lt(now_s() - t0, 1.0, "stop waited for requests that had ended");
}

Test(http, page_seq)
{
    json_t *j = body_json(request("GET", "/v1/seq", NULL, NULL));
    cr_assert_eq(sg_json_int(j, "limit", 0), 50);
    cr_assert_eq(sg_json_int(j, "after", -1), 0);
    json_decref(j);
    j = body_json(request("GET", "/v1/seq?limit=3&cursor=", NULL, NULL));
    cr_assert_eq(sg_json_int(j, "limit", 0), 3);
    cr_assert_eq(sg_json_int(j, "after", -1), 0);
    json_decref(j);
    j = body_json(request("GET", "/v1/seq?cursor=9223372036854775807", NULL, NULL));
    cr_assert_eq(sg_json_int(j, "after", -1), 9223372036854775807LL);
    json_decref(j);
    const char *bad[] = {"abc", "0", "-5", "007", "12a", "9223372036854775808"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char target[128];
        snprintf(target, sizeof target, "/v1/seq?cursor=%s", bad[i]);
        cr_assert_str_eq(expect_problem(request("GET", target, NULL, NULL), 400), "invalid cursor", "%s", bad[i]);
    }
    expect_problem(request("GET", "/v1/seq?limit=0&cursor=5", NULL, NULL), 400);
}

Test(http, uuid_param_404_when_not_a_uuid)
{
    json_t *j = body_json(request("GET", "/v1/widgets/0b5a4c2e-8f1d-4e3a-9c7b-2d6e1f0a3b4c", NULL, NULL));
    cr_assert_str_eq(sg_json_str(j, "id"), "0b5a4c2e-8f1d-4e3a-9c7b-2d6e1f0a3b4c");
    json_decref(j);
    cr_assert_str_eq(expect_problem(request("GET", "/v1/widgets/42", NULL, NULL), 404), "widget not found");
    expect_problem(request("GET", "/v1/widgets/0b5a4c2e-8f1d-4e3a-9c7b-2d6e1f0a3b4cX", NULL, NULL), 404);
}

Test(http, store_error_mapping)
{
    resp *r = request("GET", "/v1/store-error/-1", NULL, NULL);
    expect_problem(r, 503);
    cr_assert_str_eq(header(r, "Retry-After"), "1");
    r = request("GET", "/v1/store-error/-2", NULL, NULL);
    expect_problem(r, 503);
    cr_assert_str_eq(header(r, "Retry-After"), "1");
    r = request("GET", "/v1/store-error/7", NULL, NULL);
    expect_problem(r, 500);
    cr_assert_null(header(r, "Retry-After"));
    /* An over-size event: a retry cannot help, so no 503 / Retry-After. */
    r = request("GET", "/v1/store-error/-3", NULL, NULL);
    expect_problem(r, 500);
    cr_assert_null(header(r, "Retry-After"));
}

/* The method is client input: unknown ones are folded into one label value,
 * so a quote in it can never reach the text format. */
Test(http, metrics_fold_unknown_methods)
{
    request("BREW", "/v1/echo/x", API_KEY, NULL);
    request("X\"Y", "/healthz", NULL, NULL);
    resp *r;
    for (int i = 0; i < 50; i++) {
        r = request("GET", "/metrics", NULL, NULL);
        if (strstr(r->body, "method=\"other\""))
            break;
        usleep(20 * 1000);
    }
    cr_assert_eq(r->status, 200);
    cr_assert(strstr(r->body, "method=\"other\""), "%s", r->body);
    cr_assert_null(strstr(r->body, "BREW"), "%s", r->body);
    cr_assert_null(strstr(r->body, "X\"Y"), "%s", r->body);
    cr_assert_null(strstr(r->body, "X\\\"Y"), "%s", r->body);
}
