/* Fuzz target: the Authorization header (sg_auth_check) with a fixed JWT
 * secret and API key list, as the server calls it for every request that
 * carries one.
 *
 * Four input shapes:
 *   - "sig:" HEADER: an X-SG-Signature value checked by the reference
 *     verifier (sg_signature_verify) against a fixed body and clock; an
 *     accepted header holds the one correct v1 for its t, within 300 s;
 *   - "scopes:" LIST: an API key's scope list (sg_scopes_parse); an accepted
 *     list grants, through sg_principal_may, exactly the scopes it names;
 *   - anything else: the raw header value (cut at the first NUL);
 *   - "jwt:" HEADER "\n" CLAIMS (or "jwt:" CLAIMS with the default HS256
 *     header): the harness base64url-encodes both and signs them with the
 *     right secret, so the fuzzer gets past the signature and explores the
 *     claim and header checks (alg, exp, nbf, sub, role).
 * Checked beyond memory safety: a refusal leaves *out zeroed; an accepted API
 * key is exactly one of the configured keys; an accepted JWT has alg HS256,
 * a numeric exp in the future, no nbf or a numeric nbf not in the future, a
 * string sub equal to the principal id and a role user|ops matching the
 * principal kind.
 */
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "fuzz_util.h"
#include "sg/auth.h"
#include "sg/digest.h"
#include "sg/json.h"

#define SECRET "fuzz-secret-0123456789abcdef-0123456789"
static const char *const names[] = {"report-web", "reward.ui"};
static const char *const keys[] = {"k3y-report-web-0001", "another_key~42"};
#define KEY_SPEC "report-web:k3y-report-web-0001,reward.ui:another_key~42"
#define MAX_HEADER 16384

static sg_auth *auth;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[256];
    (void)argc, (void)argv;
    auth = sg_auth_create(KEY_SPEC, SECRET, err, sizeof err);
    if (!auth) {
        fprintf(stderr, "fuzz_auth: sg_auth_create: %s\n", err);
        abort();
    }
    return 0;
}

static size_t b64url(const unsigned char *in, size_t n, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        out[o++] = tab[v >> 18 & 63], out[o++] = tab[v >> 12 & 63], out[o++] = tab[v >> 6 & 63],
        out[o++] = tab[v & 63];
    }
    if (n - i == 1) {
        unsigned v = (unsigned)in[i] << 16;
        out[o++] = tab[v >> 18 & 63], out[o++] = tab[v >> 12 & 63];
    } else if (n - i == 2) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
        out[o++] = tab[v >> 18 & 63], out[o++] = tab[v >> 12 & 63], out[o++] = tab[v >> 6 & 63];
    }
    out[o] = '\0';
    return o;
}

/* "Bearer " + b64(header) "." b64(claims) "." b64(HMAC-SHA256). malloc'ed. */
static char *signed_header(const uint8_t *hdr, size_t hlen, const uint8_t *claims, size_t clen)
{
    size_t cap = 7 + (hlen + clen + 32) / 3 * 4 + 16;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    size_t o = 7;
    memcpy(s, "Bearer ", 7);
    o += b64url(hdr, hlen, s + o);
    s[o++] = '.';
    o += b64url(claims, clen, s + o);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;
    if (!HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (const unsigned char *)s + 7, o - 7, mac, &maclen))
        abort();
    s[o++] = '.';
    b64url(mac, maclen, s + o);
    return s;
}

/* An accepted JWT must satisfy the documented contract. hdr/claims are the
 * signed JSON texts (NULL in raw mode, where they are not known). */
static void check_jwt_accepted(const sg_principal *p, const char *hdr, const char *claims, time_t before)
{
    FZ_CHECK(p->kind == SG_AUTH_USER || p->kind == SG_AUTH_OPS, "kind %d", p->kind);
    FZ_CHECK(fz_terminated(p->id, sizeof p->id) && sg_is_opaque_id(p->id), "principal id");
    if (!claims)
        return;
    json_t *h = json_loads(hdr, 0, NULL), *c = json_loads(claims, 0, NULL);
    FZ_CHECK(h && c, "accepted a token whose header or claims are not JSON");
    const char *alg = json_string_value(json_object_get(h, "alg"));
    FZ_CHECK(alg && strcmp(alg, "HS256") == 0, "accepted alg %s", alg ? alg : "(none)");
    /* exp and nbf are RFC 7519 NumericDates: any JSON number. exp must be in
     * the future; nbf, when present, a number not in the future. */
    json_t *exp = json_object_get(c, "exp"), *nbf = json_object_get(c, "nbf");
    FZ_CHECK(json_is_number(exp) && json_number_value(exp) > (double)before - 2, "accepted exp");
    FZ_CHECK(!nbf || (json_is_number(nbf) && json_number_value(nbf) <= (double)time(NULL) + 2),
             "accepted a token with nbf %.17g (type %d)", json_number_value(nbf), nbf ? (int)json_typeof(nbf) : -1);
    const char *sub = json_string_value(json_object_get(c, "sub"));
    const char *role = json_string_value(json_object_get(c, "role"));
    FZ_CHECK(sub && strcmp(sub, p->id) == 0, "sub/id mismatch");
    FZ_CHECK(role && strcmp(role, p->kind == SG_AUTH_USER ? "user" : "ops") == 0, "role/kind mismatch");
    json_decref(h);
    json_decref(c);
}

static void check(const char *header, const char *hdr_json, const char *claims_json)
{
    sg_principal p;
    memset(&p, 0x5A, sizeof p);
    time_t before = time(NULL);
    int rc = sg_auth_check(auth, header, &p);
    if (rc != 0) {
        static const sg_principal zero;
        FZ_CHECK(rc == -1, "rc=%d", rc);
        FZ_CHECK(memcmp(&p, &zero, sizeof p) == 0, "refusal left a principal behind");
        return;
    }
    FZ_CHECK(strncasecmp(header, "Bearer ", 7) == 0, "accepted without Bearer");
    if (p.kind == SG_AUTH_CLIENT) {
        const char *cred = header + 7;
        while (*cred == ' ')
            cred++;
        size_t i = 0;
        while (i < sizeof names / sizeof names[0] && strcmp(names[i], p.id) != 0)
            i++;
        FZ_CHECK(i < sizeof names / sizeof names[0], "unknown client %s", p.id);
        FZ_CHECK(strcmp(cred, keys[i]) == 0, "client %s accepted with another credential", p.id);
        return;
    }
    check_jwt_accepted(&p, hdr_json, claims_json, before);
}

/* An accepted scope list holds only known scope words, and a principal with
 * it may do exactly what the list names. */
static void check_scopes(const char *list, size_t len)
{
    char err[160];
    sg_scopes *s = malloc(sg_scopes_size());
    if (!s)
        return;
    if (sg_scopes_parse(list, len, s, err, sizeof err) == 0) {
        sg_principal p = {.kind = SG_AUTH_CLIENT, .id = "c", .scopes = s};
        char *copy = fz_cstr((const uint8_t *)list, len);
        int named = 0;
        FZ_CHECK(copy && strlen(copy) == len, "accepted a scope list with a NUL");
        for (char *save = NULL, *w = copy ? strtok_r(copy, "|", &save) : NULL; w; w = strtok_r(NULL, "|", &save)) {
            named |= strcmp(w, "profiles") == 0;
            FZ_CHECK(strcmp(w, "profiles") == 0 || strcmp(w, "activity") == 0 || strcmp(w, "report:*") == 0 ||
                         (strncmp(w, "report:", 7) == 0 && sg_is_report_type(w + 7)),
                     "accepted scope \"%s\"", w);
            if (strcmp(w, "report:*") != 0)
                FZ_CHECK(sg_principal_may(&p, w), "scope %s listed but not granted", w);
        }
        FZ_CHECK(sg_principal_may(&p, "profiles") == named, "profiles granted=%d named=%d",
                 sg_principal_may(&p, "profiles"), named);
        free(copy);
    } else {
        FZ_CHECK(err[0] != '\0', "refusal without a message");
    }
    free(s);
}

static void check_signature(const char *header)
{
    static const char body[] = "{\"kind\":\"decided\"}";
    const long long now = 1764979200;
    int rc = sg_signature_verify(SECRET, header, body, sizeof body - 1, now, 300);
    FZ_CHECK(rc == SG_SIG_OK || rc == SG_SIG_MALFORMED || rc == SG_SIG_STALE || rc == SG_SIG_MISMATCH, "rc=%d", rc);
    if (rc != SG_SIG_OK)
        return;
    const char *tp = strstr(header, "t=");
    FZ_CHECK(tp != NULL, "accepted without t");
    long long t = tp ? strtoll(tp + 2, NULL, 10) : 0;
    FZ_CHECK(t >= now - 300 && t <= now + 300, "accepted t=%lld", t);
    char want[SG_SIGNATURE_MAX];
    FZ_CHECK(sg_signature_header(SECRET, t, body, sizeof body - 1, want) == 0, "signing failed");
    FZ_CHECK(strstr(header, strchr(want, ',') + 1) != NULL, "accepted without the right v1");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_HEADER)
        return 0;
    if (size >= 4 && memcmp(data, "sig:", 4) == 0) {
        char *h = fz_cstr(data + 4, size - 4);
        if (h)
            check_signature(h);
        free(h);
        return 0;
    }
    if (size >= 7 && memcmp(data, "scopes:", 7) == 0) {
        check_scopes((const char *)data + 7, size - 7);
        return 0;
    }
    if (size >= 4 && memcmp(data, "jwt:", 4) == 0) {
        static const char def_hdr[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
        const uint8_t *rest = data + 4, *nl = memchr(rest, '\n', size - 4);
        const uint8_t *h = nl ? rest : (const uint8_t *)def_hdr;
        size_t hlen = nl ? (size_t)(nl - rest) : strlen(def_hdr);
        const uint8_t *c = nl ? nl + 1 : rest;
        size_t clen = size - 4 - (nl ? hlen + 1 : 0);
        char *header = signed_header(h, hlen, c, clen);
        char *hs = fz_cstr(h, hlen), *cs = fz_cstr(c, clen); /* libjwt reads them as C strings */
        if (header && hs && cs)
            check(header, hs, cs);
        free(header);
        free(hs);
        free(cs);
        return 0;
    }
    char *header = fz_cstr(data, size);
    if (header)
        check(header, NULL, NULL);
    free(header);
    return 0;
}
