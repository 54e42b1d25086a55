/* JSON-lines logging to stderr.
 *
 * One line per call: {"ts","level","service","request_id","traceparent","msg"}.
 * The request id and traceparent are thread-local context so that every log
 * line written while serving a request or handling an event carries them.
 * Thread-safe: each line is a single write(2).
 */
#ifndef SG_LOG_H
#define SG_LOG_H

typedef enum { SG_LOG_DEBUG = 0, SG_LOG_INFO, SG_LOG_WARN, SG_LOG_ERROR } sg_log_level;

/* Sets the service name and minimum level. Call once from main() before any
 * thread starts. `service` is copied. */
void sg_log_init(const char *service, sg_log_level min_level);

/* Parses "debug|info|warn|error"; returns -1 if unknown. */
int sg_log_level_parse(const char *s, sg_log_level *out);

/* Sets this thread's context (both may be NULL to clear). Strings are copied
 * (truncated to 128 bytes). */
void sg_log_set_context(const char *request_id, const char *traceparent);

/* This thread's current traceparent or NULL. Borrowed, valid until the next
 * sg_log_set_context on this thread. */
const char *sg_log_traceparent(void);
/* The same for the request id (code that runs another thread's work, e.g.
 * a group commit's leader, carries the context over). */
const char *sg_log_request_id(void);
/* Room for one context string with its NUL (longer ones are truncated). */
#define SG_LOG_CTX_MAX 129

void sg_log(sg_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define sg_debug(...) sg_log(SG_LOG_DEBUG, __VA_ARGS__)
#define sg_info(...) sg_log(SG_LOG_INFO, __VA_ARGS__)
#define sg_warn(...) sg_log(SG_LOG_WARN, __VA_ARGS__)
#define sg_error(...) sg_log(SG_LOG_ERROR, __VA_ARGS__)

#endif
