/* Path patterns with {name} parameters: "/v1/cases/{id}/votes".
 * A parameter matches one non-empty path segment (no '/'); literal text
 * (including ':' as in "/v1/profiles:batch") must match exactly. Pure
 * functions, no allocation.
 */
#ifndef SG_ROUTER_H
#define SG_ROUTER_H

#include <stddef.h>

#define SG_MAX_PARAMS 4
#define SG_PARAM_MAX 256

typedef struct sg_params {
    int n;
    const char *names[SG_MAX_PARAMS]; /* point into the pattern */
    char values[SG_MAX_PARAMS][SG_PARAM_MAX]; /* copied, percent-decoded */
} sg_params;

/* Returns 1 and fills *out when `path` matches `pattern`, else 0. A segment
 * longer than SG_PARAM_MAX-1 or with bad percent-encoding does not match. */
int sg_route_match(const char *pattern, const char *path, sg_params *out);

/* Value of parameter `name` or NULL. Borrowed from p. */
const char *sg_params_get(const sg_params *p, const char *name);

#endif
