/* Where the platform may send outbound HTTP (upstream callbacks, the push
 * gateway): the callback URL policy of API.md ("Reports", callback_url) and
 * the address check made again at delivery, when a host name is resolved.
 *
 *   - at intake: https:// to any host; http:// only to an allow-listed host;
 *     a host that is an IP literal in a blocked range (loopback, private,
 *     link-local, CGNAT, multicast, unspecified, reserved) is refused unless
 *     allow-listed;
 *   - at delivery: every address a host name resolves to is checked again
 *     (sg_addr_allowed, from libcurl's CURLOPT_OPENSOCKETFUNCTION), so a name
 *     that resolves into a private network is never connected to.
 *
 * The allow-list (SG_CALLBACK_ALLOW_HOSTS) is a comma list of host names
 * (compared case-insensitively, exactly), IP addresses and CIDR blocks; empty
 * in production, "127.0.0.1,localhost" under `make up`.
 *
 * URLs are parsed with libcurl's URL API (curl_url), the parser that later
 * makes the request, so the host checked is the host connected to.
 * Everything here is pure (no I/O, no DNS) and thread-safe; an sg_allowlist
 * is immutable after sg_allowlist_parse.
 */
#ifndef SG_URLPOLICY_H
#define SG_URLPOLICY_H

#include <stddef.h>
#include <sys/socket.h>

/* Why an address may not be connected to (SG_ADDR_PUBLIC: it may). */
typedef enum {
    SG_ADDR_PUBLIC = 0,
    SG_ADDR_LOOPBACK,     /* 127.0.0.0/8, ::1 */
    SG_ADDR_PRIVATE,      /* 10/8, 172.16/12, 192.168/16, fc00::/7 */
    SG_ADDR_LINK_LOCAL,   /* 169.254/16, fe80::/10 */
    SG_ADDR_CGNAT,        /* 100.64/10 */
    SG_ADDR_MULTICAST,    /* 224/4, ff00::/8, 255.255.255.255 */
    SG_ADDR_UNSPECIFIED,  /* 0.0.0.0/8, :: */
    SG_ADDR_RESERVED,     /* 240/4, and address families other than IPv4/IPv6 */
} sg_addr_class;

/* The class's name as it appears in errors and the audit trail
 * ("loopback", "private", ...; "public"). Static string. */
const char *sg_addr_class_name(sg_addr_class c);

/* Classifies an IPv4 or IPv6 socket address; an IPv4-mapped or NAT64
 * (64:ff9b::/96) IPv6 address is classified by the IPv4 address it holds. */
sg_addr_class sg_addr_classify(const struct sockaddr *sa);

typedef struct sg_allowlist sg_allowlist;

/* Parses spec ("host,10.0.0.0/8,::1"; NULL or "" → an empty list). Returns a
 * list (free with sg_allowlist_free), or NULL with a message on a malformed
 * entry. */
sg_allowlist *sg_allowlist_parse(const char *spec, char *err, size_t errlen);
void sg_allowlist_free(sg_allowlist *a);

/* 1 when the address is public, or lies in an allow-listed IP or CIDR, or
 * when host (the URL's host name, may be NULL) is an allow-listed name; else
 * 0 with *why (may be NULL) set to the address's class name. */
int sg_addr_allowed(const sg_allowlist *a, const char *host, const struct sockaddr *sa, const char **why);

/* Checks a callback URL against the policy (the intake check; the delivery
 * check is sg_addr_allowed on each resolved address). Returns 0, or -1 with a
 * message for a 422 detail (never containing the URL's userinfo or query). */
int sg_callback_url_check(const sg_allowlist *a, const char *url, char *err, size_t errlen);

/* The URL without userinfo, query and fragment ("https://host:8443/path"),
 * for logs, the audit trail and API views: tokens in a URL are secrets.
 * Returns a malloc'ed string (the caller frees it), or NULL when url does
 * not parse (then log nothing of it). */
char *sg_url_redact(const char *url);

/* The URL's host in lower case ("example.com", "127.0.0.1", "[::1]"), as
 * libcurl will connect to it: the unit of a per-host limit. Returns a
 * malloc'ed string (the caller frees it), or NULL when url does not parse. */
char *sg_url_host(const char *url);

#endif
