/* Idempotent consumer: the inbox row and the handler share one transaction. */
#include "sg/inbox.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* The message's JSON object and its event id (header, else payload
 * field); NULL, logged, when it is not a JSON object or has no valid id: such
 * a message is dropped. The caller owns the object. */
static json_t *parse_event(const sg_kafka_msg *m, const char **event_id)
{
    json_error_t jerr;
    json_t *payload = json_loadb(m->value, m->len, 0, &jerr);
    if (!json_is_object(payload)) {
        sg_error("inbox: dropping %s[%d]@%lld: value is not a JSON object (%s)", m->topic, (int)m->partition,
                 (long long)m->offset, payload ? "not an object" : jerr.text);
        json_decref(payload);
        return NULL;
    }
    *event_id = m->event_id ? m->event_id : sg_json_str(payload, "event_id");
    if (!*event_id || !sg_is_uuid(*event_id)) {
        sg_error("inbox: dropping %s[%d]@%lld: missing or invalid event_id", m->topic, (int)m->partition,
                 (long long)m->offset);
        json_decref(payload);
        return NULL;
    }
    return payload;
}

int sg_inbox_process(sg_pg_pool *p, const sg_kafka_msg *m, sg_inbox_fn fn, void *ctx)
{
    json_t *payload = NULL;
    int ret = 0;

    inbox_tx t = {.m = m, .fn = fn, .ctx = ctx};
    if (!(payload = parse_event(m, &t.event_id)))
        goto cleanup;
    t.payload = payload;
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

/* ---- batches -------------------------------------------------------------------- */

typedef struct batch_item {
    const sg_kafka_msg *m;
    json_t *payload;      /* NULL: malformed, skipped */
    const char *event_id;
    int fresh;            /* recorded by this transaction: fn runs */
} batch_item;

typedef struct batch_tx {
    batch_item *items;
    size_t n;
    sg_inbox_fn fn;
    sg_inbox_apply_fn apply;
    void *ctx;
} batch_tx;

/* One INSERT for every id; an id it returns is fresh, for the first item
 * that carries it (a batch can hold an event twice: redelivery). */
static int batch_record(sg_pg *c, batch_tx *b)
{
    const char **ids = calloc(b->n, sizeof *ids);
    const char **topics = calloc(b->n, sizeof *topics);
    char *aids = NULL, *atopics = NULL;
    PGresult *res = NULL;
    int rc = SG_ERR_DB;
    size_t k = 0;

    if (!ids || !topics)
        goto cleanup;
    for (size_t i = 0; i < b->n; i++) {
        b->items[i].fresh = 0;
        if (b->items[i].payload) {
            ids[k] = b->items[i].event_id;
            topics[k++] = b->items[i].m->topic;
        }
    }
    if (k == 0) {
        rc = SG_OK;
        goto cleanup;
    }
    aids = sg_pg_text_array(ids, k);
    atopics = sg_pg_text_array(topics, k);
    if (!aids || !atopics)
        goto cleanup;
    res = sg_pg_query(c,
                      "INSERT INTO inbox (event_id, topic) SELECT * FROM unnest($1::uuid[], $2::text[]) "
                      "ON CONFLICT DO NOTHING RETURNING event_id::text",
                      2, SG_P(aids, atopics));
    if (!sg_pg_ok(res)) {
        rc = sg_pg_err(c);
        goto cleanup;
    }
    for (int r = 0; r < PQntuples(res); r++) {
        const char *id = PQgetvalue(res, r, 0);
        for (size_t i = 0; i < b->n; i++)
            if (b->items[i].payload && !b->items[i].fresh && strcasecmp(b->items[i].event_id, id) == 0) {
                b->items[i].fresh = 1;
                break;
            }
    }
    rc = SG_OK;
cleanup:
    PQclear(res);
    free(aids);
    free(atopics);
    free(ids);
    free(topics);
    return rc;
}

static int batch_tx_fn(sg_pg *c, void *ctx)
{
    batch_tx *b = ctx;
    int rc = batch_record(c, b);
    if (rc == SG_OK && b->apply) {
        const json_t **fresh = calloc(b->n, sizeof *fresh);
        size_t k = 0;
        if (!fresh)
            return SG_ERR_DB;
        for (size_t i = 0; i < b->n; i++)
            if (b->items[i].fresh)
                fresh[k++] = b->items[i].payload;
        rc = k ? b->apply(c, (const json_t *const *)fresh, k, b->ctx) : SG_OK;
        free(fresh);
        return rc;
    }
    for (size_t i = 0; rc == SG_OK && i < b->n; i++)
        if (b->items[i].fresh)
            rc = b->fn(c, b->items[i].m, b->items[i].payload, b->ctx);
    /* Any failure (even one that would drop a single event) rolls back the
     * batch: the one-by-one path sorts out which event it was. */
    return rc;
}

size_t sg_inbox_process_batch(sg_pg_pool *p, const sg_kafka_msg *msgs, size_t n, sg_inbox_fn fn,
                              sg_inbox_apply_fn apply, void *ctx, int *one_tx)
{
    if (one_tx)
        *one_tx = 0;
    if (n == 0)
        return 0;
    if (n == 1)
        return sg_inbox_process(p, &msgs[0], fn, ctx) == 0;
    batch_tx b = {.items = calloc(n, sizeof(batch_item)), .n = n, .fn = fn, .apply = apply, .ctx = ctx};
    size_t done = 0;
    if (b.items) {
        for (size_t i = 0; i < n; i++) {
            b.items[i].m = &msgs[i];
            b.items[i].payload = parse_event(&msgs[i], &b.items[i].event_id);
        }
        int rc = sg_pg_tx(p, SG_TX_READ_COMMITTED, batch_tx_fn, &b);
        if (rc == SG_OK) {
            done = n;
            if (one_tx)
                *one_tx = 1;
        } else
            sg_info("inbox: a batch of %zu events from %s failed (%d); handling them one by one", n, msgs[0].topic,
                    rc);
        for (size_t i = 0; i < n; i++)
            json_decref(b.items[i].payload);
        free(b.items);
    }
    for (; done < n; done++)
        if (sg_inbox_process(p, &msgs[done], fn, ctx) != 0)
            break;
    return done;
}
