/* Fuzz target: the small value checks applied to headers, query and path
 * values and JSON strings: sg_utf8_valid/sg_utf8_len, sg_is_opaque_id,
 * sg_is_uuid, sg_is_rfc3339, sg_is_http_url, the Idempotency-Key check
 * (sg_idempotency_key_ok), sg_parse_seq, and the reviewer's time parser.
 * Checked beyond memory safety (differential/contract properties):
 *   - sg_is_rfc3339(s) implies sg_time_parse(s) succeeds (the reviewer stores
 *     what the common check let through), and the reviewer's parse of an
 *     sg_is_rfc3339 timestamp formats back to the same UTC second for 'Z'
 *     timestamps without fraction;
 *   - an accepted cursor formats back to the same text;
 *   - an opaque id is valid UTF-8 of 1..128 code points without spaces;
 *   - the callback URL policy (sg_callback_url_check) with an empty
 *     allow-list accepts only https:// URLs whose redaction
 *     (sg_url_redact) exists and keeps no userinfo, query or fragment.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz_util.h"
#include "report/intake.h"
#include "sg/timeutil.h"
#include "reward/catalog.h"
#include "sg/json.h"
#include "sg/urlpolicy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *s = fz_cstr(data, size);
    if (!s)
        return 0;
    size_t len = strlen(s);
    int utf8 = sg_utf8_valid(s, len);
    if (utf8)
        FZ_CHECK(sg_utf8_len(s) <= len, "utf8_len");

    if (sg_is_opaque_id(s)) {
        FZ_CHECK(utf8 && !strchr(s, ' '), "opaque id not UTF-8 or with a space");
        FZ_CHECK(sg_utf8_len(s) >= 1 && sg_utf8_len(s) <= 128, "opaque id length");
    }
    if (sg_is_uuid(s))
        FZ_CHECK(len == 36 && sg_is_opaque_id(s), "uuid");
    if (sg_is_http_url(s))
        FZ_CHECK(strncasecmp(s, "http", 4) == 0 && !strchr(s, ' '), "url");

    static sg_allowlist *none;
    char why[160];
    if (!none)
        none = sg_allowlist_parse("", why, sizeof why);
    if (none && sg_callback_url_check(none, s, why, sizeof why) == 0) {
        char *r = sg_url_redact(s);
        FZ_CHECK(strncasecmp(s, "https://", 8) == 0 || strncasecmp(s, "https:", 6) == 0 || strstr(s, "://") == NULL,
                 "accepted a non-https URL with an empty allow-list: %s", s);
        FZ_CHECK(r != NULL, "accepted URL has no redaction: %s", s);
        if (r) {
            /* '@' may sit in a path; what must be gone are the parts. */
            CURLU *u = curl_url();
            char *part = NULL;
            FZ_CHECK(u && curl_url_set(u, CURLUPART_URL, r, 0) == CURLUE_OK, "redaction %s does not parse", r);
            static const CURLUPart gone[] = {CURLUPART_USER, CURLUPART_PASSWORD, CURLUPART_QUERY, CURLUPART_FRAGMENT};
            for (size_t i = 0; u && i < sizeof gone / sizeof gone[0]; i++) {
                FZ_CHECK(curl_url_get(u, gone[i], &part, 0) != CURLUE_OK, "redaction %s keeps part %d", r, (int)gone[i]);
                curl_free(part);
                part = NULL;
            }
            curl_url_cleanup(u);
        }
        free(r);
    } else {
        FZ_CHECK(why[0] != '\0', "refusal without a message");
    }

    double t;
    if (sg_is_rfc3339(s)) {
        FZ_CHECK(sg_time_parse(s, &t) == 0, "sg_is_rfc3339 accepts what sg_time_parse refuses: %s", s);
        if (len == 20 && (s[19] == 'Z' || s[19] == 'z')) {
            char buf[64];
            sg_time_format(t, buf, sizeof buf);
            FZ_CHECK(strncmp(buf, s, 10) == 0 && strncmp(buf + 11, s + 11, 8) == 0, "%s formats as %s", s, buf);
        }
    }

    if (sg_idempotency_key_ok(s))
        FZ_CHECK(len >= 1 && len <= SG_IDEMPOTENCY_KEY_MAX && !strchr(s, ' '), "idempotency key");

    long long cur;
    if (sg_parse_seq(s, &cur) == 0) {
        char buf[32];
        snprintf(buf, sizeof buf, "%lld", cur);
        FZ_CHECK(cur >= 1 && strcmp(buf, s) == 0, "cursor %s parsed as %lld", s, cur);
    }
    free(s);
    return 0;
}
