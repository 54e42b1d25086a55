/* Service context; see svc.h. */
#include "svc.h"

#include <stdlib.h>

void *reward_init(sg_app *app, char *err, size_t errlen)
{
    reward_svc *svc = calloc(1, sizeof *svc);
    if (!svc) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    svc->app = app;
    return svc;
}

void reward_fini(void *svc)
{
    free(svc);
}
