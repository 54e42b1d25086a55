/* API keys and HS256 JWTs; see sg/auth.h. */
#include "sg/auth.h"

#include <errno.h>
#include <jansson.h>
#include <jwt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "sg/digest.h"
#include "sg/json.h"

#define KEY_MIN 8
#define KEY_MAX 256
#define NAME_MAX_LEN 64

struct sg_scopes {
    int profiles, activity, report_any;
    size_t ntypes;
    char types[SG_SCOPE_MAX_REPORT_TYPES][SG_REPORT_TYPE_MAX + 1];
};

typedef struct api_key {
    char name[NAME_MAX_LEN + 1];
    int scoped;        /* 0: every scope */
    sg_scopes scopes;  /* when scoped */
    /* Only the digest is kept: comparing digests in constant time hides both
     * the key bytes and the key length from a timing observer. */
    unsigned char digest[32];
} api_key;

struct sg_auth {
    unsigned char *secret;
    size_t secret_len;
    api_key *keys;
    size_t nkeys;
};

static int name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
}

size_t sg_scopes_size(void)
{
    return sizeof(sg_scopes);
}

int sg_scopes_parse(const char *s, size_t len, sg_scopes *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (len == 0) {
        snprintf(err, errlen, "empty scope list");
        return -1;
    }
    for (size_t i = 0; i <= len;) {
        const char *bar = memchr(s + i, '|', len - i);
        size_t n = bar ? (size_t)(bar - (s + i)) : len - i;
        const char *sc = s + i;
        char type[SG_REPORT_TYPE_MAX + 2];
        if (n == 8 && memcmp(sc, "profiles", 8) == 0) {
            out->profiles = 1;
        } else if (n == 8 && memcmp(sc, "activity", 8) == 0) {
            out->activity = 1;
        } else if (n == 8 && memcmp(sc, "report:*", 8) == 0) {
            out->report_any = 1;
        } else if (n > 7 && n - 7 <= SG_REPORT_TYPE_MAX && memcmp(sc, "report:", 7) == 0) {
            memcpy(type, sc + 7, n - 7);
            type[n - 7] = '\0';
            if (strlen(type) != n - 7 || !sg_is_report_type(type)) /* a NUL inside is not a type */
                goto bad;
            if (out->ntypes == SG_SCOPE_MAX_REPORT_TYPES) {
                snprintf(err, errlen, "more than %d report scopes", SG_SCOPE_MAX_REPORT_TYPES);
                return -1;
            }
            memcpy(out->types[out->ntypes++], type, n - 7 + 1);
        } else {
            goto bad;
        }
        i += n + 1;
        continue;
    bad:
        snprintf(err, errlen, "unknown scope \"%.*s\" (report:<type>, report:*, profiles, activity)",
                 (int)(n > 80 ? 80 : n), sc);
        return -1;
    }
    return 0;
}

int sg_principal_may(const sg_principal *p, const char *scope)
{
    if (!p || !scope || p->kind != SG_AUTH_CLIENT)
        return p && scope && (p->kind & SG_AUTH_PERSON) ? 1 : 0;
    const sg_scopes *s = p->scopes;
    if (!s)
        return 1;
    if (strcmp(scope, "profiles") == 0)
        return s->profiles;
    if (strcmp(scope, "activity") == 0)
        return s->activity;
    if (strncmp(scope, "report:", 7) == 0 && sg_is_report_type(scope + 7)) {
        if (s->report_any)
            return 1;
        for (size_t i = 0; i < s->ntypes; i++)
            if (strcmp(s->types[i], scope + 7) == 0)
                return 1;
    }
    return 0;
}

/* Parses one "name:key[:scopes]" entry of length len into *k. */
static int parse_entry(const char *e, size_t len, size_t index, api_key *k, char *err, size_t errlen)
{
    const char *colon = memchr(e, ':', len);
    if (!colon) {
        snprintf(err, errlen, "entry %zu is not name:key", index);
        return -1;
    }
    size_t nlen = (size_t)(colon - e), klen = len - nlen - 1;
    const char *scopes = memchr(colon + 1, ':', klen);
    if (scopes) {
        char why[160];
        size_t slen = klen - (size_t)(scopes - (colon + 1)) - 1;
        klen = (size_t)(scopes - (colon + 1));
        if (sg_scopes_parse(scopes + 1, slen, &k->scopes, why, sizeof why)) {
            snprintf(err, errlen, "entry %zu (%.*s): %s", index, (int)(nlen > NAME_MAX_LEN ? NAME_MAX_LEN : nlen),
                     e, why);
            return -1;
        }
        k->scoped = 1;
    }
    size_t name_ok = 0, key_ok = 0;
    while (name_ok < nlen && name_char(e[name_ok]))
        name_ok++;
    while (key_ok < klen && colon[1 + key_ok] > ' ' && colon[1 + key_ok] <= '~')
        key_ok++;
    if (nlen == 0 || nlen > NAME_MAX_LEN || name_ok != nlen) {
        snprintf(err, errlen, "entry %zu: client name must be 1..%d of [A-Za-z0-9_.-]", index, NAME_MAX_LEN);
        return -1;
    }
    if (klen < KEY_MIN || klen > KEY_MAX || key_ok != klen) {
        snprintf(err, errlen, "entry %zu (%.*s): key must be %d..%d printable characters without spaces",
                 index, (int)nlen, e, KEY_MIN, KEY_MAX);
        return -1;
    }
    memcpy(k->name, e, nlen);
    k->name[nlen] = '\0';
    if (sg_sha256(colon + 1, klen, k->digest)) {
        snprintf(err, errlen, "SHA-256 unavailable");
        return -1;
    }
    return 0;
}

static int parse_keys(sg_auth *a, const char *spec, char *err, size_t errlen)
{
    size_t cap = 1;
    for (const char *p = spec; *p; p++)
        cap += *p == ',';
    a->keys = calloc(cap, sizeof *a->keys);
    if (!a->keys) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    const char *p = spec;
    while (*p) {
        size_t len = strcspn(p, ",");
        api_key *k = &a->keys[a->nkeys];
        if (parse_entry(p, len, a->nkeys + 1, k, err, errlen))
            return -1;
        for (size_t i = 0; i < a->nkeys; i++) {
            if (strcmp(a->keys[i].name, k->name) == 0 || memcmp(a->keys[i].digest, k->digest, 32) == 0) {
                snprintf(err, errlen, "entry %zu (%s) repeats a client name or key", a->nkeys + 1, k->name);
                return -1;
            }
        }
        a->nkeys++;
        p += len;
        if (*p == ',' && !*++p) {
            snprintf(err, errlen, "trailing comma");
            return -1;
        }
    }
    return 0;
}

sg_auth *sg_auth_create(const char *api_keys_spec, const char *jwt_secret, char *err, size_t errlen)
{
    sg_auth *a = calloc(1, sizeof *a);
    int rc = -1;
    if (!a || !jwt_secret) {
        snprintf(err, errlen, a ? "JWT secret missing" : "out of memory");
        goto cleanup;
    }
    a->secret_len = strlen(jwt_secret);
    a->secret = (unsigned char *)strdup(jwt_secret);
    if (!a->secret) {
        snprintf(err, errlen, "out of memory");
        goto cleanup;
    }
    if (parse_keys(a, api_keys_spec ? api_keys_spec : "", err, errlen))
        goto cleanup;
    rc = 0;
cleanup:
    if (rc) {
        sg_auth_free(a);
        a = NULL;
    }
    return a;
}

void sg_auth_free(sg_auth *a)
{
    if (!a)
        return;
    if (a->secret)
        OPENSSL_cleanse(a->secret, a->secret_len);
    free(a->secret);
    free(a->keys);
    free(a);
}

/* Finds the client whose key is `cred`. Every key is compared, so the time
 * taken does not say which one (if any) matched. */
static int check_api_key(const sg_auth *a, const char *cred, sg_principal *out)
{
    unsigned char d[32];
    if (sg_sha256(cred, strlen(cred), d))
        return -1;
    const api_key *found = NULL;
    for (size_t i = 0; i < a->nkeys; i++)
        if (CRYPTO_memcmp(a->keys[i].digest, d, sizeof d) == 0)
            found = &a->keys[i];
    if (!found)
        return -1;
    out->kind = SG_AUTH_CLIENT;
    snprintf(out->id, sizeof out->id, "%s", found->name);
    out->scopes = found->scoped ? &found->scopes : NULL;
    return 0;
}

/* Reads a NumericDate claim (RFC 7519: any JSON number, not only integers).
 * jwt_get_grant_int cannot tell a non-integer claim from an absent one, so the
 * claim is read as JSON. Returns 1 with *out set, 0 when absent, -1 when
 * present but not a number. */
static int numeric_claim(jwt_t *jwt, const char *name, double *out)
{
    char *text = jwt_get_grants_json(jwt, name);
    json_t *v = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
    int rc = !text ? 0 : json_is_number(v) ? 1 : -1;
    if (rc == 1)
        *out = json_number_value(v);
    json_decref(v);
    free(text);
    return rc;
}

static int check_jwt(const sg_auth *a, const char *token, sg_principal *out)
{
    jwt_t *jwt = NULL;
    int rc = -1;
    if (jwt_decode(&jwt, token, a->secret, (int)a->secret_len) != 0 || !jwt)
        goto cleanup;
    /* jwt_decode verifies with whatever alg the token names; only HS256 is
     * ours (refuses "none" and HS384/HS512 signed with the same secret). */
    if (jwt_get_alg(jwt) != JWT_ALG_HS256)
        goto cleanup;
    double now = (double)time(NULL), exp, nbf;
    if (numeric_claim(jwt, "exp", &exp) != 1 || exp <= now)
        goto cleanup;
    int has_nbf = numeric_claim(jwt, "nbf", &nbf);
    if (has_nbf < 0 || (has_nbf == 1 && nbf > now))
        goto cleanup;
    const char *sub = jwt_get_grant(jwt, "sub");
    const char *role = jwt_get_grant(jwt, "role");
    if (!sub || !sg_is_opaque_id(sub) || strlen(sub) >= sizeof out->id || !role)
        goto cleanup;
    if (strcmp(role, "user") == 0)
        out->kind = SG_AUTH_USER;
    else if (strcmp(role, "ops") == 0)
        out->kind = SG_AUTH_OPS;
    else
        goto cleanup;
    snprintf(out->id, sizeof out->id, "%s", sub);
    rc = 0;
cleanup:
    jwt_free(jwt);
    return rc;
}

int sg_auth_check(const sg_auth *a, const char *authorization, sg_principal *out)
{
    memset(out, 0, sizeof *out);
    if (!a || !authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
        return -1;
    const char *cred = authorization + 7;
    while (*cred == ' ')
        cred++;
    if (!*cred || strlen(cred) > 8192)
        return -1;
    if (check_api_key(a, cred, out) == 0)
        return 0;
    int rc = strchr(cred, '.') ? check_jwt(a, cred, out) : -1;
    if (rc)
        memset(out, 0, sizeof *out);
    return rc;
}

char *sg_auth_make_jwt(const char *secret, const char *sub, const char *role, long ttl_s)
{
    jwt_t *jwt = NULL;
    char *tok = NULL;
    long now = (long)time(NULL);
    if (!secret || !sub || !role || jwt_new(&jwt) != 0)
        goto cleanup;
    if (jwt_add_grant(jwt, "sub", sub) || jwt_add_grant(jwt, "role", role) ||
        jwt_add_grant_int(jwt, "iat", now) || jwt_add_grant_int(jwt, "exp", now + ttl_s) ||
        jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)secret, (int)strlen(secret)))
        goto cleanup;
    tok = jwt_encode_str(jwt); /* malloc'ed: libjwt 1.10 has no allocator hooks */
cleanup:
    jwt_free(jwt);
    return tok;
}
