/* The redemption's lifecycle; see redemption.h. */
#include "redemption.h"

#include <stddef.h>
#include <string.h>

static const char *const names[RW_REDEMPTION_NSTATUS] = {
    [RW_REDEMPTION_COMPLETED] = "completed",
    [RW_REDEMPTION_REFUNDED] = "refunded",
};

/* allowed[from][to]: the transitions, and nothing else. */
static const unsigned char allowed[RW_REDEMPTION_NSTATUS][RW_REDEMPTION_NSTATUS] = {
    [RW_REDEMPTION_COMPLETED] = {[RW_REDEMPTION_REFUNDED] = 1},
};

static int is_status(rw_redemption_status s)
{
    return (int)s >= 0 && s < RW_REDEMPTION_NSTATUS;
}

const char *rw_redemption_status_name(rw_redemption_status s)
{
    return is_status(s) ? names[s] : NULL;
}

int rw_redemption_status_parse(const char *name, rw_redemption_status *out)
{
    if (!name)
        return -1;
    for (int s = 0; s < RW_REDEMPTION_NSTATUS; s++)
        if (strcmp(names[s], name) == 0) {
            *out = (rw_redemption_status)s;
            return 0;
        }
    return -1;
}

int rw_redemption_may(rw_redemption_status from, rw_redemption_status to)
{
    return is_status(from) && is_status(to) && allowed[from][to];
}
