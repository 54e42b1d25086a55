/* JSON-lines logging; see sg/log.h. */
#include "sg/log.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define SG_LOG_MSG_MAX 2048
#define SG_LOG_LINE_MAX 4096

/* Set once by sg_log_init before threads start; read-only afterwards. */
static char g_service[64];
static sg_log_level g_min_level = SG_LOG_INFO;

static _Thread_local char t_request_id[SG_LOG_CTX_MAX];
static _Thread_local char t_traceparent[SG_LOG_CTX_MAX];

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void sg_log_init(const char *service, sg_log_level min_level)
{
    snprintf(g_service, sizeof g_service, "%s", service ? service : "");
    g_min_level = min_level;
}

int sg_log_level_parse(const char *s, sg_log_level *out)
{
    for (int i = 0; s && i < 4; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (sg_log_level)i;
            return 0;
        }
    }
    return -1;
}

void sg_log_set_context(const char *request_id, const char *traceparent)
{
    snprintf(t_request_id, sizeof t_request_id, "%s", request_id ? request_id : "");
    snprintf(t_traceparent, sizeof t_traceparent, "%s", traceparent ? traceparent : "");
}

const char *sg_log_traceparent(void)
{
    return t_traceparent[0] ? t_traceparent : NULL;
}

const char *sg_log_request_id(void)
{
    return t_request_id[0] ? t_request_id : NULL;
}

/* A JSON string for s; bytes that are not valid UTF-8 (e.g. a client's path
 * echoed in a message) become '?' so the line is still valid JSON. */
static json_t *safe_string(const char *s)
{
    json_t *j = json_string(s);
    if (j)
        return j;
    char copy[SG_LOG_MSG_MAX];
    size_t i = 0;
    for (; s[i] && i < sizeof copy - 1; i++)
        copy[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
    copy[i] = '\0';
    return json_string(copy);
}

static json_t *ctx_value(const char *v)
{
    return v[0] ? safe_string(v) : json_null();
}

void sg_log(sg_log_level level, const char *fmt, ...)
{
    if (level < g_min_level || level > SG_LOG_ERROR)
        return;
    int saved_errno = errno;
    char msg[SG_LOG_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    struct timespec now;
    struct tm tm;
    char ts[40];
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof ts - n, ".%03ldZ", now.tv_nsec / 1000000);

    json_t *line = json_object();
    json_object_set_new(line, "ts", json_string(ts));
    json_object_set_new(line, "level", json_string(level_names[level]));
    json_object_set_new(line, "service", safe_string(g_service));
    json_object_set_new(line, "request_id", ctx_value(t_request_id));
    json_object_set_new(line, "traceparent", ctx_value(t_traceparent));
    json_object_set_new(line, "msg", safe_string(msg));

    /* One write(2) per line keeps lines from different threads whole. */
    char buf[SG_LOG_LINE_MAX];
    char *heap = NULL;
    char *out = buf;
    size_t len = json_dumpb(line, buf, sizeof buf - 1, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (len > sizeof buf - 1) {
        heap = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
        out = heap;
        len = heap ? strlen(heap) : 0;
    }
    if (out && len > 0) {
        out[len++] = '\n'; /* replaces the NUL; the length is explicit */
        while (write(STDERR_FILENO, out, len) < 0 && errno == EINTR)
            ;
    }
    free(heap);
    json_decref(line);
    errno = saved_errno;
}
