/* Service context; see svc.h. */
#include "svc.h"

#include <stdlib.h>

void *rw_init(sg_app *app, char *err, size_t errlen)
{
    rw_svc *svc = calloc(1, sizeof *svc);
    if (!svc) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    svc->app = app;
    return svc;
}

void rw_fini(void *svc)
{
    free(svc);
}
