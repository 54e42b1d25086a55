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

/* ---- signed outbound calls (callbacks, push gateway) ----
 * X-SG-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">.
 * The time is part of what is signed, so a captured call cannot be replayed
 * once the receiver's tolerance (API.md: 5 minutes) has passed; the event id
 * (X-SG-Event-Id) lets the receiver drop a repeat inside it. */

/* Longest header value sg_signature_header writes, with the NUL. */
#define SG_SIGNATURE_MAX (2 + 20 + 4 + SG_SHA256_HEX_LEN + 1)

/* Writes "t=<t>,v1=<hex>" for body[0..len) under secret into out. 0 or -1. */
int sg_signature_header(const char *secret, long long t, const void *body, size_t len, char out[SG_SIGNATURE_MAX]);

enum {
    SG_SIG_OK = 0,
    SG_SIG_MALFORMED = -1, /* not "t=<digits>,v1=<64 hex>[,...]" */
    SG_SIG_STALE = -2,     /* |now - t| > tolerance_s */
    SG_SIG_MISMATCH = -3,  /* no v1 matches */
};

/* The receiver's check (a reference for upstream modules; the test receivers
 * do the same): parses header (NUL-terminated; entries "k=v" separated by
 * ',', unknown keys ignored, exactly one t, one or more v1), refuses a t
 * more than tolerance_s away from now, and compares each v1 with the
 * expected HMAC in constant time. Returns an SG_SIG_* code. */
int sg_signature_verify(const char *secret, const char *header, const void *body, size_t len, long long now,
                        long tolerance_s);

#endif
