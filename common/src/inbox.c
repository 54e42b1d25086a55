/* Idempotent consumer: the inbox row and the handler share one transaction. */
#include "sg/inbox.h"

#include <string.h>

#include "sg/json.h"
#include "sg/log.h"

typedef struct inbox_tx {
    const sg_kafka_msg *m;
    const char *event_id;
    const json_t *payload;
    sg_inbox_fn fn;
    void *ctx;
    int duplicate;
} inbox_tx;

/* Returns SG_OK and sets duplicate when the row already existed. */
static int insert_row(sg_pg *c, inbox_tx *t)
{
    PGresult *res = sg_pg_query(c, "INSERT INTO inbox (event_id, topic) VALUES ($1::uuid, $2) ON CONFLICT DO NOTHING",
                                2, SG_P(t->event_id, t->m->topic));
    int rc = SG_OK;
    if (!sg_pg_ok(res))
        rc = sg_pg_err(c);
    else
        t->duplicate = strcmp(PQcmdTuples(res), "0") == 0;
    PQclear(res);
    return rc;
}

static int handle_tx(sg_pg *c, void *ctx)
{
    inbox_tx *t = ctx;
    t->duplicate = 0;
    int rc = insert_row(c, t);
    if (rc != SG_OK || t->duplicate)
        return rc;
    return t->fn(c, t->m, t->payload, t->ctx);
}

static int record_only_tx(sg_pg *c, void *ctx)
{
    return insert_row(c, ctx);
}

int sg_inbox_process(sg_pg_pool *p, const sg_kafka_msg *m, sg_inbox_fn fn, void *ctx)
{
    json_error_t jerr;
    json_t *payload = NULL;
    int ret = 0;

    payload = json_loadb(m->value, m->len, 0, &jerr);
    if (!json_is_object(payload)) {
        sg_error("inbox: dropping %s[%d]@%lld: value is not a JSON object (%s)", m->topic, (int)m->partition,
                 (long long)m->offset, payload ? "not an object" : jerr.text);
        goto cleanup;
    }
    inbox_tx t = {.m = m, .payload = payload, .fn = fn, .ctx = ctx};
    t.event_id = m->event_id ? m->event_id : sg_json_str(payload, "event_id");
    if (!t.event_id || !sg_is_uuid(t.event_id)) {
        sg_error("inbox: dropping %s[%d]@%lld: missing or invalid event_id", m->topic, (int)m->partition,
                 (long long)m->offset);
        goto cleanup;
    }
    int rc = sg_pg_tx(p, SG_TX_READ_COMMITTED, handle_tx, &t);
    if (rc == SG_OK) {
        if (t.duplicate)
            sg_debug("inbox: event %s already handled", t.event_id);
        goto cleanup;
    }
    if (rc > 0 || rc == SG_ERR_TOO_LARGE) {
        /* SG_ERR_TOO_LARGE: the event it would cause is over 256 KiB, and
         * would be again at every redelivery: retrying it would hold back
         * every event behind it on its partition forever. */
        sg_error("inbox: dropping event %s (%s) from %s: handler refused it (%s %d)", t.event_id,
                 m->event_type ? m->event_type : "?", m->topic, rc > 0 ? "code" : "an event it causes is too large,",
                 rc);
        /* Recorded on its own so that redelivery does not retry it. */
        if (sg_pg_tx(p, SG_TX_READ_COMMITTED, record_only_tx, &t) != SG_OK)
            ret = -1;
        goto cleanup;
    }
    ret = -1;
cleanup:
    json_decref(payload);
    return ret;
}
