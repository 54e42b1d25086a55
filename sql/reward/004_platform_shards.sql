-- The platform's side of every posting was one account row, and the running
-- totals one row per kind: their locks, held to commit, serialized every grant
-- and redemption of the service. Both are spread over 16 shards chosen by the
-- case (grants), the redemption (redeem, refund) or the user, so one
-- transaction still locks exactly one platform row and concurrent ones rarely
-- the same. The platform's balance is the sum of its shards; the journal still
-- sums to zero.
ALTER TABLE accounts DROP CONSTRAINT accounts_platform_id;
ALTER TABLE accounts ADD CONSTRAINT accounts_platform_id
    CHECK ((kind = 'platform') = (user_id ~ '^platform treasury( [0-9]{1,2})?$'));
INSERT INTO accounts (user_id, kind, balance)
SELECT 'platform treasury ' || g, 'platform', 0 FROM generate_series(1, 15) AS g;

ALTER TABLE ledger_totals ADD COLUMN shard integer NOT NULL DEFAULT 0 CHECK (shard BETWEEN 0 AND 15);
ALTER TABLE ledger_totals DROP CONSTRAINT ledger_totals_pkey;
ALTER TABLE ledger_totals ADD PRIMARY KEY (kind, shard);
INSERT INTO ledger_totals (kind, shard)
SELECT k, g FROM unnest(ARRAY['grant', 'redeem', 'refund', 'adjust']) AS k, generate_series(1, 15) AS g;

CREATE OR REPLACE FUNCTION ledger_post(p_kind text, p_case_id text, p_redemption_id uuid, p_grant_kind text,
                            p_user_id text, p_amount bigint,
                            OUT out_entry_id uuid, OUT out_tx_id uuid, OUT out_balance bigint)
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    v_shard int := abs(hashtext(coalesce(p_case_id, p_redemption_id::text, p_user_id))) % 16;
    v_platform text := 'platform treasury' || CASE WHEN v_shard = 0 THEN '' ELSE ' ' || v_shard END;
BEGIN
    IF p_amount IS NULL OR p_amount = 0 THEN
        RAISE EXCEPTION 'ledger_post: amount must be non-zero' USING ERRCODE = 'check_violation';
    END IF;
    IF p_amount > 0 THEN
        INSERT INTO accounts AS a (user_id, kind, balance) VALUES (p_user_id, 'user', p_amount)
        ON CONFLICT (user_id) DO UPDATE SET balance = a.balance + EXCLUDED.balance, updated_at = now()
            WHERE a.kind = 'user'
        RETURNING a.balance INTO out_balance;
    ELSE
        UPDATE accounts AS a SET balance = a.balance + p_amount, updated_at = now()
        WHERE a.user_id = p_user_id AND a.kind = 'user' AND a.balance + p_amount >= 0
        RETURNING a.balance INTO out_balance;
    END IF;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    INSERT INTO journal_tx (kind, case_id, redemption_id, grant_kind)
    VALUES (p_kind, p_case_id, p_redemption_id, p_grant_kind) RETURNING id INTO out_tx_id;
    INSERT INTO ledger_entries (tx_id, account_id, amount) VALUES (out_tx_id, p_user_id, p_amount)
    RETURNING id INTO out_entry_id;
    INSERT INTO ledger_entries (tx_id, account_id, amount) VALUES (out_tx_id, v_platform, -p_amount);
    UPDATE accounts SET balance = balance - p_amount, updated_at = now()
    WHERE user_id = v_platform AND kind = 'platform';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'ledger_post: platform account missing' USING ERRCODE = 'foreign_key_violation';
    END IF;
    UPDATE ledger_totals SET transactions = transactions + 1, coins = coins + abs(p_amount) WHERE kind = p_kind AND shard = v_shard;
END $$;
