/* SHA-256 and HMAC-SHA256 via OpenSSL; see digest.h. */
#include "sg/digest.h"

#include <limits.h>
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void to_hex(const unsigned char *in, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * n] = '\0';
}

int sg_sha256(const void *data, size_t len, unsigned char out[SG_SHA256_LEN])
{
    unsigned int n = 0;
    return EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) == 1 && n == SG_SHA256_LEN ? 0 : -1;
}

int sg_sha256_hex(const void *data, size_t len, char out[SG_SHA256_HEX_LEN + 1])
{
    unsigned char md[SG_SHA256_LEN];
    if (sg_sha256(data, len, md))
        return -1;
    to_hex(md, sizeof md, out);
    return 0;
}

int sg_hmac_sha256_hex(const void *key, size_t keylen, const void *data, size_t len,
                       char out[SG_SHA256_HEX_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (keylen > INT_MAX || !HMAC(EVP_sha256(), key, (int)keylen, data, len, md, &mdlen) ||
        mdlen != SG_SHA256_LEN)
        return -1;
    to_hex(md, mdlen, out);
    return 0;
}

/* HMAC of "<t>.<body>" under secret, as hex. */
static int signed_hex(const char *secret, long long t, const void *body, size_t len, char out[SG_SHA256_HEX_LEN + 1])
{
    char ts[24];
    int n = snprintf(ts, sizeof ts, "%lld.", t);
    size_t total = (size_t)n + len;
    int rc = -1;
    if (n < 0 || !secret || total < len)
        return -1;
    unsigned char *msg = malloc(total ? total : 1);
    if (!msg)
        return -1;
    memcpy(msg, ts, (size_t)n);
    if (len)
        memcpy(msg + n, body, len);
    rc = sg_hmac_sha256_hex(secret, strlen(secret), msg, total, out);
    free(msg);
    return rc;
}

int sg_signature_header(const char *secret, long long t, const void *body, size_t len, char out[SG_SIGNATURE_MAX])
{
    char hex[SG_SHA256_HEX_LEN + 1];
    if (signed_hex(secret, t, body, len, hex))
        return -1;
    return snprintf(out, SG_SIGNATURE_MAX, "t=%lld,v1=%s", t, hex) < SG_SIGNATURE_MAX ? 0 : -1;
}

static int is_hex64(const char *s, size_t n)
{
    if (n != SG_SHA256_HEX_LEN)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

int sg_signature_verify(const char *secret, const char *header, const void *body, size_t len, long long now,
                        long tolerance_s)
{
    long long t = -1;
    int have_t = 0, nv1 = 0;
    const char *v1[8];

    if (!secret || !header)
        return SG_SIG_MALFORMED;
    for (const char *p = header;;) {
        size_t n = strcspn(p, ",");
        const char *eq = memchr(p, '=', n);
        if (!eq)
            return SG_SIG_MALFORMED;
        size_t klen = (size_t)(eq - p), vlen = n - klen - 1;
        const char *v = eq + 1;
        if (klen == 1 && p[0] == 't') {
            if (have_t || vlen == 0 || vlen > 18)
                return SG_SIG_MALFORMED;
            t = 0;
            for (size_t i = 0; i < vlen; i++) {
                if (v[i] < '0' || v[i] > '9')
                    return SG_SIG_MALFORMED;
                t = t * 10 + (v[i] - '0');
            }
            have_t = 1;
        } else if (klen == 2 && p[0] == 'v' && p[1] == '1') {
            if (!is_hex64(v, vlen) || nv1 == (int)(sizeof v1 / sizeof v1[0]))
                return SG_SIG_MALFORMED;
            v1[nv1++] = v;
        }
        if (!p[n])
            break;
        p += n + 1;
    }
    if (!have_t || nv1 == 0)
        return SG_SIG_MALFORMED;
    if (t > now + tolerance_s || t < now - tolerance_s)
        return SG_SIG_STALE;
    char want[SG_SHA256_HEX_LEN + 1];
    if (signed_hex(secret, t, body, len, want))
        return SG_SIG_MISMATCH;
    int match = 0;
    for (int i = 0; i < nv1; i++)
        match |= CRYPTO_memcmp(want, v1[i], SG_SHA256_HEX_LEN) == 0;
    return match ? SG_SIG_OK : SG_SIG_MISMATCH;
}
