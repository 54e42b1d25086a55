/* Accounts and journal store; see store.h. */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "store_util.h"
#include "svc.h"

int rw_store_account_get(sg_pg_pool *p, const char *user_id, json_t **out)
{
    PGresult *r = NULL;
    int rc = sg_pg_read(p, RW_PG_WAIT_MS,
                        "SELECT json_build_object('user_id', $1::text, 'balance', coalesce((SELECT balance "
                        "FROM accounts WHERE user_id = $1::text AND kind = 'user'), 0), 'pending', "
                        "coalesce((SELECT sum(amount) FROM pending_grants WHERE user_id = $1::text), 0))::text",
                        1, SG_P(user_id), &r);
    *out = NULL;
    if (rc == SG_OK && (PQntuples(r) != 1 || !(*out = sg_pg_json(r, 0, 0))))
        rc = SG_ERR_DB;
    PQclear(r);
    return rc;
}

int rw_store_ledger_page(sg_pg_pool *p, const char *user_id, long long before_seq, int limit, json_t **page)
{
    char lim[16], bef[24];
    PGresult *r = NULL;
    snprintf(lim, sizeof lim, "%d", limit + 1);
    snprintf(bef, sizeof bef, "%lld", before_seq > 0 ? before_seq : 0x7fffffffffffffffLL);
    int rc = sg_pg_read(p, RW_PG_WAIT_MS,
                        "SELECT e.seq, json_build_object('entry_id', e.id, 'amount', e.amount, 'kind', t.kind, "
                        "'grant_kind', t.grant_kind, 'case_id', t.case_id, 'redemption_id', t.redemption_id, "
                        "'created_at', " SG_SQL_TS("e.created_at") ")::text "
                        "FROM ledger_entries e JOIN journal_tx t ON t.id = e.tx_id "
                        "WHERE e.account_id = $1 AND e.seq < $2::bigint ORDER BY e.seq DESC LIMIT $3::integer",
                        3, SG_P(user_id, bef, lim), &r);
    *page = NULL;
    if (rc == SG_OK && !(*page = sg_pg_page(r, limit, 0, 1)))
        rc = SG_ERR_DB;
    PQclear(r);
    return rc;
}

int rw_store_post(sg_pg *c, const rw_store_posting *p, rw_store_posted *out)
{
    char amount[24];
    int rc = SG_OK;
    PGresult *r;

    if (p->amount == 0)
        return SG_ERR_DB;
    snprintf(amount, sizeof amount, "%lld", p->amount);
    r = sg_pg_query(c,
                    "SELECT out_entry_id, out_tx_id, out_balance "
                    "FROM ledger_post($1, $2, $3::uuid, $4, $5, $6::bigint)",
                    6, SG_P(p->kind, p->case_id, p->redemption_id, p->grant_kind, p->user_id, amount));
    if (!sg_pg_ok(r)) {
        rc = sg_pg_err(c);
        goto cleanup;
    }
    if (PQntuples(r) != 1 || PQgetisnull(r, 0, 1)) {
        /* Only a debit can be refused; a refused credit means a corrupt id. */
        rc = p->amount < 0 ? RW_INSUFFICIENT : SG_ERR_DB;
        goto cleanup;
    }
    snprintf(out->entry_id, sizeof out->entry_id, "%s", PQgetvalue(r, 0, 0));
    snprintf(out->tx_id, sizeof out->tx_id, "%s", PQgetvalue(r, 0, 1));
    out->balance = atoll(PQgetvalue(r, 0, 2));
cleanup:
    PQclear(r);
    return rc;
}
