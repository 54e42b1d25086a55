/* Hashes used by the service, on OpenSSL: SHA-256 of request bodies (the
 * idempotency fingerprint) and the HMAC-SHA256 signature of callbacks.
 */
#ifndef REPORT_DIGEST_H
#define REPORT_DIGEST_H

#include <stddef.h>

#define DIGEST_HEX_LEN 64
/* "sha256=" + 64 hex digits + NUL */
#define SIGNATURE_LEN (7 + DIGEST_HEX_LEN + 1)

/* Writes the lowercase hex SHA-256 of data into out (65 bytes). 0 or -1. */
int digest_sha256_hex(const void *data, size_t len, char out[DIGEST_HEX_LEN + 1]);

/* Writes "sha256=<hex HMAC-SHA256(body, secret)>" into out, the value of
 * the X-SG-Signature header. 0 or -1. */
int digest_signature(const char *secret, const void *body, size_t len, char out[SIGNATURE_LEN]);

#endif
