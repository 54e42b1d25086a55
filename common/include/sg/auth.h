/* Authentication of HTTP callers.
 *
 * Upstream clients present "Bearer <api-key>" (keys from SG_API_KEYS,
 * "name:key,name:key"); people present "Bearer <JWT>" signed HS256 with
 * SG_JWT_SECRET, claims sub, role (user|ops), exp. Verification uses libjwt;
 * alg none, other algorithms, bad signatures, expired or claim-less tokens are
 * refused. API keys are compared in constant time.
 */
#ifndef SG_AUTH_H
#define SG_AUTH_H

#include <stddef.h>

/* Principal kinds; also used as a bit mask of who may call a route. */
enum {
    SG_AUTH_PUBLIC = 0,
    SG_AUTH_CLIENT = 1, /* upstream module, API key; id = client name */
    SG_AUTH_USER = 2,   /* JWT role user; id = sub */
    SG_AUTH_OPS = 4,    /* JWT role ops; id = sub */
};
#define SG_AUTH_PERSON (SG_AUTH_USER | SG_AUTH_OPS)
#define SG_AUTH_ANY (SG_AUTH_CLIENT | SG_AUTH_USER | SG_AUTH_OPS)

typedef struct sg_principal {
    int kind;      /* one of SG_AUTH_CLIENT/USER/OPS, or 0 when anonymous */
    char id[129];  /* client name or JWT sub */
} sg_principal;

typedef struct sg_auth sg_auth; /* opaque, immutable after creation: thread-safe */

/* Parses the API key spec (may be NULL/empty: no clients) and keeps a copy of
 * the secret. Returns NULL with a message on a malformed spec. Free with
 * sg_auth_free. */
sg_auth *sg_auth_create(const char *api_keys_spec, const char *jwt_secret, char *err, size_t errlen);
void sg_auth_free(sg_auth *a);

/* Authenticates an Authorization header value. Returns 0 and fills *out, or
 * -1 (missing, malformed, unknown key, invalid/expired token). */
int sg_auth_check(const sg_auth *a, const char *authorization, sg_principal *out);

/* Makes a signed HS256 JWT (for demo tooling and tests). Returns a malloc'ed
 * string or NULL. */
char *sg_auth_make_jwt(const char *secret, const char *sub, const char *role, long ttl_s);

#endif
