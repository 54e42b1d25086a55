/* Helpers shared by the routes_*.c handlers. */
#include "routes.h"
#include "store.h"

void rv_reply_store_error(sg_req *req, int rc)
{
    if (rc == SG_ERR_DB || rc == SG_ERR_RETRY)
        sg_reply_problem(req, 503, "Service Unavailable", "the database is unavailable; retry later");
    else
        sg_reply_problem(req, 500, "Internal Server Error", "unexpected store outcome %d", rc);
}
