/* The upstream callback queue: claim with a lease, record each attempt.
 * See store.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sg/log.h"
#include "store.h"
#include "store_util.h"

typedef struct claim_ctx {
    int lease_s;
    rp_callback *cb;
    int claimed;
} claim_ctx;

static int claim_tx(sg_pg *c, void *arg)
{
    claim_ctx *x = arg;
    char b[24];
    int rc;
    PGresult *res = sg_pg_rows(c, &rc,
                           "UPDATE callbacks SET next_attempt_at = now() + $1::int * interval '1 second' "
                           "WHERE id = (SELECT id FROM callbacks WHERE status = 'pending' AND next_attempt_at <= now() "
                           "  ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED) "
                           "RETURNING id, case_id, url, body, attempts",
                           1, SG_P(sg_pg_int(b, x->lease_s)));
    rp_store_callback_free(x->cb);
    x->claimed = 0;
    if (!res)
        return rc;
    if (PQntuples(res) == 1) {
        snprintf(x->cb->id, sizeof x->cb->id, "%s", PQgetvalue(res, 0, 0));
        snprintf(x->cb->case_id, sizeof x->cb->case_id, "%s", PQgetvalue(res, 0, 1));
        x->cb->url = strdup(PQgetvalue(res, 0, 2));
        x->cb->body = strdup(PQgetvalue(res, 0, 3));
        x->cb->attempts = atoi(PQgetvalue(res, 0, 4));
        x->claimed = 1;
        if (!x->cb->url || !x->cb->body)
            rc = SG_ERR_DB;
    }
    PQclear(res);
    return rc;
}

int rp_store_callback_claim(sg_pg_pool *p, int lease_s, rp_callback *cb)
{
    claim_ctx x = {lease_s, cb, 0};
    memset(cb, 0, sizeof *cb);
    if (sg_pg_tx(p, SG_TX_READ_COMMITTED, claim_tx, &x) != SG_OK) {
        rp_store_callback_free(cb);
        return -1;
    }
    return x.claimed;
}

typedef struct record_ctx {
    const rp_callback *cb;
    int http_status;
    const char *error;
    int max_attempts;
    long backoff_s;
} record_ctx;

static int record_tx(sg_pg *c, void *arg)
{
    record_ctx *x = arg;
    char b1[24], b2[24], result[300];
    int ok = x->http_status >= 200 && x->http_status < 300, rc;
    PGresult *res;

    if (x->http_status > 0)
        snprintf(result, sizeof result, "HTTP %d", x->http_status);
    else
        snprintf(result, sizeof result, "%.290s", x->error ? x->error : "no response");
    /* attempts = the claimed count + 1: a late result after the lease expired
     * and another worker retried still records its own attempt once. */
    res = sg_pg_rows(c, &rc,
                 "UPDATE callbacks SET attempts = attempts + 1, last_result = $2, "
                 "status = CASE WHEN $3::int = 1 THEN 'delivered' WHEN attempts + 1 >= $4::int THEN 'failed' "
                 "  ELSE 'pending' END, "
                 "delivered_at = CASE WHEN $3::int = 1 THEN now() END, "
                 "next_attempt_at = now() + $5::int * interval '1 second' "
                 "WHERE id = $1 AND status = 'pending' RETURNING attempts, status",
                 5, SG_P(x->cb->id, result, ok ? "1" : "0", sg_pg_int(b1, x->max_attempts), sg_pg_int(b2, x->backoff_s)));
    if (!res)
        return rc;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return SG_OK; /* already settled by another attempt */
    }
    int attempt = atoi(PQgetvalue(res, 0, 0));
    char outcome[16];
    snprintf(outcome, sizeof outcome, "%s", PQgetvalue(res, 0, 1));
    PQclear(res);
    rc = rp_audit_add(c, x->cb->case_id, "callback_attempt", NULL,
                json_pack("{s:s, s:i, s:o, s:o, s:s, s:o}", "url", x->cb->url, "attempt", attempt, "http_status",
                          x->http_status > 0 ? json_integer(x->http_status) : json_null(), "error",
                          x->http_status > 0 ? json_null() : json_string(result), "outcome",
                          strcmp(outcome, "pending") == 0 ? "retry" : outcome, "next_attempt_in_s",
                          strcmp(outcome, "pending") == 0 ? json_integer(x->backoff_s) : json_null()));
    if (rc == SG_OK && strcmp(outcome, "failed") == 0)
        sg_warn("callback %s to %s failed after %d attempts (%s)", x->cb->id, x->cb->url, attempt, result);
    return rc;
}

int rp_store_callback_record(sg_pg_pool *p, const rp_callback *cb, int http_status, const char *error,
                             int max_attempts, long backoff_s)
{
    record_ctx x = {cb, http_status, error, max_attempts, backoff_s};
    return sg_pg_tx(p, SG_TX_READ_COMMITTED, record_tx, &x) == SG_OK ? 0 : -1;
}

void rp_store_callback_free(rp_callback *cb)
{
    free(cb->url);
    free(cb->body);
    cb->url = cb->body = NULL;
}
