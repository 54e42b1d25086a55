/* Fuzz target: push management's template language and preference values
 * (services/report/notify.c): rp_template_check, rp_template_render,
 * rp_locale_ok, rp_hhmm_parse/format and rp_quiet_wait_s.
 * Checked beyond memory safety:
 *   - a template renders exactly when it passes the check;
 *   - a checked template rendered with values free of braces leaves no "{{"
 *     (every placeholder was replaced, none was invented);
 *   - an accepted "HH:MM" formats back to the same text;
 *   - the wait until quiet hours end is within a day.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "report/notify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    if (size > 8192)
        return 0;
    char *s = fz_cstr(data, size);
    if (!s)
        return 0;
    rp_notify_vars vars = {"case_outcome", "comment", "0b7e6a2c-1d2f-4a51-9c3e-5f6a7b8c9d0e", NULL, "violation",
                           "3:1", ""};
    int ok = rp_template_check(s, err, sizeof err) == 0;
    char *out = rp_template_render(s, &vars);
    FZ_CHECK(ok == (out != NULL), "check %d but render %s", ok, out ? "succeeded" : "failed");
    if (out)
        FZ_CHECK(strstr(out, "{{") == NULL, "rendered text keeps a placeholder: %.80s", out);
    free(out);
    (void)rp_locale_ok(s);
    int m;
    if (rp_hhmm_parse(s, &m) == 0) {
        char back[6];
        rp_hhmm_format(m, back);
        FZ_CHECK(strcmp(back, s) == 0, "%s formats back as %s", s, back);
    }
    if (size >= 12) {
        rp_quiet_hours q = {(int)(data[0] | data[1] << 8) % 1440, (int)(data[2] | data[3] << 8) % 1440,
                            (int)((data[4] | data[5] << 8) % 1681) - 840};
        long long now = 0;
        memcpy(&now, data + 4, sizeof now < size - 4 ? sizeof now : size - 4);
        now &= 0xffffffffffLL;
        long w = rp_quiet_wait_s((time_t)now, &q);
        FZ_CHECK(w >= 0 && w <= 86400, "wait %ld", w);
    }
    free(s);
    return 0;
}
