/* Authentication of HTTP callers.
 *
 * Upstream clients present "Bearer <api-key>" (keys from SG_API_KEYS,
 * "name:key,name:key"; an entry may end with scopes, "name:key:scope|scope",
 * see sg_principal_may; a key then cannot contain ':'); people present "Bearer <JWT>" signed HS256 with
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

typedef struct sg_scopes sg_scopes; /* a client's scopes, owned by its sg_auth */

typedef struct sg_principal {
    int kind;      /* one of SG_AUTH_CLIENT/USER/OPS, or 0 when anonymous */
    char id[129];  /* client name or JWT sub */
    const sg_scopes *scopes; /* SG_AUTH_CLIENT with scopes: borrowed from the
                              * sg_auth (lives as long as it); NULL: all */
} sg_principal;

/* Scopes of an API key (SG_API_KEYS "name:key:scope|scope|..."):
 *   report:<report_type>  file reports of that type
 *   report:*              file reports of any type
 *   profiles              POST /v1/profiles:batch
 *   activity              POST /v1/activity:batch
 * An entry without scopes has all of them. */
#define SG_SCOPE_MAX_REPORT_TYPES 32

/* 1 when p may act within `scope` ("report:<type>", "profiles",
 * "activity"): a client whose key has that scope (or no scope list), or any
 * person (people are governed by their role, not by scopes); else 0. Pure. */
int sg_principal_may(const sg_principal *p, const char *scope);

/* Parses a scope list "scope|scope|..." (len bytes at s; no NUL needed).
 * Returns 0 and fills *out (caller-allocated, see sg_scopes_size), or -1 with
 * a message naming the bad scope. Exposed for tests and fuzzing. */
int sg_scopes_parse(const char *s, size_t len, sg_scopes *out, char *err, size_t errlen);
/* sizeof(sg_scopes), for callers that allocate one. */
size_t sg_scopes_size(void);

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
