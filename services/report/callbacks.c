/* Upstream callbacks: POST the outcome payload, signed with HMAC-SHA256,
 * over libcurl, outside any database transaction (the row is leased while
 * the call runs). */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include "decision.h"
#include "svc.h"
#include "sg/digest.h"
#include "sg/log.h"
#include "store.h"
#include "workers.h"

/* The lease must outlast the call and the recording of its result. */
#define LEASE_MARGIN_S 30

static size_t discard(char *ptr, size_t size, size_t nmemb, void *ud)
{
    (void)ptr;
    (void)ud;
    return size * nmemb;
}

/* "sha256=" + 64 hex digits + NUL: the X-SG-Signature header value. */
#define SIGNATURE_LEN (7 + SG_SHA256_HEX_LEN + 1)

/* Writes "sha256=<hex HMAC-SHA256(body, secret)>" into out. 0 or -1. */
static int sign(const char *secret, const char *body, char out[SIGNATURE_LEN])
{
    memcpy(out, "sha256=", 7);
    return sg_hmac_sha256_hex(secret, strlen(secret), body, strlen(body), out + 7);
}

/* POSTs body to url; returns the HTTP status, or 0 with err filled. */
static int post(const rp_svc *s, const rp_callback *cb, const char *signature, char *err, size_t errlen)
{
    char sig_header[SIGNATURE_LEN + 32], case_header[64], errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *headers = NULL, *h;
    long status = 0;
    CURLcode rc;
    CURL *curl = curl_easy_init();

    if (!curl) {
        snprintf(err, errlen, "curl_easy_init failed");
        return 0;
    }
    snprintf(sig_header, sizeof sig_header, "X-SG-Signature: %s", signature);
    snprintf(case_header, sizeof case_header, "X-SG-Case-Id: %s", cb->case_id);
    const char *lines[] = {"Content-Type: application/json", sig_header, case_header, "Expect:"};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        if (!(h = curl_slist_append(headers, lines[i]))) {
            snprintf(err, errlen, "out of memory");
            goto cleanup;
        }
        headers = h;
    }
    curl_easy_setopt(curl, CURLOPT_URL, cb->url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, cb->body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(cb->body));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, s->callback_timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, s->callback_timeout_ms);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "socialgov-report/1");
    rc = curl_easy_perform(curl);
    if (rc != CURLE_OK)
        snprintf(err, errlen, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
    else
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
cleanup:
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return (int)status;
}

int rp_callbacks_tick(void *ctx)
{
    rp_svc *s = ctx;
    rp_callback cb;
    char signature[SIGNATURE_LEN], err[CURL_ERROR_SIZE + 32] = "";
    int lease_s = (int)(s->callback_timeout_ms / 1000) + LEASE_MARGIN_S, status = 0;
    int got = rp_store_callback_claim(s->app->pg, lease_s, &cb);

    if (got <= 0)
        return got;
    if (sign(s->callback_secret, cb.body, signature))
        snprintf(err, sizeof err, "cannot sign the body");
    else
        status = post(s, &cb, signature, err, sizeof err);
    if (status)
        sg_info("callback %s attempt %d to %s: HTTP %d", cb.id, cb.attempts + 1, cb.url, status);
    else
        sg_info("callback %s attempt %d to %s: %s", cb.id, cb.attempts + 1, cb.url, err);
    if (rp_store_callback_record(s->app->pg, &cb, status, err, (int)s->callback_max_attempts,
                              rp_callback_backoff_s(cb.attempts + 1, s->callback_max_backoff_s)))
        sg_warn("callback %s: result not recorded; retried when its lease ends", cb.id);
    rp_store_callback_free(&cb);
    return 1;
}
