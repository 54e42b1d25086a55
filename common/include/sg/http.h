/* HTTP server on libmicrohttpd (thread pool, internal polling).
 *
 * Routes map (method, pattern) to a handler plus the set of principal kinds
 * allowed. The server, before calling a handler: assigns/echoes X-Request-Id,
 * sets the log context, authenticates (401 when missing/invalid, 403 when the
 * kind is not allowed), refuses bodies over SG_HTTP_MAX_BODY with 413 before
 * reading them (Content-Length checked up front, and while streaming), and
 * parses a non-empty body as JSON (400 when invalid or not UTF-8). Every
 * response gets X-Request-Id; errors are RFC 7807 problem+json. One access log
 * line per request; metrics per route and status. /healthz, /readyz and
 * /metrics are built in and unauthenticated.
 *
 * A handler must produce exactly one reply (sg_reply_*); if it produces none
 * the server answers 500.
 */
#ifndef SG_HTTP_H
#define SG_HTTP_H

#include <jansson.h>
#include <stddef.h>
#include "sg/auth.h"
#include "sg/metrics.h"

#define SG_HTTP_MAX_BODY (64 * 1024)

typedef struct sg_req sg_req;
typedef void (*sg_handler)(sg_req *req, void *ctx);

typedef struct sg_route {
    const char *method;  /* "GET", "POST", "PUT", "DELETE" */
    const char *pattern; /* see router.h */
    int auth;            /* mask of SG_AUTH_CLIENT/USER/OPS; 0 = public */
    sg_handler handler;
} sg_route;

/* Readiness probe: sets one member per dependency in `deps` (an empty
 * object owned by the caller), e.g. "postgres": "up", "redis": "down", and
 * returns 0 when the replica is ready (GET /readyz answers 200 with those
 * members and "status": "ready") or -1 when it is not (503 problem+json that
 * carries the same members; detail names what made it unready). */
typedef int (*sg_ready_fn)(void *ctx, json_t *deps);

typedef struct sg_http_opts {
    const char *bind;      /* "127.0.0.1" or "0.0.0.0" */
    int port;
    int threads;
    const sg_route *routes; size_t nroutes; /* borrowed, must outlive server */
    void *ctx;             /* passed to handlers */
    const sg_auth *auth;   /* borrowed */
    sg_metrics *metrics;   /* borrowed */
    sg_ready_fn ready; void *ready_ctx;
} sg_http_opts;

typedef struct sg_http_server sg_http_server;

/* Starts listening. Returns NULL with a message on failure. */
sg_http_server *sg_http_start(const sg_http_opts *opts, char *err, size_t errlen);
/* Stops accepting new connections (MHD_quiesce_daemon); in-flight requests
 * continue. */
void sg_http_quiesce(sg_http_server *s);
/* Waits for in-flight requests, stops the daemon and frees s. */
void sg_http_stop(sg_http_server *s);

/* --- request accessors (all returned pointers borrowed from req, valid
 * during the handler call) --- */
const char *sg_req_method(const sg_req *req);
const char *sg_req_path(const sg_req *req);
const char *sg_req_param(const sg_req *req, const char *name);  /* path {name} */
const char *sg_req_query(const sg_req *req, const char *name);  /* ?name= */
const char *sg_req_header(const sg_req *req, const char *name);
json_t *sg_req_json(const sg_req *req);                        /* NULL if no body */
const char *sg_req_body(const sg_req *req, size_t *len);        /* raw body, "" if none */
const sg_principal *sg_req_principal(const sg_req *req);
const char *sg_req_id(const sg_req *req);
const char *sg_req_traceparent(const sg_req *req);             /* NULL if none/invalid */

/* Pagination: parses ?limit= (1..200, default 50) and ?cursor= (any string
 * up to 256 chars, NULL when absent). On a bad value replies 400 and returns
 * -1 (the handler must then return). */
int sg_req_page(sg_req *req, int *limit, const char **cursor);

/* Pagination over a numeric sequence key: sg_req_page, then ?cursor= parsed
 * with sg_parse_seq (sg/json.h: canonical decimal 1..2^63-1). *after is 0
 * when the cursor is absent or empty. Returns 0, or replies 400 ("invalid
 * cursor", or sg_req_page's problem) and returns -1 (the handler must then
 * return). The cursor's direction (after/before) is the caller's. */
int sg_req_page_seq(sg_req *req, int *limit, long long *after);

/* The path parameter {name} when it is a canonical UUID (sg_is_uuid).
 * Otherwise replies 404 "<what> not found" (no such resource can exist) and
 * returns NULL; the handler must then return. The result is borrowed from
 * req (valid during the handler call). */
const char *sg_req_uuid_param(sg_req *req, const char *name, const char *what);

/* Convenience: requires a JSON object body valid against fields; replies 400
 * and returns NULL otherwise. Returned object borrowed from req. */
struct sg_field;
json_t *sg_req_body_object(sg_req *req, const struct sg_field *fields, size_t n);

/* --- replies --- */
/* Adds a response header (copied). Call before sg_reply_*. */
void sg_reply_header(sg_req *req, const char *name, const char *value);
/* Replies with body serialized from `body`, which is stolen (decref'd). */
void sg_reply_json(sg_req *req, int status, json_t *body);
/* Replies with an already serialized JSON text (copied). */
void sg_reply_text(sg_req *req, int status, const char *json_text);
/* RFC 7807 reply: type "https://socialgov.example/problems/<status>", the
 * given title, detail formatted. */
void sg_reply_problem(sg_req *req, int status, const char *title, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Replies to a store failure that no service-specific code covers: rc < 0
 * (SG_ERR_DB, SG_ERR_RETRY of sg/pg.h; the store has logged the cause) →
 * 503 with "Retry-After: 1"; anything else (an unexpected outcome code) →
 * 500. Services map their own positive codes first and call this for the
 * rest. Produces the handler's one reply. */
void sg_reply_store_error(sg_req *req, int rc);
/* Builds the problem+json body (pure, for tests). Returns new reference. */
json_t *sg_problem_body(int status, const char *title, const char *detail);

#endif
