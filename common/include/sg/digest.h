/* SHA-256 and HMAC-SHA256 on OpenSSL (EVP / HMAC), for fingerprints of
 * request bodies, hashed credentials and webhook signatures. Thread-safe,
 * no allocation visible to the caller; outputs go to caller-owned buffers.
 */
#ifndef SG_DIGEST_H
#define SG_DIGEST_H

#include <stddef.h>

#define SG_SHA256_LEN 32     /* raw digest bytes */
#define SG_SHA256_HEX_LEN 64 /* hex digits, without the NUL */

/* Writes the raw SHA-256 of data[0..len) into out (32 bytes, caller-owned).
 * Returns 0, or -1 when OpenSSL fails (out then undefined). */
int sg_sha256(const void *data, size_t len, unsigned char out[SG_SHA256_LEN]);

/* Writes the lowercase hex SHA-256 of data[0..len) into out (65 bytes,
 * caller-owned, NUL-terminated). Returns 0, or -1 when OpenSSL fails. */
int sg_sha256_hex(const void *data, size_t len, char out[SG_SHA256_HEX_LEN + 1]);

/* Writes the lowercase hex HMAC-SHA256 of data[0..len) under key[0..keylen)
 * into out (65 bytes, caller-owned, NUL-terminated). Returns 0, or -1 when
 * OpenSSL fails or keylen does not fit an int. */
int sg_hmac_sha256_hex(const void *key, size_t keylen, const void *data, size_t len,
                       char out[SG_SHA256_HEX_LEN + 1]);

#endif
