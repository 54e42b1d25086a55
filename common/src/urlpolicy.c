/* Outbound URL and address policy; see urlpolicy.h. */
#include "sg/urlpolicy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HOST_MAX 255

typedef struct entry {
    int is_net;              /* 0: a host name */
    char name[HOST_MAX + 1]; /* lowercase host name */
    int family;              /* AF_INET / AF_INET6 (is_net) */
    unsigned char addr[16];
    int prefix;              /* bits */
} entry;

struct sg_allowlist {
    size_t n;
    entry *e;
};

const char *sg_addr_class_name(sg_addr_class c)
{
    static const char *const names[] = {"public",    "loopback",  "private",     "link_local",
                                        "cgnat",     "multicast", "unspecified", "reserved"};
    return (unsigned)c < sizeof names / sizeof names[0] ? names[c] : "reserved";
}

static sg_addr_class classify_v4(const unsigned char a[4])
{
    uint32_t v = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
    if (a[0] == 0)
        return SG_ADDR_UNSPECIFIED;
    if (a[0] == 127)
        return SG_ADDR_LOOPBACK;
    if (a[0] == 10 || (v & 0xFFF00000u) == 0xAC100000u || (v & 0xFFFF0000u) == 0xC0A80000u)
        return SG_ADDR_PRIVATE;
    if ((v & 0xFFFF0000u) == 0xA9FE0000u)
        return SG_ADDR_LINK_LOCAL;
    if ((v & 0xFFC00000u) == 0x64400000u)
        return SG_ADDR_CGNAT;
    if (v == 0xFFFFFFFFu || (a[0] & 0xF0) == 0xE0)
        return SG_ADDR_MULTICAST;
    if ((a[0] & 0xF0) == 0xF0)
        return SG_ADDR_RESERVED;
    return SG_ADDR_PUBLIC;
}

static sg_addr_class classify_v6(const unsigned char a[16])
{
    static const unsigned char zero[16], mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF},
                                         nat64[12] = {0, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0};
    if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0)
        return classify_v4(a + 12);
    if (memcmp(a, zero, 16) == 0)
        return SG_ADDR_UNSPECIFIED;
    if (memcmp(a, zero, 15) == 0 && a[15] == 1)
        return SG_ADDR_LOOPBACK;
    if (memcmp(a, zero, 12) == 0) /* IPv4-compatible (deprecated): as the IPv4 */
        return classify_v4(a + 12);
    if ((a[0] & 0xFE) == 0xFC)
        return SG_ADDR_PRIVATE;
    if (a[0] == 0xFE && (a[1] & 0xC0) == 0x80)
        return SG_ADDR_LINK_LOCAL;
    if (a[0] == 0xFF)
        return SG_ADDR_MULTICAST;
    return SG_ADDR_PUBLIC;
}

sg_addr_class sg_addr_classify(const struct sockaddr *sa)
{
    if (sa && sa->sa_family == AF_INET)
        return classify_v4((const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr);
    if (sa && sa->sa_family == AF_INET6)
        return classify_v6(((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr);
    return SG_ADDR_RESERVED;
}

/* Parses an IP literal (IPv6 with or without brackets). 0 or -1. */
static int parse_ip(const char *s, size_t len, int *family, unsigned char out[16])
{
    char buf[64];
    if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
        s++;
        len -= 2;
    }
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (inet_pton(AF_INET, buf, out) == 1) {
        *family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, buf, out) == 1) {
        *family = AF_INET6;
        return 0;
    }
    return -1;
}

static int host_name_ok(const char *s, size_t len)
{
    if (len == 0 || len > HOST_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

static int parse_entry(const char *s, size_t len, entry *e, char *err, size_t errlen)
{
    const char *slash = memchr(s, '/', len);
    size_t alen = slash ? (size_t)(slash - s) : len;
    memset(e, 0, sizeof *e);
    if (parse_ip(s, alen, &e->family, e->addr) == 0) {
        int max = e->family == AF_INET ? 32 : 128;
        e->is_net = 1;
        e->prefix = max;
        if (slash) {
            char *end;
            size_t plen = len - alen - 1;
            char pbuf[8];
            if (plen == 0 || plen >= sizeof pbuf)
                goto bad;
            memcpy(pbuf, slash + 1, plen);
            pbuf[plen] = '\0';
            long p = strtol(pbuf, &end, 10);
            if (*end || p < 0 || p > max || pbuf[0] < '0' || pbuf[0] > '9')
                goto bad;
            e->prefix = (int)p;
        }
        return 0;
    }
    if (slash || !host_name_ok(s, len))
        goto bad;
    for (size_t i = 0; i < len; i++)
        e->name[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] - 'A' + 'a' : s[i]);
    e->name[len] = '\0';
    return 0;
bad:
    snprintf(err, errlen, "SG_CALLBACK_ALLOW_HOSTS: \"%.*s\" is not a host name, an IP address or a CIDR block",
             (int)(len > 80 ? 80 : len), s);
    return -1;
}

sg_allowlist *sg_allowlist_parse(const char *spec, char *err, size_t errlen)
{
    sg_allowlist *a = calloc(1, sizeof *a);
    size_t cap = 1;
    if (!a)
        goto oom;
    spec = spec ? spec : "";
    for (const char *p = spec; *p; p++)
        cap += *p == ',';
    a->e = calloc(cap, sizeof *a->e);
    if (!a->e)
        goto oom;
    for (const char *p = spec; *p;) {
        size_t len = strcspn(p, ",");
        const char *s = p;
        size_t n = len;
        while (n && (*s == ' ' || *s == '\t'))
            s++, n--;
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
            n--;
        if (n && parse_entry(s, n, &a->e[a->n++], err, errlen)) {
            sg_allowlist_free(a);
            return NULL;
        }
        p += len + (p[len] == ',');
    }
    return a;
oom:
    snprintf(err, errlen, "out of memory");
    sg_allowlist_free(a);
    return NULL;
}

void sg_allowlist_free(sg_allowlist *a)
{
    if (!a)
        return;
    free(a->e);
    free(a);
}

static int in_net(const entry *e, int family, const unsigned char *addr)
{
    if (!e->is_net || e->family != family)
        return 0;
    int full = e->prefix / 8, rest = e->prefix % 8;
    if (memcmp(e->addr, addr, (size_t)full) != 0)
        return 0;
    if (rest) {
        unsigned char mask = (unsigned char)(0xFF << (8 - rest));
        return (e->addr[full] & mask) == (addr[full] & mask);
    }
    return 1;
}

static int name_listed(const sg_allowlist *a, const char *host)
{
    for (size_t i = 0; host && a && i < a->n; i++)
        if (!a->e[i].is_net && strcasecmp(a->e[i].name, host) == 0)
            return 1;
    return 0;
}

static int addr_listed(const sg_allowlist *a, int family, const unsigned char *addr)
{
    for (size_t i = 0; a && i < a->n; i++)
        if (in_net(&a->e[i], family, addr))
            return 1;
    return 0;
}

int sg_addr_allowed(const sg_allowlist *a, const char *host, const struct sockaddr *sa, const char **why)
{
    sg_addr_class c = sg_addr_classify(sa);
    if (c == SG_ADDR_PUBLIC || name_listed(a, host))
        return 1;
    if (sa && sa->sa_family == AF_INET &&
        addr_listed(a, AF_INET, (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr))
        return 1;
    if (sa && sa->sa_family == AF_INET6 &&
        addr_listed(a, AF_INET6, ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr))
        return 1;
    if (why)
        *why = sg_addr_class_name(c);
    return 0;
}

/* libcurl percent-decodes a host ("https://a%7fb/" has the host "a\x7fb")
 * and writes it back raw, so a host must be checked after parsing: a
 * control character, a space or a delimiter can be no host's name, and a URL
 * with one would not parse again once redacted (sg_url_redact). Bytes of
 * 0x80 and above are an international name's UTF-8. */
static int host_chars_ok(const char *host)
{
    for (const unsigned char *p = (const unsigned char *)host; *p; p++)
        if (*p < 0x80 && !isalnum(*p) && !strchr("-._:[]%", *p))
            return 0;
    return 1;
}

int sg_callback_url_check(const sg_allowlist *a, const char *url, char *err, size_t errlen)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    int rc = -1, family;
    unsigned char addr[16];

    if (!u) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (!url || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host[0]) {
        snprintf(err, errlen, "callback_url is not an absolute http(s) URL");
        goto cleanup;
    }
    if (!host_chars_ok(host)) {
        snprintf(err, errlen, "callback_url host has a character no host name can have");
        goto cleanup;
    }
    int https = strcasecmp(scheme, "https") == 0;
    if (!https && strcasecmp(scheme, "http") != 0) {
        snprintf(err, errlen, "callback_url must be https:// (or http:// to an allowed host)");
        goto cleanup;
    }
    size_t hlen = strlen(host);
    if (parse_ip(host, hlen, &family, addr) == 0) {
        struct sockaddr_storage ss = {0};
        if (family == AF_INET) {
            struct sockaddr_in *in = (struct sockaddr_in *)&ss;
            in->sin_family = AF_INET;
            memcpy(&in->sin_addr, addr, 4);
        } else {
            struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
            in6->sin6_family = AF_INET6;
            memcpy(&in6->sin6_addr, addr, 16);
        }
        sg_addr_class c = sg_addr_classify((struct sockaddr *)&ss);
        int listed = addr_listed(a, family, addr) || name_listed(a, host);
        if (c != SG_ADDR_PUBLIC && !listed) {
            snprintf(err, errlen, "callback_url points to a %s address", sg_addr_class_name(c));
            goto cleanup;
        }
        if (!https && !listed) {
            snprintf(err, errlen, "callback_url must be https:// unless its host is allowed");
            goto cleanup;
        }
    } else if (!https && !name_listed(a, host)) {
        snprintf(err, errlen, "callback_url must be https:// unless its host is allowed");
        goto cleanup;
    }
    rc = 0;
cleanup:
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return rc;
}

char *sg_url_redact(const char *url)
{
    CURLU *u = curl_url();
    char *out = NULL;
    if (!u || !url || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
        goto cleanup;
    /* Clearing a part that is absent is not an error for libcurl. */
    if (curl_url_set(u, CURLUPART_USER, NULL, 0) != CURLUE_OK ||
        curl_url_set(u, CURLUPART_PASSWORD, NULL, 0) != CURLUE_OK ||
        curl_url_set(u, CURLUPART_OPTIONS, NULL, 0) != CURLUE_OK ||
        curl_url_set(u, CURLUPART_QUERY, NULL, 0) != CURLUE_OK ||
        curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0) != CURLUE_OK)
        goto cleanup;
    char *text = NULL;
    if (curl_url_get(u, CURLUPART_URL, &text, 0) == CURLUE_OK && text) {
        out = strdup(text);
        curl_free(text);
    }
cleanup:
    curl_url_cleanup(u);
    return out;
}

char *sg_url_host(const char *url)
{
    CURLU *u = curl_url();
    char *host = NULL, *out = NULL;
    if (u && url && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host && (out = strdup(host))) {
        for (char *p = out; *p; p++)
            *p = (char)tolower((unsigned char)*p);
    }
    curl_free(host);
    curl_url_cleanup(u);
    return out;
}
