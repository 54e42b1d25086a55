-- Batches of sg.case.decided (services/reward/consumers.c,
-- rw_lock_cases_decided) hold every lock their events take until one
-- commit. So that they neither deadlock with nor wait in the middle of a
-- batch for the other writers of the ledger, they take first the rows that
-- grants of different cases share, in the order every grant takes them:
-- the users' accounts, sorted (rw_store_grant_lock_users, ledger_post), then
-- per platform shard, in shard order, the shard's platform account and its
-- grant totals (grant_batch, 008; an appeal's two calls go in shard order).
-- A user without an account yet has no row to lock: the grant inserts it.
CREATE OR REPLACE FUNCTION grant_lock_rows(p_users text[], p_cases text[]) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    v_shard int;
BEGIN
    PERFORM 1 FROM accounts WHERE user_id = ANY (p_users) AND kind = 'user' ORDER BY user_id FOR UPDATE;
    FOR v_shard IN SELECT DISTINCT abs(hashtext(c)) % 16 FROM unnest(p_cases) AS c ORDER BY 1 LOOP
        PERFORM 1 FROM accounts
        WHERE user_id = 'platform treasury' || CASE WHEN v_shard = 0 THEN '' ELSE ' ' || v_shard END
          AND kind = 'platform' FOR UPDATE;
        PERFORM 1 FROM ledger_totals WHERE kind = 'grant' AND shard = v_shard FOR UPDATE;
    END LOOP;
END $$;
