/* Fuzz target: path matching (sg_route_match / sg_params_get) over the
 * route patterns of the three services, with the path as the server gets it
 * (a C string). Checked beyond memory safety:
 *   - a parameter value is 1..SG_PARAM_MAX-1 bytes of valid UTF-8, no NUL;
 *   - names point into the pattern just after '{', and sg_params_get finds
 *     each value by its name;
 *   - a pattern without parameters matches exactly its own text;
 *   - a match consumes the whole path: the path has as many '/' as the
 *     pattern (a raw '/' never ends up inside a value).
 */
#include <string.h>

#include "fuzz_util.h"
#include "sg/json.h"
#include "sg/router.h"

static const char *const patterns[] = {
    /* report */
    "/v1/voting-rules/{report_type}", "/v1/voting-rules", "/v1/voting-rules/{report_type}/versions",
    "/v1/reports", "/v1/reports/{id}", "/v1/cases", "/v1/cases/{id}", "/v1/cases/{id}/events",
    "/v1/cases/{id}/cancel", "/v1/cases/{id}/resolve", "/v1/cases/{id}/appeals", "/v1/cases/{case_id}/votes",
    "/v1/ballots/{ballot_id}/decline", "/v1/me/ballots",
    /* reviewer */
    "/v1/profiles:batch", "/v1/activity:batch", "/v1/pool-rule", "/v1/fatigue-policy", "/v1/quality-policy",
    "/v1/pool:rebuild", "/v1/reviewers", "/v1/reviewers/{user_id}", "/v1/reviewers/{user_id}/status",
    "/v1/me/availability",
    /* reward */
    "/v1/reward-rules", "/v1/reward-rules/{report_type}", "/v1/reward-rules/{report_type}/versions",
    "/v1/accounts/{user_id}", "/v1/accounts/{user_id}/ledger", "/v1/catalog/items", "/v1/catalog/items/{id}",
    "/v1/redemptions", "/v1/redemptions/{id}", "/v1/redemptions/{id}/refund",
    /* shapes the router documents but no service uses yet: a parameter
     * followed by literal text in its segment, several parameters */
    "/v1/items/{id}:archive", "/v1/{a}/{b}/{c}/{d}", "/{x}", "/v1/x/{id}.json",
};

static size_t count_char(const char *s, char c)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == c;
    return n;
}

static void check_match(const char *pattern, const char *path, const sg_params *p)
{
    FZ_CHECK(p->n >= 0 && p->n <= SG_MAX_PARAMS, "n=%d", p->n);
    FZ_CHECK(count_char(path, '/') == count_char(pattern, '/'), "pattern %s path %s", pattern, path);
    if (!strchr(pattern, '{'))
        FZ_CHECK(strcmp(pattern, path) == 0, "literal pattern %s matched %s", pattern, path);
    for (int i = 0; i < p->n; i++) {
        const char *v = p->values[i];
        FZ_CHECK(fz_terminated(v, SG_PARAM_MAX), "value %d not terminated", i);
        size_t len = strlen(v);
        FZ_CHECK(len >= 1, "empty value %d for %s", i, pattern);
        FZ_CHECK(sg_utf8_valid(v, len), "value %d not UTF-8", i);
        const char *name = p->names[i];
        FZ_CHECK(name > pattern && name < pattern + strlen(pattern) && name[-1] == '{', "name %d", i);
        const char *close = strchr(name, '}');
        FZ_CHECK(close != NULL, "name %d unterminated", i);
        char nm[64];
        size_t nlen = (size_t)(close - name);
        FZ_CHECK(nlen < sizeof nm, "name too long");
        memcpy(nm, name, nlen);
        nm[nlen] = '\0';
        FZ_CHECK(sg_params_get(p, nm) == v, "sg_params_get(%s)", nm);
    }
    /* Every parameter of the pattern was bound. */
    FZ_CHECK((size_t)p->n == count_char(pattern, '{'), "pattern %s bound %d", pattern, p->n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *path = fz_cstr(data, size);
    if (!path)
        return 0;
    for (size_t i = 0; i < sizeof patterns / sizeof patterns[0]; i++) {
        sg_params p;
        memset(&p, 0xA5, sizeof p); /* no reliance on a zeroed struct */
        if (sg_route_match(patterns[i], path, &p))
            check_match(patterns[i], path, &p);
    }
    free(path);
    return 0;
}
