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
 *   - an opaque id is valid UTF-8 of 1..128 code points without spaces.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "fuzz_util.h"
#include "report/intake.h"
#include "sg/timeutil.h"
#include "reward/catalog.h"
#include "sg/json.h"

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
