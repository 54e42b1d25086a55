/* HTTP server on libmicrohttpd; see sg/http.h.
 *
 * Request life cycle in MHD terms: the URI log callback allocates the sg_req
 * (it is the only place that sees the raw, still percent-encoded path, which
 * the router decodes per segment). The access handler's first call reads
 * the request id and traceparent and, when a body is on its way, routes,
 * authenticates and checks Content-Length so that a refused body is never
 * read; the next calls collect the body; the last one (routing first if that
 * was left for it), parses the body and runs the handler. NOTIFY_COMPLETED
 * writes the access log line, records metrics and frees the sg_req.
 */
#include "sg/http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sg/json.h"
#include "sg/log.h"
#include "sg/pg.h" /* store outcome codes (sg_reply_store_error) */
#include "sg/router.h"

#define REQ_ID_MAX 128
#define TRACEPARENT_LEN 55
#define STOP_WAIT_MS 10000
#define DISCARD_MAX (16 * SG_HTTP_MAX_BODY)

typedef struct reply_header {
    struct reply_header *next;
    char *name;
    char *value;
} reply_header;

struct sg_http_server {
    struct MHD_Daemon *daemon;
    sg_http_opts opts;
    MHD_socket quiesced_fd;
    atomic_int inflight; /* requests between URI callback and completion */
};

struct sg_req {
    sg_http_server *srv;
    struct MHD_Connection *con;
    char method[16];
    char *path;              /* raw path without the query, owned */
    const sg_route *route;   /* NULL for built-ins and refused requests */
    const char *route_label; /* metrics label: the pattern or "unmatched" */
    sg_params params;
    sg_principal principal;
    char id[REQ_ID_MAX + 1];
    char traceparent[TRACEPARENT_LEN + 1]; /* "" when absent or invalid */
    char *body;
    size_t body_len, body_cap;
    json_t *json;
    reply_header *headers;
    struct timespec started;
    size_t discarded;  /* body bytes dropped past the limit */
    int too_large;     /* the body went past SG_HTTP_MAX_BODY */
    int seen;          /* the access handler has run for this request */
    int admitted;      /* admit() has run */
    int status;        /* status of the queued reply; 0 until then */
};

/* ---- small helpers ---------------------------------------------------- */

static void new_uuid(char out[37])
{
    unsigned char b[16] = {0};
    if (RAND_bytes(b, sizeof b) != 1)
        sg_error("RAND_bytes failed; request id is not random");
    b[6] = (unsigned char)((b[6] & 0x0F) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3F) | 0x80); /* RFC 4122 variant */
    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        p += sprintf(p, "%02x", b[i]);
    }
}

static int request_id_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > REQ_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7E)
            return 0;
    return 1;
}

/* n lower-case hex digits at s, not all zero when nonzero is set. */
static int lower_hex(const char *s, int n, int nonzero)
{
    int any = 0;
    for (int i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
        any |= s[i] != '0';
    }
    return any || !nonzero;
}

/* W3C trace context, version 00: 00-<32 hex trace id>-<16 hex parent>-<2 hex flags>. */
static int traceparent_ok(const char *s)
{
    return s && strlen(s) == TRACEPARENT_LEN && strncmp(s, "00-", 3) == 0 && lower_hex(s + 3, 32, 1) &&
           s[35] == '-' && lower_hex(s + 36, 16, 1) && s[52] == '-' && lower_hex(s + 53, 2, 0);
}

static double elapsed_s(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* A JSON string for text that may hold invalid UTF-8 (a detail quoting a
 * client's bytes, or cut by snprintf inside a multibyte character). */
static json_t *safe_json_string(const char *s)
{
    json_t *j = json_string(s);
    if (j)
        return j;
    char *copy = strdup(s);
    if (!copy)
        return NULL;
    for (char *p = copy; *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    j = json_string(copy);
    free(copy);
    return j;
}

/* ---- replies ---------------------------------------------------------- */

/* Queues `body` (malloc'ed, taken) as the one reply to req. */
static void queue_reply(sg_req *req, int status, const char *content_type, char *body, size_t len)
{
    struct MHD_Response *resp = NULL;
    if (req->status) {
        sg_error("%s %s: second reply (%d) ignored", req->method, req->path, status);
        goto cleanup;
    }
    resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!resp)
        goto cleanup;
    body = NULL; /* owned by resp now */
    MHD_add_response_header(resp, "X-Request-Id", req->id);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    for (const reply_header *h = req->headers; h; h = h->next)
        if (MHD_add_response_header(resp, h->name, h->value) != MHD_YES)
            sg_warn("response header %s refused", h->name);
    if (MHD_queue_response(req->con, (unsigned)status, resp) == MHD_YES)
        req->status = status;
    else
        sg_error("%s %s: MHD refused to queue the %d reply", req->method, req->path, status);
cleanup:
    if (resp)
        MHD_destroy_response(resp);
    free(body);
}

json_t *sg_problem_body(int status, const char *title, const char *detail)
{
    char type[80];
    snprintf(type, sizeof type, "https://socialgov.example/problems/%d", status);
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string(type));
    json_object_set_new(o, "title", safe_json_string(title ? title : ""));
    json_object_set_new(o, "status", json_integer(status));
    json_object_set_new(o, "detail", safe_json_string(detail ? detail : ""));
    return o;
}

static void reply_problem_str(sg_req *req, int status, const char *title, const char *detail)
{
    json_t *o = sg_problem_body(status, title, detail);
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (text)
        queue_reply(req, status, "application/problem+json", text, strlen(text));
}

void sg_reply_problem(sg_req *req, int status, const char *title, const char *fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    reply_problem_str(req, status, title, detail);
}

void sg_reply_json(sg_req *req, int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(body);
    if (!text) {
        sg_reply_problem(req, 500, "Internal Server Error", "could not build the response");
        return;
    }
    queue_reply(req, status, "application/json", text, strlen(text));
}

void sg_reply_text(sg_req *req, int status, const char *json_text)
{
    char *copy = strdup(json_text ? json_text : "");
    if (copy)
        queue_reply(req, status, "application/json", copy, strlen(copy));
}

void sg_reply_header(sg_req *req, const char *name, const char *value)
{
    reply_header *h = calloc(1, sizeof *h);
    if (!h || !(h->name = strdup(name)) || !(h->value = strdup(value))) {
        if (h)
            free(h->name);
        free(h);
        return;
    }
    reply_header **tail = &req->headers;
    while (*tail)
        tail = &(*tail)->next;
    *tail = h;
}

/* ---- request accessors ------------------------------------------------ */

const char *sg_req_method(const sg_req *req) { return req->method; }
const char *sg_req_path(const sg_req *req) { return req->path; }
json_t *sg_req_json(const sg_req *req) { return req->json; }
const sg_principal *sg_req_principal(const sg_req *req) { return &req->principal; }
const char *sg_req_id(const sg_req *req) { return req->id; }

const char *sg_req_param(const sg_req *req, const char *name)
{
    return sg_params_get(&req->params, name);
}

const char *sg_req_query(const sg_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->con, MHD_GET_ARGUMENT_KIND, name);
}

const char *sg_req_header(const sg_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->con, MHD_HEADER_KIND, name);
}

const char *sg_req_body(const sg_req *req, size_t *len)
{
    if (len)
        *len = req->body_len;
    return req->body ? req->body : "";
}

const char *sg_req_traceparent(const sg_req *req)
{
    return req->traceparent[0] ? req->traceparent : NULL;
}

int sg_req_page(sg_req *req, int *limit, const char **cursor)
{
    const char *l = sg_req_query(req, "limit");
    const char *c = sg_req_query(req, "cursor");
    *limit = 50;
    *cursor = NULL;
    if (l && *l) {
        size_t n = strspn(l, "0123456789");
        int v = n >= 1 && n <= 3 && !l[n] ? atoi(l) : 0;
        if (v < 1 || v > 200) {
            sg_reply_problem(req, 400, "Bad Request", "limit must be an integer between 1 and 200");
            return -1;
        }
        *limit = v;
    }
    if (c && *c) {
        if (!sg_utf8_valid(c, strlen(c)) || sg_utf8_len(c) > 256) {
            sg_reply_problem(req, 400, "Bad Request", "cursor must be at most 256 characters of UTF-8");
            return -1;
        }
        *cursor = c;
    }
    return 0;
}

int sg_req_page_seq(sg_req *req, int *limit, long long *after)
{
    const char *c;
    *after = 0;
    if (sg_req_page(req, limit, &c) != 0)
        return -1;
    if (c && sg_parse_seq(c, after) != 0) {
        *after = 0;
        sg_reply_problem(req, 400, "Bad Request", "invalid cursor");
        return -1;
    }
    return 0;
}

const char *sg_req_uuid_param(sg_req *req, const char *name, const char *what)
{
    const char *v = sg_req_param(req, name);
    if (sg_is_uuid(v))
        return v;
    sg_reply_problem(req, 404, "Not Found", "%s not found", what);
    return NULL;
}

void sg_reply_store_error(sg_req *req, int rc)
{
    if (rc == SG_ERR_TOO_LARGE) {
        /* Deterministic: a retry would fail the same way. */
        sg_reply_problem(req, 500, "Internal Server Error", "an event this request causes exceeds 256 KiB");
        return;
    }
    if (rc < 0) {
        sg_reply_header(req, "Retry-After", "1");
        sg_reply_problem(req, 503, "Service Unavailable", "the database is unavailable, retry later");
        return;
    }
    sg_reply_problem(req, 500, "Internal Server Error", "unexpected store outcome %d", rc);
}

json_t *sg_req_body_object(sg_req *req, const struct sg_field *fields, size_t n)
{
    char err[256];
    if (!req->json) {
        sg_reply_problem(req, 400, "Bad Request", "a JSON object body is required");
        return NULL;
    }
    if (sg_json_validate(req->json, fields, n, err, sizeof err) != 0) {
        sg_reply_problem(req, 400, "Bad Request", "%s", err);
        return NULL;
    }
    return req->json;
}

/* ---- built-in endpoints ----------------------------------------------- */

static void serve_readyz(sg_req *req)
{
    const sg_http_opts *o = &req->srv->opts;
    json_t *deps = json_object();
    if (!deps) {
        sg_reply_problem(req, 500, "Internal Server Error", "out of memory");
        return;
    }
    if (!o->ready || o->ready(o->ready_ctx, deps) == 0) {
        json_object_set_new(deps, "status", json_string("ready"));
        sg_reply_json(req, 200, deps);
        return;
    }
    char detail[256] = "";
    const char *k;
    json_t *v;
    json_object_foreach(deps, k, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), "up") != 0 && strlen(detail) + strlen(k) + 3 < sizeof detail)
            snprintf(detail + strlen(detail), sizeof detail - strlen(detail), "%s%s", detail[0] ? ", " : "", k);
    }
    json_t *body = sg_problem_body(503, "Service Unavailable", "");
    char msg[300];
    snprintf(msg, sizeof msg, "not ready: %s down", detail[0] ? detail : "a dependency");
    json_object_set_new(body, "detail", json_string(msg));
    json_object_update_missing(body, deps);
    json_decref(deps);
    char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(body);
    if (text)
        queue_reply(req, 503, "application/problem+json", text, strlen(text));
}

static void serve_metrics(sg_req *req)
{
    sg_metrics *m = req->srv->opts.metrics;
    char *text = m ? sg_metrics_render(m) : strdup("");
    if (!text) {
        sg_reply_problem(req, 500, "Internal Server Error", "could not render metrics");
        return;
    }
    queue_reply(req, 200, "text/plain; version=0.0.4", text, strlen(text));
}

/* Returns 1 when the path is a built-in (and the reply has been queued). */
static int serve_builtin(sg_req *req)
{
    static const char *const paths[] = {"/healthz", "/readyz", "/metrics"};
    int which = -1;
    for (int i = 0; i < 3; i++)
        if (strcmp(req->path, paths[i]) == 0)
            which = i;
    if (which < 0)
        return 0;
    req->route_label = paths[which];
    if (strcmp(req->method, "GET") != 0) {
        sg_reply_header(req, "Allow", "GET");
        sg_reply_problem(req, 405, "Method Not Allowed", "%s allows GET", paths[which]);
    } else if (which == 0) {
        sg_reply_text(req, 200, "{\"status\":\"ok\"}");
    } else if (which == 1) {
        serve_readyz(req);
    } else {
        serve_metrics(req);
    }
    return 1;
}

/* ---- the request flow ------------------------------------------------- */

/* Finds the route for (method, path); on failure queues 404 or 405. */
static int route(sg_req *req)
{
    const sg_http_opts *o = &req->srv->opts;
    char allow[64] = "";
    sg_params params;
    for (size_t i = 0; i < o->nroutes; i++) {
        const sg_route *rt = &o->routes[i];
        if (!sg_route_match(rt->pattern, req->path, &params))
            continue;
        if (strcmp(rt->method, req->method) == 0) {
            req->route = rt;
            req->route_label = rt->pattern;
            req->params = params;
            return 0;
        }
        if (!strstr(allow, rt->method) && strlen(allow) + strlen(rt->method) + 3 < sizeof allow)
            snprintf(allow + strlen(allow), sizeof allow - strlen(allow), "%s%s", allow[0] ? ", " : "", rt->method);
    }
    if (allow[0]) {
        sg_reply_header(req, "Allow", allow);
        sg_reply_problem(req, 405, "Method Not Allowed", "%s allows %s", req->path, allow);
    } else {
        reply_problem_str(req, 404, "Not Found", "no such resource");
    }
    return -1;
}

/* Authenticates when a credential is given (public routes may still use the
 * principal) and enforces the route's mask: 401 without a valid one, 403
 * when its kind is not allowed. */
static int authorize(sg_req *req)
{
    const char *authz = sg_req_header(req, MHD_HTTP_HEADER_AUTHORIZATION);
    int mask = req->route->auth;
    int ok = authz && sg_auth_check(req->srv->opts.auth, authz, &req->principal) == 0;
    if (mask == 0)
        return 0;
    if (!ok) {
        sg_reply_header(req, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
        reply_problem_str(req, 401, "Unauthorized",
                          authz ? "invalid or expired credentials" : "authentication required");
        return -1;
    }
    if (!(req->principal.kind & mask)) {
        reply_problem_str(req, 403, "Forbidden", "not allowed for this caller");
        return -1;
    }
    return 0;
}

/* First access-handler call: headers are known, the body is not read yet. */
static void identify(sg_req *req, const char *method)
{
    snprintf(req->method, sizeof req->method, "%s", method);
    const char *rid = sg_req_header(req, "X-Request-Id");
    if (request_id_ok(rid))
        snprintf(req->id, sizeof req->id, "%s", rid);
    else
        new_uuid(req->id);
    const char *tp = sg_req_header(req, "traceparent");
    if (traceparent_ok(tp))
        memcpy(req->traceparent, tp, TRACEPARENT_LEN + 1);
}

static int body_expected(const sg_req *req)
{
    const char *cl = sg_req_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
    return (cl && strtoull(cl, NULL, 10) > 0) || sg_req_header(req, MHD_HTTP_HEADER_TRANSFER_ENCODING);
}

/* Built-ins, routing, authentication and the declared body size. Returns 0
 * when the handler may run; otherwise a reply has been queued. */
static int admit(sg_req *req)
{
    req->admitted = 1;
    if (serve_builtin(req) || route(req) != 0 || authorize(req) != 0)
        return -1;
    const char *cl = sg_req_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
    unsigned long long expected = cl ? strtoull(cl, NULL, 10) : 0;
    if (expected > SG_HTTP_MAX_BODY) {
        reply_problem_str(req, 413, "Payload Too Large", "request bodies are limited to 65536 bytes");
        return -1;
    }
    if (expected > 0) {
        req->body = malloc(expected + 1);
        req->body_cap = req->body ? expected + 1 : 0;
    }
    return 0;
}

/* Appends a piece of the body. A chunked body has no Content-Length to
 * check up front, and MHD 0.9.75 cannot queue a reply while an upload is in
 * progress: past the limit the rest is discarded (never stored) and 413 goes
 * out when the body ends; a body that keeps going gets the connection
 * closed. Returns -1 to close the connection. */
static int append_body(sg_req *req, const char *data, size_t n)
{
    if (req->too_large || n > SG_HTTP_MAX_BODY - req->body_len) {
        req->too_large = 1;
        req->discarded += n;
        return req->discarded > DISCARD_MAX ? -1 : 0;
    }
    if (req->body_len + n + 1 > req->body_cap) {
        size_t cap = req->body_cap ? req->body_cap * 2 : 4096;
        while (cap < req->body_len + n + 1)
            cap *= 2;
        if (cap > SG_HTTP_MAX_BODY + 1)
            cap = SG_HTTP_MAX_BODY + 1;
        char *p = realloc(req->body, cap);
        if (!p)
            return -1;
        req->body = p;
        req->body_cap = cap;
    }
    memcpy(req->body + req->body_len, data, n);
    req->body_len += n;
    req->body[req->body_len] = '\0';
    return 0;
}

/* Last access-handler call: the whole body is here. */
static void finish(sg_req *req)
{
    if (req->body_len > 0) {
        json_error_t e;
        /* Without JSON_DECODE_ANY jansson accepts only an object or array;
         * it also refuses invalid UTF-8 and \u0000. */
        req->json = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &e);
        if (!req->json) {
            sg_reply_problem(req, 400, "Bad Request", "invalid JSON: %s (line %d, column %d)", e.text, e.line,
                             e.column);
            return;
        }
    }
    req->route->handler(req, req->srv->opts.ctx);
    if (!req->status) {
        sg_error("handler for %s %s produced no reply", req->method, req->route->pattern);
        reply_problem_str(req, 500, "Internal Server Error", "the request could not be completed");
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)cls, (void)url, (void)version;
    sg_req *req = *con_cls;
    enum MHD_Result rc = MHD_YES;
    if (!req)
        return MHD_NO; /* the URI callback ran out of memory: drop the connection */
    int first = !req->seen;
    if (first) {
        req->seen = 1;
        req->con = con;
        identify(req, method);
    }
    sg_log_set_context(req->id, sg_req_traceparent(req));
    if (first) {
        /* With a body on its way, refuse now so that it is never read.
         * Without one, answer on the last call: a reply queued on the first
         * call makes MHD close the connection. */
        if (body_expected(req))
            admit(req);
    } else if (req->status) {
        *upload_data_size = 0; /* already answered: discard the rest */
    } else if (*upload_data_size > 0) {
        if (append_body(req, upload_data, *upload_data_size) != 0)
            rc = MHD_NO;
        *upload_data_size = 0;
    } else if (req->too_large) {
        reply_problem_str(req, 413, "Payload Too Large", "request bodies are limited to 65536 bytes");
    } else if (req->admitted || admit(req) == 0) {
        finish(req);
    }
    sg_log_set_context(NULL, NULL);
    return rc;
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *con)
{
    sg_http_server *srv = cls;
    sg_req *req = calloc(1, sizeof *req);
    if (!req)
        return NULL;
    req->path = strndup(uri, strcspn(uri, "?"));
    if (!req->path) {
        free(req);
        return NULL;
    }
    req->srv = srv;
    req->con = con;
    req->route_label = "unmatched";
    clock_gettime(CLOCK_MONOTONIC, &req->started);
    atomic_fetch_add(&srv->inflight, 1);
    return req;
}

static void on_completed(void *cls, struct MHD_Connection *con, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    sg_http_server *srv = cls;
    sg_req *req = *con_cls;
    (void)con;
    if (!req)
        return;
    *con_cls = NULL;
    if (req->seen) {
        double secs = elapsed_s(&req->started);
        sg_log_set_context(req->id, sg_req_traceparent(req));
        sg_info("%s %s %d %.1fms principal=%s%s", req->method, req->path, req->status, secs * 1000,
                req->principal.kind ? req->principal.id : "-",
                toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (connection ended early)");
        sg_log_set_context(NULL, NULL);
        if (req->status)
            sg_metrics_observe_request(srv->opts.metrics, req->method, req->route_label, req->status, secs);
    }
    json_decref(req->json);
    free(req->body);
    free(req->path);
    for (reply_header *h = req->headers, *next; h; h = next) {
        next = h->next;
        free(h->name);
        free(h->value);
        free(h);
    }
    free(req);
    atomic_fetch_sub(&srv->inflight, 1);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    (void)cls;
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    sg_warn("microhttpd: %s", msg);
}

/* ---- server ----------------------------------------------------------- */

sg_http_server *sg_http_start(const sg_http_opts *opts, char *err, size_t errlen)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opts->port)};
    const char *bind = opts->bind ? opts->bind : "127.0.0.1";
    if (inet_pton(AF_INET, bind, &addr.sin_addr) != 1 || opts->port < 1 || opts->port > 65535) {
        snprintf(err, errlen, "bad listen address %s:%d", bind, opts->port);
        return NULL;
    }
    sg_http_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->opts = *opts;
    s->quiesced_fd = MHD_INVALID_SOCKET;
    atomic_init(&s->inflight, 0);
    /* ITC is what lets MHD_quiesce_daemon wake the pool's threads. poll,
     * not epoll: with epoll, MHD 0.9.75's MHD_quiesce_daemon removes the
     * listen socket from each worker's epoll set while a busy worker,
     * seeing the quiesce flag, may remove it too; the loser's EPOLL_CTL_DEL
     * fails and MHD aborts the process ("Failed to remove listen FD from
     * epoll set", seen at a SIGTERM in the tests). Each worker watches only
     * its own connections, a few dozen at most here, where poll costs no
     * more than epoll. */
    unsigned flags = MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_USE_POLL_INTERNAL_THREAD;
    unsigned threads = opts->threads > 0 ? (unsigned)opts->threads : 1;
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
                                 MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, /* must come first */
                                 MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                                 MHD_OPTION_THREAD_POOL_SIZE, threads,
                                 MHD_OPTION_CONNECTION_TIMEOUT, 30u,
                                 MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                 MHD_OPTION_END);
    if (!s->daemon) {
        snprintf(err, errlen, "cannot listen on %s:%d (address in use?)", bind, opts->port);
        free(s);
        return NULL;
    }
    return s;
}

void sg_http_quiesce(sg_http_server *s)
{
    if (!s || s->quiesced_fd != MHD_INVALID_SOCKET)
        return;
    s->quiesced_fd = MHD_quiesce_daemon(s->daemon);
    /* MHD's threads may still hold the socket until they are stopped, so it
     * is closed in sg_http_stop; shutting it down now makes new connections
     * fail at once (on Linux) instead of waiting unserved in the backlog. */
    if (s->quiesced_fd != MHD_INVALID_SOCKET)
        shutdown(s->quiesced_fd, SHUT_RDWR);
}

void sg_http_stop(sg_http_server *s)
{
    if (!s)
        return;
    /* MHD_stop_daemon closes connections as soon as their thread exits; let
     * requests already being served finish first (idle keep-alive
     * connections are not waited for). */
    for (int waited = 0; atomic_load(&s->inflight) > 0 && waited < STOP_WAIT_MS; waited += 10)
        usleep(10 * 1000);
    MHD_stop_daemon(s->daemon);
    if (s->quiesced_fd != MHD_INVALID_SOCKET)
        close(s->quiesced_fd);
    free(s);
}
