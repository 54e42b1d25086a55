/* The upstream callback queue: claim with a lease (skipping hosts at their
 * share of the workers), record each attempt, the ops list and retry. See
 * store.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sg/log.h"
#include "store.h"
#include "store_util.h"

/* One callback as the ops list shows it: the URL without userinfo, query
 * or fragment (tokens in a URL are secrets). */
#define CALLBACK_JSON                                                                                             \
    "json_build_object('callback_id', cb.id, 'case_id', cb.case_id, 'kind', cb.kind, 'url', cb.url_redacted, "    \
    "'status', cb.status, 'attempts', cb.attempts, 'last_error', cb.last_error, "                                 \
    "'next_attempt_at', CASE WHEN cb.status = 'pending' THEN " SG_SQL_TS("cb.next_attempt_at") " END, "          \
    "'event_id', cb.event_id, 'created_at', " SG_SQL_TS("cb.created_at") ", "                                     \
    "'delivered_at', " SG_SQL_TS("cb.delivered_at") ")::text"

typedef struct claim_ctx {
    int lease_s;
    const char *busy; /* text[] literal */
    rp_callback *cb;
    int claimed;
} claim_ctx;

static char *dup_col(const PGresult *res, int col)
{
    return strdup(PQgetvalue(res, 0, col));
}

static int claim_tx(sg_pg *c, void *arg)
{
    claim_ctx *x = arg;
    char b[24];
    int rc;
    PGresult *res = sg_pg_rows(c, &rc,
                           "UPDATE callbacks SET next_attempt_at = now() + $1::int * interval '1 second' "
                           "WHERE id = (SELECT id FROM callbacks WHERE status = 'pending' AND next_attempt_at <= now() "
                           "  AND host <> ALL ($2::text[]) "
                           "  ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED) "
                           "RETURNING id, case_id, event_id, url, url_redacted, host, body, attempts",
                           2, SG_P(sg_pg_int(b, x->lease_s), x->busy));
    rp_store_callback_free(x->cb);
    x->claimed = 0;
    if (!res)
        return rc;
    if (PQntuples(res) == 1) {
        rp_callback *cb = x->cb;
        snprintf(cb->id, sizeof cb->id, "%s", PQgetvalue(res, 0, 0));
        snprintf(cb->case_id, sizeof cb->case_id, "%s", PQgetvalue(res, 0, 1));
        snprintf(cb->event_id, sizeof cb->event_id, "%s", PQgetvalue(res, 0, 2));
        cb->url = dup_col(res, 3);
        cb->url_redacted = dup_col(res, 4);
        cb->host = dup_col(res, 5);
        cb->body = dup_col(res, 6);
        cb->attempts = atoi(PQgetvalue(res, 0, 7));
        x->claimed = 1;
        if (!cb->url || !cb->url_redacted || !cb->host || !cb->body)
            rc = SG_ERR_DB;
    }
    PQclear(res);
    return rc;
}

int rp_store_callback_claim(sg_pg_pool *p, int lease_s, const char *const *busy, size_t nbusy, rp_callback *cb)
{
    char *lit = sg_pg_text_array(busy, nbusy);
    claim_ctx x = {lease_s, lit, cb, 0};
    int rc;
    memset(cb, 0, sizeof *cb);
    if (!lit)
        return -1;
    rc = sg_pg_tx(p, SG_TX_READ_COMMITTED, claim_tx, &x);
    free(lit);
    if (rc != SG_OK) {
        rp_store_callback_free(cb);
        return -1;
    }
    return x.claimed;
}

typedef struct record_ctx {
    const rp_callback *cb;
    int http_status;
    const char *error;
    int permanent;
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
                 "last_error = CASE WHEN $3::int = 1 THEN last_error ELSE $2 END, "
                 "status = CASE WHEN $3::int = 1 THEN 'delivered' WHEN $6::int = 1 OR attempts + 1 >= $4::int "
                 "  THEN 'failed' ELSE 'pending' END, "
                 "delivered_at = CASE WHEN $3::int = 1 THEN now() END, "
                 "next_attempt_at = now() + $5::int * interval '1 second' "
                 "WHERE id = $1 AND status = 'pending' RETURNING attempts, status",
                 6, SG_P(x->cb->id, result, ok ? "1" : "0", sg_pg_int(b1, x->max_attempts),
                         sg_pg_int(b2, x->backoff_s), x->permanent && !ok ? "1" : "0"));
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
    json_t *data = json_pack("{s:s, s:s, s:i, s:o, s:o, s:s, s:o}", "url", x->cb->url_redacted, "event_id",
                             x->cb->event_id, "attempt", attempt, "http_status",
                             x->http_status > 0 ? json_integer(x->http_status) : json_null(), "error",
                             x->http_status > 0 ? json_null() : json_string(result), "outcome",
                             strcmp(outcome, "pending") == 0 ? "retry" : outcome, "next_attempt_in_s",
                             strcmp(outcome, "pending") == 0 ? json_integer(x->backoff_s) : json_null());
    if (data && x->permanent && !ok)
        json_object_set_new(data, "reason", json_string("blocked_address"));
    rc = rp_audit_add(c, x->cb->case_id, "callback_attempt", NULL, data);
    if (rc == SG_OK && strcmp(outcome, "failed") == 0)
        sg_warn("callback %s to %s failed after %d attempts (%s)", x->cb->id, x->cb->url_redacted, attempt, result);
    return rc;
}

int rp_store_callback_record(sg_pg_pool *p, const rp_callback *cb, int http_status, const char *error,
                             int permanent, int max_attempts, long backoff_s)
{
    record_ctx x = {cb, http_status, error, permanent, max_attempts, backoff_s};
    return sg_pg_tx(p, SG_TX_READ_COMMITTED, record_tx, &x) == SG_OK ? 0 : -1;
}

void rp_store_callback_free(rp_callback *cb)
{
    free(cb->url);
    free(cb->url_redacted);
    free(cb->host);
    free(cb->body);
    cb->url = cb->url_redacted = cb->host = cb->body = NULL;
}

int rp_store_callbacks_list(sg_pg_pool *p, const char *status, const char *case_id, int limit, long long cursor,
                            json_t **out)
{
    char b1[24], b2[24];
    return rp_store_read(p,
                         "SELECT " CALLBACK_JSON ", cb.seq FROM callbacks cb "
                         "WHERE ($1::text IS NULL OR cb.status = $1) AND ($2::uuid IS NULL OR cb.case_id = $2::uuid) "
                         "AND ($3::bigint = 0 OR cb.seq < $3::bigint) ORDER BY cb.seq DESC LIMIT $4::int + 1",
                         4, SG_P(status, case_id, sg_pg_int(b1, cursor), sg_pg_int(b2, limit)), limit, out);
}

typedef struct retry_ctx {
    const char *id, *actor;
    json_t *out;
    rp_detail *d;
} retry_ctx;

static int retry_tx(sg_pg *c, void *arg)
{
    retry_ctx *x = arg;
    int rc;
    json_decref(x->out);
    x->out = NULL;
    PGresult *res = sg_pg_rows(c, &rc, "SELECT status, case_id, url_redacted FROM callbacks WHERE id = $1 FOR UPDATE",
                               1, SG_P(x->id));
    if (!res)
        return rc;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return RP_NOT_FOUND;
    }
    if (strcmp(PQgetvalue(res, 0, 0), "failed") != 0) {
        snprintf(x->d->text, sizeof x->d->text, "only a failed callback can be retried; this one is %s",
                 PQgetvalue(res, 0, 0));
        PQclear(res);
        return RP_CONFLICT;
    }
    char case_id[37];
    snprintf(case_id, sizeof case_id, "%s", PQgetvalue(res, 0, 1));
    json_t *data = json_pack("{s:s, s:s}", "callback_id", x->id, "url", PQgetvalue(res, 0, 2));
    PQclear(res);
    rc = sg_pg_exec(c,
                    "UPDATE callbacks SET status = 'pending', attempts = 0, next_attempt_at = now(), "
                    "delivered_at = NULL WHERE id = $1",
                    1, SG_P(x->id));
    if (rc == SG_OK)
        rc = rp_audit_add(c, case_id, "callback_retry", x->actor, data);
    else
        json_decref(data);
    if (rc == SG_OK)
        x->out = sg_pg_query_json(c, &rc, "SELECT " CALLBACK_JSON " FROM callbacks cb WHERE cb.id = $1", 1,
                                  SG_P(x->id));
    if (rc == SG_OK && !x->out)
        rc = SG_ERR_DB;
    return rc;
}

int rp_store_callback_retry(sg_pg_pool *p, const char *id, const char *actor, json_t **out, rp_detail *d)
{
    retry_ctx x = {id, actor, NULL, d};
    int rc = sg_pg_tx(p, SG_TX_READ_COMMITTED, retry_tx, &x);
    if (rc != SG_OK) {
        json_decref(x.out);
        x.out = NULL;
    }
    *out = x.out;
    return rc;
}
