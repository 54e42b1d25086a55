/* Notifications: creation inside the case transactions (store_notify.h),
 * the inbox, preferences, templates, the ops listing, and the push
 * gateway's queue with the delivery lifecycle (lifecycle.h, rp_push_status:
 * one function per transition below). See store.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "sg/app.h"
#include "sg/log.h"
#include "sg/outbox.h"
#include "payloads.h"
#include "store.h"
#include "store_notify.h"
#include "store_util.h"

/* The locale of a user without preferences, and the fallback template. */
#define FALLBACK_LOCALE "en"

/* ---- creation ---- */

/* Everything the notifications of one kind about one case are made of, in
 * one statement, one row per user of $1 in their order: a fresh id, the
 * user, whether the user muted the kind, the template in force for the
 * user's locale (else en), the case's values and the user's ballot on it. */
static const char context_sql[] =
    "SELECT gen_random_uuid()::text, u.user_id, coalesce($2 = ANY (p.muted_kinds), false)::int, "
    "t.locale, t.version, t.title, t.body, c.report_type, c.verdict, "
    "coalesce(c.tally_violation, 0), coalesce(c.tally_no_violation, 0), "
    "CASE WHEN c.status = 'decided' AND c.appeal_of IS NULL THEN "
    SG_SQL_TS("c.decided_at + r.appeal_window_s * interval '1 second'") " END, "
    SG_SQL_TS("b.deadline") ", b.decision, coalesce($4::uuid, b.id)::text, c.appeal_of::text "
    "FROM cases c JOIN voting_rules r ON r.report_type = c.report_type AND r.version = c.rule_version "
    "CROSS JOIN unnest($1::text[]) WITH ORDINALITY AS u(user_id, o) "
    "LEFT JOIN notification_prefs p ON p.user_id = u.user_id "
    "LEFT JOIN ballots b ON b.case_id = c.id AND b.reviewer_id = u.user_id "
    "LEFT JOIN LATERAL (SELECT t.locale, t.version, t.title, t.body FROM notification_templates t "
    "   WHERE t.kind = $2 AND t.locale IN (coalesce(p.locale, '" FALLBACK_LOCALE "'), '" FALLBACK_LOCALE "') "
    "   ORDER BY (t.locale = coalesce(p.locale, '" FALLBACK_LOCALE "')) DESC, t.version DESC LIMIT 1) t ON true "
    "WHERE c.id = $3 ORDER BY u.o";
enum { C_ID, C_USER, C_MUTED, C_LOCALE, C_VERSION, C_TITLE, C_BODY, C_REPORT_TYPE, C_VERDICT, C_TALLY_V, C_TALLY_NV,
       C_APPEAL_DEADLINE, C_DEADLINE, C_DECISION, C_BALLOT, C_APPEAL_OF };

/* The rows of a transaction's notifications go in one statement before
 * COMMIT (sg_pg_defer), like its audit entries and events. */
static const char insert_sql[] =
    "INSERT INTO notifications (id, user_id, kind, case_id, ballot_id, locale, template_version, title, body, "
    "data, status, next_attempt_at) "
    "SELECT x.i::uuid, x.u, x.k, x.c::uuid, x.b::uuid, x.l, x.v::int, x.t, x.bd, x.d::jsonb, x.s, "
    "CASE WHEN x.s = 'pending' THEN now() END "
    "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], "
    "$9::text[], $10::text[], $11::text[]) WITH ORDINALITY AS x(i, u, k, c, b, l, v, t, bd, d, s, o) ORDER BY x.o";

#define COL(k) (PQgetisnull(res, row, k) ? NULL : PQgetvalue(res, row, k))

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* The notification's data (what the app needs to act on it), by kind. */
static json_t *notification_data(rp_notify_kind kind, const PGresult *res, int row, const char *case_id)
{
    const char *verdict = COL(C_VERDICT), *decision = COL(C_DECISION);
    json_t *d = json_pack("{s:s, s:s}", "case_id", case_id, "report_type", PQgetvalue(res, row, C_REPORT_TYPE));
    if (!d)
        return NULL;
    switch (kind) {
    case RP_NK_BALLOT_ASSIGNED:
    case RP_NK_BALLOT_REMINDER:
    case RP_NK_BALLOT_CANCELLED:
    case RP_NK_BALLOT_EXPIRED:
        json_object_set_new(d, "ballot_id", str_or_null(COL(C_BALLOT)));
        json_object_set_new(d, "deadline", str_or_null(COL(C_DEADLINE)));
        break;
    case RP_NK_CASE_OUTCOME:
    case RP_NK_REPORT_OUTCOME:
    case RP_NK_CONTENT_OUTCOME:
        json_object_set_new(d, "verdict", str_or_null(verdict));
        json_object_set_new(d, "tally", json_pack("{s:i, s:i}", "violation", atoi(PQgetvalue(res, row, C_TALLY_V)),
                                                  "no_violation", atoi(PQgetvalue(res, row, C_TALLY_NV))));
        if (kind == RP_NK_CASE_OUTCOME)
            json_object_set_new(d, "with_majority", json_boolean(verdict && decision && strcmp(verdict, decision) == 0));
        if (kind == RP_NK_CONTENT_OUTCOME)
            json_object_set_new(d, "appeal_deadline", str_or_null(COL(C_APPEAL_DEADLINE)));
        break;
    case RP_NK_APPEAL_OPENED:
        json_object_set_new(d, "appeal_of", str_or_null(COL(C_APPEAL_OF)));
        break;
    }
    return d;
}

/* Renders row `row` of the context, stores it (deferred insert), publishes
 * it and adds its audit entry. */
static int create_one(sg_pg *c, const PGresult *res, int row, rp_notify_kind kind, const char *case_id,
                      const char *tp)
{
    const char *kname = rp_notify_kind_name(kind), *id = PQgetvalue(res, row, C_ID);
    const char *user = PQgetvalue(res, row, C_USER), *bid = COL(C_BALLOT);
    char *title = NULL, *body = NULL, *data_text = NULL, tally[32];
    json_t *data = NULL, *payload = NULL;
    int rc = SG_ERR_DB;

    if (PQgetisnull(res, row, C_TITLE)) {
        sg_error("notification %s for %s: no template", kname, user);
        return SG_ERR_DB;
    }
    const char *status = rp_push_status_name(atoi(PQgetvalue(res, row, C_MUTED)) ? RP_PUSH_MUTED : RP_PUSH_PENDING);
    snprintf(tally, sizeof tally, "%s:%s", PQgetvalue(res, row, C_TALLY_V), PQgetvalue(res, row, C_TALLY_NV));
    rp_notify_vars vars = {kname,        PQgetvalue(res, row, C_REPORT_TYPE), case_id,
                           COL(C_DEADLINE), COL(C_VERDICT), COL(C_VERDICT) ? tally : NULL,
                           COL(C_APPEAL_DEADLINE)};
    title = rp_template_render(PQgetvalue(res, row, C_TITLE), &vars);
    body = rp_template_render(PQgetvalue(res, row, C_BODY), &vars);
    data = notification_data(kind, res, row, case_id);
    data_text = data ? json_dumps(data, JSON_COMPACT) : NULL;
    if (!title || !body || !data_text) {
        sg_error("notification %s for %s: cannot render template %s/%s v%s", kname, user, kname,
                 PQgetvalue(res, row, C_LOCALE), PQgetvalue(res, row, C_VERSION));
        goto cleanup;
    }
    const char *cols[] = {id,    user, kname,     case_id, bid, PQgetvalue(res, row, C_LOCALE),
                          PQgetvalue(res, row, C_VERSION), title, body, data_text, status};
    rc = sg_pg_in_tx(c) ? sg_pg_defer(c, insert_sql, 11, cols)
                        : sg_pg_exec(c,
                                     "INSERT INTO notifications (id, user_id, kind, case_id, ballot_id, locale, "
                                     "template_version, title, body, data, status, next_attempt_at) VALUES ($1, $2, "
                                     "$3, $4, $5, $6, $7::int, $8, $9, $10::jsonb, $11, "
                                     "CASE WHEN $11 = 'pending' THEN now() END)",
                                     11, cols);
    if (rc != SG_OK)
        goto cleanup;
    rp_notification e = {user, kname, case_id, bid, id, title, body};
    payload = rp_notification_encode(&e);
    rc = payload ? sg_outbox_add(c, SG_T_NOTIFICATION, user, SG_T_NOTIFICATION, payload, tp) : SG_ERR_DB;
    if (rc == SG_OK)
        rc = rp_audit_add(c, case_id, "notification", NULL,
                          json_pack("{s:s, s:s, s:s, s:s}", "notification_id", id, "kind", kname, "user_id", user,
                                    "status", status));
cleanup:
    free(title);
    free(body);
    free(data_text);
    json_decref(data);
    json_decref(payload);
    return rc;
}

int rp_notifications_create(sg_pg *c, const char *const *users, size_t n, rp_notify_kind kind, const char *case_id,
                            const char *ballot_id, const char *tp)
{
    const char *kname = rp_notify_kind_name(kind);
    char *arr;
    int rc;
    PGresult *res;

    if (!kname)
        return SG_ERR_DB;
    if (n == 0)
        return SG_OK;
    if (!(arr = sg_pg_text_array(users, n)))
        return SG_ERR_DB;
    res = sg_pg_rows(c, &rc, context_sql, 4, SG_P(arr, kname, case_id, n == 1 ? ballot_id : NULL));
    free(arr);
    if (!res)
        return rc;
    if ((size_t)PQntuples(res) != n) {
        sg_error("notification %s about case %s: no such case", kname, case_id);
        rc = SG_ERR_DB;
    }
    for (int i = 0; rc == SG_OK && i < PQntuples(res); i++)
        rc = create_one(c, res, i, kind, case_id, tp);
    PQclear(res);
    return rc;
}

int rp_notification_create(sg_pg *c, const char *user_id, rp_notify_kind kind, const char *case_id,
                           const char *ballot_id, const char *tp)
{
    return rp_notifications_create(c, &user_id, 1, kind, case_id, ballot_id, tp);
}

/* Notifies, in one batch, each user of column 0 of sql($1, $2) with kind
 * about case_id. */
static int notify_each(sg_pg *c, const char *sql, const char *p1, const char *p2, rp_notify_kind kind,
                       const char *case_id, const char *tp)
{
    int rc, n;
    const char **users = NULL;
    PGresult *res = sg_pg_rows(c, &rc, sql, 2, SG_P(p1, p2));
    if (!res)
        return rc;
    n = PQntuples(res);
    if (n > 0 && !(users = calloc((size_t)n, sizeof *users)))
        rc = SG_ERR_DB;
    for (int i = 0; rc == SG_OK && i < n; i++)
        users[i] = PQgetvalue(res, i, 0);
    if (rc == SG_OK)
        rc = rp_notifications_create(c, users, (size_t)n, kind, case_id, NULL, tp);
    free(users);
    PQclear(res);
    return rc;
}

static const char reporters_sql[] =
    "SELECT DISTINCT reporter_id FROM reports WHERE case_id = $1 AND reporter_id <> $2 ORDER BY 1";

int rp_notify_jurors_outcome(sg_pg *c, const char *case_id, const char *owner, const char *tp)
{
    return notify_each(c,
                       "SELECT reviewer_id FROM ballots WHERE case_id = $1 AND status = 'voted' "
                       "AND reviewer_id <> $2 ORDER BY seq",
                       case_id, owner, RP_NK_CASE_OUTCOME, case_id, tp);
}

int rp_notify_outcome(sg_pg *c, const char *case_id, const char *root_id, const char *owner, const char *tp)
{
    int rc = rp_notify_jurors_outcome(c, case_id, owner, tp);
    if (rc == SG_OK)
        rc = notify_each(c, reporters_sql, root_id, owner, RP_NK_REPORT_OUTCOME, case_id, tp);
    if (rc == SG_OK)
        rc = rp_notification_create(c, owner, RP_NK_CONTENT_OUTCOME, case_id, NULL, tp);
    return rc;
}

int rp_notify_appeal_opened(sg_pg *c, const char *appeal_id, const char *root_id, const char *owner,
                            const char *tp)
{
    int rc = rp_notification_create(c, owner, RP_NK_APPEAL_OPENED, appeal_id, NULL, tp);
    return rc == SG_OK ? notify_each(c, reporters_sql, root_id, owner, RP_NK_APPEAL_OPENED, appeal_id, tp) : rc;
}

/* ---- inbox ---- */

#define INBOX_JSON                                                                                                \
    "json_build_object('notification_id', n.id, 'kind', n.kind, 'case_id', n.case_id, 'ballot_id', n.ballot_id, " \
    "'title', n.title, 'body', n.body, 'data', n.data, 'created_at', " SG_SQL_TS("n.created_at") ", "           \
    "'read_at', " SG_SQL_TS("n.read_at") ")::text"

int rp_store_inbox(sg_pg_pool *p, const char *user, int unread_only, int limit, long long cursor, json_t **out)
{
    char b1[24], b2[24];
    /* Two statements so each uses its index (all, or the unread ones). */
    if (unread_only)
        return rp_store_read(p,
                             "SELECT " INBOX_JSON ", n.seq FROM notifications n WHERE n.user_id = $1 "
                             "AND n.read_at IS NULL AND ($2::bigint = 0 OR n.seq < $2::bigint) "
                             "ORDER BY n.seq DESC LIMIT $3::int + 1",
                             3, SG_P(user, sg_pg_int(b1, cursor), sg_pg_int(b2, limit)), limit, out);
    return rp_store_read(p,
                         "SELECT " INBOX_JSON ", n.seq FROM notifications n WHERE n.user_id = $1 "
                         "AND ($2::bigint = 0 OR n.seq < $2::bigint) ORDER BY n.seq DESC LIMIT $3::int + 1",
                         3, SG_P(user, sg_pg_int(b1, cursor), sg_pg_int(b2, limit)), limit, out);
}

typedef struct mark_ctx {
    const char *user;
    const char *ids; /* text[] literal, NULL: all */
    long marked;
} mark_ctx;

static int mark_tx(sg_pg *c, void *arg)
{
    mark_ctx *x = arg;
    int rc;
    PGresult *res = sg_pg_rows(c, &rc,
                               "UPDATE notifications SET read_at = now() WHERE user_id = $1 AND read_at IS NULL "
                               "AND ($2::text[] IS NULL OR id::text = ANY ($2::text[]))",
                               2, SG_P(x->user, x->ids));
    if (!res)
        return rc;
    x->marked = atol(PQcmdTuples(res));
    PQclear(res);
    return SG_OK;
}

int rp_store_inbox_mark_read(sg_pg_pool *p, const char *user, const json_t *ids, long *marked)
{
    mark_ctx x = {user, NULL, 0};
    char *arr = NULL;
    int rc;
    if (ids) {
        size_t n = json_array_size(ids), i;
        const char **v = calloc(n + 1, sizeof *v);
        if (!v)
            return SG_ERR_DB;
        for (i = 0; i < n; i++)
            v[i] = json_string_value(json_array_get(ids, i));
        arr = sg_pg_text_array(v, n);
        free(v);
        if (!arr)
            return SG_ERR_DB;
        x.ids = arr;
    }
    rc = sg_pg_tx(p, SG_TX_READ_COMMITTED, mark_tx, &x);
    free(arr);
    *marked = rc == SG_OK ? x.marked : 0;
    return rc;
}

/* ---- preferences ---- */

#define PREFS_JSON(p)                                                                                             \
    "json_build_object('user_id', " p ".user_id, 'locale', " p ".locale, 'muted_kinds', to_json(" p                 \
    ".muted_kinds), 'quiet_hours', CASE WHEN " p ".quiet_start IS NULL THEN NULL ELSE json_build_object('start', " \
    "to_char(make_interval(mins => " p ".quiet_start), 'HH24:MI'), 'end', to_char(make_interval(mins => " p       \
    ".quiet_end), 'HH24:MI'), 'utc_offset_minutes', " p ".quiet_offset) END)::text"

int rp_store_prefs_get(sg_pg_pool *p, const char *user, json_t **out)
{
    return rp_store_read(p,
                         "SELECT " PREFS_JSON("x") " FROM (SELECT $1::text AS user_id, coalesce(p.locale, '" FALLBACK_LOCALE
                         "') AS locale, coalesce(p.muted_kinds, '{}') AS muted_kinds, p.quiet_start, p.quiet_end, "
                         "p.quiet_offset FROM (SELECT 1) one LEFT JOIN notification_prefs p ON p.user_id = $1) x",
                         1, SG_P(user), 0, out);
}

typedef struct prefs_ctx {
    const char *user, *locale, *muted, *qs, *qe, *qo;
    int set_muted, set_quiet;
    json_t *out;
} prefs_ctx;

/* The muted kinds given ($3), each once, in name order. */
#define MUTED_SET "(SELECT coalesce(array_agg(DISTINCT k ORDER BY k), '{}') FROM unnest($3::text[]) k)"

static int prefs_tx(sg_pg *c, void *arg)
{
    prefs_ctx *x = arg;
    int rc;
    json_decref(x->out);
    x->out = sg_pg_query_json(
        c, &rc,
        "INSERT INTO notification_prefs AS p (user_id, locale, muted_kinds, quiet_start, quiet_end, quiet_offset) "
        "VALUES ($1, coalesce($2, '" FALLBACK_LOCALE "'), " MUTED_SET ", $5::int, $6::int, $7::int) "
        "ON CONFLICT (user_id) DO UPDATE SET locale = coalesce($2, p.locale), "
        "muted_kinds = CASE WHEN $4::int & 1 = 1 THEN " MUTED_SET " ELSE p.muted_kinds END, "
        "quiet_start = CASE WHEN $4::int & 2 = 2 THEN $5::int ELSE p.quiet_start END, "
        "quiet_end = CASE WHEN $4::int & 2 = 2 THEN $6::int ELSE p.quiet_end END, "
        "quiet_offset = CASE WHEN $4::int & 2 = 2 THEN $7::int ELSE p.quiet_offset END, updated_at = now() "
        "RETURNING " PREFS_JSON("p"),
        7,
        SG_P(x->user, x->locale, x->muted, x->set_muted && x->set_quiet ? "3" : x->set_muted ? "1" : x->set_quiet ? "2" : "0",
             x->qs, x->qe, x->qo));
    if (rc == SG_OK && !x->out)
        rc = SG_ERR_DB;
    return rc;
}

int rp_store_prefs_put(sg_pg_pool *p, const char *user, const char *locale, const json_t *muted_kinds,
                       const rp_quiet_hours *quiet, int clear_quiet, json_t **out)
{
    char b1[24], b2[24], b3[24], *muted = NULL;
    prefs_ctx x = {user, locale, NULL, NULL, NULL, NULL, muted_kinds != NULL, quiet || clear_quiet, NULL};
    int rc;
    if (muted_kinds) {
        size_t n = json_array_size(muted_kinds);
        const char **v = calloc(n + 1, sizeof *v);
        if (!v)
            return SG_ERR_DB;
        for (size_t i = 0; i < n; i++)
            v[i] = json_string_value(json_array_get(muted_kinds, i));
        muted = sg_pg_text_array(v, n);
        free(v);
        if (!muted)
            return SG_ERR_DB;
        x.muted = muted;
    }
    if (quiet) {
        x.qs = sg_pg_int(b1, quiet->start_min);
        x.qe = sg_pg_int(b2, quiet->end_min);
        x.qo = sg_pg_int(b3, quiet->utc_offset);
    }
    rc = sg_pg_tx(p, SG_TX_READ_COMMITTED, prefs_tx, &x);
    free(muted);
    if (rc != SG_OK) {
        json_decref(x.out);
        x.out = NULL;
    }
    *out = x.out;
    return rc;
}

/* ---- templates ---- */

#define TEMPLATE_JSON                                                                                          \
    "json_build_object('kind', t.kind, 'locale', t.locale, 'version', t.version, 'title', t.title, 'body', "  \
    "t.body, 'created_by', t.created_by, 'created_at', " SG_SQL_TS("t.created_at") ")::text"

int rp_store_templates_list(sg_pg_pool *p, int limit, long long cursor, json_t **out)
{
    char b1[24], b2[24];
    /* The newest version of each (kind, locale), in the order they were
     * first stored; cursor = that first version's seq. */
    return rp_store_read(p,
                         "SELECT " TEMPLATE_JSON ", f.first FROM (SELECT kind, locale, min(seq) AS first, "
                         "max(version) AS v FROM notification_templates GROUP BY kind, locale) f "
                         "JOIN notification_templates t ON t.kind = f.kind AND t.locale = f.locale AND t.version = f.v "
                         "WHERE ($1::bigint = 0 OR f.first > $1::bigint) ORDER BY f.first LIMIT $2::int + 1",
                         2, SG_P(sg_pg_int(b1, cursor), sg_pg_int(b2, limit)), limit, out);
}

typedef struct template_ctx {
    const char *kind, *locale, *title, *body, *actor;
    json_t *out;
} template_ctx;

static int template_tx(sg_pg *c, void *arg)
{
    template_ctx *x = arg;
    int rc;
    /* Versions of one (kind, locale) are numbered under a lock of that
     * pair, so two concurrent PUTs get consecutive versions. */
    if ((rc = sg_pg_exec(c, "SELECT pg_advisory_xact_lock(hashtext('sg_tpl:' || $1 || '/' || $2))", 2,
                         SG_P(x->kind, x->locale))) != SG_OK)
        return rc;
    json_decref(x->out);
    x->out = sg_pg_query_json(c, &rc,
                              "INSERT INTO notification_templates AS t (kind, locale, version, title, body, created_by) "
                              "SELECT $1, $2, coalesce(max(version), 0) + 1, $3, $4, $5 FROM notification_templates "
                              "WHERE kind = $1 AND locale = $2 RETURNING " TEMPLATE_JSON,
                              5, SG_P(x->kind, x->locale, x->title, x->body, x->actor));
    if (rc == SG_OK && !x->out)
        rc = SG_ERR_DB;
    return rc;
}

int rp_store_template_put(sg_pg_pool *p, const char *kind, const char *locale, const char *title, const char *body,
                          const char *actor, json_t **out)
{
    template_ctx x = {kind, locale, title, body, actor, NULL};
    int rc = sg_pg_tx(p, SG_TX_READ_COMMITTED, template_tx, &x);
    if (rc != SG_OK) {
        json_decref(x.out);
        x.out = NULL;
    }
    *out = x.out;
    return rc;
}

/* ---- ops listing ---- */

int rp_store_notifications_list(sg_pg_pool *p, const char *user_id, const char *status, int limit, long long cursor,
                                json_t **out)
{
    char b1[24], b2[24];
    return rp_store_read(
        p,
        "SELECT json_build_object('notification_id', n.id, 'user_id', n.user_id, 'kind', n.kind, 'case_id', "
        "n.case_id, 'ballot_id', n.ballot_id, 'locale', n.locale, 'template_version', n.template_version, "
        "'title', n.title, 'status', n.status, 'attempts', n.attempts, 'last_result', n.last_result, "
        "'next_attempt_at', " SG_SQL_TS("n.next_attempt_at") ", 'sent_at', " SG_SQL_TS("n.sent_at") ", "
        "'created_at', " SG_SQL_TS("n.created_at") ", 'read_at', " SG_SQL_TS("n.read_at") ")::text, n.seq "
        "FROM notifications n WHERE ($1::text IS NULL OR n.user_id = $1) AND ($2::text IS NULL OR n.status = $2) "
        "AND ($3::bigint = 0 OR n.seq < $3::bigint) ORDER BY n.seq DESC LIMIT $4::int + 1",
        4, SG_P(user_id, status, sg_pg_int(b1, cursor), sg_pg_int(b2, limit)), limit, out);
}

/* ---- delivery lifecycle: one function per transition ---- */

/* Moves notification id from `from` to `to` (the table decides; staying in
 * pending or deferred is not a transition and is allowed): status, due time
 * (next_s >= 0: now + next_s; < 0: none), attempts + add_attempt, result.
 * Audit entry "notification_<to>" for the case (when there is one) on a
 * change of status. RP_CONFLICT when the table refuses or the row moved. */
static int push_move(sg_pg *c, const char *id, const char *case_id, rp_push_status from, rp_push_status to,
                     long next_s, int add_attempt, const char *result)
{
    char b1[24], b2[24];
    int rc;
    PGresult *res;
    if (from != to && !rp_push_transition_ok(from, to)) {
        sg_error("notification %s: illegal delivery transition %s -> %s", id, rp_push_status_name(from),
                 rp_push_status_name(to));
        return RP_CONFLICT;
    }
    res = sg_pg_rows(c, &rc,
                     "UPDATE notifications SET status = $3, attempts = attempts + $4::int, "
                     "next_attempt_at = CASE WHEN $5::bigint >= 0 THEN now() + $5::bigint * interval '1 second' END, "
                     "sent_at = CASE WHEN $3 = 'sent' THEN now() ELSE sent_at END, "
                     "last_result = coalesce($6, last_result) WHERE id = $1 AND status = $2 RETURNING attempts",
                     6, SG_P(id, rp_push_status_name(from), rp_push_status_name(to), sg_pg_int(b1, add_attempt),
                             sg_pg_int(b2, next_s), result));
    if (!res)
        return rc;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return RP_CONFLICT;
    }
    int attempts = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    if (from == to || !case_id[0])
        return SG_OK;
    char kind[40];
    snprintf(kind, sizeof kind, "notification_%s", rp_push_status_name(to));
    return rp_audit_add(c, case_id, kind, NULL,
                        json_pack("{s:s, s:i, s:o}", "notification_id", id, "attempts", attempts, "result",
                                  result ? json_string(result) : json_null()));
}

/* pending|deferred -> muted: the user muted the kind after it was made. */
static int push_mute(sg_pg *c, const char *id, const char *case_id, rp_push_status from)
{
    return push_move(c, id, case_id, from, RP_PUSH_MUTED, -1, 0, "muted");
}

/* pending|deferred -> capped: over the user's hourly cap; inbox only. */
static int push_cap(sg_pg *c, const char *id, const char *case_id, rp_push_status from, long max_per_hour)
{
    char why[64];
    snprintf(why, sizeof why, "over %ld pushes per hour", max_per_hour);
    return push_move(c, id, case_id, from, RP_PUSH_CAPPED, -1, 0, why);
}

/* pending -> deferred (or a deferred one again): due when quiet hours end. */
static int push_defer(sg_pg *c, const char *id, const char *case_id, rp_push_status from, long wait_s)
{
    return push_move(c, id, case_id, from, RP_PUSH_DEFERRED, wait_s, 0, "quiet hours");
}

/* pending|deferred -> sent: the gateway answered 2xx. */
static int push_sent(sg_pg *c, const char *id, const char *case_id, rp_push_status from, const char *result)
{
    return push_move(c, id, case_id, from, RP_PUSH_SENT, -1, 1, result);
}

/* pending|deferred -> failed: the last attempt failed. */
static int push_fail(sg_pg *c, const char *id, const char *case_id, rp_push_status from, const char *result)
{
    return push_move(c, id, case_id, from, RP_PUSH_FAILED, -1, 1, result);
}

/* pending|deferred -> pending: an attempt failed, another follows. */
static int push_retry(sg_pg *c, const char *id, const char *case_id, rp_push_status from, long backoff_s,
                      const char *result)
{
    return push_move(c, id, case_id, from, RP_PUSH_PENDING, backoff_s, 1, result);
}

/* ---- the gateway queue ---- */

enum { Q_ID, Q_CASE, Q_USER, Q_KIND, Q_TITLE, Q_BODY, Q_DATA, Q_STATUS, Q_ATTEMPTS, Q_COUNTED, Q_MUTED, Q_QSTART,
       Q_QEND, Q_QOFFSET, Q_NOW };

typedef struct claim_ctx {
    int max_jobs;
    int lease_s;
    long max_per_hour;
    rp_push_job *jobs;
    int njobs;    /* out: to send */
    int handled;  /* out: settled here + to send */
} claim_ctx;

/* Fills job from row i of the claim and encodes the gateway request. */
static int make_job(const PGresult *res, int i, rp_push_job *j)
{
    json_t *data = json_loads(PQgetvalue(res, i, Q_DATA), 0, NULL), *req;
    rp_push_request e = {PQgetvalue(res, i, Q_ID),    PQgetvalue(res, i, Q_USER), PQgetvalue(res, i, Q_KIND),
                         PQgetvalue(res, i, Q_TITLE), PQgetvalue(res, i, Q_BODY), data};
    snprintf(j->id, sizeof j->id, "%s", PQgetvalue(res, i, Q_ID));
    snprintf(j->case_id, sizeof j->case_id, "%s", PQgetvalue(res, i, Q_CASE));
    snprintf(j->kind, sizeof j->kind, "%s", PQgetvalue(res, i, Q_KIND));
    j->attempts = atoi(PQgetvalue(res, i, Q_ATTEMPTS));
    req = rp_push_request_encode(&e);
    j->body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    j->user_id = strdup(PQgetvalue(res, i, Q_USER));
    json_decref(req);
    json_decref(data);
    return j->body && j->user_id ? SG_OK : SG_ERR_DB;
}

static int claim_tx(sg_pg *c, void *arg)
{
    claim_ctx *x = arg;
    char b1[24], b2[24], *ids = NULL;
    const char **send = NULL;
    int rc, n, nsend = 0;
    /* Due rows, grouped by user (the order in which users are locked, so two
     * replicas never wait on each other's users in a cycle). */
    PGresult *res = sg_pg_rows(
        c, &rc,
        "SELECT n.id, coalesce(n.case_id::text, ''), n.user_id, n.kind, n.title, n.body, n.data::text, n.status, "
        "n.attempts, (n.first_attempt_at IS NOT NULL)::int, coalesce(n.kind = ANY (p.muted_kinds), false)::int, "
        "p.quiet_start, p.quiet_end, p.quiet_offset, extract(epoch FROM now())::bigint "
        "FROM notifications n LEFT JOIN notification_prefs p ON p.user_id = n.user_id "
        "WHERE n.id IN (SELECT id FROM notifications WHERE status IN ('pending', 'deferred') "
        "  AND next_attempt_at <= now() ORDER BY next_attempt_at LIMIT $1::int FOR UPDATE SKIP LOCKED) "
        "ORDER BY n.user_id, n.seq",
        1, SG_P(sg_pg_int(b1, x->max_jobs)));

    for (int i = 0; i < x->njobs; i++)
        rp_store_push_job_free(&x->jobs[i]);
    x->njobs = x->handled = 0;
    if (!res)
        return rc;
    n = PQntuples(res);
    if (n > 0 && !(send = calloc((size_t)n, sizeof *send))) {
        rc = SG_ERR_DB;
        goto cleanup;
    }
    long pushed = 0;
    const char *locked_user = NULL;
    for (int i = 0; rc == SG_OK && i < n; i++) {
        const char *id = PQgetvalue(res, i, Q_ID), *case_id = PQgetvalue(res, i, Q_CASE);
        const char *user = PQgetvalue(res, i, Q_USER);
        rp_push_status from;
        rp_quiet_hours q, *qp = NULL;
        long wait_s;
        int counted = atoi(PQgetvalue(res, i, Q_COUNTED)), muted = atoi(PQgetvalue(res, i, Q_MUTED));
        time_t now = (time_t)atoll(PQgetvalue(res, i, Q_NOW));

        if (rp_push_status_parse(PQgetvalue(res, i, Q_STATUS), &from) != 0) {
            rc = SG_ERR_DB;
            break;
        }
        if (!PQgetisnull(res, i, Q_QSTART)) {
            q = (rp_quiet_hours){atoi(PQgetvalue(res, i, Q_QSTART)), atoi(PQgetvalue(res, i, Q_QEND)),
                                 atoi(PQgetvalue(res, i, Q_QOFFSET))};
            qp = &q;
        }
        if (!muted && !counted && !rp_quiet_wait_s(now, qp) && (!locked_user || strcmp(locked_user, user) != 0)) {
            /* The cap is counted under a lock of the user (held to COMMIT),
             * so two replicas cannot both push the user's last allowed
             * notification; this batch's own pushes are added as it goes. */
            PGresult *cnt;
            if ((rc = sg_pg_exec(c, "SELECT pg_advisory_xact_lock(hashtext('sg_push:' || $1))", 1, SG_P(user))) !=
                SG_OK)
                break;
            cnt = sg_pg_rows(c, &rc,
                             "SELECT count(*) FROM notifications WHERE user_id = $1 "
                             "AND first_attempt_at > now() - interval '1 hour'",
                             1, SG_P(user));
            if (!cnt)
                break;
            pushed = atol(PQgetvalue(cnt, 0, 0));
            PQclear(cnt);
            locked_user = user;
        }
        switch (rp_push_decide(now, muted, qp, counted, pushed, x->max_per_hour, &wait_s)) {
        case RP_PUSH_DO_MUTE:
            rc = push_mute(c, id, case_id, from);
            break;
        case RP_PUSH_DO_DEFER:
            rc = push_defer(c, id, case_id, from, wait_s);
            break;
        case RP_PUSH_DO_CAP:
            rc = push_cap(c, id, case_id, from, x->max_per_hour);
            break;
        case RP_PUSH_DO_SEND:
            if (!counted)
                pushed++;
            send[nsend++] = id;
            if ((rc = make_job(res, i, &x->jobs[x->njobs])) == SG_OK)
                x->njobs++;
            break;
        }
        x->handled++;
    }
    /* The lease: the rows to send are due again after it, so a crash
     * mid-call only delays them. */
    if (rc == SG_OK && nsend > 0) {
        if (!(ids = sg_pg_text_array(send, (size_t)nsend)))
            rc = SG_ERR_DB;
        else
            rc = sg_pg_exec(c,
                            "UPDATE notifications SET next_attempt_at = now() + $2::int * interval '1 second', "
                            "first_attempt_at = coalesce(first_attempt_at, now()) WHERE id = ANY ($1::uuid[])",
                            2, SG_P(ids, sg_pg_int(b2, x->lease_s)));
    }
cleanup:
    free(ids);
    free(send);
    PQclear(res);
    return rc;
}

int rp_store_push_claim(sg_pg_pool *p, int max_jobs, int lease_s, long max_per_hour, rp_push_job *jobs, int *njobs)
{
    claim_ctx x = {max_jobs, lease_s, max_per_hour, jobs, 0, 0};
    memset(jobs, 0, sizeof *jobs * (size_t)max_jobs);
    *njobs = 0;
    if (sg_pg_tx(p, SG_TX_READ_COMMITTED, claim_tx, &x) != SG_OK) {
        for (int i = 0; i < x.njobs; i++)
            rp_store_push_job_free(&jobs[i]);
        return -1;
    }
    *njobs = x.njobs;
    return x.handled;
}

typedef struct record_ctx {
    const rp_push_job *jobs;
    const rp_push_result *results;
    int n;
    int max_attempts;
    long max_backoff_s;
} record_ctx;

/* One attempt's result: sent, retried or failed (RP_CONFLICT, and nothing
 * written, when the row was settled meanwhile by another attempt made after
 * this one's lease ran out). */
static int record_one(sg_pg *c, const rp_push_job *j, const rp_push_result *r, int max_attempts, long max_backoff_s)
{
    char result[300];
    rp_push_status from;
    int rc, attempts;
    PGresult *res = sg_pg_rows(c, &rc, "SELECT status, attempts FROM notifications WHERE id = $1 FOR UPDATE", 1,
                               SG_P(j->id));
    if (!res)
        return rc;
    if (PQntuples(res) != 1 || rp_push_status_parse(PQgetvalue(res, 0, 0), &from) != 0 ||
        (from != RP_PUSH_PENDING && from != RP_PUSH_DEFERRED)) {
        PQclear(res);
        return RP_CONFLICT;
    }
    attempts = atoi(PQgetvalue(res, 0, 1));
    PQclear(res);
    if (!r->attempted) /* released unattempted: due now, no attempt counted */
        return sg_pg_exec(c, "UPDATE notifications SET next_attempt_at = now() WHERE id = $1", 1, SG_P(j->id));
    if (r->http_status > 0)
        snprintf(result, sizeof result, "HTTP %d", r->http_status);
    else
        snprintf(result, sizeof result, "%.290s", r->error[0] ? r->error : "no response");
    if (r->http_status >= 200 && r->http_status < 300)
        return push_sent(c, j->id, j->case_id, from, result);
    if (attempts + 1 >= max_attempts)
        return push_fail(c, j->id, j->case_id, from, result);
    return push_retry(c, j->id, j->case_id, from, rp_push_backoff_s(attempts + 1, max_backoff_s), result);
}

static int record_tx(sg_pg *c, void *arg)
{
    record_ctx *x = arg;
    int rc = SG_OK;
    for (int i = 0; rc == SG_OK && i < x->n; i++) {
        rc = record_one(c, &x->jobs[i], &x->results[i], x->max_attempts, x->max_backoff_s);
        if (rc == RP_CONFLICT)
            rc = SG_OK;
    }
    return rc;
}

int rp_store_push_record(sg_pg_pool *p, const rp_push_job *jobs, const rp_push_result *results, int n,
                         int max_attempts, long max_backoff_s)
{
    record_ctx x = {jobs, results, n, max_attempts, max_backoff_s};
    return sg_pg_tx(p, SG_TX_READ_COMMITTED, record_tx, &x) == SG_OK ? 0 : -1;
}

void rp_store_push_job_free(rp_push_job *job)
{
    free(job->body);
    free(job->user_id);
    job->body = job->user_id = NULL;
}

/* ---- metrics ---- */

static int counts_tx(sg_pg *c, void *arg)
{
    long (*counts)[RP_PUSH_NSTATUS] = arg;
    int rc;
    PGresult *res = sg_pg_rows(c, &rc, "SELECT kind, status, count(*) FROM notifications GROUP BY kind, status", 0,
                               NULL);
    if (!res)
        return rc;
    for (int i = 0; i < PQntuples(res); i++) {
        rp_notify_kind k;
        rp_push_status s;
        if (rp_notify_kind_parse(PQgetvalue(res, i, 0), &k) == 0 && rp_push_status_parse(PQgetvalue(res, i, 1), &s) == 0)
            counts[k][s] = atol(PQgetvalue(res, i, 2));
    }
    PQclear(res);
    return SG_OK;
}

int rp_store_notification_counts(sg_pg_pool *p, long counts[RP_NK_COUNT][RP_PUSH_NSTATUS])
{
    memset(counts, 0, sizeof(long) * RP_NK_COUNT * RP_PUSH_NSTATUS);
    return sg_pg_tx(p, SG_TX_READ_COMMITTED, counts_tx, counts) == SG_OK ? 0 : -1;
}
