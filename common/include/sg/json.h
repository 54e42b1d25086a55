/* Strict validation of JSON request bodies (jansson) and small value checks.
 *
 * A body is validated against a table of fields: unknown fields, wrong types,
 * missing required fields and out-of-range values/lengths are refused with a
 * message suitable for a 400 detail. String lengths count UTF-8 code points
 * (jansson already refuses invalid UTF-8 when parsing).
 */
#ifndef SG_JSON_H
#define SG_JSON_H

#include <jansson.h>
#include <stddef.h>

typedef enum {
    SG_JT_STRING,       /* min/max: length in code points; printable=1: no control chars */
    SG_JT_INT,          /* min/max: value */
    SG_JT_NUMBER,       /* any JSON number; min/max: value */
    SG_JT_BOOL,
    SG_JT_OBJECT,       /* max: serialized size in bytes (0 = no limit) */
    SG_JT_ARRAY,        /* min/max: element count (elements not checked) */
    SG_JT_STRING_ARRAY, /* min/max: element count; elem_max: code points per element */
} sg_jtype;

typedef struct sg_field {
    const char *name;
    sg_jtype type;
    int required;
    long long min;
    long long max;     /* 0 = no upper bound for strings/arrays/objects */
    int elem_max;      /* SG_JT_STRING_ARRAY only */
    int printable;     /* SG_JT_STRING(_ARRAY): refuse control characters */
} sg_field;

/* Validates `obj` (must be an object) against fields[0..n). Returns 0, or -1
 * with a message in err. Never modifies obj. */
int sg_json_validate(const json_t *obj, const sg_field *fields, size_t n, char *err, size_t errlen);

/* 1 if s[0..len) is valid UTF-8 (no overlong forms, surrogates or code
 * points above U+10FFFF). */
int sg_utf8_valid(const char *s, size_t len);

/* Number of UTF-8 code points in s (s is valid UTF-8). */
size_t sg_utf8_len(const char *s);

/* The platform's identifier grammars, shared by every service (a value one
 * service accepts, every other accepts too). All take NULL (→ 0).
 *
 * An opaque upstream id (user ids, content ids): 1..128 printable
 * characters, no spaces or controls. */
int sg_is_opaque_id(const char *s);
/* A tag (profile tags, pool-rule tags, a voting rule's reviewer_tags):
 * [a-z0-9_:-]{1,SG_TAG_MAX}. */
#define SG_TAG_MAX 64
int sg_is_tag(const char *s);
/* A report type: [a-z0-9_]{1,SG_REPORT_TYPE_MAX}. */
#define SG_REPORT_TYPE_MAX 32
int sg_is_report_type(const char *s);
/* 1 if s is a canonical textual UUID (8-4-4-4-12 hex). */
int sg_is_uuid(const char *s);
/* 1 if s is an http:// or https:// URL with a host, no spaces/control chars. */
int sg_is_http_url(const char *s);

/* Longest accepted Idempotency-Key header value, in bytes. */
#define SG_IDEMPOTENCY_KEY_MAX 128
/* 1 if key (borrowed; NULL gives 0) is an acceptable Idempotency-Key header
 * value: 1..SG_IDEMPOTENCY_KEY_MAX printable ASCII characters 0x21..0x7e
 * (no spaces, controls or non-ASCII bytes); else 0. Pure, no allocation. */
int sg_idempotency_key_ok(const char *key);
/* Parses a sequence cursor: the canonical decimal text of 1..2^63-1 (no sign,
 * no leading zeros, no spaces). Returns 0 with *out set, or -1 with *out
 * untouched (s NULL, empty, malformed or out of range). Pure. */
int sg_parse_seq(const char *s, long long *out);

/* Accessors that return NULL / def when the key is absent or of another type.
 * Returned strings are borrowed from obj. */
const char *sg_json_str(const json_t *obj, const char *key);
long long sg_json_int(const json_t *obj, const char *key, long long def);

#endif
