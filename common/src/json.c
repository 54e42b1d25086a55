/* Request body validation and value checks; see sg/json.h. */
#include "sg/json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Decodes one code point at s[0..len); returns its byte length, or 0 when
 * the bytes are not valid UTF-8 (overlong forms and surrogates included). */
static size_t utf8_next(const unsigned char *s, size_t len, unsigned *cp)
{
    static const unsigned min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
    unsigned c = s[0];
    size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 0 || n > len)
        return 0;
    unsigned v = n == 1 ? c : c & (0x7F >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min_cp[n] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return n;
}

int sg_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    unsigned cp;
    for (size_t i = 0, n; i < len; i += n)
        if (!(n = utf8_next(p + i, len - i, &cp)))
            return 0;
    return 1;
}

size_t sg_utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static int is_control(unsigned cp)
{
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);
}

/* Valid UTF-8, no NUL; with printable, no control characters; with
 * no_space, no ' ' either. Returns the length in code points or -1. */
static long scan_text(const char *s, size_t len, int printable, int no_space)
{
    const unsigned char *p = (const unsigned char *)s;
    long count = 0;
    unsigned cp;
    for (size_t i = 0, n; i < len; i += n, count++) {
        if (!(n = utf8_next(p + i, len - i, &cp)) || cp == 0)
            return -1;
        if ((printable && is_control(cp)) || (no_space && cp == ' '))
            return -1;
    }
    return count;
}

int sg_is_opaque_id(const char *s)
{
    if (!s)
        return 0;
    long n = scan_text(s, strlen(s), 1, 1);
    return n >= 1 && n <= 128;
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int sg_is_uuid(const char *s)
{
    if (!s || strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !is_hex(s[i]))
            return 0;
    }
    return 1;
}

/* 1 when s is 1..max characters, each a lowercase letter, a digit or one of
 * extra. */
static int word_ok(const char *s, size_t max, const char *extra)
{
    size_t n = 0;
    if (!s)
        return 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (n >= max || !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c && strchr(extra, c))))
            return 0;
    }
    return n >= 1;
}

int sg_is_tag(const char *s)
{
    return word_ok(s, SG_TAG_MAX, "_:-");
}

int sg_is_report_type(const char *s)
{
    return word_ok(s, SG_REPORT_TYPE_MAX, "_");
}

/* A port between p and end: 1..65535, digits only. */
static int port_ok(const char *p, const char *end)
{
    long port = 0;
    if (p == end || end - p > 5)
        return 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        port = port * 10 + (*p - '0');
    }
    return port >= 1 && port <= 65535;
}

int sg_is_http_url(const char *s)
{
    if (!s)
        return 0;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7F)
            return 0;
    const char *host;
    if (strncasecmp(s, "http://", 7) == 0)
        host = s + 7;
    else if (strncasecmp(s, "https://", 8) == 0)
        host = s + 8;
    else
        return 0;
    const char *end = host + strcspn(host, "/?#");
    const char *at = memchr(host, '@', (size_t)(end - host));
    if (at)
        host = at + 1;
    const char *host_end, *port = NULL;
    if (*host == '[') { /* IPv6 literal */
        const char *rb = memchr(host, ']', (size_t)(end - host));
        if (!rb || rb == host + 1)
            return 0;
        host_end = rb + 1;
        if (host_end < end && *host_end != ':')
            return 0;
    } else {
        host_end = memchr(host, ':', (size_t)(end - host));
        if (!host_end)
            host_end = end;
    }
    if (host_end == host)
        return 0;
    if (host_end < end)
        port = host_end + 1;
    return !port || port_ok(port, end);
}

static const char *type_name(sg_jtype t)
{
    switch (t) {
    case SG_JT_STRING: return "a string";
    case SG_JT_INT: return "an integer";
    case SG_JT_NUMBER: return "a number";
    case SG_JT_BOOL: return "a boolean";
    case SG_JT_OBJECT: return "an object";
    case SG_JT_ARRAY: return "an array";
    case SG_JT_STRING_ARRAY: return "an array of strings";
    }
    return "?";
}

static int type_ok(const json_t *v, sg_jtype t)
{
    switch (t) {
    case SG_JT_STRING: return json_is_string(v);
    case SG_JT_INT: return json_is_integer(v);
    case SG_JT_NUMBER: return json_is_number(v);
    case SG_JT_BOOL: return json_is_boolean(v);
    case SG_JT_OBJECT: return json_is_object(v);
    case SG_JT_ARRAY:
    case SG_JT_STRING_ARRAY: return json_is_array(v);
    }
    return 0;
}

/* Checks a string value; `what` names it in the message. */
static int check_string(const json_t *v, const char *what, long long min, long long max, int printable,
                        char *err, size_t errlen)
{
    long n = scan_text(json_string_value(v), json_string_length(v), printable, 0);
    if (n < 0) {
        snprintf(err, errlen, "%s must not contain %s", what, printable ? "control characters" : "NUL");
        return -1;
    }
    if (n < min || (max > 0 && n > max)) {
        if (max > 0)
            snprintf(err, errlen, "%s must be %lld..%lld characters long", what, min, max);
        else
            snprintf(err, errlen, "%s must be at least %lld characters long", what, min);
        return -1;
    }
    return 0;
}

static int check_count(size_t n, const sg_field *f, char *err, size_t errlen)
{
    if ((long long)n < f->min || (f->max > 0 && (long long)n > f->max)) {
        if (f->max > 0)
            snprintf(err, errlen, "field '%s' must have %lld..%lld elements", f->name, f->min, f->max);
        else
            snprintf(err, errlen, "field '%s' must have at least %lld elements", f->name, f->min);
        return -1;
    }
    return 0;
}

static int check_value(const json_t *v, const sg_field *f, char *err, size_t errlen)
{
    char what[160];
    snprintf(what, sizeof what, "field '%s'", f->name);
    if (!type_ok(v, f->type)) {
        snprintf(err, errlen, "field '%s' must be %s", f->name, type_name(f->type));
        return -1;
    }
    switch (f->type) {
    case SG_JT_STRING:
        return check_string(v, what, f->min, f->max, f->printable, err, errlen);
    case SG_JT_INT:
    case SG_JT_NUMBER: {
        /* min = max = 0 would allow only 0, which no field means: unbounded. */
        if (f->min == 0 && f->max == 0)
            return 0;
        double x = json_number_value(v);
        long long i = json_is_integer(v) ? json_integer_value(v) : 0;
        int out = json_is_integer(v) ? (i < f->min || i > f->max) : (x < (double)f->min || x > (double)f->max);
        if (out) {
            snprintf(err, errlen, "field '%s' must be between %lld and %lld", f->name, f->min, f->max);
            return -1;
        }
        return 0;
    }
    case SG_JT_OBJECT:
        if (f->max > 0 && json_dumpb(v, NULL, 0, JSON_COMPACT) > (size_t)f->max) {
            snprintf(err, errlen, "field '%s' must be at most %lld bytes when serialized", f->name, f->max);
            return -1;
        }
        return 0;
    case SG_JT_ARRAY:
        return check_count(json_array_size(v), f, err, errlen);
    case SG_JT_STRING_ARRAY: {
        if (check_count(json_array_size(v), f, err, errlen))
            return -1;
        size_t i;
        const json_t *e;
        json_array_foreach(v, i, e) {
            snprintf(what, sizeof what, "field '%s' element %zu", f->name, i);
            if (!json_is_string(e)) {
                snprintf(err, errlen, "%s must be a string", what);
                return -1;
            }
            if (check_string(e, what, 0, f->elem_max, f->printable, err, errlen))
                return -1;
        }
        return 0;
    }
    case SG_JT_BOOL:
        return 0;
    }
    return 0;
}

int sg_json_validate(const json_t *obj, const sg_field *fields, size_t n, char *err, size_t errlen)
{
    if (!json_is_object(obj)) {
        snprintf(err, errlen, "body must be a JSON object");
        return -1;
    }
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        size_t i = 0;
        while (i < n && strcmp(fields[i].name, key) != 0)
            i++;
        if (i == n) {
            snprintf(err, errlen, "unknown field '%.100s'", key);
            return -1;
        }
    }
    for (size_t i = 0; i < n; i++) {
        v = json_object_get(obj, fields[i].name);
        /* An explicit null is the same as leaving an optional field out. */
        if (!v || json_is_null(v)) {
            if (fields[i].required) {
                snprintf(err, errlen, "field '%s' is required", fields[i].name);
                return -1;
            }
            continue;
        }
        if (check_value(v, &fields[i], err, errlen))
            return -1;
    }
    return 0;
}

const char *sg_json_str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

long long sg_json_int(const json_t *obj, const char *key, long long def)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_integer(v) ? json_integer_value(v) : def;
}

int sg_idempotency_key_ok(const char *key)
{
    size_t n = 0;
    if (!key)
        return 0;
    for (; key[n]; n++)
        if ((unsigned char)key[n] < 0x21 || (unsigned char)key[n] > 0x7e || n >= SG_IDEMPOTENCY_KEY_MAX)
            return 0;
    return n >= 1;
}

int sg_parse_seq(const char *s, long long *out)
{
    char *end;
    long long v;
    if (!s || *s < '1' || *s > '9' || strlen(s) > 19)
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end || v < 1)
        return -1;
    *out = v;
    return 0;
}
