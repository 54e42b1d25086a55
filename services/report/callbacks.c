/* Upstream callbacks: POST the outcome payload over libcurl, outside any
 * database transaction (the row is leased while the call runs), signed
 * "X-SG-Signature: t=<attempt time>,v1=<HMAC>" with the delivery's
 * X-SG-Event-Id.
 *
 * The network is hostile (DESIGN.md "Trust boundaries"):
 *   - every address a host name resolves to is checked before libcurl
 *     connects to it (CURLOPT_OPENSOCKETFUNCTION); a blocked one fails the
 *     callback for good, and no later address of that call is tried;
 *   - no proxy from the environment (the checked address is the one
 *     connected to), no redirects, http(s) only, a connect and a total
 *     timeout;
 *   - a host never holds more than half of the delivery workers: a worker
 *     claims only rows whose host is under its share, so a receiver that
 *     hangs leaves the other half to everyone else;
 *   - logs and the audit trail get the URL without userinfo and query.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include "decision.h"
#include "svc.h"
#include "sg/digest.h"
#include "sg/log.h"
#include "sg/urlpolicy.h"
#include "store.h"

/* The lease must outlast the call and the recording of its result. */
#define LEASE_MARGIN_S 30

/* What the open-socket callback learnt about the addresses. */
typedef struct dial {
    const sg_allowlist *allow;
    const char *host;
    char blocked[64]; /* "" or the class of the refused address */
} dial;

static curl_socket_t open_checked(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
    dial *d = ud;
    const char *why = NULL;
    (void)purpose;
    /* Once one address was refused, none is tried: the callback fails. */
    if (d->blocked[0])
        return CURL_SOCKET_BAD;
    if (!sg_addr_allowed(d->allow, d->host, &a->addr, &why)) {
        snprintf(d->blocked, sizeof d->blocked, "%s", why ? why : "blocked");
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype, a->protocol);
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *ud)
{
    (void)ptr;
    (void)ud;
    return size * nmemb;
}

/* POSTs the callback; returns the HTTP status, or 0 with err filled
 * (*blocked = 1 when the URL or an address is refused by the policy). */
static int post(const rp_svc *s, const rp_callback *cb, char *err, size_t errlen, int *blocked)
{
    char sig[SG_SIGNATURE_MAX], sig_header[SG_SIGNATURE_MAX + 32], case_header[64], event_header[64];
    char errbuf[CURL_ERROR_SIZE] = "", perr[256];
    struct curl_slist *headers = NULL, *h;
    size_t blen = strlen(cb->body);
    dial d = {s->callback_allow, cb->host, ""};
    long status = 0;
    CURLcode rc;
    CURL *curl = NULL;

    *blocked = 0;
    /* The policy may have changed since intake (SG_CALLBACK_ALLOW_HOSTS). */
    if (sg_callback_url_check(s->callback_allow, cb->url, perr, sizeof perr)) {
        snprintf(err, errlen, "blocked_address: %s", perr);
        *blocked = 1;
        return 0;
    }
    /* t is the time of this attempt: a receiver refuses a stale one. */
    if (sg_signature_header(s->callback_secret, (long long)time(NULL), cb->body, blen, sig)) {
        snprintf(err, errlen, "cannot sign the body");
        return 0;
    }
    if (!(curl = curl_easy_init())) {
        snprintf(err, errlen, "curl_easy_init failed");
        return 0;
    }
    snprintf(sig_header, sizeof sig_header, "X-SG-Signature: %s", sig);
    snprintf(event_header, sizeof event_header, "X-SG-Event-Id: %s", cb->event_id);
    snprintf(case_header, sizeof case_header, "X-SG-Case-Id: %s", cb->case_id);
    const char *lines[] = {"Content-Type: application/json", sig_header, event_header, case_header, "Expect:"};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        if (!(h = curl_slist_append(headers, lines[i]))) {
            snprintf(err, errlen, "out of memory");
            goto cleanup;
        }
        headers = h;
    }
    curl_easy_setopt(curl, CURLOPT_URL, cb->url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_PROXY, "");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, open_checked);
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, &d);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, cb->body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)blen);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, s->callback_timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, s->callback_timeout_ms);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "socialgov-report/1");
    rc = curl_easy_perform(curl);
    if (d.blocked[0]) {
        snprintf(err, errlen, "blocked_address: %s resolves to a %s address", cb->host, d.blocked);
        *blocked = 1;
    } else if (rc != CURLE_OK) {
        /* libcurl's messages name the host, never the path or query. */
        snprintf(err, errlen, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
    } else {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    }
cleanup:
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return *blocked ? 0 : (int)status;
}

/* The hosts at their share, as an array of borrowed strings (n <= slots).
 * Caller holds cb_lock. */
static size_t busy_hosts(const rp_svc *s, const char **out)
{
    size_t n = 0;
    int share = (int)(s->callback_workers / 2);
    for (long i = 0; i < s->callback_workers; i++)
        if (s->cb_hosts[i].host && s->cb_hosts[i].busy >= share)
            out[n++] = s->cb_hosts[i].host;
    return n;
}

/* Counts a delivery to host in (+1) or out (-1). Caller holds cb_lock. A
 * host with a delivery in flight always has a slot: there are as many slots
 * as workers. */
static void host_count(rp_svc *s, const char *host, int delta)
{
    rp_host_slot *free_slot = NULL;
    for (long i = 0; i < s->callback_workers; i++) {
        rp_host_slot *h = &s->cb_hosts[i];
        if (h->host && strcmp(h->host, host) == 0) {
            h->busy += delta;
            if (h->busy <= 0) {
                free(h->host);
                h->host = NULL;
                h->busy = 0;
            }
            return;
        }
        if (!h->host && !free_slot)
            free_slot = h;
    }
    if (delta > 0 && free_slot && (free_slot->host = strdup(host)))
        free_slot->busy = delta;
}

int rp_callbacks_tick(void *ctx)
{
    rp_svc *s = ctx;
    rp_callback cb;
    char err[CURL_ERROR_SIZE + 300] = "";
    int lease_s = (int)(s->callback_timeout_ms / 1000) + LEASE_MARGIN_S, status = 0, blocked = 0, got;
    const char *busy[RP_CALLBACK_WORKERS_MAX];

    /* Claiming under the lock makes "under its share" exact within this
     * process: two workers cannot both take a host's last free place. */
    pthread_mutex_lock(&s->cb_lock);
    got = rp_store_callback_claim(s->app->pg, lease_s, busy, busy_hosts(s, busy), &cb);
    if (got > 0)
        host_count(s, cb.host, +1);
    pthread_mutex_unlock(&s->cb_lock);
    if (got <= 0)
        return got;

    status = post(s, &cb, err, sizeof err, &blocked);

    pthread_mutex_lock(&s->cb_lock);
    host_count(s, cb.host, -1);
    pthread_mutex_unlock(&s->cb_lock);

    if (status)
        sg_info("callback %s attempt %d to %s: HTTP %d", cb.id, cb.attempts + 1, cb.url_redacted, status);
    else
        sg_info("callback %s attempt %d to %s: %s", cb.id, cb.attempts + 1, cb.url_redacted, err);
    if (rp_store_callback_record(s->app->pg, &cb, status, err, blocked, (int)s->callback_max_attempts,
                                 rp_callback_backoff_s(cb.attempts + 1, s->callback_max_backoff_s)))
        sg_warn("callback %s: result not recorded; retried when its lease ends", cb.id);
    rp_store_callback_free(&cb);
    return 1;
}
