/* SHA-256 and HMAC-SHA256 via OpenSSL; see digest.h. */
#include "sg/digest.h"

#include <limits.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

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
