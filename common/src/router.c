/* Path pattern matching; see sg/router.h. */
#include "sg/router.h"

#include <string.h>

#include "sg/json.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes src[0..len) into dst[SG_PARAM_MAX]. Refuses a malformed
 * escape, %00 (the value is used as a C string) and bytes that are not UTF-8
 * (the value reaches PostgreSQL, which would refuse it later as a 500). */
static int decode(const char *src, size_t len, char *dst)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++, o++) {
        if (o == SG_PARAM_MAX - 1)
            return -1;
        if (src[i] != '%') {
            dst[o] = src[i];
            continue;
        }
        if (len - i < 3 || hexval(src[i + 1]) < 0 || hexval(src[i + 2]) < 0)
            return -1;
        dst[o] = (char)(hexval(src[i + 1]) * 16 + hexval(src[i + 2]));
        if (dst[o] == '\0')
            return -1;
        i += 2;
    }
    dst[o] = '\0';
    return o > 0 && sg_utf8_valid(dst, o) ? 0 : -1;
}

int sg_route_match(const char *pattern, const char *path, sg_params *out)
{
    const char *pp = pattern, *sp = path;
    out->n = 0;
    while (*pp) {
        if (*pp != '{') {
            if (*pp++ != *sp++)
                return 0;
            continue;
        }
        const char *close = strchr(pp, '}');
        if (!close || out->n == SG_MAX_PARAMS)
            return 0;
        /* Literal text after the parameter in the same segment ("{id}:x")
         * must end the path segment. */
        const char *after = close + 1;
        size_t suffix = strcspn(after, "/");
        size_t seg = strcspn(sp, "/");
        if (seg <= suffix || memcmp(sp + seg - suffix, after, suffix) != 0)
            return 0;
        if (decode(sp, seg - suffix, out->values[out->n]) != 0)
            return 0;
        out->names[out->n++] = pp + 1;
        pp = after + suffix;
        sp += seg;
    }
    return *sp == '\0';
}

const char *sg_params_get(const sg_params *p, const char *name)
{
    size_t len = strlen(name);
    for (int i = 0; i < p->n; i++)
        if (strncmp(p->names[i], name, len) == 0 && p->names[i][len] == '}')
            return p->values[i];
    return NULL;
}
