/* SHA-256 and HMAC-SHA256 via OpenSSL; see digest.h. */
#include "digest.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
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

int digest_sha256_hex(const void *data, size_t len, char out[DIGEST_HEX_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
        return -1;
    to_hex(md, mdlen, out);
    return 0;
}

int digest_signature(const char *secret, const void *body, size_t len, char out[SIGNATURE_LEN])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), body, len, md, &mdlen) || mdlen != 32)
        return -1;
    memcpy(out, "sha256=", 7);
    to_hex(md, mdlen, out + 7);
    return 0;
}
