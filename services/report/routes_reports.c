/* Report intake and lookup. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "intake.h"
#include "ratelimit.h"
#include "svc.h"
#include "routes.h"
#include "sg/digest.h"
#include "sg/json.h"
#include "sg/log.h"
#include "sg/urlpolicy.h"

void rp_h_report_post(sg_req *req, void *ctx)
{
    rp_svc *s = ctx;
    const sg_principal *who = sg_req_principal(req);
    const json_t *body = sg_req_json(req);
    const char *key = sg_req_header(req, "Idempotency-Key");
    char err[256], hash[SG_SHA256_HEX_LEN + 1], scope[48];
    time_t now = time(NULL);
    rp_report_input in;
    rp_intake io;
    size_t rawlen;
    const char *raw = sg_req_body(req, &rawlen);
    long retry_after;
    int rc;

    memset(&io, 0, sizeof io);
    if (key && !sg_idempotency_key_ok(key)) {
        sg_reply_problem(req, 400, "Bad Request", "Idempotency-Key must be 1..128 printable ASCII characters");
        return;
    }
    if (!body) {
        sg_reply_problem(req, 400, "Bad Request", "a JSON body is required");
        return;
    }
    if ((rc = rp_intake_validate(body, &in, err, sizeof err)) != 0) {
        sg_reply_problem(req, rc, rc == 400 ? "Bad Request" : "Unprocessable Entity", "%s", err);
        return;
    }
    snprintf(scope, sizeof scope, "report:%s", in.report_type);
    if (!sg_principal_may(who, scope)) {
        sg_reply_problem(req, 403, "Forbidden", "the API key of %s lacks scope %s", who->id, scope);
        return;
    }
    if (in.callback_url && sg_callback_url_check(s->callback_allow, in.callback_url, err, sizeof err)) {
        sg_reply_problem(req, 422, "Unprocessable Entity", "%s", err);
        return;
    }
    if (sg_sha256_hex(raw, rawlen, hash)) {
        sg_reply_problem(req, 500, "Internal Server Error", "cannot hash the request");
        return;
    }
    io.in = &in;
    io.client = who->id;
    io.idempotency_key = key;
    io.body_sha256 = hash;
    io.traceparent = sg_req_traceparent(req);

    /* A replay is answered before it counts against the rate limit. */
    if (key) {
        rc = rp_store_idempotency_lookup(s->app->pg, &io);
        if (rc != SG_OK) {
            rp_reply_store_error(req, rc, &io.detail, "report");
            goto cleanup;
        }
        if (io.replay) {
            sg_reply_text(req, 200, io.response);
            goto cleanup;
        }
    }
    if (rp_ratelimit_hit(s->app->redis, s->rate_prefix, who->id, in.reporter_id, s->rate_per_min, now,
                         &retry_after)) {
        char ra[24];
        snprintf(ra, sizeof ra, "%ld", retry_after);
        sg_reply_header(req, "Retry-After", ra);
        sg_reply_problem(req, 429, "Too Many Requests", "reporter %s exceeded %ld reports per minute", in.reporter_id,
                         s->rate_per_min);
        goto cleanup;
    }
    rc = rp_store_report_create(s->intake, &io);
    /* Only a report filed counts: refused ones (409, 422, errors) and
     * replays are taken back. */
    if (rc != SG_OK || io.replay)
        rp_ratelimit_refund(s->app->redis, s->rate_prefix, who->id, in.reporter_id, now);
    if (rc != SG_OK) {
        rp_reply_store_error(req, rc, &io.detail, "report");
        goto cleanup;
    }
    sg_reply_text(req, io.replay ? 200 : 201, io.response);
cleanup:
    free(io.response);
}

void rp_h_report_get(sg_req *req, void *ctx)
{
    rp_svc *s = ctx;
    const sg_principal *who = sg_req_principal(req);
    const char *id = sg_req_uuid_param(req, "id", "report");
    json_t *out = NULL;
    int rc, allowed;
    if (!id)
        return;
    if ((rc = rp_store_report_get(s->app->pg, id, &out)) != SG_OK) {
        rp_reply_store_error(req, rc, NULL, "report");
        return;
    }
    /* The report of an audit case is the platform's own: ops only. */
    if (who->kind != SG_AUTH_OPS && strcmp(json_string_value(json_object_get(out, "source")), RP_AUDIT_SOURCE) == 0) {
        json_decref(out);
        rp_reply_store_error(req, RP_NOT_FOUND, NULL, "report");
        return;
    }
    allowed = who->kind == SG_AUTH_OPS ||
              (who->kind == SG_AUTH_CLIENT && strcmp(who->id, json_string_value(json_object_get(out, "source"))) == 0) ||
              (who->kind == SG_AUTH_USER &&
               strcmp(who->id, json_string_value(json_object_get(out, "reporter_id"))) == 0);
    if (!allowed && who->kind == SG_AUTH_CLIENT) {
        /* Another tenant's report does not exist for this client. */
        json_decref(out);
        rp_reply_store_error(req, RP_NOT_FOUND, NULL, "report");
        return;
    }
    if (!allowed) {
        json_decref(out);
        sg_reply_problem(req, 403, "Forbidden", "only the client that filed the report or its reporter may read it");
        return;
    }
    sg_reply_json(req, 200, out);
}
